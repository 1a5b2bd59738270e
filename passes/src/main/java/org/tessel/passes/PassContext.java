package org.tessel.passes;

import java.util.Map;
import org.tessel.api.OpRegistry;

/**
 * What a pass sees besides the graph: the op registry (to create nodes), its options as given in
 * the pipeline, and a statistics sink.
 */
public final class PassContext {
    private final OpRegistry registry;
    private final Map<String, String> options;
    private final PassStatistics stats;

    public PassContext(OpRegistry registry, Map<String, String> options, PassStatistics stats) {
        this.registry = registry;
        this.options = Map.copyOf(options);
        this.stats = stats;
    }

    public OpRegistry registry() { return registry; }
    public PassStatistics stats() { return stats; }

    public String option(PassOption o) { return options.getOrDefault(o.name(), o.defaultValue()); }

    public int intOption(PassOption o) {
        String v = option(o);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new PassException("option " + o.name() + "=" + v + " is not an integer");
        }
    }

    public boolean boolOption(PassOption o) { return Boolean.parseBoolean(option(o)); }
}
