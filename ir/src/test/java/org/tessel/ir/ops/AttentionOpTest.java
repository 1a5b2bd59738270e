package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tessel.ir.NetworkBuilder.attrs;
import static org.tessel.ir.ops.NnOpsTest.assertMessage;
import static org.tessel.ir.ops.NnOpsTest.error;
import static org.tessel.ir.ops.NnOpsTest.eval;
import static org.tessel.ir.ops.NnOpsTest.eval1;
import static org.tessel.ir.ops.NnOpsTest.random;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * ONNX Attention against hand values, against itself across its equivalent forms (3-D vs 4-D, grouped-query vs the
 * KV heads repeated, a past cache vs the whole keys, is_causal vs the same bool mask), and its error messages.
 */
class AttentionOpTest {
    private static void assertClose(Tensor want, Tensor got, double tol) {
        assertEquals(want.shape(), got.shape());
        for (int i = 0; i < want.size(); i++) assertEquals(want.getDouble(i), got.getDouble(i), tol, "element " + i);
    }

    /** [b, s, h * d] -> [b, h, s, d]. */
    private static Tensor toHeads(Tensor x, int heads) {
        int b = x.shape().dim(0), s = x.shape().dim(1), d = x.shape().dim(2) / heads;
        Tensor out = Tensor.zeros(x.dtype(), Shape.of(b, heads, s, d));
        for (int i = 0; i < b; i++)
            for (int t = 0; t < s; t++)
                for (int h = 0; h < heads; h++)
                    for (int e = 0; e < d; e++) out.setDouble(((i * heads + h) * s + t) * d + e, x.getDouble(((i * s + t) * heads + h) * d + e));
        return out;
    }

    /** [b, kvh, s, d] with each head repeated group times in place: [h0, h0, h1, h1, ...]. */
    private static Tensor repeatHeads(Tensor x, int group) {
        int b = x.shape().dim(0), h = x.shape().dim(1), s = x.shape().dim(2), d = x.shape().dim(3);
        Tensor out = Tensor.zeros(x.dtype(), Shape.of(b, h * group, s, d));
        for (int i = 0; i < b; i++)
            for (int qh = 0; qh < h * group; qh++)
                for (int e = 0; e < s * d; e++) out.setDouble((i * h * group + qh) * s * d + e, x.getDouble((i * h + qh / group) * s * d + e));
        return out;
    }

    @Test void handValues() {
        // one head, one query (1, 0), keys (1, 0) and (0, 1), scale 1: logits 1 and 0, p = (e, 1) / (e + 1)
        Tensor q = Tensor.ofFloats(Shape.of(1, 1, 1, 2), 1, 0), k = Tensor.ofFloats(Shape.of(1, 1, 2, 2), 1, 0, 0, 1);
        Tensor v = Tensor.ofFloats(Shape.of(1, 1, 2, 1), 10, 20);
        List<Tensor> out = eval("Attention", attrs("scale", 1f, "qk_matmul_output_mode", 3L), 4, q, k, v);
        double p0 = Math.E / (Math.E + 1);
        assertEquals(10 * p0 + 20 * (1 - p0), out.get(0).getDouble(0), 1e-5);
        assertEquals(p0, out.get(3).getDouble(0), 1e-6);
        // the default scale is 1/sqrt(head_size): logits 1/sqrt 2 and 0
        double p = Math.exp(Math.sqrt(0.5)) / (Math.exp(Math.sqrt(0.5)) + 1);
        assertEquals(10 * p + 20 * (1 - p), eval1("Attention", Attributes.empty(), q, k, v).getDouble(0), 1e-5);
        // softcap 0.5: logit 1 becomes 0.5 tanh 2; mode 0 keeps the raw product, mode 1 the capped one
        Attributes capped = attrs("scale", 1f, "softcap", 0.5f, "qk_matmul_output_mode", 0L);
        assertEquals(1, eval("Attention", capped, 4, q, k, v).get(3).getDouble(0), 1e-6);
        assertEquals(0.5 * Math.tanh(2), eval("Attention", capped.with("qk_matmul_output_mode", org.tessel.api.AttrValue.of(1L)), 4, q, k, v).get(3).getDouble(0), 1e-6);
        // a float mask adds to the logits (mode 2 shows it), a false bool entry removes the key
        Tensor fmask = Tensor.ofFloats(Shape.of(2), 0, 1);
        List<Tensor> m = eval("Attention", attrs("scale", 1f, "qk_matmul_output_mode", 2L), 4, q, k, v, fmask);
        assertEquals(15, m.get(0).getDouble(0), 1e-5);
        assertEquals(1, m.get(3).getDouble(1), 1e-6);
        Tensor bmask = Tensor.ofLongs(DType.BOOL, Shape.of(1, 2), 0, 1);
        assertEquals(20, eval1("Attention", attrs("scale", 1f), q, k, v, bmask).getDouble(0), 1e-6);
    }

    @Test void threeDimensionalGroupedQueryIsFourDimensionalWithRepeatedHeads() {
        SplittableRandom r = new SplittableRandom(11);
        int b = 2, sq = 3, skv = 5, hq = 6, hkv = 2, d = 4, dv = 3;
        Tensor q = random(r, DType.F32, b, sq, hq * d), k = random(r, DType.F32, b, skv, hkv * d), v = random(r, DType.F32, b, skv, hkv * dv);
        Tensor y3 = eval1("Attention", attrs("q_num_heads", (long) hq, "kv_num_heads", (long) hkv), q, k, v);
        assertEquals(Shape.of(b, sq, hq * dv), y3.shape());
        Tensor y4 = eval1("Attention", Attributes.empty(), toHeads(q, hq), toHeads(k, hkv), toHeads(v, hkv));
        assertClose(toHeads(y3, hq), y4, 1e-6);
        Tensor mha = eval1("Attention", Attributes.empty(), toHeads(q, hq), repeatHeads(toHeads(k, hkv), hq / hkv), repeatHeads(toHeads(v, hkv), hq / hkv));
        assertClose(y4, mha, 1e-6);
    }

    @Test void aPastCacheIsTheWholeKeysWithTheCausalFrontierShifted() {
        SplittableRandom r = new SplittableRandom(5);
        int b = 1, h = 2, past = 4, s = 2, d = 8;
        Tensor q = random(r, DType.F32, b, h, s, d), kAll = random(r, DType.F32, b, h, past + s, d), vAll = random(r, DType.F32, b, h, past + s, d);
        Tensor pk = slice(kAll, 0, past), pv = slice(vAll, 0, past), k = slice(kAll, past, past + s), v = slice(vAll, past, past + s);
        Attributes causal = attrs("is_causal", 1L);
        List<Tensor> cached = eval("Attention", causal, 3, q, k, v, null, pk, pv);
        assertClose(kAll, cached.get(1), 0);
        assertClose(vAll, cached.get(2), 0);
        // query i (position past + i) sees keys 0..past + i: the same as a bool mask over the whole keys
        Tensor mask = Tensor.zeros(DType.BOOL, Shape.of(s, past + s));
        for (int i = 0; i < s; i++) for (int j = 0; j <= past + i; j++) mask.setDouble(i * (past + s) + j, 1);
        assertClose(eval1("Attention", Attributes.empty(), q, kAll, vAll, mask), cached.get(0), 1e-6);
        // an external cache: nonpad_kv_seqlen = past + s puts the frontier at the same place
        Tensor n = Tensor.ofLongs(DType.I64, Shape.of(1), past + s);
        assertClose(cached.get(0), eval1("Attention", causal, q, kAll, vAll, null, null, null, n), 1e-6);
    }

    @Test void aFullyMaskedRowIsZeroNotNaN() {
        SplittableRandom r = new SplittableRandom(2);
        Tensor q = random(r, DType.F32, 1, 1, 2, 4), k = random(r, DType.F32, 1, 1, 3, 4), v = random(r, DType.F32, 1, 1, 3, 4);
        Tensor mask = Tensor.ofLongs(DType.BOOL, Shape.of(2, 3), 0, 0, 0, 1, 0, 1);
        List<Tensor> out = eval("Attention", attrs("qk_matmul_output_mode", 3L), 4, q, k, v, mask);
        for (int e = 0; e < 4; e++) assertEquals(0, out.get(0).getDouble(e));
        for (int j = 0; j < 3; j++) assertEquals(0, out.get(3).getDouble(j));
        assertEquals(1, out.get(3).getDouble(3) + out.get(3).getDouble(5), 1e-6);
        // a window (left 0, right 0) leaves each query its own key only
        Tensor self = eval1("Attention", attrs("left_window_size", 0L, "right_window_size", 0L), q, k, v);
        for (int i = 0; i < 2; i++) for (int e = 0; e < 4; e++) assertEquals(v.getDouble(i * 4 + e), self.getDouble(i * 4 + e), 1e-6);
    }

    private static Tensor slice(Tensor x, int from, int to) {
        int b = x.shape().dim(0), h = x.shape().dim(1), s = x.shape().dim(2), d = x.shape().dim(3);
        Tensor out = Tensor.zeros(x.dtype(), Shape.of(b, h, to - from, d));
        for (int i = 0; i < b * h; i++)
            for (int t = from; t < to; t++)
                for (int e = 0; e < d; e++) out.setDouble((i * (to - from) + t - from) * d + e, x.getDouble((i * s + t) * d + e));
        return out;
    }

    @Test void refusesBadInput() {
        SplittableRandom r = new SplittableRandom(1);
        Tensor q3 = random(r, DType.F32, 1, 2, 6), k3 = random(r, DType.F32, 1, 3, 6), v3 = random(r, DType.F32, 1, 3, 6);
        assertMessage(error("Attention", Attributes.empty(), q3, k3, v3), "3-D inputs", "need attributes q_num_heads and kv_num_heads");
        assertMessage(error("Attention", attrs("q_num_heads", 4L, "kv_num_heads", 2L), q3, k3, v3), "Q's hidden size 6 is not a multiple of q_num_heads=4");
        assertMessage(error("Attention", attrs("q_num_heads", 2L, "kv_num_heads", 3L), random(r, DType.F32, 1, 2, 4), k3, v3), "Q's 2 heads are not a multiple of K and V's 3 heads");
        Tensor q = random(r, DType.F32, 1, 2, 3, 4), k = random(r, DType.F32, 1, 2, 5, 4), v = random(r, DType.F32, 1, 2, 5, 4);
        assertMessage(error("Attention", attrs("q_num_heads", 3L), q, k, v), "attribute q_num_heads=3 disagrees with 4-D Q");
        assertMessage(error("Attention", Attributes.empty(), q, random(r, DType.F32, 1, 2, 5, 3), v), "Q's head size 4 and K's 3 differ");
        assertMessage(error("Attention", Attributes.empty(), q, k, v, random(r, DType.F32, 2, 5)), "input attn_mask [2,5] does not broadcast onto");
        assertMessage(error("Attention", Attributes.empty(), q, k, v, random(r, DType.F32, 3, 6)), "last dimension of at most the total sequence length 5");
        assertMessage(error("Attention", Attributes.empty(), q, k, v, Tensor.ofLongs(DType.I64, Shape.of(5), 0, 0, 0, 0, 0)), "input attn_mask");
        assertMessage(error("Attention", Attributes.empty(), q, k, v, null, random(r, DType.F32, 1, 2, 1, 4)), "past_key and past_value must be given together");
        assertMessage(error("Attention", attrs("qk_matmul_output_mode", 4L), q, k, v), "qk_matmul_output_mode must be 0, 1, 2 or 3, got 4");
        assertMessage(error("Attention", attrs("left_window_size", -2L), q, k, v), "left_window_size must be -1 (unbounded) or >= 0, got -2");
        assertMessage(error("Attention", attrs("softmax_precision", 7L), q, k, v), "softmax_precision must be 1 (f32)");
        Tensor pk = random(r, DType.F32, 1, 2, 1, 4);
        assertMessage(error("Attention", Attributes.empty(), q, k, v, null, pk, pk, Tensor.ofLongs(DType.I64, Shape.of(1), 3)), "nonpad_kv_seqlen", "cannot be combined with past_key");
        assertMessage(error("Attention", Attributes.empty(), q, k, v, null, null, null, Tensor.ofLongs(DType.I64, Shape.of(1), 6)), "nonpad_kv_seqlen[0] = 6 is outside 0..5");
    }
}
