package org.tessel.passes.decompose;

import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rule that writes ONNX's RotaryEmbedding (opset 23) out as ops the GPU tactics run. The angles of each token,
 * c and s [B, S, rot/2], are the caches' rows: {@code Gather(cache, position_ids, axis 0)} when position ids are given,
 * the caches themselves when not, then sliced to rot/2 columns when the caches are wider. X is viewed as
 * [B, H, S, D] (4-D, as it is) or [B, S, H, D] (3-D, a Reshape of [B, S, H*D]), its first rot elements of each head
 * rotated and the rest copied ({@code Slice}s and a {@code Concat} on the last axis when rot < D):
 * <pre>
 *   halves (pairs (i, i + rot/2)):  y = tessel.RotaryEmbedding(x, Concat(c, c), Concat(s, s))   c, s as [B,1,S,rot/2] or [B,S,1,rot/2]
 *   interleaved (pairs (2i, 2i+1)): p = Reshape(x, [B, H, S*rot/2, 2]) (4-D) or [B*S, H, rot/2, 2] (3-D);
 *                                   a = p[..., 0:1], b = p[..., 1:2];  c, s as [B, 1, S*rot/2, 1] or [B*S, 1, rot/2, 1]
 *                                   y = Reshape(Concat(a*c - b*s, a*s + b*c), x's shape)
 * </pre>
 * The halves form runs on {@code tessel.rope}. One difference on bad input: a position id outside the caches makes the
 * op fail, while Gather takes a negative one from the end.
 */
public final class DecomposeRotaryEmbedding implements RewriteRule {
    @Override public String name() { return "decompose-rotary-embedding"; }
    @Override public Set<String> rootOps() { return Set.of("RotaryEmbedding"); }

    @Override public boolean matchAndRewrite(Node n, Rewriter rw) {
        Value x = n.input(0), cos = n.input(1), sin = n.input(2), pos = n.numInputs() > 3 ? n.input(3) : null;
        Attributes a = n.attrs();
        RotaryEmbeddingOps.RotaryEmbedding.Geometry g = RotaryEmbeddingOps.RotaryEmbedding.geometry(x.type().shape(),
                a.getInt("num_heads", 0), a.getInt("rotary_embedding_dim", 0));
        boolean interleaved = a.getInt("interleaved", 0) != 0;
        int b = g.batch(), h = g.heads(), s = g.seq(), d = g.headSize(), rot = g.rot(), half = rot / 2;
        DecomposeAttention.Emit e = new DecomposeAttention.Emit(rw, n);

        // the angles of each token: [B, S, rot/2]
        Value c = angles(e, cos, pos, half), sn = angles(e, sin, pos, half);
        Value x4 = g.threeD() ? e.reshape(x, b, s, h, d) : x;
        Value rotated = rot < d ? slice(e, x4, 3, 0, rot) : x4;
        Value y;
        if (!interleaved) {
            int[] at = g.threeD() ? new int[] {b, s, 1, half} : new int[] {b, 1, s, half};
            Value cb = e.reshape(c, at), sb = e.reshape(sn, at);
            Value cosFull = concat(e, 3, cb, cb), sinFull = concat(e, 3, sb, sb);
            y = rw.insertBefore(n, RotaryEmbeddingOps.HALF_ROTATION, n.name() + "_rope", Attributes.empty(), 1, rotated, cosFull, sinFull).output();
        } else {
            int[] pairs = g.threeD() ? new int[] {b * s, h, half, 2} : new int[] {b, h, s * half, 2};
            int[] at = g.threeD() ? new int[] {b * s, 1, half, 1} : new int[] {b, 1, s * half, 1};
            Value p = e.reshape(rotated, pairs), cp = e.reshape(c, at), sp = e.reshape(sn, at);
            Value first = slice(e, p, 3, 0, 1), second = slice(e, p, 3, 1, 2);
            Value ya = e.op("Sub", Attributes.empty(), mul(e, first, cp), mul(e, second, sp));
            Value yb = e.op("Add", Attributes.empty(), mul(e, first, sp), mul(e, second, cp));
            y = e.reshape(concat(e, 3, ya, yb), g.threeD() ? new int[] {b, s, h, rot} : new int[] {b, h, s, rot});
        }
        if (rot < d) y = concat(e, 3, y, slice(e, x4, 3, rot, d));
        if (g.threeD()) y = e.reshape(y, b, s, h * d);
        rw.replace(n, y);
        rw.count("rotary-embedding-decomposed");
        return true;
    }

    /** A cache's rows for the tokens ([B, S, width]) cut to its first {@code half} columns. */
    private static Value angles(DecomposeAttention.Emit e, Value cache, Value pos, int half) {
        Value rows = pos == null ? cache : e.op("Gather", Attributes.builder().put("axis", 0L).build(), cache, pos);
        return rows.type().shape().dim(-1) > half ? slice(e, rows, 2, 0, half) : rows;
    }

    private static Value slice(DecomposeAttention.Emit e, Value x, int axis, int from, int to) {
        return e.op("Slice", Attributes.empty(), x, longs(e, "starts", from), longs(e, "ends", to), longs(e, "axes", axis));
    }

    private static Value longs(DecomposeAttention.Emit e, String what, long v) {
        return e.constant(what, Tensor.ofLongs(DType.I64, Shape.of(1), v));
    }

    private static Value concat(DecomposeAttention.Emit e, long axis, Value x, Value y) {
        return e.op("Concat", Attributes.builder().put("axis", axis).build(), x, y);
    }

    private static Value mul(DecomposeAttention.Emit e, Value x, Value y) { return e.op("Mul", Attributes.empty(), x, y); }
}
