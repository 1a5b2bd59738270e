package org.tessel.runtime.llm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.io.Json;
import org.tessel.ir.io.SafeTensors;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderWeights;

/**
 * A Hugging Face checkpoint folder of a Llama decoder ({@code LlamaForCausalLM}): {@code config.json} and its weights in
 * any form transformers writes ({@link CheckpointFiles}): {@code model.safetensors}, sharded safetensors
 * ({@code model.safetensors.index.json}), {@code pytorch_model.bin} (torch.save's zip, read without running its pickle:
 * {@link TorchSave}) or sharded .bin ({@code pytorch_model.bin.index.json}); tensors F32, F16 or BF16. They are read
 * into the zoo's Llama graph. transformers' names are the
 * graph's names; its Linear weights are stored [out, in] and become the graph's [in, out] (the LM head
 * [vocab, hidden] becomes [hidden, vocab]); its RoPE is rotate-half over the head's two halves with
 * inv_freq = theta^(-2i/head_dim), which is the zoo's RoPE, so Q and K need no permutation. With
 * {@code tie_word_embeddings} the head is the embedding (an {@code lm_head.weight} in the file is then ignored).
 * Every error names the file (the shard, for a sharded checkpoint) and the field or tensor.
 */
public record HfCheckpoint(Path dir, DecoderConfig config, DecoderWeights weights) {
    public static final String CONFIG = "config.json", WEIGHTS = "model.safetensors", TOKENIZER = "tokenizer.json";

    /** The folder's name, as the model's name in graphs and messages. */
    public String name() { return dir.toAbsolutePath().normalize().getFileName().toString(); }

    /** Whether {@code path} is a folder holding a config.json (what `tessel generate DIR` takes for a checkpoint). */
    public static boolean isCheckpoint(Path path) { return Files.isDirectory(path) && Files.isRegularFile(path.resolve(CONFIG)); }

    /** The weights file (or index) that {@link #load} reads in {@code dir}, or null when it holds none. */
    public static String weightsFile(Path dir) { return CheckpointFiles.form(dir); }

    public static HfCheckpoint load(Path dir) {
        DecoderConfig c = readConfig(dir);
        CheckpointFiles files = CheckpointFiles.read(dir);
        Map<String, Tensor> graph = new LinkedHashMap<>();
        Map<String, Tensor> left = new LinkedHashMap<>(files.tensors());
        int h = c.hidden(), kv = c.kvHeads() * c.headDim();
        take(left, graph, files, "model.embed_tokens.weight", false, c.vocab(), h);
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            take(left, graph, files, p + "input_layernorm.weight", false, h);
            take(left, graph, files, p + "self_attn.q_proj.weight", true, h, h);
            take(left, graph, files, p + "self_attn.k_proj.weight", true, kv, h);
            take(left, graph, files, p + "self_attn.v_proj.weight", true, kv, h);
            take(left, graph, files, p + "self_attn.o_proj.weight", true, h, h);
            take(left, graph, files, p + "post_attention_layernorm.weight", false, h);
            take(left, graph, files, p + "mlp.gate_proj.weight", true, c.ffn(), h);
            take(left, graph, files, p + "mlp.up_proj.weight", true, c.ffn(), h);
            take(left, graph, files, p + "mlp.down_proj.weight", true, h, c.ffn());
            left.remove(p + "self_attn.rotary_emb.inv_freq"); // older checkpoints save RoPE's buffer; it is computed from rope_theta
        }
        take(left, graph, files, "model.norm.weight", false, h);
        if (c.tiedHead()) left.remove("lm_head.weight");
        else take(left, graph, files, "lm_head.weight", true, c.vocab(), h);
        if (!left.isEmpty()) {
            String extra = left.keySet().iterator().next();
            throw new IllegalArgumentException(files.file(extra) + ": tensor " + extra + " is not part of a LlamaForCausalLM of " + CONFIG + "'s "
                    + c.layers() + " layers" + (left.size() > 1 ? " (" + (left.size() - 1) + " more such tensors)" : "") + "; biases, extra layers and other architectures are not read");
        }
        return new HfCheckpoint(dir, c, new DecoderWeights(dir.toString(), graph));
    }

    /**
     * Writes a Llama decoder of the zoo's graph form as a checkpoint folder (config.json and model.safetensors of
     * {@code dtype}: F32, F16 or BF16) that {@link #load} and transformers read: each deferred weight of {@code graph}
     * under its own name, projections and the LM head transposed to [out, in]. For tests and for checking a zoo
     * decoder against transformers.
     */
    public static void save(Path dir, org.tessel.ir.Graph graph, DecoderConfig c, String dtype) throws IOException {
        if (c.family() != DecoderConfig.Family.LLAMA) throw new IllegalArgumentException("checkpoints are written for Llama decoders, not " + c.family());
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (var v : graph.constants())
            if (v.isDeferred()) {
                boolean linear = v.name().endsWith("_proj.weight") || v.name().equals("lm_head.weight");
                tensors.put(v.name(), linear ? transpose(v.constantValue()) : v.constantValue());
            }
        Files.createDirectories(dir);
        SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"), dtype);
        Files.writeString(dir.resolve(CONFIG), String.format(java.util.Locale.ROOT, """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": %d, "intermediate_size": %d,
                 "num_attention_heads": %d, "num_key_value_heads": %d, "num_hidden_layers": %d, "vocab_size": %d, "rms_norm_eps": %s,
                 "rope_theta": %s, "max_position_embeddings": %d, "tie_word_embeddings": %b, "torch_dtype": "%s"}
                """, c.hidden(), c.ffn(), c.heads(), c.kvHeads(), c.layers(), c.vocab(), Float.toString(c.eps()).replace("E", "e"), Double.toString(c.ropeTheta()),
                c.maxPositions(), c.tiedHead(), switch (dtype) { case "F16" -> "float16"; case "BF16" -> "bfloat16"; default -> "float32"; }));
    }

    /** Moves one tensor from {@code left} to {@code graph} after checking its shape [dims] (transformers' layout), transposed when {@code linear}. */
    private static void take(Map<String, Tensor> left, Map<String, Tensor> graph, CheckpointFiles files, String name, boolean linear, int... dims) {
        Tensor t = left.remove(name);
        if (t == null) throw new IllegalArgumentException(files.source() + ": tensor " + name + " is missing (" + CONFIG + " asks for it)");
        if (!t.shape().equals(Shape.of(dims)))
            throw new IllegalArgumentException(files.file(name) + ": tensor " + name + " has shape " + t.shape() + ", " + CONFIG + " gives " + Shape.of(dims));
        graph.put(name, linear ? transpose(t) : t);
    }

    static Tensor transpose(Tensor t) {
        int rows = t.shape().dim(0), cols = t.shape().dim(1);
        float[] a = t.floats(), b = new float[a.length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) b[c * rows + r] = a[r * cols + c];
        return Tensor.ofFloats(Shape.of(cols, rows), b);
    }

    /** The architecture of a checkpoint folder's config.json, without reading its weights. */
    public static DecoderConfig readConfig(Path dir) {
        if (!Files.isRegularFile(dir.resolve(CONFIG))) throw new IllegalArgumentException(dir + ": no " + CONFIG + " (a Hugging Face checkpoint folder holds config.json and its weights, model.safetensors or pytorch_model.bin, whole or sharded)");
        return config(dir.resolve(CONFIG));
    }

    /** config.json of a LlamaForCausalLM as the zoo's Llama architecture; settings the graph does not compute are refused naming the field. */
    private static DecoderConfig config(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        if (!(Json.parse(text, file.toString()) instanceof Map<?, ?> m)) throw new IllegalArgumentException(file + ": not a JSON object");
        Object type = m.get("model_type");
        if (!"llama".equals(type)) throw new IllegalArgumentException(file + ": model_type is " + (type == null ? "missing" : "'" + type + "'") + "; Llama checkpoints (\"llama\") are read");
        if (m.get("architectures") instanceof List<?> a && !a.isEmpty() && !a.contains("LlamaForCausalLM"))
            throw new IllegalArgumentException(file + ": architectures " + a + " has no LlamaForCausalLM");
        if (m.get("hidden_act") != null && !"silu".equals(m.get("hidden_act"))) throw new IllegalArgumentException(file + ": hidden_act '" + m.get("hidden_act") + "' is not supported (silu)");
        for (String bias : List.of("attention_bias", "mlp_bias"))
            if (Boolean.TRUE.equals(m.get(bias))) throw new IllegalArgumentException(file + ": " + bias + " true is not supported (Llama's projections have no biases)");
        int hidden = integer(m, "hidden_size", file, null), heads = integer(m, "num_attention_heads", file, null);
        int kvHeads = integer(m, "num_key_value_heads", file, heads);
        if (m.get("head_dim") != null && integer(m, "head_dim", file, null) * heads != hidden)
            throw new IllegalArgumentException(file + ": head_dim " + m.get("head_dim") + " is not hidden_size / num_attention_heads = " + hidden + " / " + heads);
        double theta = number(m, "rope_theta", file, 10000.0);
        for (String key : List.of("rope_scaling", "rope_parameters")) { // transformers 5 keeps rope_theta in rope_parameters
            if (m.get(key) == null) continue;
            if (!(m.get(key) instanceof Map<?, ?> rope)) throw new IllegalArgumentException(file + ": " + key + " must be an object, got " + m.get(key));
            Object kind = rope.containsKey("rope_type") ? rope.get("rope_type") : rope.get("type");
            if (kind == null ? rope.keySet().stream().anyMatch(k -> !k.equals("rope_theta")) : !"default".equals(kind))
                throw new IllegalArgumentException(file + ": " + key + " " + rope + " is not supported (plain RoPE, rope_type default, only)");
            theta = number(rope, "rope_theta", file, theta);
        }
        try {
            return new DecoderConfig(DecoderConfig.Family.LLAMA, integer(m, "vocab_size", file, null), integer(m, "max_position_embeddings", file, null), hidden,
                    integer(m, "num_hidden_layers", file, null), heads, kvHeads, integer(m, "intermediate_size", file, null), (float) number(m, "rms_norm_eps", file, 1e-6),
                    Boolean.TRUE.equals(m.get("tie_word_embeddings")), theta);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    private static int integer(Map<?, ?> m, String key, Path file, Integer fallback) {
        Object v = m.get(key);
        if (v == null && fallback != null) return fallback;
        if (!(v instanceof Long l) || l < 1 || l > Integer.MAX_VALUE)
            throw new IllegalArgumentException(file + ": " + key + (v == null ? " is missing" : " must be a positive integer, got " + v));
        return (int) (long) l;
    }

    private static double number(Map<?, ?> m, String key, Path file, double fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (!(v instanceof Number n) || !(n.doubleValue() > 0)) throw new IllegalArgumentException(file + ": " + key + " must be a positive number, got " + v);
        return n.doubleValue();
    }
}
