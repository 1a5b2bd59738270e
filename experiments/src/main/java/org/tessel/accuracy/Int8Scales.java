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
 * The calibrated INT8 scales a budgeted search measures and builds with (per activation tensor of
 * the prepared graph, from --calib or --calib-cache): an engine measured for INT8 sensitivity, or
 * checked on held-out inputs, carries exactly the quantization table the built engine will.
 */
public record Int8Scales(String calibrator, Map<String, Float> scales) {
    public Int8Scales {
        scales = java.util.Collections.unmodifiableMap(new TreeMap<>(scales));
    }

    /** A digest of the calibrator and every scale (bit for bit): different scales, a different sensitivity cache key. */
    public String fingerprint() {
        MessageDigest md = AccuracyInputs.sha256();
        md.update(("calibrator=" + calibrator + "\n").getBytes(StandardCharsets.UTF_8));
        scales.forEach((k, v) -> md.update((k + "=" + Integer.toHexString(Float.floatToIntBits(v)) + "\n").getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    }

    /** The applied plan with the quantization table its INT8 nodes need (unchanged when it has none). */
    public PlanApplier.Applied quantize(PlanApplier.Applied a) {
        if (a.plan().precisionMix().getOrDefault(Precision.INT8, 0) == 0) return a;
        return new PlanApplier.Applied(a.graph(), a.plan().withQuantization(QuantizationTable.forPlanned(a.graph(), a.plan(), calibrator, scales)));
    }

    /** INT8 nodes of an applied plan (a fused group counts once). */
    public static int int8Nodes(PlanApplier.Applied a) { return a.plan().precisionMix().getOrDefault(Precision.INT8, 0); }
}
