package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;
import static org.tessel.api.Layout.NCHW;
import static org.tessel.api.Layout.NHWC;
import static org.tessel.cost.Precision.*;

import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.Node;
import org.tessel.tactics.conv.ConvTactics;

class ConvTacticsTest {
    static final CostModel H100 = new CostModel(DeviceSpec.h100Sxm());

    @Test void winogradOnlyFor3x3Stride1Ungrouped() {
        assertNull(ConvTactics.WINOGRAD.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 1), FP32, NCHW));
        assertEquals("Winograd needs a 3x3 kernel (got 7x7)", ConvTactics.WINOGRAD.whyNot(Nodes.conv(1, 3, 224, 64, 7, 2, 1), FP32, NCHW));
        assertEquals("Winograd needs stride 1 (got [2, 2])", ConvTactics.WINOGRAD.whyNot(Nodes.conv(1, 64, 56, 64, 3, 2, 1), FP32, NCHW));
        assertEquals("Winograd does not support grouped convolution (group 32)", ConvTactics.WINOGRAD.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 32), FP16, NHWC));
        assertEquals("supports FP32, FP16 only (got bf16)", ConvTactics.WINOGRAD.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 1), BF16, NHWC));
    }

    @Test void int8NeedsNhwcAndChannelsInFours() {
        Node ok = Nodes.conv(1, 64, 56, 64, 3, 1, 1);
        assertNull(ConvTactics.IMPLICIT_PRECOMP_GEMM.whyNot(ok, INT8, NHWC));
        assertEquals("INT8 needs NHWC layout (cuDNN's int8 convolutions are channels-last)", ConvTactics.IMPLICIT_PRECOMP_GEMM.whyNot(ok, INT8, NCHW));
        assertEquals("INT8 needs input and output channels per group that are multiples of 4 (got 3 -> 64)",
                ConvTactics.IMPLICIT_PRECOMP_GEMM.whyNot(Nodes.conv(1, 3, 224, 64, 7, 2, 1), INT8, NHWC));
    }

    @Test void fp8RunsAnyKernelSizeAsCublasLtE4m3MatmulsOverPixelsNhwcWithOutputChannelsInSixteens() {
        // cuDNN's legacy API has no FP8 convolution: the catalogue says so, and names the tactics that have one
        Node stem = Nodes.conv(2, 3, 224, 64, 7, 2, 1);
        assertEquals("supports FP32, TF32, FP16, BF16, INT8 only (got fp8)", ConvTactics.FUSED_BIAS_ACT.whyNot(stem, FP8, NHWC));
        // the 7x7 RGB stem: K = 147 is padded to 160 in the im2col matrix, so three input channels are fine at FP8
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(stem, FP8, NHWC));
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.CONV_IM2COL_GEMM.whyNot(stem, FP8, NCHW));
        assertEquals("at fp8 needs output channels that are a multiple of 16, cuBLASLt's e4m3 N (got 24)",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 64, 56, 24, 3, 1, 1), FP8, NHWC));
        assertEquals("at fp8 the epilogue takes bias, a residual and Relu (the body holds Clip)",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Clip", Attributes.empty()), FP8, NHWC));
        // the im2col matrix of e4m3 codes is the workspace (rows: 2 x 112 x 112 pixels; columns: 147 -> 160), beside cuBLASLt's
        assertEquals((4L << 20) + 2L * 112 * 112 * 160, ConvTactics.CONV_IM2COL_GEMM.workspaceBytes(stem, FP8));
        // a 1x1 over channels and pixels in sixteens is a GEMM over x as stored; the others are padded in the im2col matrix
        Node unit = Nodes.conv(1, 64, 56, 64, 1, 1, 1);
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(unit, FP8, NHWC));
        assertEquals("a 1x1, stride-1, unpadded convolution needs no gather: its input is the matrix (cublaslt.conv1x1 runs it)", ConvTactics.CONV_IM2COL_GEMM.whyNot(unit, FP8, NHWC));
        Node odd = Nodes.conv(1, 24, 5, 16, 1, 1, 1);
        assertEquals("at fp8 needs input channels and pixels that are multiples of 16 (got 24 channels, 25 pixels; cublaslt.conv.im2col pads them)",
                ConvTactics.CONV_1X1_GEMM.whyNot(odd, FP8, NHWC));
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(odd, FP8, NHWC));
        // the e4m3 matmul then Tessel's FP8 epilogue: two launches over x as stored, three after the gather
        assertEquals(2, ConvTactics.CONV_1X1_GEMM.features(unit, FP8, NHWC).kernelLaunches());
        assertEquals(3, ConvTactics.CONV_IM2COL_GEMM.features(stem, FP8, NHWC).kernelLaunches());
        // asymmetric pads: cuDNN's fused call refuses them, the FP8 im2col takes them
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("asym");
        org.tessel.ir.Value x = b.input("x", org.tessel.api.DType.F32, 1, 32, 15, 15);
        Node asym = b.node("Conv", "conv", Attributes.builder().put("strides", 2, 2).put("pads", 0, 0, 1, 1).build(), 1, x, b.randomWeights("w", 32, 32, 3, 3));
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(asym, FP8, NHWC));
        assertEquals("cuDNN takes symmetric pads (got [0, 0, 1, 1])", ConvTactics.FUSED_BIAS_ACT.whyNot(asym, FP16, NHWC));
    }

    @Test void tesselsInt8ConvolutionRunsInt8NhwcOneGroupChannelsInFoursOnCudaCores() {
        Node ok = Nodes.conv(8, 64, 56, 64, 3, 1, 1);
        Node fused = Nodes.convBiasAct(8, 64, 56, 64, 3, 1, 1, "Clip", Attributes.empty());
        assertNull(ConvTactics.INT8_DP4A.whyNot(ok, INT8, NHWC));
        assertNull(ConvTactics.INT8_DP4A.whyNot(fused, INT8, NHWC));
        assertEquals("INT8 only (got fp16)", ConvTactics.INT8_DP4A.whyNot(ok, FP16, NHWC));
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.INT8_DP4A.whyNot(ok, INT8, NCHW));
        assertEquals("one group only (got group 32)", ConvTactics.INT8_DP4A.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 32), INT8, NHWC));
        assertEquals("needs input and output channels that are multiples of 4, read as 4-byte words (got 3 -> 64)",
                ConvTactics.INT8_DP4A.whyNot(Nodes.conv(1, 3, 224, 64, 7, 2, 1), INT8, NHWC));
        assertEquals("the INT8 epilogue takes bias, residual, Relu and Clip (the body holds Sigmoid)",
                ConvTactics.INT8_DP4A.whyNot(Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Sigmoid", Attributes.empty()), INT8, NHWC));
        // CUDA cores, no split-K, the epilogue a second launch, the int32 sums as workspace
        var f = ConvTactics.INT8_DP4A.features(ok, INT8, NHWC);
        assertTrue(!f.tensorCores() && f.maxSplitK() == 1 && f.kernelLaunches() == 2, f.toString());
        assertEquals(4L * 8 * 64 * 56 * 56, ConvTactics.INT8_DP4A.workspaceBytes(ok, INT8));
        // as an H100 ran them (Int8ConvBench, 2026-12-06): faster than cuDNN's f32-out INT8 convolution on CUDA cores (2-4x),
        // slower than cuDNN's FP16 tensor-core one; its own accumulator traffic counted
        double dp4a = ConvTactics.INT8_DP4A.cost(H100, ok, INT8, NHWC, false).totalUs(), cudnn = ConvTactics.FUSED_BIAS_ACT.cost(H100, ok, INT8, NHWC, false).totalUs();
        double fp16 = ConvTactics.FUSED_BIAS_ACT.cost(H100, ok, FP16, NHWC, false).totalUs();
        assertTrue(cudnn > 1.5 * dp4a && dp4a > 1.5 * fp16, "dp4a " + dp4a + " us vs cuDNN INT8 " + cudnn + " us and cuDNN FP16 " + fp16 + " us");
        assertTrue(f.memoryEfficiency() < ConvTactics.FUSED_BIAS_ACT.features(ok, INT8, NHWC).memoryEfficiency(), "the int32 round trip costs bandwidth");
    }

    @Test void oneByOneConvolutionsRunAsCublasLtMatmulsInNhwc() {
        Node c = Nodes.conv(256, 1024, 14, 256, 1, 1, 1);
        Node fused = Nodes.convBiasAct(256, 64, 56, 256, 1, 1, 1, "Relu", Attributes.empty());
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(c, FP16, NHWC));
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(fused, BF16, NHWC));
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.CONV_1X1_GEMM.whyNot(c, FP16, NCHW));
        assertEquals("supports FP16, BF16, INT8, FP8 only (got fp32)", ConvTactics.CONV_1X1_GEMM.whyNot(c, FP32, NHWC));
        assertEquals("needs a 1x1 kernel (got 3x3)", ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 1), FP16, NHWC));
        assertEquals("needs stride 1 (got [2, 2])", ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 256, 56, 512, 1, 2, 1), FP16, NHWC));
        assertEquals("one group only (got group 2)", ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 64, 56, 64, 1, 1, 2), FP16, NHWC));
        assertEquals("needs input and output channels that are multiples of 8 at fp16 (got 12 -> 64)",
                ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 12, 56, 64, 1, 1, 1), FP16, NHWC));
        // Clip (and Sigmoid, HardSwish, ...) is the activation kernel after cuBLASLt's epilogue: one more launch; PRelu has none
        Node clip = Nodes.convBiasAct(1, 64, 56, 64, 1, 1, 1, "Clip", Attributes.empty());
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(clip, FP16, NHWC));
        assertEquals(2, ConvTactics.CONV_1X1_GEMM.features(clip, FP16, NHWC).kernelLaunches());
        assertEquals("cuBLASLt's epilogue takes bias, a residual and Relu, and the activation kernel after it Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu or Gelu (the body holds PRelu)",
                ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.convBiasAct(1, 64, 56, 64, 1, 1, 1, "PRelu", Attributes.empty()), FP16, NHWC));
        // a matmul on tensor cores: priced no dearer than cuDNN's fused call at FP16 (an H100 ran it 1.3-3x faster at b256)
        var f = ConvTactics.CONV_1X1_GEMM.features(c, FP16, NHWC);
        assertTrue(f.tensorCores() && f.kernelLaunches() == 1, f.toString());
        double gemm = ConvTactics.CONV_1X1_GEMM.cost(H100, c, FP16, NHWC, false).totalUs(), cudnn = ConvTactics.FUSED_BIAS_ACT.cost(H100, c, FP16, NHWC, false).totalUs();
        assertTrue(gemm <= cudnn, "cuBLASLt " + gemm + " us vs cuDNN " + cudnn + " us");
    }

    @Test void convolutionsRunAsAnIm2colGatherAndACublasLtMatmul() {
        Node c = Nodes.conv(1, 512, 7, 512, 3, 1, 1);
        Node fused = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Relu", Attributes.empty());
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(c, FP16, NHWC));
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(fused, BF16, NHWC));
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 256, 56, 512, 1, 2, 1), FP16, NHWC), "a strided 1x1 too");
        assertEquals("a 1x1, stride-1, unpadded convolution needs no gather: its input is the matrix (cublaslt.conv1x1 runs it)",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 256, 56, 64, 1, 1, 1), FP16, NHWC));
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.CONV_IM2COL_GEMM.whyNot(c, FP16, NCHW));
        assertEquals("supports FP16, BF16, INT8, FP8 only (got fp32)", ConvTactics.CONV_IM2COL_GEMM.whyNot(c, FP32, NHWC));
        assertEquals("one group only (got group 2)", ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 2), FP16, NHWC));
        assertEquals("needs input and output channels that are multiples of 8 at fp16 (got 3 -> 64)",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 3, 224, 64, 7, 2, 1), FP16, NHWC));
        // a batch is gathered in slices of whole images (about 24 MiB of matrix each, in L2); one image's matrix is bounded
        Node b256 = Nodes.conv(256, 64, 56, 64, 3, 1, 1);
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(b256, FP16, NHWC));
        assertEquals((4L << 20) + (24L << 20), ConvTactics.CONV_IM2COL_GEMM.workspaceBytes(b256, FP16));
        assertEquals("its im2col matrix of one image takes 1152 MiB of workspace, more than 256 MiB",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 64, 1024, 64, 3, 1, 1), FP16, NHWC));
        // two launches (three with an activation kernel); the workspace holds the matrix (49 pixels x 4608 columns, f16) and cuBLASLt's
        assertEquals(2, ConvTactics.CONV_IM2COL_GEMM.features(c, FP16, NHWC).kernelLaunches());
        assertEquals(3, ConvTactics.CONV_IM2COL_GEMM.features(Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Sigmoid", Attributes.empty()), FP16, NHWC).kernelLaunches());
        assertEquals((4L << 20) + 2L * 49 * 4608, ConvTactics.CONV_IM2COL_GEMM.workspaceBytes(c, FP16));
        // few output pixels: cuDNN's grid of 4 CTAs against a split-K matmul, priced cheaper; many pixels: the gather's
        // traffic (9x the input) priced dearer than cuDNN's implicit GEMM
        double small = ConvTactics.CONV_IM2COL_GEMM.cost(H100, c, FP16, NHWC, true).totalUs(), smallCudnn = ConvTactics.FUSED_BIAS_ACT.cost(H100, c, FP16, NHWC, true).totalUs();
        assertTrue(small < smallCudnn, "7x7x512 3x3 at batch 1: im2col " + small + " us vs cuDNN " + smallCudnn + " us");
        Node big = Nodes.conv(64, 64, 56, 64, 3, 1, 1);
        double large = ConvTactics.CONV_IM2COL_GEMM.cost(H100, big, FP16, NHWC, true).totalUs(), largeCudnn = ConvTactics.FUSED_BIAS_ACT.cost(H100, big, FP16, NHWC, true).totalUs();
        assertTrue(large > largeCudnn, "56x56x64 3x3 at batch 64: im2col " + large + " us vs cuDNN " + largeCudnn + " us");
    }

    @Test void int8ConvolutionsRunAsCublasLtImmaMatmulsOverPixels() {
        Node c = Nodes.conv(256, 1024, 14, 256, 1, 1, 1);
        Node fused = Nodes.convBiasAct(256, 64, 56, 256, 1, 1, 1, "Relu", Attributes.empty());
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(c, INT8, NHWC));
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(fused, INT8, NHWC));
        // IMMA's alignment is 4 channels; the requantized output leaves room for Relu and Clip only
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 12, 56, 64, 1, 1, 1), INT8, NHWC));
        assertEquals("needs input and output channels that are multiples of 4 at int8 (got 6 -> 64)",
                ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.conv(1, 6, 56, 64, 1, 1, 1), INT8, NHWC));
        assertNull(ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.convBiasAct(1, 64, 56, 64, 1, 1, 1, "Clip", Attributes.empty()), INT8, NHWC));
        assertEquals("at int8 the epilogue takes bias, a residual, Relu and Clip (the body holds Sigmoid)",
                ConvTactics.CONV_1X1_GEMM.whyNot(Nodes.convBiasAct(1, 64, 56, 64, 1, 1, 1, "Sigmoid", Attributes.empty()), INT8, NHWC));
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.CONV_1X1_GEMM.whyNot(c, INT8, NCHW));
        // the im2col matrix holds int8 codes: a byte an element (49 pixels x 4608 columns at batch 1)
        Node c3 = Nodes.conv(1, 512, 7, 512, 3, 1, 1);
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(c3, INT8, NHWC));
        assertEquals((4L << 20) + 49L * 4608, ConvTactics.CONV_IM2COL_GEMM.workspaceBytes(c3, INT8));
        assertNull(ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(256, 64, 56, 64, 3, 1, 1), INT8, NHWC));
        assertEquals("its im2col matrix of one image takes 576 MiB of workspace, more than 256 MiB",
                ConvTactics.CONV_IM2COL_GEMM.whyNot(Nodes.conv(1, 64, 1024, 64, 3, 1, 1), INT8, NHWC));
        // IMMA at twice FP16's tensor rate and half its bytes: priced below the FP16 matmul, and far below cuDNN's INT8
        // convolution with an f32 output (CUDA cores) and Tessel's dp4a one
        double int8 = ConvTactics.CONV_1X1_GEMM.cost(H100, c, INT8, NHWC, false).totalUs(), fp16 = ConvTactics.CONV_1X1_GEMM.cost(H100, c, FP16, NHWC, false).totalUs();
        double dp4a = ConvTactics.INT8_DP4A.cost(H100, c, INT8, NHWC, false).totalUs(), cudnn = ConvTactics.FUSED_BIAS_ACT.cost(H100, c, INT8, NHWC, false).totalUs();
        assertTrue(int8 < fp16 && int8 < dp4a && int8 < cudnn, "1024 -> 256 1x1 at b256: INT8 matmul " + int8 + " us, FP16 " + fp16 + ", dp4a " + dp4a + ", cuDNN INT8 " + cudnn);
        Node b256 = Nodes.conv(256, 128, 28, 128, 3, 1, 1);
        double im2col8 = ConvTactics.CONV_IM2COL_GEMM.cost(H100, b256, INT8, NHWC, true).totalUs(), im2col16 = ConvTactics.CONV_IM2COL_GEMM.cost(H100, b256, FP16, NHWC, true).totalUs();
        assertTrue(im2col8 < im2col16, "128 -> 128 3x3 at b256: im2col INT8 " + im2col8 + " us vs FP16 " + im2col16 + " us");
    }

    @Test void layoutIsCheckedWhereItMatters() {
        Node c = Nodes.conv(1, 64, 56, 64, 1, 1, 1);
        assertEquals("needs NHWC layout (got NCHW)", ConvTactics.DEPTHWISE_NHWC.whyNot(Nodes.conv(1, 32, 56, 32, 3, 1, 32), FP16, NCHW));
        assertEquals("needs NCHW or NHWC layout (got ANY)", ConvTactics.IMPLICIT_GEMM.whyNot(c, FP16, org.tessel.api.Layout.ANY));
        assertTrue(ConvTactics.IMPLICIT_GEMM.whyNot(Nodes.gemm(8, 8, 8), FP16, NCHW).startsWith("cudnn.conv.implicit_gemm implements Conv, not MatMul"));
    }

    @Test void cudnnFusedEntryPointTakesReluOrClip() {
        Node relu = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Relu", Attributes.empty());
        Node clip = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Clip", Attributes.empty());
        Node none = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, null, Attributes.empty());
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(relu, FP16, NHWC));
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(none, FP16, NHWC));
        // Clip is cuDNN's call then Tessel's clamp kernel: one more launch
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(clip, FP16, NHWC));
        assertEquals(2, ConvTactics.FUSED_BIAS_ACT.features(clip, FP16, NHWC).kernelLaunches());
        assertEquals(1, ConvTactics.FUSED_BIAS_ACT.features(relu, FP16, NHWC).kernelLaunches());
        // Sigmoid (EfficientNet's gate), HardSwish, ... run as Tessel's activation kernel after cuDNN's identity, as Clip does;
        // not at INT8, whose epilogue requantizes after ReLU or Clip; PRelu (slopes are a tensor) not at all
        Node sigmoid = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "Sigmoid", Attributes.empty());
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(sigmoid, FP16, NHWC));
        assertEquals(2, ConvTactics.FUSED_BIAS_ACT.features(sigmoid, FP16, NHWC).kernelLaunches());
        assertEquals("INT8 takes Relu, Clip or no activation (got Sigmoid)", ConvTactics.FUSED_BIAS_ACT.whyNot(sigmoid, INT8, NHWC));
        Node prelu = Nodes.convBiasAct(1, 64, 56, 64, 3, 1, 1, "PRelu", Attributes.empty());
        assertEquals("the engine's conv_bias_act body holds Conv, Add and Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu or Gelu (got PRelu)",
                ConvTactics.FUSED_BIAS_ACT.whyNot(prelu, FP16, NHWC));
        // a 3-channel f16 NHWC stem is the stem tactic's (the engine pads it), not the plain fused call's
        Node stem = Nodes.convBiasAct(1, 3, 224, 64, 7, 2, 1, "Relu", Attributes.empty());
        assertNull(ConvTactics.STEM.whyNot(stem, FP16, NHWC));
        assertEquals("an f16 NHWC convolution over 3 input channels (not a multiple of 8) runs as tessel.conv.stem", ConvTactics.FUSED_BIAS_ACT.whyNot(stem, FP16, NHWC));
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(stem, FP32, NCHW));
        assertEquals("FP16 only (got fp32)", ConvTactics.STEM.whyNot(stem, FP32, NHWC));
        assertEquals("needs an input channel count that is not a multiple of 8 (got 64); cuDNN's fused call takes it as it is", ConvTactics.STEM.whyNot(relu, FP16, NHWC));
        assertEquals(2, ConvTactics.STEM.features(stem, FP16, NHWC).kernelLaunches());
        // the algorithm models take plain convolutions only; the engine's fused call takes both (a plain Conv with the identity)
        assertFalse(ConvTactics.IMPLICIT_GEMM.appliesTo(relu));
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 1), FP16, NHWC));
    }

    @Test void depthwiseTacticsWantDepthwise() {
        Node dw = Nodes.conv(1, 96, 112, 96, 3, 1, 96);
        assertNull(ConvTactics.DEPTHWISE_NHWC.whyNot(dw, FP16, NHWC));
        assertEquals("needs a depthwise convolution (group == input channels == output channels; got group 1, 64 -> 64 channels)",
                ConvTactics.DEPTHWISE_NHWC.whyNot(Nodes.conv(1, 64, 56, 64, 3, 1, 1), FP16, NHWC));
        assertNull(ConvTactics.DEPTHWISE_NHWC.whyNot(Nodes.conv(1, 32, 16, 32, 9, 1, 32), FP16, NHWC));
        // a depthwise NHWC conv is the depthwise kernel's: the engine never hands it to cuDNN
        assertEquals("a depthwise NHWC convolution without a residual runs Tessel's depthwise kernel (tessel.conv.depthwise_nhwc)",
                ConvTactics.FUSED_BIAS_ACT.whyNot(dw, FP16, NHWC));
        assertNull(ConvTactics.FUSED_BIAS_ACT.whyNot(dw, FP16, NCHW));
        assertEquals("supports FP32, TF32, FP16, BF16 only (got int8)", ConvTactics.DEPTHWISE_NHWC.whyNot(dw, INT8, NHWC));
        // a fused depthwise chain with ReLU6 (MobileNetV2) has a GPU tactic
        Node dwClip = Nodes.convBiasAct(1, 96, 112, 96, 3, 1, 96, "Clip", Attributes.empty());
        assertNull(ConvTactics.DEPTHWISE_NHWC.whyNot(dwClip, FP16, NHWC));

    }

    /**
     * cuBLASLt's requantizing INT8 matmul writes its int8 output at about a third of the rate it reads (an H100, 2026-12-07,
     * org.tessel.tactics.gemm.ImmaOutput): where the output is wide it loses to the FP16 matmul, where reading dominates it
     * wins, and its prices stay within a third of those measurements (us, b256 ResNet-50 1x1 shapes, no epilogue's extra).
     */
    @Test void int8MatmulsArePricedAtTheirMeasuredOutputRate() {
        Node wide = Nodes.conv(256, 64, 56, 256, 1, 1, 1), narrow = Nodes.conv(256, 256, 56, 64, 1, 1, 1);
        double wide8 = ConvTactics.CONV_1X1_GEMM.cost(H100, wide, INT8, NHWC, true).totalUs(), wide16 = ConvTactics.CONV_1X1_GEMM.cost(H100, wide, FP16, NHWC, true).totalUs();
        double narrow8 = ConvTactics.CONV_1X1_GEMM.cost(H100, narrow, INT8, NHWC, true).totalUs(), narrow16 = ConvTactics.CONV_1X1_GEMM.cost(H100, narrow, FP16, NHWC, true).totalUs();
        assertTrue(wide8 > wide16, "64 -> 256 at 56x56 (measured INT8 293 us, FP16 215): INT8 " + wide8 + ", FP16 " + wide16);
        assertTrue(narrow8 < narrow16, "256 -> 64 at 56x56 (measured INT8 103 us, FP16 197): INT8 " + narrow8 + ", FP16 " + narrow16);
        double[][] measured = {{64, 56, 256, 293.2}, {64, 56, 64, 84.2}, {128, 28, 512, 152.6}, {256, 14, 1024, 95.6}};
        for (double[] m : measured) {
            double us = ConvTactics.CONV_1X1_GEMM.cost(H100, Nodes.conv(256, (int) m[0], (int) m[1], (int) m[2], 1, 1, 1), INT8, NHWC, true).totalUs();
            assertTrue(us > m[3] * 0.67 && us < m[3] * 1.33, (int) m[0] + " -> " + (int) m[2] + " at " + (int) m[1] + ": priced " + us + " us, measured " + m[3]);
        }
    }

    @Test void costsRankTheWayGpusDo() {
        Node c3 = Nodes.conv(32, 128, 28, 128, 3, 1, 1);
        // Winograd beats implicit GEMM on FP32 CUDA cores for 3x3 stride 1
        assertTrue(ConvTactics.WINOGRAD.cost(H100, c3, FP32, NCHW, false).totalUs() < ConvTactics.IMPLICIT_GEMM.cost(H100, c3, FP32, NCHW, false).totalUs());
        // tensor cores: FP16 beats TF32 beats FP32 on a big aligned conv; cuDNN's INT8 (f32 out, the engine's form) has no
        // tensor-core kernel on Hopper and is priced on CUDA cores, above FP16 (an H100 ran it at 17-23 TOPS, 2026-12-06)
        double fp32 = ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, c3, FP32, NHWC, false).totalUs();
        double tf32 = ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, c3, TF32, NHWC, false).totalUs();
        double fp16 = ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, c3, FP16, NHWC, false).totalUs();
        double int8 = ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, c3, INT8, NHWC, false).totalUs();
        assertTrue(fp32 > tf32 && tf32 > fp16 && int8 > 3 * fp16, fp32 + " " + tf32 + " " + fp16 + " " + int8);
        // NCHW costs a tensor-core conv its internal transposes
        assertTrue(ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, c3, FP16, NCHW, false).totalUs() > fp16);
        // depthwise: the dedicated kernel beats cuDNN's GEMM formulation (one output channel per group wastes the tile)
        Node dw = Nodes.conv(1, 96, 112, 96, 3, 1, 96);
        assertTrue(ConvTactics.DEPTHWISE_NHWC.cost(H100, dw, FP16, NHWC, true).totalUs() < ConvTactics.IMPLICIT_PRECOMP_GEMM.cost(H100, dw, FP16, NHWC, true).totalUs());
    }

    @Test void workspaces() {
        Node c3 = Nodes.conv(1, 64, 56, 64, 3, 1, 1);
        assertEquals(0, ConvTactics.IMPLICIT_GEMM.workspaceBytes(c3, FP16));
        assertEquals(2L * 4 * 64 * 9, ConvTactics.IMPLICIT_PRECOMP_GEMM.workspaceBytes(c3, FP16));
        // F(4x4,3x3): 14x14 tiles of 6x6 for input (64 ch), filters (64x64) and output (64 ch), FP16
        assertEquals(36L * 2 * (64 * 196 + 64 * 64 + 64 * 196), ConvTactics.WINOGRAD.workspaceBytes(c3, FP16));
    }
}
