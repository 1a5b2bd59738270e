package org.tessel.search.solver;

import ai.timefold.solver.core.api.solver.Solver;
import ai.timefold.solver.core.api.solver.SolverFactory;
import ai.timefold.solver.core.config.constructionheuristic.ConstructionHeuristicPhaseConfig;
import ai.timefold.solver.core.config.constructionheuristic.placer.QueuedEntityPlacerConfig;
import ai.timefold.solver.core.config.heuristic.selector.common.SelectionCacheType;
import ai.timefold.solver.core.config.heuristic.selector.common.SelectionOrder;
import ai.timefold.solver.core.config.heuristic.selector.entity.EntitySelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.composite.UnionMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.factory.MoveIteratorFactoryConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.generic.ChangeMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.value.ValueSelectorConfig;
import ai.timefold.solver.core.config.localsearch.LocalSearchPhaseConfig;
import ai.timefold.solver.core.config.localsearch.decider.acceptor.LocalSearchAcceptorConfig;
import ai.timefold.solver.core.config.localsearch.decider.forager.LocalSearchForagerConfig;
import ai.timefold.solver.core.config.solver.EnvironmentMode;
import ai.timefold.solver.core.config.solver.SolverConfig;
import ai.timefold.solver.core.config.solver.termination.TerminationConfig;
import ai.timefold.solver.core.impl.solver.DefaultSolver;
import java.util.List;
import org.tessel.search.Assignment;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.baselines.GreedySearch;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.NodeDecision;

/**
 * The joint search: Timefold over every node's choice and every candidate's fuse flag at once,
 * scored incrementally by {@link EnginePlanConstraintProvider}. It starts from the greedy plan
 * (Timefold's construction heuristic fills anything left open), then local search with late
 * acceptance mixes single changes with {@link GroupMoveFactory}'s fuse and region moves. Step
 * limits end it, so a seed fixes the answer; the time limit is a safety net.
 */
public final class TimefoldSearch implements SearchStrategy {
    @Override public String name() { return "timefold"; }

    @Override public String summary() { return "joint search: Timefold local search over tactic, precision, layout and fusion together"; }

    static final int ACCEPTED_PER_STEP = 32;

    /** The solver configuration for these options (shared with tests and the benchmark). */
    public static SolverConfig config(SearchOptions o) {
        var changeNodes = new ChangeMoveSelectorConfig()
                .withEntitySelectorConfig(new EntitySelectorConfig(NodeDecision.class))
                .withValueSelectorConfig(new ValueSelectorConfig("choice"));
        var changeFusions = new ChangeMoveSelectorConfig()
                .withEntitySelectorConfig(new EntitySelectorConfig(FusionDecision.class))
                .withValueSelectorConfig(new ValueSelectorConfig("fused"));
        var compound = new MoveIteratorFactoryConfig().withMoveIteratorFactoryClass(GroupMoveFactory.class);
        var moves = new UnionMoveSelectorConfig().withMoveSelectors(changeNodes, changeFusions, compound);
        // late acceptance, scoring 32 accepted moves per step: on the zoo models this reaches the
        // exact optimum (or within 0.1%) in fewer steps than one move per step or tabu search
        var acceptor = new LocalSearchAcceptorConfig().withLateAcceptanceSize(400);
        var ls = new LocalSearchPhaseConfig()
                .withMoveSelectorConfig(moves)
                .withAcceptorConfig(acceptor)
                .withForagerConfig(new LocalSearchForagerConfig().withAcceptedCountLimit(ACCEPTED_PER_STEP))
                .withTerminationConfig(new TerminationConfig()
                        .withUnimprovedStepCountLimit((int) Math.min(Integer.MAX_VALUE, o.unimprovedSteps()))
                        .withMoveCountLimit(o.maxMoves()));
        return new SolverConfig()
                .withSolutionClass(EnginePlan.class)
                .withEntityClasses(NodeDecision.class, FusionDecision.class)
                .withConstraintProviderClass(EnginePlanConstraintProvider.class)
                .withEnvironmentMode(o.fullAssert() ? EnvironmentMode.FULL_ASSERT : EnvironmentMode.NO_ASSERT)
                .withRandomSeed(o.seed())
                .withTerminationConfig(new TerminationConfig().withSpentLimit(o.timeLimit()))
                .withPhases(construct(NodeDecision.class, "choice"), construct(FusionDecision.class, "fused"), ls);
    }

    /** First-fit construction for one entity class (Timefold cannot pick one when there are two). */
    private static ConstructionHeuristicPhaseConfig construct(Class<?> entityClass, String variable) {
        String id = "placer-" + entityClass.getSimpleName();
        var entities = new EntitySelectorConfig(entityClass).withId(id)
                .withCacheType(SelectionCacheType.PHASE).withSelectionOrder(SelectionOrder.ORIGINAL);
        var change = new ChangeMoveSelectorConfig()
                .withEntitySelectorConfig(new EntitySelectorConfig().withMimicSelectorRef(id))
                .withValueSelectorConfig(new ValueSelectorConfig(variable));
        return new ConstructionHeuristicPhaseConfig().withEntityPlacerConfig(
                new QueuedEntityPlacerConfig().withEntitySelectorConfig(entities).withMoveSelectorConfigList(List.of(change)));
    }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        Assignment start = new GreedySearch().solve(p, o).assignment();
        EnginePlan problem = p.solution(start);
        Solver<EnginePlan> solver = SolverFactory.<EnginePlan>create(config(o)).buildSolver();
        // each new best feasible solution: when, and its predicted latency (the soft score is minus picoseconds)
        List<double[]> convergence = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        solver.addEventListener(ev -> {
            var score = (ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore) ev.getNewBestScore();
            if (score.isFeasible()) convergence.add(new double[] {ev.getTimeMillisSpent() / 1000.0, -score.softScore() / 1e9});
        });
        long t0 = System.nanoTime();
        EnginePlan best = solver.solve(problem);
        long elapsed = System.nanoTime() - t0;
        long moves = ((DefaultSolver<EnginePlan>) solver).getMoveEvaluationCount();
        boolean byTime = elapsed >= o.timeLimit().toNanos();
        return new Result(p.assignment(best), moves, false, byTime, byTime ? "stopped by the time limit: the result may differ between runs" : null, List.copyOf(convergence));
    }

    /** Solves from an empty solution with the given options; for tests of the solver itself. */
    public static EnginePlan solveFromScratch(SearchProblem p, SearchOptions o) {
        return SolverFactory.<EnginePlan>create(config(o)).buildSolver().solve(p.newSolution());
    }

}
