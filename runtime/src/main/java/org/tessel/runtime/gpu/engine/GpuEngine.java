package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaGraph;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.TacticTimer;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.Clamp;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc;
import org.tessel.runtime.gpu.kernels.CudnnConv;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.Pool2d;
import org.tessel.runtime.gpu.kernels.Reformat;
import org.tessel.runtime.gpu.kernels.Softmax;

/**
 * A whole optimized graph compiled to a fixed sequence of GPU kernel launches: one layer per node,
 * each bound to device memory once at build time, so running the engine is only enqueuing (and,
 * through {@link GpuExecutionContext#captureGraph()}, replaying one CUDA graph).
 *
 * <p>Memory: weights are uploaded once in the precision's storage type and the kernel's layout
 * (KRSC filters for NHWC convolutions); every activation lives in ONE device arena at the offset
 * {@link LivenessMemoryPlanner} gave it, scaled from the graph's f32 sizes to the storage type
 * (all values scale alike, so the planner's non-overlap still holds). Views (Flatten, Reshape,
 * Squeeze, Unsqueeze, Identity) alias their input when the planner put them in place, else copy.
 *
 * <p>Kernel per node, a fixed rule (no search yet):
 * <ul>
 *   <li>{@code tessel.Fused} kind=conv_bias_act (Conv [+ Add residual] [+ Relu]) and plain Conv:
 *       {@code cudnn.conv.fused_bias_act} with IMPLICIT_PRECOMP_GEMM, the one algorithm cuDNN
 *       accepts for the identity activation; the layout is the value's (NHWC after assign-layouts);</li>
 *   <li>Gemm (alpha = beta = 1, transA = 0): {@code cublaslt.gemm.bias} / {@code cublaslt.gemm};</li>
 *   <li>MaxPool / AveragePool / GlobalAveragePool: {@code tessel.pool.max} / {@code tessel.pool.avg};</li>
 *   <li>Softmax over the last axis: {@code tessel.softmax}; tessel.Reformat: {@code tessel.reformat.nchw_nhwc}.</li>
 * </ul>
 * Any other node is refused at build time with its name and op.
 */
public final class GpuEngine implements AutoCloseable {
    /** Storage type and math of the whole engine. */
    public enum Precision {
        /** f32 storage, strict f32 math (no tensor cores). */
        FP32(DType.F32),
        /** f32 storage, TF32 tensor-core math in convolutions and GEMMs. */
        TF32(DType.F32),
        /** f16 storage, f16 tensor cores with f32 accumulation. */
        FP16(DType.F16);

        final DType storage;
        Precision(DType d) { storage = d; }
        public DType storage() { return storage; }
    }

    /**
     * Build options. {@code level}: null for the fixed rule (IMPLICIT_PRECOMP_GEMM, cuBLASLt's first
     * heuristic algorithm, nothing timed); otherwise the {@link Autotuner} picks each convolution's and
     * GEMM's algorithm at that {@link OptimizationLevel} ({@code topK} for TOP_K), ranking by the cost
     * model of {@code target} (a DeviceSpec name); cuDNN algorithms needing more than
     * {@code maxWorkspaceBytes} are left out. Measurements go to {@code cache} (may be null), and cached ones are reused.
     */
    public record Options(OptimizationLevel level, int topK, long maxWorkspaceBytes, TimingCache cache, String target) {
        /** The fixed rule: IMPLICIT_PRECOMP_GEMM everywhere, no timing. */
        public static final Options FIXED = new Options(null, 0, 0, null, "h200-measured");

        /** Time the cost model's top 3 algorithms per convolution and GEMM (workspace up to 1 GiB each). */
        public static Options tuned(TimingCache cache) { return level(OptimizationLevel.TOP_K, 3, cache); }

        /** Tune at this level (k: candidates TOP_K times) against the h200-measured cost model. */
        public static Options level(OptimizationLevel level, int k, TimingCache cache) { return new Options(level, k, 1L << 30, cache, "h200-measured"); }

        /** True when an auto-tuner picks algorithms. */
        public boolean tuneConvolutions() { return level != null; }
    }

    /** One enqueued step; {@code plan} says what runs it. */
    interface Layer extends AutoCloseable {
        LayerPlan plan();
        void enqueue(CudaStream stream);
        @Override default void close() {}
    }

    /** The least workspace: what cuBLASLt plans are offered; cuDNN convolutions may raise it (IMPLICIT_PRECOMP_GEMM's index tables grow with the batch). */
    static final long MIN_WORKSPACE_BYTES = CublasLtGemm.WORKSPACE_BYTES;

    private static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");

    private final Graph graph;
    private final Precision precision;
    private final CudaContext context;
    private final KernelCompiler compiler;
    private final Cudnn cudnn;
    private final CublasLt cublasLt;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final List<Layer> layers = new ArrayList<>();
    private final Map<Value, DeviceBuffer> bound = new IdentityHashMap<>();
    private final DeviceBuffer arena;
    private DeviceBuffer workspace;
    private long workspaceNeed = MIN_WORKSPACE_BYTES;
    private final MemoryPlan memoryPlan;
    private long weightBytes;

    private final Options options;
    private final Autotuner tuner;

    private GpuEngine(Graph g, Precision p, CudaContext context, Options options) {
        this.options = options;
        this.tuner = options.level() == null ? null : new Autotuner(options, p);
        this.graph = g;
        this.precision = p;
        this.context = context;
        this.compiler = new KernelCompiler(context);
        this.cudnn = Cudnn.create();
        this.cublasLt = CublasLt.create();
        for (Value v : g.inputs()) requireF32(v, "graph input");
        this.memoryPlan = new LivenessMemoryPlanner().plan(g);
        long arenaBytes = Math.max(256, scaled(memoryPlan.arenaBytes()));
        this.arena = keep(DeviceBuffer.allocate(arenaBytes));
        arena.fill((byte) 0); // tuning runs on the arena: zeros, not leftover NaNs
        context.synchronize();
        for (Value v : g.inputs()) bound.put(v, keep(DeviceBuffer.allocate(Math.max(1, storageBytes(v)))));
        List<Node> nodes = g.nodes();
        for (Node n : nodes) {
            try {
                layers.add(layerFor(n));
            } catch (GpuEngineException e) {
                close();
                throw e;
            } catch (RuntimeException e) {
                close();
                throw new GpuEngineException(n.describe() + ": " + e.getMessage(), e);
            }
        }
        if (tuner != null) tuner.release();
        // one workspace shared by every layer (they run one after another on one stream), sized for the hungriest
        this.workspace = keep(DeviceBuffer.allocate(workspaceNeed));
    }

    /**
     * Builds the engine for an optimized graph (after the standard pipeline) on the current
     * thread's context. Fails naming the first node no GPU kernel here runs.
     */
    public static GpuEngine build(Graph optimized, Precision precision, CudaContext context) {
        return build(optimized, precision, context, Options.FIXED);
    }

    /** Builds with options (convolution algorithm tuning, timing cache). */
    public static GpuEngine build(Graph optimized, Precision precision, CudaContext context, Options options) {
        requireSupported(optimized);
        context.bind();
        return new GpuEngine(optimized, precision, context, options);
    }

    /** Ops the engine runs (besides the views and tessel.Fused of the kinds in {@link #FUSED_KINDS}). */
    static final Set<String> OPS = Set.of("tessel.Fused", "Conv", "tessel.Reformat", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "Softmax");
    static final Set<String> FUSED_KINDS = Set.of("conv_bias_act");

    /**
     * Checks, without a GPU, that every node's op (and fused kind) has a kernel here; throws naming
     * the first node that has none and listing every unsupported op of the graph. Shape- and
     * attribute-level limits (asymmetric pads, transA, ...) are checked when the layer is built.
     */
    public static void requireSupported(Graph g) {
        Node first = null;
        java.util.TreeSet<String> missing = new java.util.TreeSet<>();
        for (Node n : g.nodes()) {
            String op = n.opName();
            boolean ok = VIEWS.contains(op) || (OPS.contains(op) && (!op.equals("tessel.Fused") || FUSED_KINDS.contains(n.attrs().getString("kind", ""))));
            if (ok) continue;
            if (first == null) first = n;
            missing.add(op.equals("tessel.Fused") ? op + " kind=" + n.attrs().getString("kind", "?") : op);
        }
        if (first != null)
            throw new GpuEngineException("cannot build a GPU engine for graph '" + g.name() + "': " + first.describe()
                    + (first.opName().equals("tessel.Fused") ? " kind=" + first.attrs().getString("kind", "?") : "")
                    + " has no GPU kernel in this engine; unsupported in this graph: " + String.join(", ", missing));
    }

    public Graph graph() { return graph; }
    public Precision precision() { return precision; }
    public CudaContext context() { return context; }
    public MemoryPlan memoryPlan() { return memoryPlan; }
    public long arenaBytes() { return arena.bytes(); }
    public long workspaceBytes() { return workspace.bytes(); }
    public long weightBytes() { return weightBytes; }
    public List<LayerPlan> layerPlans() { return layers.stream().map(Layer::plan).toList(); }

    List<Layer> layers() { return layers; }

    /** The auto-tuner's per-candidate records; null with the fixed rule. */
    Autotuner tuner() { return tuner; }

    /** The device buffer a graph input or output lives in. */
    DeviceBuffer buffer(Value v) {
        DeviceBuffer b = bound.get(v);
        if (b == null) throw new GpuEngineException("value %" + v.name() + " has no device buffer (constants are weights, not outputs)");
        return b;
    }

    /** A new execution context: h2d, enqueue, d2h on its own stream. */
    public GpuExecutionContext createExecutionContext() { return new GpuExecutionContext(this); }

    // ---- building ---------------------------------------------------------------------------

    private DeviceBuffer keep(DeviceBuffer b) { owned.add(b); return b; }

    private long scaled(long f32Bytes) { return f32Bytes / 4 * precision.storage.bytes(); }

    private long storageBytes(Value v) { return v.type().numElements() * precision.storage.bytes(); }

    private static void requireF32(Value v, String what) {
        if (v.type().dtype() != DType.F32)
            throw new GpuEngineException(what + " %" + v.name() + " is " + v.type().dtype().text() + "; the GPU engine takes f32 graphs (the precision picks the storage)");
    }

    /** The arena slice of a node result, or the input buffer. */
    private DeviceBuffer act(Value v) {
        DeviceBuffer b = bound.get(v);
        if (b != null) return b;
        if (v.isConstant()) throw new GpuEngineException("constant %" + v.name() + " used as an activation");
        MemoryPlan.Allocation a = memoryPlan.of(v);
        if (a == null) throw new GpuEngineException("value %" + v.name() + " has no place in the memory plan");
        requireF32(v, "value");
        b = arena.slice(scaled(a.offset()), Math.max(1, storageBytes(v)));
        bound.put(v, b);
        return b;
    }

    private DeviceBuffer upload(Tensor t, Value of) {
        DeviceBuffer b = keep(HostTensors.upload(t, precision.storage));
        weightBytes += b.bytes();
        return b;
    }

    private DeviceBuffer weight(Value v, Layout filterLayout) {
        Tensor t = v.constantValue();
        if (t == null) throw new GpuEngineException("value %" + v.name() + " must be a constant (weights are uploaded once at build time)");
        if (filterLayout == Layout.NHWC) t = HostTensors.toChannelsLast(t);
        DeviceBuffer b = keep(HostTensors.upload(t, precision.storage));
        weightBytes += b.bytes();
        return b;
    }

    private Layout layoutOf(Value v) {
        Layout l = v.type().layout();
        return l == Layout.NHWC ? Layout.NHWC : Layout.NCHW;
    }

    private Layer layerFor(Node n) {
        String op = n.opName();
        if (VIEWS.contains(op)) return view(n);
        return switch (op) {
            case "tessel.Fused" -> fused(n);
            case "Conv" -> conv(n, n, null, Act.NONE);
            case "tessel.Reformat" -> reformat(n);
            case "MaxPool", "AveragePool", "GlobalAveragePool" -> pool(n);
            case "Gemm" -> gemm(n);
            case "Softmax" -> softmax(n);
            default -> throw unsupported(n, "op " + op + " has no GPU kernel in this engine");
        };
    }

    private static GpuEngineException unsupported(Node n, String why) {
        return new GpuEngineException("cannot build a GPU engine: " + n.describe() + ": " + why);
    }

    private LayerPlan plan(Node n, String tactic, Value out) {
        return new LayerPlan(n.name(), tactic, precision.name(), layoutOf(out).text());
    }

    private Layer view(Node n) {
        Value in = n.input(0), out = n.output();
        DeviceBuffer src = act(in);
        MemoryPlan.Allocation ai = memoryPlan.of(in), ao = memoryPlan.of(out);
        boolean inPlace = ai != null && ao != null && ai.offset() == ao.offset() && !bound.containsKey(out);
        if (inPlace) {
            bound.put(out, src);
            return new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, "view", out); }
                @Override public void enqueue(CudaStream s) {}
            };
        }
        DeviceBuffer dst = act(out);
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, "copy", out); }
            @Override public void enqueue(CudaStream s) { dst.copyFromAsync(src.slice(0, dst.bytes()), s); }
        };
    }

    private Layer fused(Node n) {
        String kind = n.attrs().getString("kind", "");
        Graph body = n.body();
        if (body == null) throw unsupported(n, "tessel.Fused without a body");
        if (!kind.equals("conv_bias_act")) throw unsupported(n, "fused kind '" + kind + "' has no GPU kernel in this engine (supported: conv_bias_act)");
        // Body: Conv(in0, in1, in2) [-> Add(conv, in3)] [-> Relu | Clip(lo, hi)]
        Node conv = null;
        Value residual = null;
        Act act = Act.NONE;
        Value cur = null;
        for (Node b : body.nodes()) {
            switch (b.opName()) {
                case "Conv" -> {
                    if (conv != null) throw unsupported(n, "conv_bias_act body has two Conv nodes");
                    conv = b;
                    cur = b.output();
                }
                case "Add" -> {
                    if (cur == null || residual != null || act != Act.NONE) throw unsupported(n, "conv_bias_act body: Add must follow the Conv, once, before the activation");
                    Value other = b.input(0) == cur ? b.input(1) : b.input(1) == cur ? b.input(0) : null;
                    if (other == null) throw unsupported(n, "conv_bias_act body: Add does not take the Conv result");
                    if (!other.type().shape().equals(cur.type().shape())) throw unsupported(n, "conv_bias_act body: the residual " + other.type().shape() + " is broadcast to " + cur.type().shape());
                    residual = outer(n, body, other);
                    cur = b.output();
                }
                case "Relu", "Clip" -> {
                    if (cur == null || act != Act.NONE || b.input(0) != cur) throw unsupported(n, "conv_bias_act body: " + b.opName() + " must take the Conv (+ residual) result");
                    act = b.opName().equals("Relu") ? Act.RELU : clip(n, body, b);
                    cur = b.output();
                }
                default -> throw unsupported(n, "conv_bias_act body op " + b.opName() + " (node '" + b.name() + "') is not Conv/Add/Relu/Clip");
            }
        }
        if (conv == null || body.outputs().size() != 1 || body.outputs().get(0) != cur)
            throw unsupported(n, "conv_bias_act body must be one Conv chain ending in the body's only output");
        Value x = outer(n, body, conv.input(0)), w = outer(n, body, conv.input(1));
        Value bias = conv.numInputs() > 2 && conv.input(2) != null ? outer(n, body, conv.input(2)) : null;
        return conv(conv, n, new Value[] {x, w, bias, residual}, act);
    }

    /** The activation after a convolution: ReLU is clamp(0, inf), Clip is clamp(lo, hi). */
    record Act(String name, float lo, float hi) {
        static final Act NONE = new Act("none", Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY);
        static final Act RELU = new Act("relu", 0f, Float.POSITIVE_INFINITY);
        boolean clips() { return !name.equals("none") && !name.equals("relu"); }
    }

    private static Act clip(Node fused, Graph body, Node clip) {
        float lo = Float.NEGATIVE_INFINITY, hi = Float.POSITIVE_INFINITY;
        if (clip.attrs().has("min")) lo = clip.attrs().getFloat("min", lo);
        if (clip.attrs().has("max")) hi = clip.attrs().getFloat("max", hi);
        if (clip.numInputs() > 1 && clip.input(1) != null) lo = scalar(fused, outer(fused, body, clip.input(1)), "min");
        if (clip.numInputs() > 2 && clip.input(2) != null) hi = scalar(fused, outer(fused, body, clip.input(2)), "max");
        return new Act("clip", lo, hi);
    }

    private static float scalar(Node n, Value v, String what) {
        if (v.constantValue() == null || v.type().numElements() != 1)
            throw unsupported(n, "Clip " + what + " %" + v.name() + " must be a scalar constant");
        return v.constantValue().getFloat(0);
    }

    /** The outer value a body input stands for. */
    private static Value outer(Node fused, Graph body, Value inner) {
        int i = body.inputs().indexOf(inner);
        if (i < 0) throw unsupported(fused, "body value %" + inner.name() + " is not a body input");
        return fused.input(i);
    }

    /**
     * A convolution node {@code conv} (attributes) computed for graph node {@code owner}:
     * operands either the conv's own inputs or, for a fused node, {x, w, bias, residual}.
     */
    private Layer conv(Node conv, Node owner, Value[] operands, Act act) {
        Value x = operands == null ? conv.input(0) : operands[0];
        Value w = operands == null ? conv.input(1) : operands[1];
        Value bias = operands == null ? (conv.numInputs() > 2 ? conv.input(2) : null) : operands[2];
        Value residual = operands == null ? null : operands[3];
        Value out = owner.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        if (xd.length != 4 || wd.length != 4) throw unsupported(owner, "only 2-D convolutions (rank-4 input and weights), got input " + x.type().shape() + ", weights " + w.type().shape());
        Attributes a = conv.attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        String autoPad = a.getString("auto_pad", "NOTSET");
        if (!autoPad.equals("NOTSET")) throw unsupported(owner, "auto_pad=" + autoPad + " (the pipeline makes pads explicit; run the standard pipeline first)");
        if (pads.length == 4 && (pads[0] != pads[2] || pads[1] != pads[3])) throw unsupported(owner, "asymmetric pads " + java.util.Arrays.toString(pads) + " (cuDNN takes symmetric pads)");
        int groups = (int) a.getInt("group", 1);
        if (w.constantValue() == null) throw unsupported(owner, "weights %" + w.name() + " are not a constant");
        Layout layout = layoutOf(x);
        if (layoutOf(out) != layout) throw unsupported(owner, "input layout " + layout.text() + " differs from output layout " + layoutOf(out).text());
        DeviceBuffer xb = act(x), yb = act(out);
        if (groups == xd[1] && groups == wd[0] && wd[1] == 1 && layout == Layout.NHWC && residual == null) {
            // depthwise NHWC: Tessel's kernel (bias and clamp fused); cuDNN's grouped conv is slow here
            int[] od = out.type().shape().dims();
            DepthwiseConvNhwc.Shape ds = new DepthwiseConvNhwc.Shape(xd[0], xd[2], xd[3], xd[1], od[2], od[3], wd[2], wd[3],
                    (int) strides[0], (int) strides[1], (int) pads[0], (int) pads[1], (int) dil[0], (int) dil[1]);
            DeviceBuffer wb = upload(DepthwiseConvNhwc.packWeights(w.constantValue()), w);
            DeviceBuffer bb = bias == null ? null : weight(bias, Layout.ANY);
            DType t = precision.storage;
            return new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(owner, "tessel.conv.depthwise_nhwc", out); }
                @Override public void enqueue(CudaStream s) { DepthwiseConvNhwc.run(compiler, t, ds, xb, wb, bb, yb, act.lo(), act.hi(), s); }
            };
        }
        CudnnConv.Math math = precision == Precision.TF32 ? CudnnConv.Math.TF32_ALLOWED : CudnnConv.Math.FP32_STRICT;
        CudnnConv.Spec spec = new CudnnConv.Spec(xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1],
                (int) strides[0], (int) strides[1], (int) dil[0], (int) dil[1], groups, layout, precision.storage, math);
        CudnnConv k = CudnnConv.create(cudnn, spec);
        int[] od = out.type().shape().dims();
        int[] kd = k.outputDims();
        if (!java.util.Arrays.equals(od, kd)) { k.close(); throw unsupported(owner, "cuDNN output " + java.util.Arrays.toString(kd) + " differs from the IR's " + out.type().shape()); }
        DeviceBuffer wb = weight(w, layout);
        DeviceBuffer bb = bias != null ? weight(bias, Layout.ANY) : keep(HostTensors.upload(Tensor.zeros(DType.F32, org.tessel.api.Shape.of(wd[0])), precision.storage));
        DeviceBuffer zb = residual == null ? null : act(residual);
        Cudnn.FwdAlgo algo = Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM;
        // cuDNN's fused call takes any algorithm with ReLU, only IMPLICIT_PRECOMP_GEMM with the identity
        // a Clip with lo >= 0 is ReLU then the clamp (clamp(relu(v), lo, hi) == clamp(v, lo, hi)), so it may use cuDNN's ReLU too
        boolean relu = act == Act.RELU || (act.clips() && act.lo() >= 0f);
        if (tuner != null) algo = tuner.conv(k, conv, owner, xb, wb, bb, zb, yb, relu);
        long need = k.workspaceSize(algo);
        workspaceNeed = Math.max(workspaceNeed, need);
        boolean clamp = act.clips();
        long elems = out.type().numElements();
        DType t = precision.storage;
        String tactic = "cudnn.conv.fused_bias_act/" + algo.tacticId() + (clamp ? "+tessel.eltwise.clip" : "");
        Cudnn.FwdAlgo chosen = algo;
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream s) {
                k.runBiasActivation(chosen, xb, wb, bb, zb, 1f, relu, yb, workspace, s);
                if (clamp) Clamp.run(compiler, t, yb, yb, elems, act.lo(), act.hi(), s);
            }
            @Override public void close() { k.close(); }
        };
    }

    private Layer reformat(Node n) {
        Value x = n.input(0), y = n.output();
        String to = n.attrs().getString("to", "");
        int[] d = x.type().shape().dims();
        if (d.length < 3) throw unsupported(n, "reformat of rank " + d.length + " (needs [N, C, spatial...])");
        int batch = d[0], c = d[1];
        int spatial = (int) (x.type().numElements() / ((long) batch * c));
        DeviceBuffer xb = act(x), yb = act(y);
        DType t = precision.storage;
        return switch (to) {
            case "nhwc" -> new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, "tessel.reformat.nchw_nhwc", y); }
                @Override public void enqueue(CudaStream s) { Reformat.nchwToNhwc(compiler, t, xb, yb, batch, c, spatial, s); }
            };
            case "nchw" -> new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, "tessel.reformat.nhwc_nchw", y); }
                @Override public void enqueue(CudaStream s) { Reformat.nhwcToNchw(compiler, t, xb, yb, batch, c, spatial, s); }
            };
            default -> throw unsupported(n, "reformat to '" + to + "' (supported: nhwc, nchw)");
        };
    }

    private Layer pool(Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims(), o = y.type().shape().dims();
        if (d.length != 4) throw unsupported(n, "only 2-D pooling, got input " + x.type().shape());
        Attributes a = n.attrs();
        boolean global = n.opName().equals("GlobalAveragePool");
        Pool2d.Mode mode = n.opName().equals("MaxPool") ? Pool2d.Mode.MAX : Pool2d.Mode.AVG;
        if (n.outputs().size() > 1 && !graph.users(n.output(1)).isEmpty()) throw unsupported(n, "MaxPool indices output is used");
        long[] k = global ? new long[] {d[2], d[3]} : a.getInts("kernel_shape");
        long[] st = global ? new long[] {1, 1} : a.getInts("strides", new long[] {1, 1});
        long[] p = global ? new long[] {0, 0, 0, 0} : a.getInts("pads", new long[] {0, 0, 0, 0});
        long[] dl = global ? new long[] {1, 1} : a.getInts("dilations", new long[] {1, 1});
        if (!a.getString("auto_pad", "NOTSET").equals("NOTSET")) throw unsupported(n, "auto_pad (run the standard pipeline, which makes pads explicit)");
        boolean includePad = a.getInt("count_include_pad", 0) != 0;
        Pool2d.Window w = new Pool2d.Window(d[0], d[1], d[2], d[3], o[2], o[3], (int) k[0], (int) k[1], (int) st[0], (int) st[1],
                (int) p[0], (int) p[1], (int) p[2], (int) p[3], (int) dl[0], (int) dl[1], includePad);
        Layout layout = layoutOf(x);
        DeviceBuffer xb = act(x), yb = act(y);
        DType t = precision.storage;
        String tactic = global ? "tessel.pool.global" : mode == Pool2d.Mode.MAX ? "tessel.pool.max" : "tessel.pool.avg";
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) { Pool2d.run(compiler, t, mode, layout, w, xb, yb, s); }
        };
    }

    private Layer gemm(Node n) {
        Attributes a = n.attrs();
        if (a.getInt("transA", 0) != 0) throw unsupported(n, "Gemm with transA=1");
        if (a.getFloat("alpha", 1f) != 1f || a.getFloat("beta", 1f) != 1f) throw unsupported(n, "Gemm with alpha/beta other than 1");
        Value x = n.input(0), w = n.input(1), bias = n.numInputs() > 2 ? n.input(2) : null, y = n.output();
        boolean transB = a.getInt("transB", 0) != 0;
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int m = xd[0], kk = xd[1], nn = transB ? wd[0] : wd[1];
        if (bias != null && bias.type().numElements() != nn) throw unsupported(n, "Gemm bias of shape " + bias.type().shape() + " (supported: a vector of N=" + nn + ")");
        CublasLtGemm.Precision lp = switch (precision) {
            case FP32 -> CublasLtGemm.Precision.FP32;
            case TF32 -> CublasLtGemm.Precision.TF32;
            case FP16 -> CublasLtGemm.Precision.FP16;
        };
        DeviceBuffer xb = act(x), wb = weight(w, Layout.ANY), yb = act(y);
        DeviceBuffer bb = bias == null ? null : weight(bias, Layout.ANY);
        CublasLt.Epilogue epi = bias == null ? CublasLt.Epilogue.DEFAULT : CublasLt.Epilogue.BIAS;
        CublasLtGemm g = CublasLtGemm.plan(cublasLt, new CublasLtGemm.Spec(m, nn, kk, transB, lp, epi), bb, tuner == null ? 1 : Autotuner.GEMM_ALGOS);
        if (g.algos().isEmpty()) { g.close(); throw unsupported(n, "cuBLASLt has no algorithm for " + m + "x" + nn + "x" + kk + " " + lp); }
        int algo = tuner == null ? 0 : tuner.gemm(g, n, xb, wb, yb);
        String tactic = (bias == null ? "cublaslt.gemm" : "cublaslt.gemm.bias") + (tuner == null ? "" : "/heuristic_" + algo);
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) { g.run(algo, xb, wb, yb, workspace, s); }
            @Override public void close() { g.close(); }
        };
    }

    private Layer softmax(Node n) {
        Value x = n.input(0), y = n.output();
        int rank = x.type().rank();
        long axis = n.attrs().getInt("axis", -1);
        if (axis < 0) axis += rank;
        if (axis != rank - 1) throw unsupported(n, "Softmax over axis " + axis + " of a rank-" + rank + " tensor (supported: the last axis)");
        int len = x.type().shape().dim(rank - 1);
        int rows = (int) (x.type().numElements() / len);
        DeviceBuffer xb = act(x), yb = act(y);
        DType t = precision.storage;
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, "tessel.softmax", y); }
            @Override public void enqueue(CudaStream s) { Softmax.run(compiler, t, xb, yb, rows, len, s); }
        };
    }

    @Override public void close() {
        context.bind();
        for (Layer l : layers) l.close();
        layers.clear();
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        cublasLt.close();
        cudnn.close();
        compiler.close();
    }
}
