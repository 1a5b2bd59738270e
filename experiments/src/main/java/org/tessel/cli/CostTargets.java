package org.tessel.cli;

import java.util.Locale;
import org.tessel.runtime.Backend;

/** The cost model's device when a command is not given --target: what `build` and the GPU decoder runner plan for. */
final class CostTargets {
    private CostTargets() {}

    /**
     * For a GPU the one the engine is built on: an H100 is priced as {@code h100-derived}, an H200 and anything else as
     * {@code h200-measured} (the spec measured on the project's H200); for a CPU engine, which emulates what the GPU would
     * run, {@code h200-measured}.
     */
    static String forBackend(Backend backend) {
        if (backend instanceof Backend.Gpu gpu && gpu.context().device().name().toUpperCase(Locale.ROOT).contains("H100")) return "h100-derived";
        return "h200-measured";
    }
}
