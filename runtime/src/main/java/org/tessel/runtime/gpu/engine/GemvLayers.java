package org.tessel.runtime.gpu.engine;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Tensor;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.EltwiseCodegen;
import org.tessel.runtime.gpu.kernels.Gemv;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.gemm.GemvTactic;

/**
 * {@code tessel.gemv}: a MatMul by constant 2-D weights at few activation rows (a decode step's projections), or a plain
 * Gemm with a constant B and C (a classifier's head at batch 1), as Tessel's GEMV ({@link Gemv}), its weights uploaded once as [N, K] rows in the layer's storage type; a fused gemm_bias_act of the
 * MatMul and Adds (a bias, a residual) adds them in the GEMV's epilogue; a fused eltwise_gemm's elementwise prologue (the
 * tree computing A) is generated into the x loader ({@link EltwiseCodegen#inlineOps}), which reads the tree's inputs instead of A;
 * a fused rmsnorm_gemm reads the norm's input as x, its scale folded into the uploaded weights, and normalizes each row's sums.
 */
public final class GemvLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.GEMV); }

    @Override public boolean computes(Node n) {
        return GemmLayers.weightsMatMul(n) || GemmTactics.GEMV.appliesTo(n);
    }

    /**
     * The rule strategy fuses every gemm_bias_act group and runs each on its fastest fused tactic, which at a few rows is this
     * GEMV; so the builder's rule takes it for a fused group the GEMV supports at the engine's precision (and leaves an
     * unfused MatMul to {@code tessel.matmul}, the rule's preference there). Registered before GemmLayers, whose rule takes the rest.
     */
    @Override public String ruleTactic(LayerContext c, Node n) {
        if (n.body() == null || !computes(n)) return null;
        return GemmTactics.GEMV.whyNot(n, Precision.valueOf(c.precision().name()), Layout.ANY) == null ? GpuTactics.GEMV : null;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.GEMV);
        // the catalogue's support rule, precision included (FP32, FP16, BF16)
        String why = GemmTactics.GEMV.whyNot(n, Precision.valueOf(c.precision().name()), Layout.ANY);
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.GEMV + " " + why);
        DType t = c.storage();
        if (n.body() == null && n.opName().equals("Gemm")) return gemm(c, n, t);
        Node mm = n.body() == null ? n : NodeFacts.anchor(n, java.util.Set.of("MatMul"));
        GemvGroup g = GemvGroup.of(n, mm, t);
        Value a = g.xs().getFirst(), w = GemvGroup.outer(n, mm.input(1)), scale = g.normScale();
        int k = a.type().shape().dim(-1), cols = w.type().shape().dim(1);
        int m = (int) (a.type().numElements() / k);
        List<DeviceBuffer> x = g.xs().stream().map(c::activation).toList();
        DeviceBuffer y = c.activation(n.output());
        // the folded form is its own upload: the same weights may run unfolded elsewhere, or under another norm's scale
        DeviceBuffer wb = scale == null ? c.upload(() -> Gemv.packWeights(w.constantValue()), w, "gemv:nk")
                : c.upload(() -> Gemv.packWeights(w.constantValue(), scale.constantValue()), w, "gemv:nk*scale:" + scale.name() + ":" + Integer.toHexString(scale.constantValue().contentHash()));
        DeviceBuffer bb = g.bias() == null ? null : c.weight(g.bias(), Layout.ANY), rb = g.residual() == null ? null : c.activation(g.residual());
        return Operands.layer(c, n, GpuTactics.GEMV, n.output(), st -> Gemv.launch(c.kernels(), t, m, cols, k, g.prologue(), g.rms(), x, wb, bb, rb, y, st));
    }

    /**
     * A plain Gemm (the catalogue's checks passed: A [M, K], alpha 1, C a constant bias [N] with beta 1): B as stored when
     * transB (already [N, K] rows), else repacked from [K, N]; C the GEMV's bias.
     */
    private static Layer gemm(LayerContext c, Node n, DType t) {
        Value a = n.input(0), w = n.input(1), bias = n.numInputs() > 2 ? n.input(2) : null;
        boolean transB = n.attrs().getInt("transB", 0) == 1;
        int k = a.type().shape().dim(-1), m = a.type().shape().dim(0), cols = n.output().type().shape().dim(-1);
        DeviceBuffer wb = transB ? c.weight(w, Layout.ANY) : c.upload(() -> Gemv.packWeights(w.constantValue()), w, "gemv:nk");
        DeviceBuffer x = c.activation(a), y = c.activation(n.output()), bb = bias == null ? null : c.weight(bias, Layout.ANY);
        return Operands.layer(c, n, GpuTactics.GEMV, n.output(), st -> Gemv.launch(c.kernels(), t, m, cols, k, x, wb, bb, null, y, st));
    }
}
