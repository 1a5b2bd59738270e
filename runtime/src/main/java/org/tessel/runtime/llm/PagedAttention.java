package org.tessel.runtime.llm;

/**
 * Decode attention over a paged KV cache, the reference of the paged kernels' tests (vLLM's
 * paged_attention_v1: one query token per sequence, keys and values read block by block through
 * the block table); an FP8 cache's codes are read as code * scale. Grouped-query attention maps query head h to KV head h / (heads / kvHeads).
 * {@link #contiguous} computes the same from a contiguous [kvHeads, length, headDim] cache; the two
 * agree (tests), which is what makes the paged layout a drop-in for the decoder graph's cache.
 */
public final class PagedAttention {
    private PagedAttention() {}

    /**
     * softmax(q k^T / sqrt(headDim)) v for one query token of {@code seq} over all its stored tokens
     * in one layer; q and the result are [heads * headDim].
     */
    public static float[] decode(PagedKvCache cache, String seq, int layer, float[] q, int heads) {
        int kvh = cache.kvHeads(), hd = cache.headDim(), bs = cache.blockSize(), length = cache.length(seq);
        checkHeads(q, heads, kvh, hd);
        var table = cache.blockTable(seq);
        float[] out = new float[heads * hd], row = new float[hd];
        double scale = 1 / Math.sqrt(hd);
        double[] scores = new double[length];
        for (int h = 0; h < heads; h++) {
            int g = h / (heads / kvh);
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < length; t++) {
                cache.load(layer, false, cache.offset(table.get(t / bs), g, t % bs), row, 0, hd);
                double dot = 0;
                for (int d = 0; d < hd; d++) dot += (double) q[h * hd + d] * row[d];
                scores[t] = dot * scale;
                max = Math.max(max, scores[t]);
            }
            double sum = 0;
            for (int t = 0; t < length; t++) sum += scores[t] = Math.exp(scores[t] - max);
            for (int t = 0; t < length; t++) {
                cache.load(layer, true, cache.offset(table.get(t / bs), g, t % bs), row, 0, hd);
                double p = scores[t] / sum;
                for (int d = 0; d < hd; d++) out[h * hd + d] += (float) (p * row[d]);
            }
        }
        return out;
    }

    /** The same attention over a contiguous cache: k and v are [kvHeads, length, headDim]. */
    public static float[] contiguous(float[] k, float[] v, int length, float[] q, int heads, int kvHeads, int headDim) {
        checkHeads(q, heads, kvHeads, headDim);
        if (k.length != kvHeads * length * headDim || v.length != k.length)
            throw new IllegalArgumentException("a contiguous cache of " + length + " tokens holds " + kvHeads * length * headDim + " floats, got " + k.length + " and " + v.length);
        float[] out = new float[heads * headDim];
        double scale = 1 / Math.sqrt(headDim);
        double[] scores = new double[length];
        for (int h = 0; h < heads; h++) {
            int g = h / (heads / kvHeads);
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < length; t++) {
                double dot = 0;
                for (int d = 0; d < headDim; d++) dot += (double) q[h * headDim + d] * k[(g * length + t) * headDim + d];
                scores[t] = dot * scale;
                max = Math.max(max, scores[t]);
            }
            double sum = 0;
            for (int t = 0; t < length; t++) sum += scores[t] = Math.exp(scores[t] - max);
            for (int t = 0; t < length; t++) {
                double p = scores[t] / sum;
                for (int d = 0; d < headDim; d++) out[h * headDim + d] += (float) (p * v[(g * length + t) * headDim + d]);
            }
        }
        return out;
    }

    private static void checkHeads(float[] q, int heads, int kvHeads, int headDim) {
        if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " query heads cannot share " + kvHeads + " KV heads");
        if (q.length != heads * headDim) throw new IllegalArgumentException("the query holds " + heads + " x " + headDim + " floats, got " + q.length);
    }
}
