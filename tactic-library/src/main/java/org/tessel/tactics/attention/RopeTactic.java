package org.tessel.tactics.attention;

import java.util.EnumSet;
import org.tessel.api.Shape;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.tactics.StreamingTactic;

/**
 * {@code tessel.rope}: {@code tessel.RotaryEmbedding} (x * cos + rotate_half(x) * sin, which recognize-composites makes
 * of a decoder's Split, Neg, Concat, two Muls and an Add) as one GPU kernel, a thread per pair (i, i + D/2) of one head's
 * row, f32 math, cos and sin read from their buffers where they broadcast. Memory-bound: it reads x, cos and sin once
 * and writes y, which the cost model counts from the node's tensors.
 */
public final class RopeTactic {
    private RopeTactic() {}

    /** Most dimensions of x the kernel indexes (four leading ones and the rotated axis). */
    public static final int MAX_RANK = 5;

    public static final StreamingTactic ROPE = new StreamingTactic(new StreamingTactic.Config(
            "tessel.rope", "Tessel rotary embedding: x * cos + rotate_half(x) * sin in one kernel, a thread per rotated pair, f32 math",
            RotaryEmbeddingOps.HALF_ROTATION, n -> n.body() == null && n.opName().equals(RotaryEmbeddingOps.HALF_ROTATION),
            EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16), java.util.Set.of(), (n, p, l) -> whyNot(n), 0.5, 0.6, 1, false));

    /** Why the kernel cannot run this node's shapes (null: it can); the op's own checks already hold. */
    public static String whyNot(Node n) {
        Shape x = n.input(0).type().shape();
        if (x.rank() > MAX_RANK) return "rotates tensors of rank 1 to " + MAX_RANK + " (got rank " + x.rank() + ")";
        if (x.numElements() / 2 > Integer.MAX_VALUE) return "indexes at most 2^31 - 1 pairs (x " + x + ")";
        return null;
    }
}
