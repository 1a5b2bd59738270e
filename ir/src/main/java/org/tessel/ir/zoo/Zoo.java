package org.tessel.ir.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import org.tessel.ir.Graph;

/**
 * The model zoo: well-known networks built with the network-definition API from their published
 * architecture descriptions, with seeded random weights (He-normal convolutions and dense layers,
 * near-identity normalization statistics). Each full model has a scaled-down "-tiny" twin of the
 * same structure that the reference interpreter runs in milliseconds.
 *
 * <pre>{@code
 * Graph g = Zoo.build("resnet50", ZooOptions.defaults().withBatch(8));
 * ModelStats s = ModelStats.of(g);   // 25.557 M parameters, 4.09 G MACs per image
 * }</pre>
 */
public final class Zoo {
    private Zoo() {}

    /** Which {@link ZooOptions} knobs a model takes besides batch and seed. */
    enum Knobs { NONE, LAYERS, SEQUENCE_AND_LAYERS }

    /** The decoders, by name: their architecture and the prompt length of their default (prefill) graph. */
    private record DecoderEntry(DecoderConfig config, int defaultPromptLength) {}

    private static final Map<String, DecoderEntry> DECODERS = new LinkedHashMap<>();

    @FunctionalInterface
    interface Builder { Graph build(String name, ZooOptions o); }

    private record Entry(ModelCard card, Knobs knobs, Builder builder) {}

    private static final Map<String, Entry> MODELS = new LinkedHashMap<>();

    private static final String IMAGE_224 = "input: f32[batch,3,224,224]";
    private static final String IMAGE_32 = "input: f32[batch,3,32,32]";

    static {
        String resnet = "ResNet-50 v1.5: 7x7/2 stem, bottleneck stages [3,4,6,3] with the stride on the 3x3 conv, "
                + "BatchNormalization after every conv (unfolded), global average pool, fc, softmax";
        add("resnet50", resnet, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(25_557_032, OptionalLong.of(4_089_184_256L), "torchvision resnet50: 25.557 M params, 4.09 GMACs"),
                Knobs.NONE, (n, o) -> ResNet.build(n, ResNet.RESNET50, o));
        add("resnet50-tiny", "ResNet-50 structure at width/16, one bottleneck per stage, 32x32 input, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Knobs.NONE, (n, o) -> ResNet.build(n, ResNet.RESNET50_TINY, o));

        String mobilenet = "MobileNetV2 width 1.0: 17 inverted residual blocks (1x1 expand, 3x3 depthwise, linear 1x1 project), "
                + "ReLU6 as Clip(0,6), BatchNormalization after every conv, 1280-channel head, fc, softmax";
        add("mobilenetv2", mobilenet, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(3_504_872, OptionalLong.of(300_774_272L), "torchvision mobilenet_v2: 3.505 M params, 0.30 GMACs"),
                Knobs.NONE, (n, o) -> MobileNetV2.build(n, MobileNetV2.MOBILENETV2, o));
        add("mobilenetv2-tiny", "MobileNetV2 structure at width 0.25, one block per stage, 128-channel head, 32x32 input, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Knobs.NONE, (n, o) -> MobileNetV2.build(n, MobileNetV2.MOBILENETV2_TINY, o));

        String googlenet = "GoogLeNet / Inception v1, batch-norm variant (no LRN, no auxiliary heads): "
                + "9 inception modules concatenating 1x1, 1x1-3x3, 1x1-5x5 and maxpool-1x1 branches, global average pool, fc, softmax";
        add("googlenet", googlenet, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(6_800_000, OptionalLong.of(1_586_000_000L),
                        "Szegedy et al. 2014, Table 1: ~6.8 M params, ~1.5 G multiply-adds (the table's rows sum to 1.586 G)"),
                Knobs.NONE, (n, o) -> GoogLeNet.build(n, GoogLeNet.GOOGLENET, o));
        add("googlenet-tiny", "GoogLeNet structure (all 9 inception modules) at width/8, 32x32 input, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Knobs.NONE, (n, o) -> GoogLeNet.build(n, GoogLeNet.GOOGLENET_TINY, o));

        String bert = "BERT-base encoder: vocab 30522, hidden 768, 12 post-LN layers, 12 heads, FFN 3072 with GELU, "
                + "LayerNorm eps 1e-12, attention written out op by op, tanh pooler on [CLS]; sequence length (default 128, at most 512) and layers configurable";
        add("bert-base", bert, "input_ids: i64[batch,128], attention_mask: i64[batch,128]",
                "last_hidden_state: f32[batch,128,768], pooler_output: f32[batch,768]",
                new ModelCard.Reference(109_482_240, OptionalLong.of(11_174_215_680L),
                        "Devlin et al. 2018: ~110 M params (bert-base-uncased with pooler: 109.482 M); multiply-adds counted analytically at sequence length 128"),
                Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Bert.build(n, Bert.BERT_BASE, o));
        add("bert-tiny", "BERT structure with 2 layers, hidden 128, 2 heads, FFN 512, vocab 1000, sequence length 16 (at most 64)",
                "input_ids: i64[batch,16], attention_mask: i64[batch,16]",
                "last_hidden_state: f32[batch,16,128], pooler_output: f32[batch,128]", null,
                Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Bert.build(n, Bert.BERT_TINY, o));

        String vit = "ViT-B/16: 16x16/16 patch-embedding conv, class token by Concat, learned position embedding, "
                + "12 pre-LN encoder blocks (hidden 768, 12 heads, GELU MLP 3072), head on the class token, softmax; layers configurable";
        add("vit", vit, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(86_567_656, OptionalLong.of(17_560_000_000L), "torchvision vit_b_16: 86.568 M params, 17.56 GMACs"),
                Knobs.LAYERS, (n, o) -> VisionTransformer.build(n, VisionTransformer.VIT_B16, o));
        add("vit-tiny", "ViT structure with 4x4 patches on a 32x32 input, hidden 64, 2 layers, 2 heads, MLP 128, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Knobs.LAYERS, (n, o) -> VisionTransformer.build(n, VisionTransformer.VIT_TINY, o));

        addDecoder("gpt2", "GPT-2 small decoder: vocab 50257, 1024 positions, width 768, 12 pre-LN layers, 12 heads, tanh-GELU MLP 3072, "
                + "LM head tied to the token embedding; weights deferred (drawn on first use)", DecoderConfig.GPT2, 128,
                new ModelCard.Reference(124_439_808, OptionalLong.empty(), "Hugging Face gpt2: 124.440 M params"));
        addDecoder("gpt2-tiny", "GPT-2 structure with width 64, 2 layers, 4 heads, MLP 256, vocab 512, 128 positions, tied head",
                DecoderConfig.GPT2_TINY, 16, null);
        addDecoder("llama-1b", "Llama decoder in TinyLlama-1.1B's shape: vocab 32000, 2048 positions, width 2048, 22 layers, RMSNorm, RoPE, "
                + "32 heads sharing 4 key/value heads (grouped-query attention), SwiGLU MLP 5632, untied head; weights deferred (drawn on first use)",
                DecoderConfig.LLAMA_1B, 128,
                new ModelCard.Reference(1_100_048_384, OptionalLong.empty(), "TinyLlama-1.1B: 1100.048 M params (the graph adds RoPE's 32-float inv_freq buffer)"));
        addDecoder("llama-tiny", "Llama structure with width 64, 2 layers, 4 heads sharing 2 key/value heads, SwiGLU MLP 172, vocab 512, 128 positions",
                DecoderConfig.LLAMA_TINY, 16, null);
        Families.register();
    }

    private static void addDecoder(String name, String summary, DecoderConfig c, int promptLength, ModelCard.Reference ref) {
        DECODERS.put(name, new DecoderEntry(c, promptLength));
        String kv = "past_key_values.N.key/.value: f32[batch," + c.kvHeads() + ",past," + c.headDim() + "] (decode form)";
        add(name, summary + "; default graph: prefill of " + promptLength + " tokens (tessel generate and serve-bench run its decode form too; "
                        + "token ids in and out, no tokenizer)",
                "input_ids: i64[batch," + promptLength + "], attention_mask: i64[batch," + promptLength + "], position_ids: i64[batch," + promptLength + "]; " + kv,
                "logits: f32[batch," + promptLength + "," + c.vocab() + "], present.N.key/.value: f32[batch," + c.kvHeads() + ",past+new," + c.headDim() + "]",
                ref, Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Decoder.build(n, c.withLayers(o.layersOr(c.layers())),
                        DecoderShape.prefill(o.batch(), o.sequenceLengthOr(promptLength)), o.seed(), null));
    }

    /** Registers a model; {@link Families} adds the deployment families through it. */
    static void add(String name, String summary, String inputs, String outputs, ModelCard.Reference ref, Knobs knobs, Builder builder) {
        MODELS.put(name, new Entry(new ModelCard(name, summary, inputs, outputs, ref), knobs, builder));
    }

    /** The known model names, full models each followed by its tiny variant. */
    public static List<String> names() { return List.copyOf(MODELS.keySet()); }

    public static ModelCard describe(String name) { return entry(name).card(); }

    /** Builds a model with default options (batch 1, seed 42). */
    public static Graph build(String name) { return build(name, ZooOptions.defaults()); }

    /**
     * Builds and verifies a model. Options a model does not take (a sequence length for a CNN)
     * are refused rather than ignored, so a benchmark never measures something else than asked.
     */
    public static Graph build(String name, ZooOptions opts) {
        Entry e = entry(name);
        if (e.knobs() != Knobs.SEQUENCE_AND_LAYERS && opts.sequenceLength() != 0)
            throw new IllegalArgumentException("model '" + name + "' takes no sequence length (ZooOptions.sequenceLength applies to the BERT models and CRNN)");
        if (e.knobs() == Knobs.NONE && opts.layers() != 0)
            throw new IllegalArgumentException("model '" + name + "' has a fixed depth (ZooOptions.layers applies to the BERT, ViT and CRNN models)");
        return e.builder().build(name, opts);
    }

    /** The zoo's decoder names (models that generate; see {@link #decoder}). */
    public static List<String> decoderNames() { return List.copyOf(DECODERS.keySet()); }

    /**
     * A decoder's architecture, with {@code layers} layers (0: its own depth); a model that is no
     * decoder is refused, naming the decoders.
     */
    public static DecoderConfig decoder(String name, int layers) {
        entry(name);
        DecoderEntry d = DECODERS.get(name.toLowerCase(Locale.ROOT));
        if (d == null) throw new IllegalArgumentException("model '" + name + "' is not a decoder; the zoo's decoders are " + String.join(", ", DECODERS.keySet()));
        if (layers < 0) throw new IllegalArgumentException("layers must be 0 (model default) or positive, got " + layers);
        return layers == 0 ? d.config() : d.config().withLayers(layers);
    }

    /**
     * A decoder graph in any form ({@link DecoderShape}: prefill, decode or a chunk on top of a
     * cache) for an architecture from {@link #decoder}; weights depend on the seed and names only,
     * so every form of one model computes with the same weights.
     */
    public static Graph buildDecoder(String name, DecoderConfig config, DecoderShape shape, long seed) {
        return Decoder.build(name, config, shape, seed, null);
    }

    /** As {@link #buildDecoder(String, DecoderConfig, DecoderShape, long)}, its weights read from {@code weights} (null: drawn from the seed). */
    public static Graph buildDecoder(String name, DecoderConfig config, DecoderShape shape, long seed, DecoderWeights weights) {
        return Decoder.build(name, config, shape, seed, weights);
    }

    /**
     * A decoder's paged step graph ({@link PagedDecoderShape}): attention is {@code tessel.PagedAttention} over per-layer
     * K and V pools instead of contiguous past/present tensors; the same weights as {@link #buildDecoder} for the seed.
     */
    public static Graph buildPagedDecoder(String name, DecoderConfig config, PagedDecoderShape shape, long seed) {
        return Decoder.buildPaged(name, config, shape, seed);
    }

    /** As {@link #buildPagedDecoder(String, DecoderConfig, PagedDecoderShape, long)}, its pools stored as {@code kv} says (f8e4m3 pools with per-layer scales). */
    public static Graph buildPagedDecoder(String name, DecoderConfig config, PagedDecoderShape shape, long seed, KvCacheFormat kv) {
        return Decoder.buildPaged(name, config, shape, seed, null, kv);
    }

    /** As {@link #buildPagedDecoder(String, DecoderConfig, PagedDecoderShape, long, KvCacheFormat)}, its weights read from {@code weights} (null: drawn from the seed). */
    public static Graph buildPagedDecoder(String name, DecoderConfig config, PagedDecoderShape shape, long seed, DecoderWeights weights, KvCacheFormat kv) {
        return Decoder.buildPaged(name, config, shape, seed, weights, kv);
    }

    /** As {@link #buildDecoder(String, DecoderConfig, DecoderShape, long, DecoderWeights)}, its new keys and values rounded through a cache of format {@code kv}. */
    public static Graph buildDecoder(String name, DecoderConfig config, DecoderShape shape, long seed, DecoderWeights weights, KvCacheFormat kv) {
        return Decoder.build(name, config, shape, seed, weights, kv);
    }

    private static Entry entry(String name) {
        Entry e = name == null ? null : MODELS.get(name.toLowerCase(Locale.ROOT));
        if (e != null) return e;
        String guess = closest(name == null ? "" : name.toLowerCase(Locale.ROOT));
        throw new IllegalArgumentException("unknown model '" + name + "'" + (guess == null ? "" : "; did you mean '" + guess + "'?")
                + " known models: " + String.join(", ", MODELS.keySet()));
    }

    /** The known name nearest by edit distance, if near enough to be a plausible typo. */
    private static String closest(String name) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : MODELS.keySet()) {
            int d = editDistance(name, k);
            if (d < bestDistance) { best = k; bestDistance = d; }
        }
        return bestDistance <= Math.max(2, name.length() / 3) ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}
