package org.tessel.runtime.llm.quant;

import org.tessel.ir.ops.WeightQuantizer;

/**
 * What a decoder's linear layers are quantized to: nothing (FP32), weight-only INT8/INT4 with
 * group-wise scales (optionally AWQ-scaled), or SmoothQuant W8A8. The command line spells it
 * {@code --weights int8|int4[:GROUP] [--awq]} or {@code --smoothquant[=ALPHA]}; {@link #parse}
 * refuses bad values naming the flag.
 *
 * @param format weight-only format (null for FP32 and W8A8)
 * @param awq    AWQ activation-aware scaling before weight-only quantization
 * @param alpha  SmoothQuant's migration strength, NaN when not W8A8
 */
public record QuantizationSpec(WeightQuantizer.Format format, boolean awq, float alpha) {
    public static final QuantizationSpec FP32 = new QuantizationSpec(null, false, Float.NaN);
    /** Group size of {@code int8} and {@code int4} without one. */
    public static final int DEFAULT_GROUP = 128;
    public static final float DEFAULT_ALPHA = 0.5f;

    public QuantizationSpec {
        if (awq && format == null) throw new IllegalArgumentException("--awq scales weights for weight-only quantization: add --weights int4 or int8");
        if (format != null && !Float.isNaN(alpha)) throw new IllegalArgumentException("--smoothquant (W8A8) and --weights (weight-only) exclude each other: pick one");
        if (!Float.isNaN(alpha) && !(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("--smoothquant: alpha must be in [0, 1], got " + alpha);
    }

    public boolean weightOnly() { return format != null; }
    public boolean smoothQuant() { return !Float.isNaN(alpha); }
    public boolean isFp32() { return format == null && !smoothQuant(); }

    /** The spec from the flags' values: {@code weights} as int8|int4[:GROUP] or null, {@code smooth} as "" or ALPHA or null (flag absent). */
    public static QuantizationSpec parse(String weights, boolean awq, String smooth) {
        WeightQuantizer.Format f = weights == null ? null : weights(weights);
        float alpha = Float.NaN;
        if (smooth != null) {
            try {
                alpha = smooth.isEmpty() ? DEFAULT_ALPHA : Float.parseFloat(smooth);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--smoothquant=" + smooth + ": ALPHA must be a number in [0, 1]");
            }
        }
        return new QuantizationSpec(f, awq, alpha);
    }

    static WeightQuantizer.Format weights(String v) {
        String[] p = v.split(":", -1);
        if (p.length > 2 || !(p[0].equals("int8") || p[0].equals("int4")))
            throw new IllegalArgumentException("--weights " + v + ": expected int8 or int4, optionally :GROUP (e.g. int4:64)");
        int group = DEFAULT_GROUP;
        if (p.length == 2) {
            try {
                group = Integer.parseInt(p[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--weights " + v + ": GROUP must be a positive integer, got '" + p[1] + "'");
            }
        }
        try {
            return new WeightQuantizer.Format(p[0].equals("int8") ? 8 : 4, group, true);
        } catch (org.tessel.api.OpException e) {
            throw new IllegalArgumentException("--weights " + v + ": " + e.getMessage());
        }
    }

    /** A short label: fp32, w8-g128, w4-g32-awq, w8a8-sq0.5. */
    public String label() {
        if (smoothQuant()) return "w8a8-sq" + alpha;
        if (format == null) return "fp32";
        return "w" + format.bits() + "-g" + format.groupSize() + (awq ? "-awq" : "");
    }
}
