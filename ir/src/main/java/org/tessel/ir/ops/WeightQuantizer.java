package org.tessel.ir.ops;

import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Group-wise weight quantization as weight-only LLM kernels store it (GPTQ/AWQ's layout): a
 * MatMul's weight B [K, N] becomes codes [N, K] (each output row contiguous along K, so a GEMV
 * reads one row with wide loads), one scale per group of {@code groupSize} consecutive K of a row,
 * and for asymmetric formats one integer zero point per group. A weight is {@code (code - zero) * scale}.
 *
 * <ul>
 *   <li>8 bits, symmetric: i8 codes [N, K] in [-127, 127], scale = group amax / 127, zero 0.</li>
 *   <li>8 bits, asymmetric: u8 codes [N, K] in [0, 255], zero points u8 [N, K/G].</li>
 *   <li>4 bits: u8 [N, K/2], two codes a byte, even k in the low nibble. Symmetric codes are q + 8
 *       for q in [-7, 7] (scale = amax / 7, zero 8); asymmetric codes in [0, 15] with zero points u8 [N, K/G] in [0, 15].</li>
 * </ul>
 *
 * Asymmetric groups span [min(w, 0), max(w, 0)] so 0 is a code. Codes are w / scale rounded to
 * nearest even and clamped. The stored scale is the computed one rounded up to the scale type
 * (f16 by default), so every weight stays within the codes and |w - dequantized| &lt;= scale / 2
 * (up to the f32 division's rounding). An all-zero group gets scale 1.
 */
public final class WeightQuantizer {
    private WeightQuantizer() {}

    /** A quantization format; checked on creation with a message naming the bad field. */
    public record Format(int bits, int groupSize, boolean symmetric) {
        public Format {
            if (bits != 4 && bits != 8) throw new OpException("bits must be 4 or 8, got " + bits);
            if (groupSize < 1) throw new OpException("group size must be positive, got " + groupSize);
            if (bits == 4 && groupSize % 2 != 0) throw new OpException("4-bit groups must be even (two codes a byte), got group size " + groupSize);
        }

        /** Largest unsigned code: 15 or 255. */
        public int maxCode() { return (1 << bits) - 1; }

        /** Largest symmetric magnitude: 7 or 127. */
        public int symmetricMax() { return (1 << (bits - 1)) - 1; }

        /** The implicit zero of a symmetric format's stored codes (8 for 4 bits, 0 for signed int8). */
        public int symmetricZero() { return bits == 4 ? 8 : 0; }

        /** Element type of the codes tensor. */
        public DType codeType() { return bits == 8 && symmetric ? DType.I8 : DType.U8; }

        /** Shape of the codes of an [N, K] weight. */
        public Shape codeShape(int n, int k) { return Shape.of(n, bits == 4 ? k / 2 : k); }

        /** Shape of the scales (and zero points) of an [N, K] weight. */
        public Shape groupShape(int n, int k) { return Shape.of(n, k / groupSize); }

        /** Why {@code k} cannot be quantized in this format, or null. */
        public String whyNot(int k) {
            return k % groupSize != 0 ? "K=" + k + " is not a multiple of the group size " + groupSize : null;
        }

        /** Stored bytes of an [N, K] weight in this format with scales of {@code scaleType}. */
        public long bytes(int n, int k, DType scaleType) {
            long groups = (long) n * (k / groupSize);
            return codeShape(n, k).numElements() + groups * scaleType.bytes() + (symmetric ? 0 : groups);
        }
    }

    /** A quantized weight: codes, scales and (asymmetric only) zero points, as the op takes them. */
    public record Quantized(Format format, int n, int k, Tensor codes, Tensor scales, Tensor zeroPoints) {}

    /**
     * Quantizes a MatMul weight B [K, N] (row-major {@code b}) in {@code f}, scales stored as
     * {@code scaleType} (f32, f16 or bf16). Fails naming the problem when K does not fit the
     * groups or a scale overflows its type.
     */
    public static Quantized quantize(float[] b, int k, int n, Format f, DType scaleType) {
        String why = f.whyNot(k);
        if (why != null) throw new OpException(why);
        if (!scaleType.isFloating() || scaleType == DType.F64) throw new OpException("scales are f32, f16 or bf16, got " + scaleType.text());
        int groups = k / f.groupSize(), g = f.groupSize();
        float[] scales = new float[n * groups];
        long[] zeros = f.symmetric() ? null : new long[n * groups];
        int[] q = new int[n * k];
        for (int row = 0; row < n; row++)
            for (int gi = 0; gi < groups; gi++) {
                float lo = 0, hi = 0;
                for (int j = gi * g; j < (gi + 1) * g; j++) {
                    float w = b[j * n + row];
                    if (!Float.isFinite(w)) throw new OpException("weight element [" + j + ", " + row + "] is " + w);
                    lo = Math.min(lo, w);
                    hi = Math.max(hi, w);
                }
                float s = f.symmetric() ? Math.max(-lo, hi) / f.symmetricMax() : (hi - lo) / f.maxCode();
                s = s == 0 ? 1f : roundUp(s, scaleType);
                int z = f.symmetric() ? f.symmetricZero() : (int) Math.max(0, Math.min(f.maxCode(), Math.rint(-lo / s)));
                int min = f.symmetric() ? (f.bits() == 4 ? 1 : -127) : 0, max = f.symmetric() ? (f.bits() == 4 ? 15 : 127) : f.maxCode();
                scales[row * groups + gi] = s;
                if (zeros != null) zeros[row * groups + gi] = z;
                for (int j = gi * g; j < (gi + 1) * g; j++)
                    q[row * k + j] = (int) Math.max(min, Math.min(max, Math.rint(b[j * n + row] / s) + z));
            }
        return new Quantized(f, n, k, pack(q, n, k, f), Tensor.ofFloats(scaleType, f.groupShape(n, k), scales),
                zeros == null ? null : Tensor.ofLongs(DType.U8, f.groupShape(n, k), zeros));
    }

    /** Stored codes [N, K] (unpacked, in the format's stored range) as the codes tensor. */
    static Tensor pack(int[] q, int n, int k, Format f) {
        long[] out = new long[(int) f.codeShape(n, k).numElements()];
        if (f.bits() == 8) for (int i = 0; i < q.length; i++) out[i] = q[i];
        else for (int i = 0; i < q.length; i += 2) out[i / 2] = q[i] | (q[i + 1] << 4);
        return Tensor.ofLongs(f.codeType(), f.codeShape(n, k), out);
    }

    /** The stored code of row {@code row}, column {@code col} (unsigned nibble for 4 bits, as stored otherwise). */
    public static int code(Tensor codes, int bits, int k, int row, int col) {
        if (bits == 8) return (int) codes.longs()[row * k + col];
        long packed = codes.longs()[row * (k / 2) + col / 2];
        return (int) ((col & 1) == 0 ? packed & 15 : (packed >> 4) & 15);
    }

    /** The zero point of every group, [N * K/G]: the stored ones, or the symmetric format's implicit zero. */
    public static int[] zeros(Tensor zeroPoints, int bits, int count) {
        int[] z = new int[count];
        if (zeroPoints == null) java.util.Arrays.fill(z, bits == 4 ? 8 : 0);
        else for (int i = 0; i < count; i++) z[i] = (int) zeroPoints.longs()[i];
        return z;
    }

    /** The dequantized weight as [N, K] row-major f32: (code - zero) * scale per element. */
    public static float[] dequantize(Tensor codes, Tensor scales, Tensor zeroPoints, int bits, int groupSize, int n, int k) {
        int groups = k / groupSize;
        float[] s = scales.floats();
        int[] z = zeros(zeroPoints, bits, n * groups);
        float[] w = new float[n * k];
        for (int row = 0; row < n; row++)
            for (int col = 0; col < k; col++) {
                int gi = row * groups + col / groupSize;
                w[row * k + col] = (code(codes, bits, k, row, col) - z[gi]) * s[gi];
            }
        return w;
    }

    /** The smallest value of type {@code t} that is at least {@code v} (v positive and finite); fails when t cannot hold it. */
    static float roundUp(float v, DType t) {
        float r = switch (t) {
            case F16 -> {
                short h = Float.floatToFloat16(v);
                float f = Float.float16ToFloat(h);
                yield f >= v ? f : Float.float16ToFloat((short) (h + 1));
            }
            case BF16 -> Float.intBitsToFloat((Float.floatToRawIntBits(v) + 0xFFFF) & 0xFFFF0000);
            default -> v;
        };
        if (!Float.isFinite(r)) throw new OpException("a group scale of " + v + " does not fit " + t.text() + " scales; use f32 scales");
        return r;
    }
}
