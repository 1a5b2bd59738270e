package org.tessel.tactics.conv;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;
import org.tessel.tactics.gemm.ImmaOutput;

/**
 * A 1x1, stride-1, unpadded convolution of one group in NHWC is a matrix product over its pixels: x as stored is
 * [N*H*W, C], the filters [K, C, 1, 1] are [K, C] as stored, and y [N*H*W, K] is the NHWC output. This tactic runs it as
 * cuBLASLt's matmul (the runtime's CublasLtGemm, the filters as the transposed operand), the bias and ReLU in
 * cuBLASLt's epilogue and a residual as C with beta = 1, one call, as {@code cublaslt.gemm.bias_relu} runs a MatMul.
 *
 * <p>Why: an H100 (2026-12-06, {@code Int8ConvBench} at batch 256) ran ResNet-50's 1x1 convolutions through cuBLASLt's
 * FP16 matmul 1.3-3x faster than cuDNN's fastest FP16 NHWC algorithm for the same shape (64 -> 64 at 56x56: 82 against
 * 247 us; 1024 -> 256 at 14x14: 82 against 246 us; 256 -> 1024 at 14x14: 56 against 160 us), and the FP16 engine's 37
 * 1x1 convolutions took 5.6 of its 7.0 ms (the H100's per-layer profile of 2026-12-05). Priced as the cuBLASLt matmul
 * tactics are; the search weighs it against {@code cudnn.conv.fused_bias_act} and the measuring tuner times both.
 *
 * <p>Takes: Conv and fused conv_bias_act (Conv, a residual Add, Relu in the epilogue; Clip, Sigmoid, Tanh, HardSigmoid,
 * HardSwish, LeakyRelu or Gelu as the activation kernel after it),
 * 2-D, kernel 1x1, strides 1, no pads, one group, constant filters and bias, NHWC, FP16 and BF16 (the measured lever;
 * FP32 engines keep NCHW, where cuDNN runs on CUDA cores); input and output channels multiples of 8, the tensor cores'
 * alignment. And INT8: int8 codes of x and of the filters per output channel through cuBLASLt's IMMA kernels, which
 * requantize in their epilogue (per-channel alphas, the bias, a residual as C, ReLU, an int8 output) where the body
 * ends in ReLU or nothing, Tessel's INT8 epilogue after int32 sums where it ends in Clip; channels multiples of 4
 * (IMMA's), a body of bias, residual, Relu and Clip (an INT8 output is requantized after its activation, so no other
 * activation follows). And FP8 (E4M3, sm_89 and later; cuDNN's legacy API has none): cuBLASLt's e4m3 matmul with f32
 * accumulation and Tessel's FP8 epilogue (bias, residual, ReLU, the output's requantize); input channels, output
 * channels and pixels multiples of 16 (its kernels' alignment; {@code cublaslt.conv.im2col} takes the others, padding
 * its matrix), a body of bias, residual and Relu.
 */
public final class Conv1x1GemmTactic extends BaseTactic {
    /** The catalogue id. */
    public static final String ID = "cublaslt.conv1x1";
    /** As {@code cublaslt.gemm}'s: shares of the tensor-core peak and of bandwidth. */
    static final double TENSOR_EFFICIENCY = 0.8, MEMORY_EFFICIENCY = 0.85;
    /** cuBLASLt's tile heuristic, as {@code cublaslt.gemm}'s model has it. */
    static final int TILE_M = 128, TILE_N = 128, TILE_K = 32;
    /** The split-K workspace cuBLASLt may take, as the matmul tactics declare. */
    static final long WORKSPACE = 4L << 20;

    private static final Set<String> CONV = Set.of("Conv");
    private static final Set<String> BODY_OPS = Set.of("Conv", "Add", "Relu");
    private static final Set<String> INT8_BODY_OPS = Set.of("Conv", "Add", "Relu", "Clip");
    private static final Set<String> FP8_BODY_OPS = Set.of("Conv", "Add", "Relu");

    public Conv1x1GemmTactic() {
        super(ID, "1x1 stride-1 unpadded NHWC convolution as cuBLASLt's matmul over its pixels (bias and ReLU in the epilogue, a residual as C)",
                Backend.GPU, EnumSet.of(Precision.FP16, Precision.BF16, Precision.INT8, Precision.FP8), EnumSet.of(Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return NodeFacts.isConvOrConvBiasAct(n); }

    @Override protected String appliesToText() { return "1x1 Conv and fused conv_bias_act"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node conv = NodeFacts.anchor(n, CONV);
        ConvGeometry g = ConvGeometry.of(conv);
        String planar = NodeFacts.planarWhyNot(conv, g);
        if (planar != null) return planar;
        if (!g.kernelIs(1, 1)) return "needs a 1x1 kernel (got " + g.kernelText() + ")";
        if (!g.unitStride()) return "needs stride 1 (got " + Arrays.toString(g.strides()) + ")";
        long[] pads = conv.attrs().getInts("pads", new long[0]);
        if (Arrays.stream(pads).anyMatch(v -> v != 0)) return "needs no padding (got pads " + Arrays.toString(pads) + ")";
        if (p == Precision.FP8 && (g.cin() % 16 != 0 || Work.gemmDims(conv)[0] % 16 != 0))
            return "at fp8 needs input channels and pixels that are multiples of 16 (got " + g.cin() + " channels, " + Work.gemmDims(conv)[0] + " pixels; "
                    + ConvIm2colGemmTactic.ID + " pads them)";
        return matmulWhyNot(n, conv, g, p);
    }

    /** True when this tactic takes the convolution as it is: 1x1, stride 1, unpadded (and at FP8 channels and pixels in multiples of 16). */
    static boolean takes(Node conv, ConvGeometry g, Precision p) {
        boolean unit = g.kernelIs(1, 1) && g.unitStride() && Arrays.stream(conv.attrs().getInts("pads", new long[0])).allMatch(v -> v == 0);
        return unit && (p != Precision.FP8 || g.cin() % 16 == 0 && Work.gemmDims(conv)[0] % 16 == 0);
    }

    /**
     * What cuBLASLt's matmul over a convolution's pixels needs whatever gathers its rows (this tactic and
     * {@code cublaslt.conv.im2col}): one group, input and output channels multiples of 8 (4 at INT8; output channels 16 at
     * FP8), constant filters and bias, and a body of bias, residual and Relu in the epilogue and an activation the kernel
     * after it runs (at INT8 Relu or Clip, the requantized output's clamp; at FP8 Relu); null when all hold.
     */
    static String matmulWhyNot(Node n, Node conv, ConvGeometry g, Precision p) {
        if (g.group() != 1) return "one group only (got group " + g.group() + ")";
        if (p == Precision.FP8 && g.cout() % 16 != 0) return "at fp8 needs output channels that are a multiple of 16, cuBLASLt's e4m3 N (got " + g.cout() + ")";
        int align = p == Precision.INT8 ? 4 : 8;
        if (p != Precision.FP8 && (g.cin() % align != 0 || g.cout() % align != 0))
            return "needs input and output channels that are multiples of " + align + " at " + p.text() + " (got " + g.cin() + " -> " + g.cout() + ")";
        String operands = NodeFacts.nonConstantConvOperands(n, conv);
        if (operands != null) return operands;
        if (n.body() != null && p == Precision.INT8) {
            for (Node b : n.body().nodes())
                if (!INT8_BODY_OPS.contains(b.opName())) return "at int8 the epilogue takes bias, a residual, Relu and Clip (the body holds " + b.opName() + ")";
        } else if (n.body() != null && p == Precision.FP8) {
            for (Node b : n.body().nodes())
                if (!FP8_BODY_OPS.contains(b.opName())) return "at fp8 the epilogue takes bias, a residual and Relu (the body holds " + b.opName() + ")";
        } else if (n.body() != null)
            for (Node b : n.body().nodes())
                if (!BODY_OPS.contains(b.opName()) && !NodeFacts.POST_ACTIVATIONS.contains(b.opName()))
                    return "cuBLASLt's epilogue takes bias, a residual and Relu, and the activation kernel after it Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu or Gelu (the body holds " + b.opName() + ")";
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return WORKSPACE; }

    /** True where the INT8 matmul over this node's pixels takes the int32 form (the body ends in Clip), else the requantizing one. */
    static boolean int32Form(Node n) {
        return n.body() != null && n.body().nodes().stream().anyMatch(b -> b.opName().equals("Clip"));
    }

    /** At INT8, the node's work with its output bytes weighted as cuBLASLt's IMMA form writes them ({@link ImmaOutput}); else the work as it is. */
    static Work int8Priced(Work w, Node n, Precision p) {
        return p == Precision.INT8 ? ImmaOutput.weighted(w, int32Form(n)) : w;
    }

    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        if (p != Precision.INT8) return super.cost(model, n, p, l, cudaGraphs);
        Cost c = model.estimate(id(), int8Priced(Work.of(n, p), n, p), features(n, p, l), p, cudaGraphs);
        return c.withWorkspace(c.workspaceBytes() + workspaceBytes(n, p));
    }

    /** Kernels after the matmul: the activation kernel (a post activation), or at FP8 Tessel's epilogue. */
    static int extraLaunches(Node n, Precision p) { return p == Precision.FP8 || NodeFacts.postActivation(n) ? 1 : 0; }

    /** The matmul's alignment in elements: IMMA's 4 at INT8, the e4m3 kernels' 16 at FP8, the 16-bit tensor cores' 8. */
    static int alignment(Precision p) {
        return switch (p) {
            case INT8 -> 4;
            case FP8 -> 16;
            default -> 8;
        };
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return new TacticFeatures(TENSOR_EFFICIENCY, true, TILE_M, TILE_N, TILE_K, alignment(p), MEMORY_EFFICIENCY, 1 + extraLaunches(n, p)).withStreamK(true);
    }
}
