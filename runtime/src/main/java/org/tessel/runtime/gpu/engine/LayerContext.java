package org.tessel.runtime.gpu.engine;

import java.util.function.Supplier;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * All a {@link TacticImplementation} may touch while it builds one layer: the graph it reads, the
 * engine's precision, device memory (activations at their memory-plan offsets, weights uploaded once
 * per engine, the workspace), the kernel compiler and library handles, the auto-tuner, and what the
 * plan names for a node. The engine implements it; a layer builder never reaches into the engine
 * otherwise. Valid only while the engine binds its layers.
 */
public interface LayerContext {
    /** The graph being built (its nodes are the layers). */
    Graph graph();

    /** The precision of the layer being built: the storage type of its activations and weights, and the math of convolutions and GEMMs. */
    GpuEngine.Precision precision();

    /** The INT8 quantization scale of activation {@code v} (the plan's, per tensor); throws naming the tensor when the plan has none. */
    float scale(Value v);

    /**
     * The plan's scales for weight {@code w}, one per output channel ({@code channels}; a Q/DQ model's
     * own, {@code QuantizationTable#weightScales}), or null where the plan derives them from the weight.
     */
    default float[] weightScales(Value w, int channels) { return null; }

    default DType storage() { return precision().storage(); }

    /** NHWC or NCHW (a value that says ANY is channels-first in memory). */
    default Layout layoutOf(Value v) { return v.type().layout() == Layout.NHWC ? Layout.NHWC : Layout.NCHW; }

    /** The element type {@code v} lives in on the device (integers as i32, bools as bytes, floats in their producer's storage, graph inputs in the I/O storage). */
    DType storageOf(Value v);

    /** The device buffer of an activation: a graph input, or its slice of the arena at the memory plan's offset. */
    DeviceBuffer activation(Value v);

    /** Where the memory plan puts a value (null for graph inputs and constants). */
    MemoryPlan.Allocation placement(Value v);

    /** True when {@code v} already has a buffer in this context. */
    boolean isBound(Value v);

    /** Makes {@code v} an alias of {@code b} (a view computes nothing). */
    void alias(Value v, DeviceBuffer b);

    /** A constant uploaded once per engine in the storage type (filters as KRSC when {@code filterLayout} is NHWC). */
    DeviceBuffer weight(Value v, Layout filterLayout);

    /**
     * A repacked form of constant {@code of}, uploaded once per engine (and once for the engines sharing their weights);
     * {@code form} names the packing, and {@code make} packs only when that form is not uploaded yet.
     */
    DeviceBuffer upload(java.util.function.Supplier<Tensor> make, Value of, String form);

    /** A repacked form {@code t} of constant {@code of}, as above. */
    default DeviceBuffer upload(Tensor t, Value of, String form) { return upload(() -> t, of, form); }

    default DeviceBuffer upload(Tensor t, Value of) { return upload(t, of, String.valueOf(t.shape())); }

    /** A device buffer made once per engine for constant {@code v} in form {@code form}, shared by every context. */
    DeviceBuffer shared(Value v, String form, Supplier<DeviceBuffer> make);

    /** Memory this execution context owns (freed with it). */
    DeviceBuffer keep(DeviceBuffer b);

    /** The workspace of the layer's stream, resolved when the layer runs (allocated after every layer is built). */
    Supplier<DeviceBuffer> workspace();

    /** Raises the workspace to at least {@code bytes}. */
    void needWorkspace(long bytes);

    KernelCompiler kernels();

    CublasLt cublasLt();

    /** This execution context's cuDNN handle. */
    Cudnn cudnn();

    /** The auto-tuner that times algorithm variants the plan leaves open; null when nothing is timed. */
    Autotuner tuner();

    /** The tactic (catalogue id, variant after '/') the plan names for {@code n}, or null when the engine is built without a plan. */
    String planned(Node n);

    /** The layer plan of a layer computing {@code n} with {@code tactic}, in {@code out}'s layout. */
    LayerPlan plan(Node n, String tactic, Value out);
}
