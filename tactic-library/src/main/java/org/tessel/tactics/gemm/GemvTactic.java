package org.tessel.tactics.gemm;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * {@code tessel.gemv}: Tessel's memory-bound GEMV for an unfused MatMul by constant 2-D weights at few activation rows
 * (a decoder's projections in a decode step: q/k/v, o, gate/up/down, lm_head), the weights repacked as [N, K] rows and
 * read once for all rows with 16-byte loads, f32 sums; a fused gemm_bias_act of the MatMul and Adds (a bias [N], a residual:
 * o_proj and down_proj with the residual stream) adds them before the one rounding. A tiled GEMM pads such a product to
 * its tile and reads the weights in tile order; the GEMV streams them.
 */
public final class GemvTactic extends BaseTactic {
    /** Most activation rows (all of A's dims but the last): each row is a register accumulator per weight row (the runtime's Gemv.MAX_ROWS). */
    public static final int MAX_ROWS = 8;
    /** Output columns a launch covers: a grid's x extent of blocks of 8 columns. */
    static final long MAX_COLUMNS = 8L * Integer.MAX_VALUE;

    public GemvTactic() {
        super("tessel.gemv", "Tessel GEMV for a MatMul by constant weights at up to " + MAX_ROWS
                        + " activation rows (decode projections): [N, K] weight rows streamed by 16-byte loads, read once for all rows, f32 sums",
                Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), Set.of());
    }

    @Override public boolean appliesTo(Node n) {
        if (n.body() == null) return n.opName().equals("MatMul");
        return "gemm_bias_act".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, Set.of("MatMul")) != null;
    }

    @Override protected String appliesToText() { return "MatMul, and a fused gemm_bias_act of a MatMul and Adds (a bias, a residual)"; }

    /** Activation rows: all of A's dims but the last. */
    static long rows(Node mm) {
        var a = mm.input(0).type();
        int k = a.shape().dim(-1);
        return k == 0 ? 0 : a.numElements() / k;
    }

    /** Why a fused group's body is not a MatMul followed by a bias Add and/or a residual Add; null when it is. */
    static String bodyWhyNot(Node n, Node mm) {
        int nn = mm.output().type().shape().dim(-1);
        boolean bias = false, residual = false;
        Value cur = mm.output();
        for (Node b : n.body().nodes()) {
            if (b == mm) continue;
            if (!b.opName().equals("Add")) return "fuses Adds after the MatMul only (a bias, a residual), not " + b.opName() + " ('" + b.name() + "')";
            Value other = b.input(0) == cur ? b.input(1) : b.input(1) == cur ? b.input(0) : null;
            if (other == null) return "fuses Adds that take the MatMul's result ('" + b.name() + "' does not)";
            if (NodeFacts.isConstant(n, other) && other.type().numElements() == nn && !bias) bias = true;
            else if (!NodeFacts.isConstant(n, other) && other.type().shape().equals(cur.type().shape()) && !residual) residual = true;
            else return "fuses one bias [" + nn + "] and one residual " + cur.type().shape() + " ('" + b.name() + "' adds " + other.type().shape() + ")";
            cur = b.output();
        }
        return null;
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node mm = n.body() == null ? n : NodeFacts.anchor(n, Set.of("MatMul"));
        Value a = mm.input(0), w = mm.input(1);
        for (Value v : mm.inputs())
            if (!v.type().dtype().isFloating() || v.type().dtype() == DType.F64)
                return "multiplies f32, f16 or bf16 operands (%" + v.name() + " is " + v.type().dtype().text() + ")";
        if (!NodeFacts.isConstant(n, w) || w.type().rank() != 2)
            return "multiplies by constant 2-D weights (%" + w.name() + " is " + w.type() + (NodeFacts.isConstant(n, w) ? "" : ", computed") + ")";
        if (n.body() != null) {
            String body = bodyWhyNot(n, mm);
            if (body != null) return body;
        }
        if (a.type().rank() < 2) return "takes A of rank 2 or more (got " + a.type().shape() + ")";
        long m = rows(mm);
        int k = a.type().shape().dim(-1);
        if (m < 1 || m > MAX_ROWS) return "is a decode GEMV: 1 to " + MAX_ROWS + " activation rows (A " + a.type().shape() + " has " + m + ")";
        int epc = p == Precision.FP32 ? 4 : 8;
        if (k % epc != 0) return "reads 16-byte chunks of " + epc + " elements: K=" + k + " is not a multiple of " + epc;
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // memory-bound: the weights' bytes over bandwidth, streamed in order by every SM
        return TacticFeatures.streaming(0.5, 0.9, 1);
    }
}
