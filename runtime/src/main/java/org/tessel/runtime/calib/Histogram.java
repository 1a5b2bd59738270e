package org.tessel.runtime.calib;

/**
 * A histogram of |x| over one tensor's calibration values: {@value #BINS} bins of equal width from
 * 0, the range growing as values arrive. When a batch has a value beyond the range, the width
 * doubles (adjacent pairs of bins merge, which is exact) until the range covers it, so one pass over
 * the data suffices. Also keeps the exact largest |x|, the count and how many values were not finite
 * (those are left out). Not thread-safe.
 */
public final class Histogram {
    /** Bins per histogram, as TensorRT's calibrators use. */
    public static final int BINS = 2048;

    private final long[] counts = new long[BINS];
    private double width; // 0 until a nonzero value arrives
    private long zerosBeforeRange; // zeros seen before the range was known
    private double max;
    private long total, nonFinite;

    /** Adds the magnitudes of these values. */
    public void add(float[] values) {
        // pass 1: the largest finite |x| (in float, which widens to the same double) and the non-finite count
        float mf = 0;
        int bad = 0;
        for (float v : values) {
            float a = Math.abs(v);
            if (!(a <= Float.MAX_VALUE)) bad++; // NaN or infinity
            else if (a > mf) mf = a;
        }
        double m = mf;
        if (m > 0) grow(m);
        max = Math.max(max, m);
        nonFinite += bad;
        total += values.length - bad;
        if (width == 0) { // every finite value is 0
            zerosBeforeRange += values.length - bad;
            return;
        }
        // pass 2: bin |x| / width; |x| <= m <= width * BINS, so the quotient is at most BINS and only
        // the top of the range needs clamping into the last bin
        double w = width;
        long[] c = counts;
        if (bad == 0) {
            for (float v : values) c[Math.min(BINS - 1, (int) (Math.abs(v) / w))]++;
        } else {
            for (float v : values) {
                float a = Math.abs(v);
                if (a <= Float.MAX_VALUE) c[Math.min(BINS - 1, (int) (a / w))]++;
            }
        }
    }

    private void grow(double m) {
        if (width == 0) {
            width = m / BINS;
            counts[0] += zerosBeforeRange;
            zerosBeforeRange = 0;
            return;
        }
        while (m > width * BINS) {
            for (int i = 0; i < BINS / 2; i++) counts[i] = counts[2 * i] + counts[2 * i + 1];
            java.util.Arrays.fill(counts, BINS / 2, BINS, 0);
            width *= 2;
        }
    }

    /** A histogram with these counts and bin width (for tests and tools). */
    public static Histogram of(long[] counts, double width, double max) {
        if (counts.length != BINS) throw new IllegalArgumentException("a histogram has " + BINS + " bins, got " + counts.length);
        Histogram h = new Histogram();
        System.arraycopy(counts, 0, h.counts, 0, BINS);
        h.width = width;
        h.max = max;
        for (long c : counts) h.total += c;
        return h;
    }

    /** Bin counts (a copy); all zero while no nonzero value has arrived. */
    public long[] counts() {
        long[] c = counts.clone();
        c[0] += zerosBeforeRange;
        return c;
    }

    /** Width of one bin (0 when every value so far was 0). */
    public double width() { return width; }

    /** The largest |x| seen. */
    public double max() { return max; }

    /** Finite values seen. */
    public long total() { return total; }

    /** Non-finite values seen (left out of the histogram). */
    public long nonFinite() { return nonFinite; }
}
