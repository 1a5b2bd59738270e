package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * Tessel's own INT8 convolution (the runtime's {@code Int8Conv} TESSEL_DP4A backend, conv_int8.cu): an implicit GEMM
 * on CUDA cores of int8 NHWC activations and int8 KRSC filters through {@code __dp4a} (four int8 products into an
 * int32), 64-pixel x 64-channel tiles staged in shared memory, exact int32 sums into an accumulator tensor, then
 * Tessel's INT8 epilogue kernel (s_x·s_w[c], f32 bias, int8 residual at its scale, ReLU or Clip, requantized to the
 * output's scale). It runs at INT8 only, NHWC, 2-D, one group, input and output channels multiples of 4 (channels
 * are read as 4-byte words), constant filters; any pads (asymmetric too, which cuDNN's int8 path refuses), strides
 * and dilations.
 *
 * <p>Pricing: no tensor cores. An IDP4A does 4 multiply-adds (8 int8 ops) and issues at half the FP32 FMA rate on
 * Ampere and Hopper, so dp4a's peak is about twice the FP32 CUDA-core peak. Measured on an H100 (2026-12-06,
 * {@code Int8ConvBench}, ResNet-50's shapes at batch 256): 75-76 TOPS on 3x3 convolutions and 43-67 TOPS on 1x1
 * ones, about 1.1 and 0.65-1.0 of the FP32 peak, so the tactic is priced at {@value #CUDA_CORE_EFFICIENCY} of it:
 * 2-4x faster than cuDNN's f32-out INT8 convolution there, 1.5-6x slower than cuDNN's FP16 one (faster only on the
 * 64 -> 64 1x1). Its memory traffic carries the int32 accumulators' write and read (8 bytes an output) besides the int8 tensors, and it launches two kernels.
 */
public final class Int8ConvTactic extends BaseTactic {
    /** The catalogue id. */
    public static final String ID = "tessel.conv.int8_dp4a";
    /** Share of the FP32 CUDA-core peak (dp4a's peak is about twice it); measured, see the class comment. */
    static final double CUDA_CORE_EFFICIENCY = 1.0;
    /** Share of bandwidth the loads and stores reach (uncoalesced-ish word gathers of the implicit GEMM). */
    static final double MEMORY_EFFICIENCY = 0.6;
    /** The kernel's tile: 64 output pixels x 64 output channels, 8 words (32 int8 channels) of the contraction a step. */
    static final int TILE_M = 64, TILE_N = 64, TILE_K = 32;
    /** Bytes of int32 accumulators written by the sums kernel and read by the epilogue, per output element. */
    static final int ACCUMULATOR_TRAFFIC = 8;

    private static final Set<String> CONV = Set.of("Conv");
    private static final Set<String> BODY_OPS = Set.of("Conv", "Add", "Relu", "Clip");

    public Int8ConvTactic() {
        super(ID, "Tessel INT8 implicit-GEMM convolution on CUDA cores (dp4a, exact int32 sums; NHWC, one group, channels multiples of 4, any pads), "
                + "then Tessel's INT8 epilogue (scale, bias, residual, ReLU/Clip, requantize)", Backend.GPU, EnumSet.of(Precision.INT8), EnumSet.of(Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return NodeFacts.isConvOrConvBiasAct(n); }

    @Override protected String appliesToText() { return "Conv and fused conv_bias_act"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node conv = NodeFacts.anchor(n, CONV);
        ConvGeometry g = ConvGeometry.of(conv);
        if (g.spatialRank() != 2) return "2-D only (got " + g.spatialRank() + "-D)";
        if (g.group() != 1) return "one group only (got group " + g.group() + ")";
        if (g.cin() % 4 != 0 || g.cout() % 4 != 0)
            return "needs input and output channels that are multiples of 4, read as 4-byte words (got " + g.cin() + " -> " + g.cout() + ")";
        String operands = NodeFacts.nonConstantConvOperands(n, conv);
        if (operands != null) return operands;
        if (n.body() != null)
            for (Node b : n.body().nodes())
                if (!BODY_OPS.contains(b.opName())) return "the INT8 epilogue takes bias, residual, Relu and Clip (the body holds " + b.opName() + ")";
        return null;
    }

    /** The int32 accumulators between the sums kernel and the epilogue: 4 bytes an output element. */
    @Override public long workspaceBytes(Node n, Precision p) { return 4L * n.output().type().numElements(); }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        Work w = Work.of(n, p);
        double io = w.bytes(), extra = (double) ACCUMULATOR_TRAFFIC * n.output().type().numElements();
        double memory = io > 0 ? MEMORY_EFFICIENCY * io / (io + extra) : MEMORY_EFFICIENCY;
        return new TacticFeatures(CUDA_CORE_EFFICIENCY, false, TILE_M, TILE_N, TILE_K, 4, memory, 2, 1);
    }
}
