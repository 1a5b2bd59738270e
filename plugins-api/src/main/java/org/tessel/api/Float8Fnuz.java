package org.tessel.api;

/**
 * Conversions of ONNX's "fnuz" float8 types (Graphcore's and AMD's: finite, no negative zero):
 * FLOAT8E4M3FNUZ (4 exponent bits with bias 8, 3 mantissa bits, max 240) and FLOAT8E5M2FNUZ (5
 * exponent bits with bias 16, 2 mantissa bits, max 57344). Every exponent field holds finite values;
 * the one code 0x80 (what would be -0) is NaN, so there is no -0 and no infinity. Rounding is to
 * nearest, ties to even; a value that rounds to zero is +0. As ONNX's Cast table and its node cases'
 * expected codes: with {@code saturate} (the default) a magnitude that rounds past the largest, and
 * infinity, becomes +-max; without it, NaN. NaN stays NaN.
 */
public enum Float8Fnuz {
    E4M3FNUZ(4, 3, 8), E5M2FNUZ(5, 2, 16);

    /** The NaN code. */
    public static final int NAN = 0x80;

    private final int mant, bias, emax;
    /** The largest finite magnitude. */
    public final float max;

    Float8Fnuz(int exp, int mant, int bias) {
        this.mant = mant;
        this.bias = bias;
        this.emax = (1 << exp) - 1 - bias;
        this.max = Math.scalb((float) ((2 << mant) - 1), emax - mant);
    }

    /** The 8-bit code of {@code v} (0..255), rounded to nearest even, saturating or not. */
    public int toBits(float v, boolean saturate) {
        if (Float.isNaN(v)) return NAN;
        int sign = v < 0 ? 0x80 : 0;
        double a = Math.abs((double) v);
        int over = saturate ? sign | 0x7F : NAN;
        if (Double.isInfinite(a)) return over;
        int code;
        int emin = 1 - bias;
        if (a < Math.scalb(1.0, emin)) {
            // subnormal range: a multiple of 2^(emin - mant); 2^mant is the smallest normal, whose code is the same number
            code = (int) Math.rint(Math.scalb(a, mant - emin));
        } else {
            int e = Math.getExponent(a);
            if (e > emax) return over;
            // a / 2^(e - mant) is in [2^mant, 2^(mant+1)): the implicit bit and the mantissa, the rest a fraction rint rounds (exact in double)
            int m = (int) Math.rint(Math.scalb(a, mant - e));
            if (m == 2 << mant) {
                e++;
                m = 1 << mant;
            }
            if (e > emax) return over; // rounds past the largest
            code = (e + bias) << mant | (m - (1 << mant));
        }
        return code == 0 ? 0 : sign | code; // no negative zero
    }

    /** The value of an 8-bit code (its low 8 bits). */
    public float toFloat(int bits) {
        int b = bits & 0xFF;
        if (b == NAN) return Float.NaN;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        int e = (b & 0x7F) >>> mant, m = b & ((1 << mant) - 1);
        if (e == 0) return sign * Math.scalb((float) m, 1 - bias - mant);
        return sign * Math.scalb((float) ((1 << mant) + m), e - bias - mant);
    }

    /** {@code v} rounded to the nearest value, ties to even, saturating to +-max (infinity too; NaN stays NaN). */
    public float round(float v) { return toFloat(toBits(v, true)); }
}
