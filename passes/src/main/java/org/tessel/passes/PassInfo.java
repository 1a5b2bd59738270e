package org.tessel.passes;

import java.util.List;
import java.util.Set;

/**
 * Everything the pass manager knows about a pass before running it: its name (how pipelines
 * address it), a one-line summary, its options, and its contract — the graph properties it
 * requires, establishes and invalidates. One place for pass metadata, like MLIR's Passes.td.
 *
 * @param idempotent running the pass twice equals running it once (property tests check this)
 * @param statistics the counters the pass reports, each with a line of help
 */
public record PassInfo(String name, String summary, List<PassOption> options, Set<GraphProperty> requires,
                       Set<GraphProperty> establishes, Set<GraphProperty> invalidates, boolean idempotent, List<PassStatistic> statistics) {
    public PassInfo {
        if (!name.matches("[a-z][a-z0-9-]*")) throw new IllegalArgumentException("pass name '" + name + "' must be lower-case-with-dashes");
        options = List.copyOf(options);
        requires = Set.copyOf(requires);
        establishes = Set.copyOf(establishes);
        invalidates = Set.copyOf(invalidates);
        statistics = List.copyOf(statistics);
    }

    /** True when the pass declared a statistic of this name. */
    public boolean declares(String statistic) { return statistics.stream().anyMatch(s -> s.name().equals(statistic)); }

    public static Builder named(String name, String summary) { return new Builder(name, summary); }

    public static final class Builder {
        private final String name, summary;
        private List<PassOption> options = List.of();
        private Set<GraphProperty> requires = Set.of(), establishes = Set.of(), invalidates = Set.of();
        private boolean idempotent = true;
        private final List<PassStatistic> statistics = new java.util.ArrayList<>();

        Builder(String name, String summary) { this.name = name; this.summary = summary; }
        public Builder options(PassOption... o) { options = List.of(o); return this; }
        public Builder requires(GraphProperty... p) { requires = Set.of(p); return this; }
        public Builder establishes(GraphProperty... p) { establishes = Set.of(p); return this; }
        public Builder invalidates(GraphProperty... p) { invalidates = Set.of(p); return this; }
        public Builder notIdempotent() { idempotent = false; return this; }
        public Builder statistic(String statName, String help) { statistics.add(new PassStatistic(statName, help)); return this; }
        public PassInfo build() { return new PassInfo(name, summary, options, requires, establishes, invalidates, idempotent, statistics); }
    }
}
