package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.conv.stem_pool} on a GPU: ResNet-50's stem (3 x 224 x 224 from NCHW, 7x7/2 pad 3 to 64 channels, ReLU,
 * 3x3/2 pad 1 max pool to 56 x 56) against {@link ConvPool#reference} at batches 1 and 4 with ConvPoolEmulatedTest's
 * bound, then its time (median of 100 launches) at batches 1, 32 and 256, printed as RESULT lines with the rate of the
 * convolution's FLOPs and of the bytes it moves (the input read once, the pooled output written).
 */
@Tag("gpu")
class ConvPoolGpuTest {
    static ConvPool.Geometry stem(int n) { return new ConvPool.Geometry(n, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 112, 112, 3, 3, 2, 2, 1, 1, 56, 56); }

    @Test void resnetsStemMatchesTheHostAndItsTimesArePrinted() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int sms = ctx.device().smCount();
        KernelCompiler kc = new KernelCompiler(ctx);
        SplittableRandom r = new SplittableRandom(5);
        try (CudaStream s = CudaStream.create()) {
            for (int n : new int[] {1, 4, 32, 256}) {
                ConvPool.Geometry g = stem(n);
                float[] x = ConvMmaEmulatedTest.f16(r, n * 3 * 224 * 224, 1), w = ConvMmaEmulatedTest.f16(r, 64 * 3 * 49, 0.1f), bias = ConvMmaEmulatedTest.f16(r, 64, 1);
                long outElems = (long) n * 56 * 56 * 64;
                int blocks = ConvPool.blocks(g, sms);
                try (DeviceBuffer xb = ConvMmaEmulatedTest.upload(x); DeviceBuffer wb = ConvMmaEmulatedTest.upload(ConvPool.packFilters(g, w));
                     DeviceBuffer bb = DeviceBuffer.ofFloats(bias); DeviceBuffer yb = DeviceBuffer.allocate(2 * outElems)) {
                    ConvPool.run(kc, g, xb, true, wb, bb, true, yb, blocks, s);
                    s.synchronize();
                    if (n <= 4) {
                        float[] want = ConvPool.reference(g, x, true, w, bias, true);
                        short[] got = new short[want.length];
                        yb.copyTo(got);
                        double worst = 0;
                        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(Float.float16ToFloat(got[i]) - want[i]) / (1 + Math.abs(want[i])));
                        assertTrue(worst < 2e-3, "batch " + n + ": worst relative error " + worst);
                    }
                    double us = ConvMmaGpuTest.medianUs(s, 100, () -> ConvPool.run(kc, g, xb, true, wb, bb, true, yb, blocks, s));
                    double flops = 2.0 * n * 112 * 112 * 64 * 3 * 49, bytes = 2.0 * n * 3 * 224 * 224 + 2.0 * outElems;
                    System.out.printf("RESULT|conv_pool resnet50 stem b%d (%d blocks, %d B shared)|%.1f us, %.1f TFLOP/s of the convolution, %.0f GB/s of input and output%n",
                            n, blocks, ConvPool.sharedBytes(g), us, flops / us / 1e6, bytes / us / 1e3);
                }
            }
        }
    }
}
