package org.tessel.search;

import java.util.ArrayList;
import java.util.List;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.Graph;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.TacticCatalog;

/**
 * The search's front door: prepare a graph (clean-up and folding, no fusion: fusion is a
 * decision), price it for a target with the tactic catalogue and the cost model, run a strategy
 * and report the plan with its bound and gap.
 *
 * <pre>{@code
 * SearchOptions o = SearchOptions.defaults().withTarget("h100").withSeed(1);
 * SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("resnet50", ZooOptions.defaults())), o);
 * Plan plan = Searcher.run(p, "timefold", o);
 * }</pre>
 */
public final class Searcher {
    private Searcher() {}

    /**
     * Attention, Einsum and ONNX RotaryEmbedding written out in ops the GPU tactics run (the fusion finds attention again), then clean-up
     * plus the folds the standard pipeline does before it fuses.
     */
    public static final String PIPELINE = "decompose," + StandardPipelines.CLEANUP
            + ",recognize-composites,fold-batchnorm,fold-bias-add,fixpoint(cse,dce){max-iterations=4}";

    /** A prepared copy of the graph (the argument is left as it is). */
    public static Graph prepare(Graph g) { return prepare(g, false); }

    /**
     * As {@link #prepare(Graph)}; with {@code approximateGelu} the exact GELUs it recognizes are then computed in the tanh
     * form (pass {@code approximate-gelu}, which changes values by at most 4.74e-4 a GELU), so GEMM epilogues can fuse them.
     */
    public static Graph prepare(Graph g, boolean approximateGelu) {
        Graph c = g.copy();
        new PassManager().run(c, approximateGelu ? withApproximateGelu(PIPELINE) : PIPELINE);
        return c;
    }

    /**
     * {@code pipeline} with pass {@code approximate-gelu} after its composite recognition (which makes Gelu nodes of
     * decomposed GELUs), or at its end when it has none: a pipeline of the fixed GPU rule or the user's {@code --pipeline}.
     */
    public static String withApproximateGelu(String pipeline) {
        String r = "recognize-composites", a = org.tessel.passes.approx.ApproximateGelu.NAME;
        return pipeline.contains(r) ? pipeline.replaceFirst(r, r + "," + a) : pipeline + "," + a;
    }

    /** Prices a prepared graph for the options' target with the global tactic catalogue. */
    public static SearchProblem problem(Graph prepared, SearchOptions o) {
        return problem(prepared, new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName(o.target()), o.costParams()), o.cudaGraphs()), o);
    }

    public static SearchProblem problem(Graph prepared, Costing costing, SearchOptions o) {
        return new ProblemBuilder(costing, o.precisionRules(), o.memoryBudget(), o.precisions(), o.forced(), o.selectors()).build(prepared);
    }

    public static Plan run(SearchProblem p, String strategy, SearchOptions o) {
        return run(p, Strategies.byName(strategy), o);
    }

    public static Plan run(SearchProblem p, SearchStrategy s, SearchOptions o) {
        long t0 = System.nanoTime();
        SearchStrategy.Result r = s.solve(p, o);
        // every strategy's plan keeps the accuracy budget: one that ends over it is repaired (or the budget is unreachable)
        org.tessel.search.accuracy.AccuracyRepair.Repaired fixed = org.tessel.search.accuracy.AccuracyRepair.repair(p, r.assignment(), s.name());
        if (fixed.note() != null)
            r = new SearchStrategy.Result(fixed.assignment(), r.evaluatedMoves(), false, r.stoppedByTime(), r.note() == null ? fixed.note() : r.note() + "; " + fixed.note(), r.convergence());
        double seconds = (System.nanoTime() - t0) / 1e9;
        PlanEvaluator.Evaluation e = new PlanEvaluator(p).evaluate(r.assignment());
        double predicted = e.latencyUs();
        double bound = LowerBound.us(p);
        double gap = bound > 0 ? (predicted - bound) / bound * 100 : 0;
        int fused = 0;
        for (boolean f : r.assignment().fused()) if (f) fused++;
        List<String> notes = new ArrayList<>();
        if (r.note() != null) notes.add(r.note());
        if (!e.feasible()) notes.add("INFEASIBLE: " + e.byRule());
        Plan plan = new Plan(p.name(), s.name(), o.target(), o.seed(), p.size(), p.candidates().size(), fused, r.assignment(), e,
                predicted, bound, gap, seconds, r.evaluatedMoves(), r.provenOptimal(), r.stoppedByTime(), String.join("; ", notes), r.convergence());
        if (!o.selectors().isEmpty() && p.prepared() != null && e.feasible()) Selectors.report(o.selectors(), EnginePlans.complete(p, plan));
        return plan;
    }
}
