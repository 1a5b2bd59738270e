package org.tessel.ir.zoo;

/**
 * The architecture of a zoo decoder: family, vocabulary, context length (position table), width,
 * depth, query and key/value heads (grouped-query attention when kvHeads < heads), MLP width,
 * normalization epsilon, whether the LM head is the token embedding (tied), and RoPE's base.
 */
public record DecoderConfig(Family family, int vocab, int maxPositions, int hidden, int layers, int heads, int kvHeads, int ffn,
                            float eps, boolean tiedHead, double ropeTheta) {
    public enum Family { GPT2, LLAMA }

    public DecoderConfig {
        if (hidden % heads != 0) throw new IllegalArgumentException("hidden size " + hidden + " is not divisible by " + heads + " heads");
        if (kvHeads < 1 || heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads cannot be shared by " + kvHeads + " key/value heads");
        if (family == Family.GPT2 && kvHeads != heads) throw new IllegalArgumentException("GPT-2 has one key/value head per head");
        if (family == Family.LLAMA && (hidden / heads) % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head size, got " + hidden / heads);
    }

    public int headDim() { return hidden / heads; }

    /** Bytes of K and V of one token over all layers in f32. */
    public long kvBytesPerToken() { return 2L * layers * kvHeads * headDim() * Float.BYTES; }

    public DecoderConfig withLayers(int l) { return new DecoderConfig(family, vocab, maxPositions, hidden, l, heads, kvHeads, ffn, eps, tiedHead, ropeTheta); }

    public DecoderConfig withTiedHead(boolean tied) { return new DecoderConfig(family, vocab, maxPositions, hidden, layers, heads, kvHeads, ffn, eps, tied, ropeTheta); }

    /** GPT-2 small (124 M): vocab 50257, 1024 positions, width 768, 12 layers, 12 heads, MLP 3072, tied head. */
    public static final DecoderConfig GPT2 = new DecoderConfig(Family.GPT2, 50257, 1024, 768, 12, 12, 12, 3072, 1e-5f, true, 0);
    /** GPT-2's structure at width 64: vocab 512, 128 positions, 2 layers, 4 heads, MLP 256, tied head. */
    public static final DecoderConfig GPT2_TINY = new DecoderConfig(Family.GPT2, 512, 128, 64, 2, 4, 4, 256, 1e-5f, true, 0);
    /** TinyLlama-1.1B's shape: vocab 32000, 2048 positions, width 2048, 22 layers, 32 heads, 4 KV heads, MLP 5632, untied head. */
    public static final DecoderConfig LLAMA_1B = new DecoderConfig(Family.LLAMA, 32000, 2048, 2048, 22, 32, 4, 5632, 1e-5f, false, 10000);
    /** Llama's structure at width 64: vocab 512, 128 positions, 2 layers, 4 heads sharing 2 KV heads, MLP 172, untied head. */
    public static final DecoderConfig LLAMA_TINY = new DecoderConfig(Family.LLAMA, 512, 128, 64, 2, 4, 2, 172, 1e-5f, false, 10000);
}
