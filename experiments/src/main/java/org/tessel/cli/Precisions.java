package org.tessel.cli;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.search.SearchOptions;

/** Parses the precisions a command allows ("fp32,fp16"); FP32 is always added, INT8 only with calibration (--calib or --calib-cache). */
final class Precisions {
    private Precisions() {}

    static Set<Precision> parse(List<String> texts, String flag) { return parse(texts, flag, false); }

    /** As above; {@code calibrated} says whether INT8 scales are given, without which int8 is refused. */
    static Set<Precision> parse(List<String> texts, String flag, boolean calibrated) {
        Set<Precision> out = EnumSet.of(Precision.FP32);
        for (String t : texts) {
            if (t.isBlank()) continue;
            Precision p = Precision.fromText(t).orElseThrow(() -> new IllegalArgumentException(flag + ": unknown precision '" + t.trim() + "' (fp32, tf32, fp16, bf16, int8)"));
            if (p == Precision.INT8 && !calibrated)
                throw new IllegalArgumentException(flag + ": int8 needs quantization scales: add --calib DIR|generated[:N] (or --calib-cache FILE)");
            if (p != Precision.INT8 && !SearchOptions.BUILDABLE.contains(p))
                throw new IllegalArgumentException(flag + ": " + p.text() + " is not a precision Tessel builds; allowed: fp32, tf32, fp16, bf16, int8");
            out.add(p);
        }
        return out;
    }
}
