package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaGraph;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.HostTensors;

/**
 * Runs a {@link GpuEngine}: copies the inputs in (converted to the engine's storage type), enqueues
 * every layer on one stream, copies the outputs back as f32 in logical (channels-first) order.
 * {@link #captureGraph()} records the layer sequence once as a CUDA graph; later runs replay it,
 * one launch instead of one host call per layer (what TensorRT and torch's reduce-overhead do).
 */
public final class GpuExecutionContext implements AutoCloseable {
    private final GpuEngine engine;
    private final CudaStream stream;
    private CudaGraph captured;

    GpuExecutionContext(GpuEngine engine) {
        this.engine = engine;
        engine.context().bind();
        this.stream = CudaStream.create();
    }

    public CudaStream stream() { return stream; }

    public boolean isCaptured() { return captured != null; }

    /** Runs on inputs in graph-input order (f32 tensors of the graph's shapes); outputs in graph-output order, as f32. */
    public List<Tensor> run(List<Tensor> inputs) {
        engine.context().bind();
        Graph g = engine.graph();
        if (inputs.size() != g.inputs().size())
            throw new GpuEngineException("the engine takes " + g.inputs().size() + " inputs " + g.inputs().stream().map(v -> "%" + v.name()).toList() + ", got " + inputs.size());
        DType storage = engine.precision().storage();
        for (int i = 0; i < inputs.size(); i++) {
            Value v = g.inputs().get(i);
            Tensor t = inputs.get(i);
            TensorType want = v.type();
            if (t.dtype() != want.dtype() || !t.shape().equals(want.shape()))
                throw new GpuEngineException("input %" + v.name() + " must be " + want.dtype().text() + want.shape() + ", got " + t.dtype().text() + t.shape());
            DeviceBuffer b = engine.buffer(v);
            if (want.dtype().isInteger()) { // integer inputs (token ids, masks) live as i32 on the device
                int[] ints = new int[t.size()];
                for (int j = 0; j < ints.length; j++) {
                    long x = t.getLong(j);
                    if (x != (int) x) throw new GpuEngineException("input %" + v.name() + " element " + j + " = " + x + " is outside the i32 range the device keeps");
                    ints[j] = (int) x;
                }
                b.copyFrom(ints);
                continue;
            }
            Tensor stored = want.layout() == Layout.NHWC ? HostTensors.toChannelsLast(t) : t;
            if (storage == DType.F32) b.copyFrom(stored.floats());
            else b.copyFrom(HostTensors.toF16(stored.floats()));
        }
        // the synchronous copies above run on the legacy stream; ours does not wait for it by itself
        engine.context().synchronize();
        enqueue();
        stream.synchronize();
        List<Tensor> out = new ArrayList<>();
        for (Value o : g.outputs()) {
            Tensor raw = HostTensors.download(engine.buffer(o), storage, o.type().shape());
            Tensor f32 = Tensor.ofFloats(DType.F32, o.type().shape(), raw.floats().clone());
            out.add(o.type().layout() == Layout.NHWC ? HostTensors.fromChannelsLast(f32) : f32);
        }
        return out;
    }

    /** Runs with inputs by name. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Graph g = engine.graph();
        List<Tensor> list = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = inputs.get(v.name());
            if (t == null) throw new GpuEngineException("missing input '" + v.name() + "'; the engine's inputs are " + g.inputs().stream().map(Value::name).toList());
            list.add(t);
        }
        List<Tensor> outs = run(list);
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) m.put(g.outputs().get(i).name(), outs.get(i));
        return m;
    }

    /** Enqueues one inference on the stream (replaying the captured graph if there is one); does not wait. */
    public void enqueue() {
        if (captured != null) {
            captured.launch(stream);
            return;
        }
        for (GpuEngine.Layer l : engine.layers()) {
            try {
                l.enqueue(stream);
            } catch (RuntimeException e) {
                throw new GpuEngineException("layer " + l.plan().node() + " (" + l.plan().tactic() + ") failed: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Captures the layer sequence into a CUDA graph; later {@link #enqueue()} and {@link #run} replay it.
     * Runs the layers once first, so kernels are compiled and libraries initialized outside the capture.
     */
    public GpuExecutionContext captureGraph() {
        engine.context().bind();
        if (captured != null) return this;
        enqueue();
        stream.synchronize();
        captured = CudaGraph.capture(stream, () -> {
            for (GpuEngine.Layer l : engine.layers()) l.enqueue(stream);
        });
        return this;
    }

    /** Per-inference device times (ms, CUDA events around each enqueue) after {@code warmup} untimed runs. */
    public double[] time(int warmup, int iterations) {
        engine.context().bind();
        for (int i = 0; i < warmup; i++) enqueue();
        stream.synchronize();
        double[] ms = new double[iterations];
        try (CudaEvent start = new CudaEvent(); CudaEvent end = new CudaEvent()) {
            for (int i = 0; i < iterations; i++) {
                start.record(stream);
                enqueue();
                end.record(stream);
                ms[i] = end.elapsedSince(start);
            }
        }
        return ms;
    }

    /** The q-quantile (0..1) of the samples, nearest rank. */
    public static double quantile(double[] samples, double q) {
        double[] s = samples.clone();
        Arrays.sort(s);
        int i = (int) Math.ceil(q * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, i))];
    }

    @Override public void close() {
        engine.context().bind();
        if (captured != null) captured.close();
        captured = null;
        stream.close();
    }
}
