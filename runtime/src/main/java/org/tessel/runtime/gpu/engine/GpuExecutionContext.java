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
    private final GpuEngine.Binding binding;
    private final CudaStream stream;
    private CudaGraph captured;
    private boolean closed;
    /**
     * Page-locked staging of {@link #run}'s integer inputs (token ids, positions, block tables) and float outputs (logits):
     * copied on the context's stream, asynchronously, with one synchronization a run instead of one per copy. Grown on use.
     */
    private org.tessel.runtime.cuda.PinnedHostBuffer stagingOut;
    /**
     * The integer inputs' staging: a ring of page-locked buffers, each with the event its last copy recorded, so a run
     * enqueued ahead of the host ({@link #enqueueGreedyStep}) never has its staged inputs overwritten before the copy ran.
     */
    private final org.tessel.runtime.cuda.PinnedHostBuffer[] stagingIn = new org.tessel.runtime.cuda.PinnedHostBuffer[STAGING_RING];
    private final org.tessel.runtime.cuda.CudaEvent[] stagedCopied = new org.tessel.runtime.cuda.CudaEvent[STAGING_RING];
    private int stagingAt;
    static final int STAGING_RING = 4;
    /** The device arg-max's ints ({@link #runArgmax}), allocated on first use. */
    private DeviceBuffer argmax;
    /** The greedy tokens of runs enqueued ahead ({@link #enqueueGreedyStep}): a ring of slots on the device and in pinned memory, an event a slot. */
    private DeviceBuffer tokensRing;
    private org.tessel.runtime.cuda.PinnedHostBuffer tokensOut;
    private org.tessel.runtime.cuda.CudaEvent[] tokensReady;
    private int tokensRows;
    /** Slots in the tokens' ring: a caller reads a slot ({@link #greedyTokens}) before enqueuing this many runs past it. */
    public static final int TOKEN_SLOTS = 64;
    /** Host time of {@link #run} so far, by phase (nanoseconds), and the runs. */
    private long runs, uploadNanos, launchNanos, waitNanos, outputNanos;

    /**
     * Where {@link #run}'s host time went, summed over its calls: inputs checked, converted and enqueued; the layers (or
     * the captured graph) enqueued; the outputs' copies enqueued and the wait for the stream (the device's work is in
     * it); the outputs converted to tensors.
     */
    public record RunPhases(long runs, long uploadNanos, long launchNanos, long waitNanos, long outputNanos) {
        public RunPhases minus(RunPhases o) {
            return new RunPhases(runs - o.runs, uploadNanos - o.uploadNanos, launchNanos - o.launchNanos, waitNanos - o.waitNanos, outputNanos - o.outputNanos);
        }
        public RunPhases plus(RunPhases o) {
            return new RunPhases(runs + o.runs, uploadNanos + o.uploadNanos, launchNanos + o.launchNanos, waitNanos + o.waitNanos, outputNanos + o.outputNanos);
        }
    }

    /** The host time of {@link #run} so far, by phase. */
    public synchronized RunPhases runPhases() { return new RunPhases(runs, uploadNanos, launchNanos, waitNanos, outputNanos); }

    GpuExecutionContext(GpuEngine engine, GpuEngine.Binding binding) {
        this.engine = engine;
        this.binding = binding;
        engine.context().bind();
        this.stream = CudaStream.create();
        int k = engine.streamCount();
        this.layerStreams = engine.layerStreams();
        this.waits = engine.layerWaits();
        if (k > 1) {
            aux = new CudaStream[k];
            aux[0] = stream;
            for (int i = 1; i < k; i++) aux[i] = CudaStream.create();
            done = new CudaEvent[layerStreams.length];
            for (int[] w : waits) for (int p : w) if (done[p] == null) done[p] = CudaEvent.forOrdering();
            fork = CudaEvent.forOrdering();
            join = new CudaEvent[k];
            for (int i = 1; i < k; i++) join[i] = CudaEvent.forOrdering();
        }
    }

    /** Streams this context runs layers on (the engine's). */
    public int streams() { return aux == null ? 1 : aux.length; }

    private final int[] layerStreams;
    private final int[][] waits;
    private CudaStream[] aux;
    private CudaEvent[] done, join;
    private CudaEvent fork;

    /**
     * Enqueues every layer: on one stream, or, for a multi-stream engine, each on its own stream,
     * forked from and joined back into the context's stream by events, waiting where the stream
     * assignment put an event (so under capture the CUDA graph has the parallel branches).
     */
    private void enqueueLayers() {
        List<Layer> layers = binding.layers;
        if (engine.guarded()) { // one at a time, the guards checked after each
            for (Layer l : layers) {
                enqueueLayer(l, stream);
                stream.synchronize();
                engine.checkGuards(binding, l.plan());
            }
            return;
        }
        if (aux == null) {
            for (Layer l : layers) enqueueLayer(l, stream);
            return;
        }
        fork.record(stream);
        for (int i = 1; i < aux.length; i++) aux[i].waitFor(fork);
        for (int i = 0; i < layers.size(); i++) {
            CudaStream s = aux[layerStreams[i]];
            for (int p : waits[i]) s.waitFor(done[p]);
            enqueueLayer(layers.get(i), s);
            if (done[i] != null) done[i].record(s);
        }
        for (int i = 1; i < aux.length; i++) {
            join[i].record(aux[i]);
            stream.waitFor(join[i]);
        }
    }

    private static void enqueueLayer(Layer l, CudaStream s) {
        try {
            l.enqueue(s);
        } catch (RuntimeException e) {
            throw new GpuEngineException("layer " + l.plan().node() + " (" + l.plan().tactic() + ") failed: " + e.getMessage(), e);
        }
    }

    /** Device bytes this context holds (arena, inputs, workspace). */
    public long deviceBytes() { return binding.bytes(); }

    private DeviceBuffer buffer(Value v) {
        DeviceBuffer b = binding.bound.get(v);
        if (b == null) throw new GpuEngineException("value %" + v.name() + " has no device buffer (constants are weights, not outputs)");
        return b;
    }

    private void open() { if (closed) throw new GpuEngineException("execution context used after close"); }

    public CudaStream stream() { return stream; }

    public boolean isCaptured() { return captured != null; }

    /**
     * Runs on inputs in graph-input order (f32 tensors of the graph's shapes); outputs in graph-output order, as f32.
     * Inputs and outputs bound to caller-owned buffers ({@link GpuEngine#createExecutionContext(Map)}) are neither
     * uploaded nor downloaded: their entries are null (an input's may be null or is ignored).
     */
    public synchronized List<Tensor> run(List<Tensor> inputs) {
        long t0 = System.nanoTime();
        upload(inputs);
        long t1 = System.nanoTime();
        enqueue();
        long t2 = System.nanoTime();
        return download(t0, t1, t2);
    }

    /**
     * One inference whose output {@code output} ([.., N] logits) is reduced on the device to each row's arg-max, the lowest
     * index on a tie ({@link org.tessel.runtime.gpu.kernels.Argmax}, as {@link org.tessel.runtime.llm.Sampler#greedy}
     * picks on the host): one int a row comes back instead of the logits, and no other output is downloaded.
     */
    public synchronized int[] runArgmax(Map<String, Tensor> inputs, String output) {
        long t0 = System.nanoTime();
        Value o = rowsOutput(output);
        DType stored = engine.storageOf(o);
        int n = o.type().shape().dim(o.type().rank() - 1), rows = Math.toIntExact(o.type().numElements() / Math.max(1, n));
        upload(inputsInOrder(inputs));
        long t1 = System.nanoTime();
        enqueue();
        long t2 = System.nanoTime();
        if (argmax == null || argmax.bytes() < 4L * rows) {
            if (argmax != null) argmax.close();
            argmax = DeviceBuffer.allocate(4L * rows);
        }
        stagingOut(4L * rows);
        org.tessel.runtime.gpu.kernels.Argmax.run(engine.kernels(), stored, buffer(o), rows, n, argmax, null, stream);
        argmax.slice(0, 4L * rows).copyToHostAsync(stagingOut, 0, stream);
        stream.synchronize();
        long t3 = System.nanoTime();
        int[] best = new int[rows];
        stagingOut.read(0, best);
        counted(t0, t1, t2, t3);
        return best;
    }

    /**
     * One inference whose output {@code output} ([.., N] rows, such as logits) comes back only at the flat row indices
     * {@code rows} (over its leading dimensions), each as N f32 values: a prefill step needs its sequences' last positions,
     * not the vocabulary's logits at every position (llama-1b's step of 32 rows of 128 tokens: 262 MB of f16 logits, where
     * the last positions are 2 MB). No other output is downloaded.
     */
    public synchronized float[][] runRows(Map<String, Tensor> inputs, String output, int[] rows) {
        long t0 = System.nanoTime();
        Value o = rowsOutput(output);
        if (o.type().layout() == Layout.NHWC) throw new GpuEngineException("output %" + output + " is stored channels-last: its rows are not contiguous");
        DType stored = engine.storageOf(o);
        int n = o.type().shape().dim(o.type().rank() - 1);
        long total = o.type().numElements() / Math.max(1, n);
        for (int r : rows)
            if (r < 0 || r >= total) throw new GpuEngineException("row " + r + " of output %" + output + " " + o.type().shape() + ", which has " + total + " rows of " + n);
        upload(inputsInOrder(inputs));
        long t1 = System.nanoTime();
        enqueue();
        long t2 = System.nanoTime();
        long rowBytes = (long) n * stored.bytes();
        stagingOut(Math.max(1, rows.length * rowBytes));
        DeviceBuffer all = buffer(o);
        for (int i = 0; i < rows.length; i++) all.slice(rows[i] * rowBytes, rowBytes).copyToHostAsync(stagingOut, i * rowBytes, stream);
        stream.synchronize();
        long t3 = System.nanoTime();
        float[][] out = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) out[i] = fromStaging(i * rowBytes, stored, n);
        counted(t0, t1, t2, t3);
        return out;
    }

    /**
     * One run of a greedy decode enqueued ahead of the host (nothing waits for the device): {@code inputs}' integers are
     * staged and copied; then, when {@code previousSlot >= 0}, the previous run's greedy tokens (the arg-max of each row
     * of {@code output}, as {@link #runArgmax}) are picked on the device and written both into input {@code feed}'s
     * device buffer, over what was staged there (the token the host does not know yet), and into the tokens' ring at
     * {@code previousSlot}; then the run (its captured CUDA graph) is enqueued. The previous run must have been enqueued
     * on this context. {@link #enqueueGreedyTail} picks the last run's tokens; {@link #greedyTokens} waits for a slot.
     */
    public synchronized void enqueueGreedyStep(Map<String, Tensor> inputs, String output, String feed, int previousSlot) {
        long t0 = System.nanoTime();
        upload(inputsInOrder(inputs));
        if (previousSlot >= 0) pickGreedy(output, feed, previousSlot);
        long t1 = System.nanoTime();
        enqueue();
        runs++;
        uploadNanos += t1 - t0;
        launchNanos += System.nanoTime() - t1;
    }

    /** Picks the last enqueued run's greedy tokens (the arg-max of {@code output}'s rows) into the tokens' ring at {@code slot}, without waiting. */
    public synchronized void enqueueGreedyTail(String output, int slot) { pickGreedy(output, null, slot); }

    /** Waits for the tokens picked into {@code slot} (by {@link #enqueueGreedyStep} or {@link #enqueueGreedyTail}) and reads them, one a row. */
    public synchronized int[] greedyTokens(int slot) {
        if (tokensReady == null || tokensReady[slot % TOKEN_SLOTS] == null) throw new GpuEngineException("no greedy tokens were picked into slot " + slot);
        long t0 = System.nanoTime();
        tokensReady[slot % TOKEN_SLOTS].synchronize();
        long t1 = System.nanoTime();
        int[] best = new int[tokensRows];
        tokensOut.read(4L * tokensRows * (slot % TOKEN_SLOTS), best);
        waitNanos += t1 - t0;
        outputNanos += System.nanoTime() - t1;
        return best;
    }

    /** The output whose rows the device arg-max reduces or runRows brings back: named so, stored in f32, f16 or bf16; refused naming it otherwise. */
    private Value rowsOutput(String output) {
        Graph g = engine.graph();
        Value o = g.outputs().stream().filter(v -> v.name().equals(output)).findFirst()
                .orElseThrow(() -> new GpuEngineException("no output '" + output + "'; the engine's outputs are " + g.outputs().stream().map(Value::name).toList()));
        DType stored = engine.storageOf(o);
        if (!org.tessel.runtime.gpu.CudaTypes.supported(stored) || o.type().rank() < 1)
            throw new GpuEngineException("output %" + output + " (" + o.type() + ", stored " + stored.text() + ") has no device arg-max: it takes f32, f16 or bf16 rows");
        return o;
    }

    private void pickGreedy(String output, String feed, int slot) {
        Graph g = engine.graph();
        Value o = rowsOutput(output);
        DType stored = engine.storageOf(o);
        int n = o.type().shape().dim(o.type().rank() - 1), rows = Math.toIntExact(o.type().numElements() / Math.max(1, n));
        DeviceBuffer feedBuffer = null;
        if (feed != null) {
            Value f = g.inputs().stream().filter(v -> v.name().equals(feed)).findFirst()
                    .orElseThrow(() -> new GpuEngineException("no input '" + feed + "' to feed the greedy tokens into; the engine's inputs are " + g.inputs().stream().map(Value::name).toList()));
            if (!f.type().dtype().isInteger() || f.type().numElements() != rows)
                throw new GpuEngineException("input %" + feed + " (" + f.type() + ") cannot take one token for each of the " + rows + " rows of %" + output);
            feedBuffer = buffer(f);
        }
        if (tokensRing == null || tokensRows != rows) {
            if (tokensRing != null) { tokensRing.close(); tokensOut.close(); }
            tokensRows = rows;
            tokensRing = DeviceBuffer.allocate(4L * rows * TOKEN_SLOTS);
            tokensOut = org.tessel.runtime.cuda.PinnedHostBuffer.allocate(4L * rows * TOKEN_SLOTS);
            if (tokensReady == null) tokensReady = new org.tessel.runtime.cuda.CudaEvent[TOKEN_SLOTS];
        }
        int i = slot % TOKEN_SLOTS;
        DeviceBuffer at = tokensRing.slice(4L * rows * i, 4L * rows);
        org.tessel.runtime.gpu.kernels.Argmax.run(engine.kernels(), stored, buffer(o), rows, n, at, feedBuffer, stream);
        at.copyToHostAsync(tokensOut, 4L * rows * i, stream);
        if (tokensReady[i] == null) tokensReady[i] = org.tessel.runtime.cuda.CudaEvent.forOrdering();
        tokensReady[i].record(stream);
    }

    /** The named inputs in the graph's order (null for those bound to caller-owned buffers). */
    private List<Tensor> inputsInOrder(Map<String, Tensor> inputs) {
        Graph g = engine.graph();
        List<Tensor> list = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = inputs.get(v.name());
            if (t == null && !binding.external.contains(v))
                throw new GpuEngineException("missing input '" + v.name() + "'; the engine's inputs are " + g.inputs().stream().map(Value::name).toList());
            list.add(t);
        }
        return list;
    }

    /** Checks and uploads one inference's inputs (integers staged and copied on the stream; floats synchronously). */
    private void upload(List<Tensor> inputs) {
        open();
        engine.context().bind();
        Graph g = engine.graph();
        if (inputs.size() != g.inputs().size())
            throw new GpuEngineException("the engine takes " + g.inputs().size() + " inputs " + g.inputs().stream().map(v -> "%" + v.name()).toList() + ", got " + inputs.size());
        DType storage = engine.ioPrecision().storage();
        List<Staged> staged = new ArrayList<>();
        boolean synchronous = false;
        for (int i = 0; i < inputs.size(); i++) {
            Value v = g.inputs().get(i);
            if (binding.external.contains(v)) continue;
            Tensor t = inputs.get(i);
            if (t == null) throw new GpuEngineException("input %" + v.name() + " (input " + i + " of graph '" + g.name() + "') is missing");
            TensorType want = v.type();
            if (t.dtype() != want.dtype() || !t.shape().equals(want.shape()))
                throw new GpuEngineException("input %" + v.name() + " (input " + i + " of graph '" + g.name() + "') must be " + want.dtype().text() + want.shape()
                        + ", got " + t.dtype().text() + t.shape() + (t.shape().rank() == want.shape().rank() && t.shape().rank() > 0 && t.shape().dim(0) != want.shape().dim(0)
                        ? "; the engine was built for batch " + want.shape().dim(0) + " (rebuild it with --batch " + t.shape().dim(0) + ")" : ""));
            DeviceBuffer b = buffer(v);
            if (want.dtype().isInteger()) { // integer inputs (token ids, masks) live as i32 on the device: staged, copied on the stream
                int[] ints = new int[t.size()];
                for (int j = 0; j < ints.length; j++) {
                    long x = t.getLong(j);
                    if (x != (int) x) throw new GpuEngineException("input %" + v.name() + " element " + j + " = " + x + " is outside the i32 range the device keeps");
                    ints[j] = (int) x;
                }
                staged.add(new Staged(v, b, ints));
                continue;
            }
            synchronous = true;
            if (want.dtype() == DType.F8E4M3) { // f8e4m3 inputs (FP8 KV pools) live as their E4M3 codes
                byte[] codes = new byte[t.size()];
                for (int j = 0; j < codes.length; j++) codes[j] = (byte) org.tessel.api.Float8E4M3.toBits(t.getFloat(j), true);
                b.copyFrom(codes);
                continue;
            }
            if (want.dtype() == DType.BOOL) { // bool inputs (masks) live as bytes
                byte[] bytes = new byte[t.size()];
                for (int j = 0; j < bytes.length; j++) bytes[j] = (byte) (t.getLong(j) != 0 ? 1 : 0);
                b.copyFrom(bytes);
                continue;
            }
            Tensor stored = want.layout() == Layout.NHWC ? HostTensors.toChannelsLast(t) : t;
            HostTensors.copyInto(b, stored, storage);
        }
        // the synchronous copies above run on the legacy stream; ours does not wait for it by itself
        if (synchronous) engine.context().synchronize();
        DeviceBuffer slab = binding.integerInputs;
        if (slab != null && staged.size() == binding.integerInputOffsets.size()) {
            // every integer input is a slice of one allocation: staged at its offset there, uploaded in one copy
            org.tessel.runtime.cuda.PinnedHostBuffer in = staging(slab.bytes());
            for (Staged st : staged) if (st.ints().length > 0) in.write(binding.integerInputOffsets.get(st.value()), st.ints());
            slab.copyFromHostAsync(in, 0, stream);
            staged();
            return;
        }
        long inBytes = 0;
        for (Staged st : staged) inBytes += (4L * st.ints().length + 15) & ~15L;
        if (staged.isEmpty()) return;
        org.tessel.runtime.cuda.PinnedHostBuffer in = staging(inBytes);
        long at = 0;
        for (Staged st : staged) {
            long bytes = 4L * st.ints().length;
            if (bytes == 0) continue;
            in.write(at, st.ints());
            st.device().slice(0, bytes).copyFromHostAsync(in, at, stream);
            at += (bytes + 15) & ~15L;
        }
        staged();
    }

    /** The ring's next staging buffer of at least {@code bytes}, once the copy that last read it has run. */
    private org.tessel.runtime.cuda.PinnedHostBuffer staging(long bytes) {
        int i = stagingAt;
        if (stagedCopied[i] != null) stagedCopied[i].synchronize();
        if (stagingIn[i] == null || stagingIn[i].bytes() < bytes) {
            if (stagingIn[i] != null) stagingIn[i].close();
            stagingIn[i] = org.tessel.runtime.cuda.PinnedHostBuffer.allocate(bytes);
        }
        return stagingIn[i];
    }

    /** Marks the copies just enqueued from the current staging buffer (an event after them) and moves the ring on. */
    private void staged() {
        int i = stagingAt;
        if (stagedCopied[i] == null) stagedCopied[i] = org.tessel.runtime.cuda.CudaEvent.forOrdering();
        stagedCopied[i].record(stream);
        stagingAt = (i + 1) % STAGING_RING;
    }

    /** Copies the outputs back after the enqueued inference and converts them (phases timed from t0, t1, t2). */
    private List<Tensor> download(long t0, long t1, long t2) {
        Graph g = engine.graph();
        // float outputs at f32/f16/bf16 come back through pinned staging on the stream, one wait for all
        Map<Value, Long> outAt = new java.util.IdentityHashMap<>();
        long outBytes = 0;
        for (Value o : g.outputs()) {
            DType stored = engine.storageOf(o);
            if (binding.external.contains(o) || !o.type().dtype().isFloating() || o.type().dtype() == DType.F8E4M3 || GpuEngine.quantizedStorage(stored) || outAt.containsKey(o)) continue;
            outAt.put(o, outBytes);
            outBytes += buffer(o).bytes();
        }
        if (outBytes > 0) stagingOut(outBytes);
        for (Map.Entry<Value, Long> e : outAt.entrySet()) buffer(e.getKey()).copyToHostAsync(stagingOut, e.getValue(), stream);
        stream.synchronize();
        long t3 = System.nanoTime();
        runs++;
        uploadNanos += t1 - t0;
        launchNanos += t2 - t1;
        waitNanos += t3 - t2;
        List<Tensor> out = new ArrayList<>();
        for (Value o : g.outputs()) {
            if (binding.external.contains(o)) {
                out.add(null);
                continue;
            }
            DType stored = engine.storageOf(o);
            if (outAt.containsKey(o)) {
                float[] v = fromStaging(outAt.get(o), stored, Math.toIntExact(o.type().numElements()));
                Tensor f32 = Tensor.ofFloats(DType.F32, o.type().shape(), v);
                out.add(o.type().layout() == Layout.NHWC ? HostTensors.fromChannelsLast(f32) : f32);
                continue;
            }
            if (!o.type().dtype().isFloating()) { // integers (as i32) and bools (as bytes) come back in their own type
                out.add(nonFloating(buffer(o), stored, o.type()));
                continue;
            }
            if (o.type().dtype() == DType.F8E4M3) { // E4M3 codes the graph typed so (FP8 KV pools): their values, no scale
                byte[] codes = new byte[Math.toIntExact(o.type().numElements())];
                buffer(o).copyTo(codes);
                float[] v = new float[codes.length];
                for (int j = 0; j < v.length; j++) v[j] = org.tessel.api.Float8E4M3.toFloat(codes[j] & 0xff);
                out.add(Tensor.ofFloats(DType.F8E4M3, o.type().shape(), v));
                continue;
            }
            Tensor raw = GpuEngine.quantizedStorage(stored) ? dequantized(buffer(o), stored, engine.scale(o), o.type().shape()) : HostTensors.download(buffer(o), stored, o.type().shape());
            Tensor f32 = Tensor.ofFloats(DType.F32, o.type().shape(), raw.floats().clone());
            out.add(o.type().layout() == Layout.NHWC ? HostTensors.fromChannelsLast(f32) : f32);
        }
        outputNanos += System.nanoTime() - t3;
        return out;
    }

    /** An integer input's values and the device buffer they go to. */
    private record Staged(Value value, DeviceBuffer device, int[] ints) {}

    /** {@code n} values of a float output staged at {@code at} in {@code stored} (f32, f16 or bf16), as f32. */
    /** The pinned output staging, grown to hold at least {@code bytes}. */
    private void stagingOut(long bytes) {
        if (stagingOut != null && stagingOut.bytes() >= bytes) return;
        if (stagingOut != null) stagingOut.close();
        stagingOut = org.tessel.runtime.cuda.PinnedHostBuffer.allocate(bytes);
    }

    /** Counts a run whose phases began at t0 (upload), t1 (launch), t2 (wait) and t3 (outputs, ending now). */
    private void counted(long t0, long t1, long t2, long t3) {
        runs++;
        uploadNanos += t1 - t0;
        launchNanos += t2 - t1;
        waitNanos += t3 - t2;
        outputNanos += System.nanoTime() - t3;
    }

    private float[] fromStaging(long at, DType stored, int n) {
        float[] v = new float[n];
        switch (stored) {
            case F32 -> stagingOut.read(at, v);
            case F16 -> { short[] h = new short[n]; stagingOut.read(at, h); for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(h[i]); }
            case BF16 -> { short[] h = new short[n]; stagingOut.read(at, h); for (int i = 0; i < n; i++) v[i] = Float.intBitsToFloat((h[i] & 0xFFFF) << 16); }
            default -> throw new GpuEngineException("cannot read a " + stored.text() + " output through staging");
        }
        return v;
    }

    /** An integer output (stored as i32) or a bool one (stored as bytes) as a tensor of its type. */
    private static Tensor nonFloating(DeviceBuffer b, DType stored, TensorType type) {
        int n = Math.toIntExact(type.numElements());
        Tensor t = Tensor.zeros(type.dtype(), type.shape());
        if (stored == DType.BOOL) {
            byte[] v = new byte[n];
            b.copyTo(v);
            for (int i = 0; i < n; i++) t.setLong(i, v[i]);
        } else {
            int[] v = new int[n];
            b.copyTo(v);
            for (int i = 0; i < n; i++) t.setLong(i, v[i]);
        }
        return t;
    }

    /** An int8 or E4M3 output's codes times its scale, as f32. */
    private static Tensor dequantized(DeviceBuffer b, DType codeType, float scale, org.tessel.api.Shape shape) {
        byte[] codes = new byte[Math.toIntExact(shape.numElements())];
        b.copyTo(codes);
        float[] v = new float[codes.length];
        for (int i = 0; i < v.length; i++) v[i] = (codeType == DType.F8E4M3 ? org.tessel.api.Float8E4M3.toFloat(codes[i] & 0xff) : codes[i]) * scale;
        return Tensor.ofFloats(DType.F32, shape, v);
    }

    /** Runs with inputs by name (those bound to caller-owned buffers are not needed); returns the outputs not bound to caller-owned buffers. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Graph g = engine.graph();
        List<Tensor> outs = run(inputsInOrder(inputs));
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) if (outs.get(i) != null) m.put(g.outputs().get(i).name(), outs.get(i));
        return m;
    }

    /** Enqueues one inference on the stream (replaying the captured graph if there is one); does not wait. */
    public void enqueue() {
        open();
        if (captured != null) {
            captured.launch(stream);
            return;
        }
        enqueueLayers();
    }

    /**
     * Captures the layer sequence into a CUDA graph; later {@link #enqueue()} and {@link #run} replay it.
     * Runs the layers once first, so kernels are compiled and libraries initialized outside the capture.
     */
    public synchronized GpuExecutionContext captureGraph() {
        open();
        engine.context().bind();
        if (captured != null) return this;
        if (engine.guarded()) throw new GpuEngineException("a guarded engine runs its layers one at a time to check its arena's guards; it is not captured as a CUDA graph");
        enqueue();
        stream.synchronize();
        captured = CudaGraph.capture(stream, this::enqueueLayers);
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

    /**
     * Per-copy device times (ms): the layers captured {@code copies} times back to back into a CUDA graph of their own,
     * each replay timed between CUDA events and divided by the copies, so a replay's own launch is spread over them as an
     * engine's back-to-back kernels spread theirs; after {@code warmup} untimed replays. Leaves {@link #enqueue} as it was.
     */
    public synchronized double[] timeCopies(int copies, int warmup, int iterations) {
        open();
        engine.context().bind();
        if (engine.guarded()) throw new GpuEngineException("a guarded engine runs its layers one at a time to check its arena's guards; it is not captured as a CUDA graph");
        enqueueLayers(); // compiled and initialized outside the capture
        stream.synchronize();
        return perCopyMs(stream, this::enqueueLayers, copies, warmup, iterations);
    }

    /**
     * {@code copies} runs of {@code once} captured back to back into a CUDA graph on {@code s}, replayed {@code warmup}
     * times untimed, then {@code iterations} times between CUDA events: each replay's time (ms) divided by the copies.
     * Throws what the capture throws (work that synchronizes with the host cannot be captured).
     */
    static double[] perCopyMs(CudaStream s, Runnable once, int copies, int warmup, int iterations) {
        if (copies < 1) throw new IllegalArgumentException("copies must be at least 1, got " + copies);
        double[] ms = new double[iterations];
        try (CudaGraph g = CudaGraph.capture(s, () -> { for (int k = 0; k < copies; k++) once.run(); });
             CudaEvent start = new CudaEvent(); CudaEvent end = new CudaEvent()) {
            for (int i = 0; i < warmup; i++) g.launch(s);
            s.synchronize();
            for (int i = 0; i < iterations; i++) {
                start.record(s);
                g.launch(s);
                end.record(s);
                ms[i] = end.elapsedSince(start) / copies;
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

    /** This context's layers, in order (bound to its memory). */
    List<Layer> layers() { return binding.layers; }

    /** Waits for work enqueued earlier (e.g. a run's copies) before profiling starts. */
    void waitForPendingWork() { engine.context().synchronize(); }

    /**
     * Per-layer device times ({@link LayerProfiler}: each layer enqueued eagerly on this context's
     * stream between two CUDA events, one untimed run queued ahead so the GPU is not waiting for the
     * host), the median of {@code iterations} per layer, in layer order. Profiling runs the layers one
     * after another on one stream, even for a multi-stream engine.
     */
    public synchronized List<LayerTime> profileLayers(int warmup, int iterations) {
        open();
        engine.context().bind();
        if (isCaptured()) throw new GpuEngineException("profile before captureGraph(): a replayed graph has no per-layer events");
        for (int i = 0; i < warmup; i++) for (Layer l : binding.layers) l.enqueue(stream);
        stream.synchronize();
        Map<String, String> ops = new java.util.HashMap<>();
        for (org.tessel.ir.Node n : engine.graph().nodes()) ops.put(n.name(), n.opName().equals("tessel.Fused") ? "Fused:" + n.attrs().getString("kind", "?") : n.opName());
        List<LayerTime> out = new ArrayList<>();
        for (LayerProfiler.Entry e : LayerProfiler.profile(engine, this, iterations))
            out.add(new LayerTime(e.plan(), ops.getOrDefault(e.plan().node(), "?"), e.ms()));
        return out;
    }

    /** One layer's profile: what runs it and its median device time. */
    public record LayerTime(org.tessel.runtime.engine.LayerPlan plan, String op, double medianMs) {}

    /** The layer-info JSON of a profile: engine facts and, per layer, op, tactic, precision, layout and median time. */
    public String layerInfoJson(List<LayerTime> times) {
        StringBuilder sb = new StringBuilder("{\n  \"engine\": {\"backend\": \"cuda\", \"device\": ").append(q(engine.context().device().name()))
                .append(", \"precision\": ").append(q(engine.precision().name())).append(", \"layers\": ").append(times.size())
                .append(", \"arena_bytes\": ").append(engine.arenaBytes()).append(", \"weight_bytes\": ").append(engine.weightBytes())
                .append(", \"context_bytes\": ").append(deviceBytes()).append("},\n  \"layers\": [\n");
        for (int i = 0; i < times.size(); i++) {
            LayerTime t = times.get(i);
            sb.append("    {\"name\": ").append(q(t.plan().node())).append(", \"op\": ").append(q(t.op())).append(", \"tactic\": ").append(q(t.plan().tactic()))
                    .append(", \"precision\": ").append(q(t.plan().precision())).append(", \"layout\": ").append(q(t.plan().layout()))
                    .append(", \"time_ms\": ").append(String.format(java.util.Locale.ROOT, "%.6f", t.medianMs())).append('}').append(i + 1 < times.size() ? ",\n" : "\n");
        }
        return sb.append("  ]\n}\n").toString();
    }

    private static String q(String s) { return org.tessel.runtime.engine.ExecutionContext.jsonString(s); }

    /** Frees this context's device memory (arena, inputs, workspace), its graph and stream. */
    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        engine.context().bind();
        stream.synchronize();
        if (captured != null) captured.close();
        captured = null;
        stream.close();
        if (aux != null) {
            for (int i = 1; i < aux.length; i++) aux[i].close();
            for (CudaEvent e : done) if (e != null) e.close();
            for (int i = 1; i < join.length; i++) join[i].close();
            fork.close();
        }
        binding.close();
        for (var b : stagingIn) if (b != null) b.close();
        for (var e : stagedCopied) if (e != null) e.close();
        if (stagingOut != null) stagingOut.close();
        if (argmax != null) argmax.close();
        if (tokensRing != null) tokensRing.close();
        if (tokensOut != null) tokensOut.close();
        if (tokensReady != null) for (var e : tokensReady) if (e != null) e.close();
    }
}
