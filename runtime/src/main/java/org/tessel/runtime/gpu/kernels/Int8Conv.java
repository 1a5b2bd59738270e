package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;

/**
 * A 2-D INT8 convolution (groups = 1) of int8 NHWC activations [n, h, w, c] with int8 KRSC filters [k, r, s, c]
 * ({@link Int8Weights#forConv}), input and output channels multiples of 4, then {@link Int8Epilogue} (per-channel
 * scale, bias, residual, ReLU/Clip, int8 or float NHWC output). The sums come from one of:
 *
 * <ul>
 *   <li>{@link Backend#CUDNN} (the INT8 form of {@code cudnn.conv.fused_bias_act}): cuDNN's legacy
 *       cudnnConvolutionForward in its INT8_EXT_CONFIG (x and w CUDNN_DATA_INT8 NHWC, convolution compute type
 *       CUDNN_DATA_INT32, y CUDNN_DATA_FLOAT NHWC, IMPLICIT_PRECOMP_GEMM), symmetric pads only. cuDNN's legacy API
 *       has no int32 output, so its int32 sums arrive as f32: exact while |sum| stays within 2^24 (always when
 *       c*r*s*127*127 does, i.e. c*r*s &lt;= 1040, e.g. a 3x3 conv of 64 channels), otherwise rounded to 24 bits.
 *   <li>{@link Backend#TESSEL_DP4A} (catalogue tactic {@code tessel.conv.int8_dp4a}): Tessel's own implicit-GEMM
 *       kernel on CUDA cores, {@code __dp4a} (four int8 products summed into an int32): 64-pixel x 64-channel tiles
 *       staged through shared memory (each input word loaded once for 64 output channels), 4 x 4 outputs a thread,
 *       exact int32 sums whatever the size, asymmetric pads too. No tensor cores, so slower than cuDNN's IMMA
 *       kernels where cuDNN takes the shape.
 *   <li>{@link Backend#TESSEL_DP4A_DIRECT}: the plain form of the same, one thread per output (simple enough to
 *       trust; a cross-check of the tiled kernel in tests, and slow).
 * </ul>
 */
public final class Int8Conv implements AutoCloseable {
    /** Who computes the sums. */
    public enum Backend { CUDNN, TESSEL_DP4A, TESSEL_DP4A_DIRECT }

    /**
     * One convolution: x [n, c, h, w] (stored NHWC), filters [k, c, r, s] (stored KRSC), logical order; {@code padH} and
     * {@code padW} lead (top, left), {@code padBottom} and {@code padRight} trail.
     */
    public record Spec(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int padBottom, int padRight, int strideH, int strideW,
                       int dilationH, int dilationW) {
        public Spec {
            String shape = "int8 conv x [" + n + ", " + c + ", " + h + ", " + w + "] (NHWC) * w [" + k + ", " + c + ", " + r + ", " + s + "] (KRSC)";
            if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || r <= 0 || s <= 0)
                throw new IllegalArgumentException(shape + ": every size must be positive");
            if (padH < 0 || padW < 0 || padBottom < 0 || padRight < 0 || strideH <= 0 || strideW <= 0 || dilationH <= 0 || dilationW <= 0)
                throw new IllegalArgumentException(shape + ": pads must be >= 0, strides and dilations > 0, got pads " + padH + "," + padW + "," + padBottom + "," + padRight
                        + " strides " + strideH + "," + strideW + " dilations " + dilationH + "," + dilationW);
            if (c % 4 != 0)
                throw new IllegalArgumentException(shape + ": input channels C = " + c + " is not a multiple of 4; int8 convolutions read channels in groups of 4 (pad C with zero codes)");
            if (k % 4 != 0)
                throw new IllegalArgumentException(shape + ": output channels K = " + k + " is not a multiple of 4, as int8 convolutions need");
            if (h + padH + padBottom < dilationH * (r - 1) + 1 || w + padW + padRight < dilationW * (s - 1) + 1)
                throw new IllegalArgumentException(shape + ": the (dilated) filter is larger than the padded input");
        }

        /** Symmetric pads: {@code padH} top and bottom, {@code padW} left and right. */
        public Spec(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int strideH, int strideW, int dilationH, int dilationW) {
            this(n, c, h, w, k, r, s, padH, padW, padH, padW, strideH, strideW, dilationH, dilationW);
        }

        public boolean symmetricPads() { return padH == padBottom && padW == padRight; }

        public int outH() { return (h + padH + padBottom - dilationH * (r - 1) - 1) / strideH + 1; }
        public int outW() { return (w + padW + padRight - dilationW * (s - 1) - 1) / strideW + 1; }
        public long inputElements() { return (long) n * c * h * w; }
        public long filterElements() { return (long) k * c * r * s; }
        /** Output rows of the epilogue: n * outH * outW (each of k channels). */
        public long outputRows() { return (long) n * outH() * outW(); }
        public long outputElements() { return outputRows() * k; }
    }

    private final Backend backend;
    private final Spec spec;
    private final Cudnn cudnn;
    private final Cudnn.TensorDesc xd, yd;
    private final Cudnn.FilterDesc wd;
    private final Cudnn.ConvDesc cd;

    private Int8Conv(Backend backend, Spec spec, Cudnn cudnn) {
        this.backend = backend;
        this.spec = spec;
        this.cudnn = cudnn;
        if (backend == Backend.CUDNN) {
            Cudnn.TensorDesc x = null, y = null;
            Cudnn.FilterDesc w = null;
            Cudnn.ConvDesc conv = null;
            try {
                x = cudnn.tensor(Cudnn.Format.NHWC, Cudnn.DataType.INT8, spec.n(), spec.c(), spec.h(), spec.w());
                w = cudnn.filter(Cudnn.DataType.INT8, Cudnn.Format.NHWC, spec.k(), spec.c(), spec.r(), spec.s());
                conv = cudnn.convolution(spec.padH(), spec.padW(), spec.strideH(), spec.strideW(), spec.dilationH(), spec.dilationW(),
                        Cudnn.DataType.INT32, 1, Cudnn.MathType.TENSOR_OP);
                int[] out = cudnn.outputDim(conv, x, w);
                if (out[0] != spec.n() || out[1] != spec.k() || out[2] != spec.outH() || out[3] != spec.outW())
                    throw new IllegalStateException("cuDNN computes output " + java.util.Arrays.toString(out) + " for " + spec + ", expected ["
                            + spec.n() + ", " + spec.k() + ", " + spec.outH() + ", " + spec.outW() + "]");
                y = cudnn.tensor(Cudnn.Format.NHWC, Cudnn.DataType.FLOAT, out[0], out[1], out[2], out[3]);
            } catch (RuntimeException e) {
                if (y != null) y.close();
                if (conv != null) conv.close();
                if (w != null) w.close();
                if (x != null) x.close();
                throw e;
            }
            xd = x; wd = w; cd = conv; yd = y;
        } else {
            xd = null; wd = null; cd = null; yd = null;
        }
    }

    /** Through cuDNN's legacy INT8 configuration (f32 sums; see the class comment). */
    public static Int8Conv cudnn(Cudnn cudnn, Spec spec) {
        if (cudnn == null) throw new IllegalArgumentException("cuDNN's int8 convolution needs a cuDNN handle");
        if (!spec.symmetricPads())
            throw new IllegalArgumentException("cuDNN's int8 convolution takes symmetric pads, got top " + spec.padH() + " bottom " + spec.padBottom()
                    + " left " + spec.padW() + " right " + spec.padRight());
        if (spec.dilationH() != 1 || spec.dilationW() != 1)
            throw new IllegalArgumentException("cuDNN's int8 convolution takes no dilation (CUDNN_STATUS_NOT_SUPPORTED on an H100, cuDNN 9.14), got "
                    + spec.dilationH() + "," + spec.dilationW() + "; Tessel's dp4a kernel takes it");
        return new Int8Conv(Backend.CUDNN, spec, cudnn);
    }

    /** Through Tessel's tiled dp4a kernel (int32 sums; no library needed). */
    public static Int8Conv tessel(Spec spec) { return new Int8Conv(Backend.TESSEL_DP4A, spec, null); }

    /** Through Tessel's kernel of one thread per output (int32 sums; no library needed). */
    public static Int8Conv tesselDirect(Spec spec) { return new Int8Conv(Backend.TESSEL_DP4A_DIRECT, spec, null); }

    public Backend backend() { return backend; }

    public Spec spec() { return spec; }

    /** The accumulators' type: f32 from cuDNN, int32 from the dp4a kernel. */
    public Int8Epilogue.Accumulator accumulator() { return backend == Backend.CUDNN ? Int8Epilogue.Accumulator.FLOAT : Int8Epilogue.Accumulator.INT32; }

    /** Bytes of the accumulator scratch (4 per output element either way). */
    public long accumulatorBytes() { return spec.outputElements() * 4; }

    /** Workspace bytes: cuDNN's for IMPLICIT_PRECOMP_GEMM, none for the dp4a kernel. */
    public long workspaceSize() { return backend == Backend.CUDNN ? cudnn.workspaceSize(xd, wd, cd, yd, Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM) : 0; }

    /** cuDNN's heuristic ranking for this INT8 configuration (empty for the dp4a kernel). */
    public List<Cudnn.AlgoPerf> heuristics() { return backend == Backend.CUDNN ? cudnn.heuristicAlgorithms(xd, wd, cd, yd) : List.of(); }

    /** Pixels and channels of one tile of the tiled kernel (TESSEL_C8_BM, TESSEL_C8_BN in conv_int8.cu). */
    static final int TILE = 64;

    public static String dp4aSource() { return KernelCompiler.prelude() + KernelCompiler.resource("conv_int8.cu"); }

    /** The sums acc [n, outH, outW, k] (NHWC; {@link #accumulator()}'s type) of int8 x (NHWC) and w (KRSC). */
    public void runAccumulate(KernelCompiler kc, DeviceBuffer x, DeviceBuffer w, DeviceBuffer acc, DeviceBuffer workspace, CudaStream stream) {
        check(x, spec.inputElements(), "input x [" + spec.n() + ", " + spec.h() + ", " + spec.w() + ", " + spec.c() + "] (int8 NHWC)");
        check(w, spec.filterElements(), "filters [" + spec.k() + ", " + spec.r() + ", " + spec.s() + ", " + spec.c() + "] (int8 KRSC)");
        check(acc, accumulatorBytes(), "accumulators [" + spec.n() + ", " + spec.outH() + ", " + spec.outW() + ", " + spec.k() + "] (" + accumulator().dtype().text() + ")");
        if (backend == Backend.CUDNN) {
            long need = workspaceSize(), have = workspace == null ? 0 : workspace.bytes();
            if (have < need) throw new IllegalArgumentException("cuDNN's int8 convolution needs " + need + " bytes of workspace, given " + have);
            cudnn.setStream(stream.handleAddress());
            cudnn.forward(1f, xd, x.address(), wd, w.address(), cd, Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM, workspace == null ? 0 : workspace.address(),
                    have, 0f, yd, acc.address());
        } else {
            CudaKernel.Args args = CudaKernel.args().ptr(x).ptr(w).ptr(acc)
                    .i32(spec.n()).i32(spec.h()).i32(spec.w()).i32(spec.c() / 4).i32(spec.k()).i32(spec.r()).i32(spec.s())
                    .i32(spec.outH()).i32(spec.outW()).i32(spec.padH()).i32(spec.padW()).i32(spec.strideH()).i32(spec.strideW())
                    .i32(spec.dilationH()).i32(spec.dilationW());
            if (backend == Backend.TESSEL_DP4A) {
                CudaKernel k = kc.kernel("tessel_conv_int8_dp4a.cu", Int8Conv::dp4aSource, "tessel_conv_int8_dp4a_tiled");
                long tilesM = (spec.outputRows() + TILE - 1) / TILE;
                if (tilesM > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.conv.int8_dp4a: " + spec.outputRows() + " output pixels are too many for one grid");
                k.launch((int) tilesM, (spec.k() + TILE - 1) / TILE, 1, 256, 1, 1, 0, stream, args);
            } else {
                CudaKernel k = kc.kernel("tessel_conv_int8_dp4a.cu", Int8Conv::dp4aSource, "tessel_conv_int8_dp4a");
                k.launch(Launch.gridFor(spec.outputElements(), 256), 256, 0, stream, args);
            }
        }
    }

    /** The whole INT8 convolution: sums into {@code acc}, then the epilogue into y [n, outH, outW, k] (NHWC) of {@code ep.out()}. */
    public void run(KernelCompiler kc, DeviceBuffer x, DeviceBuffer w, DeviceBuffer acc, Int8Epilogue.Params ep, DeviceBuffer y,
                    DeviceBuffer workspace, CudaStream stream) {
        runAccumulate(kc, x, w, acc, workspace, stream);
        Int8Epilogue.run(kc, accumulator(), acc, spec.outputRows(), spec.k(), ep, y, stream);
    }

    private static void check(DeviceBuffer b, long bytes, String what) {
        if (b == null) throw new IllegalArgumentException("int8 conv: no buffer for the " + what);
        if (b.bytes() < bytes) throw new IllegalArgumentException("int8 conv: the " + what + " buffer holds " + b.bytes() + " bytes, needs " + bytes);
        if (b.address() % 4 != 0)
            throw new IllegalArgumentException("int8 conv: the " + what + " buffer starts at 0x" + Long.toHexString(b.address()) + ", not 4-byte aligned (channels are read 4 at a time)");
    }

    @Override public void close() {
        if (yd != null) yd.close();
        if (cd != null) cd.close();
        if (wd != null) wd.close();
        if (xd != null) xd.close();
    }
}
