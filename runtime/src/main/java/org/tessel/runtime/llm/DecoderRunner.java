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
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.DecoderWeights;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.passes.lora.ApplyLora;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;

/**
 * Runs a zoo decoder (seeded random weights, or trained ones from a {@link HfCheckpoint}) step by step on CPU engines, with its KV cache in a {@link PagedKvCache}.
 * One step takes rows, each a sequence and the tokens to feed it next (a whole prompt, a prefill
 * chunk or one decode token), runs them as one batch, stores each row's new keys and values in the
 * cache and returns each row's logits for its last token.
 *
 * <p>Graphs have static shapes, so a step runs the decoder graph of shape (rows, new tokens,
 * cached tokens) with short rows padded and masked: new tokens are bucketed to 1 or a power of two,
 * cached tokens up to a multiple of the cache's block size. Each shape's graph goes through the
 * standard pipeline and becomes a CPU engine once, on first use; the time spent building is kept
 * apart ({@link #buildNanos}) so latency figures can leave it out. The cache is handed to the engine
 * gathered into the contiguous {@code past_key_values.N.*} tensors the graph takes; on the GPU,
 * {@link GpuDecoderRunner} runs the paged step graphs instead, whose attention reads the blocks in place.
 *
 * <p>A runner made {@link #withAdapters with LoRA adapters} serves them all at once: its step
 * graphs go through the lora pass ({@link ApplyLora}) and each row names its adapter (null: the
 * base model), so rows of different adapters share one step.
 *
 * <p>Not thread-safe: one scheduler drives it.
 */
public final class DecoderRunner implements DecoderSteps<PagedKvCache> {
    private final String model;
    private final DecoderConfig config;
    private final long seed;
    private final DecoderWeights weights;
    private final LlmQuantization quantization;
    private final List<LoraAdapter> adapters;
    private final KvCacheFormat kv;
    private final Map<DecoderShape, ExecutionContext> engines = new HashMap<>();
    private long buildNanos;

    /** One row of a step: feed {@code tokens} to {@code seq} after the tokens already in its cache, through LoRA adapter {@code adapter} (null: none). */
    public record Row(String seq, long[] tokens, String adapter) {
        public Row {
            if (tokens.length == 0) throw new IllegalArgumentException("sequence " + seq + ": a step feeds at least one token");
        }

        public Row(String seq, long[] tokens) { this(seq, tokens, null); }

        /** The same sequence and adapter feeding other tokens. */
        public Row withTokens(long[] next) { return new Row(seq, next, adapter); }
    }

    public DecoderRunner(String model, DecoderConfig config, long seed) {
        this(model, config, seed, LlmQuantization.uncalibrated(QuantizationSpec.FP32));
    }

    /** A runner whose every step graph is quantized by {@code quantization} before the standard pipeline. */
    public DecoderRunner(String model, DecoderConfig config, long seed, LlmQuantization quantization) {
        this(model, config, seed, null, quantization, List.of(), KvCacheFormat.NATIVE);
    }

    /** A runner of trained weights ({@link HfCheckpoint}; null: drawn from {@code seed}), quantized by {@code quantization}. */
    public DecoderRunner(String model, DecoderConfig config, long seed, DecoderWeights weights, LlmQuantization quantization) {
        this(model, config, seed, weights, quantization, List.of(), KvCacheFormat.NATIVE);
    }

    private DecoderRunner(String model, DecoderConfig config, long seed, DecoderWeights weights, LlmQuantization quantization, List<LoraAdapter> adapters, KvCacheFormat kv) {
        kv.checkLayers(config.layers(), model);
        this.kv = kv;
        this.model = model;
        this.config = config;
        this.seed = seed;
        this.weights = weights;
        this.quantization = quantization;
        this.adapters = List.copyOf(adapters);
    }

    /** A runner of the same model serving these LoRA adapters at once (ids 1, 2, ... in this order); each is checked against the model now. */
    public DecoderRunner withAdapters(List<LoraAdapter> adapters) {
        DecoderRunner r = new DecoderRunner(model, config, seed, weights, quantization, adapters, kv);
        r.graph(new DecoderShape(1, 1, 0));
        return r;
    }

    /**
     * A runner of the same model (and adapters) whose KV cache is stored as {@code format} says: with FP8 its step
     * graphs round each layer's new keys and values through E4M3 at the layer's scales, and {@link #newCache} makes
     * caches of E4M3 codes, so attention reads exactly what the cache holds.
     */
    public DecoderRunner withKvCache(KvCacheFormat format) {
        return new DecoderRunner(model, config, seed, weights, quantization, adapters, format);
    }

    /** How this runner's KV cache stores keys and values. */
    public KvCacheFormat kvCache() { return kv; }

    @Override public List<LoraAdapter> adapters() { return adapters; }

    /** The id of a loaded adapter (0 for null, the base model); an unknown name is refused, naming the loaded ones. */
    @Override public int adapterId(String name) { return adapterId(name, adapters); }

    /** The id of adapter {@code name} among {@code adapters} (0 for null, the base model); an unknown name is refused, naming the loaded ones. */
    static int adapterId(String name, List<LoraAdapter> adapters) {
        if (name == null) return 0;
        for (int i = 0; i < adapters.size(); i++) if (adapters.get(i).name().equals(name)) return i + 1;
        throw new IllegalArgumentException("adapter '" + name + "' is not loaded (loaded: "
                + (adapters.isEmpty() ? "none" : String.join(", ", adapters.stream().map(LoraAdapter::name).toList())) + ")");
    }

    /** The adapter id of a step's row, an unknown adapter refused naming the row's sequence and the adapter. */
    static int rowAdapterId(Row r, List<LoraAdapter> adapters) {
        try {
            return adapterId(r.adapter(), adapters);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("sequence " + r.seq() + ": " + e.getMessage());
        }
    }

    public LlmQuantization quantization() { return quantization; }

    /** The graph of one step shape as this runner builds it (quantized when asked), before the standard pipeline. */
    public Graph graph(DecoderShape shape) {
        Graph g = Zoo.buildDecoder(model, config, shape, seed, weights, kv);
        quantization.apply(g);
        ApplyLora.apply(g, adapters, List.of(), OpRegistry.global());
        return g;
    }

    @Override public DecoderConfig config() { return config; }
    /** The trained weights this runner computes with, or null when they are drawn from the seed. */
    public DecoderWeights weights() { return weights; }
    @Override public String model() { return model; }
    @Override public long buildNanos() { return buildNanos; }
    @Override public int enginesBuilt() { return engines.size(); }

    @Override public PagedKvCache newCache(int blockSize, int blocks) {
        return new PagedKvCache(config.layers(), config.kvHeads(), config.headDim(), blockSize, blocks, kv);
    }

    @Override public List<float[][]> stepAllLogits(List<Row> rows, PagedKvCache cache) {
        if (rows.isEmpty()) throw new IllegalArgumentException("a step needs at least one row");
        if (!cache.format().equals(kv))
            throw new IllegalArgumentException("the KV cache stores " + cache.format().describe() + " and the runner's step graphs round keys and values for "
                    + kv.describe() + " (make the cache with newCache)");
        int maxNew = 0, maxPast = 0;
        for (Row r : rows) {
            int past = cache.length(r.seq());
            checkRow(r, past, config, model);
            maxNew = Math.max(maxNew, r.tokens().length);
            maxPast = Math.max(maxPast, past);
        }
        if (maxPast + maxNew > config.maxPositions()) {
            // one row's long past and another's long chunk do not fit one padded shape: two steps, results in row order
            // (each row fits alone, checked above; the rows do not read each other)
            List<float[][]> out = new ArrayList<>(stepAllLogits(rows.subList(0, rows.size() / 2), cache));
            out.addAll(stepAllLogits(rows.subList(rows.size() / 2, rows.size()), cache));
            return out;
        }
        long[] adapterIds = new long[rows.size()];
        for (int r = 0; r < rows.size(); r++) adapterIds[r] = rowAdapterId(rows.get(r), adapters);
        for (Row r : rows) cache.reserve(r.seq(), r.tokens().length);
        // buckets, shrunk where they would pass the context: maxPast + maxNew fits (checked above)
        int n = newTokenBucket(maxNew, config);
        int past = maxPast == 0 ? 0 : Math.max(maxPast, Math.min(roundUp(maxPast, cache.blockSize()), config.maxPositions() - n));
        if (past + n > config.maxPositions()) n = config.maxPositions() - past;
        DecoderShape shape = new DecoderShape(rows.size(), n, past);
        ExecutionContext ctx = engine(shape);

        int b = rows.size(), total = past + n;
        List<String> seqs = new ArrayList<>();
        Map<String, Tensor> in = stepInputs(rows, cache, config, n, past, true, seqs);
        if (!adapters.isEmpty()) in.put(ApplyLora.ADAPTER_IDS, Tensor.ofLongs(DType.I64, Shape.of(b), adapterIds));
        if (past > 0)
            for (int l = 0; l < config.layers(); l++) {
                in.put("past_key_values." + l + ".key", cache.gather(seqs, l, past, false));
                in.put("past_key_values." + l + ".value", cache.gather(seqs, l, past, true));
            }
        Map<String, Tensor> out = ctx.run(in);

        String[][] present = new String[config.layers()][];
        for (int l = 0; l < config.layers(); l++) present[l] = new String[] {"present." + l + ".key", "present." + l + ".value"};
        return appendPresent(out, present, rows, cache, config, total, past, n);
    }

    /**
     * A contiguous step's inputs for {@code rows}, each padded to {@code n} new tokens behind {@code past} cache slots:
     * input_ids, attention_mask (the row's cached tokens and its real new ones), and position_ids when {@code positions};
     * the rows' sequences are added to {@code seqs} in order.
     */
    static Map<String, Tensor> stepInputs(List<Row> rows, PagedKvCache cache, DecoderConfig config, int n, int past, boolean positions, List<String> seqs) {
        int b = rows.size(), total = past + n;
        long[] ids = new long[b * n], mask = new long[b * total], pos = new long[b * n];
        for (int r = 0; r < b; r++) {
            Row row = rows.get(r);
            int cached = cache.length(row.seq());
            seqs.add(row.seq());
            for (int j = 0; j < cached; j++) mask[r * total + j] = 1;
            for (int i = 0; i < n; i++) {
                boolean real = i < row.tokens().length;
                ids[r * n + i] = real ? row.tokens()[i] : 0;
                pos[r * n + i] = Math.min(cached + i, config.maxPositions() - 1);
                mask[r * total + past + i] = real ? 1 : 0;
            }
        }
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(b, n), ids));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(b, total), mask));
        if (positions) in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(b, n), pos));
        return in;
    }

    /**
     * After a step over {@code rows} (each padded to {@code n} new tokens behind {@code past} cached ones, {@code total}
     * positions in all): appends each row's new tokens' keys and values from the step's {@code present} outputs (per
     * layer, key and value names; [rows, kv heads, total, head size]) to {@code cache}, and returns each row's logits per
     * new token.
     */
    static List<float[][]> appendPresent(Map<String, Tensor> out, String[][] present, List<Row> rows, PagedKvCache cache, DecoderConfig config,
                                          int total, int past, int n) {
        int kvh = config.kvHeads(), hd = config.headDim(), vocab = config.vocab(), layers = config.layers();
        float[][] keys = new float[layers][], values = new float[layers][];
        List<float[]> presentKeys = new ArrayList<>(), presentValues = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            presentKeys.add(out.get(present[l][0]).floats());
            presentValues.add(out.get(present[l][1]).floats());
        }
        float[] logits = out.get("logits").floats();
        List<float[][]> perRow = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            for (int i = 0; i < row.tokens().length; i++) {
                for (int l = 0; l < layers; l++) {
                    keys[l] = new float[kvh * hd];
                    values[l] = new float[kvh * hd];
                    for (int h = 0; h < kvh; h++) {
                        int src = ((r * kvh + h) * total + past + i) * hd;
                        System.arraycopy(presentKeys.get(l), src, keys[l], h * hd, hd);
                        System.arraycopy(presentValues.get(l), src, values[l], h * hd, hd);
                    }
                }
                cache.append(row.seq(), keys, values);
            }
            float[][] rowLogits = new float[row.tokens().length][];
            for (int i = 0; i < rowLogits.length; i++) rowLogits[i] = java.util.Arrays.copyOfRange(logits, (r * n + i) * vocab, (r * n + i + 1) * vocab);
            perRow.add(rowLogits);
        }
        return perRow;
    }

    /**
     * Refuses a row whose tokens fall outside {@code model}'s vocabulary, or that with {@code past} cached tokens would pass
     * its positions, naming the sequence and the token.
     */
    static void checkRow(Row r, int past, DecoderConfig config, String model) {
        long[] t = r.tokens();
        for (int i = 0; i < t.length; i++)
            if (t[i] < 0 || t[i] >= config.vocab())
                throw new IllegalArgumentException("sequence " + r.seq() + ": token " + i + " is " + t[i] + ", outside " + model + "'s vocabulary [0, " + config.vocab() + ")");
        if (past + t.length > config.maxPositions())
            throw new IllegalArgumentException("sequence " + r.seq() + ": " + past + " cached + " + t.length + " new tokens exceed " + model
                    + "'s " + config.maxPositions() + " positions");
    }

    /**
     * The step's new-token bucket: 1 for decode, else the power of two at or above {@code maxNew}, at most the positions.
     * Every row of a step computes that many token slots (the CPU, GPU and ONNX decoders' step engines alike).
     */
    public static int newTokenBucket(int maxNew, DecoderConfig config) {
        return maxNew == 1 ? 1 : Math.min(Integer.highestOneBit(maxNew - 1) << 1, config.maxPositions());
    }

    private ExecutionContext engine(DecoderShape shape) {
        ExecutionContext ctx = engines.get(shape);
        if (ctx != null) return ctx;
        long t0 = System.nanoTime();
        Graph g = graph(shape);
        new PassManager().run(g, StandardPipelines.resolve("standard"));
        ctx = Engine.buildCpu(g).createContext();
        engines.put(shape, ctx);
        buildNanos += System.nanoTime() - t0;
        return ctx;
    }

    private static int roundUp(int x, int m) { return (x + m - 1) / m * m; }
}
