package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.tactics.conv.ConvMmaTactic;

/**
 * {@code tessel.conv.mma}'s int8 kernel on random convolutions, on the emulated device: images, sizes, 64 or 128 input
 * channels, 16 to 160 output channels, 1 or 3 taps each way, strides, dilations, pads on each side (the bottom and right
 * ones only decide the output size), either tile, 1 to 4 K splits, with or without bias, residual, ReLU or a Clip; the
 * codes equal {@link ConvMma#referenceInt8}'s (exact sums, the same f32 epilogue), and the tile counters are back at zero.
 */
class ConvMmaInt8PropertiesTest {
    static CudaContext ctx;
    static KernelCompiler kc;

    @BeforeContainer static void open() {
        ctx = CudaContext.emulated(2, 1L << 28);
        kc = new KernelCompiler(ctx);
    }

    @AfterContainer static void close() {
        kc.close();
        ctx.close();
    }

    @Property(tries = 50)
    void anyConvolutionsCodesEqualTheHosts(@ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 1 + r.nextInt(2), h = 1 + r.nextInt(12), w = 1 + r.nextInt(12), c = 64 * (1 + r.nextInt(2)), cout = 16 * (1 + r.nextInt(10));
        int kh = r.nextBoolean() ? 1 : 3, kw = r.nextBoolean() ? 1 : 3, sh = 1 + r.nextInt(2), sw = 1 + r.nextInt(2), dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2);
        int ph = r.nextInt(kh), pw = r.nextInt(kw), pbot = r.nextInt(kh), pr = r.nextInt(kw);
        int oh = (h + ph + pbot - dh * (kh - 1) - 1) / sh + 1, ow = (w + pw + pr - dw * (kw - 1) - 1) / sw + 1;
        if (h + ph + pbot - dh * (kh - 1) < 1) { ph = kh - 1; pbot = kh - 1; dh = 1; oh = (h + ph + pbot - (kh - 1) - 1) / sh + 1; }
        if (w + pw + pr - dw * (kw - 1) < 1) { pw = kw - 1; pr = kw - 1; dw = 1; ow = (w + pw + pr - (kw - 1) - 1) / sw + 1; }
        ConvMma.Geometry g = new ConvMma.Geometry(n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout);
        ConvMma.Tile tile = r.nextBoolean() ? ConvMma.Tile.SMALL : ConvMma.Tile.WIDE;
        int splits = 1 + r.nextInt(Math.min(4, g.k() / ConvMmaTactic.slice(1)));
        boolean bias = r.nextBoolean(), residual = r.nextBoolean();
        int act = r.nextInt(3);
        float lo = act == 0 ? Float.NEGATIVE_INFINITY : act == 1 ? 0f : -0.75f, hi = act == 2 ? 1.25f : Float.POSITIVE_INFINITY;
        String what = g + " " + tile + " split " + splits + (bias ? " bias" : "") + (residual ? " residual" : "") + " clamp [" + lo + ", " + hi + "]";
        byte[] x = ConvMmaEmulatedTest.codes(r, n * h * w * c), wt = ConvMmaEmulatedTest.codes(r, cout * g.k());
        float[] scale = new float[cout], b = bias ? new float[cout] : null;
        for (int o = 0; o < cout; o++) {
            scale[o] = (float) ((0.5 + r.nextDouble()) / (Math.sqrt(g.k()) * 9000));
            if (b != null) b[o] = (float) r.nextGaussian() * 0.5f;
        }
        byte[] res = residual ? ConvMmaEmulatedTest.codes(r, (int) g.m() * cout) : null;
        byte[] want = ConvMma.referenceInt8(g, x, wt, scale, b, res, 0.01f, lo, hi, 0.02f);
        try (DeviceBuffer xb = DeviceBuffer.ofBytes(x); DeviceBuffer wb = DeviceBuffer.ofBytes(wt); DeviceBuffer sb = DeviceBuffer.ofFloats(scale);
             DeviceBuffer bb = b == null ? null : DeviceBuffer.ofFloats(b); DeviceBuffer rb = res == null ? null : DeviceBuffer.ofBytes(res);
             DeviceBuffer yb = DeviceBuffer.allocate(g.m() * cout); DeviceBuffer pb = DeviceBuffer.allocate(Math.max(4, ConvMmaTactic.partialBytes(g.m(), cout, splits)));
             DeviceBuffer cb = DeviceBuffer.allocate(4L * g.counters())) {
            cb.fill((byte) 0);
            ConvMma.runInt8(kc, g, tile, xb, wb, new Int8Epilogue.Params(sb, bb, rb, 0.01f, lo, hi, DType.I8, 0.02f), yb, pb, cb, splits, CudaStream.DEFAULT);
            byte[] got = new byte[want.length];
            yb.copyTo(got);
            assertArrayEquals(want, got, what);
            int[] counters = new int[g.counters()];
            cb.copyTo(counters);
            for (int v : counters) assertEquals(0, v, what + ": the tile counters are back at zero");
        }
    }
}
