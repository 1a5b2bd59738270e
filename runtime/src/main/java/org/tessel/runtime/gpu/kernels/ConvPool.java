package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.conv.ConvPoolTactic;

/**
 * Tactic {@code tessel.conv.stem_pool} ({@code conv_pool.cu}): a convolution of few input channels, its bias and ReLU,
 * and the max pool after it, in one kernel that keeps the convolution's outputs in shared memory and writes only the
 * pooled output (f16 in and out, NHWC out; the input NCHW or NHWC). See {@link ConvPoolTactic}.
 */
public final class ConvPool {
    private ConvPool() {}

    /** Pooled pixels a block's tile takes each way. */
    static final int TILE = 8;
    /** Threads a block. */
    static final int THREADS = 128;

    /**
     * The shapes: input [n, c, h, w] (as laid out, NCHW or NHWC), filters cout x c x kh x kw, conv strides and top/left
     * pads, conv output oh x ow; the pool's window pkh x pkw, strides, top/left pads and output poh x pow.
     */
    public record Geometry(int n, int c, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
                           int pkh, int pkw, int psh, int psw, int pph, int ppw, int poh, int pow) {
        public Geometry {
            if (n < 1 || c < 1 || h < 1 || w < 1 || cout < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || oh < 1 || ow < 1
                    || pkh < 1 || pkw < 1 || psh < 1 || psw < 1 || pph < 0 || ppw < 0 || poh < 1 || pow < 1)
                throw new IllegalArgumentException(ConvPoolTactic.ID + ": a degenerate convolution or pool " + this);
        }

        /** Why the kernel cannot take these shapes (null: it can), in the catalogue's words. */
        public String whyNot() {
            if (c > ConvPoolTactic.MAX_CHANNELS) return "takes at most " + ConvPoolTactic.MAX_CHANNELS + " input channels (got " + c + ")";
            if (cout > ConvPoolTactic.MAX_COUT || cout % ConvPoolTactic.COUT_MULTIPLE != 0)
                return "takes output channels a multiple of " + ConvPoolTactic.COUT_MULTIPLE + " up to " + ConvPoolTactic.MAX_COUT + " (got " + cout + ")";
            if (kh > ConvPoolTactic.MAX_KERNEL || kw > ConvPoolTactic.MAX_KERNEL) return "takes filters up to 7x7 (got " + kh + "x" + kw + ")";
            if (sh > ConvPoolTactic.MAX_STRIDE || sw > ConvPoolTactic.MAX_STRIDE) return "takes conv strides up to 2 (got " + sh + "x" + sw + ")";
            if (pkh > ConvPoolTactic.MAX_POOL || pkw > ConvPoolTactic.MAX_POOL) return "takes pool windows up to 3x3 (got " + pkh + "x" + pkw + ")";
            if (psh > Math.min(pkh, ConvPoolTactic.MAX_POOL_STRIDE) || psw > Math.min(pkw, ConvPoolTactic.MAX_POOL_STRIDE))
                return "takes pool strides up to 2 and the window (got " + psh + "x" + psw + " for " + pkh + "x" + pkw + ")";
            if (pph >= pkh || ppw >= pkw) return "takes pool pads below the window (got " + pph + ", " + ppw + ")";
            if ((long) (poh - 1) * psh - pph + pkh > oh + pph || (long) (pow - 1) * psw - ppw + pkw > ow + ppw)
                return "pool output " + poh + "x" + pow + " reaches past the convolution's " + oh + "x" + ow;
            if ((long) n * tilesPerImage() > Integer.MAX_VALUE) return "too many tiles for one launch";
            return null;
        }

        /** Conv rows and columns a tile's pool windows cover. */
        int cr() { return (TILE - 1) * psh + pkh; }

        int cc() { return (TILE - 1) * psw + pkw; }

        /** Input rows and columns a tile's convolution reads. */
        int ir() { return (cr() - 1) * sh + kh; }

        int ic() { return (cc() - 1) * sw + kw; }

        long tilesPerImage() { return (long) ((poh + TILE - 1) / TILE) * ((pow + TILE - 1) / TILE); }

        /** Tiles of the whole batch. */
        public long tiles() { return n * tilesPerImage(); }
    }

    /** K of the packed filters: taps x 4 channels, rounded up to 16. */
    public static int kp(Geometry g) { return (g.kh() * g.kw() * 4 + 15) / 16 * 16; }

    /**
     * The filters packed as the kernel reads them: [cout][kp], k = (ky * kw + kx) * 4 + channel, zeros for the channels
     * past c and for k past the taps. {@code kcrs}: the Conv's filters as floats, [cout][c][kh][kw] (ONNX's OIHW).
     */
    public static float[] packFilters(Geometry g, float[] kcrs) {
        int kp = kp(g), taps = g.kh() * g.kw();
        if (kcrs.length != g.cout() * g.c() * taps) throw new IllegalArgumentException(ConvPoolTactic.ID + ": " + kcrs.length + " filter values for " + g);
        float[] p = new float[g.cout() * kp];
        for (int o = 0; o < g.cout(); o++)
            for (int ch = 0; ch < g.c(); ch++)
                for (int tap = 0; tap < taps; tap++) p[o * kp + tap * 4 + ch] = kcrs[(o * g.c() + ch) * taps + tap];
        return p;
    }

    /** Dynamic shared memory of a block: the filters, the input patch, the conv tile and the offset tables. */
    public static int sharedBytes(Geometry g) {
        int kp = kp(g), pixels = g.cr() * g.cc(), mp = (pixels + 15) / 16 * 16;
        return 2 * g.cout() * (kp + 8) + 2 * ((g.ir() * g.ic() * 4 + 7) / 8 * 8) + 2 * pixels * (g.cout() + 8) + 4 * (kp / 2) + 4 * mp;
    }

    /** The persistent grid: the tiles, at most as many blocks as fit on {@code sms} SMs at once (228 KB of shared memory each). */
    public static int blocks(Geometry g, int sms) {
        int perSm = Math.max(1, Math.min(4, 227 * 1024 / (sharedBytes(g) + 1024)));
        return (int) Math.max(1, Math.min(g.tiles(), (long) sms * perSm));
    }

    public static String source() {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", DType.F16) + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("conv_pool.cu");
    }

    private static final String PROGRAM = "tessel_conv_pool.cu";

    /**
     * y = maxpool(act(conv(x, filters) + bias)), f16. {@code x}: [n, c, h, w] in NCHW ({@code nchw}) or NHWC order;
     * {@code packedFilters}: {@link #packFilters} in f16; {@code bias}: f32 [cout] or null; y: [n, poh, pow, cout] NHWC.
     */
    public static void run(KernelCompiler kc, Geometry g, DeviceBuffer x, boolean nchw, DeviceBuffer packedFilters, DeviceBuffer bias, boolean relu,
                           DeviceBuffer y, int blocks, CudaStream stream) {
        String why = g.whyNot();
        if (why != null) throw new IllegalArgumentException(ConvPoolTactic.ID + " " + why);
        need(x, 2L * g.n() * g.c() * g.h() * g.w(), "input");
        need(packedFilters, 2L * g.cout() * kp(g), "packed filters");
        if (bias != null) need(bias, 4L * g.cout(), "bias");
        need(y, 2L * g.n() * g.poh() * g.pow() * g.cout(), "output");
        if (blocks < 1) throw new IllegalArgumentException(ConvPoolTactic.ID + ": " + blocks + " blocks");
        long hw = (long) g.h() * g.w();
        long sn = hw * g.c(), sc = nchw ? hw : 1, sy = nchw ? g.w() : (long) g.w() * g.c(), sx = nchw ? 1 : g.c();
        int smem = sharedBytes(g);
        CudaKernel k = kc.kernel(PROGRAM, ConvPool::source, "tessel_conv_pool");
        k.setMaxDynamicSharedMemory(smem);
        k.launch(blocks, 1, 1, THREADS, 1, 1, smem, stream, CudaKernel.args().ptr(x).ptr(packedFilters).ptr(bias == null ? 0L : bias.address()).ptr(y)
                .i32(g.n()).i32(g.c()).i32(g.h()).i32(g.w()).i32(g.cout()).i32(g.kh()).i32(g.kw()).i32(g.sh()).i32(g.sw()).i32(g.ph()).i32(g.pw())
                .i32(g.oh()).i32(g.ow()).i32(g.pkh()).i32(g.pkw()).i32(g.psh()).i32(g.psw()).i32(g.pph()).i32(g.ppw()).i32(g.poh()).i32(g.pow())
                .i64(sn).i64(sc).i64(sy).i64(sx).i32(relu ? 1 : 0));
    }

    private static void need(DeviceBuffer b, long bytes, String what) {
        if (b == null || b.bytes() < bytes) throw new IllegalArgumentException(ConvPoolTactic.ID + ": the " + what + " take " + bytes + " bytes, got " + (b == null ? "none" : b.bytes()));
    }

    /**
     * The kernel on the host: each conv output the f32 sum of the f16 inputs' products, + bias, ReLU, rounded to f16 (the
     * device sums in another order, so the two agree to f32 rounding before that rounding), then the max over each pool
     * window's positions inside the convolution's output. x as laid out ({@code nchw} or NHWC), filters [cout][c][kh][kw];
     * returns y [n][poh][pow][cout].
     */
    public static float[] reference(Geometry g, float[] x, boolean nchw, float[] kcrs, float[] bias, boolean relu) {
        float[] conv = new float[g.n() * g.oh() * g.ow() * g.cout()];
        for (int b = 0; b < g.n(); b++)
            for (int oy = 0; oy < g.oh(); oy++)
                for (int ox = 0; ox < g.ow(); ox++)
                    for (int o = 0; o < g.cout(); o++) {
                        float s = 0;
                        for (int ch = 0; ch < g.c(); ch++)
                            for (int ky = 0; ky < g.kh(); ky++)
                                for (int kx = 0; kx < g.kw(); kx++) {
                                    int iy = oy * g.sh() - g.ph() + ky, ix = ox * g.sw() - g.pw() + kx;
                                    if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                                    int xi = nchw ? ((b * g.c() + ch) * g.h() + iy) * g.w() + ix : ((b * g.h() + iy) * g.w() + ix) * g.c() + ch;
                                    s += x[xi] * kcrs[((o * g.c() + ch) * g.kh() + ky) * g.kw() + kx];
                                }
                        float v = s + (bias == null ? 0 : bias[o]);
                        conv[((b * g.oh() + oy) * g.ow() + ox) * g.cout() + o] = Tensor.round(DType.F16, relu ? Math.max(v, 0) : v);
                    }
        float[] y = new float[g.n() * g.poh() * g.pow() * g.cout()];
        for (int b = 0; b < g.n(); b++)
            for (int py = 0; py < g.poh(); py++)
                for (int px = 0; px < g.pow(); px++)
                    for (int o = 0; o < g.cout(); o++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int wy = 0; wy < g.pkh(); wy++)
                            for (int wx = 0; wx < g.pkw(); wx++) {
                                int cy = py * g.psh() - g.pph() + wy, cx = px * g.psw() - g.ppw() + wx;
                                if (cy >= 0 && cy < g.oh() && cx >= 0 && cx < g.ow()) m = Math.max(m, conv[((b * g.oh() + cy) * g.ow() + cx) * g.cout() + o]);
                            }
                        y[((b * g.poh() + py) * g.pow() + px) * g.cout() + o] = m;
                    }
        return y;
    }
}
