package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * tessel.im2col (tagged gpu: on the GPU or the emulated device, {@code -Dtessel.test.device=emulated}; it needs no NVIDIA library):
 * the matrix it writes equals {@link Im2col#reference} byte for byte, for E4M3 codes and 16-bit values, with 16-, 4- and 1-byte copies (channels in
 * sixteens, in fours, three; an unaligned input), padding (asymmetric), strides, dilations and the zero columns and rows
 * up to multiples of 16; and (on the host, untagged) the column order is a convolution's: the reference matrix times
 * {@link Im2col#filters} equals a direct NHWC convolution of the same values, and those filters quantize to the CPU
 * engine's FP8 weights at the same per-tensor scale.
 */
class Im2colGpuTest {
    /** x [n, h, w, c], kh x kw, strides, pads top/left/bottom/right, dilations; the output size from them. */
    static Im2col.Geometry geometry(int n, int h, int w, int c, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int dh, int dw) {
        int oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1, ow = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
        return new Im2col.Geometry(n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw);
    }

    static final Im2col.Geometry[] CASES = {
            geometry(2, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),   // 3x3 padded, 16-byte copies, M = 200 padded to 208
            geometry(2, 15, 15, 20, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1),   // stride 2, asymmetric pads, 4-byte copies, K = 180 -> 192
            geometry(2, 32, 32, 3, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1),    // the RGB stem: byte copies, K = 147 -> 160
            geometry(1, 12, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),   // dilation 2
            geometry(3, 5, 7, 8, 1, 1, 2, 1, 0, 0, 0, 0, 1, 1),      // a strided 1x1 over 8 channels (K = 8 -> 16)
            geometry(1, 6, 9, 5, 2, 4, 1, 3, 0, 2, 1, 0, 1, 2),      // odd everything
    };

    @Tag("gpu")
    @Test void theMatrixIsTheReferenceByteForByte() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        SplittableRandom r = new SplittableRandom(11);
        for (Im2col.Geometry g : CASES)
            for (int eb : new int[] {1, 2}) {
                // E4M3 codes, or 16-bit values as their bytes (the kernel moves bytes either way)
                byte[] x = codes(r, g.n() * g.h() * g.w() * g.c() * eb);
                byte[] want = Im2col.reference(g, eb, x);
                // offset 0: the widest copy a pixel's bytes allow; offset 1: the input unaligned, so byte copies whatever C is
                for (int offset : new int[] {0, 1}) {
                    byte[] padded = new byte[x.length + offset];
                    System.arraycopy(x, 0, padded, offset, x.length);
                    try (DeviceBuffer xa = DeviceBuffer.ofBytes(padded); DeviceBuffer col = DeviceBuffer.allocate(g.bytes(eb))) {
                        DeviceBuffer xb = xa.slice(offset, x.length);
                        col.fill((byte) 0x5A); // every byte must be written, padding included
                        Im2col.run(kc, g, eb, xb, col, CudaStream.DEFAULT);
                        CudaStream.DEFAULT.synchronize();
                        byte[] got = new byte[Math.toIntExact(g.bytes(eb))];
                        col.copyTo(got);
                        int vec = Im2col.vector(g, eb, xb, col), pixel = g.c() * eb;
                        assertEquals(offset == 1 ? 1 : pixel % 16 == 0 ? 16 : pixel % 4 == 0 ? 4 : 1, vec, g.toString());
                        assertArrayEquals(want, got, g + " with " + eb + "-byte elements, " + vec + "-byte copies");
                        System.out.printf("RESULT|im2col %d-byte elements|%dx%d over %d channels, stride %dx%d, dilation %dx%d|[%d, %d]|%d-byte copies|ok%n",
                                eb, g.kh(), g.kw(), g.c(), g.strideH(), g.strideW(), g.dilationH(), g.dilationW(), g.mpad(), g.kpad(), vec);
                    }
                }
            }
    }

    /**
     * {@link Im2col.Slicing} hands each slice's matrix to the GEMM with the row its output starts at: the slices' rows, put
     * together, are the whole batch's matrix (the reference's), each slice gathered from its own images at the
     * workspace's front, the GEMM's workspace behind it, 256-byte aligned.
     */
    @Tag("gpu")
    @Test void slicesOfImagesTogetherAreTheWholeMatrix() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        SplittableRandom r = new SplittableRandom(5);
        for (int eb : new int[] {1, 2}) {
            Im2col.Geometry g = geometry(5, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
            Im2col.Slicing slicing = new Im2col.Slicing(g, eb, 2); // slices of 2, 2 and 1 images
            assertEquals(3, slicing.count());
            byte[] x = codes(r, g.n() * g.h() * g.w() * g.c() * eb);
            byte[] want = Im2col.reference(g, eb, x);
            long rowBytes = (long) g.kpad() * eb;
            byte[] got = new byte[Math.toIntExact(g.m() * rowBytes)];
            int[] calls = new int[1];
            try (DeviceBuffer xb = DeviceBuffer.ofBytes(x); DeviceBuffer ws = DeviceBuffer.allocate(slicing.workspaceBytes(4096))) {
                slicing.run(kc, xb, ws, CudaStream.DEFAULT, (last, matrix, row0, gemmWorkspace) -> {
                    CudaStream.DEFAULT.synchronize();
                    Im2col.Geometry sg = last ? slicing.last() : slicing.slice();
                    assertEquals(calls[0] == 2, last);
                    assertEquals((long) calls[0] * 2 * g.oh() * g.ow(), row0);
                    assertEquals(ws.address(), matrix.address());
                    long front = gemmWorkspace.address() - ws.address();
                    assertTrue(front >= sg.bytes(eb) && front % 256 == 0 && gemmWorkspace.bytes() >= 4096, "the GEMM's workspace starts at " + front);
                    byte[] m = new byte[Math.toIntExact(sg.bytes(eb))];
                    matrix.copyTo(m);
                    System.arraycopy(m, 0, got, Math.toIntExact(row0 * rowBytes), Math.toIntExact(sg.m() * rowBytes));
                    calls[0]++;
                });
            }
            assertEquals(3, calls[0]);
            assertArrayEquals(java.util.Arrays.copyOf(want, got.length), got, "slices of " + eb + "-byte elements");
        }
    }

    @Test void theColumnOrderIsTheFiltersOrderSoTheGemmIsTheConvolution() {
        SplittableRandom r = new SplittableRandom(3);
        for (Im2col.Geometry g : CASES) {
            int cout = 16;
            byte[] x = codes(r, g.n() * g.h() * g.w() * g.c());
            float[] wv = new float[cout * g.c() * g.kh() * g.kw()];
            for (int i = 0; i < wv.length; i++) wv[i] = (float) r.nextDouble(-1, 1);
            Tensor f = Im2col.filters(Tensor.ofFloats(DType.F32, Shape.of(cout, g.c(), g.kh(), g.kw()), wv), g.kpad());
            assertEquals(Shape.of(cout, g.kpad()), f.shape());
            for (int j = g.k(); j < g.kpad(); j++) assertEquals(0f, f.getFloat(j), "padding column " + j);
            byte[] col = Im2col.reference(g, 1, x);
            for (long row = g.m(); row < g.mpad(); row++)
                for (int j = 0; j < g.kpad(); j++) assertEquals(0, col[(int) (row * g.kpad() + j)], "padding row " + row);
            for (int row = 0; row < g.m(); row++) {
                int ox = row % g.ow(), oy = row / g.ow() % g.oh(), b = row / g.ow() / g.oh();
                for (int o = 0; o < cout; o++) {
                    double gemm = 0, direct = 0;
                    for (int j = 0; j < g.kpad(); j++) gemm += (double) Float8E4M3.toFloat(col[row * g.kpad() + j] & 0xFF) * f.getFloat(o * g.kpad() + j);
                    for (int ci = 0; ci < g.c(); ci++)
                        for (int ky = 0; ky < g.kh(); ky++)
                            for (int kx = 0; kx < g.kw(); kx++) {
                                int iy = oy * g.strideH() - g.padTop() + ky * g.dilationH(), ix = ox * g.strideW() - g.padLeft() + kx * g.dilationW();
                                if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                                direct += (double) Float8E4M3.toFloat(x[((b * g.h() + iy) * g.w() + ix) * g.c() + ci] & 0xFF) * wv[((o * g.c() + ci) * g.kh() + ky) * g.kw() + kx];
                            }
                    assertEquals(direct, gemm, 1e-9 * (1 + Math.abs(direct)), g + ": pixel " + row + ", channel " + o);
                }
            }
        }
    }

    @Test void reorderedFiltersQuantizeToTheCpuEmulationsWeightsAtTheSameScale() {
        SplittableRandom r = new SplittableRandom(9);
        Im2col.Geometry g = CASES[2]; // the stem: 147 columns of filter, 13 of zeros
        float[] wv = new float[16 * g.c() * g.kh() * g.kw()];
        for (int i = 0; i < wv.length; i++) wv[i] = (float) r.nextDouble(-0.3, 0.3);
        Tensor w = Tensor.ofFloats(DType.F32, Shape.of(16, g.c(), g.kh(), g.kw()), wv);
        Fp8Gemm.Weights q = Fp8Gemm.weights(Im2col.filters(w, g.kpad()));
        assertEquals(org.tessel.runtime.engine.PrecisionEmulation.fp8TensorScale(w), q.scale(), "the zero columns leave the per-tensor amax");
        Tensor cpu = org.tessel.runtime.engine.PrecisionEmulation.fakeQuantizeWeight(w, 0, org.tessel.cost.Precision.FP8);
        for (int o = 0; o < 16; o++)
            for (int ci = 0; ci < g.c(); ci++)
                for (int ky = 0; ky < g.kh(); ky++)
                    for (int kx = 0; kx < g.kw(); kx++) {
                        int code = q.codes()[o * g.kpad() + (ky * g.kw() + kx) * g.c() + ci] & 0xFF;
                        assertEquals(cpu.getFloat(((o * g.c() + ci) * g.kh() + ky) * g.kw() + kx), Float8E4M3.toFloat(code) * q.scale(), "filter " + o + ", channel " + ci + ", tap " + ky + "," + kx);
                    }
    }

    @Tag("gpu")
    @Test void buffersTooSmallAndBadGeometriesAreRefusedNamingThem() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        Im2col.Geometry g = CASES[2];
        try (DeviceBuffer x = DeviceBuffer.allocate((long) g.n() * g.h() * g.w() * g.c()); DeviceBuffer col = DeviceBuffer.allocate(g.bytes(1) - 1)) {
            var small = assertThrows(IllegalArgumentException.class, () -> Im2col.run(kc, g, 1, x, col, CudaStream.DEFAULT));
            assertTrue(small.getMessage().contains("tessel.im2col matrix [512, 160] (e4m3)"), small.getMessage());
        }
        var stride = assertThrows(IllegalArgumentException.class, () -> new Im2col.Geometry(1, 4, 4, 4, 4, 4, 1, 1, 0, 1, 0, 0, 1, 1));
        assertTrue(stride.getMessage().contains("strides and dilations must be positive"), stride.getMessage());
    }

    /** Random E4M3 codes, NaN (0x7F, 0xFF) left out so that the products compare. */
    static byte[] codes(SplittableRandom r, int n) {
        byte[] x = new byte[n];
        for (int i = 0; i < n; i++) {
            int c;
            do c = r.nextInt(256); while ((c & 0x7F) == 0x7F);
            x[i] = (byte) c;
        }
        return x;
    }
}
