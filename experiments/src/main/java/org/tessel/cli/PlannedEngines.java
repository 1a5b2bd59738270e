package org.tessel.cli;

import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.Strategies;
import org.tessel.tactics.plan.PlanApplier;

/** The plan a strategy finds for a model, applied: what `tessel build --strategy S` builds. */
final class PlannedEngines {
    private PlannedEngines() {}

    /** A searched plan with its problem (for its decisions) and the prepared graph it applies to. */
    record Searched(SearchProblem problem, Plan plan, Graph prepared) {}

    static Searched search(Graph model, String strategy, Set<Precision> allowed, List<String> rules, long seed, String target) {
        Strategies.byName(strategy);
        Graph prepared = Searcher.prepare(model);
        SearchOptions o = SearchOptions.defaults().withTarget(target).withSeed(seed).withPrecisions(allowed)
                .withPrecisionRules(rules.stream().map(PrecisionRule::parse).toList());
        SearchProblem p = Searcher.problem(prepared, o);
        return new Searched(p, Searcher.run(p, strategy, o), prepared);
    }

    static PlanApplier.Applied plan(Graph model, String strategy, Set<Precision> allowed, List<String> rules, long seed, String target) {
        Searched s = search(model, strategy, allowed, rules, seed, target);
        return EnginePlans.complete(s.problem(), s.plan());
    }
}
