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
                        int split = sp;
                        times.append(String.format(" split %d%s %.1f us;", sp, sp == rule ? " (rule)" : "", medianUs(s, 200, () -> ConvMma.run(kc, g, xb, wb, bb, rb, yb, pb, cb, true, split, s))));
                    }
                    System.out.printf("RESULT|tessel.conv.mma %s (M %d, N %d, K %d)|%s%n", name, g.m(), g.cout(), g.k(), times);
                }
            }
        } finally {
            kc.close();
        }
    }

    /** The median of {@code runs} timed launches of {@code launch} on {@code s}, after 20 untimed ones, in microseconds. */
    static double medianUs(CudaStream s, int runs, Runnable launch) {
        for (int i = 0; i < 20; i++) launch.run();
        float[] us = new float[runs];
        try (CudaEvent a = new CudaEvent(); CudaEvent b = new CudaEvent()) {
            for (int i = 0; i < us.length; i++) {
                a.record(s);
                launch.run();
                b.record(s);
                b.synchronize();
                us[i] = b.elapsedSince(a) * 1000;
            }
        }
        java.util.Arrays.sort(us);
        return us[us.length / 2];
    }

    /**
     * The int8 kernel on ResNet-50's convolutions: at batch 1 its codes equal {@link ConvMma#referenceInt8} (exact sums, the
     * same epilogue) with either tile, then at batch 256 (issue 10's INT8 target) its time unsplit with either tile beside
     * the f16 kernel's on the same shape, printed as RESULT lines with the rates in TOPS.
     */
    @Test void int8ConvolutionsAreExactAndTimedBesideF16AtBatch256() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        KernelCompiler kc = new KernelCompiler(ctx);
        Object[][] shapes = {
            // name, h = w in, c, out hw, cout, kernel, stride, pad, residual
            {"layer1 1x1 64->256 +res", 56, 64, 56, 256, 1, 1, 0, true},
            {"layer1 3x3 64", 56, 64, 56, 64, 3, 1, 1, false},
            {"layer2 3x3 128", 28, 128, 28, 128, 3, 1, 1, false},
            {"layer3 3x3 256", 14, 256, 14, 256, 3, 1, 1, false},
            {"layer4 3x3 512", 7, 512, 7, 512, 3, 1, 1, false},
            {"layer3 1x1 1024->256", 14, 1024, 14, 256, 1, 1, 0, false},
            {"layer2.0 1x1 256->128", 56, 256, 56, 128, 1, 1, 0, false},
        };
        SplittableRandom r = new SplittableRandom(7);
        try (CudaStream s = CudaStream.create()) {
            for (Object[] row : shapes) {
                String name = (String) row[0];
                int hw = (int) row[1], c = (int) row[2], ohw = (int) row[3], cout = (int) row[4], kk = (int) row[5], st = (int) row[6], pad = (int) row[7];
                boolean residual = (Boolean) row[8];
                for (int n : new int[] {1, 256}) {
                    ConvMma.Geometry g = new ConvMma.Geometry(n, hw, hw, c, ohw, ohw, kk, kk, st, st, pad, pad, 1, 1, cout);
                    byte[] x = ConvMmaEmulatedTest.codes(r, n * hw * hw * c), w = ConvMmaEmulatedTest.codes(r, cout * g.k());
                    float[] scale = new float[cout], bias = new float[cout];
                    for (int o = 0; o < cout; o++) {
                        scale[o] = (float) ((0.5 + r.nextDouble()) / (Math.sqrt(g.k()) * 9000));
                        bias[o] = (float) r.nextGaussian() * 0.5f;
                    }
                    byte[] res = residual ? ConvMmaEmulatedTest.codes(r, (int) g.m() * cout) : null;
                    try (DeviceBuffer xb = DeviceBuffer.ofBytes(x); DeviceBuffer wb = DeviceBuffer.ofBytes(w); DeviceBuffer sb = DeviceBuffer.ofFloats(scale);
                         DeviceBuffer bb = DeviceBuffer.ofFloats(bias); DeviceBuffer rb = res == null ? null : DeviceBuffer.ofBytes(res);
                         DeviceBuffer yb = DeviceBuffer.allocate(g.m() * cout); DeviceBuffer cb = DeviceBuffer.allocate(4L * g.counters())) {
                        cb.fill((byte) 0);
                        Int8Epilogue.Params ep = new Int8Epilogue.Params(sb, bb, rb, 0.01f, 0f, Float.POSITIVE_INFINITY, org.tessel.api.DType.I8, 0.02f);
                        if (n == 1) {
                            byte[] want = ConvMma.referenceInt8(g, x, w, scale, bias, res, 0.01f, 0f, Float.POSITIVE_INFINITY, 0.02f);
                            for (ConvMma.Tile tile : ConvMma.Tile.values()) {
                                ConvMma.runInt8(kc, g, tile, xb, wb, ep, yb, null, cb, 1, s);
                                s.synchronize();
                                byte[] got = new byte[(int) g.m() * cout];
                                yb.copyTo(got);
                                org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, name + " b1, " + tile + " tile: the int8 kernel's codes equal the host's");
                            }
                            continue;
                        }
                        double i8 = medianUs(s, 50, () -> ConvMma.runInt8(kc, g, ConvMma.Tile.SMALL, xb, wb, ep, yb, null, cb, 1, s));
                        double wide = medianUs(s, 50, () -> ConvMma.runInt8(kc, g, ConvMma.Tile.WIDE, xb, wb, ep, yb, null, cb, 1, s));
                        double f16;
                        try (DeviceBuffer xh = DeviceBuffer.allocate(2L * n * hw * hw * c); DeviceBuffer wh = DeviceBuffer.allocate(2L * cout * g.k());
                             DeviceBuffer bh = DeviceBuffer.allocate(2L * cout); DeviceBuffer rh = residual ? DeviceBuffer.allocate(2 * g.m() * cout) : null;
                             DeviceBuffer yh = DeviceBuffer.allocate(2 * g.m() * cout)) {
                            xh.fill((byte) 0x31); wh.fill((byte) 0x31); bh.fill((byte) 0x31);
                            if (rh != null) rh.fill((byte) 0x31);
                            f16 = medianUs(s, 50, () -> ConvMma.run(kc, g, xh, wh, bh, rh, yh, null, cb, true, 1, s));
                        }
                        double ops = 2.0 * g.m() * cout * g.k();
                        System.out.printf("RESULT|tessel.conv.mma int8 %s b256 (M %d, N %d, K %d)|int8 64x64 %.1f us (%.0f TOPS), int8 wide %.1f us (%.0f TOPS), f16 64x64 %.1f us (%.0f TFLOPS); int8's best %.2fx f16's speed%n",
                                name, g.m(), cout, g.k(), i8, ops / i8 / 1e6, wide, ops / wide / 1e6, f16, ops / f16 / 1e6, f16 / Math.min(i8, wide));
                    }
                }
            }
        } finally {
            kc.close();
        }
    }
}
