package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.tactics.conv.ConvMmaTactic;

/**
 * {@code tessel.conv.mma} on a GPU: ResNet-50's convolutions at batch 1 (and one at batch 32) against
 * {@link ConvMma#reference} with ConvMmaEmulatedTest's bound, and the kernel's time (median of 200 launches) at the split
 * the tactic picks, unsplit, and at half and twice it, printed as RESULT lines.
 */
@Tag("gpu")
class ConvMmaGpuTest {
    @Test void resnetConvolutionsMatchTheHostAndTheirTimesArePrinted() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int sms = ctx.device().smCount();
        KernelCompiler kc = new KernelCompiler(ctx);
        Object[][] shapes = {
            {"layer1 3x3 b1", new ConvMma.Geometry(1, 56, 56, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 64), false},
            {"layer2.0 3x3/2 b1", new ConvMma.Geometry(1, 56, 56, 128, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1, 128), false},
            {"layer2 3x3 b1", new ConvMma.Geometry(1, 28, 28, 128, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 128), false},
            {"layer3 3x3 b1", new ConvMma.Geometry(1, 14, 14, 256, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 256), false},
            {"layer4 3x3 b1", new ConvMma.Geometry(1, 7, 7, 512, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 512), false},
            {"layer3 1x1 1024->256 b1", new ConvMma.Geometry(1, 14, 14, 1024, 14, 14, 1, 1, 1, 1, 0, 0, 1, 1, 256), false},
            {"layer4 1x1 2048->512 b1", new ConvMma.Geometry(1, 7, 7, 2048, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 512), false},
            {"layer4 1x1 512->2048 +res b1", new ConvMma.Geometry(1, 7, 7, 512, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 2048), true},
            {"layer3 3x3 b32", new ConvMma.Geometry(32, 14, 14, 256, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 256), false},
        };
        SplittableRandom r = new SplittableRandom(3);
        try (CudaStream s = CudaStream.create()) {
            for (Object[] row : shapes) {
                String name = (String) row[0];
                ConvMma.Geometry g = (ConvMma.Geometry) row[1];
                boolean residual = (Boolean) row[2];
                float[] x = ConvMmaEmulatedTest.f16(r, g.n() * g.h() * g.w() * g.c(), 1), w = ConvMmaEmulatedTest.f16(r, g.cout() * g.k(), 0.05f);
                float[] bias = ConvMmaEmulatedTest.f16(r, g.cout(), 1), res = residual ? ConvMmaEmulatedTest.f16(r, (int) g.m() * g.cout(), 1) : null;
                int rule = ConvMmaTactic.splits(g.m(), g.cout(), g.k(), sms), most = Math.min(ConvMmaTactic.MAX_SPLITS, g.k() / ConvMmaTactic.SLICE);
                java.util.TreeSet<Integer> splits = new java.util.TreeSet<>(java.util.List.of(1, rule, Math.max(1, rule / 2), Math.min(most, rule * 2)));
                try (DeviceBuffer xb = ConvMmaEmulatedTest.upload(x); DeviceBuffer wb = ConvMmaEmulatedTest.upload(w); DeviceBuffer bb = ConvMmaEmulatedTest.upload(bias);
                     DeviceBuffer rb = res == null ? null : ConvMmaEmulatedTest.upload(res); DeviceBuffer yb = DeviceBuffer.allocate(2 * g.m() * g.cout());
                     DeviceBuffer pb = DeviceBuffer.allocate(Math.max(4, ConvMmaTactic.partialBytes(g.m(), g.cout(), splits.last())));
                     DeviceBuffer cb = DeviceBuffer.allocate(4L * g.counters())) {
                    cb.fill((byte) 0);
                    float[] want = g.m() * g.cout() * (long) g.k() <= 400_000_000L ? ConvMma.reference(g, x, w, bias, res, true) : null;
                    StringBuilder times = new StringBuilder();
                    for (int sp : splits) {
                        ConvMma.run(kc, g, xb, wb, bb, rb, yb, pb, cb, true, sp, s);
                        s.synchronize();
                        if (want != null) {
                            short[] got = new short[(int) (g.m() * g.cout())];
                            yb.copyTo(got);
                            double worst = 0;
                            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(Float.float16ToFloat(got[i]) - want[i]) / (1 + Math.abs(want[i])));
                            assertTrue(worst < 2e-3, name + " split " + sp + ": worst relative error " + worst);
                        }
                        float[] us = new float[200];
                        for (int i = 0; i < 20; i++) ConvMma.run(kc, g, xb, wb, bb, rb, yb, pb, cb, true, sp, s);
                        try (CudaEvent a = new CudaEvent(); CudaEvent b = new CudaEvent()) {
                            for (int i = 0; i < us.length; i++) {
                                a.record(s);
                                ConvMma.run(kc, g, xb, wb, bb, rb, yb, pb, cb, true, sp, s);
                                b.record(s);
                                b.synchronize();
                                us[i] = b.elapsedSince(a) * 1000;
                            }
                        }
                        java.util.Arrays.sort(us);
                        times.append(String.format(" split %d%s %.1f us;", sp, sp == rule ? " (rule)" : "", us[us.length / 2]));
                    }
                    System.out.printf("RESULT|tessel.conv.mma %s (M %d, N %d, K %d)|%s%n", name, g.m(), g.cout(), g.k(), times);
                }
            }
        } finally {
            kc.close();
        }
    }
}
