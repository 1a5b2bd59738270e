package org.tessel.runtime.gpu.kernels;

import java.util.Arrays;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * A weight quantized to int8 per output channel, host side, exactly as the CPU backend emulates it
 * ({@link PrecisionEmulation#channelScales}, {@link PrecisionEmulation#quantize}): each channel's
 * scale is its largest magnitude / 127 (1 for an all-zero channel) and each code is rint(w / scale)
 * clamped to [-127, 127]; or at the channel scales a plan gives for the weight (a Q/DQ model's own), the
 * same ones the CPU backend uses ({@link PrecisionEmulation#fakeQuantizeWeight(Tensor, int, org.tessel.cost.Precision, float[])}). The codes are held channel-major: channel c's {@code channelSize} codes
 * at {@code c * channelSize}, the other axes in their original order. That is the [N, K] row-major
 * weight {@link Int8Gemm} reads (Gemm's B [K, N] transposed, or B as it is with transB) and, after
 * {@link #forConv}, the KRSC filter {@link Int8Conv} reads.
 *
 * @param codes       int8 codes, channel-major
 * @param scales      one scale per output channel
 * @param channelSize codes per channel (the GEMM's K, a convolution's C*R*S)
 */
public record Int8Weights(byte[] codes, float[] scales, int channelSize) {
    public Int8Weights {
        if (channelSize <= 0 || (long) scales.length * channelSize != codes.length)
            throw new IllegalArgumentException(codes.length + " codes are not " + scales.length + " channels of " + channelSize);
    }

    public int channels() { return scales.length; }

    /**
     * {@code w} (f32) quantized per channel along {@code axis}, the codes moved channel-major
     * (axis first, the other axes in order; for axis 0 that is w's own order).
     */
    public static Int8Weights perChannel(Tensor w, int axis) { return perChannel(w, axis, null); }

    /**
     * As above at given channel scales (the plan's for a Q/DQ model's weight: its own codes come back),
     * or null for amax/127 per channel.
     */
    public static Int8Weights perChannel(Tensor w, int axis, float[] scales) {
        if (w.dtype() != DType.F32) throw new IllegalArgumentException("int8 weight quantization takes an f32 weight, got " + w.dtype().text() + " " + w.shape());
        int[] d = w.shape().dims();
        if (axis < 0 || axis >= d.length) throw new IllegalArgumentException("channel axis " + axis + " is outside the weight's shape " + w.shape());
        int ch = d[axis], inner = 1, outer = 1;
        for (int i = axis + 1; i < d.length; i++) inner *= d[i];
        for (int i = 0; i < axis; i++) outer *= d[i];
        if (ch == 0 || (long) outer * inner == 0) throw new IllegalArgumentException("weight " + w.shape() + " has no elements to quantize");
        if (scales != null && scales.length != ch) throw new IllegalArgumentException(scales.length + " channel scales for a weight " + w.shape() + " with " + ch + " channels on axis " + axis);
        float[] s = scales != null ? scales.clone() : PrecisionEmulation.channelScales(w, axis), src = w.floats();
        byte[] codes = new byte[src.length];
        int size = outer * inner;
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < ch; c++)
                for (int i = 0; i < inner; i++) {
                    int from = (o * ch + c) * inner + i;
                    codes[c * size + o * inner + i] = (byte) PrecisionEmulation.quantize(src[from], s[c]);
                }
        return new Int8Weights(codes, s, size);
    }

    /**
     * A Gemm / MatMul weight for {@link Int8Gemm}: B [K, N] (output channels on axis 1) or, with
     * {@code transposed} (Gemm's transB = 1), [N, K]; the codes come out as [N, K] row-major.
     */
    public static Int8Weights forGemm(Tensor w, boolean transposed) { return forGemm(w, transposed, null); }

    /** As above at given channel scales (null: amax/127). */
    public static Int8Weights forGemm(Tensor w, boolean transposed, float[] scales) {
        if (w.rank() != 2) throw new IllegalArgumentException("an int8 GEMM weight is 2-D ([K, N], or [N, K] transposed), got " + w.shape());
        return perChannel(w, transposed ? 0 : 1, scales);
    }

    /**
     * A Conv weight [K, C, R, S] (groups = 1) for {@link Int8Conv}: quantized per output channel K,
     * the codes packed KRSC (channels last, as NHWC convolutions read them).
     */
    public static Int8Weights forConv(Tensor w) { return forConv(w, null); }

    /** As above at given channel scales (null: amax/127). */
    public static Int8Weights forConv(Tensor w, float[] scales) {
        if (w.rank() != 4) throw new IllegalArgumentException("an int8 convolution weight is [K, C, R, S], got " + w.shape());
        Int8Weights q = perChannel(w, 0, scales);
        int[] d = w.shape().dims();
        int k = d[0], c = d[1], r = d[2], s = d[3];
        byte[] krsc = new byte[q.codes.length];
        for (int kk = 0; kk < k; kk++)
            for (int cc = 0; cc < c; cc++)
                for (int rr = 0; rr < r; rr++)
                    for (int ss = 0; ss < s; ss++)
                        krsc[((kk * r + rr) * s + ss) * c + cc] = q.codes[((kk * c + cc) * r + rr) * s + ss];
        return new Int8Weights(krsc, q.scales, q.channelSize);
    }

    /**
     * The codes as [channels, {@code columns}] row-major, each channel's codes followed by zeros: a KRSC filter
     * ({@link #forConv}) as the weights of a GEMM over {@link Im2col}'s matrix, whose columns are padded the same way
     * (its column (ky * KW + kx) * C + c is KRSC's order).
     */
    public byte[] paddedTo(int columns) {
        if (columns < channelSize) throw new IllegalArgumentException(columns + " columns cannot hold a channel's " + channelSize + " codes");
        if (columns == channelSize) return codes.clone();
        byte[] out = new byte[Math.multiplyExact(scales.length, columns)];
        for (int c = 0; c < scales.length; c++) System.arraycopy(codes, c * channelSize, out, c * columns, channelSize);
        return out;
    }

    /**
     * The epilogue's per-channel scales for activations quantized at {@code activationScale}:
     * activationScale * scale[c], one f32 product each (what {@link Int8Epilogue} multiplies the
     * int32 sums by).
     */
    public float[] outputScales(float activationScale) {
        Quantize.checkScale(activationScale, "int8 activation");
        float[] out = new float[scales.length];
        for (int c = 0; c < out.length; c++) out[c] = activationScale * scales[c];
        return out;
    }

    /** The dequantized weight value of code {@code i} (code * its channel's scale). */
    public float dequantized(int i) { return codes[i] * scales[i / channelSize]; }

    @Override public boolean equals(Object o) {
        return o instanceof Int8Weights q && channelSize == q.channelSize && Arrays.equals(codes, q.codes) && Arrays.equals(scales, q.scales);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(codes) + Arrays.hashCode(scales); }

    @Override public String toString() { return "Int8Weights(" + channels() + " channels x " + channelSize + ")"; }
}
