package org.tessel.runtime.calib;

import java.util.Locale;

/**
 * How a tensor's histogram of |x| becomes its clipping threshold amax (its scale is amax / 127),
 * with TensorRT's choices: {@link Entropy} (IInt8EntropyCalibrator2: the threshold whose 128-level
 * quantized distribution is closest to the observed one in KL divergence), {@link MinMax}
 * (IInt8MinMaxCalibrator: the largest |x|), {@link Percentile} (the |x| below which P% of the values
 * lie) and {@link Mse} (the threshold with the least quantization mean squared error).
 */
public sealed interface Calibrator {
    /** The name a cache and a plan record ("entropy", "minmax", "percentile:99.99", "mse"). */
    String name();

    /** The threshold for this histogram; 0 when every value was 0. */
    double amax(Histogram h);

    /**
     * The threshold for this histogram when the tensor is stored in {@code format} (INT8 or FP8):
     * the same as {@link #amax(Histogram)} for every calibrator but {@link Mse}, whose error is that
     * of the format's own grid.
     */
    default double amax(Histogram h, org.tessel.cost.Precision format) { return amax(h); }

    /** Parses {@code entropy}, {@code minmax}, {@code percentile[:P]} (P in (0, 100], default 99.99) or {@code mse}. */
    static Calibrator parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.equals("entropy")) return new Entropy();
        if (t.equals("minmax")) return new MinMax();
        if (t.equals("mse")) return new Mse();
        if (t.equals("percentile")) return new Percentile(99.99);
        if (t.startsWith("percentile:")) {
            String p = t.substring("percentile:".length());
            double v;
            try {
                v = Double.parseDouble(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("calibrator '" + s + "': '" + p + "' is not a percentile (a number in (0, 100], e.g. percentile:99.9)");
            }
            return new Percentile(v);
        }
        throw new IllegalArgumentException("unknown calibrator '" + s + "' (entropy, minmax, percentile[:P], mse)");
    }

    /** The largest |x| seen. */
    record MinMax() implements Calibrator {
        public String name() { return "minmax"; }
        public double amax(Histogram h) { return h.max(); }
    }

    /** The upper edge of the bin where the cumulative count reaches P% of all values (at most the largest |x|). */
    record Percentile(double percent) implements Calibrator {
        public Percentile {
            if (!(percent > 0 && percent <= 100)) throw new IllegalArgumentException("percentile must be in (0, 100], got " + percent);
        }
        public String name() { return "percentile:" + (percent == Math.rint(percent) ? String.valueOf((long) percent) : String.valueOf(percent)); }
        public double amax(Histogram h) {
            long[] c = h.counts();
            long total = 0;
            for (long x : c) total += x;
            if (total == 0 || h.width() == 0) return h.max();
            double want = total * percent / 100;
            long run = 0;
            for (int i = 0; i < c.length; i++) {
                run += c[i];
                if (run >= want) return Math.min(h.max(), (i + 1) * h.width());
            }
            return h.max();
        }
    }

    /**
     * TensorRT's entropy calibration (EntropyCalibrator2, as NVIDIA's pytorch-quantization writes it
     * out): for each candidate threshold bin i from 128 to 2048, the reference distribution P is the
     * first i bins with everything beyond folded into the last; Q merges those i bins into 128 levels
     * and spreads each level back evenly over its nonzero bins. The threshold is the upper edge of
     * bin i with the least KL(P || Q) (the last of equal minima). Bin 0 is given bin 1's count first,
     * so the zeros a ReLU makes do not dominate.
     */
    record Entropy() implements Calibrator {
        static final int LEVELS = 128, START = 128;
        public String name() { return "entropy"; }
        public double amax(Histogram h) {
            if (h.width() == 0) return h.max();
            long[] raw = h.counts();
            double[] bins = new double[raw.length];
            for (int i = 0; i < raw.length; i++) bins[i] = raw[i];
            bins[0] = bins[1];
            double[] suffix = new double[bins.length + 1];
            for (int i = bins.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + bins[i];
            double best = Double.POSITIVE_INFINITY;
            int bestI = bins.length;
            double[] q = new double[bins.length], spread = new double[LEVELS];
            int[] edge = new int[LEVELS + 1];
            // P's total is the sum of all bins whatever the candidate: a sum of whole numbers, exact
            // in any order while it stays within 2^53, so then each bin's share is computed once.
            double all = suffix[0];
            boolean exactTotal = all <= 0x1p53;
            double[] share = new double[bins.length];
            if (exactTotal) for (int j = 0; j < bins.length; j++) share[j] = bins[j] / all;
            // Every sum below runs over j in ascending order, as the plain formulation's loops do, so
            // the divergences, and the choice, are bit for bit the same; the level of bin j is
            // found by its level's bin range rather than per bin, a level's share of Q is divided
            // once rather than per bin, and equal terms are not recomputed.
            for (int i = START; i <= bins.length; i++) {
                // bins [edge[lv], edge[lv + 1]) form level lv: those with level(j, i) == lv (see level)
                for (int lv = 0; lv <= LEVELS; lv++) edge[lv] = (lv * i + LEVELS - 1) / LEVELS;
                double qTotal = 0, pTotal = 0;
                for (int lv = 0; lv < LEVELS; lv++) {
                    int from = edge[lv], to = edge[lv + 1];
                    double sum = 0;
                    int nonzero = 0;
                    for (int j = from; j < to; j++) {
                        sum += bins[j];
                        if (bins[j] != 0) nonzero++;
                    }
                    double sp = nonzero == 0 ? 0 : sum / nonzero;
                    spread[lv] = sp;
                    for (int j = from; j < to; j++) {
                        q[j] = bins[j] == 0 ? 0 : sp;
                        qTotal += q[j];
                    }
                }
                double tail = bins[i - 1] + suffix[i]; // P folds everything beyond into its last bin
                if (exactTotal) {
                    pTotal = all;
                } else {
                    for (int j = 0; j < i - 1; j++) pTotal += bins[j];
                    pTotal += tail;
                }
                if (pTotal == 0 || qTotal == 0) continue;
                double kl = 0, lastP = -1, lastQ = -1, lastTerm = 0;
                levels:
                for (int lv = 0; lv < LEVELS; lv++) {
                    int from = edge[lv], to = edge[lv + 1];
                    double qLevel = spread[lv] / qTotal; // q[j] / qTotal for every nonzero q[j] of the level
                    for (int j = from; j < to; j++) {
                        boolean last = j == i - 1;
                        double pRaw = last ? tail : bins[j];
                        if (pRaw == 0) continue;
                        double term;
                        if (pRaw == lastP && q[j] == lastQ) {
                            term = lastTerm;
                        } else {
                            if (q[j] == 0) { kl = Double.POSITIVE_INFINITY; break levels; } // Q is 0 where P is not
                            double pj = exactTotal && !last ? share[j] : pRaw / pTotal;
                            term = pj * Math.log(pj / qLevel);
                            lastP = pRaw;
                            lastQ = q[j];
                            lastTerm = term;
                        }
                        kl += term;
                    }
                }
                if (kl <= best) { best = kl; bestI = i; }
            }
            return Math.min(h.max(), bestI * h.width());
        }

        /**
         * The level (of {@value #LEVELS}) bin j of the first i bins falls in: numpy's digitize over
         * linspace(0, i, 129), floor(j * 128 / i), which in doubles is exactly the integer quotient
         * (a non-integer j * 128 / i lies at least 1/i below the next integer, far beyond rounding).
         * The calibrator walks each level's bins [ceil(lv * i / 128), ceil((lv + 1) * i / 128)) instead.
         */
        static int level(int j, int i) {
            return (int) Math.min(LEVELS - 1, Math.floor(j * (double) LEVELS / i));
        }
    }

    /**
     * The threshold (a bin edge from bin 1 up) that minimises the quantization mean squared error
     * over the histogram: each bin's values taken at its centre, quantized on the storage format's
     * grid at that threshold and compared. INT8: scale threshold/127, rounded to nearest even,
     * clamped to +-127 (a uniform grid). FP8: scale threshold/448, rounded to the nearest E4M3 value
     * ({@link org.tessel.api.Float8E4M3#round}, ties to even, saturating at +-448), whose grid is
     * finer near 0 and coarser near the threshold, so the best FP8 threshold is not the best INT8 one.
     */
    record Mse() implements Calibrator {
        public String name() { return "mse"; }
        public double amax(Histogram h) { return amax(h, org.tessel.cost.Precision.INT8); }

        @Override public double amax(Histogram h, org.tessel.cost.Precision format) {
            if (h.width() == 0) return h.max();
            boolean fp8 = format == org.tessel.cost.Precision.FP8;
            if (!fp8 && format != org.tessel.cost.Precision.INT8) throw new IllegalArgumentException(format.text() + " is not a quantized precision");
            long[] c = h.counts();
            double bestErr = Double.POSITIVE_INFINITY, best = h.max();
            for (int i = 1; i <= c.length; i++) {
                double clip = i * h.width();
                double err = fp8 ? errorFp8(c, h.width(), clip, bestErr) : error(c, h.width(), clip, bestErr);
                if (err < bestErr) { bestErr = err; best = clip; }
            }
            return Math.min(h.max(), best);
        }

        /** INT8 quantization squared error of the histogram at this clip (stops early past {@code bound}). */
        static double error(long[] c, double width, double clip, double bound) {
            double s = clip / 127, err = 0;
            for (int j = 0; j < c.length; j++) {
                if (c[j] == 0) continue;
                double x = (j + 0.5) * width;
                double q = Math.max(-127, Math.min(127, Math.rint(x / s))) * s;
                err += c[j] * (x - q) * (x - q);
                if (err > bound) return err;
            }
            return err;
        }

        /**
         * FP8 E4M3 quantization squared error of the histogram at this clip, as the engine quantizes
         * (x / scale in f32, E4M3 rounding, times scale; {@code PrecisionEmulation.fakeQuantizeFp8}).
         */
        static double errorFp8(long[] c, double width, double clip, double bound) {
            float s = (float) (clip / org.tessel.api.Float8E4M3.MAX);
            if (!(s > 0) || Float.isInfinite(s)) return Double.POSITIVE_INFINITY;
            double err = 0;
            for (int j = 0; j < c.length; j++) {
                if (c[j] == 0) continue;
                float x = (float) ((j + 0.5) * width);
                double q = (double) org.tessel.api.Float8E4M3.round(x / s) * s;
                err += c[j] * (x - q) * (x - q);
                if (err > bound) return err;
            }
            return err;
        }
    }
}
