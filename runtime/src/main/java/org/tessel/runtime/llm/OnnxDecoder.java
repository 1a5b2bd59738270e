package org.tessel.runtime.llm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Value;
import org.tessel.ir.io.Json;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;

/**
 * Runs a decoder exported to ONNX with its KV cache as inputs and outputs (transformers' / optimum's
 * "decoder with past": {@code input_ids} [batch, seq], {@code attention_mask} [batch, past + seq], {@code position_ids}
 * [batch, seq], {@code past_key_values.N.key|value} [batch, kv_heads, past, head_dim] in; {@code logits}
 * [batch, seq, vocab] and {@code present.N.key|value} [batch, kv_heads, past + seq, head_dim] out) step by step on CPU
 * engines, its KV cache in a {@link PagedKvCache} as {@link DecoderRunner}'s.
 *
 * <p>Bounded engine builds: the importer gives every symbolic dimension a size (and folds the exporter's shape
 * arithmetic at it), so each (rows, new tokens, past) is its own import and engine. The past input is therefore not a
 * sequence's length but a bucket: the power of two at or above the longest cached sequence of the step (at least
 * {@link #MIN_PAST}), each row's cached tokens at its first slots and zeros after them, hidden by {@code attention_mask};
 * the new tokens follow at slots past.. of {@code attention_mask}, and {@code position_ids} carry their true positions.
 * A model without a {@code position_ids} input numbers new tokens from its past inputs' length, so there the past goes in
 * at its exact length, row by row: one engine per step shape, the last {@link #EXACT_ENGINES} kept. The new tokens'
 * keys and values are read from {@code present} at those slots and appended to the paged cache. New tokens are bucketed
 * as {@link DecoderRunner}'s (1, or a power of two), so a generation of L tokens builds about log2(L) decode engines and
 * one prefill engine; rows of different lengths share a step (each masked on its own), so {@link BatchScheduler}
 * batches them, and a model exported with batch fixed at 1 runs its rows one by one.
 *
 * <p>The file's initializers are decoded once, when it is read, and bound by reference into every import (as graph
 * inputs given constant values), so imports do not decode the weights again.
 *
 * <p>{@link #onGpu} gives a decoder of the same file whose step engines are GPU engines: each step shape's imported
 * graph goes through a {@link GpuDecoderRunner.StepPlanner} (the joint search, as {@link GpuDecoderRunner} plans its
 * steps) and {@link GpuEngine#build} builds that plan, at FP16, BF16 or FP32. Only the engines move: the KV cache stays
 * the host {@link PagedKvCache} and the bucketing above stays as it is, so every step uploads its inputs, the whole
 * padded past of every layer included, and downloads the logits and the whole present of every layer, of which it keeps
 * the new tokens' slots. That round trip of the KV cache is a cost the zoo decoders' device-resident paged cache
 * ({@link GpuPagedKvCache}, written in place by {@code tessel.attention.paged}) does not pay; this is not that path.
 * Decode engines (one new token) are captured as CUDA graphs after their first step when asked, and replayed after
 * (the inputs are copied into the same device buffers each step).
 *
 * <p>Not thread-safe: one scheduler drives it.
 */
public final class OnnxDecoder implements DecoderSteps<PagedKvCache>, AutoCloseable {
    /** The smallest past bucket: shorter caches are padded to it. */
    public static final int MIN_PAST = 16;
    /** The context length of a model with no config.json beside it naming one. */
    public static final int DEFAULT_MAX_LENGTH = 2048;

    private static final Pattern PAST_DOTTED = Pattern.compile("(?:past_key_values|past|past_key_value)[._](\\d+)[._](key|value)");
    private static final Pattern PAST_KIND_FIRST = Pattern.compile("past_(key|value)s?[._](\\d+)");
    private static final Pattern PRESENT_DOTTED = Pattern.compile("(?:present|present_key_values)[._](\\d+)[._](key|value)");
    private static final Pattern PRESENT_KIND_FIRST = Pattern.compile("present_(key|value)s?[._](\\d+)");

    private final Path file;
    private final String name;
    /** The model without its initializers, which are graph inputs bound to {@link #weights} at each import. */
    private final ModelProto proto;
    private final Map<String, Tensor> weights;
    private final DecoderConfig config;
    private final boolean configFromJson;
    private final boolean batched;
    /** Whether the model takes position_ids: without, it numbers new tokens from its past inputs' length, so the past is passed at its exact length. */
    private final boolean positions;
    private final String[][] pastNames, presentNames;
    /** Symbolic dimension name -> its role ('b' batch, 'n' new tokens, 'p' past, 't' past + new). */
    private final Map<String, Character> dimRoles;
    /** Where the step engines run: null for CPU engines. */
    private final Gpu gpu;
    /** Engines by (rows, new tokens, past), least recently used first; at most {@link #EXACT_ENGINES} kept for a model without position_ids. */
    private final Map<List<Integer>, StepEngine> engines = new LinkedHashMap<>(16, 0.75f, true);
    private int enginesBuilt;
    private long buildNanos;
    private int replays;

    /** GPU step engines: on {@code context}, at {@code precision}, each planned by {@code planner}; decode engines captured as CUDA graphs when {@code cudaGraphs}. */
    private record Gpu(CudaContext context, GpuEngine.Precision precision, GpuDecoderRunner.StepPlanner planner, boolean cudaGraphs) {}

    /** One step shape's engine, on the CPU or the GPU: named inputs in, named outputs out (host tensors). */
    private interface StepEngine extends AutoCloseable {
        Map<String, Tensor> run(Map<String, Tensor> inputs);
        @Override void close();
    }
    /** Engines kept for a model without position_ids (one per step shape, and past lengths only grow): the most recent. */
    public static final int EXACT_ENGINES = 8;

    private OnnxDecoder(Path file, ModelProto proto, Map<String, Tensor> weights, DecoderConfig config, boolean configFromJson, boolean batched, boolean positions, String[][] pastNames,
                        String[][] presentNames, Map<String, Character> dimRoles, Gpu gpu) {
        this.file = file;
        this.name = file.getFileName().toString();
        this.proto = proto;
        this.weights = weights;
        this.config = config;
        this.configFromJson = configFromJson;
        this.batched = batched;
        this.positions = positions;
        this.pastNames = pastNames;
        this.presentNames = presentNames;
        this.dimRoles = dimRoles;
        this.gpu = gpu;
    }

    /** Whether {@code file} is meant as an ONNX model (by its name). */
    public static boolean isOnnx(Path file) { return file.getFileName() != null && file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".onnx"); }

    /**
     * Reads a decoder-with-past ONNX file (external data read in). The layers, KV heads, head size and vocabulary come
     * from its inputs' and outputs' types; the context length from {@code maxLength}, else a config.json beside the file
     * ({@code max_position_embeddings} or {@code n_positions}), else {@link #DEFAULT_MAX_LENGTH}. A model that is not a
     * decoder with past is refused naming the file and what is missing.
     */
    public static OnnxDecoder load(Path file, Integer maxLength) {
        ModelProto m;
        try {
            m = OnnxImporter.readModel(file);
        } catch (IrException e) {
            throw new IllegalArgumentException(e.getMessage().startsWith(file.toString()) ? e.getMessage() : file + ": " + e.getMessage());
        }
        GraphProto g = m.getGraph();
        java.util.Set<String> initialized = new java.util.HashSet<>();
        for (TensorProto t : g.getInitializerList()) initialized.add(t.getName());
        Map<String, ValueInfoProto> inputs = new LinkedHashMap<>(), outputs = new LinkedHashMap<>();
        for (ValueInfoProto vi : g.getInputList()) if (!initialized.contains(vi.getName())) inputs.put(vi.getName(), vi);
        for (ValueInfoProto vi : g.getOutputList()) outputs.put(vi.getName(), vi);
        String found = "inputs " + String.join(", ", inputs.keySet()) + "; outputs " + String.join(", ", outputs.keySet());

        TreeMap<Integer, String[]> past = new TreeMap<>(), present = new TreeMap<>();
        List<String> unknown = new ArrayList<>();
        for (String in : inputs.keySet()) {
            if (in.equals("input_ids") || in.equals("attention_mask") || in.equals("position_ids")) continue;
            if (!kvName(in, PAST_DOTTED, PAST_KIND_FIRST, past)) unknown.add(in);
        }
        for (String out : outputs.keySet()) if (!out.equals("logits")) kvName(out, PRESENT_DOTTED, PRESENT_KIND_FIRST, present);
        String notDecoder = file + " is not a decoder with past (" + found + "): ";
        if (!inputs.containsKey("input_ids")) throw new IllegalArgumentException(notDecoder + "no input_ids input");
        if (!outputs.containsKey("logits")) throw new IllegalArgumentException(notDecoder + "no logits output");
        if (!inputs.containsKey("attention_mask")) throw new IllegalArgumentException(notDecoder + "no attention_mask input");
        if (past.isEmpty()) throw new IllegalArgumentException(notDecoder + "no past key/value inputs (past_key_values.N.key and .value, or past_key.N and past_value.N); "
                + "export the decoder with use_cache and its past");
        if (!unknown.isEmpty())
            throw new IllegalArgumentException(notDecoder + "input" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown) + " not known "
                    + "(input_ids, attention_mask, position_ids and past key/values are)" + (unknown.contains("use_cache_branch")
                    ? "; this is optimum's merged decoder: use its decoder_with_past_model.onnx" : ""));
        int layers = past.size();
        checkLayers(file, "past", past, inputs.keySet());
        checkLayers(file, "present", present, outputs.keySet());
        if (present.size() != layers)
            throw new IllegalArgumentException(file + ": " + layers + " layers of past key/value inputs but " + present.size() + " of present outputs (" + found + ")");

        Map<String, Character> roles = new HashMap<>();
        ValueInfoProto ids = inputs.get("input_ids");
        dims(file, ids, "bn", roles, DType.I64);
        dims(file, inputs.get("attention_mask"), "bt", roles, DType.I64);
        boolean positions = inputs.containsKey("position_ids");
        if (positions) dims(file, inputs.get("position_ids"), "bn", roles, DType.I64);
        String[][] pastNames = new String[layers][], presentNames = new String[layers][];
        long kvHeads = -1, headDim = -1;
        for (int l = 0; l < layers; l++) {
            pastNames[l] = past.get(l);
            presentNames[l] = present.get(l);
            for (String in : pastNames[l]) {
                long[] fixed = dims(file, inputs.get(in), "bkpd", roles, DType.F32);
                if (kvHeads < 0) { kvHeads = fixed[1]; headDim = fixed[3]; }
                else if (fixed[1] != kvHeads || fixed[3] != headDim)
                    throw new IllegalArgumentException(file + ": input " + in + " is [batch, " + fixed[1] + ", past, " + fixed[3] + "], layer 0's past is [batch, " + kvHeads + ", past, " + headDim + "]");
            }
        }
        ValueInfoProto logits = outputs.get("logits");
        Long vocab = outputDim(logits, 2);

        Path json = file.toAbsolutePath().getParent().resolve("config.json");
        Map<?, ?> cfg = Files.isRegularFile(json) && Json.parse(read(json), json.toString()) instanceof Map<?, ?> mm ? mm : null;
        if (vocab == null && cfg != null && cfg.get("vocab_size") instanceof Long v) vocab = v;
        if (vocab == null) throw new IllegalArgumentException(file + ": output logits has no fixed vocabulary size (its last dimension) and no config.json beside it gives vocab_size");
        int max = maxLength != null ? maxLength : cfg != null && cfg.get("max_position_embeddings") instanceof Long p ? (int) (long) p
                : cfg != null && cfg.get("n_positions") instanceof Long p ? (int) (long) p : DEFAULT_MAX_LENGTH;
        int heads = cfg != null && cfg.get("num_attention_heads") instanceof Long h ? (int) (long) h : cfg != null && cfg.get("n_head") instanceof Long h ? (int) (long) h : (int) kvHeads;
        if (heads % kvHeads != 0) heads = (int) kvHeads;
        boolean gpt2 = cfg != null && "gpt2".equals(cfg.get("model_type")) || headDim % 2 != 0;
        DecoderConfig c = new DecoderConfig(gpt2 ? DecoderConfig.Family.GPT2 : DecoderConfig.Family.LLAMA, (int) (long) vocab, max, heads * (int) headDim, layers,
                gpt2 ? (int) kvHeads : heads, (int) kvHeads, 0, 0, false, 0);
        boolean batched = !ids.getType().getTensorType().getShape().getDim(0).hasDimValue();
        // the weights decoded once: each initializer becomes a graph input bound to the same tensor in every step shape's import
        Map<String, Tensor> weights = new HashMap<>();
        GraphProto.Builder stripped = g.toBuilder().clearInitializer();
        java.util.Set<String> declared = new java.util.HashSet<>();
        for (ValueInfoProto vi : g.getInputList()) declared.add(vi.getName());
        for (TensorProto t : g.getInitializerList()) {
            Tensor v;
            try {
                v = org.tessel.ir.onnx.OnnxTensors.fromProto(t, "initializer '" + t.getName() + "'");
            } catch (IrException | IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage());
            }
            weights.put(t.getName(), v);
            if (!declared.contains(t.getName())) stripped.addInput(weightInput(t.getName(), v));
        }
        return new OnnxDecoder(file, m.toBuilder().setGraph(stripped).build(), weights, c, cfg != null, batched, positions, pastNames, presentNames, roles, null);
    }

    /**
     * A decoder of the same file (its weights shared, not read again) whose step engines are GPU engines on
     * {@code context}: each step shape's graph planned by {@code planner} and built at {@code precision} (FP32, TF32,
     * FP16 or BF16; a plan whose layers mostly run at another precision is refused naming the step), decode engines
     * captured as CUDA graphs after their first step when {@code cudaGraphs}. Its KV cache is still the host
     * {@link PagedKvCache}, copied to and from the device every step (see the class comment). Close it to free its engines.
     */
    public OnnxDecoder onGpu(CudaContext context, GpuEngine.Precision precision, GpuDecoderRunner.StepPlanner planner, boolean cudaGraphs) {
        if (precision.quantized())
            throw new IllegalArgumentException(file + ": an ONNX decoder's GPU engines compute at FP32, TF32, FP16 or BF16 (the file's weights as stored, unquantized), not " + precision);
        return new OnnxDecoder(file, proto, weights, config, configFromJson, batched, positions, pastNames, presentNames, dimRoles,
                new Gpu(java.util.Objects.requireNonNull(context, "context"), precision, java.util.Objects.requireNonNull(planner, "planner"), cudaGraphs));
    }

    private static ValueInfoProto weightInput(String name, Tensor v) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (int d : v.shape().dims()) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name).setType(org.tessel.ir.onnx.proto.Onnx.TypeProto.newBuilder()
                .setTensorType(org.tessel.ir.onnx.proto.Onnx.TypeProto.Tensor.newBuilder().setElemType(v.dtype().onnxCode()).setShape(s))).build();
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new IllegalArgumentException(p + ": cannot read: " + e.getMessage());
        }
    }

    /** Files a past or present name under its layer as [key, value]; false when the name is neither. */
    private static boolean kvName(String n, Pattern dotted, Pattern kindFirst, Map<Integer, String[]> into) {
        Matcher m = dotted.matcher(n);
        int layer;
        String kind;
        if (m.matches()) { layer = Integer.parseInt(m.group(1)); kind = m.group(2); }
        else if ((m = kindFirst.matcher(n)).matches()) { layer = Integer.parseInt(m.group(2)); kind = m.group(1); }
        else return false;
        into.computeIfAbsent(layer, k -> new String[2])[kind.equals("key") ? 0 : 1] = n;
        return true;
    }

    private static void checkLayers(Path file, String what, TreeMap<Integer, String[]> layers, java.util.Set<String> names) {
        int expect = 0;
        for (var e : layers.entrySet()) {
            if (e.getKey() != expect)
                throw new IllegalArgumentException(file + ": " + what + " keys/values of layer " + expect + " are missing (layers found: " + layers.keySet() + "; " + String.join(", ", names) + ")");
            if (e.getValue()[0] == null || e.getValue()[1] == null)
                throw new IllegalArgumentException(file + ": layer " + e.getKey() + " has a " + what + " " + (e.getValue()[0] == null ? "value but no key" : "key but no value")
                        + " (" + (e.getValue()[0] == null ? e.getValue()[1] : e.getValue()[0]) + ")");
            expect++;
        }
    }

    /**
     * Checks an input's element type and rank against its roles ({@code b} batch, {@code n} new tokens, {@code p} past,
     * {@code t} past + new: symbolic and named; {@code k}, {@code d}: fixed) and files its dimension names by role;
     * returns the fixed sizes (-1 where symbolic).
     */
    private static long[] dims(Path file, ValueInfoProto vi, String roles, Map<String, Character> into, DType dtype) {
        String what = file + ": input " + vi.getName();
        var tt = vi.getType().getTensorType();
        if (tt.getElemType() != dtype.onnxCode())
            throw new IllegalArgumentException(what + " is " + DType.onnxName(tt.getElemType()) + ", expected " + dtype.text());
        if (!tt.hasShape() || tt.getShape().getDimCount() != roles.length())
            throw new IllegalArgumentException(what + " has " + (tt.hasShape() ? "rank " + tt.getShape().getDimCount() : "no shape") + ", expected rank " + roles.length()
                    + " (" + describeRoles(roles) + ")");
        long[] fixed = new long[roles.length()];
        for (int i = 0; i < roles.length(); i++) {
            TensorShapeProto.Dimension d = tt.getShape().getDim(i);
            char role = roles.charAt(i);
            fixed[i] = d.hasDimValue() ? d.getDimValue() : -1;
            if (role == 'k' || role == 'd') {
                if (!d.hasDimValue()) throw new IllegalArgumentException(what + ": dimension " + i + " (" + describeRoles(String.valueOf(role)) + ") must be fixed, got '" + d.getDimParam() + "'");
                continue;
            }
            if (d.hasDimValue()) {
                if (role == 'b' && d.getDimValue() == 1) continue; // exported at batch 1: rows run one by one
                throw new IllegalArgumentException(what + ": dimension " + i + " (" + describeRoles(String.valueOf(role)) + ") is fixed at " + d.getDimValue()
                        + "; Tessel needs it symbolic (export with dynamic axes)");
            }
            if (!d.hasDimParam() || d.getDimParam().isEmpty())
                throw new IllegalArgumentException(what + ": dimension " + i + " (" + describeRoles(String.valueOf(role)) + ") is symbolic but unnamed");
            Character was = into.putIfAbsent(d.getDimParam(), role);
            if (was != null && was != role)
                throw new IllegalArgumentException(what + ": dimension " + i + " is named '" + d.getDimParam() + "', as the " + describeRoles(String.valueOf(was))
                        + " of another input, but is the " + describeRoles(String.valueOf(role)));
        }
        return fixed;
    }

    private static String describeRoles(String roles) {
        List<String> s = new ArrayList<>();
        for (char c : roles.toCharArray())
            s.add(switch (c) { case 'b' -> "batch"; case 'n' -> "new tokens"; case 'p' -> "past length"; case 't' -> "past + new tokens"; case 'k' -> "kv heads"; default -> "head size"; });
        return String.join(", ", s);
    }

    private static Long outputDim(ValueInfoProto vi, int axis) {
        var tt = vi.getType().getTensorType();
        if (!tt.hasShape() || tt.getShape().getDimCount() <= axis || !tt.getShape().getDim(axis).hasDimValue()) return null;
        return tt.getShape().getDim(axis).getDimValue();
    }

    public Path file() { return file; }
    @Override public String model() { return name; }
    @Override public DecoderConfig config() { return config; }
    @Override public long buildNanos() { return buildNanos; }
    @Override public int enginesBuilt() { return enginesBuilt; }
    @Override public List<LoraAdapter> adapters() { return List.of(); }
    @Override public int adapterId(String adapter) { return DecoderRunner.adapterId(adapter, List.of()); }
    /** Whether rows share a step (the model's batch dimension is symbolic and it takes position_ids) rather than running one by one. */
    public boolean batched() { return batched && positions; }

    /** Whether the past is padded to buckets (the model takes position_ids) rather than passed at its exact length. */
    public boolean bucketed() { return positions; }

    /** The precision of the GPU step engines, or null when they are CPU engines. */
    public GpuEngine.Precision gpuPrecision() { return gpu == null ? null : gpu.precision(); }

    /** Decode steps that replayed a captured CUDA graph (GPU engines only). */
    public int graphReplays() { return replays; }

    /** One line on where the step engines run and where the KV cache lives. */
    public String describeBackend() {
        if (gpu == null) return "CPU backend";
        return "GPU backend (" + gpu.precision() + " step engines, the KV cache in host memory, each step's past copied to the device and its present back), "
                + replays + " decode steps replayed as CUDA graphs";
    }

    /** One line describing the model as read from the file. */
    public String describe() {
        return String.format("model: %s (ONNX decoder with past, %d layers, %d KV heads of %d, vocab %d, %d positions%s; %s)",
                file, config.layers(), config.kvHeads(), config.headDim(), config.vocab(), config.maxPositions(),
                configFromJson ? " from config.json" : " (no config.json beside it: the default)",
                !positions ? "no position_ids input, so the past goes in at its exact length: one engine per step shape, rows one by one"
                        : "past padded to power-of-two buckets of at least " + MIN_PAST + (batched ? "" : "; exported at batch 1, so rows run one by one"));
    }

    @Override public PagedKvCache newCache(int blockSize, int blocks) {
        return new PagedKvCache(config.layers(), config.kvHeads(), config.headDim(), blockSize, blocks);
    }

    @Override public List<float[][]> stepAllLogits(List<DecoderRunner.Row> rows, PagedKvCache cache) {
        if (rows.isEmpty()) throw new IllegalArgumentException("a step needs at least one row");
        for (DecoderRunner.Row r : rows) {
            DecoderRunner.checkRow(r, cache.length(r.seq()), config, name);
            DecoderRunner.rowAdapterId(r, List.of());
        }
        for (DecoderRunner.Row r : rows) cache.reserve(r.seq(), r.tokens().length);
        if (batched()) return run(rows, cache);
        List<float[][]> out = new ArrayList<>();
        for (DecoderRunner.Row r : rows) out.add(run(List.of(r), cache).getFirst());
        return out;
    }

    /** The past bucket for {@code cached} tokens: the power of two at or above it, at least {@link #MIN_PAST}. */
    static int pastBucket(int cached) { return Math.max(MIN_PAST, cached <= 1 ? 1 : Integer.highestOneBit(cached - 1) << 1); }

    private List<float[][]> run(List<DecoderRunner.Row> rows, PagedKvCache cache) {
        int maxNew = 0, maxPast = 0;
        for (DecoderRunner.Row r : rows) {
            maxNew = Math.max(maxNew, r.tokens().length);
            maxPast = Math.max(maxPast, cache.length(r.seq()));
        }
        // with position_ids: buckets; without: one row, its exact length and tokens (the model numbers them from the past)
        int b = rows.size(), n = positions ? DecoderRunner.newTokenBucket(maxNew, config) : maxNew, past = positions ? pastBucket(maxPast) : maxPast, total = past + n;
        StepEngine ctx = engine(b, n, past);
        List<String> seqs = new ArrayList<>();
        Map<String, Tensor> in = DecoderRunner.stepInputs(rows, cache, config, n, past, positions, seqs);
        for (int l = 0; l < config.layers(); l++) {
            in.put(pastNames[l][0], cache.gather(seqs, l, past, false));
            in.put(pastNames[l][1], cache.gather(seqs, l, past, true));
        }
        Map<String, Tensor> out = ctx.run(in);

        return DecoderRunner.appendPresent(out, presentNames, rows, cache, config, total, past, n);
    }

    /**
     * The engine of (rows, new tokens, past): the model imported with its symbolic dimensions at those sizes, its
     * outputs' types checked against the decoder's, then on the CPU the standard pipeline and {@code Engine.buildCpu},
     * on the GPU the planner's plan built by {@link GpuEngine#build}.
     */
    private StepEngine engine(int batch, int n, int past) {
        List<Integer> key = List.of(batch, n, past);
        StepEngine ctx = engines.get(key);
        if (ctx != null) return ctx;
        long t0 = System.nanoTime();
        OnnxImporter.Options o = OnnxImporter.Options.defaults().withBatchSize(batch).withConstantInputs(weights);
        for (var e : dimRoles.entrySet())
            o = o.withDim(e.getKey(), switch (e.getValue()) { case 'b' -> batch; case 'n' -> n; case 'p' -> past; default -> past + n; });
        Graph g;
        try {
            g = OnnxImporter.importModel(proto, name, o);
        } catch (IrException e) {
            throw new IllegalArgumentException(file + ": importing at batch " + batch + ", " + n + " new tokens, past " + past + ": " + e.getMessage());
        }
        int kvh = config.kvHeads(), hd = config.headDim();
        checkOutput(g, "logits", TensorType.of(DType.F32, Shape.of(batch, n, config.vocab())), batch, n, past);
        for (String[] layer : presentNames)
            for (String p : layer) checkOutput(g, p, TensorType.of(DType.F32, Shape.of(batch, kvh, past + n, hd)), batch, n, past);
        ctx = gpu == null ? cpuEngine(g) : gpuEngine(g, batch, n, past);
        if (!positions && engines.size() >= EXACT_ENGINES) engines.remove(engines.keySet().iterator().next()).close();
        engines.put(key, ctx);
        enginesBuilt++;
        buildNanos += System.nanoTime() - t0;
        return ctx;
    }

    private static StepEngine cpuEngine(Graph g) {
        new PassManager().run(g, StandardPipelines.resolve("standard"));
        ExecutionContext ctx = Engine.buildCpu(g).createContext();
        return new StepEngine() {
            @Override public Map<String, Tensor> run(Map<String, Tensor> inputs) { return ctx.run(inputs); }
            @Override public void close() { ctx.close(); }
        };
    }

    /** The GPU engine of one step shape, built from the planner's plan at the decoder's precision; a decode engine's context captured as a CUDA graph after its first run. */
    private StepEngine gpuEngine(Graph g, int batch, int n, int past) {
        String step = "the step at batch " + batch + ", " + n + " new tokens, past " + past;
        GpuEngine engine;
        try {
            engine = GpuDecoderRunner.buildStep(gpu.planner(), g, gpu.precision(), gpu.context(), step);
        } catch (GpuEngineException e) { // an op of the file no GPU kernel runs, or a plan at another precision: the file named
            throw new GpuEngineException(file + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) { // the search found no choice for a node: the file and the step named
            throw new IllegalArgumentException(file + ": planning " + step + " for the GPU: " + e.getMessage(), e);
        }
        GpuExecutionContext ctx;
        try {
            ctx = engine.createExecutionContext();
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
        boolean capture = gpu.cudaGraphs() && n == 1;
        return new StepEngine() {
            @Override public Map<String, Tensor> run(Map<String, Tensor> inputs) {
                gpu.context().bind();
                if (ctx.isCaptured()) replays++;
                Map<String, Tensor> out = ctx.run(inputs);
                if (capture && !ctx.isCaptured()) ctx.captureGraph(); // a replay reads the inputs the next run copies into the same buffers
                return out;
            }
            @Override public void close() {
                ctx.close();
                engine.close();
            }
        };
    }

    /** Frees every engine built so far (the caches are the caller's); CPU engines hold nothing to free. */
    @Override public void close() {
        for (StepEngine e : engines.values()) e.close();
        engines.clear();
    }

    private void checkOutput(Graph g, String output, TensorType expected, int batch, int n, int past) {
        Value v = g.outputs().stream().filter(x -> x.name().equals(output)).findFirst().orElse(null);
        if (v == null || !v.type().equals(expected))
            throw new IllegalArgumentException(file + ": at batch " + batch + ", " + n + " new tokens and past " + past + ", output " + output + " is "
                    + (v == null ? "missing" : v.type()) + ", expected " + expected + " (logits [batch, new, vocab], present [batch, kv_heads, past + new, head_dim])");
    }
}
