package org.tessel.runtime.gpu.kernels;

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

/**
 * {@code tessel.conv.stem_pool} on the emulated device (its mma.sync run in software) against {@link ConvPool#reference}:
 * ResNet's stem shape at a small size from NCHW and NHWC inputs, 3x3 convolutions of 4 and 1 channels, pools of 2x2 and
 * 3x3 with and without pads, outputs that leave partial tiles both ways, and a persistent grid of fewer blocks than tiles.
 */
class ConvPoolEmulatedTest {
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

    record Case(ConvPool.Geometry g, boolean nchw, boolean bias, boolean relu, int blocks) {}

    /** A geometry whose conv and pool outputs follow from the input size as ONNX computes them (floor). */
    static ConvPool.Geometry geometry(int n, int c, int h, int w, int cout, int k, int s, int p, int pk, int ps, int pp) {
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        int poh = (oh + 2 * pp - pk) / ps + 1, pow = (ow + 2 * pp - pk) / ps + 1;
        return new ConvPool.Geometry(n, c, h, w, cout, k, k, s, s, p, p, oh, ow, pk, pk, ps, ps, pp, pp, poh, pow);
    }

    @Test void stemsEqualTheHostsToF16Rounding() {
        Case[] cases = {
            // ResNet's stem (7x7/2 pad 3, 64 channels; 3x3/2 pad 1 pool) on a 2-image 40 x 36 input, NCHW and NHWC
            new Case(geometry(2, 3, 40, 36, 64, 7, 2, 3, 3, 2, 1), true, true, true, 0),
            new Case(geometry(2, 3, 40, 36, 64, 7, 2, 3, 3, 2, 1), false, true, true, 0),
            // 3x3/1 of 4 channels, 16 out, no bias or ReLU, a 2x2/2 unpadded pool; 3 blocks for more tiles
            new Case(geometry(1, 4, 29, 35, 16, 3, 1, 1, 2, 2, 0), false, false, false, 3),
            // one channel, 5x5/2, 24 out, a 3x3/1 pool padded by 1
            new Case(geometry(3, 1, 23, 19, 24, 5, 2, 2, 3, 1, 1), true, true, true, 2),
        };
        SplittableRandom r = new SplittableRandom(3);
        for (Case c : cases) {
            ConvPool.Geometry g = c.g();
            assertEquals(null, g.whyNot(), c.toString());
            float[] x = f16(r, g.n() * g.c() * g.h() * g.w(), 1), w = f16(r, g.cout() * g.c() * g.kh() * g.kw(), 0.3f);
            float[] bias = c.bias() ? f16(r, g.cout(), 1) : null;
            float[] want = ConvPool.reference(g, x, c.nchw(), w, bias, c.relu());
            int blocks = c.blocks() > 0 ? c.blocks() : ConvPool.blocks(g, 132);
            try (DeviceBuffer xb = upload(x); DeviceBuffer wb = upload(ConvPool.packFilters(g, w));
                 DeviceBuffer bb = bias == null ? null : DeviceBuffer.ofFloats(bias); DeviceBuffer yb = DeviceBuffer.allocate(2L * want.length)) {
                yb.fill((byte) 0x7f);
                ConvPool.run(kc, g, xb, c.nchw(), wb, bb, c.relu(), yb, blocks, CudaStream.DEFAULT);
                short[] got = new short[want.length];
                yb.copyTo(got);
                double worst = 0;
                for (int i = 0; i < want.length; i++) {
                    double err = Math.abs(Float.float16ToFloat(got[i]) - want[i]) / (1 + Math.abs(want[i]));
                    worst = Math.max(worst, err);
                }
                // each conv output's sum agrees to f32 rounding before its f16 rounding (one f16 ulp, 2^-10 relative); the max then picks one of them
                assertTrue(worst < 2e-3, c + ": worst relative error " + worst);
            }
        }
    }

    @Test void shapesItCannotRunAreRefusedNamingTheLimit() {
        assertEquals("takes at most 4 input channels (got 8)", geometry(1, 8, 16, 16, 16, 3, 1, 1, 2, 2, 0).whyNot());
        assertEquals("takes output channels a multiple of 8 up to 64 (got 20)", geometry(1, 3, 16, 16, 20, 3, 1, 1, 2, 2, 0).whyNot());
        assertEquals("takes pool windows up to 3x3 (got 4x4)", geometry(1, 3, 16, 16, 16, 3, 1, 1, 4, 2, 0).whyNot());
        assertThrows(IllegalArgumentException.class, () -> geometry(1, 3, 16, 16, 0, 3, 1, 1, 2, 2, 0));
        ConvPool.Geometry g = geometry(1, 8, 16, 16, 16, 3, 1, 1, 2, 2, 0);
        try (DeviceBuffer b = DeviceBuffer.allocate(1 << 16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConvPool.run(kc, g, b, true, b, null, true, b, 1, CudaStream.DEFAULT));
            assertEquals("tessel.conv.stem_pool takes at most 4 input channels (got 8)", e.getMessage());
        }
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
