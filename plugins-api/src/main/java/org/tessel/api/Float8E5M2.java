package org.tessel.api;

/**
 * Conversions of ONNX's FLOAT8E5M2 (the OCP 8-bit float with fp16's exponent range, CUDA's
 * {@code __nv_fp8_e5m2}): a sign bit, 5 exponent bits with bias 15 and 2 mantissa bits. Exponent field
 * 0 holds the subnormals (m * 2^-16); field 31 holds the infinities (S.11111.00) and NaNs (S.11111.01,
 * .10, .11), so the largest finite magnitude is 1.75 * 2^15 = 57344 (S.11110.11). Rounding is to
 * nearest, ties to even. As ONNX's Cast and QuantizeLinear into FLOAT8E5M2 (the node cases' expected
 * codes): with {@code saturate} (the default) a magnitude that rounds past 57344, and infinity, becomes
 * +-57344; without it, +-infinity. NaN stays NaN (0x7E with x's sign, as ONNX writes it).
 */
public final class Float8E5M2 {
    private Float8E5M2() {}

    /** The largest finite magnitude. */
    public static final float MAX = 57344f;
    /** The code of +57344. */
    public static final int MAX_CODE = 0x7B;
    /** The code of +infinity. */
    public static final int INF = 0x7C;
    /** The code ONNX writes for +NaN. */
    public static final int NAN = 0x7E;

    /** The 8-bit code of {@code v} (0..255), rounded to nearest even, saturating or not. */
    public static int toBits(float v, boolean saturate) {
        int sign = (Float.floatToRawIntBits(v) >>> 24) & 0x80;
        if (Float.isNaN(v)) return sign | NAN;
        double a = Math.abs((double) v);
        int over = sign | (saturate ? MAX_CODE : INF);
        if (Double.isInfinite(a)) return over;
        if (a < 0x1p-14) {
            // subnormal range: a multiple of 2^-16, 0..4 (4 is the smallest normal, 1.0 * 2^-14, whose code is 0x04)
            return sign | (int) Math.rint(a * 0x1p16);
        }
        int e = Math.getExponent(a); // -14 .. 127
        if (e > 15) return over;
        // a / 2^(e-2) is in [4, 8): the implicit bit and 2 mantissa bits, the rest a fraction rint rounds (exact in double)
        int m = (int) Math.rint(Math.scalb(a, 2 - e));
        if (m == 8) {
            e++;
            m = 4;
        }
        if (e > 15) return over; // rounds past 57344
        return sign | (e + 15) << 2 | (m - 4);
    }

    /** The value of an 8-bit code (its low 8 bits). */
    public static float toFloat(int bits) {
        int b = bits & 0xFF;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        int e = (b >>> 2) & 0x1F, m = b & 3;
        if (e == 31) return m == 0 ? sign * Float.POSITIVE_INFINITY : Float.intBitsToFloat((b & 0x80) << 24 | 0x7FC00000);
        if (e == 0) return sign * Math.scalb((float) m, -16);
        return sign * Math.scalb((float) (4 + m), e - 17);
    }

    /** {@code v} rounded to the nearest E5M2 value, ties to even, saturating to +-57344 (infinity too; NaN stays NaN). */
    public static float round(float v) { return toFloat(toBits(v, true)); }

    /** As {@link #round}, but a magnitude that rounds past 57344 becomes infinity, and infinity stays: ONNX's {@code saturate=0}. */
    public static float roundNoSaturate(float v) { return toFloat(toBits(v, false)); }
}
