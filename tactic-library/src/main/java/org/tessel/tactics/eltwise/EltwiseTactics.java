package org.tessel.tactics.eltwise;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Trait;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * Elementwise kernels: one op at a time, or a fused chain in one pass over memory (which is the
 * point of fusing them: the chain reads its inputs once and writes its outputs once). They
 * compute in floating point; INT8 stays on conv/GEMM tensor cores. Casts and quantization have
 * tactics of their own ({@code tessel.cast}, {@code tessel.quantize}).
 */
public final class EltwiseTactics {
    private EltwiseTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<String> OWN_TACTICS = Set.of("Cast", "CastLike", "QuantizeLinear", "DequantizeLinear");

    static boolean elementwise(Node n) {
        return n.body() == null && n.op().has(Trait.ELEMENTWISE) && !OWN_TACTICS.contains(n.opName());
    }

    public static final StreamingTactic ELTWISE = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise",
            "Tessel elementwise kernel, one op, vectorized grid-stride loop", "elementwise ops", EltwiseTactics::elementwise, FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), null, 0.5, 0.85, 1, true));

    public static final StreamingTactic FUSED = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise.fused",
            "Tessel fused elementwise chain: inputs read once, intermediates in registers", "fused eltwise",
            n -> "eltwise".equals(NodeFacts.fusedKind(n)), FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), null, 0.5, 0.85, 1, false));

    public static List<Tactic> all() { return List.of(ELTWISE, FUSED); }
}
