package org.tessel.tactics.attention;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * Tactic that runs a fused attention group (Q K^T, scale, optional mask, softmax, times V) as one
 * flash-attention-style kernel: each CTA streams a block of queries against all keys with an
 * online softmax, so the sequence-by-sequence score matrix never reaches memory. Sized for
 * encoders: the whole key range of a block stays in shared memory, which bounds the key length.
 */
public final class FusedAttentionTactic extends BaseTactic {
    public static final int MAX_HEAD_DIM = 128, MAX_KEYS = 1024;

    public static final FusedAttentionTactic FUSED = new FusedAttentionTactic();

    private static final Set<String> MATMUL = Set.of("MatMul");

    private FusedAttentionTactic() {
        super("tessel.attention.fused", "Tessel fused attention (online softmax, scores never leave the SM): encoder-sized sequences, FP16/BF16",
                Backend.GPU, EnumSet.of(Precision.FP16, Precision.BF16), Set.of());
    }

    @Override public boolean appliesTo(Node n) { return "attention".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, MATMUL) != null; }

    @Override protected String appliesToText() { return "fused attention"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node qk = NodeFacts.anchor(n, MATMUL);
        TensorType q = qk.input(0).type(), kt = qk.input(1).type();
        if (q.rank() < 2 || kt.rank() < 2) return "needs batched matrices for Q and K^T (got " + q + " and " + kt + ")";
        long d = q.shape().dim(-1), keys = kt.shape().dim(-1);
        if (d > MAX_HEAD_DIM) return "head dimension " + d + " exceeds " + MAX_HEAD_DIM;
        if (d % 8 != 0) return "head dimension " + d + " is not a multiple of 8 (tensor-core fragments)";
        if (keys > MAX_KEYS) return "key length " + keys + " exceeds " + MAX_KEYS + ": the encoder kernel keeps a block's keys in shared memory";
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // 64 queries x 64 keys per step; the softmax rescaling between the two GEMMs costs efficiency
        return new TacticFeatures(0.5, true, 64, 64, 64, 8, 0.8, 1);
    }
}
