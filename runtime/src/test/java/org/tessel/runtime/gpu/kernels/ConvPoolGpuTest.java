package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.conv.stem_pool} on a GPU: ResNet-50's stem (3 x 224 x 224, 7x7/2 pad 3 to 64 channels, bias, ReLU, 3x3/2
 * pad 1 max pool to 56 x 56). At batch 1 every output against {@link ConvPool#reference} (NCHW and NHWC input) with
 * ConvPoolEmulatedTest's bound; at batch 256 a sample of pooled pixels (the four corners of each sampled image and
 * random ones) against {@link ConvPool#referenceAt}, then the kernel's time (the median of 21 launches after 20
 * untimed ones, CUDA events) from NCHW (the network input, the layer's case) and NHWC, printed as RESULT lines with the
 * rate of the input and output bytes (the 411 MB conv output a separate conv and pool would write and read back never
 * leaves the chip) and of the convolution's FLOPs (2 x 147 a conv output). On the emulated device only the batch-1
 * check runs.
 */
@Tag("gpu")
class ConvPoolGpuTest {
    static ConvPool.Geometry stem(int n) { return new ConvPool.Geometry(n, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 112, 112, 3, 3, 2, 2, 1, 1, 56, 56); }

    @Test void resnetsStemMatchesTheHostAndItsTimeIsPrinted() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int sms = ctx.device().smCount();
        KernelCompiler kc = new KernelCompiler(ctx);
        SplittableRandom r = new SplittableRandom(5);
        float[] w = ConvPoolEmulatedTest.f16(r, 64 * 3 * 49, 0.1f), bias = ConvPoolEmulatedTest.f16(r, 64, 0.5f);
        try (CudaStream s = CudaStream.create()) {
            // batch 1: every output, from NCHW and from NHWC
            ConvPool.Geometry g1 = stem(1);
            float[] x1 = ConvPoolEmulatedTest.f16(r, 3 * 224 * 224, 1);
            for (boolean nchw : new boolean[] {true, false}) {
                float[] x = nchw ? x1 : nhwc(x1, 1, 3, 224, 224);
                float[] want = ConvPool.reference(g1, x, nchw, w, bias, true);
                try (DeviceBuffer xb = ConvPoolEmulatedTest.upload(x); DeviceBuffer wb = ConvPoolEmulatedTest.upload(ConvPool.packFilters(g1, w));
                     DeviceBuffer bb = DeviceBuffer.ofFloats(bias); DeviceBuffer yb = DeviceBuffer.allocate(2L * want.length)) {
                    yb.fill((byte) 0x7f);
                    ConvPool.run(kc, g1, xb, nchw, wb, bb, true, yb, ConvPool.blocks(g1, sms), s);
                    s.synchronize();
                    short[] got = new short[want.length];
                    yb.copyTo(got);
                    for (int i = 0; i < want.length; i++) check(got[i], want[i], "b1 " + (nchw ? "NCHW" : "NHWC") + " y[" + i + "]");
                    if (nchw && !GpuTestSupport.emulated()) {
                        double us = ConvMmaGpuTest.medianUs(s, 101, () -> ConvPool.run(kc, g1, xb, true, wb, bb, true, yb, ConvPool.blocks(g1, sms), s));
                        System.out.printf("RESULT conv_pool b1 resnet50 stem from NCHW (tile %s, %d blocks): %.4f ms%n", ConvPool.tile(g1), ConvPool.blocks(g1, sms), us / 1000);
                    }
                }
            }
            if (GpuTestSupport.emulated()) {
                System.out.println("conv_pool: the emulated device checked batch 1; batch 256 and the timings need a GPU");
                return;
            }
            // batch 256: a sample against the host, then the times
            int n = 256;
            ConvPool.Geometry g = stem(n);
            float[] x = ConvPoolEmulatedTest.f16(r, n * 3 * 224 * 224, 1);
            long outElems = (long) n * 56 * 56 * 64;
            int blocks = ConvPool.blocks(g, sms);
            for (boolean nchw : new boolean[] {true, false}) {
                float[] xl = nchw ? x : nhwc(x, n, 3, 224, 224);
                try (DeviceBuffer xb = ConvPoolEmulatedTest.upload(xl); DeviceBuffer wb = ConvPoolEmulatedTest.upload(ConvPool.packFilters(g, w));
                     DeviceBuffer bb = DeviceBuffer.ofFloats(bias); DeviceBuffer yb = DeviceBuffer.allocate(2 * outElems)) {
                    yb.fill((byte) 0x7f);
                    ConvPool.run(kc, g, xb, nchw, wb, bb, true, yb, blocks, s);
                    s.synchronize();
                    short[] got = new short[(int) outElems];
                    yb.copyTo(got);
                    SplittableRandom pick = new SplittableRandom(11);
                    int sampled = 0;
                    for (int i = 0; i < 64; i++) {
                        int b = pick.nextInt(n);
                        int[][] pixels = {{0, 0}, {0, 55}, {55, 0}, {55, 55}, {pick.nextInt(56), pick.nextInt(56)}, {pick.nextInt(56), pick.nextInt(56)}};
                        for (int[] p : pixels) {
                            float[] want = ConvPool.referenceAt(g, xl, nchw, w, bias, true, b, p[0], p[1]);
                            int at = ((b * 56 + p[0]) * 56 + p[1]) * 64;
                            for (int o = 0; o < 64; o++) check(got[at + o], want[o], "b256 " + (nchw ? "NCHW" : "NHWC") + " image " + b + " (" + p[0] + ", " + p[1] + ") channel " + o);
                            sampled++;
                        }
                    }
                    double us = ConvMmaGpuTest.medianUs(s, 21, () -> ConvPool.run(kc, g, xb, nchw, wb, bb, true, yb, blocks, s));
                    double bytes = 2.0 * n * 3 * 224 * 224 + 2.0 * outElems, flops = 2.0 * n * 112 * 112 * 64 * 3 * 49;
                    System.out.printf("RESULT conv_pool b256 resnet50 stem from %s (tile %s, %d blocks, %d B shared; %d pooled pixels checked): %.4f ms, %.0f GB/s of input and output, %.1f TFLOP/s of the convolution%n",
                            nchw ? "NCHW" : "NHWC", ConvPool.tile(g), blocks, ConvPool.sharedBytes(g), sampled, us / 1000, bytes / us / 1e3, flops / us / 1e6);
                    assertTrue(us > 0);
                }
            }
        } finally {
            kc.close();
        }
    }

    /** ConvPoolEmulatedTest's bound: one f16 ulp of the value (1e-3 relative), 1e-4 absolute near zero. */
    static void check(short got, float want, String what) {
        float v = Float.float16ToFloat(got);
        if (v == want) return;
        if (!(Math.abs(v - want) <= 1e-3 * Math.abs(want) + 1e-4)) fail(what + " = " + v + ", the host's " + want);
    }

    /** x [n][c][h][w] as [n][h][w][c]. */
    static float[] nhwc(float[] x, int n, int c, int h, int w) {
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h * w; i++) y[(b * h * w + i) * c + ch] = x[(b * c + ch) * h * w + i];
        return y;
    }
}
