package org.tessel.cli;

import org.tessel.cost.Precision;
import org.tessel.runtime.tuning.SignatureNodes;
import org.tessel.runtime.tuning.TacticPredictor;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.search.MeasuredCosts;

/** Turns a timing cache into the search's measured prices. */
final class TimingCaches {
    private TimingCaches() {}

    /**
     * The measurements with their rows counted: {@code skipped} rows have no node or catalogue tactic the search knows;
     * {@code unknownTactics} names the timed tactics whose catalogue id (the part before '/') the catalogue lacks, so
     * a cache written under other ids is said, not silently ignored.
     */
    record Loaded(MeasuredCosts costs, int rows, int skipped, java.util.SortedSet<String> unknownTactics) {}

    /**
     * Each row's node is rebuilt from its signature and priced under the catalogue tactic the
     * timed algorithm belongs to ({@link TacticPredictor#catalogueId}); a tactic timed with several
     * algorithms keeps its fastest (what the builder would pick).
     */
    static Loaded measured(TimingCache cache) {
        TacticPredictor pr = TacticPredictor.builtin();
        MeasuredCosts m = new MeasuredCosts();
        int skipped = 0;
        java.util.SortedSet<String> unknown = new java.util.TreeSet<>();
        for (var e : cache.entries().entrySet()) {
            String sig = e.getKey().signature();
            try {
                String tactic = pr.catalogueId(sig, e.getKey().tactic());
                if (tactic == null) { skipped++; unknown.add(e.getKey().tactic()); continue; }
                m.put(pr.node(sig), tactic, Precision.valueOf(SignatureNodes.precision(sig)), SignatureNodes.layout(sig), e.getValue().medianUs());
            } catch (IllegalArgumentException ex) {
                skipped++;
            }
        }
        return new Loaded(m, cache.size(), skipped, java.util.Collections.unmodifiableSortedSet(unknown));
    }
}
