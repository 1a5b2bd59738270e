package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * {@code tessel.PagedAttention}: one layer's causal self-attention over a paged KV cache, for a batch of sequences
 * that each feed some new tokens (a prefill chunk, or one decode token) on top of the tokens already cached. The
 * model is TensorRT-LLM's GPT attention plugin with a paged KV cache (and vLLM's PagedAttention): the new keys and
 * values are written into the pools at their slots, then every new query attends, causally, to its sequence's
 * cached tokens and the new ones before it, read block by block through the block table.
 *
 * <p>Inputs (H query heads, KVH key/value heads, H a multiple of KVH; D the head size; NB blocks of BS slots):
 * <ul>
 *   <li>{@code q} [B, N, H, D], {@code k_new} and {@code v_new} [B, N, KVH, D]: the new tokens' projections, after
 *       rotary embedding where the model has it (float, one type for all five float inputs);</li>
 *   <li>{@code k_pool}, {@code v_pool} [NB, KVH, BS, D]: the layer's cache, block b's slots for one KV head
 *       contiguous (the layout of the runtime's paged caches);</li>
 *   <li>{@code block_tables} [B, MB] (i32 or i64): sequence b's position t lives in block
 *       {@code block_tables[b, t / BS]}, slot {@code t % BS};</li>
 *   <li>{@code slots} [B, N] (integer): where new token i of sequence b is written, {@code block * BS + slot}, or -1
 *       for a padding token (it writes nothing and its output is 0); a row's real tokens come first;</li>
 *   <li>{@code context_lens} [B] (integer): sequence b's tokens after this step (cached + its real new ones).</li>
 * </ul>
 * With R_b real tokens in row b, new token i sits at position {@code context_lens[b] - R_b + i}, its slot must be
 * that position's slot in the block table, and it attends to positions 0 to its own (scale 1/sqrt(D)); query head
 * h reads KV head {@code h / (H / KVH)} (grouped-query attention).
 *
 * <p>Packed form (a ninth input, {@code query_starts} [R + 1], integer): the new tokens of R sequences are packed into
 * one sequence of T tokens (vLLM's and TensorRT-LLM's packed, "remove padding" mode), so a step mixing decode tokens and
 * prefill chunks computes no padding: {@code q} is [1, T, H, D], {@code k_new} and {@code v_new} [1, T, KVH, D],
 * {@code slots} [1, T], {@code block_tables} [R, MB] and {@code context_lens} [R]; sequence r's new tokens are tokens
 * {@code query_starts[r]} to {@code query_starts[r + 1] - 1} (non-decreasing from 0; a sequence may feed none), and the
 * tokens from {@code query_starts[R]} on are padding (slot -1, output 0). Each sequence's tokens then attend as above.
 *
 * <p>FP8 cache: the pools may be {@code f8e4m3} (their elements are E4M3 values) with attributes {@code k_scale} and
 * {@code v_scale} (f32, the layer's per-tensor scales): a new key is stored as {@code e4m3(k / k_scale)} (f32 division,
 * round to nearest even, saturating) and every key read, the step's own included, is {@code code * k_scale} (an f32
 * product); values likewise. The scales must be 1 (their default) when the pools are in q's type.
 *
 * <p>Outputs: the attention output [B, N, H, D] in q's type, and the updated pools (the inputs with the new tokens
 * written). The reference copies the pools and writes the copies, so the op is a pure function for the
 * interpreter and property tests; on the GPU the pool outputs alias the pool inputs: the runtime binds both to one
 * caller-owned device buffer that persists across steps, and the tactic writes the new tokens in place (with
 * separate buffers it copies the pool in first).
 */
public final class PagedAttentionOp extends BaseOp {
    public static final String NAME = "tessel.PagedAttention";

    PagedAttentionOp() {
        super(def("PagedAttention", "Causal attention of new tokens over a paged KV cache, writing their keys and values into the pools")
                .domain(TesselOps.DOMAIN).inputs(8, 9, "q", "k_new", "v_new", "k_pool", "v_pool", "block_tables", "slots", "context_lens", "query_starts").outputs(3, 3)
                .floatAttr("k_scale", 1f, "per-tensor scale of f8e4m3 K pools (stored code = e4m3(k / k_scale))")
                .floatAttr("v_scale", 1f, "per-tensor scale of f8e4m3 V pools"));
    }

    /**
     * The geometry of one use, checked: {@code batch} sequences (the block tables' rows); {@code newTokens} new tokens a
     * sequence, or with {@code packed} the T tokens of all sequences together.
     */
    public record Dims(int batch, int newTokens, int heads, int kvHeads, int headDim, int numBlocks, int blockSize, int maxBlocks, boolean packed) {
        public int group() { return heads / kvHeads; }
        /** The token positions of q: batch x newTokens, or the packed T. */
        public long tokens() { return packed ? newTokens : (long) batch * newTokens; }
    }

    /** Checks the inputs against each other; every message names the input at fault. */
    public static Dims check(List<TensorType> in) {
        if (in.size() != 8 && in.size() != 9)
            throw new OpException("takes 8 inputs (q, k_new, v_new, k_pool, v_pool, block_tables, slots, context_lens), or 9 with query_starts (packed), got " + in.size());
        boolean packed = in.size() == 9;
        TensorType q = in.get(0), k = in.get(1), v = in.get(2), kp = in.get(3), vp = in.get(4), tables = in.get(5), slots = in.get(6), lens = in.get(7);
        if (!q.dtype().isFloating()) throw new OpException("q must be floating, got " + q.dtype().text());
        String[] floatNames = {"q", "k_new", "v_new", "k_pool", "v_pool"};
        for (int i = 1; i < 3; i++)
            if (in.get(i).dtype() != q.dtype()) throw new OpException(floatNames[i] + " must be " + q.dtype().text() + " like q, got " + in.get(i).dtype().text());
        for (int i = 3; i < 5; i++)
            if (in.get(i).dtype() != q.dtype() && in.get(i).dtype() != DType.F8E4M3)
                throw new OpException(floatNames[i] + " must be " + q.dtype().text() + " like q, or f8e4m3 (an FP8 cache), got " + in.get(i).dtype().text());
        if (kp.dtype() != vp.dtype()) throw new OpException("k_pool and v_pool must be stored alike, got " + kp.dtype().text() + " and " + vp.dtype().text());
        String[] intNames = {"block_tables", "slots", "context_lens"};
        for (int i = 5; i < 8; i++)
            if (in.get(i).dtype() != DType.I32 && in.get(i).dtype() != DType.I64)
                throw new OpException(intNames[i - 5] + " must be i32 or i64, got " + in.get(i).dtype().text());
        if (q.rank() != 4) throw new OpException("q must be [batch, new, heads, head_dim], got " + q);
        int b = q.shape().dim(0), n = q.shape().dim(1), h = q.shape().dim(2), d = q.shape().dim(3);
        if (k.rank() != 4 || k.shape().dim(0) != b || k.shape().dim(1) != n || k.shape().dim(3) != d)
            throw new OpException("k_new must be [" + b + ", " + n + ", kv_heads, " + d + "] to match q " + q + ", got " + k);
        int kvh = k.shape().dim(2);
        if (kvh < 1 || h % kvh != 0) throw new OpException(h + " query heads cannot share " + kvh + " KV heads (heads must be a multiple of kv_heads)");
        if (!v.shape().equals(k.shape())) throw new OpException("v_new must be " + k.shape() + " like k_new, got " + v.shape());
        if (kp.rank() != 4 || kp.shape().dim(1) != kvh || kp.shape().dim(3) != d)
            throw new OpException("k_pool must be [blocks, " + kvh + ", block_size, " + d + "], got " + kp);
        if (!vp.shape().equals(kp.shape())) throw new OpException("v_pool must be " + kp.shape() + " like k_pool, got " + vp.shape());
        if (!slots.shape().equals(Shape.of(b, n))) throw new OpException("slots must be [" + b + ", " + n + "], got " + slots.shape());
        if (kp.shape().dim(2) < 1 || kp.shape().dim(0) < 1) throw new OpException("the pools need at least one block of one slot, got " + kp.shape());
        if (packed) {
            TensorType starts = in.get(8);
            if (b != 1) throw new OpException("packed (with query_starts): q must be [1, tokens, heads, head_dim], all sequences' new tokens in one, got " + q);
            if (tables.rank() != 2 || tables.shape().dim(0) < 1) throw new OpException("block_tables must be [sequences, max_blocks], got " + tables);
            int rows = tables.shape().dim(0);
            if (starts.dtype() != DType.I32 && starts.dtype() != DType.I64) throw new OpException("query_starts must be i32 or i64, got " + starts.dtype().text());
            if (!starts.shape().equals(Shape.of(rows + 1))) throw new OpException("query_starts must be [" + (rows + 1) + "] (block_tables' " + rows + " sequences + 1), got " + starts.shape());
            if (!lens.shape().equals(Shape.of(rows))) throw new OpException("context_lens must be [" + rows + "], got " + lens.shape());
            return new Dims(rows, n, h, kvh, d, kp.shape().dim(0), kp.shape().dim(2), tables.shape().dim(1), true);
        }
        if (tables.rank() != 2 || tables.shape().dim(0) != b) throw new OpException("block_tables must be [" + b + ", max_blocks], got " + tables);
        if (!lens.shape().equals(Shape.of(b))) throw new OpException("context_lens must be [" + b + "], got " + lens.shape());
        return new Dims(b, n, h, kvh, d, kp.shape().dim(0), kp.shape().dim(2), tables.shape().dim(1), false);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        List<TensorType> in = new java.util.ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) in.add(ctx.input(i));
        check(in);
        scales(in.get(3).dtype(), ctx.attrs());
        return List.of(ctx.input(0), ctx.input(3), ctx.input(4));
    }

    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        List<TensorType> in = new java.util.ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) in.add(ctx.input(i));
        Dims d = check(in);
        // q.k and p.v over at most the block tables' tokens
        return 2L * d.tokens() * d.heads() * (long) d.maxBlocks() * d.blockSize() * d.headDim();
    }

    /**
     * The pools are read through the block tables: at most each row's table of blocks, all heads of a block's slots (a
     * decode step streams the cached keys and values once); every other input is read whole.
     */
    @Override public long elementsRead(InferenceContext ctx, int input) {
        if (input != 3 && input != 4) return -1;
        List<TensorType> in = new java.util.ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) in.add(ctx.input(i));
        Dims d = check(in);
        return (long) d.batch() * Math.min(d.maxBlocks(), d.numBlocks()) * d.blockSize() * d.kvHeads() * d.headDim();
    }

    /** The pools are updated in place: one step writes its new tokens' keys and values, not the whole pool. */
    @Override public long elementsWritten(InferenceContext ctx, List<TensorType> outputs, int output) {
        if (output == 0) return -1;
        List<TensorType> in = new java.util.ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) in.add(ctx.input(i));
        Dims d = check(in);
        return d.tokens() * d.kvHeads() * d.headDim();
    }

    /** The K and V scales of pools stored as {@code pool}: the attributes for f8e4m3 (positive, finite), else 1 (and the attributes must say so). */
    public static float[] scales(DType pool, org.tessel.api.Attributes attrs) {
        float k = attrs.getFloat("k_scale", 1f), v = attrs.getFloat("v_scale", 1f);
        if (pool == DType.F8E4M3) {
            if (!(k > 0) || !(v > 0) || !Float.isFinite(k) || !Float.isFinite(v))
                throw new OpException("an f8e4m3 cache needs positive finite k_scale and v_scale, got " + k + " and " + v);
        } else if (k != 1f || v != 1f) throw new OpException("k_scale and v_scale apply to f8e4m3 pools only; the pools are " + pool.text() + " and the scales " + k + " and " + v);
        return new float[] {k, v};
    }

    /** Row b's real new tokens (its leading non-negative slots); throws when a real token follows a padding one. */
    public static int realTokens(long[] slots, int b, int n) {
        int real = 0;
        while (real < n && slots[b * n + real] >= 0) real++;
        for (int i = real; i < n; i++)
            if (slots[b * n + i] >= 0) throw new OpException("slots row " + b + ": token " + i + " has slot " + slots[b * n + i] + " after padding (-1) at token " + real + "; real tokens come first");
        return real;
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        List<TensorType> types = new java.util.ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) types.add(ctx.input(i).type());
        Dims d = check(types);
        int b = d.batch(), n = d.newTokens(), h = d.heads(), kvh = d.kvHeads(), hd = d.headDim(), bs = d.blockSize(), mb = d.maxBlocks();
        float[] q = ctx.input(0).floats(), kn = ctx.input(1).floats(), vn = ctx.input(2).floats();
        float[] kp = ctx.input(3).floats().clone(), vp = ctx.input(4).floats().clone();
        boolean fp8 = ctx.input(3).dtype() == DType.F8E4M3;
        float[] sc = scales(ctx.input(3).dtype(), ctx.attrs());
        float ks = sc[0], vs = sc[1];
        long[] tables = longs(ctx.input(5)), slots = longs(ctx.input(6)), lens = longs(ctx.input(7));
        long poolSlots = (long) d.numBlocks() * bs;
        int[] real = new int[b], first = new int[b]; // each sequence's new tokens: how many, and the index of its first in q
        if (d.packed()) packedRows(longs(ctx.input(8)), slots, n, real, first);
        for (int r = 0; r < b; r++) {
            if (!d.packed()) {
                real[r] = realTokens(slots, r, n);
                first[r] = r * n;
            }
            long ctxLen = lens[r];
            if (ctxLen < real[r] || ctxLen > (long) mb * bs)
                throw new OpException("context_lens[" + r + "] = " + ctxLen + " must hold the row's " + real[r] + " new tokens and fit its block table of " + mb + " blocks of " + bs);
            for (long t = 0; t < ctxLen; t++) {
                long blk = tables[(int) (r * mb + t / bs)];
                if (blk < 0 || blk >= d.numBlocks())
                    throw new OpException("block_tables[" + r + ", " + t / bs + "] = " + blk + " is outside the pools' " + d.numBlocks() + " blocks (sequence " + r + " reads position " + t + ")");
            }
            for (int i = 0; i < real[r]; i++) {
                int tok = first[r] + i;
                String at = d.packed() ? "slots[0, " + tok + "] (token " + i + " of sequence " + r + ")" : "slots[" + r + ", " + i + "]";
                long s = slots[tok], pos = ctxLen - real[r] + i;
                long want = tables[(int) (r * mb + pos / bs)] * bs + pos % bs;
                if (s < 0 || s >= poolSlots) throw new OpException(at + " = " + s + " is outside the pools' " + poolSlots + " slots");
                if (s != want) throw new OpException(at + " = " + s + ", but position " + pos + " of sequence " + r + " is slot " + want + " by its block table");
                for (int g = 0; g < kvh; g++) {
                    int src = (tok * kvh + g) * hd, dst = (int) (((s / bs * kvh + g) * bs + s % bs) * hd);
                    if (fp8)
                        for (int e = 0; e < hd; e++) {
                            kp[dst + e] = org.tessel.api.Float8E4M3.round(kn[src + e] / ks);
                            vp[dst + e] = org.tessel.api.Float8E4M3.round(vn[src + e] / vs);
                        }
                    else {
                        System.arraycopy(kn, src, kp, dst, hd);
                        System.arraycopy(vn, src, vp, dst, hd);
                    }
                }
            }
        }
        float[] out = new float[Math.toIntExact(d.tokens() * h * hd)];
        double scale = 1 / Math.sqrt(hd);
        for (int r = 0; r < b; r++)
            for (int i = 0; i < real[r]; i++) {
                int length = (int) (lens[r] - real[r] + i + 1);
                double[] scores = new double[length];
                for (int head = 0; head < h; head++) {
                    int g = head / d.group(), qo = ((first[r] + i) * h + head) * hd;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < length; t++) {
                        int base = poolOffset(tables[r * mb + t / bs], g, t % bs, kvh, bs, hd);
                        double dot = 0;
                        for (int e = 0; e < hd; e++) dot += (double) q[qo + e] * (fp8 ? kp[base + e] * ks : kp[base + e]);
                        scores[t] = dot * scale;
                        max = Math.max(max, scores[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < length; t++) sum += scores[t] = Math.exp(scores[t] - max);
                    double[] acc = new double[hd];
                    for (int t = 0; t < length; t++) {
                        int base = poolOffset(tables[r * mb + t / bs], g, t % bs, kvh, bs, hd);
                        double p = scores[t] / sum;
                        for (int e = 0; e < hd; e++) acc[e] += p * (fp8 ? vp[base + e] * vs : vp[base + e]);
                    }
                    for (int e = 0; e < hd; e++) out[qo + e] = (float) acc[e];
                }
            }
        DType t = ctx.input(0).dtype();
        DType pt = ctx.input(3).dtype();
        return List.of(Tensor.ofFloats(t, ctx.input(0).shape(), out), Tensor.ofFloats(pt, ctx.input(3).shape(), kp), Tensor.ofFloats(pt, ctx.input(4).shape(), vp));
    }

    /**
     * A packed step's sequences: how many new tokens each feeds ({@code real}) and where its first sits ({@code first}),
     * from {@code query_starts}, checked against the T tokens and their slots (the tokens past the last sequence's are
     * padding, slot -1).
     */
    private static void packedRows(long[] starts, long[] slots, int tokens, int[] real, int[] first) {
        if (starts[0] != 0) throw new OpException("query_starts[0] = " + starts[0] + ": the first sequence's tokens start at token 0");
        for (int r = 0; r < real.length; r++) {
            if (starts[r + 1] < starts[r] || starts[r + 1] > tokens)
                throw new OpException("query_starts[" + (r + 1) + "] = " + starts[r + 1] + " must lie in [query_starts[" + r + "] = " + starts[r] + ", " + tokens + "] (the step's tokens)");
            first[r] = (int) starts[r];
            real[r] = (int) (starts[r + 1] - starts[r]);
        }
        for (long t = starts[real.length]; t < tokens; t++)
            if (slots[(int) t] >= 0)
                throw new OpException("slots[0, " + t + "] = " + slots[(int) t] + ": token " + t + " is past the last sequence's (query_starts[" + real.length + "] = "
                        + starts[real.length] + "), padding, whose slot is -1");
    }

    private static int poolOffset(long block, int head, int slot, int kvh, int bs, int hd) { return (int) (((block * kvh + head) * bs + slot) * hd); }

    private static long[] longs(Tensor t) {
        long[] v = new long[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = t.getLong(i);
        return v;
    }
}
