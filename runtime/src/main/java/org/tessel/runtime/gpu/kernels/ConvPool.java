package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.conv.ConvPoolTactic;

/**
 * Tactic {@code tessel.conv.stem_pool} ({@code conv_pool.cu}, kernel {@code tessel_conv_pool}): a convolution of few
 * input channels (1 to 4), its bias and ReLU, and the max pool after it in one kernel that keeps the convolution's
 * outputs in shared memory and writes only the pooled output: f16 in and out, the input NCHW or NHWC (element strides),
 * the output NHWC. A CNN's RGB stem is its use (ResNet-50's 7x7/2 convolution of 3 channels and 3x3/2 max pool).
 *
 * <p>A block takes tiles of {@link Tile#tph} x {@link Tile#tpw} pooled pixels of one image (all output channels), looping
 * over them (a persistent grid of {@link #blocks} blocks: the filters reach shared memory once a block). A tile's conv
 * pixels are a GEMM on mma.sync m16n8k16 (f16 products, f32 sums) with A gathered from the input patch in shared memory;
 * K is the taps' channels packed with no padding to 4 where the conv stride lets it (7x7 of 3 channels at stride 2: K =
 * 7 x 22 = 154, 160 with the rounding to 16, not 7 x 7 x 4 = 196 -> 208). Conv values are + bias, ReLU, rounded to f16
 * (as a separate f16 conv layer stores them), then max-pooled over the window's positions inside the conv output
 * (ONNX's -inf padding). The max is an integer max of order keys, so a NaN in a window (a NaN or Inf input) does not
 * propagate as the reference's would; every finite value is pooled exactly. See {@link ConvPoolTactic}.
 */
public final class ConvPool {
    private ConvPool() {}

    /** Threads a block (4 warps). */
    static final int THREADS = 128;
    /** Patch pixels a thread carries from global memory to shared memory per tile (conv_pool.cu's CP_PF). */
    static final int PATCH_PER_THREAD = 12;
    /** The most dynamic shared memory a tile may take: two blocks fit an H100 SM (228 KB, 1 KB of it reserved a block). */
    static final int MAX_SHARED = 112 * 1024;
    /** Pooled pixels a tile may take each way. */
    static final int MAX_TILE = 16;

    /**
     * The shapes: input [n, c, h, w] (as laid out, NCHW or NHWC), filters cout x c x kh x kw, conv strides and top/left
     * pads (the bottom/right ones implied by the conv output oh x ow, as the IR computed it), the pool's window pkh x pkw,
     * strides, top/left pads and output poh x pow.
     */
    public record Geometry(int n, int c, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
                           int pkh, int pkw, int psh, int psw, int pph, int ppw, int poh, int pow) {
        public Geometry {
            if (n < 1 || c < 1 || h < 1 || w < 1 || cout < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || oh < 1 || ow < 1
                    || pkh < 1 || pkw < 1 || psh < 1 || psw < 1 || pph < 0 || ppw < 0 || poh < 1 || pow < 1)
                throw new IllegalArgumentException(ConvPoolTactic.ID + ": a degenerate convolution or pool " + this);
        }

        /** Why the kernel cannot take these shapes (null: it can), naming the limit broken. */
        public String whyNot() {
            String limits = ConvPoolTactic.limitsWhyNot(c, cout, kh, kw, sh, sw, pkh, pkw, psh, psw, pph, ppw);
            if (limits != null) return "takes " + limits;
            if ((long) n * poh * pow > 1 << 30 || (long) h * w * c > Integer.MAX_VALUE)
                return "takes at most 2^30 pooled pixels a launch and 2^31 - 1 input elements an image (got " + n + " images of " + c + "x" + h + "x" + w + " -> " + poh + "x" + pow + ")";
            return null;
        }
    }

    /** A block's tile: tph x tpw pooled pixels of one image. */
    public record Tile(int tph, int tpw) {}

    /**
     * The kernel's view of a geometry and tile, as conv_pool.cu's tessel_cp_layout computes it: patch channels cp (c, or
     * c + 1 where sw * c is odd), filter-row k rk, K kp and its 16-steps ks, filter rows rw words apart; conv pixels cr x
     * cc, input patch ir x ic (rows rs halves apart), npix conv pixels in mt m-tiles of 16, pairs of them; conv-tile rows
     * ldc halves apart; the byte offsets of the bias, the k table, the pixel table, the patch and the conv tile after the
     * filters, and the total.
     */
    record Layout(int cp, int rk, int kp, int ks, int rw, int cr, int cc, int ir, int ic, int rs, int npix, int mt, int pairs, int ldc,
                  int offBias, int offK, int offPix, int offPatch, int offConv, int bytes) {
        static Layout of(Geometry g, Tile t) {
            int cp = (g.sw() * g.c()) % 2 == 0 ? g.c() : g.c() + 1;
            int rk = up(g.kw() * cp, 2), kp = up(g.kh() * rk, 16), ks = kp / 16, rw = kp / 2 + ((kp / 2) % 16 == 0 ? 8 : 0);
            int cr = (t.tph() - 1) * g.psh() + g.pkh(), cc = (t.tpw() - 1) * g.psw() + g.pkw();
            int ir = (cr - 1) * g.sh() + g.kh(), ic = (cc - 1) * g.sw() + g.kw(), rs = up(ic * cp, 2);
            int npix = cr * cc, mt = (npix + 15) / 16, pairs = (mt + 1) / 2, ldc = g.cout() + 8;
            int offBias = g.cout() * rw * 4, offK = offBias + 64 * 4, offPix = offK + ks * 64, offPatch = offPix + pairs * 32 * 4;
            int offConv = offPatch + up(ir * rs * 2 + 16, 16), bytes = offConv + npix * ldc * 2;
            return new Layout(cp, rk, kp, ks, rw, cr, cc, ir, ic, rs, npix, mt, pairs, ldc, offBias, offK, offPix, offPatch, offConv, bytes);
        }

        private static int up(int v, int m) { return (v + m - 1) / m * m; }
    }

    /**
     * The tile a geometry runs with: of the tiles whose input patch a block's threads carry ({@link #PATCH_PER_THREAD}
     * pixels each) and whose shared memory lets two blocks share an SM, the one of least estimated work for the batch
     * (warp instructions: the mma steps and their fragment loads, the patch's loads and stores, the epilogue and the pool
     * per tile, times the tiles). ResNet-50's stem: 8 x 7 pooled pixels (17 x 15 = 255 conv pixels, 16 m-tiles).
     */
    public static Tile tile(Geometry g) {
        Tile best = new Tile(1, 1);
        double bestCost = Double.MAX_VALUE;
        int nt = g.cout() / 8;
        for (int tph = 1; tph <= Math.min(MAX_TILE, g.poh()); tph++)
            for (int tpw = 1; tpw <= Math.min(MAX_TILE, g.pow()); tpw++) {
                Tile t = new Tile(tph, tpw);
                Layout l = Layout.of(g, t);
                if (l.ir() * l.ic() > THREADS * PATCH_PER_THREAD || l.bytes() > MAX_SHARED) continue;
                long tiles = (long) g.n() * ((g.poh() + tph - 1) / tph) * ((g.pow() + tpw - 1) / tpw);
                double perTile = l.mt() * nt * (4.5 * l.ks() + 6) + l.ir() * l.ic() * (8.0 + 3 * g.c()) / 32
                        + tph * tpw * nt * (5.0 * g.pkh() * g.pkw() + 24) / 32 + 200;
                double cost = tiles * perTile;
                if (cost < bestCost * (1 - 1e-9)) {
                    bestCost = cost;
                    best = t;
                }
            }
        return best;
    }

    /** K of the packed filters: kh rows of kw x cp channels (cp = c, or c + 1 where sw * c is odd) rounded up to even, rounded up to 16. */
    public static int kp(Geometry g) { return Layout.of(g, new Tile(1, 1)).kp(); }

    /**
     * The filters packed as the kernel reads them, [cout][{@link #kp}] (the layer uploads them in f16): k = ky rk + kx cp + c
     * (rk = kw cp rounded up to even, cp as in {@link #kp}), zeros for the channels past c, each row's filler and k past kh rk;
     * within each run of 16 k, k = 16 s + 8 hi + 2 t + e sits at 16 s + 4 t + 2 hi + e, so a lane's two B fragment
     * registers of an mma step are one 64-bit load. {@code kcrs}: the Conv's filters, [cout][c][kh][kw] (ONNX's OIHW).
     */
    public static float[] packFilters(Geometry g, float[] kcrs) {
        if (kcrs.length != g.cout() * g.c() * g.kh() * g.kw()) throw new IllegalArgumentException(ConvPoolTactic.ID + ": " + kcrs.length + " filter values for " + g);
        Layout l = Layout.of(g, new Tile(1, 1));
        int kp = l.kp();
        float[] p = new float[g.cout() * kp];
        for (int o = 0; o < g.cout(); o++)
            for (int ky = 0; ky < g.kh(); ky++)
                for (int kx = 0; kx < g.kw(); kx++)
                    for (int ch = 0; ch < g.c(); ch++) {
                        int k = ky * l.rk() + kx * l.cp() + ch;
                        p[o * kp + position(k)] = kcrs[((o * g.c() + ch) * g.kh() + ky) * g.kw() + kx];
                    }
        return p;
    }

    /** Where k lies in a packed filter row: its run of 16 permuted so that k 2t, 2t+1, 2t+8, 2t+9 are adjacent. */
    static int position(int k) {
        int run = k & ~15, r = k & 15, e = r & 1, pair = r >> 1, t = pair & 3, hi = pair >> 2;
        return run + 4 * t + 2 * hi + e;
    }

    /** Dynamic shared memory of a block: the filters, the bias, the k and pixel tables, the input patch and the conv tile. */
    public static int sharedBytes(Geometry g) { return Layout.of(g, tile(g)).bytes(); }

    /** Tiles of the whole batch. */
    public static long tiles(Geometry g) {
        Tile t = tile(g);
        return (long) g.n() * ((g.poh() + t.tph() - 1) / t.tph()) * ((g.pow() + t.tpw() - 1) / t.tpw());
    }

    /**
     * The persistent grid: the tiles, at most as many blocks as are resident on {@code sms} SMs at once (shared memory:
     * 228 KB an SM, 1 KB of it reserved a block; at most 2 a SM: the kernel's registers).
     */
    public static int blocks(Geometry g, int sms) {
        int perSm = Math.max(1, Math.min(2, 228 * 1024 / (sharedBytes(g) + 1024)));
        return (int) Math.max(1, Math.min(tiles(g), (long) sms * perSm));
    }

    public static String source() {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", DType.F16) + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("conv_pool.cu");
    }

    private static final String PROGRAM = "tessel_conv_pool.cu";

    /**
     * y = maxpool(act(conv(x, filters) + bias)), f16. {@code x}: [n, c, h, w] f16 in NCHW ({@code nchw}) or NHWC order;
     * {@code packedFilters}: {@link #packFilters} in f16; {@code bias}: f32 [cout] or null; y: f16 [n, poh, pow, cout]
     * NHWC; {@code blocks}: the grid ({@link #blocks}; any count from 1 works, each block looping over tiles).
     */
    public static void run(KernelCompiler kc, Geometry g, DeviceBuffer x, boolean nchw, DeviceBuffer packedFilters, DeviceBuffer bias, boolean relu,
                           DeviceBuffer y, int blocks, CudaStream stream) {
        run(kc, g, tile(g), x, nchw, packedFilters, bias, relu, y, blocks, stream);
    }

    /** {@link #run} with tile {@code t} rather than {@link #tile}'s (tests: partial tiles, many tiles a block). */
    static void run(KernelCompiler kc, Geometry g, Tile t, DeviceBuffer x, boolean nchw, DeviceBuffer packedFilters, DeviceBuffer bias, boolean relu,
                    DeviceBuffer y, int blocks, CudaStream stream) {
        String why = g.whyNot();
        if (why != null) throw new IllegalArgumentException(ConvPoolTactic.ID + " " + why);
        need(x, 2L * g.n() * g.c() * g.h() * g.w(), "input");
        need(packedFilters, 2L * g.cout() * kp(g), "packed filters");
        if (bias != null) need(bias, 4L * g.cout(), "bias");
        need(y, 2L * g.n() * g.poh() * g.pow() * g.cout(), "output");
        if (blocks < 1) throw new IllegalArgumentException(ConvPoolTactic.ID + ": " + blocks + " blocks");
        Layout l = Layout.of(g, t);
        if (t.tph() < 1 || t.tpw() < 1 || l.ir() * l.ic() > THREADS * PATCH_PER_THREAD || l.bytes() > MAX_SHARED)
            throw new IllegalArgumentException(ConvPoolTactic.ID + ": tile " + t + " needs an input patch of " + l.ir() + "x" + l.ic() + " and " + l.bytes() + " bytes of shared memory");
        long tiles = (long) g.n() * ((g.poh() + t.tph() - 1) / t.tph()) * ((g.pow() + t.tpw() - 1) / t.tpw());
        int smem = l.bytes(), grid = (int) Math.min(blocks, tiles);
        long hw = (long) g.h() * g.w();
        int sc = nchw ? (int) hw : 1, sy = nchw ? g.w() : g.w() * g.c(), sx = nchw ? 1 : g.c();
        CudaKernel k = kc.kernel(PROGRAM, ConvPool::source, "tessel_conv_pool");
        k.setMaxDynamicSharedMemory(smem);
        k.launch(grid, 1, 1, THREADS, 1, 1, smem, stream, CudaKernel.args().ptr(x).ptr(packedFilters).ptr(bias == null ? 0L : bias.address()).ptr(y)
                .i64(hw * g.c()).i32(sc).i32(sy).i32(sx)
                .i32(g.n()).i32(g.c()).i32(g.h()).i32(g.w()).i32(g.cout()).i32(g.kh()).i32(g.kw()).i32(g.sh()).i32(g.sw()).i32(g.ph()).i32(g.pw())
                .i32(g.oh()).i32(g.ow()).i32(g.pkh()).i32(g.pkw()).i32(g.psh()).i32(g.psw()).i32(g.pph()).i32(g.ppw()).i32(g.poh()).i32(g.pow())
                .i32(t.tph()).i32(t.tpw()).i32(relu ? 1 : 0));
    }

    private static void need(DeviceBuffer b, long bytes, String what) {
        if (b == null || b.bytes() < bytes) throw new IllegalArgumentException(ConvPoolTactic.ID + ": the " + what + " take " + bytes + " bytes, got " + (b == null ? "none" : b.bytes()));
    }

    /**
     * The kernel on the host: each conv output the sum (in double) of the f16 inputs' products, + bias, ReLU, rounded to
     * f16 (the device sums in f32 in another order, so the two agree to f32 rounding before that rounding), then the max
     * over each pool window's positions inside the convolution's output (-inf where there are none). x as laid out
     * ({@code nchw} or NHWC), filters [cout][c][kh][kw], bias [cout] or null; returns y [n][poh][pow][cout].
     */
    public static float[] reference(Geometry g, float[] x, boolean nchw, float[] kcrs, float[] bias, boolean relu) {
        float[] y = new float[g.n() * g.poh() * g.pow() * g.cout()];
        float[] conv = new float[g.oh() * g.ow() * g.cout()];
        for (int b = 0; b < g.n(); b++) {
            for (int oy = 0; oy < g.oh(); oy++)
                for (int ox = 0; ox < g.ow(); ox++) convAt(g, x, nchw, kcrs, bias, relu, b, oy, ox, conv, (oy * g.ow() + ox) * g.cout());
            for (int py = 0; py < g.poh(); py++)
                for (int px = 0; px < g.pow(); px++) {
                    int at = ((b * g.poh() + py) * g.pow() + px) * g.cout();
                    java.util.Arrays.fill(y, at, at + g.cout(), Float.NEGATIVE_INFINITY);
                    for (int wy = 0; wy < g.pkh(); wy++)
                        for (int wx = 0; wx < g.pkw(); wx++) {
                            int cy = py * g.psh() - g.pph() + wy, cx = px * g.psw() - g.ppw() + wx;
                            if (cy < 0 || cy >= g.oh() || cx < 0 || cx >= g.ow()) continue;
                            for (int o = 0; o < g.cout(); o++) y[at + o] = Math.max(y[at + o], conv[(cy * g.ow() + cx) * g.cout() + o]);
                        }
                }
        }
        return y;
    }

    /** {@link #reference}'s pooled pixel (b, py, px), its cout channels: for checking samples of a large batch. */
    public static float[] referenceAt(Geometry g, float[] x, boolean nchw, float[] kcrs, float[] bias, boolean relu, int b, int py, int px) {
        float[] out = new float[g.cout()], conv = new float[g.cout()];
        java.util.Arrays.fill(out, Float.NEGATIVE_INFINITY);
        for (int wy = 0; wy < g.pkh(); wy++)
            for (int wx = 0; wx < g.pkw(); wx++) {
                int cy = py * g.psh() - g.pph() + wy, cx = px * g.psw() - g.ppw() + wx;
                if (cy < 0 || cy >= g.oh() || cx < 0 || cx >= g.ow()) continue;
                convAt(g, x, nchw, kcrs, bias, relu, b, cy, cx, conv, 0);
                for (int o = 0; o < g.cout(); o++) out[o] = Math.max(out[o], conv[o]);
            }
        return out;
    }

    /** The f16-rounded conv outputs of pixel (b, oy, ox), all channels, into {@code out} from {@code at}. */
    private static void convAt(Geometry g, float[] x, boolean nchw, float[] kcrs, float[] bias, boolean relu, int b, int oy, int ox, float[] out, int at) {
        for (int o = 0; o < g.cout(); o++) {
            double s = 0;
            for (int ch = 0; ch < g.c(); ch++)
                for (int ky = 0; ky < g.kh(); ky++) {
                    int iy = oy * g.sh() - g.ph() + ky;
                    if (iy < 0 || iy >= g.h()) continue;
                    for (int kx = 0; kx < g.kw(); kx++) {
                        int ix = ox * g.sw() - g.pw() + kx;
                        if (ix < 0 || ix >= g.w()) continue;
                        long xi = nchw ? (((long) b * g.c() + ch) * g.h() + iy) * g.w() + ix : (((long) b * g.h() + iy) * g.w() + ix) * g.c() + ch;
                        s += (double) x[(int) xi] * kcrs[((o * g.c() + ch) * g.kh() + ky) * g.kw() + kx];
                    }
                }
            double v = s + (bias == null ? 0 : bias[o]);
            if (relu) v = Math.max(v, 0);
            out[at + o] = Tensor.round(DType.F16, (float) v);
        }
    }
}
