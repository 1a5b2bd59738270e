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
 * compute in floating point; INT8 stays on conv/GEMM tensor cores. Casts have a tactic of their
 * own ({@code tessel.cast}). The op lists are the GPU engine's: its code generator
 * (EltwiseCodegen.SUPPORTED) and the single ops its builder routes to it (TransformerLayers.ELTWISE_OPS);
 * the runtime's TacticVocabularyLintTest keeps them equal.
 */
public final class EltwiseTactics {
    private EltwiseTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<String> OWN_TACTICS = Set.of("Cast", "CastLike", "QuantizeLinear", "DequantizeLinear");

    /** Ops the GPU engine's elementwise code generator emits (inside a fused body). */
    public static final Set<String> ENGINE_BODY_OPS = Set.copyOf(java.util.List.of(
            "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu",
            "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Exp", "Log", "Sqrt",
            "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Softplus", "Softsign", "Mish", "Elu", "Selu", "Celu",
            "ThresholdedRelu", "Swish", "Sin", "Cos", "Tan", "Identity", "Cast"));
    /** Single (unfused) ops the GPU engine builds as a one-op generated kernel; Cast among them reports tessel.cast. */
    public static final Set<String> ENGINE_SINGLE_OPS = Set.of("Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Gelu", "Erf", "Cast", "Sqrt", "Exp", "Neg", "Pow");

    static boolean elementwise(Node n) {
        return n.body() == null && n.op().has(Trait.ELEMENTWISE) && !OWN_TACTICS.contains(n.opName());
    }

    private static String singleWhyNot(Node n) {
        return ENGINE_SINGLE_OPS.contains(n.opName()) ? null : "the GPU engine builds no single-op kernel for " + n.opName() + " (it fuses it into tessel.eltwise.fused)";
    }

    private static String bodyWhyNot(Node n) {
        for (Node b : n.body().nodes())
            if (!ENGINE_BODY_OPS.contains(b.opName())) return "the elementwise code generator has no " + b.opName() + " (node '" + b.name() + "')";
        return n.body().outputs().size() == 1 ? null : "the engine binds one output of a fused elementwise body (got " + n.body().outputs().size() + ")";
    }

    public static final StreamingTactic ELTWISE = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise",
            "Tessel elementwise kernel, one op, vectorized grid-stride loop", "elementwise ops", EltwiseTactics::elementwise, FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), (n, p, l) -> singleWhyNot(n), 0.5, 0.85, 1, true));

    public static final StreamingTactic FUSED = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise.fused",
            "Tessel fused elementwise chain: inputs read once, intermediates in registers", "fused eltwise",
            n -> "eltwise".equals(NodeFacts.fusedKind(n)), FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), (n, p, l) -> bodyWhyNot(n), 0.5, 0.85, 1, false));

    public static List<Tactic> all() { return List.of(ELTWISE, FUSED); }
}
