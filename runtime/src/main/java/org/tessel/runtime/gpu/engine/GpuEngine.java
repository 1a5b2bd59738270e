package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
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
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * A whole optimized graph compiled to a fixed sequence of GPU kernel launches: one layer per node,
 * each bound to device memory once at build time, so running the engine is only enqueuing (and,
 * through {@link GpuExecutionContext#captureGraph()}, replaying one CUDA graph).
 *
 * <p>Memory: weights are uploaded once in the precision's storage type and the kernel's layout
 * (KRSC filters for NHWC convolutions); every activation lives in ONE device arena at the offset
 * {@link LivenessMemoryPlanner} gave it, scaled from the graph's f32 sizes to the storage type
 * (all values scale alike, so the planner's non-overlap still holds). Views (Flatten, Reshape,
 * Squeeze, Unsqueeze, Identity) alias their input when the planner put them in place, else copy; so do the
 * parts of a Split the plan runs as {@code tessel.split.view} (the planner slices its input's buffer).
 *
 * <p>Kernel per node: the tactic the engine plan names for it ({@link #build(Graph, org.tessel.tactics.plan.EnginePlan,
 * Precision, CudaContext, Options, int)}), built by the {@link TacticImplementation} of that id, found through
 * {@link java.util.ServiceLoader} ({@link ConvLayers}, {@link GemmLayers}, {@link AttentionLayers}, {@link EltwiseLayers},
 * {@link NormLayers}, {@link PoolLayers}, {@link ReduceResizeLayers}, {@link DataMovementLayers}); the engine never
 * switches on op names. A graph built without a plan gets the fixed rule's tactics (each implementation's
 * {@link TacticImplementation#ruleTactic}, the same the search's {@code rule} strategy plans). A node no
 * implementation computes is refused at build time with its name and op.
 */
public final class GpuEngine implements AutoCloseable, LayerContext {
    /**
     * Storage type and math of a layer: the plan gives each node one; an engine built without a plan runs every node at
     * one. Graph inputs are uploaded and outputs read in the engine's {@link #precision()} (its I/O precision).
     */
    public enum Precision {
        /** f32 storage, strict f32 math (no tensor cores). */
        FP32(DType.F32),
        /** f32 storage, TF32 tensor-core math in convolutions and GEMMs. */
        TF32(DType.F32),
        /** f16 storage, f16 tensor cores with f32 accumulation. */
        FP16(DType.F16),
        /** bf16 storage, bf16 tensor cores with f32 accumulation. */
        BF16(DType.BF16),
        /** int8 storage at the plan's per-tensor scales, int8 tensor cores with int32 accumulation (convolutions and GEMMs). */
        INT8(DType.I8),
        /** E4M3 storage at the plan's per-tensor scales, FP8 tensor cores (sm_89+) with f32 accumulation (GEMMs). */
        FP8(DType.F8E4M3);

        final DType storage;
        Precision(DType d) { storage = d; }
        public DType storage() { return storage; }

        /** The precisions a whole engine is built at without a plan (INT8 and FP8 are per-node choices of a plan that carries scales). */
        public static final List<Precision> FLOATING = List.of(FP32, TF32, FP16, BF16);

        /** INT8 or FP8: codes at per-tensor scales. */
        public boolean quantized() { return this == INT8 || this == FP8; }
    }

    /** Refuses INT8 or FP8 as the precision of a whole engine built without a plan: there are no scales to quantize at. */
    private static void requireFloating(Precision p) {
        if (p.quantized()) {
            String f = p.name().toLowerCase(java.util.Locale.ROOT);
            throw new GpuEngineException("cannot build a GPU engine at " + p + " without a plan: " + p + " is a per-node choice of a plan that carries the "
                    + "calibrated scales (tessel build --" + f + " --calib DATA, or a Q/DQ model); without a plan the engine is built at one of " + Precision.FLOATING);
        }
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

    /** The least workspace: what cuBLASLt plans are offered; cuDNN convolutions may raise it (IMPLICIT_PRECOMP_GEMM's index tables grow with the batch). */
    static final long MIN_WORKSPACE_BYTES = CublasLtGemm.WORKSPACE_BYTES;

    final Graph graph;
    /** The I/O precision: graph inputs are uploaded and outputs stored in it; the precision of every node without a plan. */
    final Precision precision;
    /** Bytes per element of the arena's slots: the widest floating storage any node of the engine writes. */
    private final int arenaElementBytes;
    private final CudaContext context;
    final KernelCompiler compiler;
    /** Made when the first layer needs it (never on the emulated device, which has no cuBLASLt). */
    private CublasLt cublasLt;
    /** Weights, shared by every execution context: uploaded once, in the storage type and the kernel's layout. */
    private final List<DeviceBuffer> weightBuffers = new ArrayList<>();
    private final Map<Value, Map<String, DeviceBuffer>> weightCache = new IdentityHashMap<>();
    private final MemoryPlan memoryPlan;
    /** What the engines of a profile share (kernel compiler, weights), for an engine of a {@link GpuProfileEngine}; null otherwise. */
    private final ProfileDeviceMemory profileMemory;
    /** The profile's arena this engine binds (its memory plan is the profile's at max shapes); null for an engine with its own arena. */
    private final ProfileDeviceMemory.Arena profileArena;
    /** The guards of a guarded engine's arena ({@link #buildGuarded}); null otherwise. */
    private final ArenaGuard guard;
    private long weightBytes;
    /**
     * The tactic per node name (catalogue id and variant) that layers are built with: the plan's, or, once the first
     * context is bound, what its layers reported (variants the tuner picked included), so later contexts and loaded
     * engines replay exactly the built engine. Empty for an engine built without a plan, whose first binding takes the rule's.
     */
    private final Map<String, String> planned = new java.util.HashMap<>();
    /** The plan's node entries by name (empty without a plan): layers report the plan's precision and layout. */
    private final Map<String, org.tessel.tactics.plan.PlannedNode> plannedNodes = new java.util.HashMap<>();
    /** The plan with the variants the build chose; null for an engine built without a plan. */
    private final org.tessel.tactics.plan.EnginePlan builtPlan;
    private final TacticImplementations implementations = TacticImplementations.loaded();
    private final List<LayerPlan> layerPlans = new ArrayList<>();
    /** See {@link #buildMs()}; filled while the constructor builds the first binding. */
    private final Map<String, Double> buildMs = new java.util.LinkedHashMap<>();
    private boolean constructing = true;
    private final long contextBytes, workspaceBytes;
    /** The INT8 scales of the plan (empty without INT8 nodes). */
    private final org.tessel.tactics.plan.QuantizationTable quantization;
    private final int casts;
    /** The binding made while building: handed to the first execution context, so one context costs no second arena. */
    private Binding unclaimed;
    /** The binding whose layers are being built (layer builders allocate activations and per-context state through it). */
    private Binding building;

    private final Options options;
    private final Autotuner tuner;

    /**
     * Device memory and layers of one execution context: the activation arena (the memory plan's
     * offsets scaled to the storage type), the graph inputs and the workspace; its
     * own cuDNN handle, made when a layer first needs it (cuDNN handles carry a stream, so contexts on several threads must not share one);
     * the layers bound to those addresses. Weights and compiled kernels are the engine's, shared.
     */
    final class Binding implements AutoCloseable {
        final Map<Value, DeviceBuffer> bound = new IdentityHashMap<>();
        final List<Layer> layers = new ArrayList<>();
        final List<DeviceBuffer> owned = new ArrayList<>();
        private Cudnn cudnn;
        final DeviceBuffer arena;
        DeviceBuffer workspace;
        /** One workspace per stream (layers on different streams may run at once); [0] is {@link #workspace}. */
        DeviceBuffer[] workspaces;
        /** The stream of the layer being built. */
        int buildingStream;
        /** The node whose layer is being built, and its precision (null between layers). */
        Node buildingNode;
        Precision buildingPrecision;
        /**
         * Copies of activations converted to another storage type for the layers that read them in it (by value, then
         * key: the storage type, and on a multi-stream engine the consumer too, so branches never share a copy).
         */
        final Map<Value, Map<String, DeviceBuffer>> converted = new IdentityHashMap<>();
        long workspaceNeed = MIN_WORKSPACE_BYTES;
        /** Graph inputs and outputs bound to caller-owned buffers ({@link #createExecutionContext(Map)}): not uploaded, downloaded or freed. */
        final java.util.Set<Value> external = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        /**
         * The graph's integer inputs (token ids, positions, block tables: what a decode step uploads every run) as slices
         * of one allocation, at these offsets, so a run uploads them all in one copy; null when the engine has none or
         * its inputs come from a profile's shared buffers.
         */
        DeviceBuffer integerInputs;
        final Map<Value, Long> integerInputOffsets = new IdentityHashMap<>();

        /** Where the arena and workspace come from when the caller shares them between contexts (null: this binding's own). */
        final SharedActivations sharedActivations;

        Binding(Map<Value, DeviceBuffer> callerOwned) { this(callerOwned, null); }

        Binding(Map<Value, DeviceBuffer> callerOwned, SharedActivations sharedActivations) {
            this.sharedActivations = profileArena == null ? sharedActivations : null;
            try {
                long arenaBytes = Math.max(256, scaled(memoryPlan.arenaBytes()));
                this.arena = profileArena != null ? profileArena.arena(arenaBytes)
                        : this.sharedActivations != null ? this.sharedActivations.arena(arenaBytes).slice(0, arenaBytes) : keep(DeviceBuffer.allocate(arenaBytes));
                arena.fill((byte) 0); // tuning runs on the arena: zeros, not leftover NaNs
                if (guard != null) guard.arm(arena, GpuEngine.this::scaled);
                for (var e : callerOwned.entrySet()) {
                    bound.put(e.getKey(), e.getValue());
                    external.add(e.getKey());
                }
                long intBytes = 0;
                if (profileArena == null)
                    for (Value v : graph.inputs())
                        if (!external.contains(v) && v.type().dtype().isInteger()) {
                            integerInputOffsets.put(v, intBytes);
                            intBytes += (Math.max(1, storageBytes(v)) + 15) & ~15L;
                        }
                if (intBytes > 0) {
                    integerInputs = keep(DeviceBuffer.allocate(intBytes));
                    integerInputs.fill((byte) 0);
                }
                for (Value v : graph.inputs()) {
                    if (external.contains(v)) continue;
                    long bytes = Math.max(1, storageBytes(v));
                    if (integerInputOffsets.containsKey(v)) {
                        bound.put(v, integerInputs.slice(integerInputOffsets.get(v), bytes));
                        continue;
                    }
                    DeviceBuffer in = profileArena != null ? profileArena.input(v.name(), bytes) : null;
                    if (in == null) in = keep(DeviceBuffer.allocate(bytes));
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

        Cudnn cudnn() {
            if (cudnn == null) cudnn = library("cuDNN", Cudnn::create);
            return cudnn;
        }

        @Override public void close() {
            context.bind();
            for (Layer l : layers) l.close();
            layers.clear();
            for (DeviceBuffer b : owned) b.close();
            owned.clear();
            if (cudnn != null) cudnn.close();
        }
    }

    private GpuEngine(Graph g, Precision p, CudaContext context, Options options, Map<String, String> tactics, Map<String, String> ptx, int streams,
                      org.tessel.tactics.plan.EnginePlan plan) {
        this(g, p, context, options, tactics, ptx, streams, plan, false, null, null);
    }

    private GpuEngine(Graph g, Precision p, CudaContext context, Options options, Map<String, String> tactics, Map<String, String> ptx, int streams,
                      org.tessel.tactics.plan.EnginePlan plan, boolean guarded, ProfileDeviceMemory profileMemory, ProfileDeviceMemory.Arena profileArena) {
        this.profileMemory = profileMemory;
        if (plan != null) for (var n : plan.nodes()) plannedNodes.put(n.node(), n);
        this.quantization = plan == null ? org.tessel.tactics.plan.QuantizationTable.EMPTY : plan.quantization();
        this.options = options;
        this.tuner = options.level() == null ? null : new Autotuner(options, () -> precision());
        this.graph = g;
        this.precision = p;
        int widest = p.storage.bytes();
        for (Node n : g.nodes()) widest = Math.max(widest, precisionOf(n).storage.bytes());
        this.arenaElementBytes = widest;
        this.context = context;
        // integer inputs live as i32, bool ones as bytes, f8e4m3 ones (an FP8 KV cache's pools) as their codes
        for (Value v : g.inputs()) if (v.type().dtype().isFloating() && v.type().dtype() != DType.F8E4M3) requireF32(v, "graph input");
        if (streams < 1 || streams > MAX_STREAMS) throw new GpuEngineException("streams must be 1.." + MAX_STREAMS + ", got " + streams);
        // a Split the plan runs as views has its outputs placed as parts of its input's buffer
        MemoryPlan sequential = new LivenessMemoryPlanner().plan(g, n -> plannedNodes.containsKey(n.name()) && plannedNodes.get(n.name()).tacticId().equals(GpuTactics.SPLIT_VIEW));
        if (streams > 1) {
            StreamAssignment sa = new StreamAssigner(streams).assign(g);
            this.streamAssignment = sa.streamsUsed() > 1 ? sa : null;
        } else {
            this.streamAssignment = null;
        }
        if (guarded && streamAssignment != null) throw new GpuEngineException("a guarded engine runs its layers one at a time on one stream (asked for " + streams + ")");
        this.guard = guarded ? ArenaGuard.of(sequential) : null;
        MemoryPlan placed = profileArena == null ? null : profileArena.place(sequential);
        if (profileArena != null && (placed == null || streamAssignment != null || guarded)) profileArena.ownArena();
        this.profileArena = placed == null || streamAssignment != null || guarded ? null : profileArena;
        this.memoryPlan = guard != null ? guard.plan() : streamAssignment == null ? (this.profileArena != null ? placed : sequential)
                : ConcurrentMemoryPlanner.plan(g, streamAssignment, sequential.lowerBoundBytes());
        this.compiler = profileMemory != null ? profileMemory.compiler : new KernelCompiler(context);
        if (ptx != null) compiler.preload(ptx);
        planned.putAll(tactics);
        Binding b;
        long tb = System.nanoTime();
        try {
            b = bind(true);
        } catch (RuntimeException e) {
            if (tuner != null) tuner.release();
            close();
            throw OutOfDeviceMemory.wrap(e, "building the engine for graph '" + g.name() + "' (" + p + ")", context);
        } finally {
            if (tuner != null) tuner.release();
        }
        for (Layer l : b.layers) {
            layerPlans.add(l.plan());
            planned.put(l.plan().node(), l.plan().tactic());
        }
        // the plan as built: each node's variant is what its layer chose (an algorithm, a form); a view the memory
        // plan could not alias is the copy it became
        this.builtPlan = plan == null ? null : plan.withNodes(plan.nodes().stream().map(n -> {
            String t = planned.get(n.node());
            if (t == null) return n;
            int slash = t.indexOf('/');
            return n.withTactic(GpuTactics.catalogueId(t), slash < 0 ? "" : t.substring(slash + 1));
        }).toList());
        long tr = System.nanoTime();
        // run every layer once, on zeros: kernels are compiled (or loaded from the file's PTX) now, at
        // build, not at the first inference, and a saved engine carries every kernel's PTX
        try (CudaStream s = CudaStream.create()) {
            for (Layer l : b.layers) l.enqueue(s);
            s.synchronize();
            buildMs.put("first run (kernels compiled or loaded)", (System.nanoTime() - tr) / 1e6);
            buildMs.put("layers built", (tr - tb) / 1e6);
        } catch (RuntimeException e) {
            b.close();
            close();
            throw new GpuEngineException("the first run of graph '" + g.name() + "' failed while compiling its kernels: " + e.getMessage(), e);
        }
        this.contextBytes = b.bytes();
        this.workspaceBytes = b.workspace.bytes();
        this.casts = b.layers.stream().mapToInt(l -> l instanceof CastingLayer c ? c.steps().size() : 0).sum();
        this.unclaimed = b;
        this.constructing = false;
    }

    /** Builds every layer against a new binding (device memory for one context). */
    private Binding bind(boolean first) { return bind(first, Map.of()); }

    /** Builds every layer against a new binding whose {@code callerOwned} values use the caller's buffers. */
    private Binding bind(boolean first, Map<Value, DeviceBuffer> callerOwned) { return bind(first, callerOwned, null); }

    /** As above, its arena and workspace from {@code sharedActivations} (null: its own). */
    private Binding bind(boolean first, Map<Value, DeviceBuffer> callerOwned, SharedActivations sharedActivations) {
        Binding b = new Binding(callerOwned, sharedActivations);
        building = b;
        try {
            for (Node n : graph.nodes()) {
                try {
                    b.buildingStream = streamAssignment == null ? 0 : streamAssignment.stream(n);
                    b.buildingPrecision = precisionOf(n);
                    List<CastingLayer.Step> casts = casts(n, b);
                    b.buildingNode = n;
                    Layer l = layerFor(n, b);
                    b.layers.add(casts.isEmpty() ? l : new CastingLayer(casts, l, compiler));
                } catch (GpuEngineException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new GpuEngineException(n.describe() + ": " + e.getMessage(), e);
                } finally {
                    b.buildingNode = null;
                    b.buildingPrecision = null;
                }
            }
            // one workspace shared by the context's layers (they run one after another on one stream), sized for the hungriest
            b.workspaces = new DeviceBuffer[streamCount()];
            for (int i = 0; i < b.workspaces.length; i++) {
                DeviceBuffer shared = profileArena != null ? profileArena.workspace(b.workspaceNeed)
                        : b.sharedActivations != null && b.workspaces.length == 1 ? b.sharedActivations.workspace(Math.max(256, b.workspaceNeed)).slice(0, Math.max(256, b.workspaceNeed)) : null;
                b.workspaces[i] = shared != null ? shared : b.keep(DeviceBuffer.allocate(b.workspaceNeed));
            }
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
        requireFloating(precision);
        context.bind();
        return new GpuEngine(optimized, precision, context, options, Map.of(), null, 1, null);
    }

    /**
     * Builds an engine whose independent branches run on up to {@code streams} CUDA streams
     * ({@link StreamAssigner}): the memory plan is then {@link ConcurrentMemoryPlanner}'s (no reuse
     * between layers that may overlap) and each stream has its own workspace.
     */
    public static GpuEngine build(Graph optimized, Precision precision, CudaContext context, Options options, int streams) {
        requireSupported(optimized);
        requireFloating(precision);
        context.bind();
        return new GpuEngine(optimized, precision, context, options, Map.of(), null, streams, null);
    }

    /**
     * Builds exactly {@code plan} on its planned graph (PlanApplier's): every layer with the tactic the plan names for
     * its node (variants the plan leaves open are tuned with {@code options}, or take the tactic's default), at the
     * precision the plan gives the node (FP32, TF32, FP16 or BF16), with a cast before a layer wherever it reads an
     * activation stored in another type; {@code precision} is the I/O precision (graph inputs are uploaded in it, see
     * {@link #precisionFor}). A node the plan does not name, an INT8 node, a tactic without a GPU implementation, or a
     * tactic that cannot run its node fails the build naming the node.
     */
    public static GpuEngine build(Graph planned, org.tessel.tactics.plan.EnginePlan plan, Precision precision, CudaContext context, Options options, int streams) {
        Map<String, String> tactics = checkPlan(planned, plan, precision);
        context.bind();
        return new GpuEngine(planned, precision, context, options, tactics, null, streams, plan);
    }

    /**
     * Builds {@code plan} as {@link #build(Graph, org.tessel.tactics.plan.EnginePlan, Precision, CudaContext, Options, int)}
     * does (fixed options, one stream), with a guarded arena ({@link ArenaGuard}): every buffer in a slot of its own
     * followed by a guard, and execution contexts that run the layers one at a time and check the guards after each,
     * failing with the layer that wrote outside its outputs. A test facility for new kernels and plugins' CUDA C: it
     * costs memory (no reuse) and time (a synchronization and a guard check per layer), and cannot be captured as a CUDA graph.
     */
    public static GpuEngine buildGuarded(Graph planned, org.tessel.tactics.plan.EnginePlan plan, Precision precision, CudaContext context) {
        Map<String, String> tactics = checkPlan(planned, plan, precision);
        context.bind();
        return new GpuEngine(planned, precision, context, Options.FIXED, tactics, null, 1, plan, true, null, null);
    }

    /**
     * Builds {@code plan} (its variants fixed, as the profile's engine at opt chose them: nothing is tuned) for one shape of
     * an optimization profile ({@link GpuProfileEngine}): kernels through the profile engine's compiler, constants from
     * its shared weights, activations in the profile's arena at the slots of its max shapes.
     */
    static GpuEngine buildInProfile(Graph planned, org.tessel.tactics.plan.EnginePlan plan, Precision precision, CudaContext context, ProfileDeviceMemory memory,
                                    ProfileDeviceMemory.Arena arena) {
        Map<String, String> tactics = checkPlan(planned, plan, precision);
        context.bind();
        return new GpuEngine(planned, precision, context, Options.FIXED, tactics, null, 1, plan, false, memory, arena);
    }

    /**
     * Builds {@code plan} as {@link #build(Graph, org.tessel.tactics.plan.EnginePlan, Precision, CudaContext, Options, int)}
     * with fixed variants on one stream, its constants and kernels from {@code shared}: engines of one model in several
     * shapes (a decoder's step buckets) upload each weight form once (a weight is shared under the same name and data) and
     * compile each kernel once; activations stay the engine's own.
     */
    public static GpuEngine buildSharing(Graph planned, org.tessel.tactics.plan.EnginePlan plan, Precision precision, CudaContext context, ProfileDeviceMemory shared) {
        Map<String, String> tactics = checkPlan(planned, plan, precision);
        context.bind();
        return new GpuEngine(planned, precision, context, Options.FIXED, tactics, null, 1, plan, false, shared, null);
    }

    /** True when this engine's activations live in its profile's shared arena. */
    public boolean bindsProfileArena() { return profileArena != null; }

    /** True for an engine built by {@link #buildGuarded}. */
    public boolean guarded() { return guard != null; }

    /** Checks the guards of {@code b}'s arena after {@code layer} ran (a guarded engine only). */
    void checkGuards(Binding b, LayerPlan layer) { guard.check(b.arena, this::scaled, layer); }

    /**
     * Why no GPU tactic runs {@code n} at FP8 E4M3 (null: one does): each catalogue tactic that applies to the node is
     * asked through its implementation ({@link TacticImplementation#fp8WhyNot}). A search for a GPU engine leaves FP8 out
     * of such nodes' choices, where the CPU engine would emulate it.
     */
    public static String fp8WhyNot(Node n) {
        TacticImplementations impls = TacticImplementations.loaded();
        List<String> reasons = new ArrayList<>();
        for (org.tessel.tactics.Tactic t : org.tessel.tactics.TacticCatalog.global().all()) {
            if (!t.appliesTo(n)) continue;
            TacticImplementation impl = impls.of(t.id());
            if (impl == null) continue;
            String why = impl.fp8WhyNot(n, t.id());
            if (why == null) return null;
            if (reasons.size() < 3) reasons.add(why);
        }
        return reasons.isEmpty() ? "no GPU tactic implements " + n.opName() : String.join("; ", reasons);
    }

    /**
     * Checks, without a GPU, that this builder can take the plan: every node of the planned graph is planned, at a
     * precision the GPU builds where it is floating, with a tactic that has a GPU implementation computing its op and a
     * variant, where it names one, that the implementation runs the node in ({@link TacticImplementation#variantWhyNot}); an INT8
     * node with a tactic whose INT8 kernel takes it ({@link TacticImplementation#int8WhyNot}) and a scale for every
     * activation it reads and writes. Returns the tactic per node. Throws naming the first node that fails.
     */
    public static Map<String, String> checkPlan(Graph planned, org.tessel.tactics.plan.EnginePlan plan, Precision precision) {
        requireSupported(planned);
        Map<String, String> tactics = new java.util.HashMap<>();
        for (var p : plan.nodes()) tactics.put(p.node(), p.tactic());
        TacticImplementations impls = TacticImplementations.loaded();
        Map<String, org.tessel.tactics.plan.PlannedNode> byName = new java.util.HashMap<>();
        for (var p : plan.nodes()) byName.put(p.node(), p);
        for (Node n : planned.nodes()) {
            var p = byName.get(n.name());
            String t = tactics.get(n.name());
            if (t == null) throw new GpuEngineException("cannot build a GPU engine: the plan names no tactic for " + n.describe());
            TacticImplementation impl = impls.of(GpuTactics.catalogueId(t));
            if (impl == null)
                throw new GpuEngineException("cannot build a GPU engine: the plan runs " + n.describe() + " with '" + t + "', which has no GPU implementation (implemented: " + impls.ids() + ")");
            if (!impl.computes(n))
                throw new GpuEngineException("cannot build a GPU engine: the plan runs " + n.describe() + " with '" + t + "', whose implementation (" + impl.getClass().getSimpleName() + ") does not compute " + n.opName());
            String variantWhy = p == null || p.variant().isEmpty() ? null : impl.variantWhyNot(n, t, gpuPrecision(p.precision()));
            if (variantWhy != null) throw new GpuEngineException("cannot build a GPU engine: the plan runs " + n.describe() + " with '" + t + "': " + variantWhy);
            boolean fp8 = p != null && p.precision() == org.tessel.cost.Precision.FP8;
            if (p != null && (fp8 || p.precision() == org.tessel.cost.Precision.INT8) && !n.output().type().dtype().isInteger()) {
                String f = fp8 ? "fp8" : "int8";
                String why = fp8 ? impl.fp8WhyNot(n, GpuTactics.catalogueId(t)) : impl.int8WhyNot(n, GpuTactics.catalogueId(t));
                if (why != null) throw new GpuEngineException("cannot build a GPU engine: the plan runs " + n.describe() + " at " + f + " with '" + t + "': " + why
                        + (fp8 ? "; FP8 plans that need it run on the CPU engine by emulation (--cpu)" : ""));
                java.util.List<Value> tensors = new java.util.ArrayList<>(n.inputs());
                tensors.addAll(n.outputs());
                for (Value v : tensors)
                    if (v != null && !v.isConstant() && v.type().dtype().isFloating() && !plan.quantization().scales().containsKey(v.name()))
                        throw new GpuEngineException("cannot build a GPU engine: the plan runs " + n.describe() + " at " + f + " and has no scale for its tensor %" + v.name());
            }
        }
        return tactics;
    }

    /**
     * The plan an optimization profile keeps: {@code built} (the plan of the engine built at the profile's opt shapes,
     * {@code opt} its planned graph, variants tuned there) with every variant that cannot run its node in one of
     * {@code others} (the profile's planned graphs at its other shapes, min and max) replaced by the first of its
     * catalogue tactic's variants ({@link org.tessel.tactics.Tactic#planVariants}) that runs the node at opt and in each
     * of them, as TensorRT keeps only tactics that hold over a profile's range: a weight-only GEMV form tuned at one row
     * (the staged form) gives way to one that runs the profile's several rows too. A node that no variant holds for keeps
     * its own, for the build's check at min and max to refuse naming the shape. {@code changed} receives one line per
     * replaced variant. Returns {@code built} itself when nothing changed.
     */
    public static org.tessel.tactics.plan.EnginePlan variantsOverRange(Graph opt, org.tessel.tactics.plan.EnginePlan built, List<Graph> others,
                                                                       java.util.function.Consumer<String> changed) {
        TacticImplementations impls = TacticImplementations.loaded();
        Map<String, Node> atOpt = byName(opt);
        List<Map<String, Node>> at = others.stream().map(GpuEngine::byName).toList();
        List<org.tessel.tactics.plan.PlannedNode> nodes = new ArrayList<>();
        boolean any = false;
        for (var p : built.nodes()) {
            Node n = atOpt.get(p.node());
            String id = GpuTactics.catalogueId(p.tactic());
            TacticImplementation impl = impls.of(id);
            if (p.variant().isEmpty() || n == null || impl == null || !impl.computes(n) || holds(impl, p, p.variant(), n, at)) {
                nodes.add(p);
                continue;
            }
            org.tessel.tactics.Tactic t = org.tessel.tactics.TacticCatalog.global().has(id) ? org.tessel.tactics.TacticCatalog.global().byId(id) : null;
            String keep = null;
            for (String v : t == null ? List.<String>of() : t.planVariants())
                if (holds(impl, p, v, n, at)) {
                    keep = v;
                    break;
                }
            if (keep == null) {
                nodes.add(p);
                continue;
            }
            changed.accept(n.describe() + ": variant '" + p.variant() + "' of " + id + " (chosen at opt) does not run at every shape of the profile; '" + keep + "' does");
            nodes.add(new org.tessel.tactics.plan.PlannedNode(p.node(), p.op(), p.tacticId(), keep, p.precision(), p.layout(), p.stream(), p.predictedUs()));
            any = true;
        }
        return any ? built.withNodes(nodes) : built;
    }

    /** Whether {@code impl} runs {@code n} (at opt) and its namesake in each of {@code others} (where it has one) in {@code variant}. */
    private static boolean holds(TacticImplementation impl, org.tessel.tactics.plan.PlannedNode p, String variant, Node n, List<Map<String, Node>> others) {
        String tactic = GpuTactics.variant(GpuTactics.catalogueId(p.tactic()), variant);
        Precision prec = gpuPrecision(p.precision());
        if (impl.variantWhyNot(n, tactic, prec) != null) return false;
        for (Map<String, Node> g : others) {
            Node m = g.get(p.node());
            if (m != null && impl.variantWhyNot(m, tactic, prec) != null) return false;
        }
        return true;
    }

    private static Map<String, Node> byName(Graph g) {
        Map<String, Node> m = new java.util.HashMap<>();
        for (Node n : g.nodes()) m.put(n.name(), n);
        return m;
    }

    /**
     * Builds with some nodes' tactics forced (node name to catalogue id, optionally with a variant, e.g. a stem form),
     * the others' the rule's: a forced tactic that cannot run its node fails the build naming it.
     */
    static GpuEngine buildForced(Graph optimized, Map<String, String> forced, Precision precision, CudaContext context, Options options) {
        return buildForced(optimized, forced, precision, context, options, null);
    }

    /** As above, with kernels' PTX compiled before (by source hash) loaded instead of compiled again. */
    static GpuEngine buildForced(Graph optimized, Map<String, String> forced, Precision precision, CudaContext context, Options options, Map<String, String> ptx) {
        requireSupported(optimized);
        for (String node : forced.keySet())
            if (optimized.nodes().stream().noneMatch(n -> n.name().equals(node))) throw new GpuEngineException("cannot force a tactic for node '" + node + "': graph '" + optimized.name() + "' has no such node");
        context.bind();
        return new GpuEngine(optimized, precision, context, options, forced, ptx, 1, null);
    }

    /**
     * True when the plan's precision for {@code n} must be the engine's: a node with a floating output, except a reformat
     * of a graph input, which a plan keeps at the input's f32 (a cast follows) and the engine does in its storage type
     * (graph inputs are converted when uploaded).
     */
    private static boolean computesAtEnginePrecision(Graph g, Node n) {
        if (n.output().type().dtype().isInteger()) return false;
        return !(n.opName().equals("tessel.Reformat") && g.inputs().contains(n.input(0)));
    }

    /**
     * The I/O precision of a GPU engine for this plan: the one most of its floating nodes run at (ties: the first of
     * FP32, TF32, FP16, BF16; INT8 nodes do not count: inputs are uploaded as floats), so the fewest layers need a cast
     * of the uploaded inputs.
     */
    public static Precision precisionFor(org.tessel.tactics.plan.EnginePlan plan, Graph planned) {
        Map<Precision, Integer> mix = new java.util.EnumMap<>(Precision.class);
        for (Node n : planned.nodes()) {
            var p = plan.node(n.name());
            if (p == null || !computesAtEnginePrecision(planned, n)) continue;
            Precision g = gpuPrecision(p.precision());
            if (!g.quantized()) mix.merge(g, 1, Integer::sum);
        }
        Precision best = Precision.FP32;
        int most = 0;
        for (var e : mix.entrySet()) if (e.getValue() > most) { best = e.getKey(); most = e.getValue(); }
        return best;
    }

    /** The layer of {@code n}: the planned tactic's implementation builds it (the rule's when there is no plan). */
    private Layer layerFor(Node n, Binding b) {
        long t0 = System.nanoTime();
        Layer l = layerOf(n, b);
        if (constructing) buildMs.merge(l.getClass().getEnclosingClass() != null ? l.getClass().getEnclosingClass().getSimpleName() : l.getClass().getSimpleName(), (System.nanoTime() - t0) / 1e6, Double::sum);
        return l;
    }

    /**
     * Where building took its time, in ms: "layers built" (every layer's making: descriptors, cuDNN and cuBLASLt plans,
     * uploads, kernel lookups) with its share per implementation ({@code ConvLayers}, {@code GemmLayers}, ...), and the
     * first run, which compiles (or loads) the kernels. Insertion ordered.
     */
    public Map<String, Double> buildMs() { return java.util.Collections.unmodifiableMap(buildMs); }

    private Layer layerOf(Node n, Binding b) {
        String tactic = planned.get(n.name());
        TacticImplementation impl;
        if (tactic == null) {
            var rule = implementations.rule(this, n);
            if (rule == null) throw GpuEngineException.unsupported(n, "op " + n.opName() + " has no GPU kernel in this engine");
            impl = rule.implementation();
            tactic = rule.tactic();
        } else {
            impl = implementations.of(GpuTactics.catalogueId(tactic));
            if (impl == null) throw GpuEngineException.unsupported(n, "tactic '" + tactic + "' has no GPU implementation");
        }
        Layer l = impl.build(this, n, tactic);
        String built = GpuTactics.catalogueId(l.plan().tactic()), want = GpuTactics.catalogueId(tactic);
        if (!impl.realizes(want, built)) {
            l.close();
            throw GpuEngineException.unsupported(n, "the plan names " + want + ", and its implementation built " + built);
        }
        return l;
    }

    /**
     * The pass pipeline to run before {@link #build} for a precision: the standard pipeline, with
     * FP32/TF32 engines kept in NCHW (cuDNN's strict-f32 and TF32 convolutions are faster channels-first;
     * NHWC pays off with f16 tensor cores) unless the graph has grouped (depthwise) convolutions, which
     * Tessel's NHWC depthwise kernel runs. See {@link EnginePipeline}.
     */
    public static String pipeline(Precision p, Graph g) { return EnginePipeline.forPrecision(p, g); }

    /**
     * Checks, without a GPU, that every node's op (and fused kind) has a kernel here; throws naming
     * the first node that has none and listing every unsupported op of the graph. Shape- and
     * attribute-level limits (asymmetric pads, transA, ...) are checked when the layer is built.
     */
    public static void requireSupported(Graph g) {
        TacticImplementations impls = TacticImplementations.loaded();
        Node first = null;
        java.util.TreeSet<String> missing = new java.util.TreeSet<>();
        for (Node n : g.nodes()) {
            if (impls.computes(n)) continue;
            if (first == null) first = n;
            missing.add(n.opName().equals("tessel.Fused") ? n.opName() + " kind=" + n.attrs().getString("kind", "?") : n.opName());
        }
        if (first != null)
            throw new GpuEngineException("cannot build a GPU engine for graph '" + g.name() + "': " + first.describe()
                    + (first.opName().equals("tessel.Fused") ? " kind=" + first.attrs().getString("kind", "?") : "")
                    + " has no GPU kernel in this engine; unsupported in this graph: " + String.join(", ", missing));
    }

    @Override public Graph graph() { return graph; }

    /**
     * While a layer is being built, its node's precision (what its kernels compute and store in); otherwise the engine's
     * I/O precision, in which graph inputs are uploaded ({@link GpuExecutionContext}).
     */
    @Override public Precision precision() {
        Binding b = building;
        return b != null && b.buildingPrecision != null ? b.buildingPrecision : precision;
    }

    /** The engine's I/O precision: graph inputs are uploaded in its storage type; every node's without a plan. */
    public Precision ioPrecision() { return precision; }

    /** Layers per precision, in enum order (one entry for an engine of one precision). */
    public Map<Precision, Integer> precisionMix() {
        Map<Precision, Integer> mix = new java.util.EnumMap<>(Precision.class);
        for (Node n : graph.nodes()) if (!n.output().type().dtype().isInteger()) mix.merge(precisionOf(n), 1, Integer::sum);
        return mix;
    }

    /** The precision in words: the one precision, or the mix of layers per precision and the casts between them. */
    public String describePrecision() {
        Map<Precision, Integer> mix = precisionMix();
        if (mix.size() <= 1) return (mix.isEmpty() ? precision : mix.keySet().iterator().next()).name();
        return "mixed " + mix + " (I/O " + precision.name() + ", " + casts + " casts)";
    }

    /** Casts per execution context: activations converted for layers that read them in another storage type. */
    public int castCount() { return casts; }

    /**
     * The precision node {@code n} runs at: the plan's, except for a reformat of a graph input (which the engine does in
     * the input's upload type, the I/O precision); the I/O precision without a plan.
     */
    Precision precisionOf(Node n) {
        var p = plannedNodes.get(n.name());
        if (p == null || n.opName().equals("tessel.Reformat") && graph.inputs().contains(n.input(0))) return precision;
        if (n.output().type().dtype().isInteger()) return precision; // an integer node's floating inputs are read in the I/O type
        return gpuPrecision(p.precision());
    }

    /** The GPU precision of a plan precision. */
    static Precision gpuPrecision(org.tessel.cost.Precision p) {
        return switch (p) {
            case FP32 -> Precision.FP32;
            case TF32 -> Precision.TF32;
            case FP16 -> Precision.FP16;
            case BF16 -> Precision.BF16;
            case INT8 -> Precision.INT8;
            case FP8 -> Precision.FP8;
        };
    }

    /**
     * The element type {@code v} lives in on the device: i32 for integers, a byte for bool, E4M3 codes for a value the
     * graph types f8e4m3 (an FP8 KV cache's pools: the graph decided their storage, so no precision changes it), the
     * I/O storage for a graph input, else the storage of the precision its producer runs at.
     */
    public DType storageOf(Value v) {
        if (v.type().dtype().isInteger()) return DType.I32;
        if (v.type().dtype() == DType.BOOL) return DType.BOOL;
        if (v.type().dtype() == DType.F8E4M3) return DType.F8E4M3;
        Node p = v.producer();
        return p == null ? precision.storage : precisionOf(p).storage;
    }

    /**
     * The casts node {@code n} needs before it runs: every floating activation it reads that is stored in another type
     * than {@code n}'s precision stores is converted into a copy (one per value and type, shared by the layers of one
     * stream, made before the first of them), which {@link #activation} then hands to {@code n}'s layer.
     */
    private List<CastingLayer.Step> casts(Node n, Binding b) {
        List<CastingLayer.Step> steps = new ArrayList<>();
        DType to = b.buildingPrecision.storage;
        for (Value v : n.inputs()) {
            if (v == null || v.isConstant() || !v.type().dtype().isFloating() || v.type().dtype() == DType.F8E4M3) continue; // f8e4m3 values are read as codes
            DType from = storageOf(v);
            if (from == to) continue;
            String key = convertedKey(to, n);
            Map<String, DeviceBuffer> forms = b.converted.computeIfAbsent(v, k -> new java.util.HashMap<>());
            if (forms.containsKey(key)) continue;
            DeviceBuffer src = stored(v, b);
            long elems = v.type().numElements();
            DeviceBuffer dst = b.keep(DeviceBuffer.allocate(Math.max(1, elems * to.bytes())));
            forms.put(key, dst);
            float scale = quantizedStorage(from) || quantizedStorage(to) ? scale(v) : 1f;
            steps.add(new CastingLayer.Step(v.name(), from, to, src, dst, elems, scale));
        }
        return steps;
    }
    public CudaContext context() { return context; }
    public MemoryPlan memoryPlan() { return memoryPlan; }
    /** Activation arena bytes of one execution context (the memory plan scaled to the storage type). */
    public long arenaBytes() { return Math.max(256, scaled(memoryPlan.arenaBytes())); }
    /** Device bytes each execution context allocates: arena, graph inputs, workspace. */
    public long contextBytes() { return contextBytes; }
    /** Device bytes of the weights this engine reads (its own, or those it shares with other engines of a profile or a decoder). */
    public long weightBytes() { return weightBytes; }
    /** Workspace bytes of each execution context (the hungriest layer's need). */
    public long workspaceBytes() { return workspaceBytes; }
    public List<LayerPlan> layerPlans() { return List.copyOf(layerPlans); }
    /** The NVRTC compiler of this engine (its PTX goes into saved engines). */
    KernelCompiler compiler() { return compiler; }

    /** The PTX of every kernel this engine compiled or loaded, by source hash (what its engine file stores). */
    public Map<String, String> kernelPtx() { return compiler.ptx(); }

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

    /** A caller-owned device buffer for a graph input or output: what the caller says it holds, checked against the engine. */
    public record ExternalBuffer(DeviceBuffer buffer, DType dtype, org.tessel.api.Shape shape) {}

    /**
     * A new execution context in which the named graph inputs and outputs live in caller-owned device buffers instead
     * of its own: they are not uploaded, downloaded or freed by the context, and persist across runs (a paged KV
     * cache's pools, bound as both a layer's pool input and its pool output, are written in place step after step).
     * Each name must be a graph input or output, and each buffer must hold the value as the engine stores it (its
     * dtype, e.g. f16 in an FP16 engine, integers as i32; its shape; enough bytes); a mismatch is refused naming the
     * value. The build's own binding is released (its memory is not needed once a context binds its own).
     */
    public synchronized GpuExecutionContext createExecutionContext(Map<String, ExternalBuffer> callerOwned) { return createExecutionContext(callerOwned, null); }

    /**
     * Device memory that execution contexts of several engines share because they never run at the same time: a
     * decoder's step buckets, one step after another on one stream (each bucket an engine, each engine's activations
     * planned into its own arena: with a context's own arena each, a serving workload's dozens of buckets ran an H100
     * out of memory). The owner keeps the buffers alive while any context bound to them lives, and runs no context while
     * another's work is in flight.
     */
    public interface SharedActivations {
        /** A buffer of at least {@code bytes} for a context's activation arena. */
        DeviceBuffer arena(long bytes);
        /** A buffer of at least {@code bytes} for a context's workspace. */
        DeviceBuffer workspace(long bytes);
    }

    /**
     * As {@link #createExecutionContext(Map)}, the context's activation arena and workspace taken from
     * {@code sharedActivations} (null: its own), not freed with it.
     */
    public synchronized GpuExecutionContext createExecutionContext(Map<String, ExternalBuffer> callerOwned, SharedActivations sharedActivations) {
        context.bind();
        Map<Value, DeviceBuffer> bound = new IdentityHashMap<>();
        for (var e : callerOwned.entrySet()) {
            String name = e.getKey();
            Value v = graph.inputs().stream().filter(x -> x.name().equals(name)).findFirst()
                    .or(() -> graph.outputs().stream().filter(x -> x.name().equals(name)).findFirst()).orElse(null);
            if (v == null)
                throw new GpuEngineException("cannot bind a buffer to '" + name + "': graph '" + graph.name() + "' has no such input or output (inputs "
                        + graph.inputs().stream().map(Value::name).toList() + ", outputs " + graph.outputs().stream().map(Value::name).toList() + ")");
            ExternalBuffer x = e.getValue();
            DType want = storageOf(v);
            if (x.dtype() != want)
                throw new GpuEngineException("the buffer bound to %" + name + " holds " + x.dtype().text() + ", and the engine stores it as " + want.text());
            if (!x.shape().equals(v.type().shape()))
                throw new GpuEngineException("the buffer bound to %" + name + " is " + x.shape() + ", and the graph's %" + name + " is " + v.type().shape());
            long need = storageBytes(v);
            if (x.buffer().bytes() < need)
                throw new GpuEngineException("the buffer bound to %" + name + " holds " + x.buffer().bytes() + " bytes, and " + want.text() + v.type().shape() + " needs " + need);
            bound.put(v, x.buffer());
        }
        if (unclaimed != null) { unclaimed.close(); unclaimed = null; }
        return new GpuExecutionContext(this, bind(false, bound, sharedActivations));
    }

    /** The auto-tuner's per-candidate records; null with the fixed rule. */
    @Override public Autotuner tuner() { return tuner; }

    /** Seconds spent compiling (NVRTC) and loading kernel modules while building. */
    public double kernelCompileSeconds() { return compiler.compileNanos() / 1e9; }

    /** Kernel modules this engine loaded. */
    public int kernelModules() { return compiler.moduleCount(); }

    /** Writes the engine file ({@link GpuEngineFile#save}). */
    public void save(java.nio.file.Path file) throws java.io.IOException { GpuEngineFile.save(this, file); }

    /** Loads a GPU engine file for this GPU ({@link GpuEngineFile#load}). */
    public static GpuEngine load(java.nio.file.Path file, CudaContext context) { return GpuEngineFile.load(file, context); }

    /** Rebuilds an engine from a file's parts: every layer with its stored tactic, the stored PTX, the stored plan. */
    static GpuEngine rebuild(Graph g, Precision p, CudaContext context, Map<String, String> tactics, Map<String, String> ptx, int streams,
                             org.tessel.tactics.plan.EnginePlan plan) {
        requireSupported(g);
        context.bind();
        return new GpuEngine(g, p, context, Options.FIXED, tactics, ptx, streams, plan);
    }

    StreamAssignment streamAssignment() { return streamAssignment; }
    long planArenaBytes() { return memoryPlan.arenaBytes(); }

    /** Kernels loaded from an engine file's PTX instead of compiled (after {@link #load}). */
    public int kernelsFromFile() { return compiler.preloadedUsed(); }

    // ---- building ---------------------------------------------------------------------------

    Binding cur() {
        if (building == null) throw new IllegalStateException("layers are built only inside bind()");
        return building;
    }

    // ---- the layer context: what a tactic implementation builds its layer through -------------

    @Override public DeviceBuffer keep(DeviceBuffer b) { return cur().keep(b); }

    @Override public java.util.function.Supplier<DeviceBuffer> workspace() { Binding b = cur(); int s = b.buildingStream; return () -> b.workspaces[s]; }

    @Override public void needWorkspace(long bytes) { Binding b = cur(); b.workspaceNeed = Math.max(b.workspaceNeed, bytes); }

    @Override public KernelCompiler kernels() { return compiler; }

    @Override public synchronized CublasLt cublasLt() {
        if (cublasLt == null) cublasLt = library("cuBLASLt", CublasLt::create);
        return cublasLt;
    }

    @Override public Cudnn cudnn() { return cur().cudnn(); }

    /** A library handle; the emulated device has none of NVIDIA's libraries, so a layer that needs one is refused there. */
    private <T> T library(String name, java.util.function.Supplier<T> create) {
        if (context.isEmulated())
            throw new org.tessel.runtime.cuda.CudaException(name + " is not available on the emulated device (" + context.device().name()
                    + "); only Tessel's own kernels run there, so plan this node with a tessel.* tactic");
        return create.get();
    }

    @Override public String planned(Node n) { return planned.get(n.name()); }

    @Override public float scale(Value v) {
        Float s = quantization.scales().get(v.name());
        if (s == null) {
            String f = quantization.format().text();
            throw new GpuEngineException("the plan has no " + f.toUpperCase(java.util.Locale.ROOT) + " scale for tensor %" + v.name() + " (an " + f.toUpperCase(java.util.Locale.ROOT)
                    + " node reads or writes it; calibrate with --" + f + " --calib)");
        }
        return s;
    }

    @Override public float[] weightScales(Value w, int channels) { return quantization.weightScales(w.name(), channels); }

    /** Int8 or E4M3 codes: storage read and written at a tensor's scale. */
    static boolean quantizedStorage(DType d) { return d == DType.I8 || d == DType.F8E4M3; }

    @Override public MemoryPlan.Allocation placement(Value v) { return memoryPlan.of(v); }

    @Override public boolean isBound(Value v) { return cur().bound.containsKey(v); }

    @Override public void alias(Value v, DeviceBuffer b) { cur().bound.put(v, b); }

    @Override public LayerPlan plan(Node n, String tactic, Value out) {
        var p = plannedNodes.get(n.name());
        if (p != null) return new LayerPlan(n.name(), tactic, p.precision().text(), p.layout().text());
        return new LayerPlan(n.name(), tactic, precision.name(), layoutOf(out).text());
    }

    /** The plan this engine was built from, with the variants its layers chose; null when built without a plan. */
    public org.tessel.tactics.plan.EnginePlan plan() { return builtPlan; }

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


    private long scaled(long f32Bytes) { return f32Bytes / 4 * arenaElementBytes; }

    private long storageBytes(Value v) { return v.type().numElements() * storageOf(v).bytes(); }

    private static void requireF32(Value v, String what) {
        if (v.type().dtype() != DType.F32)
            throw new GpuEngineException(what + " %" + v.name() + " is " + v.type().dtype().text() + "; the GPU engine takes f32 graphs (the precision picks the storage)");
    }

    /**
     * The buffer of an activation as the layer being built reads it: its arena slice (or graph input buffer), or, when
     * the layer's node runs at a precision storing another type, the converted copy its casts write.
     */
    @Override public DeviceBuffer activation(Value v) {
        Binding cb = cur();
        Node reader = cb.buildingNode;
        if (reader != null && v.producer() != reader && !v.isConstant() && v.type().dtype().isFloating() && v.type().dtype() != DType.F8E4M3) {
            DType to = cb.buildingPrecision.storage;
            if (storageOf(v) != to) {
                Map<String, DeviceBuffer> forms = cb.converted.get(v);
                DeviceBuffer c = forms == null ? null : forms.get(convertedKey(to, reader));
                if (c == null) throw new GpuEngineException(reader.describe() + " reads %" + v.name() + " (stored " + storageOf(v).text() + ") as " + to.text()
                        + ", but it is not among the node's inputs, so no cast was made for it");
                return c;
            }
        }
        return stored(v, cb);
    }

    /** The key of a converted copy: its type, and on a multi-stream engine its consumer (branches never share a copy). */
    private String convertedKey(DType to, Node consumer) { return to.text() + (streamAssignment == null ? "" : "@" + consumer.name()); }

    /** The buffer {@code v} is stored in: its arena slice at the memory plan's offset, or its bound (input, alias) buffer. */
    private DeviceBuffer stored(Value v, Binding cb) {
        Map<Value, DeviceBuffer> bound = cb.bound;
        DeviceBuffer b = bound.get(v);
        if (b != null) return b;
        if (v.isConstant()) throw new GpuEngineException("constant %" + v.name() + " used as an activation");
        MemoryPlan.Allocation a = memoryPlan.of(v);
        if (a == null) throw new GpuEngineException("value %" + v.name() + " has no place in the memory plan");
        // the arena's offsets scale f32 sizes to the widest float storage; integer and bool values (shape arithmetic,
        // masks: small) are stored in another width, so each has a buffer of its own
        if (!v.type().dtype().isFloating()) b = cb.keep(DeviceBuffer.allocate(Math.max(1, storageBytes(v))));
        else {
            requireF32(v, "value");
            b = cb.arena.slice(scaled(a.offset()), Math.max(1, storageBytes(v)));
        }
        bound.put(v, b);
        return b;
    }

    /**
     * Uploads {@code t}, a repacked form of constant {@code of} (e.g. depthwise filters), once per
     * engine: every context shares it. {@code form} names the packing, so two forms of one constant differ.
     */
    @Override public DeviceBuffer upload(java.util.function.Supplier<Tensor> make, Value of, String form) {
        return sharedWeight(of, "upload:" + form, make);
    }

    /** A constant uploaded once per engine in the storage type (filters as KRSC when {@code filterLayout} is NHWC). */
    @Override public DeviceBuffer weight(Value v, Layout filterLayout) {
        if (v.constantValue() == null) throw new GpuEngineException("value %" + v.name() + " must be a constant (weights are uploaded once at build time)");
        return sharedWeight(v, "weight:" + filterLayout, () -> filterLayout == Layout.NHWC ? HostTensors.toChannelsLast(v.constantValue()) : v.constantValue());
    }

    /** A device buffer made once per engine for constant {@code v} in form {@code form} (e.g. integer indices as i32), shared by every context. */
    @Override public DeviceBuffer shared(Value v, String form, java.util.function.Supplier<DeviceBuffer> make) {
        if (profileMemory != null && v.isConstant()) return counted(profileMemory.weight(v, form, make));
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

    /** Shared weights this engine reads, each counted once in {@link #weightBytes}. */
    private final java.util.Set<DeviceBuffer> sharedRead = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    private DeviceBuffer counted(DeviceBuffer shared) {
        if (sharedRead.add(shared)) weightBytes += shared.bytes();
        return shared;
    }

    /** A constant in the storage type of the layer being built (a weight two layers read at different precisions is uploaded twice). */
    private DeviceBuffer sharedWeight(Value v, String kind, java.util.function.Supplier<Tensor> tensor) {
        Map<String, DeviceBuffer> forms = weightCache.computeIfAbsent(v, k -> new java.util.HashMap<>());
        DType storage = precision().storage;
        String form = kind + ":" + storage.text();
        if (profileMemory != null && v.isConstant()) return counted(profileMemory.weight(v, form, () -> HostTensors.upload(tensor.get(), storage)));
        DeviceBuffer b = forms.get(form);
        if (b == null) {
            b = HostTensors.upload(tensor.get(), storage);
            weightBuffers.add(b);
            weightBytes += b.bytes();
            forms.put(form, b);
        }
        return b;
    }

    /** Frees the weights and kernels; execution contexts must be closed first (an unclaimed build binding is freed here). */
    @Override public synchronized void close() {
        context.bind();
        if (unclaimed != null) { unclaimed.close(); unclaimed = null; }
        for (DeviceBuffer b : weightBuffers) b.close();
        weightBuffers.clear();
        weightCache.clear();
        if (cublasLt != null) cublasLt.close();
        if (profileMemory == null) compiler.close(); // a profile engine's compiler serves every shape
    }
}
