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
import org.tessel.passes.streams.StreamAssigner;
import org.tessel.passes.streams.StreamAssignment;
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
 *   <li>Gemm (alpha = beta = 1, transA = 0): {@code cublaslt.gemm} (a C vector as the bias epilogue);</li>
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

    /** Ops built as a view or copy ({@link #view}); the catalogue's tessel.view and tessel.copy take the same (TacticVocabularyLintTest). */
    static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");

    final Graph graph;
    final Precision precision;
    private final CudaContext context;
    final KernelCompiler compiler;
    final CublasLt cublasLt;
    /** Weights, shared by every execution context: uploaded once, in the storage type and the kernel's layout. */
    private final List<DeviceBuffer> weightBuffers = new ArrayList<>();
    private final Map<Value, Map<String, DeviceBuffer>> weightCache = new IdentityHashMap<>();
    private final MemoryPlan memoryPlan;
    private long weightBytes;
    /** What the build chose per node (e.g. a cuDNN algorithm), by node name: replayed for every later context and by loaded engines. */
    final Map<String, String> choices = new java.util.LinkedHashMap<>();
    private final List<LayerPlan> layerPlans = new ArrayList<>();
    private final long contextBytes, workspaceBytes;
    /** The binding made while building: handed to the first execution context, so one context costs no second arena. */
    private Binding unclaimed;
    /** The binding whose layers are being built (layer builders allocate activations and per-context state through it). */
    private Binding building;

    private final Options options;
    private final Autotuner tuner;

    /**
     * Device memory and layers of one execution context: the activation arena (the memory plan's
     * offsets scaled to the storage type), the graph inputs and the workspace; its
     * own cuDNN handle (cuDNN handles carry a stream, so contexts on several threads must not share one);
     * the layers bound to those addresses. Weights and compiled kernels are the engine's, shared.
     */
    final class Binding implements AutoCloseable {
        final Map<Value, DeviceBuffer> bound = new IdentityHashMap<>();
        final List<Layer> layers = new ArrayList<>();
        final List<DeviceBuffer> owned = new ArrayList<>();
        final Cudnn cudnn;
        final DeviceBuffer arena;
        DeviceBuffer workspace;
        /** One workspace per stream (layers on different streams may run at once); [0] is {@link #workspace}. */
        DeviceBuffer[] workspaces;
        /** The stream of the layer being built. */
        int buildingStream;
        long workspaceNeed = MIN_WORKSPACE_BYTES;

        Binding() {
            Cudnn handle = Cudnn.create();
            this.cudnn = handle;
            try {
                this.arena = keep(DeviceBuffer.allocate(Math.max(256, scaled(memoryPlan.arenaBytes()))));
                arena.fill((byte) 0); // tuning runs on the arena: zeros, not leftover NaNs
                for (Value v : graph.inputs()) {
                    DeviceBuffer in = keep(DeviceBuffer.allocate(Math.max(1, storageBytes(v))));
                    in.fill((byte) 0);
                    bound.put(v, in);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        DeviceBuffer keep(DeviceBuffer b) { owned.add(b); return b; }

        /** Device bytes this context holds (arena, inputs, workspace). */
        long bytes() { return owned.stream().mapToLong(DeviceBuffer::bytes).sum(); }

        DeviceBuffer workspace() { return workspace; }

        @Override public void close() {
            context.bind();
            for (Layer l : layers) l.close();
            layers.clear();
            for (DeviceBuffer b : owned) b.close();
            owned.clear();
            cudnn.close();
        }
    }

    private GpuEngine(Graph g, Precision p, CudaContext context, Options options, Map<String, String> recorded, Map<String, String> ptx, int streams) {
        this.options = options;
        this.tuner = options.level() == null ? null : new Autotuner(options, p);
        this.graph = g;
        this.precision = p;
        this.context = context;
        for (Value v : g.inputs()) if (!v.type().dtype().isInteger()) requireF32(v, "graph input"); // integer inputs live as i32
        if (streams < 1 || streams > MAX_STREAMS) throw new GpuEngineException("streams must be 1.." + MAX_STREAMS + ", got " + streams);
        MemoryPlan sequential = new LivenessMemoryPlanner().plan(g);
        if (streams > 1) {
            StreamAssignment sa = new StreamAssigner(streams).assign(g);
            this.streamAssignment = sa.streamsUsed() > 1 ? sa : null;
        } else {
            this.streamAssignment = null;
        }
        this.memoryPlan = streamAssignment == null ? sequential : ConcurrentMemoryPlanner.plan(g, streamAssignment, sequential.lowerBoundBytes());
        this.compiler = new KernelCompiler(context);
        if (ptx != null) compiler.preload(ptx);
        this.cublasLt = CublasLt.create();
        choices.putAll(recorded);
        Binding b;
        try {
            b = bind(true);
        } catch (RuntimeException e) {
            if (tuner != null) tuner.release();
            close();
            throw OutOfDeviceMemory.wrap(e, "building the engine for graph '" + g.name() + "' (" + p + ")", context);
        } finally {
            if (tuner != null) tuner.release();
        }
        for (Layer l : b.layers) layerPlans.add(l.plan());
        // run every layer once, on zeros: kernels are compiled (or loaded from the file's PTX) now, at
        // build, not at the first inference, and a saved engine carries every kernel's PTX
        try (CudaStream s = CudaStream.create()) {
            for (Layer l : b.layers) l.enqueue(s);
            s.synchronize();
        } catch (RuntimeException e) {
            b.close();
            close();
            throw new GpuEngineException("the first run of graph '" + g.name() + "' failed while compiling its kernels: " + e.getMessage(), e);
        }
        this.contextBytes = b.bytes();
        this.workspaceBytes = b.workspace.bytes();
        this.unclaimed = b;
    }

    /** Builds every layer against a new binding (device memory for one context). */
    private Binding bind(boolean first) {
        Binding b = new Binding();
        building = b;
        try {
            for (Node n : graph.nodes()) {
                try {
                    b.buildingStream = streamAssignment == null ? 0 : streamAssignment.stream(n);
                    b.layers.add(layerFor(n));
                } catch (GpuEngineException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new GpuEngineException(n.describe() + ": " + e.getMessage(), e);
                }
            }
            // one workspace shared by the context's layers (they run one after another on one stream), sized for the hungriest
            b.workspaces = new DeviceBuffer[streamCount()];
            for (int i = 0; i < b.workspaces.length; i++) b.workspaces[i] = b.keep(DeviceBuffer.allocate(b.workspaceNeed));
            b.workspace = b.workspaces[0];
            return b;
        } catch (RuntimeException e) {
            b.close();
            throw first ? e : OutOfDeviceMemory.wrap(e, "creating an execution context for graph '" + graph.name() + "'", context);
        } finally {
            building = null;
        }
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
        return new GpuEngine(optimized, precision, context, options, Map.of(), null, 1);
    }

    /**
     * Builds an engine whose independent branches run on up to {@code streams} CUDA streams
     * ({@link StreamAssigner}): the memory plan is then {@link ConcurrentMemoryPlanner}'s (no reuse
     * between layers that may overlap) and each stream has its own workspace.
     */
    public static GpuEngine build(Graph optimized, Precision precision, CudaContext context, Options options, int streams) {
        requireSupported(optimized);
        context.bind();
        return new GpuEngine(optimized, precision, context, options, Map.of(), null, streams);
    }

    /**
     * The pass pipeline to run before {@link #build} for a precision: the standard pipeline, with
     * FP32/TF32 engines kept in NCHW (cuDNN's strict-f32 and TF32 convolutions are faster channels-first;
     * NHWC pays off with f16 tensor cores) unless the graph has grouped (depthwise) convolutions, which
     * Tessel's NHWC depthwise kernel runs. See {@link EnginePipeline}.
     */
    public static String pipeline(Precision p, Graph g) { return EnginePipeline.forPrecision(p, g); }

    /** Ops the engine runs (besides the views and tessel.Fused of the kinds in {@link #FUSED_KINDS}). */
    static final Set<String> OPS = union(Set.of("tessel.Fused", "Conv", "tessel.Reformat", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "Softmax", "Concat", "Split", "LRN", "ReduceMean"),
            union(TransformerLayers.OPS, MoreLayers.OPS));
    static final Set<String> FUSED_KINDS = union(Set.of("conv_bias_act"), TransformerLayers.FUSED_KINDS);

    private static Set<String> union(Set<String> a, Set<String> b) {
        java.util.TreeSet<String> u = new java.util.TreeSet<>(a);
        u.addAll(b);
        return java.util.Collections.unmodifiableSet(u);
    }

    private TransformerLayers transformer;

    private TransformerLayers transformer() {
        if (transformer == null) transformer = new TransformerLayers(this);
        return transformer;
    }

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
    /** Activation arena bytes of one execution context (the memory plan scaled to the storage type). */
    public long arenaBytes() { return Math.max(256, scaled(memoryPlan.arenaBytes())); }
    /** Device bytes each execution context allocates: arena, graph inputs, workspace. */
    public long contextBytes() { return contextBytes; }
    public long weightBytes() { return weightBytes; }
    /** Workspace bytes of each execution context (the hungriest layer's need). */
    public long workspaceBytes() { return workspaceBytes; }
    public List<LayerPlan> layerPlans() { return List.copyOf(layerPlans); }
    /** Per-node choices made while building (node name to tactic), replayed by later contexts and saved engines. */
    public Map<String, String> choices() { return java.util.Collections.unmodifiableMap(choices); }
    /** The NVRTC compiler of this engine (its PTX goes into saved engines). */
    KernelCompiler compiler() { return compiler; }

    /**
     * A new execution context with its own device memory (arena, inputs, workspace), cuDNN handle
     * and stream; contexts of one engine may run at the same time from different threads. The first
     * context takes the memory the build used; later ones rebind every layer (no tuning: the build's
     * choices are replayed).
     */
    public synchronized GpuExecutionContext createExecutionContext() {
        context.bind();
        Binding b = unclaimed;
        unclaimed = null;
        if (b == null) b = bind(false);
        return new GpuExecutionContext(this, b);
    }

    /** The auto-tuner's per-candidate records; null with the fixed rule. */
    Autotuner tuner() { return tuner; }

    // ---- engine files ----------------------------------------------------------------------

    /** Backend name in GPU engine files. */
    public static final String BACKEND = "cuda";

    /** What this GPU offers a loader: architecture (e.g. sm_90) and the library versions an engine's tactics depend on. */
    public static org.tessel.runtime.engine.EngineHeader.Machine machine(CudaContext context) {
        context.bind();
        Map<String, String> libs = new java.util.TreeMap<>();
        libs.put("tessel", org.tessel.runtime.engine.EngineHeader.TESSEL_VERSION);
        libs.put("cuda-driver", String.valueOf(org.tessel.runtime.cuda.CudaDevice.driverVersion()));
        try (Cudnn d = Cudnn.create()) { libs.put("cudnn", String.valueOf(d.version())); }
        try (CublasLt l = CublasLt.create()) { libs.put("cublasLt", String.valueOf(l.version())); }
        var dev = context.device();
        return new org.tessel.runtime.engine.EngineHeader.Machine(BACKEND, "sm_" + dev.computeMajor() + dev.computeMinor(), libs);
    }

    /** The environment a timing cache measured on this GPU records: device name, driver, cuDNN and cuBLASLt versions. */
    public static TimingCache.Environment timingEnvironment(CudaContext context) {
        var m = machine(context);
        Map<String, String> libs = new java.util.TreeMap<>(m.libraries());
        libs.remove("cuda-driver");
        libs.remove("tessel");
        return new TimingCache.Environment(context.device().name().replace('=', '-'), m.libraries().get("cuda-driver"), libs);
    }

    /** Seconds spent compiling (NVRTC) and loading kernel modules while building. */
    public double kernelCompileSeconds() { return compiler.compileNanos() / 1e9; }

    /** Kernel modules this engine loaded. */
    public int kernelModules() { return compiler.moduleCount(); }

    /**
     * Writes the engine (atomically, through {@link org.tessel.runtime.engine.EngineFile}): header with
     * this GPU's architecture and library versions, the optimized graph and its weights, every layer's
     * plan, the memory plan, the PTX of every generated kernel (by source hash), the precision and the
     * build's per-node choices. Loading rebuilds the layers from these without timing or NVRTC.
     */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        var m = machine(context);
        var header = new org.tessel.runtime.engine.EngineHeader(org.tessel.runtime.engine.EngineHeader.FORMAT_VERSION, m.backend(), m.gpuArch(), m.libraries(), 0, new byte[32]);
        Map<String, long[]> memory = new java.util.LinkedHashMap<>();
        for (var e : memoryPlan.allocations().entrySet()) memory.put(e.getKey().name(), new long[] {e.getValue().offset(), e.getValue().bytes()});
        Map<String, byte[]> kernels = new java.util.LinkedHashMap<>();
        kernels.put(META_PRECISION, precision.name().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        StringBuilder ch = new StringBuilder();
        for (var e : choices.entrySet()) ch.append(e.getKey()).append('\t').append(e.getValue()).append('\n');
        kernels.put(META_STREAMS, String.valueOf(streamCount()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        kernels.put(META_CHOICES, ch.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        for (var e : compiler.ptx().entrySet()) kernels.put(PTX_PREFIX + e.getKey(), e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.tessel.runtime.engine.Engine.of(header, graph, layerPlans, memory, memoryPlan.arenaBytes(), kernels).save(file);
    }

    static final String META_PRECISION = "meta/precision", META_CHOICES = "meta/choices", META_STREAMS = "meta/streams", PTX_PREFIX = "ptx/";

    /**
     * Loads a GPU engine file for this GPU: the header must match (architecture, library versions,
     * format, checksum; else a clear {@link org.tessel.runtime.engine.EngineFormatException}), then
     * every layer is rebuilt with the recorded choices and the stored PTX; the rebuilt plan must equal
     * the stored one.
     */
    public static GpuEngine load(java.nio.file.Path file, CudaContext context) {
        var machine = machine(context);
        var e = org.tessel.runtime.engine.Engine.load(file, machine);
        if (!e.header().backend().equals(BACKEND))
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": not a GPU engine (backend " + e.header().backend() + ")");
        byte[] pr = e.kernels().get(META_PRECISION), ch = e.kernels().get(META_CHOICES);
        if (pr == null || ch == null) throw new org.tessel.runtime.engine.EngineFormatException(file + ": GPU engine without " + (pr == null ? META_PRECISION : META_CHOICES));
        Precision precision;
        try {
            precision = Precision.valueOf(new String(pr, java.nio.charset.StandardCharsets.UTF_8));
        } catch (IllegalArgumentException x) {
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": unknown precision '" + new String(pr, java.nio.charset.StandardCharsets.UTF_8) + "'");
        }
        Map<String, String> choices = new java.util.LinkedHashMap<>();
        for (String line : new String(ch, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            if (line.isEmpty()) continue;
            int tab = line.indexOf('\t');
            if (tab < 0) throw new org.tessel.runtime.engine.EngineFormatException(file + ": malformed choice line '" + line + "'");
            choices.put(line.substring(0, tab), line.substring(tab + 1));
        }
        Map<String, String> ptx = new java.util.HashMap<>();
        for (var k : e.kernels().entrySet())
            if (k.getKey().startsWith(PTX_PREFIX)) ptx.put(k.getKey().substring(PTX_PREFIX.length()), new String(k.getValue(), java.nio.charset.StandardCharsets.UTF_8));
        requireSupported(e.graph());
        context.bind();
        int streams = 1;
        byte[] st = e.kernels().get(META_STREAMS);
        if (st != null) {
            try {
                streams = Integer.parseInt(new String(st, java.nio.charset.StandardCharsets.UTF_8));
            } catch (NumberFormatException x) {
                throw new org.tessel.runtime.engine.EngineFormatException(file + ": malformed " + META_STREAMS);
            }
        }
        GpuEngine engine = new GpuEngine(e.graph(), precision, context, Options.FIXED, choices, ptx, streams);
        if (!engine.layerPlans.equals(e.layers())) {
            List<LayerPlan> a = e.layers(), b = engine.layerPlans;
            String diff = "";
            for (int i = 0; i < Math.min(a.size(), b.size()); i++)
                if (!a.get(i).equals(b.get(i))) { diff = "; first difference at layer " + i + ": stored " + a.get(i) + ", rebuilt " + b.get(i); break; }
            engine.close();
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": the rebuilt plan differs from the stored one" + diff);
        }
        return engine;
    }

    /** Kernels loaded from an engine file's PTX instead of compiled (after {@link #load}). */
    public int kernelsFromFile() { return compiler.preloadedUsed(); }

    // ---- building ---------------------------------------------------------------------------

    Binding cur() {
        if (building == null) throw new IllegalStateException("layers are built only inside bind()");
        return building;
    }

    /** Memory the current context owns (freed with it). */
    DeviceBuffer keep(DeviceBuffer b) { return cur().keep(b); }

    /** The current context's workspace, resolved when a layer runs (it is allocated after every layer is built). */
    java.util.function.Supplier<DeviceBuffer> workspaceRef() { Binding b = cur(); int s = b.buildingStream; return () -> b.workspaces[s]; }

    // ---- streams ---------------------------------------------------------------------------

    /** The most streams an engine uses. */
    public static final int MAX_STREAMS = 8;

    private final StreamAssignment streamAssignment;

    /** Streams the layers run on (1 unless built with several and the graph has independent branches). */
    public int streamCount() { return streamAssignment == null ? 1 : streamAssignment.streamsUsed(); }

    /** The stream of each layer, in layer order. */
    int[] layerStreams() {
        List<Node> nodes = graph.nodes();
        int[] s = new int[nodes.size()];
        if (streamAssignment != null) for (int i = 0; i < s.length; i++) s[i] = streamAssignment.stream(nodes.get(i));
        return s;
    }

    /** For each layer, the earlier layers (on other streams) it must wait for: the assignment's events, as layer indices. */
    int[][] layerWaits() {
        List<Node> nodes = graph.nodes();
        Map<Node, Integer> index = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) index.put(nodes.get(i), i);
        List<List<Integer>> w = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) w.add(new ArrayList<>());
        if (streamAssignment != null)
            for (StreamAssignment.Event e : streamAssignment.events()) w.get(index.get(e.before())).add(index.get(e.after()));
        int[][] out = new int[nodes.size()][];
        for (int i = 0; i < out.length; i++) out[i] = w.get(i).stream().mapToInt(Integer::intValue).toArray();
        return out;
    }

    /** Raises the current context's workspace to at least {@code bytes}. */
    void needWorkspace(long bytes) { Binding b = cur(); b.workspaceNeed = Math.max(b.workspaceNeed, bytes); }

    private long scaled(long f32Bytes) { return f32Bytes / 4 * precision.storage.bytes(); }

    private long storageBytes(Value v) { return v.type().numElements() * (v.type().dtype().isInteger() ? 4 : precision.storage.bytes()); }

    private static void requireF32(Value v, String what) {
        if (v.type().dtype() != DType.F32)
            throw new GpuEngineException(what + " %" + v.name() + " is " + v.type().dtype().text() + "; the GPU engine takes f32 graphs (the precision picks the storage)");
    }

    /** The arena slice of a node result, or the input buffer. */
    DeviceBuffer act(Value v) {
        Map<Value, DeviceBuffer> bound = cur().bound;
        DeviceBuffer b = bound.get(v);
        if (b != null) return b;
        if (v.isConstant()) throw new GpuEngineException("constant %" + v.name() + " used as an activation");
        MemoryPlan.Allocation a = memoryPlan.of(v);
        if (a == null) throw new GpuEngineException("value %" + v.name() + " has no place in the memory plan");
        requireF32(v, "value");
        b = cur().arena.slice(scaled(a.offset()), Math.max(1, storageBytes(v)));
        bound.put(v, b);
        return b;
    }

    /**
     * Uploads {@code t}, a repacked form of constant {@code of} (e.g. depthwise filters), once per
     * engine: every context shares it. {@code form} names the packing, so two forms of one constant differ.
     */
    DeviceBuffer upload(Tensor t, Value of, String form) {
        return sharedWeight(of, "upload:" + form, () -> t);
    }

    DeviceBuffer upload(Tensor t, Value of) { return upload(t, of, String.valueOf(t.shape())); }

    /** A constant uploaded once per engine in the storage type (filters as KRSC when {@code filterLayout} is NHWC). */
    DeviceBuffer weight(Value v, Layout filterLayout) {
        if (v.constantValue() == null) throw new GpuEngineException("value %" + v.name() + " must be a constant (weights are uploaded once at build time)");
        return sharedWeight(v, "weight:" + filterLayout, () -> filterLayout == Layout.NHWC ? HostTensors.toChannelsLast(v.constantValue()) : v.constantValue());
    }

    /** A device buffer made once per engine for constant {@code v} in form {@code form} (e.g. integer indices as i32), shared by every context. */
    DeviceBuffer shared(Value v, String form, java.util.function.Supplier<DeviceBuffer> make) {
        Map<String, DeviceBuffer> forms = weightCache.computeIfAbsent(v, k -> new java.util.HashMap<>());
        DeviceBuffer b = forms.get(form);
        if (b == null) {
            b = make.get();
            weightBuffers.add(b);
            weightBytes += b.bytes();
            forms.put(form, b);
        }
        return b;
    }

    private DeviceBuffer sharedWeight(Value v, String form, java.util.function.Supplier<Tensor> tensor) {
        Map<String, DeviceBuffer> forms = weightCache.computeIfAbsent(v, k -> new java.util.HashMap<>());
        DeviceBuffer b = forms.get(form);
        if (b == null) {
            b = HostTensors.upload(tensor.get(), precision.storage);
            weightBuffers.add(b);
            weightBytes += b.bytes();
            forms.put(form, b);
        }
        return b;
    }

    Layout layoutOf(Value v) {
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
            case "Concat", "Split", "LRN" -> CnnLayers.build(this, n);
            case "Resize", "ReduceMean", "ReduceSum", "ReduceMax", "BatchNormalization" -> MoreLayers.build(this, n); // ReduceMean over {2, 3} still goes to the global pool
            case "Gather", "LayerNormalization", "Transpose" -> transformer().layer(n);
            default -> {
                if (TransformerLayers.ELTWISE_OPS.contains(op)) yield transformer().layer(n);
                throw unsupported(n, "op " + op + " has no GPU kernel in this engine");
            }
        };
    }

    static GpuEngineException unsupported(Node n, String why) {
        return new GpuEngineException("cannot build a GPU engine: " + n.describe() + ": " + why);
    }

    LayerPlan plan(Node n, String tactic, Value out) {
        return new LayerPlan(n.name(), tactic, precision.name(), layoutOf(out).text());
    }

    private Layer view(Node n) {
        Value in = n.input(0), out = n.output();
        DeviceBuffer src = act(in);
        MemoryPlan.Allocation ai = memoryPlan.of(in), ao = memoryPlan.of(out);
        Map<Value, DeviceBuffer> bound = cur().bound;
        boolean inPlace = ai != null && ao != null && ai.offset() == ao.offset() && !bound.containsKey(out);
        if (in.type().dtype().isInteger() && !bound.containsKey(out)) inPlace = true; // integer values (i32 on the device) live outside the arena
        if (inPlace) {
            bound.put(out, src);
            return new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, GpuTactics.VIEW, out); }
                @Override public void enqueue(CudaStream s) {}
            };
        }
        DeviceBuffer dst = act(out);
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, GpuTactics.COPY, out); }
            @Override public void enqueue(CudaStream s) { dst.copyFromAsync(src.slice(0, dst.bytes()), s); }
        };
    }

    private Layer fused(Node n) {
        String kind = n.attrs().getString("kind", "");
        Graph body = n.body();
        if (body == null) throw unsupported(n, "tessel.Fused without a body");
        if (TransformerLayers.FUSED_KINDS.contains(kind)) return transformer().fused(n, kind);
        if (!kind.equals("conv_bias_act")) throw unsupported(n, "fused kind '" + kind + "' has no GPU kernel in this engine (supported: " + FUSED_KINDS + ")");
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
    static Value outer(Node fused, Graph body, Value inner) {
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
                @Override public LayerPlan plan() { return GpuEngine.this.plan(owner, GpuTactics.CONV_DEPTHWISE, out); }
                @Override public void enqueue(CudaStream s) { DepthwiseConvNhwc.run(compiler, t, ds, xb, wb, bb, yb, act.lo(), act.hi(), s); }
            };
        }
        // the RGB stem reading the network input (its nchw-to-nhwc reformat absorbed): the fastest of several forms, see StemConv
        if (StemConv.applies(this, owner, x, groups, layout)) return StemConv.build(this, conv, owner, x, w, bias, residual, act, yb);
        // f16 NHWC convolutions with few input channels (the RGB stem) run on channels zero-padded to 8 (tensor-core kernels)
        ChannelPad pad = ChannelPad.of(this, owner, x, w, groups, layout);
        DeviceBuffer cx = pad == null ? xb : pad.input();
        CudnnConv.Math math = precision == Precision.TF32 ? CudnnConv.Math.TF32_ALLOWED : CudnnConv.Math.FP32_STRICT;
        CudnnConv.Spec spec = new CudnnConv.Spec(xd[0], pad == null ? xd[1] : pad.channels(), xd[2], xd[3], wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1],
                (int) strides[0], (int) strides[1], (int) dil[0], (int) dil[1], groups, layout, precision.storage, math);
        CudnnConv k = CudnnConv.create(cur().cudnn, spec);
        int[] od = out.type().shape().dims();
        int[] kd = k.outputDims();
        if (!java.util.Arrays.equals(od, kd)) { k.close(); throw unsupported(owner, "cuDNN output " + java.util.Arrays.toString(kd) + " differs from the IR's " + out.type().shape()); }
        DeviceBuffer wb = pad == null ? weight(w, layout) : pad.weights();
        DeviceBuffer bb = bias != null ? weight(bias, Layout.ANY) : upload(Tensor.zeros(DType.F32, org.tessel.api.Shape.of(wd[0])), w, "zero-bias");
        DeviceBuffer zb = residual == null ? null : act(residual);
        Cudnn.FwdAlgo algo = Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM;
        // cuDNN's fused call takes any algorithm with ReLU, only IMPLICIT_PRECOMP_GEMM with the identity
        // a Clip with lo >= 0 is ReLU then the clamp (clamp(relu(v), lo, hi) == clamp(v, lo, hi)), so it may use cuDNN's ReLU too
        boolean relu = act == Act.RELU || (act.clips() && act.lo() >= 0f);
        String recorded = choices.get(owner.name());
        if (recorded != null) algo = convAlgo(owner, recorded);
        else if (tuner != null) algo = tuner.conv(k, conv, owner, cx, wb, bb, zb, yb, relu);
        choices.put(owner.name(), GpuTactics.variant(GpuTactics.CONV_FUSED, algo.tacticId()));
        needWorkspace(k.workspaceSize(algo));
        java.util.function.Supplier<DeviceBuffer> workspace = workspaceRef();
        boolean clamp = act.clips();
        long elems = out.type().numElements();
        DType t = precision.storage;
        // one catalogue id per layer: the padded form is the stem tactic, a Clip's clamp a variant of the fused call
        String tactic = pad == null ? GpuTactics.variant(GpuTactics.CONV_FUSED, algo.tacticId()) + (clamp ? "/clamp" : "")
                : GpuTactics.variant(GpuTactics.CONV_STEM, ChannelPad.VARIANT, algo.tacticId()) + (clamp ? "/clamp" : "");
        Cudnn.FwdAlgo chosen = algo;
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream s) {
                if (pad != null) pad.enqueue(s);
                k.runBiasActivation(chosen, cx, wb, bb, zb, 1f, relu, yb, workspace.get(), s);
                if (clamp) Clamp.run(compiler, t, yb, yb, elems, act.lo(), act.hi(), s);
            }
            @Override public void close() { k.close(); }
        };
    }

    /** The cuBLASLt heuristic index of a recorded choice GEMM/heuristic_I ({@link GpuTactics#GEMM}; engines saved before the one vocabulary wrote GEMM_BIAS/heuristic_I for a Gemm with C); the heuristic's order is fixed for a library version. */
    private static int gemmAlgo(Node n, String recorded, int offered) {
        int slash = recorded.lastIndexOf("/heuristic_");
        if (slash < 0) return 0;
        int i;
        try {
            i = Integer.parseInt(recorded.substring(slash + "/heuristic_".length()));
        } catch (NumberFormatException e) {
            throw unsupported(n, "recorded tactic '" + recorded + "' has no algorithm index");
        }
        if (i < 0 || i >= offered) throw unsupported(n, "recorded tactic '" + recorded + "' names cuBLASLt algorithm " + i + ", the heuristic now offers " + offered);
        return i;
    }

    /** The cuDNN algorithm of a recorded choice {@link GpuTactics#CONV_FUSED}/ID. */
    static Cudnn.FwdAlgo convAlgo(Node owner, String recorded) {
        String id = recorded.substring(recorded.indexOf('/') + 1);
        for (Cudnn.FwdAlgo a : Cudnn.FwdAlgo.values()) if (a.tacticId().equals(id)) return a;
        throw unsupported(owner, "recorded tactic '" + recorded + "' names no cuDNN algorithm of this build");
    }

    private Layer reformat(Node n) {
        if (ChannelPad.absorbs(this, n)) return ChannelPad.absorbedReformat(this, n);
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
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, GpuTactics.variant(GpuTactics.REFORMAT, "to_nhwc"), y); }
                @Override public void enqueue(CudaStream s) { Reformat.nchwToNhwc(compiler, t, xb, yb, batch, c, spatial, s); }
            };
            case "nchw" -> new Layer() {
                @Override public LayerPlan plan() { return GpuEngine.this.plan(n, GpuTactics.variant(GpuTactics.REFORMAT, "to_nchw"), y); }
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
        String tactic = global ? GpuTactics.POOL_GLOBAL : mode == Pool2d.Mode.MAX ? GpuTactics.POOL_MAX : GpuTactics.POOL_AVG;
        if (mode == Pool2d.Mode.MAX && CnnLayers.vectorMaxPool(t, layout, w, xb, yb)) return CnnLayers.maxPoolNhwc8(this, n, w, xb, yb);
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
        java.util.function.Supplier<DeviceBuffer> workspace = workspaceRef();
        String recorded = choices.get(n.name());
        CublasLtGemm g = CublasLtGemm.plan(cublasLt, new CublasLtGemm.Spec(m, nn, kk, transB, lp, epi), bb, tuner == null && recorded == null ? 1 : Autotuner.GEMM_ALGOS);
        if (g.algos().isEmpty()) { g.close(); throw unsupported(n, "cuBLASLt has no algorithm for " + m + "x" + nn + "x" + kk + " " + lp); }
        int algo = recorded != null ? gemmAlgo(n, recorded, g.algos().size()) : tuner == null ? 0 : tuner.gemm(g, n, xb, wb, yb);
        // a plain Gemm is cublaslt.gemm whether or not its C vector rides on the bias epilogue (the catalogue prices them alike)
        String tactic = tuner == null && recorded == null ? GpuTactics.GEMM : GpuTactics.variant(GpuTactics.GEMM, "heuristic_" + algo);
        choices.put(n.name(), tactic);
        return new Layer() {
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) { g.run(algo, xb, wb, yb, workspace.get(), s); }
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
            @Override public LayerPlan plan() { return GpuEngine.this.plan(n, GpuTactics.SOFTMAX, y); }
            @Override public void enqueue(CudaStream s) { Softmax.run(compiler, t, xb, yb, rows, len, s); }
        };
    }

    /** Frees the weights and kernels; execution contexts must be closed first (an unclaimed build binding is freed here). */
    @Override public synchronized void close() {
        context.bind();
        if (unclaimed != null) { unclaimed.close(); unclaimed = null; }
        for (DeviceBuffer b : weightBuffers) b.close();
        weightBuffers.clear();
        weightCache.clear();
        cublasLt.close();
        compiler.close();
    }
}
