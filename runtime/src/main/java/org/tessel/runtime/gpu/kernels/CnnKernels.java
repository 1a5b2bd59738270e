package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactics {@code tessel.concat} (one Concat input copied into its slice of the output, a strided row
 * copy in the widest word that fits), {@code tessel.split} (the inverse: up to four outputs copied from
 * their slices of the input per launch) and {@code tessel.lrn} (ONNX LRN across channels, NCHW or
 * NHWC), all from {@code cnn.cu}.
 */
public final class CnnKernels {
    private CnnKernels() {}

    /** The concat and split copies for words of this many bytes. */
    public static String copySource(int wordBytes) {
        String w = switch (wordBytes) {
            case 2 -> "typedef unsigned short W;\n";
            case 4 -> "typedef unsigned int W;\n";
            case 8 -> "struct __align__(8) W { unsigned int a, b; };\n";
            case 16 -> "struct __align__(16) W { unsigned int a, b, c, d; };\n";
            default -> throw new IllegalArgumentException("word of " + wordBytes + " bytes");
        };
        return KernelCompiler.prelude() + w + KernelCompiler.resource("cnn.cu").replaceAll("(?s)// tessel\\.lrn.*", "");
    }

    public static String padSource() {
        return KernelCompiler.prelude() + KernelCompiler.resource("cnn.cu").replaceAll("(?s)^.*?(// tessel\\.pad_channels)", "$1");
    }

    public static String lrnSource(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("cnn.cu").replaceAll("(?s)^.*?(// tessel\\.lrn)", "$1").replaceAll("(?s)// tessel\\.pad_channels.*", "");
    }

    /** The widest word (16, 8, 4 or 2 bytes; 1 is not offered) dividing every byte count and address given. */
    public static int wordBytes(long... bytesAndAddresses) {
        for (int w = 16; w >= 2; w >>= 1) {
            boolean ok = true;
            for (long b : bytesAndAddresses) ok &= b % w == 0;
            if (ok) return w;
        }
        throw new IllegalArgumentException("concat and split copies need 2-byte aligned sizes and addresses");
    }

    /**
     * Copies x, physically [outer, innerBytes], into y's columns [offsetBytes, offsetBytes + innerBytes) of
     * rows rowOutBytes long. {@code word} from {@link #wordBytes}.
     */
    public static void concatCopy(KernelCompiler kc, int word, DeviceBuffer x, DeviceBuffer y, long outer, long innerBytes, long rowOutBytes, long offsetBytes, CudaStream stream) {
        if (x.bytes() < outer * innerBytes) throw new IllegalArgumentException("concat input holds " + x.bytes() + " bytes, needs " + outer * innerBytes);
        if (y.bytes() < outer * rowOutBytes) throw new IllegalArgumentException("concat output holds " + y.bytes() + " bytes, needs " + outer * rowOutBytes);
        CudaKernel k = kc.kernel("tessel_copy_w" + word + ".cu", () -> copySource(word), "tessel_concat_copy");
        long n = outer * innerBytes / word;
        k.launch(Launch.gridFor(n, 256), 256, 0, stream,
                CudaKernel.args().ptr(x).ptr(y).i64(outer).i64(innerBytes / word).i64(rowOutBytes / word).i64(offsetBytes / word));
    }

    /** Outputs one launch of {@link #splitCopy} writes. */
    public static final int SPLIT_PARTS = 4;

    /**
     * Copies up to {@link #SPLIT_PARTS} consecutive parts of x, physically [outer, rowInBytes]: part j goes to
     * {@code ys[j]} as [outer, widthBytes[j]] from the columns starting at firstBytes plus the widths before it.
     * {@code word} from {@link #wordBytes} over every size, the offset and every address.
     */
    public static void splitCopy(KernelCompiler kc, int word, DeviceBuffer x, long outer, long rowInBytes, long firstBytes,
                                 java.util.List<DeviceBuffer> ys, long[] widthBytes, CudaStream stream) {
        if (ys.isEmpty() || ys.size() > SPLIT_PARTS || widthBytes.length != ys.size())
            throw new IllegalArgumentException("split copy takes 1 to " + SPLIT_PARTS + " outputs with one width each, got " + ys.size() + " and " + widthBytes.length);
        if (x.bytes() < outer * rowInBytes) throw new IllegalArgumentException("split input holds " + x.bytes() + " bytes, needs " + outer * rowInBytes);
        long total = 0;
        for (int j = 0; j < ys.size(); j++) {
            if (ys.get(j).bytes() < outer * widthBytes[j]) throw new IllegalArgumentException("split output " + j + " holds " + ys.get(j).bytes() + " bytes, needs " + outer * widthBytes[j]);
            total += widthBytes[j];
        }
        if (firstBytes + total > rowInBytes) throw new IllegalArgumentException("split parts end at byte " + (firstBytes + total) + " of rows " + rowInBytes + " long");
        CudaKernel k = kc.kernel("tessel_copy_w" + word + ".cu", () -> copySource(word), "tessel_split_copy");
        CudaKernel.Args a = CudaKernel.args().ptr(x).i64(outer).i64(rowInBytes / word).i64(firstBytes / word);
        for (int j = 0; j < SPLIT_PARTS; j++) {
            if (j < ys.size()) a.ptr(ys.get(j)).i64(widthBytes[j] / word);
            else a.ptr(0L).i64(0);
        }
        k.launch(Launch.gridFor(outer * total / word, 256), 256, 0, stream, a);
    }

    public static void lrn(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int n, int c, long inner, boolean nhwc,
                           int size, float alpha, float beta, float bias, CudaStream stream) {
        CudaTypes.require(t, "tessel.lrn");
        long elems = (long) n * c * inner;
        Softmax.check(x, t, elems, "input");
        Softmax.check(y, t, elems, "output");
        CudaKernel k = kc.kernel("tessel_lrn_" + t.text() + ".cu", () -> lrnSource(t), "tessel_lrn");
        k.launch(Launch.gridFor(elems, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(elems).i32(c).i64(inner).i32(nhwc ? 1 : 0).i32(size)
                .f32(alpha / size).f32(beta).f32(bias));
    }

    /** f16 [pixels, c] into [pixels, cp], channels c.. zero ({@code tessel.pad_channels}). */
    public static void padChannels(KernelCompiler kc, DeviceBuffer x, DeviceBuffer y, long pixels, int c, int cp, CudaStream stream) {
        if (x.bytes() < pixels * c * 2 || y.bytes() < pixels * cp * 2) throw new IllegalArgumentException("pad_channels buffers too small");
        CudaKernel k = kc.kernel("tessel_pad_channels.cu", CnnKernels::padSource, "tessel_pad_channels");
        k.launch(Launch.gridFor(pixels * cp, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(pixels).i32(c).i32(cp));
    }

    /** f16 NCHW [n, c, hw] into NHWC [n*hw, 8], channels c.. zero, in one pass (input reformat + stem padding). */
    public static void padChannelsFromNchw8(KernelCompiler kc, DeviceBuffer x, DeviceBuffer y, long pixels, long hw, int c, CudaStream stream) {
        if (c > 8 || x.bytes() < pixels * c * 2 || y.bytes() < pixels * 16 || y.address() % 16 != 0) throw new IllegalArgumentException("pad_channels_nchw8: bad buffers or c=" + c);
        CudaKernel k = kc.kernel("tessel_pad_channels.cu", CnnKernels::padSource, "tessel_pad_channels_nchw8");
        k.launch(Launch.gridFor(pixels, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(pixels).i64(hw).i32(c));
    }

    /**
     * f16 NCHW [n, c, hw] into NHWC [n*hw, cp] in one pass (the network input's reformat for the stem convolution):
     * cp = 8 or 4 pads channels c.. with zeros (one 16- or 8-byte store per pixel), cp = c writes them unpadded.
     */
    public static void stemFromNchw(KernelCompiler kc, DeviceBuffer x, DeviceBuffer y, long pixels, long hw, int c, int cp, CudaStream stream) {
        if (cp == 8) { padChannelsFromNchw8(kc, x, y, pixels, hw, c, stream); return; }
        if (c < 1 || c > 8 || (cp != 4 && cp != c) || c > cp || x.bytes() < pixels * c * 2 || y.bytes() < pixels * cp * 2)
            throw new IllegalArgumentException("stem reformat: bad buffers or c=" + c + ", cp=" + cp);
        if (cp == 4) {
            if (y.address() % 8 != 0) throw new IllegalArgumentException("stem reformat to 4 channels needs an 8-byte aligned output");
            CudaKernel k = kc.kernel("tessel_pad_channels.cu", CnnKernels::padSource, "tessel_pad_channels_nchw4");
            k.launch(Launch.gridFor(pixels, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(pixels).i64(hw).i32(c));
            return;
        }
        CudaKernel k = kc.kernel("tessel_pad_channels.cu", CnnKernels::padSource, "tessel_nchw_to_nhwc_small");
        k.launch(Launch.gridFor(pixels, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(pixels).i64(hw).i32(c));
    }

    /** Max pooling of f16 NHWC with C % 8 == 0, 8 channels (16 bytes) per thread; geometry as {@link Pool2d.Window}. */
    public static void maxPoolNhwc8(KernelCompiler kc, Pool2d.Window p, DeviceBuffer x, DeviceBuffer y, CudaStream stream) {
        if (p.c() % 8 != 0 || x.address() % 16 != 0 || y.address() % 16 != 0) throw new IllegalArgumentException("maxpool_nhwc8 needs C % 8 == 0 and 16-byte aligned buffers");
        Softmax.check(x, DType.F16, p.inputElements(), "input");
        Softmax.check(y, DType.F16, p.outputElements(), "output");
        CudaKernel k = kc.kernel("tessel_pad_channels.cu", CnnKernels::padSource, "tessel_maxpool_nhwc8");
        long n = p.outputElements() / 8;
        k.launch(Launch.gridFor(n, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(p.n()).i32(p.c() / 8).i32(p.h()).i32(p.w()).i32(p.oh()).i32(p.ow())
                .i32(p.kh()).i32(p.kw()).i32(p.sh()).i32(p.sw()).i32(p.padTop()).i32(p.padLeft()).i32(p.dh()).i32(p.dw()));
    }
}
