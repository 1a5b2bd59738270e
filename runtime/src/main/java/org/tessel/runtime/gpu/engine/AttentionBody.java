package org.tessel.runtime.gpu.engine;

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
 *   s  = MatMul(q', k') [Div c | Mul c] [Add mask[B|1,1,1,Sk]]     p = Softmax(s, last axis)
 *   out = Reshape(Transpose[0,2,1,3](MatMul(p, v')), [B,S,H*D])
 * </pre>
 * with q, k, v of shape [B, S, H*D] and c a scalar constant. Anything else (another op, another
 * permutation, a per-query mask, a non-constant scale, an extra node) is refused with a message.
 */
record AttentionBody(Value q, Value k, Value v, Value mask, float scale, int batch, int heads, int seqQ, int seqK, int headDim) {

    /** Parses {@code fused}'s body; the values returned are the fused node's (outer) operands. */
    static AttentionBody parse(Node fused) {
        Graph body = fused.body();
        if (body == null) throw fail(fused, "has no body");
        if (body.outputs().size() != 1) throw fail(fused, "body has " + body.outputs().size() + " outputs (expected 1)");
        Set<Node> used = new HashSet<>();
        Node merge = producer(fused, body.outputs().get(0), "Reshape", used, "the output");
        Node mergeT = producer(fused, merge.input(0), "Transpose", used, "the merge-heads Reshape's input");
        requirePerm(fused, mergeT, 0, 2, 1, 3);
        Node pv = producer(fused, mergeT.input(0), "MatMul", used, "the merge-heads Transpose's input");
        Node softmax = producer(fused, pv.input(0), "Softmax", used, "the context MatMul's first operand");
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
        Value q = head(fused, body, qk.input(0), used, new int[] {0, 2, 1, 3}, "Q");
        Value k = head(fused, body, qk.input(1), used, new int[] {0, 2, 3, 1}, "K");
        Value v = head(fused, body, pv.input(1), used, new int[] {0, 2, 1, 3}, "V");
        for (Node b : body.nodes())
            if (!used.contains(b)) throw fail(fused, "body node '" + b.name() + "' (" + b.opName() + ") is not part of the recognised attention pattern");
        int[] qd = q.type().shape().dims(), kd = k.type().shape().dims(), vd = v.type().shape().dims();
        int[] split = qk.input(0).type().shape().dims(); // [B, H, Sq, D]
        int batch = split[0], heads = split[1], sq = split[2], d = split[3], sk = kd[1];
        if (qd.length != 3 || qd[0] != batch || qd[1] != sq || qd[2] != heads * d) throw fail(fused, "Q is " + q.type().shape() + ", expected [" + batch + "," + sq + "," + heads * d + "]");
        if (kd.length != 3 || kd[0] != batch || kd[2] != heads * d) throw fail(fused, "K is " + k.type().shape() + ", expected [" + batch + ",S," + heads * d + "]");
        if (vd.length != 3 || vd[0] != batch || vd[1] != sk || vd[2] != heads * d) throw fail(fused, "V is " + v.type().shape() + ", expected [" + batch + "," + sk + "," + heads * d + "]");
        int[] od = body.outputs().get(0).type().shape().dims();
        if (!Arrays.equals(od, new int[] {batch, sq, heads * d})) throw fail(fused, "output is " + body.outputs().get(0).type().shape() + ", expected [" + batch + "," + sq + "," + heads * d + "]");
        Value mask = null;
        if (maskInner != null) {
            int[] md = maskInner.type().shape().dims();
            boolean keyMask = md.length == 4 && (md[0] == batch || md[0] == 1) && md[1] == 1 && md[2] == 1 && md[3] == sk;
            if (!keyMask) throw fail(fused, "mask " + maskInner.type().shape() + " is not a key mask [" + batch + " or 1,1,1," + sk + "]");
            mask = outer(fused, body, maskInner, "the mask");
        }
        return new AttentionBody(outer(fused, body, q, "Q"), outer(fused, body, k, "K"), outer(fused, body, v, "V"), mask, scale, batch, heads, sq, sk, d);
    }

    /** The head split of an operand: Transpose[perm](Reshape(x, [B,S,H,D])) with x a body input. */
    private static Value head(Node fused, Graph body, Value split, Set<Node> used, int[] perm, String what) {
        Node t = producer(fused, split, "Transpose", used, what + "'s head split");
        requirePerm(fused, t, perm);
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

    private static GpuEngineException fail(Node fused, String why) {
        return new GpuEngineException("cannot build a GPU engine: " + fused.describe() + " kind=attention: " + why);
    }

    static List<String> describe(AttentionBody a) {
        return List.of("B=" + a.batch, "H=" + a.heads, "Sq=" + a.seqQ, "Sk=" + a.seqK, "D=" + a.headDim, "scale=" + a.scale, "mask=" + (a.mask != null));
    }
}
