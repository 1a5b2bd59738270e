package org.tessel.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.FloatRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Scale;
import org.junit.jupiter.api.Test;

/**
 * The E5M2 conversions against the format's definition: every code's value, the nearest-even choice
 * among the finite values found by brute force, and saturation, infinity and NaN as ONNX's Cast
 * table (and its node cases' expected codes) give them.
 */
class Float8E5M2Test {
    /** The finite codes but -0 (247 of them) in increasing order of value, with -0 (0x80) last. */
    private static final float[] VALUES = new float[248];
    private static final int[] CODES = new int[248];
    static {
        java.util.List<Integer> finite = new java.util.ArrayList<>();
        for (int c = 0; c < 256; c++) if (((c >> 2) & 31) != 31 && c != 0x80) finite.add(c);
        finite.sort((a, b) -> Double.compare(definition(a), definition(b)));
        for (int i = 0; i < finite.size(); i++) {
            CODES[i] = finite.get(i);
            VALUES[i] = (float) definition(CODES[i]);
        }
        CODES[247] = 0x80;
        VALUES[247] = -0f;
    }

    /** (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m for e = 0: the OCP FP8 specification's formula. */
    private static double definition(int c) {
        int s = c >> 7, e = (c >> 2) & 31, m = c & 3;
        double mag = e == 0 ? Math.pow(2, -14) * m / 4.0 : Math.pow(2, e - 15) * (1 + m / 4.0);
        return s == 1 ? -mag : mag;
    }

    @Test void everyCodeRoundTripsAndHasItsValue() {
        for (int c = 0; c < 256; c++) {
            float v = Float8E5M2.toFloat(c);
            int e = (c >> 2) & 31, m = c & 3;
            if (e == 31 && m == 0) assertEquals((c & 0x80) != 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY, v, "code " + c);
            else if (e == 31) assertTrue(Float.isNaN(v), "code " + c);
            else {
                assertEquals(definition(c), v, 0.0, "code " + c);
                assertEquals(c, Float8E5M2.toBits(v, true), "code " + c + " (" + v + ")");
            }
            if (e != 31 || m == 0) assertEquals(c, Float8E5M2.toBits(v, false), "code " + c + " (" + v + ")");
        }
        assertEquals(57344f, Float8E5M2.toFloat(0x7B));
        assertEquals(0x1p-16f, Float8E5M2.toFloat(0x01));
        assertEquals(0x80, Float8E5M2.toBits(-0f, true));
    }

    @Test void midpointsTieToTheEvenCode() {
        for (int i = 0; i + 1 < 247; i++) {
            float lo = VALUES[i], hi = VALUES[i + 1];
            float mid = (lo + hi) / 2; // exact: both have at most 3 significant bits
            int even = (CODES[i] & 1) == 0 ? CODES[i] : CODES[i + 1];
            int got = Float8E5M2.toBits(mid, true);
            if (lo == 0 || hi == 0) assertEquals(0, Float8E5M2.toFloat(got), 0.0, "tie " + mid);
            else assertEquals(even, got, "tie " + mid + " between " + lo + " and " + hi);
            assertEquals(hi, Float8E5M2.round(Math.nextUp(mid)), 0.0, "just above " + mid);
            assertEquals(lo, Float8E5M2.round(Math.nextDown(mid)), 0.0, "just below " + mid);
        }
    }

    @Property(tries = 3000)
    void roundsToTheNearestFiniteValue(@ForAll @FloatRange(min = -61439f, max = 61439f) @Scale(12) float v) {
        float r = Float8E5M2.round(v);
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 247; i++) best = Math.min(best, Math.abs(VALUES[i] - (double) v));
        assertEquals(best, Math.abs(r - (double) v), 0.0, "rounding " + v + " gave " + r);
        assertEquals(r, Float8E5M2.roundNoSaturate(v), 0.0, "in range, saturation makes no difference");
        if (r != 0) assertEquals(Math.signum(v), Math.signum(r), 0.0);
    }

    @Property(tries = 500)
    void smallValuesAreRoundedOnTheSubnormalGrid(@ForAll @FloatRange(min = -0x1p-14f, max = 0x1p-14f) @Scale(20) float v) {
        // below the smallest normal the step is 2^-16
        float r = Float8E5M2.round(v);
        assertTrue(Math.abs(r - v) <= 0x1p-17f, "rounding " + v + " gave " + r);
        assertEquals(0, Math.IEEEremainder(r, 0x1p-16), 0.0);
    }

    @Property(tries = 500)
    void beyondTheRangeSaturatesOrIsInfinite(@ForAll @FloatRange(min = 61440.01f, max = 1e30f) @Scale(2) float v, @ForAll boolean negative) {
        float x = negative ? -v : v;
        assertEquals(negative ? -57344f : 57344f, Float8E5M2.round(x), 0.0);
        assertEquals(negative ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY, Float8E5M2.roundNoSaturate(x), 0.0);
    }

    @Test void saturationEdgesInfinityAndNaN() {
        assertEquals(57344f, Float8E5M2.roundNoSaturate(Math.nextDown(61440f)), 0.0);
        assertEquals(0x7C, Float8E5M2.toBits(61440f, false), "61440 is the tie between 57344 (mantissa 11) and 65536: even rounds up, past the range");
        assertEquals(0x7B, Float8E5M2.toBits(61440f, true));
        assertEquals(57344f, Float8E5M2.round(Float.POSITIVE_INFINITY), 0.0);
        assertEquals(-57344f, Float8E5M2.round(Float.NEGATIVE_INFINITY), 0.0);
        assertEquals(0xFC, Float8E5M2.toBits(Float.NEGATIVE_INFINITY, false));
        assertTrue(Float.isNaN(Float8E5M2.round(Float.NaN)));
        assertEquals(0x7E, Float8E5M2.toBits(Float.NaN, true));
        assertEquals(0xFE, Float8E5M2.toBits(Float.intBitsToFloat(0xFFC00000), false), "a negative NaN keeps its sign");
        assertEquals(0, Float8E5M2.round(0x1p-17f), 0.0, "half the smallest subnormal ties to zero");
        assertEquals(0x1p-16f, Float8E5M2.round(Math.nextUp(0x1p-17f)), 0.0);
        // ONNX's node case test_cast_FLOAT_to_FLOAT8E5M2: 1e6 and inf saturate to 0x7B, 1e-7 is 0 and -1e-7 is -0 (0x80)
        assertEquals(0x7B, Float8E5M2.toBits(1e6f, true));
        assertEquals(0x7C, Float8E5M2.toBits(1e6f, false));
        assertEquals(0x80, Float8E5M2.toBits(-1e-7f, true));
        assertEquals(0x3B, Float8E5M2.toBits(0.8191054463386536f, true));
    }

    @Property(tries = 300)
    void monotonic(@ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int a, @ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int b) {
        float x = Float.intBitsToFloat(a), y = Float.intBitsToFloat(b);
        if (Float.isNaN(x) || Float.isNaN(y)) return;
        if (x > y) { float t = x; x = y; y = t; }
        assertTrue(Float8E5M2.round(x) <= Float8E5M2.round(y), x + " <= " + y);
        assertTrue(Float8E5M2.roundNoSaturate(x) <= Float8E5M2.roundNoSaturate(y), x + " <= " + y + " without saturation");
    }

    @Test void tensorsStoreE5M2Rounded() {
        // a store rounds as f16 does: past the range to infinity (ONNX's saturating Cast clamps on its own)
        Tensor t = Tensor.ofFloats(DType.F8E5M2, Shape.of(3), new float[] {0.3f, 1e6f, -17f});
        assertEquals(0.3125f, t.floats()[0]);
        assertEquals(Float.POSITIVE_INFINITY, t.floats()[1]);
        assertEquals(-16f, t.floats()[2]);
        assertEquals(DType.F8E5M2, DType.fromOnnx(19).orElseThrow());
        assertEquals(1, DType.F8E5M2.bytes());
        assertTrue(DType.F8E5M2.isFloating() && DType.F8E5M2.isFloat8());
        assertEquals(0x7C, DType.F8E5M2.float8Bits(Float.POSITIVE_INFINITY, false));
    }
}
