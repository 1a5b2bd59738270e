package org.tessel.tactics.gemm;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
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
import org.tessel.tactics.eltwise.EltwiseTactics;

/**
 * {@code tessel.gemv}: Tessel's memory-bound GEMV for an unfused MatMul by constant 2-D weights at few activation rows
 * (a decoder's projections in a decode step: q/k/v, o, gate/up/down, lm_head), the weights repacked as [N, K] rows and
 * read once for all rows with 16-byte loads, f32 sums; a fused gemm_bias_act of the MatMul and Adds (a bias [N], a residual:
 * o_proj and down_proj with the residual stream) adds them before the one rounding. A fused eltwise_gemm also evaluates
 * the elementwise tree that computes A (a decoder's SiLU(gate) * up before down_proj) as it loads each 16-byte chunk of
 * A, in f32, from the tree's inputs (each of A's shape): A is never written, and the group is one launch. A fused
 * rmsnorm_gemm (an RMSNormalization over the last axis by a constant scale before q/k/v or gate/up, merged or not)
 * sums x^2 in the same pass over x and scales each row's sums by rsqrt(mean x^2 + eps), the scale folded into the
 * weights: the norm's result is never written either. A tiled GEMM
 * pads such a product to its tile and reads the weights in tile order; the GEMV streams them.
 */
public final class GemvTactic extends BaseTactic {
    /** Most activation rows (all of A's dims but the last): each row is a register accumulator per weight row (the runtime's Gemv.MAX_ROWS). */
    public static final int MAX_ROWS = 8;
    /** Output columns a launch covers: a grid's x extent of blocks of 8 columns. */
    static final long MAX_COLUMNS = 8L * Integer.MAX_VALUE;
    /** Most tensors an elementwise prologue reads (the kernel's activation pointers). */
    public static final int MAX_PROLOGUE_INPUTS = 4;
    /** The fused kind of an RMSNormalization, the MatMul reading its result, and the MatMul's bias/residual Adds. */
    public static final String RMSNORM_GEMM = "rmsnorm_gemm";
    private static final Set<String> KINDS = Set.of("gemm_bias_act", "eltwise_gemm", RMSNORM_GEMM);

    public GemvTactic() {
        super("tessel.gemv", "Tessel GEMV for a MatMul by constant weights at up to " + MAX_ROWS
                        + " activation rows (decode projections): [N, K] weight rows streamed by 16-byte loads, read once for all rows, f32 sums",
                Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), Set.of());
    }

    @Override public boolean appliesTo(Node n) {
        if (n.body() == null) return n.opName().equals("MatMul") || n.opName().equals("Gemm");
        return KINDS.contains(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, Set.of("MatMul")) != null;
    }

    @Override protected String appliesToText() {
        return "MatMul, a plain Gemm (A not transposed, alpha 1, C a bias), a fused gemm_bias_act of a MatMul and Adds (a bias, a residual), a fused eltwise_gemm (the same after an elementwise prologue computing A) "
                + "and a fused rmsnorm_gemm (the same after an RMSNormalization computing A)";
    }

    /** The RMSNormalization of a fused rmsnorm_gemm (its first body node); null for any other node. */
    public static Node rmsNorm(Node n) {
        return RMSNORM_GEMM.equals(NodeFacts.fusedKind(n)) ? n.body().nodes().getFirst() : null;
    }

    /**
     * Why the norm of a fused rmsnorm_gemm is not one the GEMV computes in its pass over x (r = rsqrt(mean x^2 + eps) per
     * row, f32 statistics, scaling the sums; the scale folded into the weights at build time); null when it is.
     */
    static String rmsNormWhyNot(Node n, Node mm, Node norm) {
        if (!norm.opName().equals("RMSNormalization")) return "normalizes with an RMSNormalization first ('" + norm.name() + "' is " + norm.opName() + ")";
        if (mm.input(0) != norm.output()) return "multiplies the norm's result ('" + mm.name() + "' reads %" + outerName(n, mm.input(0)) + ")";
        Value x = norm.input(0), scale = norm.input(1);
        int rank = x.type().rank();
        long axis = norm.attrs().getInt("axis", -1);
        if (axis != -1 && axis != rank - 1) return "normalizes the last axis only ('" + norm.name() + "' has axis " + axis + " of rank " + rank + ")";
        long stash = norm.attrs().getInt("stash_type", 1);
        if (stash != 1) return "keeps the norm's statistics in f32 ('" + norm.name() + "' asks for stash_type " + stash + ")";
        if (!x.type().dtype().isFloating() || x.type().dtype() == DType.F64)
            return "normalizes f32, f16 or bf16 ('" + norm.name() + "' reads %" + outerName(n, x) + " of " + x.type().dtype().text() + ")";
        if (!NodeFacts.isConstant(n, scale))
            return "takes a constant norm scale ('" + norm.name() + "' scales by %" + outerName(n, scale) + ", computed)";
        var ss = scale.type().shape();
        int k = x.type().shape().dim(-1);
        boolean perK = ss.rank() >= 1 && ss.dim(-1) == k && scale.type().numElements() == k;
        if (!perK) return "takes a norm scale of one value per element of the last axis ('" + norm.name() + "' scales by %" + outerName(n, scale) + " of shape " + ss + ", K=" + k + ")";
        return null;
    }

    /** The body nodes before the MatMul of a fused group (an eltwise_gemm's prologue), in order; empty for an unfused MatMul and a rmsnorm_gemm. */
    public static List<Node> prologue(Node n, Node mm) {
        if (n.body() == null || rmsNorm(n) != null) return List.of();
        List<Node> ns = n.body().nodes();
        return ns.subList(0, ns.indexOf(mm));
    }

    /**
     * The distinct tensors the prologue reads from outside it (body values, in order of first use), scalar constants
     * left out (they become literals); empty for a group without a prologue.
     */
    public static List<Value> prologueInputs(Node n, List<Node> prologue) {
        List<Value> out = new ArrayList<>();
        for (Node b : prologue)
            for (Value v : b.inputs())
                if (v != null && !prologue.contains(v.producer()) && !NodeFacts.isConstant(n, v) && !out.contains(v)) out.add(v);
        return out;
    }

    private static String outerName(Node n, Value v) {
        Value o = NodeFacts.outer(n, v);
        return (o != null ? o : v).name();
    }

    /** Why the prologue of a fused group is not an elementwise tree the x loader can evaluate per chunk; null when it is. */
    static String prologueWhyNot(Node n, Node mm, List<Node> prologue) {
        Value a = mm.input(0);
        var as = a.type().shape();
        if (!prologue.contains(a.producer())) return "multiplies the prologue's result ('" + mm.name() + "' reads %" + outerName(n, a) + ")";
        for (Node b : prologue) {
            String gen = EltwiseTactics.generatorWhyNot(b);
            if (gen != null) return "evaluates prologues the elementwise generator emits: " + gen;
            if (b.outputs().size() != 1 || !b.output().type().dtype().isFloating() || !b.output().type().shape().equals(as))
                return "evaluates a floating prologue of A's shape " + as + " ('" + b.name() + "' computes " + b.output().type() + ")";
            for (Value v : b.inputs()) {
                if (v == null || prologue.contains(v.producer())) continue;
                if (NodeFacts.isConstant(n, v)) {
                    if (v.type().numElements() != 1)
                        return "reads scalar constants in its prologue ('" + b.name() + "' reads %" + outerName(n, v) + " of shape " + v.type().shape() + ")";
                } else if (!v.type().shape().equals(as)) {
                    return "reads prologue inputs of A's shape " + as + " ('" + b.name() + "' reads %" + outerName(n, v) + " of shape " + v.type().shape() + ")";
                } else if (!v.type().dtype().isFloating() || v.type().dtype() == DType.F64) {
                    return "reads f32, f16 or bf16 prologue inputs ('" + b.name() + "' reads %" + outerName(n, v) + " of " + v.type().dtype().text() + ")";
                }
            }
        }
        int ins = prologueInputs(n, prologue).size();
        if (ins > MAX_PROLOGUE_INPUTS) return "reads at most " + MAX_PROLOGUE_INPUTS + " tensors in its prologue (it reads " + ins + ")";
        return null;
    }

    /** Why a fused group's body is not a MatMul followed by a bias Add and/or a residual Add; null when it is. */
    static String bodyWhyNot(Node n, Node mm) {
        Node norm0 = rmsNorm(n);
        if (norm0 != null && n.body().outputs().contains(norm0.output()))
            return "normalizes for the MatMul alone ('" + norm0.name() + "' writes %" + norm0.output().name() + ", which is used outside the group too)";
        if (n.body().outputs().size() != 1)
            return "writes one result (the group's " + n.body().outputs().stream().map(v -> "%" + v.name()).toList() + " are used outside it)";
        Node norm = norm0;
        List<Node> ns = n.body().nodes();
        if (norm != null) {
            if (ns.indexOf(mm) != 1) return "fuses an RMSNormalization and the MatMul reading it (" + ns.subList(0, ns.indexOf(mm)).stream().map(b -> "'" + b.name() + "'").toList() + " precede the MatMul)";
            String why = rmsNormWhyNot(n, mm, norm);
            if (why != null) return why;
        }
        List<Node> prologue = prologue(n, mm);
        if (!prologue.isEmpty()) {
            String why = prologueWhyNot(n, mm, prologue);
            if (why != null) return why;
        }
        int nn = mm.output().type().shape().dim(-1);
        boolean bias = false, residual = false;
        Value cur = mm.output();
        for (Node b : ns.subList(ns.indexOf(mm) + 1, ns.size())) {
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

    /**
     * Why a plain Gemm is not one the GEMV runs: A [M, K] not transposed, constant B ([N, K] with transB, read as stored;
     * else [K, N], repacked), alpha 1, and C absent or a constant bias of N values added with beta 1 (a classifier's
     * head at batch 1: ResNet-50's fc, 2048 x 1000); null when it is.
     */
    static String gemmWhyNot(Node n, Precision p) {
        Value a = n.input(0), w = n.input(1), c = n.numInputs() > 2 ? n.input(2) : null;
        if (n.attrs().getInt("transA", 0) != 0) return "takes A not transposed (Gemm '" + n.name() + "' has transA=1)";
        if (n.attrs().getFloat("alpha", 1f) != 1f) return "takes alpha 1 (Gemm '" + n.name() + "' has alpha=" + n.attrs().getFloat("alpha", 1f) + ")";
        if (c != null && n.attrs().getFloat("beta", 1f) != 1f) return "adds C with beta 1 (Gemm '" + n.name() + "' has beta=" + n.attrs().getFloat("beta", 1f) + ")";
        for (Value v : n.inputs())
            if (v != null && (!v.type().dtype().isFloating() || v.type().dtype() == DType.F64))
                return "multiplies f32, f16 or bf16 operands (%" + v.name() + " is " + v.type().dtype().text() + ")";
        if (!NodeFacts.isConstant(n, w) || w.type().rank() != 2)
            return "multiplies by constant 2-D weights (%" + w.name() + " is " + w.type() + (NodeFacts.isConstant(n, w) ? "" : ", computed") + ")";
        int cols = n.output().type().shape().dim(-1);
        if (c != null && (!NodeFacts.isConstant(n, c) || c.type().numElements() != cols))
            return "adds a constant bias of N = " + cols + " values as C (%" + c.name() + " is " + c.type() + (NodeFacts.isConstant(n, c) ? "" : ", computed") + ")";
        if (a.type().rank() != 2) return "takes a 2-D A (got " + a.type().shape() + ")";
        return rowsWhyNot(a, p);
    }

    /** Why A's rows and K are not the GEMV's: 1 to {@value #MAX_ROWS} rows, K in 16-byte chunks; null when they are. */
    private static String rowsWhyNot(Value a, Precision p) {
        int k = a.type().shape().dim(-1);
        long m = k == 0 ? 0 : a.type().numElements() / k;
        if (m < 1 || m > MAX_ROWS) return "is a decode GEMV: 1 to " + MAX_ROWS + " activation rows (A " + a.type().shape() + " has " + m + ")";
        int epc = p == Precision.FP32 ? 4 : 8;
        if (k % epc != 0) return "reads 16-byte chunks of " + epc + " elements: K=" + k + " is not a multiple of " + epc;
        return null;
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        if (n.body() == null && n.opName().equals("Gemm")) return gemmWhyNot(n, p);
        Node mm = n.body() == null ? n : NodeFacts.anchor(n, Set.of("MatMul"));
        Value a = mm.input(0), w = mm.input(1);
        for (Value v : mm.inputs())
            if (v != null && !v.type().dtype().isFloating() || v.type().dtype() == DType.F64)
                return "multiplies f32, f16 or bf16 operands (%" + v.name() + " is " + v.type().dtype().text() + ")";
        if (!NodeFacts.isConstant(n, w) || w.type().rank() != 2)
            return "multiplies by constant 2-D weights (%" + w.name() + " is " + w.type() + (NodeFacts.isConstant(n, w) ? "" : ", computed") + ")";
        if (n.body() != null) {
            String body = bodyWhyNot(n, mm);
            if (body != null) return body;
        }
        if (a.type().rank() < 2) return "takes A of rank 2 or more (got " + a.type().shape() + ")";
        return rowsWhyNot(a, p);
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // memory-bound: the weights' bytes over bandwidth, streamed in order by every SM
        return TacticFeatures.streaming(0.5, 0.9, 1);
    }
}
