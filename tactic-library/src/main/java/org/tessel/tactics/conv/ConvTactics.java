package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.conv.ConvTactic.Algo;

/**
 * The convolution tactics the GPU engine runs, and the cuDNN algorithm models its tuner prices.
 * Efficiencies are shares of peak at a large, aligned shape, in line with what cuDNN reaches on
 * Ampere/Hopper (implicit precomputed GEMM ~70-75% of tensor-core peak, plain implicit GEMM less,
 * Winograd high on FP32 CUDA cores because it does ~2x fewer multiplies at 3x3); calibration
 * corrects them per family.
 */
public final class ConvTactics {
    private ConvTactics() {}

    /** cuDNN's precisions: all but FP8 (its legacy API has no FP8 convolution; cublaslt.conv1x1 and cublaslt.conv.im2col run FP8). */
    private static final Set<Precision> CUDNN = EnumSet.complementOf(EnumSet.of(Precision.FP8));
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    // cuDNN forward algorithms: variants of cudnn.conv.fused_bias_act (the tuner's choice, the part after '/'), not catalogue tactics

    public static final ConvTactic IMPLICIT_GEMM = new ConvTactic(new ConvTactic.Config("cudnn.conv.implicit_gemm",
            "cuDNN implicit GEMM: im2col on the fly, no workspace, any geometry", Algo.IMPLICIT_GEMM, CUDNN, BOTH, 128, 64, 32, 0.55, 0.55, 0.75));

    public static final ConvTactic IMPLICIT_PRECOMP_GEMM = new ConvTactic(new ConvTactic.Config("cudnn.conv.implicit_precomp_gemm",
            "cuDNN implicit GEMM with precomputed im2col offsets (small workspace)", Algo.IMPLICIT_PRECOMP_GEMM, CUDNN, BOTH, 128, 128, 32, 0.72, 0.70, 0.8));

    public static final ConvTactic WINOGRAD = new ConvTactic(new ConvTactic.Config("cudnn.conv.winograd",
            "cuDNN Winograd F(4x4,3x3), non-fused: 3x3 stride-1 ungrouped only, transforms in a workspace",
            Algo.WINOGRAD, EnumSet.of(Precision.FP32, Precision.FP16), BOTH, 0, 0, 0, 0.45, 0.95, 0.7));

    // the catalogue's convolution tactics

    public static final ConvTactic FUSED_BIAS_ACT = new ConvTactic(new ConvTactic.Config("cudnn.conv.fused_bias_act",
            "cudnnConvolutionBiasActivationForward: conv + bias (+ residual) + Relu in one kernel (a plain Conv with the identity; Clip, Sigmoid, HardSwish, ... add Tessel's activation kernel)",
            Algo.FUSED_BIAS_ACT, CUDNN, BOTH, 128, 128, 32, 0.70, 0.68, 0.8));

    /**
     * The stem's tensor-core efficiency is fitted to an H100's layer profile: ResNet-50's conv1 at b256 took 485 us
     * (the pad4 form: Tessel's padding kernel, then cuDNN on 4 channels; `gpu-2026-12-06-tenth`), where 0.70 priced it at
     * 210 us (cuDNN's kernels run a K of 7 x 7 x 4 = 196 at a fraction of their large-K rate).
     */
    public static final ConvTactic STEM = new ConvTactic(new ConvTactic.Config("tessel.conv.stem",
            "f16 NHWC conv over few input channels (the RGB stem): Tessel pads the input to 4 or 8 channels (from NCHW when it is the network input), then cuDNN's fused call",
            Algo.STEM, EnumSet.of(Precision.FP16), EnumSet.of(Layout.NHWC), 128, 128, 32, 0.30, 0.68, 0.8));

    public static final DepthwiseConvTactic DEPTHWISE_NHWC = new DepthwiseConvTactic(new DepthwiseConvTactic.Config("tessel.conv.depthwise_nhwc",
            "Tessel depthwise conv, NHWC: a thread per output pixel and 8 channels (16-byte loads; 1 channel where C is not a multiple of 8 or the storage f32), fused bias and Relu/Clip (another activation as a second kernel)", Layout.NHWC, FLOAT, 0.5, 0.8));

    /** ConvTranspose as Tessel's gather kernel (the runtime's DirectDeconv): constant weights and bias, NCHW, up to three spatial axes. */
    public static final org.tessel.tactics.StreamingTactic DECONV_DIRECT = new org.tessel.tactics.StreamingTactic(new org.tessel.tactics.StreamingTactic.Config(
            "tessel.deconv.direct", "Tessel direct ConvTranspose: one output element per thread, a gather over its group's inputs and taps (f32 math)",
            "ConvTranspose", n -> n.body() == null && n.opName().equals("ConvTranspose"), EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), EnumSet.of(Layout.NCHW),
            (n, p, l) -> {
                if (n.input(0).type().rank() > 5) return "takes up to three spatial axes (X is " + n.input(0).type().shape() + ")";
                for (int i = 1; i < n.numInputs(); i++)
                    if (n.input(i) != null && !org.tessel.tactics.NodeFacts.isConstant(n, n.input(i))) return "takes constant weights and bias (%" + n.input(i).name() + " is computed)";
                return n.input(0).type().dtype() == org.tessel.api.DType.F64 ? "computes f32, f16 or bf16 (X is f64)" : null;
            }, 0.2, 0.5, 1, false));

    /** Tessel's INT8 convolution: dp4a on CUDA cores, exact int32 sums, Tessel's INT8 epilogue (INT8 only, NHWC). */
    public static final Int8ConvTactic INT8_DP4A = new Int8ConvTactic();

    /** A 1x1 stride-1 unpadded NHWC convolution as cuBLASLt's matmul over its pixels (bias, ReLU, residual in the epilogue). */
    public static final Conv1x1GemmTactic CONV_1X1_GEMM = new Conv1x1GemmTactic();

    /** A 2-D NHWC convolution as Tessel's im2col gather then cuBLASLt's matmul (split-K where cuDNN's small-batch grid is small). */
    public static final ConvIm2colGemmTactic CONV_IM2COL_GEMM = new ConvIm2colGemmTactic();

    /** Tessel's implicit-GEMM NHWC FP16 convolution on tensor cores, K split over the grid for few output pixels. */
    public static final ConvMmaTactic CONV_MMA = new ConvMmaTactic();

    /** Conv + bias + ReLU + MaxPool (a fused conv_pool, the RGB stem) as one Tessel kernel that writes only the pooled output. */
    public static final ConvPoolTactic CONV_POOL = new ConvPoolTactic();

    /** ConvTranspose as cuDNN's backward-data convolution: 1-D/2-D, NCHW, tensor cores below FP32. */
    public static final CudnnDeconvTactic DECONV_CUDNN = CudnnDeconvTactic.INSTANCE;

    public static List<Tactic> all() { return List.of(FUSED_BIAS_ACT, STEM, CONV_POOL, DEPTHWISE_NHWC, CONV_1X1_GEMM, CONV_IM2COL_GEMM, CONV_MMA, INT8_DP4A, DECONV_DIRECT, DECONV_CUDNN); }

    /** The cuDNN algorithms {@code cudnn.conv.fused_bias_act} may run, as cost models of a plain Conv (the tuner's predictions); keyed by the algorithm's id. */
    public static List<ConvTactic> algorithmModels() { return List.of(IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM, WINOGRAD); }
}
