package org.tessel.runtime.llm.quant;

import org.tessel.api.DType;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.passes.quant.QuantizeWeights;

/**
 * AWQ's activation-aware scaling (Lin et al. 2023, the scale search without its clipping search): for
 * a group of linear layers reading one activation X, per input channel s = mean|x_j|^alpha, normalised
 * by sqrt(max s * min s), for alpha on a grid in [0, 1]; the alpha whose quantized weights
 * diag(1/s) Q(diag(s) W) give the least squared output error on the calibration rows of X, summed
 * over the group's layers, wins. alpha = 0 is plain round-to-nearest, so the search never does worse
 * than it on the calibration rows.
 */
public final class Awq {
    private Awq() {}

    /** Grid points of alpha: 0, 0.1, ..., 1. */
    public static final int GRID = 11;

    /** The chosen scales of one group, the alpha that gave them, and the output errors of plain RTN and of the choice. */
    public record Choice(float[] scales, float alpha, double rtnError, double error) {}

    public static Choice search(ActivationStats.GroupStats st, WeightQuantizer.Format f, DType scaleType) {
        ChannelScaling.Group g = st.group();
        int k = g.k();
        float[][] x = st.rows();
        float[][] w = new float[g.members().size()][];
        float[][] ref = new float[w.length][];
        for (int i = 0; i < w.length; i++) {
            QuantizeWeights.Match m = g.members().get(i);
            w[i] = QuantizeWeights.weightKN(m);
            ref[i] = matmul(x, w[i], k, m.n());
        }
        Choice best = null;
        double rtn = Double.NaN;
        for (int a = 0; a < GRID; a++) {
            float alpha = a / (float) (GRID - 1);
            float[] s = scales(st.meanAbs(), alpha);
            double err = 0;
            for (int i = 0; i < w.length; i++) err += error(x, w[i], ref[i], s, k, g.members().get(i).n(), f, scaleType);
            if (a == 0) rtn = err;
            if (best == null || err < best.error()) best = new Choice(s, alpha, rtn, err);
        }
        return new Choice(best.scales(), best.alpha(), rtn, best.error());
    }

    /** s_j = max(mean|x_j|, 1e-4)^alpha / sqrt(max s * min s). */
    static float[] scales(float[] meanAbs, float alpha) {
        float[] s = new float[meanAbs.length];
        double lo = Double.MAX_VALUE, hi = 0;
        for (int j = 0; j < s.length; j++) {
            s[j] = (float) Math.pow(Math.max(meanAbs[j], 1e-4f), alpha);
            lo = Math.min(lo, s[j]);
            hi = Math.max(hi, s[j]);
        }
        float norm = (float) Math.sqrt(lo * hi);
        for (int j = 0; j < s.length; j++) s[j] /= norm;
        return s;
    }

    /** Squared error of X diag(1/s) Q(diag(s) W) against X W. */
    static double error(float[][] x, float[] w, float[] ref, float[] s, int k, int n, WeightQuantizer.Format f, DType scaleType) {
        float[] ws = new float[w.length];
        for (int c = 0; c < k; c++) for (int j = 0; j < n; j++) ws[c * n + j] = w[c * n + j] * s[c];
        WeightQuantizer.Quantized q = WeightQuantizer.quantize(ws, k, n, f, scaleType);
        float[] deq = WeightQuantizer.dequantize(q.codes(), q.scales(), q.zeroPoints(), f.bits(), f.groupSize(), n, k); // [N, K]
        float[] eff = new float[k * n];
        for (int j = 0; j < n; j++) for (int c = 0; c < k; c++) eff[c * n + j] = deq[j * k + c] / s[c];
        float[] y = matmul(x, eff, k, n);
        double e = 0;
        for (int i = 0; i < y.length; i++) {
            double d = y[i] - ref[i];
            e += d * d;
        }
        return e;
    }

    static float[] matmul(float[][] x, float[] w, int k, int n) {
        float[] y = new float[x.length * n];
        for (int r = 0; r < x.length; r++)
            for (int c = 0; c < k; c++) {
                float a = x[r][c];
                for (int j = 0; j < n; j++) y[r * n + j] += a * w[c * n + j];
            }
        return y;
    }
}
