package org.tessel.accuracy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.tessel.cost.Precision;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * The calibrated scales a budgeted search measures and builds with, for one quantized precision (INT8
 * or FP8; per activation tensor of the prepared graph, from --calib or --calib-cache): an engine
 * measured for that precision's sensitivity, or checked on held-out inputs, carries exactly the
 * quantization table the built engine will.
 *
 * @param precision the quantized precision the scales are for (scale = amax / 127 at INT8, amax / 448 at FP8)
 */
public record CalibratedScales(String calibrator, Precision precision, Map<String, Float> scales) {
    public CalibratedScales {
        if (!precision.quantized()) throw new IllegalArgumentException("calibrated scales are for int8 or fp8, not " + precision.text());
        scales = java.util.Collections.unmodifiableMap(new TreeMap<>(scales));
    }

    /** INT8 scales. */
    public CalibratedScales(String calibrator, Map<String, Float> scales) { this(calibrator, Precision.INT8, scales); }

    /** A digest of the calibrator, the precision (FP8 only, so INT8 keys are as before) and every scale (bit for bit): different scales, a different sensitivity cache key. */
    public String fingerprint() {
        MessageDigest md = AccuracyInputs.sha256();
        md.update(("calibrator=" + calibrator + "\n").getBytes(StandardCharsets.UTF_8));
        if (precision != Precision.INT8) md.update(("format=" + precision.text() + "\n").getBytes(StandardCharsets.UTF_8));
        scales.forEach((k, v) -> md.update((k + "=" + Integer.toHexString(Float.floatToIntBits(v)) + "\n").getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    }

    /** The applied plan with the quantization table its nodes at this precision need (unchanged when it has none). */
    public PlanApplier.Applied quantize(PlanApplier.Applied a) {
        if (quantizedNodes(a, precision) == 0) return a;
        return new PlanApplier.Applied(a.graph(), a.plan().withQuantization(QuantizationTable.forPlanned(a.graph(), a.plan(), precision, calibrator, scales)));
    }

    /** Nodes of an applied plan at a precision (a fused group counts once). */
    public static int quantizedNodes(PlanApplier.Applied a, Precision p) { return a.plan().precisionMix().getOrDefault(p, 0); }
}
