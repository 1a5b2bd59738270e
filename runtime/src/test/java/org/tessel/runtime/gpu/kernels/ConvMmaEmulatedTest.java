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
        assertThrows(IllegalArgumentException.class, () -> new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0), "no output channels");
        assertTrue(new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 60).whyNot(DType.F16).contains("(got 32 -> 60)"), "60 output channels");
        assertTrue(new ConvMma.Geometry(1, 8, 8, 24, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64).whyNot(DType.F16).contains("multiple of 32 and output channels of 8 (got 24 -> 64)"));
        // int8: a slice is 64 values and the epilogue writes 16-byte runs of codes
        assertTrue(new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64).whyNot(DType.I8).contains("at i8 takes input channels that are a multiple of 64 and output channels of 16 (got 32 -> 64)"));
        assertTrue(new ConvMma.Geometry(1, 8, 8, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 40).whyNot(DType.I8).contains("(got 64 -> 40)"));
        assertEquals(null, new ConvMma.Geometry(1, 8, 8, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 48).whyNot(DType.I8));
        ConvMma.Geometry g = new ConvMma.Geometry(1, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64);
        try (DeviceBuffer small = DeviceBuffer.allocate(16); DeviceBuffer x = DeviceBuffer.allocate(2L * 64 * 32); DeviceBuffer w = DeviceBuffer.allocate(2L * 64 * 288);
             DeviceBuffer y = DeviceBuffer.allocate(2L * 64 * 64)) {
            ConvMma.Geometry narrow = new ConvMma.Geometry(1, 8, 8, 24, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, narrow, x, w, null, null, y, null, null, false, 1, CudaStream.DEFAULT))
                    .getMessage().contains("(got 24 -> 64)"), "24 input channels");
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, small, w, null, null, y, null, null, false, 1, CudaStream.DEFAULT), "input too small");
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, x, w, null, null, y, null, null, false, 2, CudaStream.DEFAULT), "split without partials");
            assertThrows(IllegalArgumentException.class, () -> ConvMma.run(kc, g, x, w, null, null, y, null, null, false, 10, CudaStream.DEFAULT), "more splits than slices");
        }
    }

    record Int8Case(ConvMma.Geometry g, boolean bias, boolean residual, float lo, float hi, int splits, ConvMma.Tile tile) {
        Int8Case(ConvMma.Geometry g, boolean bias, boolean residual, float lo, float hi, int splits) { this(g, bias, residual, lo, hi, splits, ConvMma.Tile.SMALL); }
    }

    /**
     * The int8 kernel (m16n8k32 s8 mma, exact int32 sums, the requantizing epilogue in the kernel) equals
     * {@link ConvMma#referenceInt8} code for code: the sums are exact and the epilogue's f32 operations are the host's, in
     * the same order. Split and unsplit, partial tiles, strides, dilation, Clip and ReLU, a residual, both tiles; a second
     * run gives the same codes with the tile counters back at zero.
     */
    @Test void int8ConvolutionsEqualTheHostsCodeForCode() {
        float inf = Float.POSITIVE_INFINITY;
        Int8Case[] cases = {
            // ResNet's layer3 3x3 at batch 1 in small: 9 taps of 64 channels, K split 4 ways and not, ReLU
            new Int8Case(new ConvMma.Geometry(1, 7, 7, 64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 80), true, false, 0, inf, 1),
            new Int8Case(new ConvMma.Geometry(1, 7, 7, 64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 80), true, false, 0, inf, 4),
            // strided over 2 images, 80 pixels (a partial tile), no bias, no clamp
            new Int8Case(new ConvMma.Geometry(2, 9, 11, 64, 5, 8, 3, 3, 2, 2, 1, 1, 1, 1, 32), false, false, -inf, inf, 3),
            // dilated, a Clip
            new Int8Case(new ConvMma.Geometry(1, 10, 10, 64, 6, 8, 3, 3, 1, 1, 0, 1, 2, 2, 16), true, false, -0.5f, 1.5f, 2),
            // a 1x1 with a residual and ReLU (the bottleneck's conv3), split and not
            new Int8Case(new ConvMma.Geometry(1, 5, 5, 128, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1, 128), true, true, 0, inf, 2),
            new Int8Case(new ConvMma.Geometry(1, 9, 9, 128, 9, 9, 1, 1, 1, 1, 0, 0, 1, 1, 128), true, true, 0, inf, 1),
            // the wide tile (128 x 128 of 4 warps): 200 pixels and 144 channels leave partial tiles both ways; a residual
            // and ReLU; unsplit and split; a 3x3 with a Clip
            new Int8Case(new ConvMma.Geometry(2, 10, 10, 64, 10, 10, 1, 1, 1, 1, 0, 0, 1, 1, 144), true, false, 0, inf, 1, ConvMma.Tile.WIDE),
            new Int8Case(new ConvMma.Geometry(1, 12, 12, 128, 12, 12, 1, 1, 1, 1, 0, 0, 1, 1, 128), true, true, 0, inf, 2, ConvMma.Tile.WIDE),
            new Int8Case(new ConvMma.Geometry(1, 13, 13, 64, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1, 128), false, false, -0.5f, 1.5f, 1, ConvMma.Tile.WIDE),
        };
        SplittableRandom r = new SplittableRandom(17);
        for (Int8Case c : cases) {
            ConvMma.Geometry g = c.g();
            byte[] x = codes(r, g.n() * g.h() * g.w() * g.c()), w = codes(r, g.cout() * g.k());
            float[] scale = new float[g.cout()], bias = c.bias() ? new float[g.cout()] : null;
            for (int o = 0; o < g.cout(); o++) {
                scale[o] = (float) ((0.5 + r.nextDouble()) / (Math.sqrt(g.k()) * 9000));
                if (bias != null) bias[o] = (float) r.nextGaussian() * 0.5f;
            }
            byte[] res = c.residual() ? codes(r, (int) g.m() * g.cout()) : null;
            float resScale = 0.01f, outScale = 0.02f;
            byte[] want = ConvMma.referenceInt8(g, x, w, scale, bias, res, resScale, c.lo(), c.hi(), outScale);
            int nonzero = 0, saturated = 0;
            for (byte b : want) { if (b != 0) nonzero++; if (b == 127 || b == -127) saturated++; }
            assertTrue(nonzero > want.length / 4 && saturated < want.length / 4, c + ": the codes exercise the range (" + nonzero + " nonzero, " + saturated + " saturated of " + want.length + ")");
            try (DeviceBuffer xb = DeviceBuffer.ofBytes(x); DeviceBuffer wb = DeviceBuffer.ofBytes(w); DeviceBuffer sb = DeviceBuffer.ofFloats(scale);
                 DeviceBuffer bb = bias == null ? null : DeviceBuffer.ofFloats(bias); DeviceBuffer rb = res == null ? null : DeviceBuffer.ofBytes(res);
                 DeviceBuffer yb = DeviceBuffer.allocate(g.m() * g.cout());
                 DeviceBuffer pb = DeviceBuffer.allocate(Math.max(4, ConvMmaTactic.partialBytes(g.m(), g.cout(), c.splits())));
                 DeviceBuffer cb = DeviceBuffer.allocate(4L * g.counters())) {
                cb.fill((byte) 0);
                Int8Epilogue.Params ep = new Int8Epilogue.Params(sb, bb, rb, resScale, c.lo(), c.hi(), DType.I8, outScale);
                for (int run = 0; run < 2; run++) {
                    ConvMma.runInt8(kc, g, c.tile(), xb, wb, ep, yb, pb, cb, c.splits(), CudaStream.DEFAULT);
                    byte[] got = new byte[want.length];
                    yb.copyTo(got);
                    assertArrayEquals(want, got, c + " run " + run + ": the kernel's codes equal the host's");
                    int[] counters = new int[g.counters()];
                    cb.copyTo(counters);
                    for (int v : counters) assertEquals(0, v, c + ": the tile counters are back at zero");
                }
            }
        }
    }

    static byte[] codes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (r.nextInt(255) - 127);
        return b;
    }

    @Test void theSplitFillsTheSmsOnlyWhereTheTilesDoNot() {
        assertEquals(1, ConvMmaTactic.splits(3136 * 32, 64, 576, 132), "ResNet's layer1 3x3 at batch 32: 1,568 tiles");
        assertEquals(9, ConvMmaTactic.splits(196, 256, 2304, 132), "layer3's 3x3 at batch 1: 16 tiles");
        assertEquals(17, ConvMmaTactic.splits(49, 512, 4608, 132), "layer4's 3x3 at batch 1: 8 tiles");
        assertEquals(1, ConvMmaTactic.splits(3136, 64, 64, 132), "K = 64 has two slices: not split");
        // int8: slices of 64 values, so K = 4608 has 72 slices (at least 4 a split) and layer4 at batch 1 splits 17 ways as at f16
        assertEquals(17, ConvMmaTactic.splits(49, 512, 4608, 1, 132), "layer4's 3x3 at batch 1, int8");
        assertEquals(4, ConvMmaTactic.splits(49, 512, 1024, 1, 132), "K = 1024 at int8: 16 slices, at most 4 splits");
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
