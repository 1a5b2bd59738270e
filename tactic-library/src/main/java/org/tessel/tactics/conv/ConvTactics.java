package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.conv.ConvTactic.Algo;

/**
 * The convolution tactics. Efficiencies are shares of peak at a large, aligned shape, in line with
 * what cuDNN reaches on Ampere/Hopper (implicit precomputed GEMM ~70-75% of tensor-core peak,
 * plain implicit GEMM less, Winograd high on FP32 CUDA cores because it does ~2x fewer
 * multiplies at 3x3); calibration corrects them per family.
 */
public final class ConvTactics {
    private ConvTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    public static final ConvTactic IMPLICIT_GEMM = new ConvTactic(new ConvTactic.Config("cudnn.conv.implicit_gemm",
            "cuDNN implicit GEMM: im2col on the fly, no workspace, any geometry", Algo.IMPLICIT_GEMM, ALL, BOTH, 128, 64, 32, 0.55, 0.55, 0.75));

    public static final ConvTactic IMPLICIT_PRECOMP_GEMM = new ConvTactic(new ConvTactic.Config("cudnn.conv.implicit_precomp_gemm",
            "cuDNN implicit GEMM with precomputed im2col offsets (small workspace)", Algo.IMPLICIT_PRECOMP_GEMM, ALL, BOTH, 128, 128, 32, 0.72, 0.70, 0.8));

    public static final ConvTactic WINOGRAD = new ConvTactic(new ConvTactic.Config("cudnn.conv.winograd",
            "cuDNN Winograd F(4x4,3x3), non-fused: 3x3 stride-1 ungrouped only, transforms in a workspace",
            Algo.WINOGRAD, EnumSet.of(Precision.FP32, Precision.FP16), BOTH, 0, 0, 0, 0.45, 0.95, 0.7));

    public static final ConvTactic FUSED_BIAS_ACT = new ConvTactic(new ConvTactic.Config("cudnn.conv.fused_bias_act",
            "cudnnConvolutionBiasActivationForward: conv + bias (+ residual) + Relu in one kernel", Algo.FUSED_BIAS_ACT, ALL, BOTH, 128, 128, 32, 0.70, 0.68, 0.8));

    public static final ConvTactic FUSED_EPILOGUE = new ConvTactic(new ConvTactic.Config("tessel.conv.fused_epilogue",
            "Tessel-generated NHWC implicit GEMM with any bias/residual/activation epilogue",
            Algo.FUSED_EPILOGUE, ALL, EnumSet.of(Layout.NHWC), 128, 128, 64, 0.75, 0.65, 0.85));

    public static final ConvTactic DECONV = new ConvTactic(new ConvTactic.Config("cudnn.deconv.implicit_gemm",
            "cuDNN backward-data implicit GEMM, as ConvTranspose", Algo.DGRAD, FLOAT, BOTH, 128, 64, 32, 0.55, 0.55, 0.7));

    public static final DepthwiseConvTactic DEPTHWISE_NCHW = new DepthwiseConvTactic(new DepthwiseConvTactic.Config("tessel.conv.depthwise_nchw",
            "Tessel depthwise conv, NCHW: one plane per CTA, window in registers, fused bias/activation", Layout.NCHW, FLOAT, 0.5, 0.65));

    public static final DepthwiseConvTactic DEPTHWISE_NHWC = new DepthwiseConvTactic(new DepthwiseConvTactic.Config("tessel.conv.depthwise_nhwc",
            "Tessel depthwise conv, NHWC: channel-vectorized loads, window in registers, fused bias/activation", Layout.NHWC, FLOAT, 0.5, 0.8));

    public static List<Tactic> all() {
        return List.of(IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM, WINOGRAD, FUSED_BIAS_ACT, FUSED_EPILOGUE, DECONV, DEPTHWISE_NCHW, DEPTHWISE_NHWC);
    }
}
