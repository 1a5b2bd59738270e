package org.tessel.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.FloatRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Scale;
import org.junit.jupiter.api.Test;

/**
 * The fnuz float8 conversions against the formats' definitions (every code, nearest-even among the
 * finite values by brute force, saturation, NaN, no -0), and the codes ONNX's node cases expect.
 */
class Float8FnuzTest {
    private static final int[][] SPEC = {{4, 3, 8}, {5, 2, 16}}; // exponent bits, mantissa bits, bias

    /** (-1)^s * 2^(e-bias) * 1.m, or 2^(1-bias) * 0.m for e = 0 (Graphcore's 8-bit float definition). */
    private static double definition(Float8Fnuz f, int c) {
        int[] sp = SPEC[f.ordinal()];
        int mant = sp[1], bias = sp[2];
        int s = c >> 7, e = (c & 0x7F) >> mant, m = c & ((1 << mant) - 1);
        double mag = e == 0 ? Math.pow(2, 1 - bias) * m / (1 << mant) : Math.pow(2, e - bias) * (1 + (double) m / (1 << mant));
        return s == 1 ? -mag : mag;
    }

    /** The 255 finite codes in increasing order of value (0x00 is the only zero). */
    private static List<Integer> finite(Float8Fnuz f) {
        List<Integer> out = new ArrayList<>();
        for (int c = 0; c < 256; c++) if (c != 0x80) out.add(c);
        out.sort((a, b) -> Double.compare(definition(f, a), definition(f, b)));
        return out;
    }

    @Test void everyCodeRoundTripsAndHasItsValue() {
        for (Float8Fnuz f : Float8Fnuz.values()) {
            for (int c = 0; c < 256; c++) {
                float v = f.toFloat(c);
                if (c == 0x80) { assertTrue(Float.isNaN(v)); continue; }
                assertEquals(definition(f, c), v, 0.0, f + " code " + c);
                assertEquals(c, f.toBits(v, true), f + " code " + c);
                assertEquals(c, f.toBits(v, false), f + " code " + c);
            }
            assertEquals(f == Float8Fnuz.E4M3FNUZ ? 240f : 57344f, f.max);
            assertEquals(f.max, f.toFloat(0x7F));
            assertEquals(0, f.toBits(-0f, true), "no negative zero");
            assertEquals(0x80, f.toBits(Float.NaN, true));
        }
    }

    @Test void midpointsTieToTheEvenCode() {
        for (Float8Fnuz f : Float8Fnuz.values()) {
            List<Integer> codes = finite(f);
            for (int i = 0; i + 1 < codes.size(); i++) {
                float lo = (float) definition(f, codes.get(i)), hi = (float) definition(f, codes.get(i + 1));
                float mid = (lo + hi) / 2;
                int got = f.toBits(mid, true);
                if (lo == 0 || hi == 0) assertEquals(0, got, f + " tie " + mid + " rounds to +0");
                else assertEquals((codes.get(i) & 1) == 0 ? codes.get(i) : codes.get(i + 1), got, f + " tie " + mid);
                assertEquals(hi, f.round(Math.nextUp(mid)), 0.0, f + " just above " + mid);
                assertEquals(lo, f.round(Math.nextDown(mid)), 0.0, f + " just below " + mid);
            }
        }
    }

    @Property(tries = 1000)
    void roundsToTheNearestFiniteValue(@ForAll @FloatRange(min = -245f, max = 245f) @Scale(12) float v, @ForAll boolean e5m2) {
        Float8Fnuz f = e5m2 ? Float8Fnuz.E5M2FNUZ : Float8Fnuz.E4M3FNUZ;
        float r = f.round(v);
        double best = Double.POSITIVE_INFINITY;
        for (int c : finite(f)) best = Math.min(best, Math.abs(definition(f, c) - v));
        assertEquals(best, Math.abs(r - (double) v), 0.0, f + " rounding " + v + " gave " + r);
    }

    @Test void saturationInfinityAndTheNodeCasesCodes() {
        Float8Fnuz e4 = Float8Fnuz.E4M3FNUZ, e5 = Float8Fnuz.E5M2FNUZ;
        assertEquals(0x7F, e4.toBits(Float.POSITIVE_INFINITY, true));
        assertEquals(0xFF, e4.toBits(-1e6f, true));
        assertEquals(0x80, e4.toBits(Float.POSITIVE_INFINITY, false));
        assertEquals(0x80, e4.toBits(1e6f, false));
        assertEquals(0x7F, e4.toBits(247.99f, false), "below the tie between 240 and 256");
        assertEquals(0x80, e4.toBits(248f, false), "the tie rounds to the even 256, past the range");
        // test_cast_FLOAT_to_FLOAT8E4M3FNUZ / E5M2FNUZ: 0.4789 -> 0x37 / 0x3c, 0.8191 -> 0x3d / 0x3f, -1e-7 -> 0x00
        assertEquals(0x37, e4.toBits(0.4789254665374756f, true));
        assertEquals(0x3D, e4.toBits(0.8191054463386536f, true));
        assertEquals(0x3C, e5.toBits(0.4789254665374756f, true));
        assertEquals(0x3F, e5.toBits(0.8191054463386536f, true));
        assertEquals(0, e5.toBits(-1e-7f, true));
        assertEquals(0x80, e5.toBits(Float.NEGATIVE_INFINITY, false));
    }

    @Property(tries = 300)
    void monotonic(@ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int a, @ForAll @IntRange(min = -0x7fffffff, max = 0x7fffffff) int b) {
        float x = Float.intBitsToFloat(a), y = Float.intBitsToFloat(b);
        if (Float.isNaN(x) || Float.isNaN(y)) return;
        if (x > y) { float t = x; x = y; y = t; }
        for (Float8Fnuz f : Float8Fnuz.values()) assertTrue(f.round(x) <= f.round(y), f + ": " + x + " <= " + y);
    }

    @Test void dtypes() {
        assertEquals(DType.F8E4M3FNUZ, DType.fromOnnx(18).orElseThrow());
        assertEquals(DType.F8E5M2FNUZ, DType.fromOnnx(20).orElseThrow());
        Tensor t = Tensor.ofFloats(DType.F8E4M3FNUZ, Shape.of(3), new float[] {0.3f, 1000f, -0f});
        assertEquals(0.3125f, t.floats()[0]);
        assertEquals(240f, t.floats()[1]);
        assertEquals(0, Float.floatToRawIntBits(t.floats()[2]), "-0 is stored as +0");
    }
}
