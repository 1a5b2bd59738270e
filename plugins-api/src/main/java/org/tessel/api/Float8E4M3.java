package org.tessel.api;

/**
 * Conversions of ONNX's FLOAT8E4M3FN (the OCP 8-bit float NVIDIA's Hopper and Ada tensor cores
 * compute in, CUDA's {@code __nv_fp8_e4m3}): a sign bit, 4 exponent bits with bias 7 and 3 mantissa
 * bits. Exponent field 0 holds the subnormals (m * 2^-9); there are no infinities, and S.1111.111 is
 * NaN, so the largest finite magnitude is 1.75 * 2^8 = 448 (S.1111.110). Rounding is to nearest, ties
 * to even; {@code saturate} (ONNX's default for Cast and QuantizeLinear into float8) maps a magnitude
 * that rounds past 448, and infinity, to +-448, and without it to NaN (ONNX's {@code saturate=0}).
 * NaN stays NaN (0x7F with x's sign).
 */
public final class Float8E4M3 {
    private Float8E4M3() {}

    /** The largest finite magnitude. */
    public static final float MAX = 448f;
    /** The code of +NaN (S.1111.111 with S = 0). */
    public static final int NAN = 0x7F;
    /** The code of +448. */
    public static final int MAX_CODE = 0x7E;

    /** The 8-bit code of {@code v} (0..255), rounded to nearest even, saturating or not. */
    public static int toBits(float v, boolean saturate) {
        int sign = (Float.floatToRawIntBits(v) >>> 24) & 0x80;
        if (Float.isNaN(v)) return sign | NAN;
        double a = Math.abs((double) v);
        if (Double.isInfinite(a)) return sign | (saturate ? MAX_CODE : NAN);
        int code;
        if (a < 0x1p-6) {
            // subnormal range: a multiple of 2^-9, 0..8 (8 is the smallest normal, 1.0 * 2^-6, whose code is 0x08)
            code = (int) Math.rint(a * 0x1p9);
        } else {
            int e = Math.getExponent(a); // -6 .. 127
            if (e > 8) return sign | (saturate ? MAX_CODE : NAN);
            // a / 2^(e-3) is in [8, 16): the implicit bit and 3 mantissa bits, the rest a fraction rint rounds (exact in double)
            int m = (int) Math.rint(Math.scalb(a, 3 - e));
            if (m == 16) {
                e++;
                m = 8;
            }
            if (e > 8 || e == 8 && m == 15) return sign | (saturate ? MAX_CODE : NAN); // rounds past 448
            code = (e + 7) << 3 | (m - 8);
        }
        return sign | code;
    }

    /** The value of an 8-bit code (its low 8 bits). */
    public static float toFloat(int bits) {
        int b = bits & 0xFF;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        int e = (b >>> 3) & 0xF, m = b & 7;
        if (e == 15 && m == 7) return Float.intBitsToFloat((b & 0x80) << 24 | 0x7FC00000); // keeps the sign, so the code comes back
        if (e == 0) return sign * Math.scalb((float) m, -9);
        return sign * Math.scalb((float) (8 + m), e - 10);
    }

    /** {@code v} rounded to the nearest E4M3 value, ties to even, saturating to +-448 (NaN stays NaN). */
    public static float round(float v) { return toFloat(toBits(v, true)); }

    /** As {@link #round}, but a magnitude past 448 (and infinity) becomes NaN: ONNX's {@code saturate=0}. */
    public static float roundNoSaturate(float v) { return toFloat(toBits(v, false)); }
}
