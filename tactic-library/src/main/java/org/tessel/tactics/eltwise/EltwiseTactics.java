package org.tessel.tactics.eltwise;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.tessel.api.DType;
import org.tessel.api.Trait;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * Elementwise kernels: one op at a time, or a fused chain in one pass over memory (which is the
 * point of fusing them: the chain reads its inputs once and writes its outputs once). Floating
 * values compute in f32 (stored in the precision's type); integers compute in their own type and
 * bools are bytes, so comparisons, logic, bit operations and integer shape arithmetic run here too.
 * Casts have a tactic of their own ({@code tessel.cast}).
 *
 * <p>The op list is the GPU engine's single source of truth: its code generator (EltwiseCodegen)
 * emits exactly {@link #ENGINE_BODY_OPS}, and its builder runs {@link #ENGINE_SINGLE_OPS} as one-op
 * kernels; {@link #valueWhyNot} is the element-type rule both apply.
 */
public final class EltwiseTactics {
    private EltwiseTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    /** Elementwise ops with a tactic of their own: casts ({@code tessel.cast}). */
    private static final Set<String> OWN_TACTICS = Set.of("Cast", "CastLike");

    /** Ops the GPU engine's elementwise code generator emits (inside a fused body, or alone). */
    public static final Set<String> ENGINE_BODY_OPS = Set.copyOf(new TreeSet<>(List.of(
            "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu",
            "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Exp", "Log", "Sqrt",
            "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Softplus", "Softsign", "Mish", "Elu", "Selu", "Celu",
            "ThresholdedRelu", "Swish", "Shrink", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
            "IsNaN", "IsInf", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor",
            "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "Where", "Identity", "Cast", "CastLike",
            "QuantizeLinear", "DequantizeLinear")));

    /**
     * Single (unfused) ops the GPU engine builds as a one-op generated kernel: every generated op but Identity,
     * which alone is a view (tessel.view); Cast and CastLike among them report tessel.cast.
     */
    public static final Set<String> ENGINE_SINGLE_OPS = Set.copyOf(ENGINE_BODY_OPS.stream().filter(o -> !o.equals("Identity")).toList());

    /** The element types the generated kernels hold: floats (stored in the precision's type), integers (as i32 on the device) and bool (a byte). */
    public static final Set<DType> ENGINE_DTYPES = Set.copyOf(EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.I8, DType.U8, DType.I32, DType.I64, DType.BOOL));

    /** Null when the generated kernel holds every value {@code n} reads and writes, else which one it cannot. */
    public static String valueWhyNot(Node n) {
        for (Value v : n.inputs())
            if (v != null && !ENGINE_DTYPES.contains(v.type().dtype())) return typeReason(v);
        for (Value v : n.outputs())
            if (!ENGINE_DTYPES.contains(v.type().dtype())) return typeReason(v);
        return null;
    }

    private static String typeReason(Value v) {
        return "the GPU engine holds no " + v.type().dtype().text() + " values (%" + v.name() + "); its elementwise kernels take f32, f16, bf16, i8, u8, i32, i64 and bool";
    }

    /** Null when the code generator emits node {@code n} (an op it knows, on types it holds), else why not. */
    public static String generatorWhyNot(Node n) {
        if (!ENGINE_BODY_OPS.contains(n.opName())) return "the elementwise code generator has no " + n.opName() + " (node '" + n.name() + "')";
        if (n.body() != null || n.outputs().size() != 1) return "the elementwise code generator takes single-output ops without bodies (node '" + n.name() + "')";
        if (n.opName().equals("QuantizeLinear") || n.opName().equals("DequantizeLinear")) {
            String why = quantizationWhyNot(n);
            if (why != null) return why;
        }
        return valueWhyNot(n);
    }

    /** The generated (de)quantization is per tensor: a one-element scale and zero point; QuantizeLinear of floats. */
    private static String quantizationWhyNot(Node n) {
        Value scale = n.numInputs() > 1 ? n.input(1) : null, zp = n.numInputs() > 2 ? n.input(2) : null;
        if (scale == null) return n.opName() + " node '" + n.name() + "' has no scale";
        if (n.attrs().getInt("block_size", 0) != 0 || scale.type().numElements() != 1 || zp != null && zp.type().numElements() != 1)
            return "the elementwise kernels (de)quantize per tensor only; node '" + n.name() + "' has a scale of shape " + scale.type().shape()
                    + (n.attrs().getInt("block_size", 0) != 0 ? " and block_size " + n.attrs().getInt("block_size", 0) : "") + " (per-axis and blocked run on the CPU)";
        if (n.opName().equals("QuantizeLinear") && !n.input(0).type().dtype().isFloating())
            return "the elementwise kernels quantize floating inputs only; node '" + n.name() + "' quantizes " + n.input(0).type().dtype().text();
        return null;
    }

    static boolean elementwise(Node n) {
        return n.body() == null && n.op().has(Trait.ELEMENTWISE) && !OWN_TACTICS.contains(n.opName());
    }

    private static String singleWhyNot(Node n) {
        if (!ENGINE_SINGLE_OPS.contains(n.opName())) return "the GPU engine builds no single-op elementwise kernel for " + n.opName() + " (the code generator has no " + n.opName() + ")";
        return generatorWhyNot(n);
    }

    private static String bodyWhyNot(Node n) {
        for (Node b : n.body().nodes()) {
            String why = generatorWhyNot(b);
            if (why != null) return why;
        }
        return n.body().outputs().size() == 1 ? null : "the engine binds one output of a fused elementwise body (got " + n.body().outputs().size() + ")";
    }

    /** Null when the engine's tessel.cast builds this Cast or CastLike (a generated one-op kernel), else why not. */
    public static String castWhyNot(Node n) { return generatorWhyNot(n); }

    public static final StreamingTactic ELTWISE = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise",
            "Tessel elementwise kernel, one op, vectorized grid-stride loop", "elementwise ops", EltwiseTactics::elementwise, FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), (n, p, l) -> singleWhyNot(n), 0.5, 0.85, 1, true));

    public static final StreamingTactic FUSED = new StreamingTactic(new StreamingTactic.Config("tessel.eltwise.fused",
            "Tessel fused elementwise chain: inputs read once, intermediates in registers", "fused eltwise",
            n -> "eltwise".equals(NodeFacts.fusedKind(n)), FLOAT,
            EnumSet.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC), (n, p, l) -> bodyWhyNot(n), 0.5, 0.85, 1, false));

    public static List<Tactic> all() { return List.of(ELTWISE, FUSED); }
}
