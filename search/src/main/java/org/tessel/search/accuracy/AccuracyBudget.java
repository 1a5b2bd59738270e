package org.tessel.search.accuracy;

import java.util.Locale;

/**
 * The accuracy a plan must keep against the all-FP32 engine, as {@code --accuracy-budget} spells it:
 * {@code rel_l2=0.01} (the relative L2 error of every output at most 0.01) or {@code top1=0.995}
 * (a classifier's top-1 class agrees with FP32's on at least 99.5% of the rows). The search holds
 * the plan's predicted error ({@link ErrorModel}) to {@link #allowedError()}, a hard constraint.
 */
public record AccuracyBudget(Metric metric, double value) {
    /** What is measured and bounded. */
    public enum Metric {
        /** Relative L2 error of an output against FP32: ||y - y32|| / ||y32||, the largest over outputs. */
        REL_L2("rel_l2"),
        /** Fraction of classifier rows (outputs shaped [N, classes]) whose arg-max agrees with FP32's. */
        TOP1("top1");

        private final String text;

        Metric(String text) { this.text = text; }

        public String text() { return text; }
    }

    public AccuracyBudget {
        if (metric == null) throw new IllegalArgumentException("accuracy budget needs a metric (rel_l2 or top1)");
        if (!Double.isFinite(value)) throw new IllegalArgumentException("accuracy budget " + metric.text() + " must be a finite number, got " + value);
        if (metric == Metric.REL_L2 && value < 0) throw new IllegalArgumentException("accuracy budget rel_l2 must be at least 0, got " + value);
        if (metric == Metric.TOP1 && (value < 0 || value > 1)) throw new IllegalArgumentException("accuracy budget top1 is an agreement fraction between 0 and 1, got " + value);
    }

    /**
     * Parses {@code rel_l2=0.01} or {@code top1=0.995}; a bad spec is an {@link IllegalArgumentException}
     * naming {@code flag} and what is wrong.
     */
    public static AccuracyBudget parse(String spec, String flag) {
        String s = spec == null ? "" : spec.trim();
        int eq = s.indexOf('=');
        if (eq < 0) throw new IllegalArgumentException(flag + " '" + spec + "': expected rel_l2=VALUE (e.g. rel_l2=0.01) or top1=VALUE (e.g. top1=0.995)");
        String key = s.substring(0, eq).trim().toLowerCase(Locale.ROOT), val = s.substring(eq + 1).trim();
        Metric m = switch (key) {
            case "rel_l2" -> Metric.REL_L2;
            case "top1" -> Metric.TOP1;
            default -> throw new IllegalArgumentException(flag + " '" + spec + "': unknown metric '" + key + "'; use rel_l2 or top1");
        };
        double v;
        try {
            v = Double.parseDouble(val);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " '" + spec + "': '" + val + "' is not a number");
        }
        try {
            return new AccuracyBudget(m, v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + " '" + spec + "': " + e.getMessage().replaceFirst("^accuracy budget ", ""));
        }
    }

    /**
     * The error the plan may have, in the metric's error form: the relative L2 itself, or for top-1
     * the fraction of rows that may disagree with FP32 (1 - agreement).
     */
    public double allowedError() { return metric == Metric.REL_L2 ? value : 1 - value; }

    /** The accuracy an error means, in the budget's own terms (agreement for top-1). */
    public double accuracyOf(double error) { return metric == Metric.REL_L2 ? error : 1 - error; }

    /** Whether a measured error keeps the budget. */
    public boolean kept(double error) { return error <= allowedError() + 1e-12; }

    /** As the flag spells it. */
    public String text() { return metric.text() + "=" + num(value); }

    static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.6g", v).replaceFirst("0+$", "").replaceFirst("\\.$", "");
    }

    @Override public String toString() { return text(); }
}
