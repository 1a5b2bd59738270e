package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.conv.ConvMmaTactic;

/**
 * Tactic {@code tessel.conv.mma} ({@code conv_mma.cu}): a 2-D NHWC f16 convolution of one group as an implicit GEMM on
 * tensor cores, K split over the grid into {@code splits} ranges whose f32 partial sums the tile's last block adds in
 * split order; bias (f16), a residual (f16, the output's shape) and ReLU in the epilogue. See {@link ConvMmaTactic}.
 */
public final class ConvMma {
    private ConvMma() {}

    /** The convolution's shape: input x [n, h, w, c] (NHWC), output [n, oh, ow, cout], kernel kh x kw, strides, the top and left pads, dilations. */
    public record Geometry(int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout) {
        public Geometry {
            if (n < 1 || h < 1 || w < 1 || c < 1 || oh < 1 || ow < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || cout < 1 || ph < 0 || pw < 0)
                throw new IllegalArgumentException("tessel.conv.mma: a degenerate convolution " + this);
            if (c % ConvMmaTactic.SLICE != 0 || cout % 8 != 0)
                throw new IllegalArgumentException("tessel.conv.mma takes input channels that are a multiple of " + ConvMmaTactic.SLICE + " and output channels of 8 (got " + c + " -> " + cout + ")");
        }

        /** Output pixels: the GEMM's M. */
        public long m() { return (long) n * oh * ow; }

        /** Taps x input channels: the GEMM's K. */
        public int k() { return kh * kw * c; }

        long tilesM() { return (m() + ConvMmaTactic.TILE_M - 1) / ConvMmaTactic.TILE_M; }

        int tilesN() { return (cout + ConvMmaTactic.TILE_N - 1) / ConvMmaTactic.TILE_N; }

        /** Ints of the counters a split run needs: one per output tile. */
        public int counters() { return (int) (tilesM() * tilesN()); }
    }

    public static String source(DType t) {
        if (t != DType.F16) throw new IllegalArgumentException("tessel.conv.mma runs f16 convolutions, got " + t.text());
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("conv_mma.cu");
    }

    /**
     * y = act(conv(x, filters) + bias + residual) with K in {@code splits} ranges. {@code filters}: [cout, kh, kw, c] (KRSC);
     * {@code bias} and {@code residual} may be null; with {@code splits} > 1, {@code partials} holds at least
     * {@link ConvMmaTactic#partialBytes} bytes and {@code counters} {@link Geometry#counters} ints that are zero (each run
     * leaves them zero).
     */
    public static void run(KernelCompiler kc, Geometry g, DeviceBuffer x, DeviceBuffer filters, DeviceBuffer bias, DeviceBuffer residual, DeviceBuffer y,
                           DeviceBuffer partials, DeviceBuffer counters, boolean relu, int splits, CudaStream stream) {
        int slices = g.k() / ConvMmaTactic.SLICE;
        if (splits < 1 || splits > Math.min(ConvMmaTactic.MAX_SPLITS, slices))
            throw new IllegalArgumentException("tessel.conv.mma: " + splits + " K splits of " + slices + " slices (1 to " + Math.min(ConvMmaTactic.MAX_SPLITS, slices) + ")");
        if (g.tilesM() > 65535 || g.m() > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.conv.mma: " + g.m() + " output pixels are too many for one launch");
        long out = g.m() * g.cout();
        need(x, 2L * g.n() * g.h() * g.w() * g.c(), "input");
        need(filters, 2L * g.cout() * g.k(), "filters");
        need(y, 2 * out, "output");
        if (bias != null) need(bias, 2L * g.cout(), "bias");
        if (residual != null) need(residual, 2 * out, "residual");
        if (splits > 1) {
            if (partials == null || counters == null) throw new IllegalArgumentException("tessel.conv.mma: a split run needs partials and counters");
            need(partials, ConvMmaTactic.partialBytes(g.m(), g.cout(), splits), "partial sums");
            need(counters, 4L * g.counters(), "tile counters");
        }
        CudaKernel k = kc.kernel("tessel_conv_mma_f16.cu", () -> source(DType.F16), "tessel_conv_mma");
        k.launch(g.tilesN(), (int) g.tilesM(), splits, 128, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(filters)
                .ptr(bias == null ? 0L : bias.address()).ptr(residual == null ? 0L : residual.address()).ptr(y)
                .ptr(splits > 1 ? partials.address() : 0L).ptr(splits > 1 ? counters.address() : 0L)
                .i32(g.n()).i32(g.h()).i32(g.w()).i32(g.c()).i32(g.oh()).i32(g.ow()).i32(g.kh()).i32(g.kw()).i32(g.sh()).i32(g.sw())
                .i32(g.ph()).i32(g.pw()).i32(g.dh()).i32(g.dw()).i32(g.cout()).i32(relu ? 1 : 0).i32(splits));
    }

    private static void need(DeviceBuffer b, long bytes, String what) {
        if (b == null || b.bytes() < bytes) throw new IllegalArgumentException("tessel.conv.mma: the " + what + " take " + bytes + " bytes, got " + (b == null ? "none" : b.bytes()));
    }

    /**
     * The kernel on the host: f32 sums of the f16 inputs' products in k order, the epilogue in f32, rounded to f16 once
     * (the device adds its mma sums in another order, so the two agree to f32 rounding before the final rounding).
     * x [n, h, w, c], filters [cout, kh, kw, c], bias [cout] and residual [m, cout] as floats; returns y [m, cout].
     */
    public static float[] reference(Geometry g, float[] x, float[] filters, float[] bias, float[] residual, boolean relu) {
        int m = (int) g.m(), k = g.k();
        float[] y = new float[m * g.cout()];
        for (int p = 0; p < m; p++) {
            int ox = p % g.ow(), t = p / g.ow(), oy = t % g.oh(), b = t / g.oh();
            for (int o = 0; o < g.cout(); o++) {
                float s = 0;
                for (int ky = 0; ky < g.kh(); ky++)
                    for (int kx = 0; kx < g.kw(); kx++) {
                        int iy = oy * g.sh() - g.ph() + ky * g.dh(), ix = ox * g.sw() - g.pw() + kx * g.dw();
                        if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                        int xi = ((b * g.h() + iy) * g.w() + ix) * g.c(), wi = o * k + (ky * g.kw() + kx) * g.c();
                        for (int c = 0; c < g.c(); c++) s += x[xi + c] * filters[wi + c];
                    }
                float v = s + (bias == null ? 0 : bias[o]) + (residual == null ? 0 : residual[p * g.cout() + o]);
                y[p * g.cout() + o] = org.tessel.api.Tensor.round(DType.F16, relu ? Math.max(v, 0) : v);
            }
        }
        return y;
    }
}
