package org.tessel.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The allowed ranges of numeric flags, checked while the command line is parsed: each is a picocli
 * converter ({@code @Option(converter = Ranges.AtLeastOne.class)}) that refuses a value outside
 * its range, and picocli names the flag: "Invalid value for option '--iterations': must be from
 * 1 to 1000000, got 2147483647". Defaults go through the same converter.
 */
final class Ranges {
    private Ranges() {}

    /** Most timed or profiled runs one command does: their times are kept in memory, and more would not finish. */
    static final int MAX_RUNS = 1_000_000;

    /** Integers from min to max. */
    abstract static class IntRange implements ITypeConverter<Integer> {
        private final int min, max;

        IntRange(int min, int max) { this.min = min; this.max = max; }

        @Override public Integer convert(String text) {
            long v = parseLong(text, min, max);
            if (v < min || v > max) throw new TypeConversionException(outOfRange(v, min, max));
            return (int) v;
        }
    }

    /** Longs from min to max. */
    abstract static class LongRange implements ITypeConverter<Long> {
        private final long min, max;

        LongRange(long min, long max) { this.min = min; this.max = max; }

        @Override public Long convert(String text) {
            long v = parseLong(text, min, max);
            if (v < min || v > max) throw new TypeConversionException(outOfRange(v, min, max));
            return v;
        }
    }

    /** Finite numbers above (or, when {@code zeroAllowed}, from) zero, at most max. */
    abstract static class NonNegativeReal implements ITypeConverter<Double> {
        private final boolean zeroAllowed;
        private final double max;
        private final String range;

        NonNegativeReal(boolean zeroAllowed, double max, String unit) {
            this.zeroAllowed = zeroAllowed;
            this.max = max;
            this.range = "must be " + (zeroAllowed ? "0 or more" : "more than 0") + (Double.isInfinite(max) ? " (finite)" : " and at most " + plain(max)) + unit;
        }

        @Override public Double convert(String text) {
            double v;
            try {
                v = Double.parseDouble(text.strip());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + text + "' is not a number; " + range);
            }
            if (!(zeroAllowed ? v >= 0 : v > 0) || !(Double.isInfinite(max) ? Double.isFinite(v) : v <= max))
                throw new TypeConversionException(range + ", got " + text.strip());
            return v;
        }
    }

    private static long parseLong(String text, long min, long max) {
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + text + "' is not a whole number " + (bounded(max) ? "from " + min + " to " + max : "(at least " + min + ")"));
        }
    }

    /** Integer.MAX_VALUE and Long.MAX_VALUE only say "no limit but the type's". */
    private static boolean bounded(long max) { return max != Integer.MAX_VALUE && max != Long.MAX_VALUE; }

    private static String outOfRange(long v, long min, long max) {
        return (bounded(max) ? "must be from " + min + " to " + max : v < min ? "must be at least " + min : "must be at most " + max) + ", got " + v;
    }

    private static String plain(double v) { return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v); }

    /** Counts and sizes: batch, sequence length, layers, top-k, samples. */
    static final class AtLeastOne extends IntRange { AtLeastOne() { super(1, Integer.MAX_VALUE); } }

    /** Counts that may be zero: how many outliers to list. */
    static final class AtLeastZero extends IntRange { AtLeastZero() { super(0, Integer.MAX_VALUE); } }

    /** Timed or profiled runs. */
    static final class Runs extends IntRange { Runs() { super(1, MAX_RUNS); } }

    /** Warm-up runs before timing. */
    static final class WarmupRuns extends IntRange { WarmupRuns() { super(0, MAX_RUNS); } }

    /** CUDA streams a GPU engine may use. */
    static final class Streams extends IntRange { Streams() { super(1, org.tessel.runtime.gpu.engine.GpuEngine.MAX_STREAMS); } }

    /** Elements above which constants are elided; -1 prints every constant. */
    static final class ElideAbove extends IntRange { ElideAbove() { super(-1, Integer.MAX_VALUE); } }

    /** Search effort: moves, steps without improvement. */
    static final class AtLeastOneLong extends LongRange { AtLeastOneLong() { super(1, Long.MAX_VALUE); } }

    /** The size of a symbolic ONNX dimension. */
    static final class DimensionSize extends LongRange { DimensionSize() { super(1, Integer.MAX_VALUE); } }

    /** A time limit in seconds (at most a year). */
    static final class Temperature extends NonNegativeReal { Temperature() { super(false, 1000.0, ""); } }

    /** Requests per second of a synthetic workload. */
    static final class Rate extends NonNegativeReal { Rate() { super(false, 1e6, " requests/s"); } }

    static final class Seconds extends NonNegativeReal { Seconds() { super(false, 365 * 86400.0, " seconds"); } }

    /** A memory size in MiB (at most 1 PiB). */
    static final class MiB extends NonNegativeReal { MiB() { super(false, 1024.0 * 1024 * 1024, " MiB"); } }

    /** A comparison tolerance. */
    static final class Tolerance extends NonNegativeReal { Tolerance() { super(true, Double.POSITIVE_INFINITY, ""); } }
}
