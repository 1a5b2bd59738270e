package org.tessel.ir.zoo;

/**
 * Which paged step graph of a decoder to build ({@link Zoo#buildPagedDecoder}): {@code batch} sequences feed
 * {@code newTokens} tokens each (1: a decode step; more: a prefill chunk) over a paged KV cache of
 * {@code numBlocks} blocks of {@code blockSize} token slots per layer, each sequence reaching at most
 * {@code maxBlocks} blocks (the block tables' width, which bounds cached + new tokens).
 *
 * <p>{@code packed}: the {@code batch} sequences' new tokens are packed into one sequence of {@code newTokens} tokens in
 * all (padding at the end), so a step that mixes decode tokens and prefill chunks of any lengths computes no padding
 * between them, and the logits are each sequence's last token's only ({@code tessel.PagedAttention}'s packed form).
 */
public record PagedDecoderShape(int batch, int newTokens, int maxBlocks, int blockSize, int numBlocks, boolean packed) {
    public PagedDecoderShape {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (newTokens < 1) throw new IllegalArgumentException("newTokens must be at least 1, got " + newTokens);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be at least 1 token, got " + blockSize);
        if (numBlocks < 1) throw new IllegalArgumentException("numBlocks must be at least 1, got " + numBlocks);
        if (maxBlocks < 1) throw new IllegalArgumentException("maxBlocks must be at least 1, got " + maxBlocks);
        if (!packed && (long) maxBlocks * blockSize < newTokens)
            throw new IllegalArgumentException(maxBlocks + " blocks of " + blockSize + " tokens cannot hold the step's " + newTokens + " new tokens");
        if (packed && newTokens < batch)
            throw new IllegalArgumentException("a packed step of " + batch + " sequences needs room for at least one token each, got " + newTokens + " tokens");
    }

    /** A step of {@code batch} rows of {@code newTokens} tokens each, short rows padded (not packed). */
    public PagedDecoderShape(int batch, int newTokens, int maxBlocks, int blockSize, int numBlocks) {
        this(batch, newTokens, maxBlocks, blockSize, numBlocks, false);
    }

    /** The most tokens (cached + new) a sequence of this step may hold: the block tables' reach. */
    public int maxContext() { return maxBlocks * blockSize; }

    /** A decode step: one new token a sequence, not packed. */
    public boolean decode() { return !packed && newTokens == 1; }

    @Override public String toString() {
        return "PagedDecoderShape[batch=" + batch + ", " + (packed ? "packed tokens=" : "newTokens=") + newTokens + ", maxBlocks=" + maxBlocks + ", blockSize=" + blockSize
                + ", numBlocks=" + numBlocks + "]";
    }
}
