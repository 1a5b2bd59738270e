package org.tessel.runtime.tuning;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Times candidate tactics the way the builder's auto-tuner does: warm-up runs first, then timed
 * runs whose median is the result and whose median absolute deviation is the noise estimate.
 * Each run gets the index of an input buffer to use, rotating through {@code buffers} of them, so
 * a tactic is not timed on data already sitting in cache. The clock is pluggable: GPU tactics
 * time with CUDA events, CPU ones with System.nanoTime.
 */
public final class TacticTimer {
    /** Runs one iteration on input buffer {@code buffer} and returns its time in microseconds. */
    @FunctionalInterface
    public interface TimedRun { double runUs(int buffer); }

    private final int warmup, runs, buffers;

    public TacticTimer(int warmup, int runs, int buffers) {
        if (warmup < 0 || runs < 1 || buffers < 1) throw new IllegalArgumentException("warmup >= 0, runs >= 1, buffers >= 1 required");
        this.warmup = warmup;
        this.runs = runs;
        this.buffers = buffers;
    }

    public static TacticTimer defaults() { return new TacticTimer(5, 21, 4); }

    public Measurement time(TimedRun run) {
        int b = 0;
        for (int i = 0; i < warmup; i++) run.runUs(b++ % buffers);
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) t[i] = run.runUs(b++ % buffers);
        double median = median(t);
        double[] dev = new double[runs];
        for (int i = 0; i < runs; i++) dev[i] = Math.abs(t[i] - median);
        return new Measurement(median, median(dev), runs);
    }

    /** Times a CPU action with System.nanoTime. */
    public Measurement timeCpu(IntConsumer action) {
        return time(buffer -> {
            long t0 = System.nanoTime();
            action.accept(buffer);
            return (System.nanoTime() - t0) / 1e3;
        });
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /**
     * The fastest tactic. Tactics whose medians differ by less than the larger noise estimate are
     * a tie, which goes to the smallest tactic id: the same build picks the same tactic every time
     * even when the clock jitters.
     */
    public static String fastest(Map<String, Measurement> timings) {
        if (timings.isEmpty()) throw new IllegalArgumentException("no timings to choose from");
        List<Map.Entry<String, Measurement>> byTime = timings.entrySet().stream()
                .sorted(Comparator.comparingDouble((Map.Entry<String, Measurement> e) -> e.getValue().medianUs()).thenComparing(Map.Entry::getKey)).toList();
        Map.Entry<String, Measurement> best = byTime.get(0);
        String choice = best.getKey();
        for (Map.Entry<String, Measurement> e : byTime) {
            double gap = e.getValue().medianUs() - best.getValue().medianUs();
            double noise = Math.max(e.getValue().madUs(), best.getValue().madUs());
            if (gap <= noise && e.getKey().compareTo(choice) < 0) choice = e.getKey();
        }
        return choice;
    }
}
