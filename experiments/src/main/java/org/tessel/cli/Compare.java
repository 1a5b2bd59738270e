package org.tessel.cli;

import org.tessel.api.Tensor;

/** Element-wise comparison with numpy's allclose rule: |a - b| <= atol + rtol * |b|. */
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
}
