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
 * The E4M3 conversions against the format's definition: every code's value, the nearest-even choice
 * among the finite values found by brute force, saturation and NaN as ONNX's Cast table gives them.
 */
class Float8E4M3Test {
    /** The 254 finite codes' values in increasing order, with the code of each (the definition, written out independently). */
    private static final float[] VALUES = new float[254];
    private static final int[] CODES = new int[254];
    static {
        java.util.List<int[]> byValue = new java.util.ArrayList<>();
        for (int c = 0; c < 256; c++) if ((c & 0x7F) != 0x7F && c != 0x80) byValue.add(new int[] {c});
        byValue.sort((a, b) -> Double.compare(definition(a[0]), definition(b[0])));
        // -0 (0x80) and +0 share a value; the table keeps +0 and adds no -0, so 253 distinct values plus one slot for -0 at the end
        for (int i = 0; i < byValue.size(); i++) {
            CODES[i] = byValue.get(i)[0];
            VALUES[i] = (float) definition(CODES[i]);
        }
        CODES[253] = 0x80;
        VALUES[253] = -0f;
    }

    /** (-1)^s * 2^(e-7) * 1.m, or 2^-6 * 0.m for e = 0: the OCP FP8 specification's formula. */
    private static double definition(int c) {
        int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
        double mag = e == 0 ? Math.pow(2, -6) * m / 8.0 : Math.pow(2, e - 7) * (1 + m / 8.0);
        return s == 1 ? -mag : mag;
    }

    @Test void everyCodeRoundTripsAndHasItsValue() {
        for (int c = 0; c < 256; c++) {
            float v = Float8E4M3.toFloat(c);
            if ((c & 0x7F) == 0x7F) assertTrue(Float.isNaN(v), "code " + c);
            else assertEquals(definition(c), v, 0.0, "code " + c);
            assertEquals(c, Float8E4M3.toBits(v, true), "code " + c + " (" + v + ")");
            assertEquals(c, Float8E4M3.toBits(v, false), "code " + c + " (" + v + ")");
        }
        assertEquals(448f, Float8E4M3.toFloat(0x7E));
        assertEquals(0x1p-9f, Float8E4M3.toFloat(0x01));
        assertEquals(0x80, Float8E4M3.toBits(-0f, true));
    }

    @Test void midpointsTieToTheEvenCode() {
        for (int i = 0; i + 1 < 253; i++) {
            float lo = VALUES[i], hi = VALUES[i + 1];
            float mid = (lo + hi) / 2; // exact: both have at most 4 significant bits
            int even = (CODES[i] & 1) == 0 ? CODES[i] : CODES[i + 1];
            int got = Float8E4M3.toBits(mid, true);
            // at zero the tie is between +-0 and the smallest subnormal: the zero's code keeps x's sign
            if (lo == 0 || hi == 0) assertEquals(0, Float8E4M3.toFloat(got), 0.0, "tie " + mid);
            else assertEquals(even, got, "tie " + mid + " between " + lo + " and " + hi);
            assertEquals(hi, Float8E4M3.round(Math.nextUp(mid)), 0.0, "just above " + mid);
            assertEquals(lo, Float8E4M3.round(Math.nextDown(mid)), 0.0, "just below " + mid);
        }
    }

    @Property(tries = 3000)
    void roundsToTheNearestFiniteValue(@ForAll @FloatRange(min = -464f, max = 464f) @Scale(12) float v) {
        float r = Float8E4M3.round(v);
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 253; i++) best = Math.min(best, Math.abs(VALUES[i] - (double) v));
        assertEquals(best, Math.abs(r - (double) v), 0.0, "rounding " + v + " gave " + r);
        assertEquals(r, Float8E4M3.roundNoSaturate(v), 0.0, "in range, saturation makes no difference");
        if (r != 0) assertEquals(Math.signum(v), Math.signum(r), 0.0);
    }

    @Property(tries = 500)
    void smallMagnitudesAreRoundedRelativeToTheirBinade(@ForAll @FloatRange(min = 0x1p-6f, max = 448f) @Scale(12) float v) {
        // a normal value is kept to 4 significant bits: relative error at most 2^-4
        assertTrue(Math.abs(Float8E4M3.round(v) - v) <= Math.scalb(Math.abs(v), -4) * 1.0000001, "rounding " + v);
    }

    @Property(tries = 500)
    void beyondTheRangeSaturatesOrIsNaN(@ForAll @FloatRange(min = 464.001f, max = 1e30f) @Scale(3) float v, @ForAll boolean negative) {
        float x = negative ? -v : v;
        assertEquals(negative ? -448f : 448f, Float8E4M3.round(x), 0.0);
        assertTrue(Float.isNaN(Float8E4M3.roundNoSaturate(x)));
    }

    @Test void saturationEdgesInfinityAndNaN() {
        assertEquals(448f, Float8E4M3.round(464f), 0.0, "464 is the tie between 448 and 480: even is 448 (mantissa 110)");
        assertEquals(448f, Float8E4M3.roundNoSaturate(464f), 0.0);
        assertTrue(Float.isNaN(Float8E4M3.roundNoSaturate(Math.nextUp(464f))));
        assertEquals(448f, Float8E4M3.round(Float.POSITIVE_INFINITY), 0.0);
        assertEquals(-448f, Float8E4M3.round(Float.NEGATIVE_INFINITY), 0.0);
        assertEquals(0xFF, Float8E4M3.toBits(Float.NEGATIVE_INFINITY, false));
        assertTrue(Float.isNaN(Float8E4M3.round(Float.NaN)));
        assertEquals(0x7F, Float8E4M3.toBits(Float.NaN, true));
        assertEquals(0, Float8E4M3.round(0x1p-10f), 0.0, "half the smallest subnormal ties to zero");
        assertEquals(0x1p-9f, Float8E4M3.round(Math.nextUp(0x1p-10f)), 0.0);
    }

    @Property(tries = 300)
    void monotonic(@ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int a, @ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int b) {
        float x = Float.intBitsToFloat(a), y = Float.intBitsToFloat(b);
        if (Float.isNaN(x) || Float.isNaN(y)) return;
        if (x > y) { float t = x; x = y; y = t; }
        assertTrue(Float8E4M3.round(x) <= Float8E4M3.round(y), x + " <= " + y);
    }

    @Test void tensorsStoreE4M3Rounded() {
        Tensor t = Tensor.ofFloats(DType.F8E4M3, Shape.of(3), new float[] {0.3f, 1000f, -17f});
        assertEquals(0.3125f, t.floats()[0]);
        assertEquals(448f, t.floats()[1]);
        assertEquals(-16f, t.floats()[2]);
        assertEquals(DType.F8E4M3, DType.fromOnnx(17).orElseThrow());
        assertEquals(1, DType.F8E4M3.bytes());
    }
}
