package org.tessel.runtime.llm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderWeights;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.lora.ApplyLora;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.gpu.engine.ProfileDeviceMemory;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Runs a zoo decoder step by step on GPU engines, its KV cache in a {@link GpuPagedKvCache} that never leaves the
 * device: the API of {@link DecoderRunner} (a step takes rows, each a sequence and the tokens it feeds next, and
 * returns each row's logits for its last token), the attention of each layer one {@code tessel.PagedAttention} of
 * the paged step graph ({@link Zoo#buildPagedDecoder}), which the plan runs with {@code tessel.attention.paged}.
 *
 * <p>Engines per step-shape bucket, as {@link DecoderRunner} buckets: the rows of the step, new tokens 1 (decode) or
 * the next power of two (a prefill chunk), and block tables of a power-of-two number of blocks reaching every row's
 * cached + new tokens. Each bucket's graph goes through the {@link StepPlanner} (the joint search, or a test's forced
 * plan) and {@link GpuEngine#buildSharing} builds exactly that plan, once, on first use ({@link #buildNanos} keeps the time
 * apart), its weights and kernels shared with the other buckets' engines (a weight form is uploaded once for all). Its execution context binds every layer's K and V pool input and output to the cache's device pools
 * ({@link GpuEngine#createExecutionContext(Map)}), so keys and values are written in place and no KV crosses the bus:
 * a step uploads token ids, positions, block tables, slots and context lengths and downloads the logits. A decode
 * bucket's context is captured as a CUDA graph after its first step when {@code cudaGraphs} is set and replayed after.
 *
 * <p>A step with a prompt chunk runs packed ({@link #packSteps}, on by default): every row's new tokens, decode tokens
 * and chunks alike, packed into one run of tokens with no padding between them ({@link PagedDecoderShape#packed()}), its
 * engine's bucket the rows (a power of two), the tokens (the next of 2, 3, 4, 6, 8, 12, 16, ...: at most a third padding)
 * and the block tables; only each row's last token's logits are computed. So the scheduler's decode rows and prefill
 * chunks are one engine run, not two, and no chunk is padded to another's length.
 *
 * <p>A runner made {@link #withAdapters with LoRA adapters} serves them all at once, as {@link DecoderRunner} does: its
 * step graphs go through the lora pass and each step binds its rows' adapter ids, so rows of different adapters share
 * one step; how each {@code tessel.LoraDelta} runs is the plan's decision.
 *
 * <p>Not thread-safe: one scheduler drives it.
 */
public final class GpuDecoderRunner implements DecoderSteps<GpuPagedKvCache>, AutoCloseable {
    /** How a step graph becomes the plan an engine is built from: the search's decisions, applied to its prepared graph. */
    @FunctionalInterface
    public interface StepPlanner {
        PlanApplier.Applied plan(Graph stepGraph);
    }

    private final String model;
    private final DecoderConfig config;
    private final long seed;
    private final DecoderWeights weights;
    private final CudaContext context;
    private final GpuEngine.Precision precision;
    private final StepPlanner planner;
    private final boolean cudaGraphs;
    private final KvCacheFormat kv;
    private final List<LoraAdapter> adapters;
    private final LlmQuantization quantization;
    private final KernelCompiler compiler;
    /** The buckets' engines' weights and kernels: each weight form uploaded once, each kernel compiled once, for every bucket. */
    private final ProfileDeviceMemory shared;
    private final Map<PagedDecoderShape, Bucket> buckets = new HashMap<>();
    /** Whether steps with a prompt chunk run packed ({@link #packSteps}). */
    private boolean packed = true;
    private long buildNanos;
    private int replays;
    /** Host time of the steps so far: preparing inputs, the engine's run by phase, splitting the logits. */
    private long steps, prepNanos, postNanos;
    private GpuExecutionContext.RunPhases runPhases = new GpuExecutionContext.RunPhases(0, 0, 0, 0, 0);
    /** The part of {@link #runPhases} that steps of one new token a row (decode) ran; the rest ran prefill chunks. */
    private GpuExecutionContext.RunPhases decodePhases = new GpuExecutionContext.RunPhases(0, 0, 0, 0, 0);

    /**
     * Where the steps' host time went, summed: the inputs prepared (block tables, slots, positions), the engine's
     * {@link GpuExecutionContext#run} by phase (its wait holds the device's work), the logits split per row; {@code decode}
     * is the part of {@code run} that decode steps (one new token a row) took, the rest being prefill chunks'. Steps
     * {@link #decodeGreedy} enqueues ahead of the host are counted in {@code steps} and not in {@code run}.
     */
    public record StepPhases(long steps, long prepNanos, GpuExecutionContext.RunPhases run, long postNanos, GpuExecutionContext.RunPhases decode) {
        /** What happened between {@code earlier} and this. */
        public StepPhases minus(StepPhases earlier) {
            return new StepPhases(steps - earlier.steps, prepNanos - earlier.prepNanos, run.minus(earlier.run), postNanos - earlier.postNanos, decode.minus(earlier.decode));
        }
        /** The prefill chunks' part of {@code run}. */
        public GpuExecutionContext.RunPhases prefill() { return run.minus(decode); }
    }

    /** The steps' host time so far, by phase. */
    public StepPhases stepPhases() { return new StepPhases(steps, prepNanos, runPhases, postNanos, decodePhases); }

    /** One bucket's engine and its context, bound to one cache's pools. */
    private static final class Bucket {
        final GpuEngine engine;
        GpuExecutionContext ctx;
        GpuPagedKvCache boundTo;
        Bucket(GpuEngine engine) { this.engine = engine; }
    }

    /**
     * A runner whose engines compute at {@code precision} (FP16 or BF16: the KV cache's storage, the I/O precision
     * every planned engine must have) on {@code context}.
     */
    public GpuDecoderRunner(String model, DecoderConfig config, long seed, CudaContext context, GpuEngine.Precision precision, StepPlanner planner, boolean cudaGraphs) {
        this(model, config, seed, context, precision, planner, cudaGraphs, KvCacheFormat.NATIVE);
    }

    /** As the runner above, its KV cache stored as {@code kv} says (FP8: the step graphs' pools are f8e4m3 at its per-layer scales). */
    public GpuDecoderRunner(String model, DecoderConfig config, long seed, CudaContext context, GpuEngine.Precision precision, StepPlanner planner, boolean cudaGraphs,
                            KvCacheFormat kv) {
        this(model, config, seed, null, context, precision, planner, cudaGraphs, List.of(), kv, FP_WEIGHTS);
    }

    /** As the constructor above, computing with trained weights ({@link HfCheckpoint}; null: drawn from {@code seed}). */
    public GpuDecoderRunner(String model, DecoderConfig config, long seed, DecoderWeights weights, CudaContext context, GpuEngine.Precision precision, StepPlanner planner,
                            boolean cudaGraphs, KvCacheFormat kv) {
        this(model, config, seed, weights, context, precision, planner, cudaGraphs, List.of(), kv, FP_WEIGHTS);
    }

    /** Weights as the model has them (the engines' precision): no quantization recipe. */
    private static final LlmQuantization FP_WEIGHTS = LlmQuantization.uncalibrated(QuantizationSpec.FP32);

    private GpuDecoderRunner(String model, DecoderConfig config, long seed, DecoderWeights weights, CudaContext context, GpuEngine.Precision precision, StepPlanner planner,
                             boolean cudaGraphs, List<LoraAdapter> adapters, KvCacheFormat kv, LlmQuantization quantization) {
        kv.checkLayers(config.layers(), model);
        this.kv = kv;
        if (precision != GpuEngine.Precision.FP16 && precision != GpuEngine.Precision.BF16)
            throw new IllegalArgumentException("the GPU decoder runs at FP16 or BF16 (its paged KV cache holds f16 or bf16), not " + precision);
        this.model = model;
        this.config = config;
        this.seed = seed;
        this.weights = weights;
        this.context = context;
        this.precision = precision;
        this.planner = planner;
        this.cudaGraphs = cudaGraphs;
        this.adapters = List.copyOf(adapters);
        this.quantization = quantization;
        context.bind();
        this.compiler = new KernelCompiler(context);
        this.shared = new ProfileDeviceMemory(context, 0, null);
    }

    /**
     * A runner of the same model, precision and planner serving these LoRA adapters at once (ids 1, 2, ... in this order),
     * as {@link DecoderRunner#withAdapters} does: its step graphs go through the lora pass, each adapted layer's
     * {@code tessel.LoraDelta} runs as the plan says (the catalogue's GPU tactic is {@code tessel.lora.bgmv}), and each
     * step binds its rows' adapter ids. Each adapter is checked against the model now (a layer it names that the model
     * lacks, or A/B that do not fit the layer, is refused naming the adapter and the layer). The new runner has engines
     * and a kernel compiler of its own: close it as well as this one.
     */
    public GpuDecoderRunner withAdapters(List<LoraAdapter> adapters) {
        GpuDecoderRunner r = new GpuDecoderRunner(model, config, seed, weights, context, precision, planner, cudaGraphs, adapters, kv, quantization);
        try {
            r.graph(new PagedDecoderShape(1, 1, 1, 1, 1));
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
        return r;
    }

    /**
     * A runner of the same model, precision, planner and adapters whose step graphs are quantized by {@code quantization}
     * before planning, as {@link DecoderRunner}'s are (weight-only INT8/INT4 codes become {@code tessel.WeightOnlyMatMul}
     * nodes, SmoothQuant's {@code tessel.W8A8MatMul}); how each runs (the decode GEMV, the tiled GEMM, W8A8) is the plan's
     * decision. The activations stay at this runner's precision. It has engines and a kernel compiler of its own: close it
     * as well as this one.
     */
    public GpuDecoderRunner withQuantization(LlmQuantization quantization) {
        return new GpuDecoderRunner(model, config, seed, weights, context, precision, planner, cudaGraphs, adapters, kv, quantization);
    }

    /** How the step graphs' linear layers are quantized (FP32 spec: not at all). */
    public LlmQuantization quantization() { return quantization; }

    /**
     * Whether a step with a prompt chunk (a row of more than one new token) runs packed (true, the default: one engine
     * run for all its rows, see the class comment) or padded (each row padded to the longest row's bucket, as
     * {@link DecoderRunner} runs it; the scheduler then runs decode rows and chunks as two calls). Steps of one token a
     * row run padded either way, as the decode engines they are, and so does every step of a runner serving LoRA
     * adapters. Returns this runner.
     */
    public GpuDecoderRunner packSteps(boolean on) {
        this.packed = on;
        return this;
    }

    @Override public boolean packsSteps() { return packed && adapters.isEmpty(); }

    /**
     * A packed step's token bucket for {@code tokens} tokens of {@code rows} rows: the next of 2, 3, 4, 6, 8, 12, 16, 24, ...
     * at or above the tokens (at most a third of it padding) and the row bucket (a power of two: a spare row's query
     * tile is empty).
     */
    public static int packedTokenBucket(int tokens, int rows) {
        return Math.max(packedTokenBucket(tokens), rowBucket(rows));
    }

    /** A packed step's row bucket: the power of two at or above {@code rows}. */
    static int rowBucket(int rows) { return rows == 1 ? 1 : Integer.highestOneBit(rows - 1) << 1; }

    /** The next of 2, 3, 4, 6, 8, 12, 16, 24, ... at or above {@code tokens} (a packed step has a row of two tokens or more). */
    static int packedTokenBucket(int tokens) {
        int b = 2;
        while (b < tokens) {
            int mid = b + b / 2;
            if (mid >= tokens) return mid;
            b <<= 1;
        }
        return b;
    }

    @Override public List<LoraAdapter> adapters() { return adapters; }

    @Override public DecoderConfig config() { return config; }
    @Override public String model() { return model; }

    /** The id of a loaded adapter (0 for null, the base model); an unknown name is refused, naming the loaded ones. */
    @Override public int adapterId(String adapter) { return DecoderRunner.adapterId(adapter, adapters); }

    /** The trained weights this runner computes with, or null when they are drawn from the seed. */
    public DecoderWeights weights() { return weights; }

    public GpuEngine.Precision precision() { return precision; }
    /** How the runner's KV cache stores keys and values. */
    public KvCacheFormat kvCache() { return kv; }
    /** Nanoseconds spent planning and building engines, binding them to caches and capturing their steps as CUDA graphs so far (once per bucket). */
    @Override public long buildNanos() { return buildNanos; }
    /** Engines built so far (one per step-shape bucket). */
    @Override public int enginesBuilt() { return buckets.size(); }
    /** Steps that replayed a captured CUDA graph. */
    public int graphReplays() { return replays; }

    /**
     * The execution context of a step shape's engine as bound to a KV cache (its captured graph replays the inputs it
     * last ran: that step's block tables and context lengths), or null when none is bound: for timing a step at the
     * context a decode reached, where attention reads real keys and values.
     */
    public GpuExecutionContext boundContext(PagedDecoderShape shape) {
        Bucket b = buckets.get(shape);
        return b == null ? null : b.ctx;
    }

    /** The engines built so far, by bucket (for reports: plans, layers, weight bytes). */
    public Map<PagedDecoderShape, GpuEngine> engines() {
        Map<PagedDecoderShape, GpuEngine> m = new LinkedHashMap<>();
        buckets.forEach((k, v) -> m.put(k, v.engine));
        return m;
    }

    /** The paged step graph of one bucket, before planning, its pools stored as the runner's KV format says, quantized as the runner's recipe says, with the adapters' terms when the runner serves any. */
    public Graph graph(PagedDecoderShape shape) {
        Graph g = Zoo.buildPagedDecoder(model, config, shape, seed, weights, kv);
        quantization.apply(g);
        ApplyLora.apply(g, adapters, List.of(), OpRegistry.global());
        return g;
    }

    /** A KV cache on the device for this model, in the runner's storage type (or FP8 codes), with {@code blocks} blocks of {@code blockSize} tokens. */
    @Override public GpuPagedKvCache newCache(int blockSize, int blocks) {
        return new GpuPagedKvCache(compiler, precision.storage(), kv, config.layers(), config.heads(), config.kvHeads(), config.headDim(), blockSize, blocks);
    }

    /** A step's engine context (bound to the cache, its blocks reserved) and inputs, ready to run. */
    private record Prepared(GpuExecutionContext ctx, Map<String, Tensor> inputs, int rows, int tokens) {}

    /**
     * The step-shape bucket of {@code rows} on {@code cache} (their new-token bucket, the block-table bucket their lengths
     * reach), checking the cache and the rows first; nothing is reserved or bound.
     */
    private PagedDecoderShape shapeOf(List<DecoderRunner.Row> rows, GpuPagedKvCache cache) {
        return shapeOf(rows, cache, false);
    }

    /** As above, the packed bucket when {@code packed}. */
    private PagedDecoderShape shapeOf(List<DecoderRunner.Row> rows, GpuPagedKvCache cache, boolean packed) {
        if (rows.isEmpty()) throw new IllegalArgumentException("a step needs at least one row");
        if (cache.layers() != config.layers() || cache.config().kvHeads() != config.kvHeads() || cache.config().headDim() != config.headDim()
                || cache.config().heads() != config.heads() || cache.config().dtype() != precision.storage() || !cache.format().equals(kv))
            throw new IllegalArgumentException("the KV cache (" + cache.layers() + " layers, " + cache.config() + ", " + cache.format() + ") is not one of " + model + " at " + precision
                    + " with a " + kv + " KV cache"
                    + " (make it with newCache)");
        int maxNew = 0, maxTotal = 0, bs = cache.blockSize();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (DecoderRunner.Row r : rows) {
            if (!seen.add(r.seq())) throw new IllegalArgumentException("a step lists sequence " + r.seq() + " twice");
            DecoderRunner.rowAdapterId(r, adapters);
            int past = cache.length(r.seq());
            DecoderRunner.checkRow(r, past, config, model);
            maxNew = Math.max(maxNew, r.tokens().length);
            maxTotal = Math.max(maxTotal, past + r.tokens().length);
        }
        int reach = (config.maxPositions() + bs - 1) / bs, need = (maxTotal + bs - 1) / bs;
        int maxBlocks = Math.max(Math.min(need <= 1 ? 1 : Integer.highestOneBit(need - 1) << 1, reach), need);
        if (packed) {
            int tokens = 0;
            for (DecoderRunner.Row r : rows) tokens += r.tokens().length;
            return new PagedDecoderShape(rowBucket(rows.size()), packedTokenBucket(tokens, rows.size()), maxBlocks, bs, cache.numBlocks(), true);
        }
        return new PagedDecoderShape(rows.size(), DecoderRunner.newTokenBucket(maxNew, config), maxBlocks, bs, cache.numBlocks());
    }

    /**
     * Whether these rows run as a packed step: packing is on, a row feeds a prompt chunk and the runner serves no LoRA
     * adapters (the lora pass's adapter ids are one a row of [rows, tokens] activations, not one a packed token).
     */
    private boolean packs(List<DecoderRunner.Row> rows) {
        if (!packsSteps()) return false;
        for (DecoderRunner.Row r : rows) if (r.tokens().length > 1) return true;
        return false;
    }

    /** A padded step's inputs ({@link #prepare(List, GpuPagedKvCache, boolean)}). */
    private Prepared prepare(List<DecoderRunner.Row> rows, GpuPagedKvCache cache) { return prepare(rows, cache, false); }

    /**
     * Checks the rows, reserves their tokens' slots in the cache and builds the step's inputs: token ids, positions and
     * slots, [rows, new tokens] with each row padded to the bucket (padded) or [1, tokens] with each row's tokens after
     * the last row's and the padding at the end ({@code packed}); padding has slot -1. Block tables and context lengths
     * per row (a packed bucket's spare rows: no tokens, empty tables), and for a packed step the query starts and each
     * row's last token.
     */
    private Prepared prepare(List<DecoderRunner.Row> rows, GpuPagedKvCache cache, boolean packed) {
        PagedDecoderShape shape = shapeOf(rows, cache, packed);
        int n = shape.newTokens(), bs = cache.blockSize(), b = shape.batch(), mb = shape.maxBlocks();
        long[] adapterIds = new long[b];
        for (int i = 0; i < rows.size(); i++) adapterIds[i] = DecoderRunner.rowAdapterId(rows.get(i), adapters);
        for (DecoderRunner.Row r : rows) cache.reserve(r.seq(), r.tokens().length);
        Bucket bucket = bucket(shape);
        GpuExecutionContext ctx = bind(bucket, cache);

        int tokens = packed ? n : b * n;
        long[] ids = new long[tokens], positions = new long[tokens], slots = new long[tokens], tables = new long[b * mb], lens = new long[b];
        long[] starts = new long[b + 1], last = new long[b];
        java.util.Arrays.fill(slots, -1);
        int t = 0;
        for (int r = 0; r < rows.size(); r++) {
            DecoderRunner.Row row = rows.get(r);
            int cached = cache.length(row.seq());
            List<Integer> table = cache.blockTable(row.seq());
            for (int j = 0; j < table.size(); j++) tables[r * mb + j] = table.get(j);
            lens[r] = cached + row.tokens().length;
            if (!packed) t = r * n;
            starts[r] = t;
            for (int i = 0; i < row.tokens().length; i++, t++) {
                int p = cached + i;
                ids[t] = row.tokens()[i];
                positions[t] = p;
                slots[t] = (long) table.get(p / bs) * bs + p % bs;
            }
            last[r] = t - 1;
        }
        for (int r = rows.size(); r <= b; r++) starts[r] = t;
        Shape tokenShape = packed ? Shape.of(1, n) : Shape.of(b, n);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, tokenShape, ids));
        in.put("position_ids", Tensor.ofLongs(DType.I64, tokenShape, positions));
        in.put("block_tables", Tensor.ofLongs(DType.I64, Shape.of(b, mb), tables));
        in.put("slots", Tensor.ofLongs(DType.I64, tokenShape, slots));
        in.put("context_lens", Tensor.ofLongs(DType.I64, Shape.of(b), lens));
        if (packed) {
            in.put("query_starts", Tensor.ofLongs(DType.I64, Shape.of(b + 1), starts));
            in.put("last_tokens", Tensor.ofLongs(DType.I64, Shape.of(b), last));
        }
        if (!adapters.isEmpty()) in.put(ApplyLora.ADAPTER_IDS, Tensor.ofLongs(DType.I64, Shape.of(b), adapterIds));
        return new Prepared(ctx, in, rows.size(), n);
    }

    @Override public List<float[][]> stepAllLogits(List<DecoderRunner.Row> rows, GpuPagedKvCache cache) {
        long t0 = System.nanoTime();
        Prepared p = prepare(rows, cache);
        int n = p.tokens(), vocab = config.vocab();
        return run(rows, cache, p, t0, ctx -> ctx.run(p.inputs()).get("logits").floats(), logits -> {
            List<float[][]> perRow = new ArrayList<>();
            for (int r = 0; r < p.rows(); r++) {
                float[][] rowLogits = new float[rows.get(r).tokens().length][];
                for (int i = 0; i < rowLogits.length; i++)
                    rowLogits[i] = logits.length == vocab ? logits : java.util.Arrays.copyOfRange(logits, (r * n + i) * vocab, (r * n + i + 1) * vocab); // one row, one token: as run gave it
                perRow.add(rowLogits);
            }
            return perRow;
        });
    }

    /**
     * Each row's logits at its last new token, the only ones downloaded ({@link GpuExecutionContext#runRows}): a prefill
     * chunk's other positions' logits stay on the device. On an H100, llama-1b's serve-bench spent most of its time in
     * prefill steps that brought back and split every position's logits (32 rows of 128 tokens: 262 MB of f16).
     */
    @Override public List<float[]> step(List<DecoderRunner.Row> rows, GpuPagedKvCache cache) {
        long t0 = System.nanoTime();
        if (packs(rows)) {
            Prepared p = prepare(rows, cache, true);
            int[] each = new int[rows.size()];
            for (int r = 0; r < each.length; r++) each[r] = r; // the logits are [1, rows, vocab]: each row's last token's
            return run(rows, cache, p, t0, ctx -> ctx.runRows(p.inputs(), "logits", each), java.util.Arrays::asList);
        }
        Prepared p = prepare(rows, cache);
        int n = p.tokens();
        int[] last = new int[rows.size()];
        for (int r = 0; r < last.length; r++) last[r] = r * n + rows.get(r).tokens().length - 1;
        return run(rows, cache, p, t0, ctx -> ctx.runRows(p.inputs(), "logits", last), java.util.Arrays::asList);
    }

    /**
     * A step whose next tokens are picked greedily on the device ({@link GpuExecutionContext#runArgmax}: the arg-max of
     * each row's last logits, the lowest id on a tie, as {@link Sampler#greedy}): one int a row comes back, not the
     * vocabulary's logits. A step of one new token a row qualifies, and a packed step (its logits are each row's last
     * token's); a padded step with a prompt chunk (its rows' last tokens' logits among the others) takes the logits path.
     */
    @Override public long[] stepGreedy(List<DecoderRunner.Row> rows, GpuPagedKvCache cache) {
        if (packs(rows)) {
            long t0 = System.nanoTime();
            return greedyStep(rows, cache, prepare(rows, cache, true), t0);
        }
        if (rows.stream().anyMatch(r -> r.tokens().length != 1)) return DecoderSteps.super.stepGreedy(rows, cache);
        long t0 = System.nanoTime();
        Prepared p = prepare(rows, cache);
        if (p.tokens() != 1) throw new IllegalStateException("a step of one new token a row took a bucket of " + p.tokens());
        return greedyStep(rows, cache, p, t0);
    }

    /** Runs a prepared one-token step whose tokens the device picks and downloads (see {@link #stepGreedy}). */
    private long[] greedyStep(List<DecoderRunner.Row> rows, GpuPagedKvCache cache, Prepared p, long t0) {
        return run(rows, cache, p, t0, ctx -> ctx.runArgmax(p.inputs(), "logits"), best -> {
            long[] next = new long[rows.size()];
            for (int r = 0; r < next.length; r++) next[r] = best[r];
            return next;
        });
    }

    /**
     * Greedy decoding run ahead of the host: each step's inputs are staged and its CUDA graph launched without waiting for
     * the step before, whose greedy tokens are picked on the device and written straight into this step's token ids
     * ({@link GpuExecutionContext#enqueueGreedyStep}); the host reads the tokens from a ring as they land, steps behind.
     * So the device runs step after step with no gap for the host's round trip (download a token, stage the next step,
     * launch). The tokens are the same as {@link #stepGreedy}'s one at a time. A step whose context differs from the one
     * before (the block tables outgrew the bucket) or whose graph is not captured yet runs as {@link #stepGreedy}, after
     * the steps before it are drained.
     */
    @Override public long[][] decodeGreedy(List<DecoderRunner.Row> rows, int steps, GpuPagedKvCache cache) {
        long[][] out = new long[rows.size()][steps];
        if (steps == 0) return out;
        if (!cudaGraphs || rows.stream().anyMatch(r -> r.tokens().length != 1)) return DecoderSteps.super.decodeGreedy(rows, steps, cache);
        List<DecoderRunner.Row> cur = rows;
        GpuExecutionContext ahead = null; // the context of the steps enqueued and not yet read back
        int read = 0;                     // steps whose tokens are in out
        for (int k = 0; k < steps; k++) {
            long t0 = System.nanoTime();
            if (ahead != null) {
                Bucket next = buckets.get(shapeOf(cur, cache));
                if (next == null || next.ctx != ahead || next.boundTo != cache) {
                    // drain before the next context is bound: it cannot read this one's logits in stream order, and the
                    // buckets' contexts share one arena (StepActivations), which binding it clears
                    ahead.enqueueGreedyTail("logits", k - 1);
                    read = drainTo(ahead, out, read, k);
                    cur = fed(cur, out, k - 1);
                    ahead = null;
                }
            }
            Prepared p = prepare(cur, cache);
            GpuExecutionContext ctx = p.ctx();
            long t1 = System.nanoTime();
            if (!ctx.isCaptured()) { // the first step of a context runs, and captures its graph, one at a time
                if (ahead != null) throw new IllegalStateException("a captured context went uncaptured");
                long[] next = greedyStep(cur, cache, p, t0);
                for (int r = 0; r < next.length; r++) out[r][k] = next[r];
                read = k + 1;
                cur = fed(cur, out, k);
                continue;
            }
            ctx.enqueueGreedyStep(p.inputs(), "logits", ahead == null ? null : "input_ids", ahead == null ? -1 : k - 1);
            replays++;
            for (DecoderRunner.Row r : cur) cache.allocator().advance(r.seq(), 1);
            this.steps++;
            prepNanos += t1 - t0;
            ahead = ctx;
            // keep the ring from lapping: read the slots the device has certainly filled by now, steps behind
            if (k - read >= GpuExecutionContext.TOKEN_SLOTS / 2) read = drainTo(ctx, out, read, k - GpuExecutionContext.TOKEN_SLOTS / 4);
            // the next step feeds placeholders the device overwrites (the host does not know the token yet)
            List<DecoderRunner.Row> placeholder = new ArrayList<>();
            for (DecoderRunner.Row r : cur) placeholder.add(r.withTokens(new long[] {0}));
            cur = placeholder;
        }
        if (ahead != null) {
            ahead.enqueueGreedyTail("logits", steps - 1);
            drainTo(ahead, out, read, steps);
        }
        return out;
    }

    /** Reads the tokens of steps [from, to) from the context's ring into out (waiting for them); returns the steps read. */
    private static int drainTo(GpuExecutionContext ctx, long[][] out, int from, int to) {
        for (int k = from; k < to; k++) {
            int[] t = ctx.greedyTokens(k);
            for (int r = 0; r < out.length; r++) out[r][k] = t[r];
        }
        return Math.max(from, to);
    }

    /** The rows feeding step k's tokens from out. */
    private static List<DecoderRunner.Row> fed(List<DecoderRunner.Row> rows, long[][] out, int k) {
        List<DecoderRunner.Row> next = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) next.add(rows.get(r).withTokens(new long[] {out[r][k]}));
        return next;
    }

    /**
     * Runs a prepared step ({@code run} on its bound context) and what the caller makes of its result ({@code post}):
     * counts a replay, keeps the context's phases, captures the step's graph after its context's first run (later steps
     * of its shape replay it, their inputs staged into the same buffers: a prefill chunk's too, its some 200 launches
     * replayed at once; on an H100, llama-1b's serve-bench served as many tokens a second with it as without), advances
     * the rows in the cache, and times the phases from {@code t0}, when the step began. The capture, once per bucket as
     * the engine's build and its binding to the cache are, counts in {@link #buildNanos}, which a serving clock leaves
     * out: a serve-bench pass binds each bucket it meets to its own cache, and so captures it anew, once (in-flight
     * batching meets more buckets than static batching: more row counts).
     */
    private <T, R> R run(List<DecoderRunner.Row> rows, GpuPagedKvCache cache, Prepared p, long t0,
                         java.util.function.Function<GpuExecutionContext, T> run, java.util.function.Function<T, R> post) {
        GpuExecutionContext ctx = p.ctx();
        if (ctx.isCaptured()) replays++;
        long t1 = System.nanoTime();
        GpuExecutionContext.RunPhases before = ctx.runPhases();
        T result = run.apply(ctx);
        GpuExecutionContext.RunPhases ran = ctx.runPhases().minus(before);
        runPhases = runPhases.plus(ran);
        if (p.tokens() == 1) decodePhases = decodePhases.plus(ran);
        long t2 = System.nanoTime();
        long captured = 0;
        if (cudaGraphs && !ctx.isCaptured()) { // once per bucket and cache: kept with the build time, which serving clocks leave out
            ctx.captureGraph();
            captured = System.nanoTime() - t2;
            buildNanos += captured;
        }
        for (DecoderRunner.Row r : rows) cache.allocator().advance(r.seq(), r.tokens().length);
        R out = post.apply(result);
        steps++;
        prepNanos += t1 - t0;
        postNanos += System.nanoTime() - t2 - captured;
        return out;
    }

    private Bucket bucket(PagedDecoderShape shape) {
        Bucket b = buckets.get(shape);
        if (b != null) return b;
        long t0 = System.nanoTime();
        b = new Bucket(buildStep(planner, graph(shape), precision, context, model + "'s step " + shape, shared));
        buckets.put(shape, b);
        buildNanos += System.nanoTime() - t0;
        return b;
    }

    /**
     * The engine of one step graph ({@code step} names it in messages): {@code planner}'s plan, built as it is at
     * {@code precision}; a plan whose layers mostly run at another precision is refused (the engine's inputs and outputs,
     * and this runner's KV cache, are stored at {@code precision}). {@link OnnxDecoder}'s GPU steps are built here too.
     */
    static GpuEngine buildStep(StepPlanner planner, Graph stepGraph, GpuEngine.Precision precision, CudaContext context, String step) {
        return buildStep(planner, stepGraph, precision, context, step, null);
    }

    /** As above, its weights and kernels from {@code shared} (null: its own), where the runner's other buckets put theirs. */
    static GpuEngine buildStep(StepPlanner planner, Graph stepGraph, GpuEngine.Precision precision, CudaContext context, String step, ProfileDeviceMemory shared) {
        PlanApplier.Applied planned = planner.plan(stepGraph);
        GpuEngine.Precision io = GpuEngine.precisionFor(planned.plan(), planned.graph());
        if (io != precision)
            throw new GpuEngineException("the plan for " + step + " runs most of its layers at " + io + ", and its engine is built at " + precision
                    + " (inputs, outputs and a device KV cache in " + precision.storage().text() + "): plan the step at " + precision);
        context.bind();
        return shared == null ? GpuEngine.build(planned.graph(), planned.plan(), precision, context, GpuEngine.Options.FIXED, 1)
                : GpuEngine.buildSharing(planned.graph(), planned.plan(), precision, context, shared);
    }

    /** The bucket's context bound to this cache's pools (made, or remade for another cache, here). */
    private GpuExecutionContext bind(Bucket b, GpuPagedKvCache cache) {
        if (b.ctx != null && b.boundTo == cache) return b.ctx;
        long t0 = System.nanoTime();
        if (b.ctx != null) b.ctx.close();
        Map<String, GpuEngine.ExternalBuffer> pools = new LinkedHashMap<>();
        var c = cache.config();
        Shape poolShape = Shape.of(c.numBlocks(), c.kvHeads(), c.blockSize(), c.headDim());
        for (int l = 0; l < config.layers(); l++) {
            pools.put("kv_pool." + l + ".key", new GpuEngine.ExternalBuffer(cache.keys(l), c.kvDtype(), poolShape));
            pools.put("kv_pool." + l + ".value", new GpuEngine.ExternalBuffer(cache.values(l), c.kvDtype(), poolShape));
            pools.put("present_pool." + l + ".key", new GpuEngine.ExternalBuffer(cache.keys(l), c.kvDtype(), poolShape));
            pools.put("present_pool." + l + ".value", new GpuEngine.ExternalBuffer(cache.values(l), c.kvDtype(), poolShape));
        }
        // the buckets' contexts share one arena and workspace (steps run one after another): nothing of another
        // bucket's may be in flight while this one's layers bind and its arena is cleared
        context.synchronize();
        b.ctx = b.engine.createExecutionContext(pools, activations);
        b.boundTo = cache;
        buildNanos += System.nanoTime() - t0;
        return b.ctx;
    }

    /**
     * The activation arena and workspace every bucket's context binds (GpuEngine.SharedActivations): a bucket whose plan
     * needs more than the current buffer gets a new one of at least twice its size, and the old stays for the contexts
     * bound to it, so the runner holds under twice the largest bucket's activations however many buckets it builds.
     */
    private static final class StepActivations implements GpuEngine.SharedActivations {
        private final List<DeviceBuffer> buffers = new ArrayList<>();
        private DeviceBuffer arena, workspace;

        @Override public DeviceBuffer arena(long bytes) {
            if (arena == null || arena.bytes() < bytes) arena = grow(arena, bytes);
            return arena;
        }

        @Override public DeviceBuffer workspace(long bytes) {
            if (workspace == null || workspace.bytes() < bytes) workspace = grow(workspace, bytes);
            return workspace;
        }

        private DeviceBuffer grow(DeviceBuffer old, long bytes) {
            DeviceBuffer b = DeviceBuffer.allocate(Math.max(bytes, old == null ? 0 : 2 * old.bytes()));
            buffers.add(b);
            return b;
        }

        void close() {
            for (DeviceBuffer b : buffers) b.close();
            buffers.clear();
            arena = workspace = null;
        }
    }

    private final StepActivations activations = new StepActivations();

    /** Frees every engine and context (the caches are the caller's). */
    @Override public void close() {
        for (Bucket b : buckets.values()) {
            if (b.ctx != null) b.ctx.close();
            b.engine.close();
        }
        buckets.clear();
        activations.close();
        shared.close();
        compiler.close();
    }

    /** The weights and kernels the buckets' engines share: uploads, reuses and device bytes. */
    public ProfileDeviceMemory sharedMemory() { return shared; }
}
