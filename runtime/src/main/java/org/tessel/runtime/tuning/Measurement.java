package org.tessel.runtime.tuning;

/**
 * The timing of one tactic on one op signature: median and spread over repeated runs.
 *
 * @param medianUs median time in microseconds
 * @param madUs    median absolute deviation: the noise estimate
 * @param runs     how many timed runs the median is over
 */
public record Measurement(double medianUs, double madUs, int runs) {
    public Measurement {
        if (!(medianUs >= 0) || !(madUs >= 0) || runs < 1)
            throw new IllegalArgumentException("bad measurement: median " + medianUs + " us, MAD " + madUs + " us, " + runs + " runs");
    }

    /** Relative noise (MAD / median). */
    public double relativeNoise() { return medianUs == 0 ? 0 : madUs / medianUs; }
}
