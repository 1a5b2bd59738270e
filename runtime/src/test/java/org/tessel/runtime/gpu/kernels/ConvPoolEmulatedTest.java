package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * {@code tessel.conv.stem_pool} ({@code tessel_conv_pool}) on the emulated device (its mma.sync run in software) against
 * {@link ConvPool#reference}: ResNet's stem shape at a small size from NCHW and NHWC inputs; a 3x3/1 convolution of 4
 * channels with no bias or ReLU (negative values through the pool) and a 2x2/2 pool; one input channel; 3 channels at
 * conv stride 1 (the zero fourth channel of the patch) and 1 channel at stride 1; rectangular filters, strides and pool
 * windows; ceil-mode pools whose last windows hang past the conv output; a conv output of larger bottom/right pads than
 * top/left ones; pooled outputs that are no multiple of the tile either way; persistent grids of fewer blocks than
 * tiles, and of one block.
 *
 * <p>The bound: each conv value is the f32 sum (device, mma order) or the double sum (host) of the same f16 products,
 * + bias, ReLU, then rounded to f16; the sums agree to far below an f16 ulp, so the rounded values differ by at most one
 * f16 ulp (2^-10 of the value) where the sum lies near a rounding boundary, and the max over a window of such values by
 * as much. So |got - want| <= 1e-3 |want| + 1e-4 per element (the absolute 1e-4 for values near zero, where the sums'
 * f32 rounding, ~1e-6 of the terms, can exceed the f16 ulp of a tiny result). A wrong tap, channel, pixel or fragment
 * moves values by the size of a product term (~0.1 to 1), far outside it.
 */
class ConvPoolEmulatedTest {
    static CudaContext ctx;
    static KernelCompiler kc;

    @BeforeAll static void open() {
        ctx = CudaContext.emulated(4, 1L << 28);
        kc = new KernelCompiler(ctx);
    }

    @AfterAll static void close() {
        kc.close();
        ctx.close();
    }

    /** A case; {@code tile} null for {@link ConvPool#tile}'s, {@code blocks} 0 for {@link ConvPool#blocks}'s grid. */
    record Case(String name, ConvPool.Geometry g, boolean nchw, boolean bias, boolean relu, int blocks, ConvPool.Tile tile) {
        Case(String name, ConvPool.Geometry g, boolean nchw, boolean bias, boolean relu, int blocks) { this(name, g, nchw, bias, relu, blocks, null); }

        ConvPool.Tile tileUsed() { return tile != null ? tile : ConvPool.tile(g); }

        @Override public String toString() {
            return name + " " + g + (nchw ? " NCHW" : " NHWC") + (bias ? " bias" : "") + (relu ? " relu" : "") + ", tile " + tileUsed() + ", " + (blocks > 0 ? blocks : "all") + " blocks";
        }
    }

    /** A geometry whose conv and pool outputs follow from the input size as ONNX computes them (floor, or ceil for the pool). */
    static ConvPool.Geometry geometry(int n, int c, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int pkh, int pkw, int psh, int psw,
                                      int pph, int ppw, boolean ceil) {
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        int poh = Math.floorDiv(oh + 2 * pph - pkh + (ceil ? psh - 1 : 0), psh) + 1, pow = Math.floorDiv(ow + 2 * ppw - pkw + (ceil ? psw - 1 : 0), psw) + 1;
        return new ConvPool.Geometry(n, c, h, w, cout, kh, kw, sh, sw, ph, pw, oh, ow, pkh, pkw, psh, psw, pph, ppw, poh, pow);
    }

    static ConvPool.Geometry geometry(int n, int c, int h, int w, int cout, int k, int s, int p, int pk, int ps, int pp) {
        return geometry(n, c, h, w, cout, k, k, s, s, p, p, pk, pk, ps, ps, pp, pp, false);
    }

    @Test void convPoolsEqualTheHostsToOneF16Ulp() {
        Case[] cases = {
            // ResNet's stem (7x7/2 pad 3, 64 channels; 3x3/2 pad 1 pool) on a 2-image 40 x 36 input, NCHW and NHWC
            new Case("stem", geometry(2, 3, 40, 36, 64, 7, 2, 3, 3, 2, 1), true, true, true, 0),
            new Case("stem", geometry(2, 3, 40, 36, 64, 7, 2, 3, 3, 2, 1), false, true, true, 0),
            // 3x3/1 of 4 channels, 16 out, no bias, no ReLU, a 2x2/2 unpadded pool; 3 blocks loop over the tiles
            new Case("3x3 c4", geometry(1, 4, 29, 35, 16, 3, 1, 1, 2, 2, 0), false, false, false, 3),
            // one channel, 5x5/2, 24 out, a 3x3/1 pool padded by 1, 3 images on 2 blocks
            new Case("c1 5x5/2", geometry(3, 1, 23, 19, 24, 5, 2, 2, 3, 1, 1), true, true, true, 2),
            // 3 channels at conv stride 1 (the patch's zero fourth channel), 8 out, odd sizes, no ReLU
            new Case("c3 stride 1", geometry(1, 3, 21, 17, 8, 3, 1, 1, 3, 2, 1), true, true, false, 0),
            // one channel at stride 1 (a zero second channel), 7x7, 40 out, on one block
            new Case("c1 7x7/1", geometry(2, 1, 19, 22, 40, 7, 1, 3, 2, 2, 0), false, true, true, 1),
            // 2 channels, 3x5 filters at strides 1 x 2, pads 0 x 2; a 3x2 pool at strides 2 x 1 padded 1 x 0, ceil mode
            new Case("rectangles", geometry(2, 2, 26, 31, 32, 3, 5, 1, 2, 0, 2, 3, 2, 2, 1, 1, 0, true), true, true, true, 0),
            // the stem's convolution with a 2x2/2 ceil-mode pool (the last windows hang past the conv output), NHWC, 56 channels
            new Case("stem ceil", geometry(1, 3, 45, 27, 56, 7, 7, 2, 2, 3, 3, 2, 2, 2, 2, 0, 0, true), false, true, false, 0),
            // ONNX pads [3, 3, 4, 5] on a 30 x 33 input: conv output 16 x 18 (the bottom/right pads implied), pool pads [1, 1, 1, 1]
            new Case("end pads", new ConvPool.Geometry(1, 3, 30, 33, 64, 7, 7, 2, 2, 3, 3, 16, 18, 3, 3, 2, 2, 1, 1, 8, 9), true, true, true, 0),
            // tiles forced smaller than the pooled output, leaving partial tiles both ways, several a block: the stem's 10 x 9
            // in 4 x 4 tiles (an odd count of m-tiles: 9 x 9 conv pixels), 3 blocks; the 3x3 c4's 14 x 17 in 8 x 8 tiles (the
            // brief's 8 x 8), one block; the 5x5/2 one-channel case's 12 x 10 in 5 x 3 tiles, 4 blocks
            new Case("stem tiles", geometry(2, 3, 40, 36, 64, 7, 2, 3, 3, 2, 1), false, true, true, 3, new ConvPool.Tile(4, 4)),
            new Case("3x3 c4 tiles", geometry(1, 4, 29, 35, 16, 3, 1, 1, 2, 2, 0), true, false, false, 1, new ConvPool.Tile(8, 8)),
            new Case("c1 5x5/2 tiles", geometry(3, 1, 23, 19, 24, 5, 2, 2, 3, 1, 1), false, true, false, 4, new ConvPool.Tile(5, 3)),
        };
        SplittableRandom r = new SplittableRandom(3);
        for (Case c : cases) {
            ConvPool.Geometry g = c.g();
            assertEquals(null, g.whyNot(), c.toString());
            float[] x = f16(r, g.n() * g.c() * g.h() * g.w(), 1), w = f16(r, g.cout() * g.c() * g.kh() * g.kw(), 0.3f);
            float[] bias = c.bias() ? f16(r, g.cout(), 1) : null;
            float[] want = ConvPool.reference(g, x, c.nchw(), w, bias, c.relu());
            int blocks = c.blocks() > 0 ? c.blocks() : ConvPool.blocks(g, 132);
            // referenceAt (ConvPoolGpuTest's samples of batch 256) is reference's pixel
            for (int[] p : new int[][] {{0, 0, 0}, {g.n() - 1, g.poh() - 1, g.pow() - 1}, {g.n() / 2, g.poh() / 2, g.pow() / 3}}) {
                int at = ((p[0] * g.poh() + p[1]) * g.pow() + p[2]) * g.cout();
                assertArrayEquals(java.util.Arrays.copyOfRange(want, at, at + g.cout()), ConvPool.referenceAt(g, x, c.nchw(), w, bias, c.relu(), p[0], p[1], p[2]), c.toString());
            }
            int positive = 0, negative = 0;
            for (float v : want) { if (v > 0) positive++; if (v < 0) negative++; }
            assertTrue(positive > want.length / 4 && (c.relu() || negative > want.length / 50), c + ": the outputs have both signs (" + positive + " > 0, " + negative + " < 0)");
            try (DeviceBuffer xb = upload(x); DeviceBuffer wb = upload(ConvPool.packFilters(g, w));
                 DeviceBuffer bb = bias == null ? null : DeviceBuffer.ofFloats(bias); DeviceBuffer yb = DeviceBuffer.allocate(2L * want.length)) {
                yb.fill((byte) 0x7f);  // NaN: an output the kernel leaves unwritten fails the comparison
                if (c.tile() == null) ConvPool.run(kc, g, xb, c.nchw(), wb, bb, c.relu(), yb, blocks, CudaStream.DEFAULT);
                else ConvPool.run(kc, g, c.tile(), xb, c.nchw(), wb, bb, c.relu(), yb, blocks, CudaStream.DEFAULT);
                short[] got = new short[want.length];
                yb.copyTo(got);
                double worst = 0;
                int exact = 0;
                for (int i = 0; i < want.length; i++) {
                    float v = Float.float16ToFloat(got[i]);
                    if (v == want[i]) { exact++; continue; }
                    double err = Math.abs(v - want[i]), tol = 1e-3 * Math.abs(want[i]) + 1e-4;
                    if (!(err <= tol)) fail(c + ": y[" + i + "] = " + v + ", the host's " + want[i] + "");
                    worst = Math.max(worst, err / tol);
                }
                System.out.printf("conv_pool %s: %d of %d outputs bit-equal to the host's, worst |diff| %.2f of the bound%n", c, exact, want.length, worst);
            }
        }
    }

    @Test void theStemPacksKTightAndTilesItsPool() {
        ConvPool.Geometry stem = new ConvPool.Geometry(256, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 112, 112, 3, 3, 2, 2, 1, 1, 56, 56);
        // 7 rows of 7 taps x 3 channels (21, and a filler: 22) = 154, rounded to 160; at conv stride 1 the patch takes 4 channels
        assertEquals(160, ConvPool.kp(stem));
        assertEquals(208, ConvPool.kp(new ConvPool.Geometry(1, 3, 32, 32, 64, 7, 7, 1, 1, 3, 3, 32, 32, 3, 3, 2, 2, 1, 1, 16, 16)));
        assertEquals(new ConvPool.Tile(7, 8), ConvPool.tile(stem), "17 x 15 conv pixels: 16 m-tiles");
        assertTrue(ConvPool.sharedBytes(stem) <= ConvPool.MAX_SHARED);
        // the k permutation of a run of 16: k 2t, 2t+1, 2t+8, 2t+9 adjacent
        int[] order = new int[16];
        for (int k = 0; k < 16; k++) order[ConvPool.position(k)] = k;
        assertEquals("[0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15]", java.util.Arrays.toString(order));
        float[] packed = ConvPool.packFilters(stem, new float[64 * 3 * 49]);
        assertEquals(64 * 160, packed.length);
    }

    @Test void shapesItCannotRunAreRefusedNamingTheLimit() {
        assertEquals("takes at most 4 input channels (got 8)", geometry(1, 8, 16, 16, 16, 3, 1, 1, 2, 2, 0).whyNot());
        assertEquals("takes output channels a multiple of 8 up to 64 (got 20)", geometry(1, 3, 16, 16, 20, 3, 1, 1, 2, 2, 0).whyNot());
        assertEquals("takes output channels a multiple of 8 up to 64 (got 72)", geometry(1, 3, 16, 16, 72, 3, 1, 1, 2, 2, 0).whyNot());
        assertEquals("takes filters up to 7x7 (got 9x9)", geometry(1, 3, 32, 32, 16, 9, 2, 4, 2, 2, 0).whyNot());
        assertEquals("takes conv strides up to 2 (got 4x4)", geometry(1, 3, 32, 32, 16, 7, 4, 3, 2, 2, 0).whyNot());
        assertEquals("takes pool windows up to 3x3 (got 4x4)", geometry(1, 3, 16, 16, 16, 3, 1, 1, 4, 2, 0).whyNot());
        assertEquals("takes pool strides up to 2 and the window (got 3x3 for 3x3)", geometry(1, 3, 16, 16, 16, 3, 1, 1, 3, 3, 0).whyNot());
        assertEquals("takes pool pads below the window (got 2, 2 for 2x2)", geometry(1, 3, 16, 16, 16, 3, 1, 1, 2, 2, 2).whyNot());
        assertThrows(IllegalArgumentException.class, () -> geometry(1, 3, 16, 16, 0, 3, 1, 1, 2, 2, 0), "no output channels");
        ConvPool.Geometry g = geometry(1, 8, 16, 16, 16, 3, 1, 1, 2, 2, 0);
        try (DeviceBuffer b = DeviceBuffer.allocate(1 << 16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConvPool.run(kc, g, b, true, b, null, true, b, 1, CudaStream.DEFAULT));
            assertEquals("tessel.conv.stem_pool takes at most 4 input channels (got 8)", e.getMessage());
            ConvPool.Geometry ok = geometry(1, 3, 16, 16, 16, 3, 1, 1, 2, 2, 0);
            try (DeviceBuffer small = DeviceBuffer.allocate(16)) {
                assertTrue(assertThrows(IllegalArgumentException.class, () -> ConvPool.run(kc, ok, small, true, b, null, true, b, 1, CudaStream.DEFAULT))
                        .getMessage().contains("the input take 1536 bytes, got 16"));
            }
        }
    }

    static float[] f16(SplittableRandom r, int n, float scale) { return ConvMmaEmulatedTest.f16(r, n, scale); }

    static DeviceBuffer upload(float[] v) { return ConvMmaEmulatedTest.upload(v); }
}
