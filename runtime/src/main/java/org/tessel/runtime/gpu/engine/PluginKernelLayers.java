package org.tessel.runtime.gpu.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.tactics.CudaSourceTactic;

/**
 * The GPU half of a plugin tactic that brings its kernel as CUDA C ({@link CudaSourceTactic}, ABI
 * {@value CudaKernel#ABI}): the variant declared for the engine's storage type and the node's layout is compiled with
 * NVRTC after Tessel's prelude (its PTX kept in the engine file like every kernel's) and launched on a 1-D grid with one
 * pointer per input and output, the tactic's kernel arguments (i64, in device memory) and the first output's element
 * count. One instance per plugin tactic, made when a plan names it ({@link TacticImplementations#of}); a plan's tactic
 * the kernel declares no variant for is refused naming the node, the storage type and layout, and the declared ones.
 */
final class PluginKernelLayers implements TacticImplementation {
    private final CudaSourceTactic tactic;

    PluginKernelLayers(CudaSourceTactic tactic) { this.tactic = tactic; }

    @Override public List<String> tacticIds() { return List.of(tactic.id()); }

    @Override public boolean computes(Node n) { return tactic.appliesTo(n); }

    /** The fixed rule never picks a plugin's kernel: plans do (the joint search prices it, a forced choice pins it). */
    @Override public String ruleTactic(LayerContext c, Node n) { return null; }

    /** The declared variant for this storage type and the node's layout (ANY for a node that has none), or null. */
    static CudaKernel.Variant variant(CudaKernel k, DType storage, Layout layout) {
        for (CudaKernel.Variant v : k.variants()) if (v.dtype() == storage && (v.layout() == layout || v.layout() == Layout.ANY)) return v;
        return null;
    }

    @Override public Layer build(LayerContext c, Node n, String planned) {
        if (!GpuTactics.catalogueId(planned).equals(tactic.id())) throw GpuEngineException.unsupported(n, "tactic '" + planned + "' is not " + tactic.id());
        CudaKernel k = tactic.kernel();
        Value out0 = n.output();
        // a value typed ANY is channels-first in memory: an ANY variant runs it, else an NCHW one (the measuring search
        // times a node alone, in a graph whose values carry no layout: GridSample's f32/nchw kernel must still answer)
        Layout layout = out0.type().layout() == Layout.ANY ? Layout.ANY : c.layoutOf(out0);
        CudaKernel.Variant v = variant(k, c.storage(), layout);
        if (v == null && layout == Layout.ANY) v = variant(k, c.storage(), layout = Layout.NCHW);
        if (v == null)
            throw GpuEngineException.unsupported(n, tactic.id() + " (plugin kernel " + k.name() + ") declares no variant for " + c.storage().text() + "/" + layout.text()
                    + " (declared: " + k.variants().stream().map(CudaKernel.Variant::text).toList() + ")");
        long[] args;
        try {
            args = tactic.kernelArguments(n, Precision.valueOf(c.precision().name()));
        } catch (RuntimeException e) {
            throw GpuEngineException.unsupported(n, tactic.id() + ": the plugin's kernelArguments failed: " + e.getMessage());
        }
        ByteBuffer bytes = ByteBuffer.allocate(8 * Math.max(1, args.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (long a : args) bytes.putLong(a);
        DeviceBuffer argBuffer = c.shared(out0, "plugin-args:" + tactic.id(), () -> {
            DeviceBuffer b = DeviceBuffer.allocate(bytes.capacity());
            b.copyFrom(bytes.array());
            return b;
        });
        org.tessel.runtime.cuda.CudaKernel kernel = c.kernels().kernel("plugin_" + k.name().replaceAll("[^A-Za-z0-9_.]", "_"), KernelCompiler.prelude() + "\n" + k.source(), v.entry());
        org.tessel.runtime.cuda.CudaKernel.Args a = org.tessel.runtime.cuda.CudaKernel.args();
        for (Value in : n.inputs()) {
            if (in == null) a.ptr(0L);
            else a.ptr(Operands.operand(c, in));
        }
        for (Value o : n.outputs()) a.ptr(c.activation(o));
        a.ptr(argBuffer);
        long count = out0.type().numElements();
        a.i64(count);
        int block = k.blockSize(), grid = grid(k, count);
        return Operands.layer(c, n, tactic.id(), out0, s -> kernel.launch(grid, block, 0, s, a));
    }

    /** Blocks a launch over {@code count} output elements takes: ceil(count / elementsPerThread) threads, at least one block, capped (the kernel's grid-stride loop wraps). */
    static int grid(org.tessel.api.kernel.CudaKernel k, long count) {
        long threads = (count + k.elementsPerThread() - 1) / k.elementsPerThread();
        return (int) Math.max(1, Math.min((threads + k.blockSize() - 1) / k.blockSize(), 65535L * 8));
    }
}
