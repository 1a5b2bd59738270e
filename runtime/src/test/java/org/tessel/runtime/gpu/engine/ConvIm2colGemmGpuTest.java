package org.tessel.runtime.gpu.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code cublaslt.conv.im2col} on the GPU: convolutions forced onto the im2col gather and cuBLASLt's matmul in NHWC at
 * FP16 and BF16 (ResNet-50's 3x3 shapes at batch 1, a strided one, a dilated 5x5 with pads, a ResNet-style pair whose
 * second group fuses bias, residual Add and Relu; one batch large enough to run in slices of images), each against the reference interpreter; then the convolution layers
 * timed beside the same plan forced onto cuDNN's fused call (a RESULT line: us each).
 */
@Tag("gpu")
class ConvIm2colGemmGpuTest {
    /** n, c, hw, k, kernel, stride, pad (-1: asymmetric, 0 top and left, 1 bottom and right), dilation; bias; residual + relu (a pair of stride-1 convolutions). */
    static final Object[][] CASES = {
        {1, 512, 7, 512, 3, 1, 1, 1, true, true},
        {1, 256, 14, 256, 3, 1, 1, 1, true, false},
        {1, 128, 28, 128, 3, 1, 1, 1, true, false},
        {1, 64, 56, 64, 3, 1, 1, 1, true, false},
        {2, 64, 15, 128, 3, 2, 1, 1, false, false},
        {1, 16, 10, 24, 5, 1, 4, 2, true, false},
        {2, 16, 9, 24, 3, 2, -1, 1, true, false},
        // 7.0 MiB of matrix an image: gathered and multiplied in slices of 3 images, then the last one of 1
        {4, 16, 160, 16, 3, 1, 1, 1, true, true},
    };

    /** One convolution c -> k; with {@code residual}: a = relu(conv1(x)), then relu(conv2(a) + a) (k x k, stride 1). */
    static Graph model(int n, int c, int hw, int k, int r, int stride, int pad, int dil, boolean bias, boolean residual) {
        NetworkBuilder b = new NetworkBuilder("im2col");
        Value x = b.input("x", DType.F32, n, c, hw, hw);
        long[] pads = pad < 0 ? new long[] {0, 0, 1, 1} : new long[] {pad, pad, pad, pad};
        Attributes a1 = Attributes.builder().put("kernel_shape", (long) r, (long) r).put("strides", (long) stride, (long) stride)
                .put("pads", pads).put("dilations", (long) dil, (long) dil).build();
        Value w1 = b.uniformWeights("w1", -0.1f, 0.1f, k, c, r, r);
        Value y = bias ? b.node("Conv", "conv1", a1, 1, x, w1, b.uniformWeights("b1", -0.5f, 0.5f, k)).output() : b.node("Conv", "conv1", a1, 1, x, w1).output();
        if (residual) {
            Value a = b.node("Relu", "relu1", Attributes.empty(), 1, y).output();
            Attributes a2 = Attributes.builder().put("kernel_shape", (long) r, (long) r).put("pads", (long) (r / 2), (long) (r / 2), (long) (r / 2), (long) (r / 2)).build();
            Value w2 = b.uniformWeights("w2", -0.05f, 0.05f, k, k, r, r);
            Value y2 = b.node("Conv", "conv2", a2, 1, a, w2, b.uniformWeights("b2", -0.5f, 0.5f, k)).output();
            y = b.node("Relu", "relu2", Attributes.empty(), 1, b.node("Add", "add", Attributes.empty(), 1, y2, a).output()).output();
        }
        b.output(y);
        return b.graph();
    }

    @Test void matchesTheReferenceAtFp16AndBf16() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(12);
        for (Object[] cs : CASES) {
            int n = (int) cs[0], c = (int) cs[1], hw = (int) cs[2], k = (int) cs[3], kr = (int) cs[4], st = (int) cs[5], pad = (int) cs[6], dil = (int) cs[7];
            boolean bias = (boolean) cs[8], residual = (boolean) cs[9];
            Graph g = model(n, c, hw, k, kr, st, pad, dil, bias, residual);
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            for (var in : g.inputs()) inputs.put(in.name(), GpuTestSupport.random(r, DType.F32, in.type().shape(), -1, 1));
            Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
            for (Precision p : List.of(Precision.FP16, Precision.BF16)) {
                String what = "cublaslt.conv.im2col n" + n + " c" + c + " " + hw + "x" + hw + " k" + k + " " + kr + "x" + kr + (st > 1 ? " s" + st : "") + (pad < 0 ? " pads 0,0,1,1" : "") + (dil > 1 ? " d" + dil : "")
                        + (bias ? " bias" : "") + (residual ? " +residual relu" : "") + " " + p.text();
                checks.check(what, () -> {
                    // cuDNN takes no asymmetric pads: that case runs the im2col tactic alone
                    double[] us = Conv1x1GemmGpuTest.timedAgainst(ctx, g, inputs, ref, p,
                            pad < 0 ? List.of("cublaslt.conv.im2col") : List.of("cublaslt.conv.im2col", "cudnn.conv.fused_bias_act"), what);
                    System.out.printf("RESULT|%s timing|-|im2col + cuBLASLt %.1f us, cuDNN fused %.1f us|-|-|-|info%n", what, us[0], us[1]);
                });
            }
        }
        checks.done();
    }
}
