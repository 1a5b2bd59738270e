package org.tessel.search.baselines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.Plan;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.TacticCatalog;

/** The rule strategy: its preferred tactics are catalogue ids, and it runs every floating node at one precision. */
class RuleSearchTest {
    @Test void everyPreferredTacticIsInTheCatalogue() {
        for (String id : RuleSearch.PREFERRED) assertTrue(TacticCatalog.global().has(id), id + " is not a catalogue id");
    }

    @Test void onePrecisionTheFastestAllowed() {
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16));
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("bert-tiny", ZooOptions.defaults())), o);
        Plan plan = Searcher.run(p, "rule", o);
        Set<Precision> used = java.util.Arrays.stream(plan.assignment().choices()).map(c -> c.precision()).collect(Collectors.toSet());
        used.remove(Precision.FP32); // integer nodes (token ids, gathers of indices) stay FP32
        assertEquals(Set.of(Precision.FP16), used);
    }
}
