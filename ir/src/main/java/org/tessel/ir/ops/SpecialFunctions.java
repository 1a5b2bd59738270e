package org.tessel.ir.ops;

/**
 * Special functions the JDK lacks, to double precision: the error function and its complement
 * (Erf, Gelu). Series for small arguments, a continued fraction for the tail, so neither loses
 * digits to cancellation.
 */
public final class SpecialFunctions {
    private SpecialFunctions() {}

    private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
    private static final double ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);
    /** Below this the series is used; above, the continued fraction converges fast. */
    private static final double SERIES_LIMIT = 3.0;
    /** erfc(6) < 2.2e-17: erf is 1 to double precision beyond. */
    private static final double SATURATION = 6.0;

    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        double r = a < SERIES_LIMIT ? erfSeries(a) : a < SATURATION ? 1 - erfcTail(a) : 1;
        return x < 0 ? -r : r;
    }

    /** 1 - erf(x), accurate in relative terms for large positive x. */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        if (x < 0) return 2 - erfc(-x);
        if (x < SERIES_LIMIT) return 1 - erfSeries(x);
        if (x > 27) return 0;   // exp(-x^2) underflows
        return erfcTail(x);
    }

    /**
     * erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)): all terms positive, so
     * no cancellation; x is non-negative and below SERIES_LIMIT.
     */
    private static double erfSeries(double x) {
        double x2 = 2 * x * x;
        double term = x, sum = x;
        for (int n = 1; n < 500 && term > 1e-17 * sum; n++) {
            term *= x2 / (2 * n + 1);
            sum += term;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
    }

    /**
     * erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up;
     * 80 levels give full double precision for x >= 3.
     */
    private static double erfcTail(double x) {
        double t = x;
        for (int k = 80; k >= 1; k--) t = x + (k / 2.0) / t;
        return ONE_OVER_SQRT_PI * Math.exp(-x * x) / t;
    }
}
