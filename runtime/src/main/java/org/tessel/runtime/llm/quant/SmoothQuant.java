package org.tessel.runtime.llm.quant;

import java.util.List;
import java.util.Map;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.passes.quant.QuantizeWeights;

/**
 * SmoothQuant W8A8 (Xiao et al. 2023): per input channel s_j = max|X_j|^alpha / max|W_j|^(1-alpha)
 * (W_j: row j of every weight of the group), migrated into the norm before the group
 * ({@link ChannelScaling}), so the activation's outlier channels shrink and the weights' grow;
 * then every linear layer but the LM head runs as {@code tessel.W8A8MatMul}: its activation quantized
 * per tensor at the calibrated amax / 127 (the exact largest |x / s| over the calibration tokens, a
 * min-max calibration), its weight per output channel at amax / 127, int32 sums.
 *
 * <p>Only groups whose activation comes from a norm are smoothed (free: the scale folds into the norm's
 * weight); the others (attention output, MLP down projection) are quantized without smoothing, as in
 * the paper's recipe for Llama-style models.
 */
public final class SmoothQuant {
    private SmoothQuant() {}

    /** s_j = max(max|X_j|, 1e-5)^alpha / max(max|W_j|, 1e-5)^(1 - alpha). */
    public static float[] factors(ActivationStats.GroupStats st, float alpha) {
        ChannelScaling.Group g = st.group();
        int k = g.k();
        float[] wmax = new float[k];
        for (QuantizeWeights.Match m : g.members()) {
            float[] w = QuantizeWeights.weightKN(m);
            for (int c = 0; c < k; c++) for (int j = 0; j < m.n(); j++) wmax[c] = Math.max(wmax[c], Math.abs(w[c * m.n() + j]));
        }
        float[] s = new float[k];
        for (int c = 0; c < k; c++)
            s[c] = (float) (Math.pow(Math.max(st.maxAbs()[c], 1e-5f), alpha) / Math.pow(Math.max(wmax[c], 1e-5f), 1 - alpha));
        return s;
    }

    /** The per-tensor activation scale after smoothing by {@code s} (null: none): max_j max|X_j| / s_j, over 127. */
    public static float activationScale(float[] maxAbs, float[] s) {
        float amax = 0;
        for (int j = 0; j < maxAbs.length; j++) amax = Math.max(amax, s == null ? maxAbs[j] : maxAbs[j] / s[j]);
        return amax > 0 ? amax / 127f : 1f / 127f;
    }

    /**
     * Rewrites every linear layer whose weight has an activation scale (by weight name) into
     * {@code tessel.W8A8MatMul} (weights named as before smoothing); returns how many. Weights are quantized per output channel on first use.
     */
    public static int rewrite(Graph g, Map<String, Float> activationScales) {
        OpRegistry ops = OpRegistry.global();
        int done = 0;
        for (ChannelScaling.Group grp : ChannelScaling.groups(g))
            for (QuantizeWeights.Match m : grp.members()) {
                Float sa = activationScales.get(ChannelScaling.originalName(m.weight()));
                if (sa == null) continue;
                int k = m.k(), n = m.n();
                WeightQuantizer.Format perChannel = new WeightQuantizer.Format(8, k, true);
                var q = QuantizeWeights.memo(() -> WeightQuantizer.quantize(QuantizeWeights.weightKN(m), k, n, perChannel, DType.F32));
                String base = m.weight().name();
                Value codes = g.addDeferredConstant(base + ".q8", TensorType.of(DType.I8, Shape.of(n, k)), () -> q.get().codes());
                Value ws = g.addDeferredConstant(base + ".scales", TensorType.of(DType.F32, Shape.of(n)), () -> q.get().scales().reshape(Shape.of(n)));
                Value as = g.addConstant(base + ".input_scale", Tensor.ofFloats(Shape.of(), sa));
                QuantizeWeights.replace(g, m, ops.get(TesselOps.DOMAIN, "W8A8MatMul"), List.of(m.a(), codes, ws, as), Attributes.empty(), ops);
                done++;
            }
        g.removeUnusedConstants();
        return done;
    }
}
