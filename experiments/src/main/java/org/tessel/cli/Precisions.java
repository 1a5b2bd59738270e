package org.tessel.cli;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.search.SearchOptions;

/** Parses the precisions a command allows ("fp32,fp16"); FP32 is always added, INT8 and FP8 only with calibration (--calib or --calib-cache). */
final class Precisions {
    private Precisions() {}

    static Set<Precision> parse(List<String> texts, String flag) { return parse(texts, flag, false); }

    /** As above; {@code calibrated} says whether INT8/FP8 scales are given, without which int8 and fp8 are refused. */
    static Set<Precision> parse(List<String> texts, String flag, boolean calibrated) {
        Set<Precision> out = EnumSet.of(Precision.FP32);
        for (String t : texts) {
            if (t.isBlank()) continue;
            Precision p = Precision.fromText(t).orElseThrow(() -> new IllegalArgumentException(flag + ": unknown precision '" + t.trim() + "' (fp32, tf32, fp16, bf16, int8, fp8)"));
            if (p.quantized() && !calibrated)
                throw new IllegalArgumentException(flag + ": " + p.text() + " needs quantization scales: add --calib DIR|generated[:N] (or --calib-cache FILE)");
            if (!p.quantized() && !SearchOptions.BUILDABLE.contains(p))
                throw new IllegalArgumentException(flag + ": " + p.text() + " is not a precision Tessel builds; allowed: fp32, tf32, fp16, bf16, int8, fp8");
            out.add(p);
        }
        return out;
    }
}
