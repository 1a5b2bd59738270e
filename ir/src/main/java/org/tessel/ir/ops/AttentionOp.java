package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ONNX Attention (opset 23, with opset 24's {@code nonpad_kv_seqlen} input and opset 25's window attributes, whose
 * defaults leave opset 23's meaning unchanged): scaled dot-product attention
 * {@code Y = softmax(softcap(Q K^T * scale) + bias) V} per query head.
 *
 * <p>Q, K and V are all 4-D, [batch, heads, seq, head_size], or all 3-D, [batch, seq, heads * head_size] with the
 * heads given by {@code q_num_heads} and {@code kv_num_heads} (on 4-D inputs those attributes, which opset 23 allows,
 * must agree with the shapes). Query head h reads key/value head {@code h / (q_heads / kv_heads)} (grouped-query
 * attention; q_heads must be a multiple of kv_heads). V's head size may differ from Q's and K's. With past_key and
 * past_value ([batch, kv_heads, past, head_size], given together) the keys and values are the past ones followed by
 * K's and V's; present_key and present_value are those (4-D), total = past + kv_seq positions.
 *
 * <p>The additive bias of query i and key j sums: attn_mask (float: added; bool: false gives -inf), broadcast onto
 * [batch, q_heads, q_seq, total] after its last dimension is padded to {@code total} (-inf, or false); -inf where
 * {@code is_causal} and {@code j > i + offset}; -inf outside the window {@code p - left <= j <= p + right} with
 * {@code p = i + offset} (a bound of -1 is open); -inf where {@code j >= nonpad_kv_seqlen[b]}. The offset is the past
 * length with past_key, {@code nonpad_kv_seqlen[b] - q_seq} without it (an external cache), else 0. {@code softcap}
 * > 0 maps each logit x to {@code softcap * tanh(x / softcap)} before the bias is added. A query whose bias is -inf
 * for every key (fully masked) gets probabilities 0, so a zero output row, not NaN.
 *
 * <p>The optional 4th output, [batch, q_heads, q_seq, total] in Q's type, holds per {@code qk_matmul_output_mode}:
 * 0 the scaled product Q K^T * scale, 1 that after softcap, 2 after softcap and bias, 3 the probabilities. The
 * reference computes in double whatever {@code softmax_precision} (1, 10, 11 or 16: f32, f16, f64, bf16) says.
 */
public final class AttentionOp extends BaseOp {
    AttentionOp() {
        super(def("Attention", "scaled dot-product attention softmax(Q K^T * scale + mask) V, grouped-query, with causal and window masks and a KV cache")
                .inputs(3, 7, "Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen").outputs(1, 4)
                .intAttr("is_causal", 0, "1: query i attends keys j <= i + offset (offset: past length, or nonpad_kv_seqlen - q_seq)")
                .attr(AttrSpec.optional("scale", AttrValue.Kind.FLOAT, "scale of Q K^T (default 1/sqrt(head_size))"))
                .attr(AttrSpec.optional("q_num_heads", AttrValue.Kind.INT, "query heads of 3-D inputs"))
                .attr(AttrSpec.optional("kv_num_heads", AttrValue.Kind.INT, "key/value heads of 3-D inputs"))
                .attr(AttrSpec.optional("softmax_precision", AttrValue.Kind.INT,
                        "ONNX type code of the softmax's precision (1, 10, 11, 16); the reference computes in double"))
                .floatAttr("softcap", 0f, "> 0: logits become softcap * tanh(logits / softcap) before the bias")
                .intAttr("qk_matmul_output_mode", 0, "4th output: 0 scaled Q K^T, 1 after softcap, 2 after softcap and bias, 3 probabilities")
                .intAttr("left_window_size", -1, "keys at most this far left of the query's position (-1: unbounded)")
                .intAttr("right_window_size", -1, "keys at most this far right of the query's position (-1: unbounded)"));
    }

    /** The inputs' element types a mask may have besides bool. */
    private static final EnumSet<DType> MASK_TYPES = EnumSet.of(DType.BOOL, DType.F32, DType.F16, DType.BF16, DType.F64);

    /**
     * One use's geometry, checked: batch, query and key/value heads, query length, new key/value length, past length,
     * Q/K head size and V head size; {@code threeD} for [batch, seq, hidden] inputs.
     */
    public record Geometry(int batch, int qHeads, int kvHeads, int qSeq, int kvSeq, int past, int headSize, int vHeadSize, boolean threeD) {
        public int total() { return past + kvSeq; }
        public int group() { return qHeads / kvHeads; }
        public Shape yShape() { return threeD ? Shape.of(batch, qSeq, qHeads * vHeadSize) : Shape.of(batch, qHeads, qSeq, vHeadSize); }
        public Shape presentKeyShape() { return Shape.of(batch, kvHeads, total(), headSize); }
        public Shape presentValueShape() { return Shape.of(batch, kvHeads, total(), vHeadSize); }
        public Shape scoresShape() { return Shape.of(batch, qHeads, qSeq, total()); }
    }

    /** The geometry of Q, K, V (and past_key/past_value when given) under the node's head attributes; fails naming what disagrees. */
    public static Geometry geometry(Shape q, Shape k, Shape v, Shape pastKey, Shape pastValue, Attributes attrs) {
        if (q.rank() != k.rank() || q.rank() != v.rank() || (q.rank() != 3 && q.rank() != 4))
            throw new OpException("inputs Q " + q + ", K " + k + " and V " + v + " must all be 4-D [batch, heads, seq, head_size] or all 3-D [batch, seq, hidden]");
        boolean threeD = q.rank() == 3;
        boolean hasQ = attrs.has("q_num_heads"), hasKv = attrs.has("kv_num_heads");
        long qAttr = attrs.getInt("q_num_heads", 0), kvAttr = attrs.getInt("kv_num_heads", 0);
        int batch = q.dim(0), qHeads, kvHeads, qSeq, kvSeq, headSize, kHeadSize, vHeadSize;
        if (k.dim(0) != batch || v.dim(0) != batch)
            throw new OpException("inputs Q " + q + ", K " + k + " and V " + v + " must have one batch size");
        if (threeD) {
            if (!hasQ || !hasKv || qAttr <= 0 || kvAttr <= 0)
                throw new OpException("3-D inputs Q " + q + ", K " + k + ", V " + v + " need attributes q_num_heads and kv_num_heads > 0"
                        + " (got " + (hasQ ? qAttr : "none") + " and " + (hasKv ? kvAttr : "none") + ")");
            qHeads = (int) qAttr; kvHeads = (int) kvAttr;
            if (q.dim(2) % qHeads != 0) throw new OpException("input Q's hidden size " + q.dim(2) + " is not a multiple of q_num_heads=" + qHeads);
            if (k.dim(2) % kvHeads != 0) throw new OpException("input K's hidden size " + k.dim(2) + " is not a multiple of kv_num_heads=" + kvHeads);
            if (v.dim(2) % kvHeads != 0) throw new OpException("input V's hidden size " + v.dim(2) + " is not a multiple of kv_num_heads=" + kvHeads);
            qSeq = q.dim(1); kvSeq = k.dim(1);
            if (v.dim(1) != kvSeq) throw new OpException("inputs K " + k + " and V " + v + " must have one sequence length (dimension 1)");
            headSize = q.dim(2) / qHeads; kHeadSize = k.dim(2) / kvHeads; vHeadSize = v.dim(2) / kvHeads;
        } else {
            qHeads = q.dim(1); kvHeads = k.dim(1); qSeq = q.dim(2); kvSeq = k.dim(2);
            headSize = q.dim(3); kHeadSize = k.dim(3); vHeadSize = v.dim(3);
            if (v.dim(1) != kvHeads || v.dim(2) != kvSeq)
                throw new OpException("inputs K " + k + " and V " + v + " must have one head count and sequence length (dimensions 1 and 2)");
            if (hasQ && qAttr != qHeads)
                throw new OpException("attribute q_num_heads=" + qAttr + " disagrees with 4-D Q " + q + " (" + qHeads + " heads)");
            if (hasKv && kvAttr != kvHeads)
                throw new OpException("attribute kv_num_heads=" + kvAttr + " disagrees with 4-D K " + k + " (" + kvHeads + " heads)");
        }
        if (kHeadSize != headSize)
            throw new OpException("Q's head size " + headSize + " and K's " + kHeadSize + " differ (Q " + q + ", K " + k + ")");
        if (kvHeads <= 0 || qHeads % kvHeads != 0)
            throw new OpException("Q's " + qHeads + " heads are not a multiple of K and V's " + kvHeads + " heads (grouped-query attention)");
        int past = 0;
        if ((pastKey == null) != (pastValue == null)) throw new OpException("inputs past_key and past_value must be given together");
        if (pastKey != null) {
            if (pastKey.rank() != 4 || pastKey.dim(0) != batch || pastKey.dim(1) != kvHeads || pastKey.dim(3) != headSize)
                throw new OpException("input past_key must be [batch, kv_heads, past, head_size] = [" + batch + ", " + kvHeads + ", past, " + headSize + "], got " + pastKey);
            past = pastKey.dim(2);
            if (!pastValue.equals(Shape.of(batch, kvHeads, past, vHeadSize)))
                throw new OpException("input past_value must be [batch, kv_heads, past, v_head_size] = " + Shape.of(batch, kvHeads, past, vHeadSize) + ", got " + pastValue);
        }
        return new Geometry(batch, qHeads, kvHeads, qSeq, kvSeq, past, headSize, vHeadSize, threeD);
    }

    /** The scale of Q K^T: the attribute, else 1/sqrt(head_size). */
    public static double scale(Attributes attrs, Geometry g) {
        return attrs.has("scale") ? attrs.getFloat("scale", 1f) : 1 / Math.sqrt(g.headSize());
    }

    /** Checks the attributes that need no shapes; fails naming the attribute. */
    static void checkAttributes(Attributes a) {
        long mode = a.getInt("qk_matmul_output_mode", 0);
        if (mode < 0 || mode > 3) throw new OpException("attribute qk_matmul_output_mode must be 0, 1, 2 or 3, got " + mode);
        for (String w : List.of("left_window_size", "right_window_size")) {
            long s = a.getInt(w, -1);
            if (s < -1) throw new OpException("attribute " + w + " must be -1 (unbounded) or >= 0, got " + s);
        }
        if (a.getFloat("softcap", 0f) < 0) throw new OpException("attribute softcap must be >= 0 (0: no cap), got " + a.getFloat("softcap", 0f));
        if (a.has("softmax_precision")) {
            long p = a.getInt("softmax_precision", 1);
            if (p != 1 && p != 10 && p != 11 && p != 16)
                throw new OpException("attribute softmax_precision must be 1 (f32), 10 (f16), 11 (f64) or 16 (bf16), got " + p);
        }
        if (a.has("scale") && !Float.isFinite(a.getFloat("scale", 1f))) throw new OpException("attribute scale must be finite, got " + a.getFloat("scale", 1f));
    }

    private static Shape shapeOrNull(InferenceContext ctx, int i) { return ctx.hasInput(i) ? ctx.input(i).shape() : null; }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType q = ctx.input(0), k = ctx.input(1), v = ctx.input(2);
        DTypeSets.require("input Q", q.dtype(), DTypeSets.FLOATS);
        DTypeSets.require("input V", v.dtype(), DTypeSets.FLOATS);
        OpUtil.requireSameDType("inputs Q and K", q.dtype(), k.dtype());
        checkAttributes(ctx.attrs());
        Geometry g = geometry(q.shape(), k.shape(), v.shape(), shapeOrNull(ctx, 4), shapeOrNull(ctx, 5), ctx.attrs());
        if (ctx.hasInput(4)) {
            OpUtil.requireSameDType("inputs past_key and K", ctx.input(4).dtype(), k.dtype());
            OpUtil.requireSameDType("inputs past_value and V", ctx.input(5).dtype(), v.dtype());
        }
        if (ctx.hasInput(3)) {
            TensorType m = ctx.input(3);
            DTypeSets.require("input attn_mask", m.dtype(), MASK_TYPES);
            checkMask(m.shape(), g);
        }
        if (ctx.hasInput(6)) {
            TensorType n = ctx.input(6);
            DTypeSets.require("input nonpad_kv_seqlen", n.dtype(), EnumSet.of(DType.I64));
            if (!n.shape().equals(Shape.of(g.batch())))
                throw new OpException("input nonpad_kv_seqlen must be [batch] = [" + g.batch() + "], got " + n.shape());
            if (ctx.hasInput(4)) throw new OpException("input nonpad_kv_seqlen (an external cache) cannot be combined with past_key and past_value");
        }
        List<TensorType> out = new ArrayList<>(List.of(TensorType.of(q.dtype(), g.yShape())));
        if (ctx.numOutputs() > 1) out.add(TensorType.of(k.dtype(), g.presentKeyShape()));
        if (ctx.numOutputs() > 2) out.add(TensorType.of(v.dtype(), g.presentValueShape()));
        if (ctx.numOutputs() > 3) out.add(TensorType.of(q.dtype(), g.scoresShape()));
        return out;
    }

    /** The mask, its last dimension padded to the total length, must broadcast onto [batch, q_heads, q_seq, total]. */
    static void checkMask(Shape m, Geometry g) {
        if (m.rank() < 1 || m.rank() > 4 || m.dim(-1) > g.total())
            throw new OpException("input attn_mask " + m + " must have rank 1 to 4 and a last dimension of at most the total sequence length " + g.total());
        int[] padded = m.dims().clone();
        padded[padded.length - 1] = g.total();
        if (!Kernels.broadcastsOnto(Shape.of(padded), g.scoresShape()))
            throw new OpException("input attn_mask " + m + " does not broadcast onto [batch, q_heads, q_seq, total] = " + g.scoresShape());
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor q = ctx.input(0), k = ctx.input(1), v = ctx.input(2);
        Tensor mask = ctx.hasInput(3) ? ctx.input(3) : null, pk = ctx.hasInput(4) ? ctx.input(4) : null, pv = ctx.hasInput(5) ? ctx.input(5) : null;
        Tensor nonpad = ctx.hasInput(6) ? ctx.input(6) : null;
        Attributes a = ctx.attrs();
        Geometry g = geometry(q.shape(), k.shape(), v.shape(), pk == null ? null : pk.shape(), pv == null ? null : pv.shape(), a);
        int b0 = g.batch(), hq = g.qHeads(), hkv = g.kvHeads(), sq = g.qSeq(), skv = g.kvSeq(), past = g.past(), total = g.total();
        int d = g.headSize(), dv = g.vHeadSize();
        if (nonpad != null)
            for (int b = 0; b < b0; b++) {
                long n = nonpad.getLong(b);
                if (n < 0 || n > total) throw new OpException("nonpad_kv_seqlen[" + b + "] = " + n + " is outside 0.." + total + " (the key/value length)");
            }
        double scale = scale(a, g), softcap = a.getFloat("softcap", 0f);
        boolean causal = a.getInt("is_causal", 0) != 0;
        long left = a.getInt("left_window_size", -1), right = a.getInt("right_window_size", -1);
        int mode = (int) a.getInt("qk_matmul_output_mode", 0);

        // the present keys and values, [batch, kv_heads, total, size]: the past ones, then K's and V's
        Tensor presentK = present(pk, k, g, d), presentV = present(pv, v, g, dv);
        Tensor y = Tensor.zeros(q.dtype(), g.yShape());
        Tensor scores = ctx.numOutputs() > 3 ? Tensor.zeros(q.dtype(), g.scoresShape()) : null;
        int[] maskStrides = mask == null ? null : maskStrides(mask.shape());
        int maskLen = mask == null ? 0 : mask.shape().dim(-1);
        boolean boolMask = mask != null && mask.dtype() == DType.BOOL;
        double[] raw = new double[total], capped = new double[total], biased = new double[total], p = new double[total];
        for (int b = 0; b < b0; b++) {
            long offset = pk != null ? past : nonpad != null ? nonpad.getLong(b) - sq : 0;
            long valid = nonpad == null ? total : nonpad.getLong(b);
            for (int h = 0; h < hq; h++) {
                int kh = h / g.group();
                for (int i = 0; i < sq; i++) {
                    double maxBias = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < total; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) dot += q.getDouble(qIndex(g, b, h, i, e)) * presentK.getDouble(((b * hkv + kh) * total + j) * d + e);
                        raw[j] = dot * scale;
                        capped[j] = softcap > 0 ? softcap * Math.tanh(raw[j] / softcap) : raw[j];
                        double bias = 0;
                        if (mask != null) {
                            if (j >= maskLen) bias = Double.NEGATIVE_INFINITY;
                            else {
                                int mi = maskStrides[0] * b + maskStrides[1] * h + maskStrides[2] * i + maskStrides[3] * j;
                                bias = boolMask ? (mask.getBool(mi) ? 0 : Double.NEGATIVE_INFINITY) : mask.getDouble(mi);
                            }
                        }
                        long pos = i + offset, diff = pos - j;
                        if (causal && j > pos) bias = Double.NEGATIVE_INFINITY;
                        if (left >= 0 && diff > left) bias = Double.NEGATIVE_INFINITY;
                        if (right >= 0 && -diff > right) bias = Double.NEGATIVE_INFINITY;
                        if (j >= valid) bias = Double.NEGATIVE_INFINITY;
                        maxBias = Math.max(maxBias, bias);
                        biased[j] = capped[j] + bias;
                    }
                    softmax(biased, p, maxBias == Double.NEGATIVE_INFINITY);
                    for (int e = 0; e < dv; e++) {
                        double acc = 0;
                        for (int j = 0; j < total; j++) acc += p[j] * presentV.getDouble(((b * hkv + kh) * total + j) * dv + e);
                        Kernels.store(y, g.threeD() ? ((b * sq + i) * hq + h) * dv + e : ((b * hq + h) * sq + i) * dv + e, acc);
                    }
                    if (scores != null) {
                        double[] src = switch (mode) { case 0 -> raw; case 1 -> capped; case 2 -> biased; default -> p; };
                        int base = ((b * hq + h) * sq + i) * total;
                        for (int j = 0; j < total; j++) Kernels.store(scores, base + j, src[j]);
                    }
                }
            }
        }
        List<Tensor> out = new ArrayList<>(List.of(y));
        if (ctx.numOutputs() > 1) out.add(presentK);
        if (ctx.numOutputs() > 2) out.add(presentV);
        if (scores != null) out.add(scores);
        return out;
    }

    /** Softmax of x into p; a fully masked row (every bias -inf) is all zeros. NaN logits propagate as NaN. */
    private static void softmax(double[] x, double[] p, boolean fullyMasked) {
        if (fullyMasked) { Arrays.fill(p, 0); return; }
        double max = Double.NEGATIVE_INFINITY;
        for (double t : x) max = Double.isNaN(t) || Double.isNaN(max) ? Double.NaN : Math.max(max, t);
        double sum = 0;
        for (int j = 0; j < x.length; j++) { p[j] = Math.exp(x[j] - max); sum += p[j]; }
        for (int j = 0; j < x.length; j++) p[j] /= sum;
    }

    private static int qIndex(Geometry g, int b, int h, int i, int e) {
        return g.threeD() ? ((b * g.qSeq() + i) * g.qHeads() + h) * g.headSize() + e : ((b * g.qHeads() + h) * g.qSeq() + i) * g.headSize() + e;
    }

    /** [batch, kv_heads, total, size] of the past tensor (or none) followed by x's rows (3-D x laid out [batch, seq, heads * size]). */
    private static Tensor present(Tensor pastT, Tensor x, Geometry g, int size) {
        Tensor out = Tensor.zeros(x.dtype(), Shape.of(g.batch(), g.kvHeads(), g.total(), size));
        for (int b = 0; b < g.batch(); b++)
            for (int h = 0; h < g.kvHeads(); h++)
                for (int t = 0; t < g.total(); t++)
                    for (int e = 0; e < size; e++) {
                        int o = ((b * g.kvHeads() + h) * g.total() + t) * size + e;
                        double val;
                        if (t < g.past()) val = pastT.getDouble(((b * g.kvHeads() + h) * g.past() + t) * size + e);
                        else {
                            int s = t - g.past();
                            val = x.getDouble(g.threeD() ? ((b * g.kvSeq() + s) * g.kvHeads() + h) * size + e : ((b * g.kvHeads() + h) * g.kvSeq() + s) * size + e);
                        }
                        Kernels.store(out, o, val);
                    }
        return out;
    }

    /** Strides of the mask right-aligned onto [batch, heads, q_seq, total], 0 along broadcast dimensions. */
    private static int[] maskStrides(Shape m) {
        int[] s = new int[4], ms = m.strides();
        int off = 4 - m.rank();
        for (int i = 0; i < m.rank(); i++) s[off + i] = m.dim(i) == 1 ? 0 : ms[i];
        return s;
    }
}
