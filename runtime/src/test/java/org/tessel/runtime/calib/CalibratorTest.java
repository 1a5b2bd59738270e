package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The calibrators on distributions whose answer is known: minmax is the exact largest |x|;
 * percentile the |x| below which P% lie; entropy on a Gaussian with a few far outliers clips well
 * below the outliers; mse's threshold is the brute-force minimum of the quantization error; the
 * histogram's growing range keeps every count.
 */
class CalibratorTest {
    private static Histogram of(float[]... batches) {
        Histogram h = new Histogram();
        for (float[] b : batches) h.add(b);
        return h;
    }

    private static float[] gaussian(long seed, int n, double sigma) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller
            double u = r.nextDouble(), v = r.nextDouble();
            x[i] = (float) (sigma * Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v));
        }
        return x;
    }

    @Test void minmaxIsTheExactLargestMagnitude() {
        Histogram h = of(new float[] {0.5f, -3.25f, 1f}, new float[] {2f, -0.125f});
        assertEquals(3.25, new Calibrator.MinMax().amax(h));
        assertEquals(5, h.total());
    }

    @Test void theRangeGrowsByMergingBinsAndKeepsEveryCount() {
        Histogram h = new Histogram();
        h.add(new float[] {0, 0, 0}); // zeros before any range
        h.add(new float[] {1f, 0.5f});
        assertEquals(1.0 / Histogram.BINS, h.width(), 1e-15);
        h.add(new float[] {3.5f}); // the range doubles twice: 1 -> 4
        assertEquals(4.0 / Histogram.BINS, h.width(), 1e-15);
        long[] c = h.counts();
        long sum = 0;
        for (long x : c) sum += x;
        assertEquals(6, sum);
        assertEquals(3, c[0], "the zeros are in bin 0");
        assertEquals(1, c[(int) (0.5 / h.width())], "0.5 in its bin after merging");
        assertEquals(1, c[(Histogram.BINS - 1) / 4], "1.0 was the first range's top, in its last bin, which merged into bin 511");
        assertEquals(1, c[Math.min(Histogram.BINS - 1, (int) (3.5 / h.width()))]);
        h.add(new float[] {Float.NaN, Float.POSITIVE_INFINITY});
        assertEquals(2, h.nonFinite());
        assertEquals(6, h.total());
    }

    @Test void percentileOfAKnownSample() {
        // 0.001, 0.002, ..., 10.000: 99% of the magnitudes lie at or below 9.9
        float[] x = new float[10_000];
        for (int i = 0; i < x.length; i++) x[i] = (i % 2 == 0 ? 1 : -1) * (i + 1) / 1000f;
        Histogram h = of(x);
        double w = h.width();
        assertEquals(9.9, new Calibrator.Percentile(99).amax(h), w + 1e-9);
        assertEquals(5.0, new Calibrator.Percentile(50).amax(h), w + 1e-9);
        assertEquals(10.0, new Calibrator.Percentile(100).amax(h), 1e-6);
        assertEquals("percentile:99.9", Calibrator.parse("percentile:99.9").name());
        assertEquals("percentile:99.99", Calibrator.parse("percentile").name());
        assertEquals("percentile:99", Calibrator.parse("Percentile:99").name());
    }

    @Test void entropyClipsAGaussianWithOutliersWellBelowTheOutliers() {
        float[] x = gaussian(7, 200_000, 1.0);
        float[] outliers = {40f, -38f, 35f, 45f, -50f};
        Histogram h = of(x, outliers);
        double amax = new Calibrator.Entropy().amax(h);
        assertEquals(50, h.max(), 1e-6);
        assertTrue(amax < 10, "entropy ignores five outliers of 200,000: threshold " + amax);
        assertTrue(amax > 2.5, "and keeps the body of the Gaussian (sigma 1): threshold " + amax);
        // without outliers, entropy still clips the thin tail a little (that is the point of it), never above the max
        Histogram plain = of(gaussian(8, 200_000, 1.0));
        double a2 = new Calibrator.Entropy().amax(plain);
        assertTrue(a2 <= plain.max() && a2 > 2.5, "threshold " + a2 + " of max " + plain.max());
    }

    @Test void mseFindsTheBruteForceMinimum() {
        float[] x = gaussian(11, 50_000, 2.0);
        float[] withOutliers = new float[x.length + 3];
        System.arraycopy(x, 0, withOutliers, 0, x.length);
        withOutliers[x.length] = 60f;
        withOutliers[x.length + 1] = -55f;
        withOutliers[x.length + 2] = 58f;
        Histogram h = of(withOutliers);
        double amax = new Calibrator.Mse().amax(h);
        // brute force over the same candidates, with the error written out independently
        long[] c = h.counts();
        double bestErr = Double.POSITIVE_INFINITY, best = -1;
        for (int i = 1; i <= Histogram.BINS; i++) {
            double clip = i * h.width(), s = clip / 127, err = 0;
            for (int j = 0; j < c.length; j++) {
                double centre = (j + 0.5) * h.width();
                long code = Math.round(Math.max(-127, Math.min(127, Math.rint(centre / s))));
                err += c[j] * Math.pow(centre - code * s, 2);
            }
            if (err < bestErr) { bestErr = err; best = clip; }
        }
        assertEquals(best, amax, 1e-12);
        double errAtMax = Calibrator.Mse.error(c, h.width(), h.max(), Double.POSITIVE_INFINITY);
        assertTrue(bestErr <= errAtMax, "the minimum is no worse than the full range: " + bestErr + " vs " + errAtMax);
        // one far outlier among many: clipping it costs less than coarse steps for everything else
        Histogram one = of(gaussian(12, 200_000, 1.0), new float[] {100f});
        double a = new Calibrator.Mse().amax(one);
        assertTrue(a < 60 && a > 5, "mse clips a lone outlier at 100: " + a);
    }

    /** FP8 mean squared error of the samples at this threshold, quantized as the engine does (E4M3 at threshold/448). */
    private static double fp8Mse(float[] x, double threshold) {
        float s = (float) (threshold / org.tessel.api.Float8E4M3.MAX);
        double err = 0;
        for (float v : x) {
            double d = v - org.tessel.runtime.engine.PrecisionEmulation.fakeQuantizeFp8(v, s);
            err += d * d;
        }
        return err / x.length;
    }

    @Test void fp8MsePicksItsThresholdOnTheE4m3Grid() {
        // heavy tails: Student's t with 3 degrees of freedom (a Gaussian over the root of a scaled chi-square), 200,000 samples
        SplittableRandom r = new SplittableRandom(21);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) {
            double z = gaussian(r.nextLong(), 1, 1.0)[0], chi = 0;
            for (int k = 0; k < 3; k++) { double g = gaussian(r.nextLong(), 1, 1.0)[0]; chi += g * g; }
            x[i] = (float) (z / Math.sqrt(chi / 3));
        }
        Histogram h = of(x);
        var fp8 = org.tessel.cost.Precision.FP8;
        double mse = new Calibrator.Mse().amax(h, fp8), mseInt8Grid = new Calibrator.Mse().amax(h);
        double minmax = new Calibrator.MinMax().amax(h, fp8), p9999 = new Calibrator.Percentile(99.99).amax(h, fp8), p999 = new Calibrator.Percentile(99.9).amax(h, fp8);
        double eMse = fp8Mse(x, mse);
        System.out.printf("Student-t(3), FP8 MSE by threshold: mse %.3f -> %.3e, int8-grid mse %.3f -> %.3e, minmax %.3f -> %.3e, percentile:99.99 %.3f -> %.3e, percentile:99.9 %.3f -> %.3e%n",
                mse, eMse, mseInt8Grid, fp8Mse(x, mseInt8Grid), minmax, fp8Mse(x, minmax), p9999, fp8Mse(x, p9999), p999, fp8Mse(x, p999));
        assertTrue(eMse <= fp8Mse(x, minmax), "mse " + mse + ": " + eMse + " vs minmax " + minmax + ": " + fp8Mse(x, minmax));
        assertTrue(eMse <= fp8Mse(x, p9999), "mse " + mse + ": " + eMse + " vs percentile:99.99 " + p9999 + ": " + fp8Mse(x, p9999));
        assertTrue(eMse <= fp8Mse(x, p999), "mse " + mse + ": " + eMse + " vs percentile:99.9 " + p999 + ": " + fp8Mse(x, p999));
        assertTrue(eMse < fp8Mse(x, mseInt8Grid), "the int8 grid's choice " + mseInt8Grid + " is worse at FP8: " + fp8Mse(x, mseInt8Grid) + " vs " + eMse);
        // E4M3's relative steps make clipping cost more than coarse steps: it keeps more of the tail than the int8 grid does
        assertTrue(mse > mseInt8Grid, "fp8 threshold " + mse + " vs int8 " + mseInt8Grid);
        // and the scales a calibration writes for FP8 are mse's FP8 threshold / 448
        Map<String, Float> s = ActivationCalibration.scales(Map.of("t", h), new Calibrator.Mse(), fp8, w -> {});
        assertEquals((float) (mse / 448), s.get("t"));
    }

    @Test void aZeroRangeTensorIsNamedAndGetsAUsableScale() {
        List<String> warnings = new ArrayList<>();
        Histogram zeros = of(new float[] {0, 0, 0, 0});
        Map<String, Float> s = ActivationCalibration.scales(Map.of("dead", zeros), new Calibrator.Entropy(), warnings::add);
        assertEquals(1f / 127, s.get("dead"));
        assertEquals(List.of("tensor %dead: every calibration value is 0 (zero range); its scale is set to 1/127"), warnings);
        for (String c : List.of("minmax", "percentile", "mse", "entropy")) assertEquals(0, Calibrator.parse(c).amax(zeros), c);
    }

    @Test void badCalibratorNamesAreRefused() {
        assertEquals("unknown calibrator 'kl' (entropy, minmax, percentile[:P], mse)", assertThrows(IllegalArgumentException.class, () -> Calibrator.parse("kl")).getMessage());
        assertEquals("calibrator 'percentile:x': 'x' is not a percentile (a number in (0, 100], e.g. percentile:99.9)",
                assertThrows(IllegalArgumentException.class, () -> Calibrator.parse("percentile:x")).getMessage());
        assertEquals("percentile must be in (0, 100], got 120.0", assertThrows(IllegalArgumentException.class, () -> Calibrator.parse("percentile:120")).getMessage());
    }
}
