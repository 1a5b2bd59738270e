package org.tessel.search.domain;

import ai.timefold.solver.core.api.domain.solution.PlanningEntityCollectionProperty;
import ai.timefold.solver.core.api.domain.solution.PlanningScore;
import ai.timefold.solver.core.api.domain.solution.PlanningSolution;
import ai.timefold.solver.core.api.domain.solution.ProblemFactCollectionProperty;
import ai.timefold.solver.core.api.domain.valuerange.ValueRangeProvider;
import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import java.util.List;

/**
 * The planning solution: one decision per node and per fusion candidate, with the graph's uses,
 * fusion memberships, user precision pins and (when a budget is set) the live tensors per step.
 * Hard score: violations (memory excess counted in KiB); soft score: minus the predicted latency
 * in picoseconds. Under an accuracy budget the predicted error's excess (in units of 1e-6) is a hard
 * penalty too.
 */
@PlanningSolution
public class EnginePlan {
    @PlanningEntityCollectionProperty private List<NodeDecision> nodes;
    @PlanningEntityCollectionProperty private List<FusionDecision> fusions;
    @ProblemFactCollectionProperty private List<Use> uses;
    @ProblemFactCollectionProperty private List<Membership> memberships;
    @ProblemFactCollectionProperty private List<PrecisionPin> pins;
    @ProblemFactCollectionProperty private List<LiveTensor> liveTensors;
    @ProblemFactCollectionProperty private List<MemoryBudget> budgets;
    @ProblemFactCollectionProperty private List<AccuracyLimit> accuracyLimits;
    @PlanningScore private HardSoftLongScore score;

    public EnginePlan() {}

    public EnginePlan(List<NodeDecision> nodes, List<FusionDecision> fusions, List<Use> uses, List<Membership> memberships,
                      List<PrecisionPin> pins, List<LiveTensor> liveTensors, List<MemoryBudget> budgets) {
        this(nodes, fusions, uses, memberships, pins, liveTensors, budgets, List.of());
    }

    /** @param accuracyLimits the accuracy budget in units (one entry), or empty without one */
    public EnginePlan(List<NodeDecision> nodes, List<FusionDecision> fusions, List<Use> uses, List<Membership> memberships,
                      List<PrecisionPin> pins, List<LiveTensor> liveTensors, List<MemoryBudget> budgets, List<AccuracyLimit> accuracyLimits) {
        this.accuracyLimits = accuracyLimits;
        this.nodes = nodes;
        this.fusions = fusions;
        this.uses = uses;
        this.memberships = memberships;
        this.pins = pins;
        this.liveTensors = liveTensors;
        this.budgets = budgets;
    }

    @ValueRangeProvider(id = "fuseValues")
    public List<Boolean> fuseValues() { return List.of(Boolean.FALSE, Boolean.TRUE); }

    public List<NodeDecision> nodes() { return nodes; }
    public List<FusionDecision> fusions() { return fusions; }
    public List<Use> uses() { return uses; }
    public List<Membership> memberships() { return memberships; }
    public List<PrecisionPin> pins() { return pins; }
    public List<LiveTensor> liveTensors() { return liveTensors; }
    public List<MemoryBudget> budgets() { return budgets; }
    public List<AccuracyLimit> accuracyLimits() { return accuracyLimits; }
    public HardSoftLongScore score() { return score; }
    public HardSoftLongScore getScore() { return score; }
    public void setScore(HardSoftLongScore s) { this.score = s; }
}
