package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * Kernel {@code tessel.im2col}: a 2-D NHWC convolution's input laid out as the matrix a GEMM multiplies with the filters,
 * so that a convolution of any kernel size, strides, pads and dilations is one matrix product: row
 * {@code (b * OH + oy) * OW + ox} per output pixel, column {@code (ky * KW + kx) * C + c} per filter tap and input
 * channel, zero where the tap falls in the padding, and zero columns and rows up to {@link Geometry#kpad} and
 * {@link Geometry#mpad} (multiples of 16, as cuBLASLt's FP8 kernels need m and k and its 16-bit ones like k; a 7x7 stem
 * over 3 channels has K = 147, padded to 160). Elements of 1 byte (E4M3 codes, for {@link Fp8Gemm}) or 2 (f16/bf16, for
 * {@link CublasLtGemm}) are moved, not converted. {@link #filters} orders the weights [Cout, Cin, KH, KW] the same way,
 * and {@link #reference} is the kernel on the host.
 */
public final class Im2col {
    private Im2col() {}

    /** cuBLASLt's FP8 kernels need m and k multiples of this, so the matrix's rows and columns are padded to it. */
    public static final int ALIGN = 16;

    static final int BLOCK = 256;

    /**
     * The convolution's shape: input x [n, h, w, c] (NHWC), output pixels oh x ow, kernel kh x kw, strides, the top and
     * left pads (the bottom and right ones are implied by oh and ow) and dilations.
     */
    public record Geometry(int n, int h, int w, int c, int oh, int ow, int kh, int kw, int strideH, int strideW, int padTop, int padLeft,
                           int dilationH, int dilationW) {
        public Geometry {
            if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || oh <= 0 || ow <= 0 || kh <= 0 || kw <= 0)
                throw new IllegalArgumentException("tessel.im2col: sizes must be positive, got " + this);
            if (strideH <= 0 || strideW <= 0 || dilationH <= 0 || dilationW <= 0 || padTop < 0 || padLeft < 0)
                throw new IllegalArgumentException("tessel.im2col: strides and dilations must be positive and pads not negative, got " + this);
            if ((long) kh * kw * c > Integer.MAX_VALUE - ALIGN) throw new IllegalArgumentException("tessel.im2col: K = " + kh + " x " + kw + " x " + c + " is too many columns");
        }

        /** The contraction: one column per filter tap and input channel. */
        public int k() { return kh * kw * c; }

        /** K rounded up to a multiple of 16: the matrix's columns (and the filters'). */
        public int kpad() { return (k() + ALIGN - 1) / ALIGN * ALIGN; }

        /** The output pixels, the GEMM's rows. */
        public long m() { return (long) n * oh * ow; }

        /** M rounded up to a multiple of 16: the matrix's rows. */
        public long mpad() { return (m() + ALIGN - 1) / ALIGN * ALIGN; }

        /** The matrix's size in bytes at {@code elementBytes} an element. */
        public long bytes(int elementBytes) { return mpad() * kpad() * elementBytes; }

        /** The same convolution over {@code images} of the batch (a slice of whole images). */
        public Geometry withImages(int images) {
            return new Geometry(images, h, w, c, oh, ow, kh, kw, strideH, strideW, padTop, padLeft, dilationH, dilationW);
        }
    }

    /**
     * The bytes of matrix a slice aims at ({@code cublaslt.conv.im2col}'s, which prices it): well inside an H100's or
     * H200's 50 MB L2, so the matrix the gather writes is still there when the GEMM reads it, and the slices reuse the
     * same workspace lines.
     */
    public static final long SLICE_BYTES = org.tessel.tactics.conv.ConvIm2colGemmTactic.SLICE_BYTES;

    /**
     * A convolution gathered and multiplied in slices of whole images ({@code images} each, the last one the remainder),
     * each slice's matrix at the workspace's front: the matrix of a large batch never goes through memory whole, only the
     * slices' turn through L2. One image's matrix larger than {@link #SLICE_BYTES} is a slice of its own.
     */
    public record Slicing(Geometry geometry, int elementBytes, int images) {
        public Slicing {
            checkElementBytes(elementBytes);
            if (images < 1 || images > geometry.n()) throw new IllegalArgumentException("tessel.im2col: a slice holds 1 to " + geometry.n() + " images, not " + images);
        }

        /**
         * Slices of as many images as fit {@link #SLICE_BYTES} of matrix (at least one), in a multiple of the images that keep
         * each slice's output rows 256-byte aligned at {@code outRowBytes} a row (the alignment cuBLASLt's heuristic assumed).
         */
        public static Slicing of(Geometry g, int elementBytes, long outRowBytes) {
            long perImage = g.withImages(1).bytes(elementBytes);
            long step = 256 / gcd(256, (long) g.oh() * g.ow() * outRowBytes);
            long images = Math.max(step, SLICE_BYTES / perImage / step * step);
            return new Slicing(g, elementBytes, (int) Math.min(g.n(), images));
        }

        private static long gcd(long a, long b) { return b == 0 ? a : gcd(b, a % b); }

        /** The number of slices. */
        public int count() { return (geometry.n() + images - 1) / images; }

        /** A full slice's geometry. */
        public Geometry slice() { return geometry.withImages(images); }

        /** The last slice's geometry (a full one when the batch divides evenly). */
        public Geometry last() { int r = geometry.n() % images; return geometry.withImages(r == 0 ? images : r); }

        /** Workspace bytes: a full slice's matrix at the front, then {@code after} (the GEMM's own). */
        public long workspaceBytes(long after) { return Im2col.workspaceBytes(slice(), elementBytes, after); }

        /** The GEMM over one slice's matrix: output rows from {@code row0}, {@code last} for the last slice. */
        public interface Gemm {
            void run(boolean last, DeviceBuffer matrix, long row0, DeviceBuffer gemmWorkspace);
        }

        /** Gathers each slice of x (NHWC) into the workspace's front and runs {@code gemm} on it, in order on {@code stream}. */
        public void run(KernelCompiler kc, DeviceBuffer x, DeviceBuffer ws, CudaStream stream, Gemm gemm) {
            long imageBytes = (long) geometry.h() * geometry.w() * geometry.c() * elementBytes, imageRows = (long) geometry.oh() * geometry.ow();
            int n = count();
            for (int i = 0; i < n; i++) {
                boolean last = i == n - 1;
                Geometry g = last ? last() : slice();
                long first = (long) i * images;
                DeviceBuffer matrix = gatherInto(kc, g, elementBytes, x.slice(first * imageBytes, g.n() * imageBytes), ws, stream);
                gemm.run(last, matrix, first * imageRows, afterMatrix(g, elementBytes, ws));
            }
        }
    }

    /** The element sizes the kernel moves: E4M3 codes (1 byte) and f16/bf16 values (2). */
    static void checkElementBytes(int elementBytes) {
        if (elementBytes != 1 && elementBytes != 2) throw new IllegalArgumentException("tessel.im2col moves 1- or 2-byte elements, not " + elementBytes);
    }

    /** The kernel's source moving {@code vec} bytes (16, 4 or 1) per thread. */
    public static String source(int vec) {
        if (vec != 16 && vec != 4 && vec != 1) throw new IllegalArgumentException("tessel.im2col moves 16, 4 or 1 bytes per thread, not " + vec);
        return KernelCompiler.prelude() + "#define TESSEL_VEC " + vec + "\n" + KernelCompiler.resource("im2col.cu");
    }

    /** The widest copy (16, 4 or 1 bytes) that divides a pixel's bytes and the alignment of both buffers. */
    public static int vector(Geometry g, int elementBytes, DeviceBuffer x, DeviceBuffer col) {
        long rowBytes = (long) g.c() * elementBytes;
        for (int v : new int[] {16, 4})
            if (rowBytes % v == 0 && x.address() % v == 0 && col.address() % v == 0) return v;
        return 1;
    }

    /** Gathers x (NHWC, elements of {@code elementBytes}: 1 for E4M3 codes, 2 for f16/bf16) into {@code col} [mpad, kpad]. */
    public static void run(KernelCompiler kc, Geometry g, int elementBytes, DeviceBuffer x, DeviceBuffer col, CudaStream stream) {
        checkElementBytes(elementBytes);
        String type = elementBytes == 1 ? "e4m3" : "16-bit";
        if (x.bytes() < (long) g.n() * g.h() * g.w() * g.c() * elementBytes)
            throw new IllegalArgumentException("tessel.im2col input x [" + g.n() + ", " + g.h() + ", " + g.w() + ", " + g.c() + "] (" + type + ") needs "
                    + (long) g.n() * g.h() * g.w() * g.c() * elementBytes + " bytes, the buffer holds " + x.bytes());
        if (col.bytes() < g.bytes(elementBytes))
            throw new IllegalArgumentException("tessel.im2col matrix [" + g.mpad() + ", " + g.kpad() + "] (" + type + ") needs " + g.bytes(elementBytes) + " bytes, the buffer holds " + col.bytes());
        int vec = vector(g, elementBytes, x, col);
        CudaKernel k = kc.kernel("tessel_im2col_v" + vec + ".cu", () -> source(vec), "tessel_im2col");
        int eb = elementBytes;
        k.launch(Launch.gridFor(g.bytes(eb) / vec, BLOCK), BLOCK, 0, stream, CudaKernel.args().ptr(x).ptr(col).i32(g.h()).i32(g.w()).i32(g.c() * eb).i32(g.oh()).i32(g.ow())
                .i32(g.kw()).i32(g.strideH()).i32(g.strideW()).i32(g.padTop()).i32(g.padLeft()).i32(g.dilationH()).i32(g.dilationW()).i32(g.k() * eb).i32(g.kpad() * eb)
                .i64(g.m()).i64(g.mpad()));
    }

    /**
     * Bytes of a layer's workspace holding the matrix at its front (rounded up to 256, so the part after it stays aligned)
     * and {@code after} bytes behind it (a GEMM's own workspace): the layer declares this, and layers of a stream share it.
     */
    public static long workspaceBytes(Geometry g, int elementBytes, long after) { return front(g, elementBytes) + after; }

    private static long front(Geometry g, int elementBytes) { return (g.bytes(elementBytes) + 255) / 256 * 256; }

    /** Gathers x into the front of workspace {@code ws} (laid out as {@link #workspaceBytes} says) and returns the matrix there. */
    public static DeviceBuffer gatherInto(KernelCompiler kc, Geometry g, int elementBytes, DeviceBuffer x, DeviceBuffer ws, CudaStream stream) {
        DeviceBuffer col = ws.slice(0, g.bytes(elementBytes));
        run(kc, g, elementBytes, x, col, stream);
        return col;
    }

    /** The part of workspace {@code ws} behind the matrix (laid out as {@link #workspaceBytes} says): the GEMM's workspace. */
    public static DeviceBuffer afterMatrix(Geometry g, int elementBytes, DeviceBuffer ws) {
        long f = front(g, elementBytes);
        return ws.slice(f, ws.bytes() - f);
    }

    /** The matrix the kernel writes, computed on the host from x [n, h, w, c] of {@code elementBytes}-byte elements. */
    public static byte[] reference(Geometry g, int elementBytes, byte[] x) {
        checkElementBytes(elementBytes);
        int eb = elementBytes;
        byte[] col = new byte[Math.toIntExact(g.bytes(eb))];
        for (int row = 0; row < g.m(); row++) {
            int ox = row % g.ow(), oy = row / g.ow() % g.oh(), b = row / g.ow() / g.oh();
            for (int ky = 0; ky < g.kh(); ky++)
                for (int kx = 0; kx < g.kw(); kx++) {
                    int iy = oy * g.strideH() - g.padTop() + ky * g.dilationH(), ix = ox * g.strideW() - g.padLeft() + kx * g.dilationW();
                    if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                    System.arraycopy(x, ((b * g.h() + iy) * g.w() + ix) * g.c() * eb, col, (row * g.kpad() + (ky * g.kw() + kx) * g.c()) * eb, g.c() * eb);
                }
        }
        return col;
    }

    /**
     * Filters [Cout, Cin, KH, KW] (f32) as the GEMM's weights [Cout, kpad]: column {@code (ky * KW + kx) * Cin + c}, the
     * im2col matrix's order, and zero columns past K (they leave an FP8 per-tensor amax, so the scale is the filters' own).
     * Any floating type is read as f32.
     */
    public static Tensor filters(Tensor w, int kpad) {
        if (!w.dtype().isFloating() || w.rank() != 4) throw new IllegalArgumentException("tessel.im2col filters are floating-point [Cout, Cin, KH, KW], got " + w.type());
        int cout = w.shape().dim(0), cin = w.shape().dim(1), kh = w.shape().dim(2), kw = w.shape().dim(3);
        if (kpad < cin * kh * kw) throw new IllegalArgumentException("tessel.im2col: " + kpad + " columns cannot hold K = " + cin + " x " + kh + " x " + kw);
        float[] v = w.floats(), out = new float[cout * kpad];
        for (int o = 0; o < cout; o++)
            for (int ci = 0; ci < cin; ci++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++)
                        out[o * kpad + (ky * kw + kx) * cin + ci] = v[((o * cin + ci) * kh + ky) * kw + kx];
        return Tensor.ofFloats(DType.F32, Shape.of(cout, kpad), out);
    }
}
