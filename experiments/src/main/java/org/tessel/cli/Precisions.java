package org.tessel.cli;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.search.SearchOptions;

/** Parses the precisions a command allows ("fp32,fp16"); FP32 is always added, INT8 is refused until calibration exists. */
final class Precisions {
    private Precisions() {}

    static Set<Precision> parse(List<String> texts, String flag) {
        Set<Precision> out = EnumSet.of(Precision.FP32);
        for (String t : texts) {
            if (t.isBlank()) continue;
            Precision p = Precision.fromText(t).orElseThrow(() -> new IllegalArgumentException(flag + ": unknown precision '" + t.trim() + "' (fp32, tf32, fp16, bf16)"));
            if (!SearchOptions.BUILDABLE.contains(p))
                throw new IllegalArgumentException(flag + ": " + p.text() + " engines cannot be built yet (INT8 needs calibration); allowed: fp32, tf32, fp16, bf16");
            out.add(p);
        }
        return out;
    }
}
