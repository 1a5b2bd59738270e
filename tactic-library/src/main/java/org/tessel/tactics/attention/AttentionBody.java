package org.tessel.tactics.attention;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Recognizes the body of a {@code tessel.Fused} kind=attention node as scaled dot-product
 * attention over split heads:
 * <pre>
 *   q' = Transpose[0,2,1,3](Reshape(q, [B,S,H,D]))      k' = Transpose[0,2,3,1](Reshape(k, [B,S,H,D]))
 *   v' = Transpose[0,2,1,3](Reshape(v, [B,S,H,D]))
 *   s  = MatMul(q' [Mul c1], k' [Mul c2]) [Div c | Mul c] [Add mask]     p = Softmax(s, last axis)
 *   out = Reshape(Transpose[0,2,1,3](MatMul(p | Where(IsNaN(p), 0, p), v')), [B,S,H*D])
 * </pre>
 * with q, k, v of shape [B, S, H*D] (or already [B, S, H, D], the Reshape then absent) and c, c1, c2
 * scalar constants (scale = c1 * c2 * (c or 1/c)). Two forms of K's transpose are taken: the zoo's
 * Transpose[0,2,3,1] of the head split, and torch.dynamo's SDPA export
 * Reshape(Transpose[0,2,1](Reshape(Transpose[0,2,1,3](k), [B*H,Sk,D])), [B,H,D,Sk]) (the same values).
 * The mask is additive and broadcast over heads: a key mask [B|1,1,1,Sk] or a per-query mask
 * [B|1,1,Sq,Sk]. The guard {@code Where(IsNaN(p), 0, p)} (SDPA's) gives 0 for a row whose every score is
 * -inf, where a plain Softmax gives NaN ({@link #nanGuard}). Anything else (another op, another
 * permutation, a per-head mask, a non-constant scale, an extra node) is refused with a message
 * ({@link NotRecognized}). The GPU engine's attention layers build from what this recognizes, and the
 * attention tactics support exactly the bodies it recognizes, so the search never plans a fused
 * attention group the engine cannot build.
 */
public record AttentionBody(Value q, Value k, Value v, Value mask, boolean perQueryMask, boolean nanGuard, float scale, int batch, int heads, int seqQ,
                     int seqK, int headDim) {

    /** Parses {@code fused}'s body; the values returned are the fused node's (outer) operands. */
    public static AttentionBody parse(Node fused) {
        Graph body = fused.body();
        if (body == null) throw fail(fused, "has no body");
        if (body.outputs().size() != 1) throw fail(fused, "body has " + body.outputs().size() + " outputs (expected 1)");
        Set<Node> used = new HashSet<>();
        Node merge = producer(fused, body.outputs().get(0), "Reshape", used, "the output");
        Node mergeT = producer(fused, merge.input(0), "Transpose", used, "the merge-heads Reshape's input");
        requirePerm(fused, mergeT, 0, 2, 1, 3);
        Node pv = producer(fused, mergeT.input(0), "MatMul", used, "the merge-heads Transpose's input");
        boolean guard = false;
        Value probs = pv.input(0);
        if (probs.producer() != null && probs.producer().opName().equals("Where") && body.contains(probs.producer())) {
            // SDPA's NaN guard: Where(IsNaN(p), 0, p)
            Node where = producer(fused, probs, "Where", used, "the context MatMul's first operand");
            Node isNan = producer(fused, where.input(0), "IsNaN", used, "the guard Where's condition");
            if (isNan.input(0) != where.input(2))
                throw fail(fused, "the guard Where '" + where.name() + "' tests %" + isNan.input(0).name() + " for NaN but passes %" + where.input(2).name() + " through");
            if (scalar(fused, body, where.input(1), "the guard Where's replacement") != 0f)
                throw fail(fused, "the guard Where '" + where.name() + "' replaces NaN by " + scalar(fused, body, where.input(1), "") + " (expected 0)");
            probs = where.input(2);
            guard = true;
        }
        Node softmax = producer(fused, probs, "Softmax", used, guard ? "the guarded probabilities" : "the context MatMul's first operand");
        int rank = softmax.input(0).type().rank();
        long axis = softmax.attrs().getInt("axis", -1);
        if (axis != -1 && axis != rank - 1) throw fail(fused, "Softmax over axis " + axis + " (expected the last axis)");
        Value cur = softmax.input(0);
        Value maskInner = null;
        Node n = cur.producer();
        if (n != null && n.opName().equals("Add") && body.nodes().contains(n)) {
            used.add(n);
            Value a = n.input(0), b = n.input(1);
            boolean aScores = a.producer() != null && !isInputOrConst(body, a);
            cur = aScores ? a : b;
            maskInner = aScores ? b : a;
            n = cur.producer();
        }
        float scale = 1f;
        if (n != null && (n.opName().equals("Div") || n.opName().equals("Mul"))) {
            used.add(n);
            float c = scalar(fused, body, n.input(1), n.opName() + " by the scale");
            scale = n.opName().equals("Div") ? 1f / c : c;
            cur = n.input(0);
        }
        Node qk = producer(fused, cur, "MatMul", used, "the scores");
        // torch's SDPA scales Q and K^T by sqrt(scale) each
        Value qs = qk.input(0), ks = qk.input(1);
        Node qm = operandScale(body, qs), km = operandScale(body, ks);
        if (qm != null) { used.add(qm); scale *= scalar(fused, body, qm.input(1), "Q's scale"); qs = qm.input(0); }
        if (km != null) { used.add(km); scale *= scalar(fused, body, km.input(1), "K's scale"); ks = km.input(0); }
        Value q = head(fused, body, qs, used, new int[] {0, 2, 1, 3}, "Q");
        Value k = keyHead(fused, body, ks, used);
        Value v = head(fused, body, pv.input(1), used, new int[] {0, 2, 1, 3}, "V");
        for (Node b : body.nodes())
            if (!used.contains(b)) throw fail(fused, "body node '" + b.name() + "' (" + b.opName() + ") is not part of the recognised attention pattern");
        int[] qd = q.type().shape().dims(), kd = k.type().shape().dims(), vd = v.type().shape().dims();
        int[] split = qs.type().shape().dims(); // [B, H, Sq, D]
        if (split.length != 4) throw fail(fused, "Q's head split is " + qs.type().shape() + ", expected [B,H,S,D]");
        int batch = split[0], heads = split[1], sq = split[2], d = split[3], sk = kd.length > 1 ? kd[1] : -1;
        if (!rows(qd, batch, sq, heads, d)) throw fail(fused, "Q is " + q.type().shape() + ", expected [" + batch + "," + sq + "," + heads * d + "] or [" + batch + "," + sq + "," + heads + "," + d + "]");
        if (!rows(kd, batch, sk, heads, d)) throw fail(fused, "K is " + k.type().shape() + ", expected [" + batch + ",S," + heads * d + "] or [" + batch + ",S," + heads + "," + d + "]");
        if (!rows(vd, batch, sk, heads, d)) throw fail(fused, "V is " + v.type().shape() + ", expected [" + batch + "," + sk + "," + heads * d + "] or [" + batch + "," + sk + "," + heads + "," + d + "]");
        int[] od = body.outputs().get(0).type().shape().dims();
        // [B, Sq, H*D], or its rows merged ([B*Sq, H*D]: an exporter's Reshape before the output projection), the same bytes
        boolean merged = od.length == 2 && od[0] == batch * sq && od[1] == heads * d;
        if (!merged && !Arrays.equals(od, new int[] {batch, sq, heads * d}))
            throw fail(fused, "output is " + body.outputs().get(0).type().shape() + ", expected [" + batch + "," + sq + "," + heads * d + "] or [" + batch * sq + "," + heads * d + "]");
        Value mask = null;
        boolean perQuery = false;
        if (maskInner != null) {
            int[] md = maskInner.type().shape().dims();
            boolean broadcastOverHeads = md.length == 4 && (md[0] == batch || md[0] == 1) && md[1] == 1 && (md[2] == 1 || md[2] == sq) && md[3] == sk;
            if (!broadcastOverHeads)
                throw fail(fused, "mask " + maskInner.type().shape() + " is neither a key mask [" + batch + " or 1,1,1," + sk + "] nor a per-query mask [" + batch + " or 1,1," + sq + "," + sk + "]");
            perQuery = md[2] != 1;
            mask = outer(fused, body, maskInner, "the mask");
        }
        return new AttentionBody(outer(fused, body, q, "Q"), outer(fused, body, k, "K"), outer(fused, body, v, "V"), mask, perQuery, guard, scale, batch, heads, sq, sk, d);
    }

    /** [B, S, H*D] rows, or the same memory already viewed as [B, S, H, D]. */
    private static boolean rows(int[] x, int batch, int s, int heads, int d) {
        if (x.length == 3) return x[0] == batch && x[1] == s && x[2] == heads * d;
        return x.length == 4 && x[0] == batch && x[1] == s && x[2] == heads && x[3] == d;
    }

    /** {@code Mul(x, c)} with c a scalar constant (or a body input bound to one) producing {@code v}, else null. */
    private static Node operandScale(Graph body, Value v) {
        Node m = v.producer();
        if (m == null || !m.opName().equals("Mul") || !body.contains(m)) return null;
        Value c = m.input(1);
        return c.type().shape().rank() == 0 || c.type().numElements() == 1 ? m : null;
    }

    /**
     * K's transposed head split [B,H,D,Sk]: Transpose[0,2,3,1] of the head split, or torch.dynamo's
     * Reshape(Transpose[0,2,1](Reshape(Transpose[0,2,1,3](split), [B*H,Sk,D])), [B,H,D,Sk]).
     */
    private static Value keyHead(Node fused, Graph body, Value kt, Set<Node> used) {
        Node p = kt.producer();
        if (p == null || !p.opName().equals("Reshape") || !body.contains(p)) return head(fused, body, kt, used, new int[] {0, 2, 3, 1}, "K");
        used.add(p);
        Node t3 = producer(fused, p.input(0), "Transpose", used, "K's transposed-keys Reshape's input");
        requirePerm(fused, t3, 0, 2, 1);
        Node r3 = producer(fused, t3.input(0), "Reshape", used, "K's rank-3 Transpose's input");
        Value split = r3.input(0);
        int[] sd = split.type().shape().dims(), rd = r3.output().type().shape().dims(), od = kt.type().shape().dims();
        if (sd.length != 4) throw fail(fused, "K's head split is " + split.type().shape() + ", expected [B,H,Sk,D]");
        int b = sd[0], h = sd[1], s = sd[2], d = sd[3];
        if (!Arrays.equals(rd, new int[] {b * h, s, d})) throw fail(fused, "K's Reshape '" + r3.name() + "' gives " + r3.output().type().shape() + ", expected [" + b * h + "," + s + "," + d + "]");
        if (!Arrays.equals(od, new int[] {b, h, d, s})) throw fail(fused, "K's Reshape '" + p.name() + "' gives " + kt.type().shape() + ", expected [" + b + "," + h + "," + d + "," + s + "]");
        return head(fused, body, split, used, new int[] {0, 2, 1, 3}, "K");
    }

    /** The head split of an operand: Transpose[perm](Reshape(x, [B,S,H,D])) or Transpose[perm](x), x a body input. */
    private static Value head(Node fused, Graph body, Value split, Set<Node> used, int[] perm, String what) {
        Node t = producer(fused, split, "Transpose", used, what + "'s head split");
        requirePerm(fused, t, perm);
        if (body.inputs().contains(t.input(0)) && t.input(0).type().rank() == 4) return t.input(0); // already [B,S,H,D]
        Node r = producer(fused, t.input(0), "Reshape", used, what + "'s head split");
        if (r.output().type().rank() != 4) throw fail(fused, what + "'s Reshape gives rank " + r.output().type().rank() + " (expected [B,S,H,D])");
        Value x = r.input(0);
        if (!body.inputs().contains(x)) throw fail(fused, what + " is computed inside the body (expected a body input)");
        return x;
    }

    private static Node producer(Node fused, Value v, String op, Set<Node> used, String what) {
        Node p = v == null ? null : v.producer();
        if (p == null || !p.opName().equals(op) || !fused.body().contains(p))
            throw fail(fused, what + " is " + (p == null ? "not computed in the body" : "a " + p.opName()) + ", expected " + op);
        used.add(p);
        return p;
    }

    private static void requirePerm(Node fused, Node t, int... perm) {
        long[] p = t.attrs().getInts("perm", new long[0]);
        long[] want = Arrays.stream(perm).asLongStream().toArray();
        if (!Arrays.equals(p, want)) throw fail(fused, "Transpose '" + t.name() + "' has perm " + Arrays.toString(p) + ", expected " + Arrays.toString(want));
    }

    private static boolean isInputOrConst(Graph body, Value v) { return body.inputs().contains(v) || v.isConstant(); }

    private static float scalar(Node fused, Graph body, Value v, String what) {
        Value o = v.isConstant() ? v : outer(fused, body, v, what);
        Tensor t = o.constantValue();
        if (t == null || t.size() != 1) throw fail(fused, what + " is %" + o.name() + ", not a scalar constant");
        return t.getFloat(0);
    }

    private static Value outer(Node fused, Graph body, Value inner, String what) {
        int i = body.inputs().indexOf(inner);
        if (i < 0) throw fail(fused, what + " %" + inner.name() + " is not a body input");
        return fused.input(i);
    }

    /** A fused attention body that is not the recognized pattern; the message names the node and why. */
    public static final class NotRecognized extends IllegalArgumentException {
        private final String why;

        NotRecognized(Node fused, String why) {
            super(fused.describe() + " kind=attention: " + why);
            this.why = why;
        }

        /** What is not as the pattern expects, without the node. */
        public String why() { return why; }
    }

    private static NotRecognized fail(Node fused, String why) { return new NotRecognized(fused, why); }

    public static List<String> describe(AttentionBody a) {
        return List.of("B=" + a.batch, "H=" + a.heads, "Sq=" + a.seqQ, "Sk=" + a.seqK, "D=" + a.headDim, "scale=" + a.scale,
                "mask=" + (a.mask == null ? "none" : a.perQueryMask ? "per-query" : "key"), "nanGuard=" + a.nanGuard);
    }
}
