package org.tessel.passes.decompose;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.AttentionOp;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rule that writes an ONNX Attention node out as the ops the GPU tactics run, in the form the fusion recognises as
 * an attention group ({@code FusionPatterns} {@code attention}, read by the attention tactics' {@code AttentionBody}):
 * <pre>
 *   q = Transpose[0,2,1,3](Reshape(Q, [B,Sq,H,D]))    kt = Transpose[0,2,3,1](Reshape(K, [B,Skv,H,D]))    (3-D inputs)
 *   v = Transpose[0,2,1,3](Reshape(V, [B,Skv,H,Dv]))
 *   p = Softmax(MatMul(q, kt) * scale [softcap] + bias)  [Where(IsNaN(p), 0, p)]
 *   Y = Reshape(Transpose[0,2,1,3](MatMul(p, v)), [B,Sq,H*Dv])
 * </pre>
 * 4-D inputs are used as they are (K through Transpose[0,1,3,2]); a past cache is a Concat on the sequence axis (the
 * present outputs); softcap c is {@code Tanh(s / c) * c}. With grouped-query heads (G = Hq / Hkv > 1) Q's heads of one
 * KV head are rows of one matrix, {@code Reshape(q, [B,Hkv,G*Sq,D])}, so no KV head is copied; the scores are viewed as
 * [B,Hq,Sq,T] for the bias and the softmax, and back for the context MatMul.
 *
 * <p>The bias is the sum of: the causal and window frontiers when their offset is static (no nonpad_kv_seqlen), one
 * constant [Sq,T] of 0 and -inf; attn_mask, a bool one through {@code Where(m, 0, -inf)}, a float one cast to Q's type,
 * padded on its last axis with -inf to T; with nonpad_kv_seqlen, the padding, causal and window conditions computed
 * from it (cast to f32) against constant position tables, then {@code Where(allowed, 0, -inf)}. When a row may be
 * fully masked (any part of the bias is computed at run time, or a constant one has such a row), SDPA's guard
 * {@code Where(IsNaN(p), 0, p)} gives it probabilities 0, as Attention does; it also zeroes a row whose scores are NaN
 * for another reason (NaN or infinite Q or K), which Attention leaves NaN. {@code softmax_precision} is not kept: the
 * softmax runs at the plan's precision. The optional 4th output is the value of its mode (scaled scores, after softcap,
 * after the bias, the probabilities).
 */
public final class DecomposeAttention implements RewriteRule {
    @Override public String name() { return "decompose-attention"; }
    @Override public Set<String> rootOps() { return Set.of("Attention"); }

    private static final long[] HEADS = {0, 2, 1, 3};

    @Override public boolean matchAndRewrite(Node n, Rewriter rw) {
        Value q = n.input(0), k = n.input(1), v = n.input(2);
        Value mask = in(n, 3), pk = in(n, 4), pv = in(n, 5), nonpad = in(n, 6);
        Attributes a = n.attrs();
        AttentionOp.Geometry g = AttentionOp.geometry(q.type().shape(), k.type().shape(), v.type().shape(),
                pk == null ? null : pk.type().shape(), pv == null ? null : pv.type().shape(), a);
        DType t = q.type().dtype();
        Emit e = new Emit(rw, n);
        int b = g.batch(), hq = g.qHeads(), hkv = g.kvHeads(), sq = g.qSeq(), skv = g.kvSeq(), total = g.total(), d = g.headSize(), dv = g.vHeadSize();
        int group = g.group();
        if (v.type().dtype() != t) v = e.op("Cast", Attributes.builder().put("to", (long) t.onnxCode()).build(), v);
        if (pv != null && pv.type().dtype() != t) pv = e.op("Cast", Attributes.builder().put("to", (long) t.onnxCode()).build(), pv);

        // heads: q [B,Hq,Sq,D]; kt [B,Hkv,D,T]; v4 [B,Hkv,T,Dv]; present K and V [B,Hkv,T,*] where asked for
        Value q4 = g.threeD() ? e.transpose(e.reshape(q, b, sq, hq, d), HEADS) : q;
        Value kt, v4, presentK = null, presentV = null;
        boolean wantPresent = used(rw.graph(), n, 1) || used(rw.graph(), n, 2);
        if (pk != null || wantPresent) {
            Value k4 = g.threeD() ? e.transpose(e.reshape(k, b, skv, hkv, d), HEADS) : k;
            Value vv = g.threeD() ? e.transpose(e.reshape(v, b, skv, hkv, dv), HEADS) : v;
            presentK = pk == null ? k4 : e.op("Concat", Attributes.builder().put("axis", 2L).build(), pk, k4);
            presentV = pv == null ? vv : e.op("Concat", Attributes.builder().put("axis", 2L).build(), pv, vv);
            kt = e.transpose(presentK, 0, 1, 3, 2);
            v4 = presentV;
        } else {
            kt = g.threeD() ? e.transpose(e.reshape(k, b, skv, hkv, d), 0, 2, 3, 1) : e.transpose(k, 0, 1, 3, 2);
            v4 = g.threeD() ? e.transpose(e.reshape(v, b, skv, hkv, dv), HEADS) : v;
        }
        Value qRows = group == 1 ? q4 : e.reshape(q4, b, hkv, group * sq, d);
        Value scores = e.op("MatMul", Attributes.empty(), qRows, kt);
        scores = e.op("Mul", Attributes.empty(), scores, e.constant("scale", Tensor.scalar(t, AttentionOp.scale(a, g))));
        if (group > 1) scores = e.reshape(scores, b, hq, sq, total);
        Value raw = scores;
        double softcap = a.getFloat("softcap", 0f);
        if (softcap > 0) {
            Value c = e.constant("softcap", Tensor.scalar(t, softcap));
            scores = e.op("Mul", Attributes.empty(), e.op("Tanh", Attributes.empty(), e.op("Div", Attributes.empty(), scores, c)), c);
        }
        Value capped = scores;
        Bias bias = bias(e, n, g, t, mask, nonpad);
        if (bias.value() != null) scores = e.op("Add", Attributes.empty(), scores, bias.value());
        Value biased = scores;
        Value p = e.op("Softmax", Attributes.builder().put("axis", -1L).build(), scores);
        if (bias.mayMaskARow())
            p = e.op("Where", Attributes.empty(), e.op("IsNaN", Attributes.empty(), p), e.constant("zero", Tensor.scalar(t, 0)), p);
        Value ctx = e.op("MatMul", Attributes.empty(), group == 1 ? p : e.reshape(p, b, hkv, group * sq, total), v4);
        if (group > 1) ctx = e.reshape(ctx, b, hq, sq, dv);
        Value y = g.threeD() ? e.reshape(e.transpose(ctx, HEADS), b, sq, hq * dv) : ctx;

        List<Value> outs = new ArrayList<>(List.of(y));
        // present outputs nothing reads (placeholders before a requested 4th output) are replaced by K and V, unread too
        if (n.outputs().size() > 1) outs.add(presentK == null ? k : presentK);
        if (n.outputs().size() > 2) outs.add(presentV == null ? v : presentV);
        if (n.outputs().size() > 3) outs.add(switch ((int) a.getInt("qk_matmul_output_mode", 0)) { case 0 -> raw; case 1 -> capped; case 2 -> biased; default -> p; });
        rw.replace(n, outs);
        rw.count("attention-decomposed");
        return true;
    }

    private static Value in(Node n, int i) { return i < n.numInputs() ? n.input(i) : null; }

    /** True when output i exists and something reads it (a node or the graph's outputs). */
    private static boolean used(Graph g, Node n, int i) {
        return i < n.outputs().size() && (g.useCount(n.output(i)) > 0 || g.outputs().contains(n.output(i)));
    }

    /** The additive bias (null: none) and whether some row of it may be all -inf. */
    private record Bias(Value value, boolean mayMaskARow) {}

    private static Bias bias(Emit e, Node n, AttentionOp.Geometry g, DType t, Value mask, Value nonpad) {
        Attributes a = n.attrs();
        boolean causal = a.getInt("is_causal", 0) != 0;
        long left = a.getInt("left_window_size", -1), right = a.getInt("right_window_size", -1);
        boolean frontier = causal || left >= 0 || right >= 0;
        int sq = g.qSeq(), total = g.total();
        List<Value> parts = new ArrayList<>();
        boolean dynamic = false;
        Tensor fixed = null;
        if (frontier && nonpad == null) {
            // a query at i sits at position i + past
            fixed = Tensor.zeros(t, Shape.of(1, 1, sq, total));
            for (int i = 0; i < sq; i++)
                for (int j = 0; j < total; j++) {
                    long diff = i + g.past() - j;
                    boolean allowed = (!causal || diff >= 0) && (left < 0 || diff <= left) && (right < 0 || -diff <= right);
                    if (!allowed) fixed.setDouble(i * total + j, Double.NEGATIVE_INFINITY);
                }
            parts.add(e.constant("frontier", fixed));
        }
        if (mask != null) {
            Value m = mask;
            if (m.type().dtype() == DType.BOOL)
                m = e.op("Where", Attributes.empty(), m, e.constant("zero", Tensor.scalar(t, 0)), e.constant("neg_inf", Tensor.scalar(t, Double.NEGATIVE_INFINITY)));
            else if (m.type().dtype() != t) m = e.op("Cast", Attributes.builder().put("to", (long) t.onnxCode()).build(), m);
            int last = m.type().shape().dim(-1), rank = m.type().rank();
            if (last < total) {
                long[] pads = new long[2 * rank];
                pads[2 * rank - 1] = total - last;
                m = e.op("Pad", Attributes.empty(), m, e.constant("pads", Tensor.ofLongs(DType.I64, Shape.of(pads.length), pads)),
                        e.constant("neg_inf", Tensor.scalar(t, Double.NEGATIVE_INFINITY)));
            }
            parts.add(m);
        }
        if (nonpad != null) {
            // n = nonpad_kv_seqlen[b]: key j is valid when j < n; the frontier's offset is n - Sq, so with
            // c = j - i + Sq: causal c <= n; left window n <= c + left; right window c - right <= n
            Value nb = e.reshape(e.op("Cast", Attributes.builder().put("to", (long) DType.F32.onnxCode()).build(), nonpad), g.batch(), 1, 1, 1);
            Tensor keys = Tensor.zeros(DType.F32, Shape.of(1, 1, 1, total)), c = Tensor.zeros(DType.F32, Shape.of(1, 1, sq, total));
            for (int j = 0; j < total; j++) keys.setDouble(j, j);
            for (int i = 0; i < sq; i++) for (int j = 0; j < total; j++) c.setDouble(i * total + j, j - i + sq);
            Value allowed = e.op("Less", Attributes.empty(), e.constant("key_positions", keys), nb);
            Value cv = e.constant("frontier_offsets", c);
            if (causal) allowed = e.op("And", Attributes.empty(), allowed, e.op("LessOrEqual", Attributes.empty(), cv, nb));
            if (left >= 0)
                allowed = e.op("And", Attributes.empty(), allowed, e.op("LessOrEqual", Attributes.empty(), nb,
                        e.op("Add", Attributes.empty(), cv, e.constant("left_window", Tensor.scalar(DType.F32, left)))));
            if (right >= 0)
                allowed = e.op("And", Attributes.empty(), allowed, e.op("LessOrEqual", Attributes.empty(),
                        e.op("Sub", Attributes.empty(), cv, e.constant("right_window", Tensor.scalar(DType.F32, right))), nb));
            parts.add(e.op("Where", Attributes.empty(), allowed, e.constant("zero", Tensor.scalar(t, 0)), e.constant("neg_inf", Tensor.scalar(t, Double.NEGATIVE_INFINITY))));
            dynamic = true;
        }
        if (parts.isEmpty()) return new Bias(null, false);
        Value sum = parts.getFirst();
        for (int i = 1; i < parts.size(); i++) sum = e.op("Add", Attributes.empty(), sum, parts.get(i));
        // the fused attention takes a rank-4 mask broadcast over heads: a lower-rank bias gets leading 1s
        int rank = sum.type().rank();
        if (rank < 4) {
            int[] dims = {1, 1, 1, 1};
            for (int i = 0; i < rank; i++) dims[4 - rank + i] = sum.type().shape().dim(i);
            sum = e.reshape(sum, dims);
        }
        // a mask or nonpad_kv_seqlen may mask a whole row (the guard is kept even for a constant mask); a constant
        // frontier alone is checked here
        boolean rowMasked = mask != null || dynamic;
        for (int i = 0; i < sq && !rowMasked && fixed != null; i++) {
            boolean all = true;
            for (int j = 0; j < total && all; j++) all = fixed.getDouble(i * total + j) == Double.NEGATIVE_INFINITY;
            rowMasked = all;
        }
        return new Bias(sum, rowMasked);
    }

    /** Inserts ops before the node being decomposed, named after it. */
    static final class Emit {
        private final Rewriter rw;
        private final Node anchor;

        Emit(Rewriter rw, Node anchor) { this.rw = rw; this.anchor = anchor; }

        Value op(String op, Attributes attrs, Value... inputs) {
            return rw.insertBefore(anchor, op, anchor.name() + "_" + op.toLowerCase(java.util.Locale.ROOT), attrs, 1, inputs).output();
        }

        Value constant(String what, Tensor t) { return rw.constant(rw.graph().uniqueValueName(anchor.name() + "_" + what), t); }

        Value reshape(Value x, int... dims) {
            long[] s = new long[dims.length];
            for (int i = 0; i < dims.length; i++) s[i] = dims[i];
            return op("Reshape", Attributes.empty(), x, constant("shape", Tensor.ofLongs(DType.I64, Shape.of(s.length), s)));
        }

        Value transpose(Value x, long... perm) { return op("Transpose", Attributes.builder().put("perm", perm).build(), x); }
    }
}
