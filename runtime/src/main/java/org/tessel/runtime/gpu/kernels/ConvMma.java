package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.conv.ConvMmaTactic;

/**
 * Tactic {@code tessel.conv.mma} ({@code conv_mma.cu}): a 2-D NHWC convolution of one group as an implicit GEMM on
 * tensor cores, K split over the grid into {@code splits} ranges whose partial sums the tile's last block adds in
 * split order. f16 ({@link #run}: bias (f16), a residual (f16, the output's shape) and ReLU in the epilogue, f32 sums) or
 * int8 codes ({@link #runInt8}: exact int32 sums, the INT8 epilogue's scales, bias, residual, clamp and requantization).
 * See {@link ConvMmaTactic}.
 */
public final class ConvMma {
    private ConvMma() {}

    /** The convolution's shape: input x [n, h, w, c] (NHWC), output [n, oh, ow, cout], kernel kh x kw, strides, the top and left pads, dilations. */
    public record Geometry(int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout) {
        public Geometry {
            if (n < 1 || h < 1 || w < 1 || c < 1 || oh < 1 || ow < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || cout < 1 || ph < 0 || pw < 0)
                throw new IllegalArgumentException("tessel.conv.mma: a degenerate convolution " + this);
        }

        /**
         * Why the kernel of element type {@code t} (f16 or i8) cannot take these channels (null: it can): input channels a
         * multiple of a K slice ({@link ConvMmaTactic#slice}: 32 f16 or 64 int8 values), output channels of 8 (f16) or 16 (i8).
         */
        public String whyNot(DType t) {
            if (t != DType.F16 && t != DType.I8) return "tessel.conv.mma runs f16 and int8 convolutions, not " + t.text();
            String channels = ConvMmaTactic.channelsWhyNot(c, cout, t.bytes());
            return channels == null ? null : "tessel.conv.mma at " + t.text() + " takes " + channels;
        }

        /** K slices of element type {@code t}. */
        public int slices(DType t) { return k() / ConvMmaTactic.slice(t.bytes()); }

        /** Output pixels: the GEMM's M. */
        public long m() { return (long) n * oh * ow; }

        /** Taps x input channels: the GEMM's K. */
        public int k() { return kh * kw * c; }

        long tilesM(Tile t) { return (m() + t.size - 1) / t.size; }

        int tilesN(Tile t) { return (cout + t.size - 1) / t.size; }

        /** Ints of the counters a split run needs: one per output tile (of the small tile, so enough for either). */
        public int counters() { return (int) (tilesM(Tile.SMALL) * tilesN(Tile.SMALL)); }
    }

    /**
     * A block's output tile: {@link #SMALL}, 64 x 64 of 4 warps (each 32 x 32), for few pixels and split K; {@link #WIDE},
     * 128 x 128 of 4 warps (each 64 x 64: twice the mma work per shared-memory byte of a 32 x 32 warp), int8 only, for many pixels.
     */
    public enum Tile {
        SMALL(ConvMmaTactic.TILE_M, 128, "tessel_conv_mma_s8", 0), WIDE(ConvMmaTactic.WIDE_TILE, 128, "tessel_conv_mma_s8_wide", ConvMmaTactic.WIDE_TILE * (ConvMmaTactic.WIDE_TILE + 4) * 4);

        final int size, threads, dynamicShared;
        final String int8Kernel;

        Tile(int size, int threads, String int8Kernel, int dynamicShared) {
            this.size = size;
            this.threads = threads;
            this.int8Kernel = int8Kernel;
            this.dynamicShared = dynamicShared;
        }
    }

    /** The program: the kernels, {@code tessel_conv_mma} (f16), {@code tessel_conv_mma_s8} and {@code tessel_conv_mma_s8_wide} (int8 codes). */
    public static String source() {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", DType.F16) + KernelCompiler.resource("int8.cuh") + KernelCompiler.resource("mma.cuh")
                + KernelCompiler.resource("conv_mma.cu");
    }

    private static final String PROGRAM = "tessel_conv_mma.cu";

    /**
     * y = act(conv(x, filters) + bias + residual) with K in {@code splits} ranges. {@code filters}: [cout, kh, kw, c] (KRSC);
     * {@code bias} and {@code residual} may be null; with {@code splits} > 1, {@code partials} holds at least
     * {@link ConvMmaTactic#partialBytes} bytes and {@code counters} {@link Geometry#counters} ints that are zero (each run
     * leaves them zero).
     */
    public static void run(KernelCompiler kc, Geometry g, DeviceBuffer x, DeviceBuffer filters, DeviceBuffer bias, DeviceBuffer residual, DeviceBuffer y,
                           DeviceBuffer partials, DeviceBuffer counters, boolean relu, int splits, CudaStream stream) {
        check(g, DType.F16, Tile.SMALL, x, filters, residual, y, partials, counters, splits);
        if (bias != null) need(bias, 2L * g.cout(), "bias");
        CudaKernel k = kc.kernel(PROGRAM, ConvMma::source, "tessel_conv_mma");
        k.launch(g.tilesN(Tile.SMALL), (int) g.tilesM(Tile.SMALL), splits, 128, 1, 1, 0, stream, geometry(CudaKernel.args().ptr(x).ptr(filters)
                .ptr(bias == null ? 0L : bias.address()).ptr(residual == null ? 0L : residual.address()).ptr(y)
                .ptr(splits > 1 ? partials.address() : 0L).ptr(splits > 1 ? counters.address() : 0L), g).i32(relu ? 1 : 0).i32(splits));
    }

    /**
     * The int8 form: x and {@code filters} ([cout, kh, kw, c], KRSC) int8 codes, exact int32 sums, then {@code ep}'s
     * epilogue as {@link Int8Epilogue} applies it (sum * channel scale, + bias, + residual code * its scale, clamped,
     * requantized into y's int8 codes at the output scale), so y's codes equal the CPU emulation's. With {@code splits}
     * > 1, {@code partials} holds {@link ConvMmaTactic#partialBytes} bytes (int32 sums) and {@code counters}
     * {@link Geometry#counters} ints that are zero (each run leaves them zero). {@code tile}: the block's output tile.
     */
    public static void runInt8(KernelCompiler kc, Geometry g, Tile tile, DeviceBuffer x, DeviceBuffer filters, Int8Epilogue.Params ep, DeviceBuffer y,
                               DeviceBuffer partials, DeviceBuffer counters, int splits, CudaStream stream) {
        check(g, DType.I8, tile, x, filters, ep.residual(), y, partials, counters, splits);
        if (ep.out() != DType.I8) throw new IllegalArgumentException("tessel.conv.mma at int8 writes int8 codes, not " + ep.out().text());
        need(ep.channelScales(), 4L * g.cout(), "channel scales");
        if (ep.bias() != null) need(ep.bias(), 4L * g.cout(), "bias");
        CudaKernel k = kc.kernel(PROGRAM, ConvMma::source, tile.int8Kernel);
        if (tile.dynamicShared > 0) k.setMaxDynamicSharedMemory(tile.dynamicShared);
        k.launch(g.tilesN(tile), (int) g.tilesM(tile), splits, tile.threads, 1, 1, tile.dynamicShared, stream, geometry(CudaKernel.args().ptr(x).ptr(filters).ptr(ep.channelScales())
                .ptr(ep.bias() == null ? 0L : ep.bias().address()).ptr(ep.residual() == null ? 0L : ep.residual().address()).f32(ep.residualScale())
                .f32(ep.lo()).f32(ep.hi()).ptr(y).f32(ep.outScale())
                .ptr(splits > 1 ? partials.address() : 0L).ptr(splits > 1 ? counters.address() : 0L), g).i32(splits));
    }

    private static CudaKernel.Args geometry(CudaKernel.Args a, Geometry g) {
        return a.i32(g.n()).i32(g.h()).i32(g.w()).i32(g.c()).i32(g.oh()).i32(g.ow()).i32(g.kh()).i32(g.kw()).i32(g.sh()).i32(g.sw())
                .i32(g.ph()).i32(g.pw()).i32(g.dh()).i32(g.dw()).i32(g.cout());
    }

    /** The checks both forms share: channels, splits, launch size, and the buffers' sizes at element type {@code t}. */
    private static void check(Geometry g, DType t, Tile tile, DeviceBuffer x, DeviceBuffer filters, DeviceBuffer residual, DeviceBuffer y,
                              DeviceBuffer partials, DeviceBuffer counters, int splits) {
        String why = g.whyNot(t);
        if (why != null) throw new IllegalArgumentException(why);
        int slices = g.slices(t), most = Math.min(ConvMmaTactic.MAX_SPLITS, slices);
        if (splits < 1 || splits > most)
            throw new IllegalArgumentException("tessel.conv.mma: " + splits + " K splits of " + slices + " slices (1 to " + most + ")");
        if (g.tilesM(tile) > 65535 || g.m() > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.conv.mma: " + g.m() + " output pixels are too many for one launch");
        long out = g.m() * g.cout(), e = t.bytes();
        need(x, e * g.n() * g.h() * g.w() * g.c(), "input");
        need(filters, e * g.cout() * g.k(), "filters");
        need(y, e * out, "output");
        if (residual != null) need(residual, e * out, "residual");
        if (splits > 1) {
            if (partials == null || counters == null) throw new IllegalArgumentException("tessel.conv.mma: a split run needs partials and counters");
            need(partials, ConvMmaTactic.partialBytes(g.m(), g.cout(), splits), "partial sums");
            need(counters, 4L * g.counters(), "tile counters");
        }
    }

    private static void need(DeviceBuffer b, long bytes, String what) {
        if (b == null || b.bytes() < bytes) throw new IllegalArgumentException("tessel.conv.mma: the " + what + " take " + bytes + " bytes, got " + (b == null ? "none" : b.bytes()));
    }

    /**
     * The f16 kernel on the host: f32 sums of the f16 inputs' products in k order, the epilogue in f32, rounded to f16 once
     * (the device adds its mma sums in another order, so the two agree to f32 rounding before the final rounding).
     * x [n, h, w, c], filters [cout, kh, kw, c], bias [cout] and residual [m, cout] as floats; returns y [m, cout].
     */
    public static float[] reference(Geometry g, float[] x, float[] filters, float[] bias, float[] residual, boolean relu) {
        float[] y = new float[(int) g.m() * g.cout()];
        forEachOutput(g, (p, o, taps) -> {
            float s = 0;
            for (int[] t : taps) for (int c = 0; c < g.c(); c++) s += x[t[0] + c] * filters[t[1] + c];
            float v = s + (bias == null ? 0 : bias[o]) + (residual == null ? 0 : residual[p * g.cout() + o]);
            y[p * g.cout() + o] = org.tessel.api.Tensor.round(DType.F16, relu ? Math.max(v, 0) : v);
        });
        return y;
    }

    /**
     * The int8 kernel on the host: exact int sums of the codes, then the epilogue as the kernel applies it (f32 products
     * and sums in the same order, Java's float arithmetic rounding as __fmul_rn / __fadd_rn do), the code
     * {@link Int8Epilogue#referenceCode}; the device's codes equal these. {@code scale[o]} = s_x * s_w[o]; bias and
     * residual (codes at {@code resScale}) may be null.
     */
    public static byte[] referenceInt8(Geometry g, byte[] x, byte[] filters, float[] scale, float[] bias, byte[] residual, float resScale, float lo, float hi, float outScale) {
        byte[] y = new byte[(int) g.m() * g.cout()];
        forEachOutput(g, (p, o, taps) -> {
            int s = 0;
            for (int[] t : taps) for (int c = 0; c < g.c(); c++) s += x[t[0] + c] * filters[t[1] + c];
            float v = (float) s * scale[o];
            if (bias != null) v = v + bias[o];
            if (residual != null) v = v + (float) residual[p * g.cout() + o] * resScale;
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            y[p * g.cout() + o] = (byte) Int8Epilogue.referenceCode(v, outScale);
        });
        return y;
    }

    /** An output (pixel p, channel o) and its taps inside the input: {x index of the tap's channel 0, filter index of it}. */
    private interface OutputVisitor {
        void visit(int p, int o, java.util.List<int[]> taps);
    }

    private static void forEachOutput(Geometry g, OutputVisitor v) {
        int m = (int) g.m(), k = g.k();
        for (int p = 0; p < m; p++) {
            int ox = p % g.ow(), t = p / g.ow(), oy = t % g.oh(), b = t / g.oh();
            for (int o = 0; o < g.cout(); o++) {
                java.util.List<int[]> taps = new java.util.ArrayList<>();
                for (int ky = 0; ky < g.kh(); ky++)
                    for (int kx = 0; kx < g.kw(); kx++) {
                        int iy = oy * g.sh() - g.ph() + ky * g.dh(), ix = ox * g.sw() - g.pw() + kx * g.dw();
                        if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                        taps.add(new int[] {((b * g.h() + iy) * g.w() + ix) * g.c(), o * k + (ky * g.kw() + kx) * g.c()});
                    }
                v.visit(p, o, taps);
            }
        }
    }
}
