package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.tactics.conv.ConvMmaTactic;

/**
 * {@code tessel.conv.mma} on the emulated device (its mma.sync run in software) against {@link ConvMma#reference}: 3x3
 * padded, strided and dilated convolutions, a 1x1 with a residual, pixel and channel counts that leave partial tiles, K
 * unsplit and split (the tile counters back at zero after each run, so a second run gives the same bytes), with and
 * without bias and ReLU.
 */
class ConvMmaEmulatedTest {
    static CudaContext ctx;
    static KernelCompiler kc;

    @BeforeAll static void open() {
        ctx = CudaContext.emulated(2, 1L << 28);
        kc = new KernelCompiler(ctx);
    }

    @AfterAll static void close() {
        kc.close();
        ctx.close();
    }

    record Case(ConvMma.Geometry g, boolean bias, boolean residual, boolean relu, int splits) {}

    @Test void convolutionsEqualTheHostsWhetherKIsSplitOrNot() {
        Case[] cases = {
            // ResNet's layer3 3x3 at batch 1 (196 pixels, 256 channels), K split 9 ways and not
            new Case(new ConvMma.Geometry(1, 14, 14, 64, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 72), true, false, true, 1),
            new Case(new ConvMma.Geometry(1, 14, 14, 64, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 72), true, false, true, 9),
            // strided, 2 images, odd output channels of 8s, a pixel count that is no multiple of 64
            new Case(new ConvMma.Geometry(2, 9, 11, 32, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 40), true, false, false, 3),
            // dilated, unpadded on one side
            new Case(new ConvMma.Geometry(1, 12, 12, 32, 8, 10, 3, 3, 1, 1, 0, 1, 2, 2, 16), false, false, true, 2),
            // a 1x1 with a residual and ReLU (the bottleneck's conv3), split
            new Case(new ConvMma.Geometry(1, 7, 7, 128, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 136), true, true, true, 4),
        };
        SplittableRandom r = new SplittableRandom(11);
        for (Case c : cases) {
            ConvMma.Geometry g = c.g();
            float[] x = f16(r, g.n() * g.h() * g.w() * g.c(), 1), w = f16(r, g.cout() * g.k(), 0.2f);
            float[] bias = c.bias() ? f16(r, g.cout(), 1) : null, res = c.residual() ? f16(r, (int) g.m() * g.cout(), 1) : null;
            float[] want = ConvMma.reference(g, x, w, bias, res, c.relu());
            long outBytes = 2 * g.m() * g.cout();
            try (DeviceBuffer xb = upload(x); DeviceBuffer wb = upload(w); DeviceBuffer bb = bias == null ? null : upload(bias);
                 DeviceBuffer rb = res == null ? null : upload(res); DeviceBuffer yb = DeviceBuffer.allocate(outBytes);
                 DeviceBuffer pb = DeviceBuffer.allocate(Math.max(4, ConvMmaTactic.partialBytes(g.m(), g.cout(), c.splits())));
                 DeviceBuffer cb = DeviceBuffer.allocate(4L * g.counters())) {
                cb.fill((byte) 0);
                short[] first = null;
                for (int run = 0; run < 2; run++) {
                    ConvMma.run(kc, g, xb, wb, bb, rb, yb, pb, cb, c.relu(), c.splits(), CudaStream.DEFAULT);
                    short[] got = new short[(int) (g.m() * g.cout())];
                    yb.copyTo(got);
                    if (first == null) first = got;
                    else assertArrayEquals(first, got, c + ": a second run (the counters reset by the first) gives the same bytes");
                    int[] counters = new int[g.counters()];
                    cb.copyTo(counters);
                    for (int v : counters) assertEquals(0, v, c + ": the tile counters are back at zero");
                }
                double worst = 0;
                for (int i = 0; i < want.length; i++) {
                    float v = Float.float16ToFloat(first[i]);
                    double err = Math.abs(v - want[i]) / (1 + Math.abs(want[i]));
                    worst = Math.max(worst, err);
                }
                // the sums agree to f32 rounding; the f16 output may then round the other way: one f16 ulp
                assertTrue(worst < 2e-3, c + ": worst relative error " + worst);
            }
        }
    }

    @Test void shapesAndBuffersItCannotRunAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ConvMma.Geometry(1, 8, 8, 24, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64), "24 input channels");
        assertThrows(IllegalArgumentException.class, () -> new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 60), "60 output channels");
        ConvMma.Geometry g = new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64);
        try (DeviceBuffer small = DeviceBuffer.allocate(16); DeviceBuffer x = DeviceBuffer.allocate(2L * 64 * 32); DeviceBuffer w = DeviceBuffer.allocate(2L * 64 * 288);
             DeviceBuffer y = DeviceBuffer.allocate(2L * 64 * 64)) {
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, small, w, null, null, y, null, null, false, 1, CudaStream.DEFAULT), "input too small");
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, x, w, null, null, y, null, null, false, 2, CudaStream.DEFAULT), "split without partials");
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, x, w, null, null, y, null, null, false, 10, CudaStream.DEFAULT), "more splits than slices");
        }
    }

    @Test void theSplitFillsTheSmsOnlyWhereTheTilesDoNot() {
        assertEquals(1, ConvMmaTactic.splits(3136 * 32, 64, 576, 132), "ResNet's layer1 3x3 at batch 32: 1,568 tiles");
        assertEquals(9, ConvMmaTactic.splits(196, 256, 2304, 132), "layer3's 3x3 at batch 1: 16 tiles");
        assertEquals(17, ConvMmaTactic.splits(49, 512, 4608, 132), "layer4's 3x3 at batch 1: 8 tiles");
        assertEquals(1, ConvMmaTactic.splits(3136, 64, 64, 132), "K = 64 has two slices: not split");
    }

    static float[] f16(SplittableRandom r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Tensor.round(DType.F16, (float) r.nextGaussian() * scale);
        return v;
    }

    static DeviceBuffer upload(float[] v) {
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++) h[i] = Float.floatToFloat16(v[i]);
        return DeviceBuffer.ofShorts(h);
    }
}
