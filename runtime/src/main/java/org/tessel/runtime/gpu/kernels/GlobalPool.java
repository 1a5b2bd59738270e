package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.pool.global}: the mean of each (n, c) plane of an NCHW or NHWC tensor ({@code global_pool.cu}).
 * A block of {@value #THREADS} threads takes one plane (NCHW) or {@value #NHWC_CHANNELS} consecutive channels (NHWC) over a
 * slice of the positions; {@link #plan} cuts the positions into slices when the planes' blocks alone would leave the GPU
 * mostly idle, and a second kernel then adds each plane's slices. f32 sums added in a fixed order (results do not depend
 * on timing).
 */
public final class GlobalPool {
    private GlobalPool() {}

    /** Threads a block (global_pool.cu's GP_THREADS). */
    static final int THREADS = 256;
    /** NHWC: 8-channel vectors a block (GP_CV), so a block covers 32 channels. */
    static final int NHWC_VECTORS = 4, NHWC_CHANNELS = 8 * NHWC_VECTORS;
    /** Positions a thread sums at least in each slice of a split plane (4 loads in flight, twice). */
    static final int MIN_POSITIONS_PER_THREAD = 8;

    /**
     * The launch shape: {@code channelBlocks} x {@code n} x {@code slices} blocks, each summing {@code span} positions;
     * with more than one slice the partial sums [n, slices, c] (f32) take {@link #workspaceBytes} of workspace.
     */
    public record Plan(Layout layout, int n, int c, int hw, int channelBlocks, int slices, int span) {
        public long workspaceBytes() { return slices > 1 ? 4L * n * slices * c : 0; }
    }

    /**
     * Slices the positions so that the blocks number about twice the SMs where the planes alone give fewer than the SMs,
     * each slice keeping at least {@value #MIN_POSITIONS_PER_THREAD} positions a thread; one slice otherwise.
     */
    public static Plan plan(Layout layout, int n, int c, int h, int w, int smCount) {
        if (n < 1 || c < 1 || h < 1 || w < 1) throw new IllegalArgumentException("tessel.pool.global: an empty tensor [" + n + ", " + c + ", " + h + ", " + w + "]");
        if ((long) h * w > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.pool.global: a plane of " + h + " x " + w + " positions exceeds 2^31 - 1");
        if (n > 65535) throw new IllegalArgumentException("tessel.pool.global: batch " + n + " exceeds the grid's 65535");
        boolean nhwc = layout == Layout.NHWC;
        int hw = h * w, channelBlocks = nhwc ? (c + NHWC_CHANNELS - 1) / NHWC_CHANNELS : c;
        long blocks = (long) channelBlocks * n;
        int rowsPerBlock = nhwc ? THREADS / NHWC_VECTORS : THREADS;
        long maxSlices = Math.max(1, hw / ((long) rowsPerBlock * MIN_POSITIONS_PER_THREAD));
        int slices = blocks >= smCount ? 1 : (int) Math.min(Math.min(maxSlices, (2L * smCount + blocks - 1) / blocks), 65535);
        int span = (hw + slices - 1) / slices;
        slices = (hw + span - 1) / span; // no empty slice
        return new Plan(nhwc ? Layout.NHWC : Layout.NCHW, n, c, hw, channelBlocks, slices, span);
    }

    /** The kernels' source; {@code vec}: NHWC rows read 16 bytes at a time (16-bit T, C a multiple of 8, aligned rows). */
    public static String source(DType t, Layout layout, boolean vec) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define GP_CV " + (layout == Layout.NHWC ? NHWC_VECTORS : 0) + "\n#define GP_VEC " + (vec ? 1 : 0)
                + "\n#define GP_THREADS " + THREADS + "\n" + KernelCompiler.resource("global_pool.cu");
    }

    /**
     * y [n, c] (any trailing 1 x 1) = the mean of x [n, c, h, w] (stored in the plan's layout) over h x w; {@code workspace}
     * holds the plan's partial sums (null when it has one slice).
     */
    public static void run(KernelCompiler kc, DType t, Plan p, DeviceBuffer x, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        CudaTypes.require(t, "tessel.pool.global");
        Softmax.check(x, t, (long) p.n() * p.c() * p.hw(), "input");
        Softmax.check(y, t, (long) p.n() * p.c(), "output");
        if (p.workspaceBytes() > 0 && (workspace == null || workspace.bytes() < p.workspaceBytes()))
            throw new IllegalArgumentException("tessel.pool.global: " + p.slices() + " slices of the positions need " + p.workspaceBytes() + " bytes of workspace, got "
                    + (workspace == null ? "none" : workspace.bytes()));
        boolean vec = p.layout() == Layout.NHWC && t.bytes() == 2 && p.c() % 8 == 0 && x.address() % 16 == 0;
        String name = "tessel_global_pool_" + p.layout().text() + (vec ? "_v8" : "") + "_" + t.text() + ".cu";
        CudaKernel k = kc.kernel(name, () -> source(t, p.layout(), vec), "tessel_global_pool");
        k.launch(p.channelBlocks(), p.n(), p.slices(), THREADS, 1, 1, 0, stream,
                CudaKernel.args().ptr(x).ptr(y).ptr(p.slices() > 1 ? workspace.address() : 0L).i32(p.c()).i32(p.hw()).i32(p.span()));
        if (p.slices() > 1) {
            long outputs = (long) p.n() * p.c();
            kc.kernel(name, () -> source(t, p.layout(), vec), "tessel_global_pool_finish")
                    .launch((int) ((outputs + 255) / 256), 1, 1, 256, 1, 1, 0, stream,
                            CudaKernel.args().ptr(workspace).ptr(y).i32(p.n()).i32(p.c()).i32(p.hw()).i32(p.slices()));
        }
    }
}
