package org.tessel.cli;

import org.tessel.api.Tensor;

/** Element-wise comparison with numpy's allclose rule, |a - b| <= atol + rtol * |b|, and the error statistics `tessel compare` reports. */
final class Compare {
    private Compare() {}

    /** Null when close; otherwise the first difference, described. */
    static String allClose(Tensor expected, Tensor actual, double rtol, double atol) {
        if (!expected.shape().equals(actual.shape())) return "shape " + actual.shape() + ", expected " + expected.shape();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.size(); i++) {
            double e = expected.getDouble(i), a = actual.getDouble(i);
            if (Double.isNaN(e) && Double.isNaN(a)) continue;
            double excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
            if (!(excess <= 0) && (worstAt < 0 || excess > worst)) { worst = excess; worstAt = i; }
        }
        if (worstAt < 0) return null;
        return "element " + worstAt + ": expected " + expected.getDouble(worstAt) + ", got " + actual.getDouble(worstAt);
    }

    /**
     * How far {@code actual} is from {@code expected}: the largest absolute difference, the relative
     * L2 error ||a - e|| / ||e||, the cosine similarity, and how many elements break the allclose
     * rule. Matching NaNs count as equal; a NaN against a number breaks the rule and makes max_abs NaN.
     * A shape or element-type disagreement is {@code problem} (the numbers are then NaN).
     */
    record Stats(double maxAbs, double relL2, double cosine, long outside, long size, String problem) {
        boolean pass() { return problem == null && outside == 0; }
    }

    static Stats stats(Tensor expected, Tensor actual, double rtol, double atol) {
        if (!expected.shape().equals(actual.shape()))
            return new Stats(Double.NaN, Double.NaN, Double.NaN, expected.size(), expected.size(), "shape " + actual.shape() + ", expected " + expected.shape());
        double maxAbs = 0, diff2 = 0, e2 = 0, a2 = 0, dot = 0;
        long outside = 0;
        for (int i = 0; i < expected.size(); i++) {
            double e = expected.getDouble(i), a = actual.getDouble(i);
            if (Double.isNaN(e) && Double.isNaN(a) || e == a) { if (Double.isFinite(e)) { e2 += e * e; a2 += a * a; dot += e * a; } continue; }
            double d = Math.abs(a - e);
            if (!(d <= atol + rtol * Math.abs(e))) outside++;
            maxAbs = Double.isNaN(d) || Double.isNaN(maxAbs) ? Double.NaN : Math.max(maxAbs, d);
            diff2 += d * d;
            e2 += e * e;
            a2 += a * a;
            dot += e * a;
        }
        double relL2 = e2 > 0 ? Math.sqrt(diff2) / Math.sqrt(e2) : diff2 == 0 ? 0 : Double.POSITIVE_INFINITY;
        double cosine = e2 == 0 && a2 == 0 ? 1 : e2 == 0 || a2 == 0 ? 0 : dot / (Math.sqrt(e2) * Math.sqrt(a2));
        return new Stats(maxAbs, relL2, cosine, outside, expected.size(), null);
    }
}
