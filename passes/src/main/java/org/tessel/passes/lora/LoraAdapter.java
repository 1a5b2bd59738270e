package org.tessel.passes.lora;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.io.Json;
import org.tessel.ir.io.SafeTensors;

/**
 * A LoRA adapter (Hu et al. 2021): per adapted linear layer of a base model, named by the layer's
 * module (= the node name in Tessel's decoders, e.g. {@code model.layers.0.self_attn.q_proj}),
 * A [r, K] and B [N, r], the layer becoming y = x·W + (alpha / r) · (x·Aᵀ)·Bᵀ.
 *
 * <p>On disk an adapter is a folder as PEFT's {@code save_pretrained} writes it:
 * {@code adapter_config.json} with {@code r} and {@code lora_alpha} (other keys are ignored), and
 * {@code adapter_model.safetensors} holding {@code base_model.model.<module>.lora_A.weight} [r, K]
 * and {@code base_model.model.<module>.lora_B.weight} [N, r] for each layer (the
 * {@code base_model.model.} prefix is optional). Loading checks the file on its own (both matrices
 * present, ranks equal to r, inner dims agreeing); whether it fits a base model is checked by the
 * lora pass ({@link ApplyLora}), which names the adapter's file, the layer and the shapes.
 *
 * @param source where it came from (a folder, or "seeded random ...") for error messages
 */
public record LoraAdapter(String name, int rank, double alpha, Map<String, Layer> layers, String source) {
    public static final String CONFIG = "adapter_config.json", WEIGHTS = "adapter_model.safetensors";
    static final String PREFIX = "base_model.model.", A = ".lora_A.weight", B = ".lora_B.weight";

    /** One adapted layer: A [r, K] and B [N, r], f32. */
    public record Layer(String module, Tensor a, Tensor b) {
        public int k() { return a.shape().dim(1); }
        public int n() { return b.shape().dim(0); }
        public int rank() { return a.shape().dim(0); }
    }

    public LoraAdapter {
        if (name == null || name.isBlank() || name.contains("=") || name.contains(";")) throw new IllegalArgumentException("adapter name '" + name + "' must be non-empty without '=' or ';'");
        if (rank < 1) throw new IllegalArgumentException("adapter " + name + " (" + source + "): rank r must be at least 1, got " + rank);
        if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("adapter " + name + " (" + source + "): lora_alpha must be positive, got " + alpha);
        if (layers.isEmpty()) throw new IllegalArgumentException("adapter " + name + " (" + source + ") adapts no layer");
        for (var e : layers.entrySet()) {
            Layer l = e.getValue();
            if (!e.getKey().equals(l.module())) throw new IllegalArgumentException("adapter " + name + " (" + source + "): layer " + l.module() + " is filed under " + e.getKey());
            String where = "adapter " + name + " (" + source + "): layer " + l.module() + ": ";
            if (l.a().rank() != 2 || l.a().shape().dim(0) != rank)
                throw new IllegalArgumentException(where + "lora_A must be [r=" + rank + ", K], got " + l.a().shape());
            if (l.b().rank() != 2 || l.b().shape().dim(1) != rank)
                throw new IllegalArgumentException(where + "lora_B must be [N, r=" + rank + "], got " + l.b().shape());
        }
        layers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layers));
    }

    /** alpha / r, the factor of the low-rank term. */
    public float scale() { return (float) (alpha / rank); }

    /** Reads the adapter folder at {@code dir} (see the class comment). */
    public static LoraAdapter load(String name, Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("adapter " + name + ": " + dir + " is not a folder (expected one holding " + CONFIG + " and " + WEIGHTS + ")");
        Path cfg = dir.resolve(CONFIG), weights = dir.resolve(WEIGHTS);
        for (Path p : List.of(cfg, weights)) if (!Files.isRegularFile(p)) throw new IllegalArgumentException("adapter " + name + ": " + p + " is missing");
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(cfg), cfg.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException(cfg + ": cannot read: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> config)) throw new IllegalArgumentException(cfg + ": expected a JSON object");
        if (!(config.get("r") instanceof Long r)) throw new IllegalArgumentException(cfg + ": \"r\" (the rank) must be an integer, got " + config.get("r"));
        if (!(config.get("lora_alpha") instanceof Number alpha)) throw new IllegalArgumentException(cfg + ": \"lora_alpha\" must be a number, got " + config.get("lora_alpha"));
        Map<String, Tensor> as = new LinkedHashMap<>(), bs = new LinkedHashMap<>();
        for (var e : SafeTensors.read(weights).tensors().entrySet()) {
            String key = e.getKey(), module = key.startsWith(PREFIX) ? key.substring(PREFIX.length()) : key;
            if (module.endsWith(A)) as.put(module.substring(0, module.length() - A.length()), e.getValue());
            else if (module.endsWith(B)) bs.put(module.substring(0, module.length() - B.length()), e.getValue());
            else throw new IllegalArgumentException(weights + ": tensor " + key + " is not a LoRA weight (expected <module>" + A + " or <module>" + B + ")");
        }
        Map<String, Layer> layers = new LinkedHashMap<>();
        for (var e : as.entrySet()) {
            Tensor b = bs.remove(e.getKey());
            if (b == null) throw new IllegalArgumentException(weights + ": layer " + e.getKey() + " has lora_A but no lora_B");
            layers.put(e.getKey(), new Layer(e.getKey(), e.getValue(), b));
        }
        if (!bs.isEmpty()) throw new IllegalArgumentException(weights + ": layer " + bs.keySet().iterator().next() + " has lora_B but no lora_A");
        return new LoraAdapter(name, (int) (long) r, alpha.doubleValue(), layers, weights.toString());
    }

    /** Writes this adapter as a folder {@link #load} reads back (and PEFT's layout). */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Layer l : layers.values()) {
            t.put(PREFIX + l.module() + A, l.a());
            t.put(PREFIX + l.module() + B, l.b());
        }
        SafeTensors.write(dir.resolve(WEIGHTS), t, Map.of("format", "pt"));
        Files.writeString(dir.resolve(CONFIG), "{\"peft_type\": \"LORA\", \"r\": " + rank + ", \"lora_alpha\": " + alpha + ", \"target_modules\": ["
                + String.join(", ", layers.values().stream().map(l -> "\"" + l.module().substring(l.module().lastIndexOf('.') + 1) + "\"").distinct().toList()) + "]}\n");
    }

    /**
     * A seeded random adapter for every layer of {@code g} the targets select ({@link ApplyLora#targetNodes}):
     * A ~ N(0, 1/K), B ~ N(0, 1/r), so with alpha = r the low-rank term is as large as the base
     * projection (PEFT starts B at zero; a demo adapter should change the output).
     */
    public static LoraAdapter random(String name, Graph g, List<String> targets, int rank, double alpha, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, Layer> layers = new LinkedHashMap<>();
        for (Node n : ApplyLora.targetNodes(g, ApplyLora.expandTargets(targets)).values()) {
            int k = n.input(0).type().shape().dim(-1), out = n.output().type().shape().dim(-1);
            layers.put(n.name(), new Layer(n.name(), normal(rnd, Shape.of(rank, k), 1 / Math.sqrt(k)), normal(rnd, Shape.of(out, rank), 1 / Math.sqrt(rank))));
        }
        if (layers.isEmpty()) throw new IllegalArgumentException("adapter " + name + ": targets " + targets + " select no linear layer of " + g.name());
        return new LoraAdapter(name, rank, alpha, layers, "seeded random, seed " + seed);
    }

    private static Tensor normal(SplittableRandom r, Shape s, double std) {
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
        return Tensor.ofFloats(s, v);
    }
}
