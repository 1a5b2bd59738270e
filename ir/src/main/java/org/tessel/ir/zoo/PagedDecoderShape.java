package org.tessel.ir.zoo;

/**
 * Which paged step graph of a decoder to build ({@link Zoo#buildPagedDecoder}): {@code batch} sequences feed
 * {@code newTokens} tokens each (1: a decode step; more: a prefill chunk) over a paged KV cache of
 * {@code numBlocks} blocks of {@code blockSize} token slots per layer, each sequence reaching at most
 * {@code maxBlocks} blocks (the block tables' width, which bounds cached + new tokens).
 */
public record PagedDecoderShape(int batch, int newTokens, int maxBlocks, int blockSize, int numBlocks) {
    public PagedDecoderShape {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (newTokens < 1) throw new IllegalArgumentException("newTokens must be at least 1, got " + newTokens);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be at least 1 token, got " + blockSize);
        if (numBlocks < 1) throw new IllegalArgumentException("numBlocks must be at least 1, got " + numBlocks);
        if (maxBlocks < 1) throw new IllegalArgumentException("maxBlocks must be at least 1, got " + maxBlocks);
        if ((long) maxBlocks * blockSize < newTokens)
            throw new IllegalArgumentException(maxBlocks + " blocks of " + blockSize + " tokens cannot hold the step's " + newTokens + " new tokens");
    }

    /** The most tokens (cached + new) a sequence of this step may hold: the block tables' reach. */
    public int maxContext() { return maxBlocks * blockSize; }

    public boolean decode() { return newTokens == 1; }
}
