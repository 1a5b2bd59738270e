package org.tessel.search;

import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import org.tessel.api.select.AlgorithmSelector;

/**
 * How to search: the seed, limits, target device, user precision rules, forced choices, algorithm
 * selectors and memory budget.
 * Step and sample limits keep every strategy deterministic under its seed; the time limit is a
 * safety net (a run it cuts short says so in its plan).
 *
 * @param timeLimit      wall-clock limit for one search
 * @param unimprovedSteps Timefold local search stops after this many steps without a better score
 * @param maxMoves       Timefold local search moves evaluated in all (a deterministic limit, unlike time)
 * @param randomSamples  plans the random strategy draws
 * @param costParams     the cost model's free parameters ({@code --params}: the defaults, a fitted set, or a file)
 */
public record SearchOptions(long seed, Duration timeLimit, long unimprovedSteps, long maxMoves, int randomSamples,
                            String target, boolean cudaGraphs, List<PrecisionRule> precisionRules, OptionalLong memoryBudget,
                            boolean fullAssert, java.util.Set<org.tessel.cost.Precision> precisions, List<ForcedChoice> forced,
                            List<AlgorithmSelector> selectors, org.tessel.cost.CostModel.Params costParams) {
    /**
     * What an engine can be built in without more input: INT8 needs quantization scales from
     * calibration, so callers add it only when they have them ({@code --int8 --calib}).
     */
    public static final java.util.Set<org.tessel.cost.Precision> BUILDABLE = java.util.Collections.unmodifiableSet(java.util.EnumSet.of(
            org.tessel.cost.Precision.FP32, org.tessel.cost.Precision.TF32, org.tessel.cost.Precision.FP16, org.tessel.cost.Precision.BF16));

    public SearchOptions {
        precisionRules = List.copyOf(precisionRules);
        forced = List.copyOf(forced);
        selectors = List.copyOf(selectors);
        java.util.Objects.requireNonNull(costParams, "costParams");
        if (precisions == null || precisions.isEmpty()) throw new IllegalArgumentException("at least one precision must be allowed");
        if (!precisions.contains(org.tessel.cost.Precision.FP32)) throw new IllegalArgumentException("FP32 must be allowed (nodes without floating tensors and graph boundaries use it)");
        precisions = java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(precisions));
        if (timeLimit.isNegative() || timeLimit.isZero()) throw new IllegalArgumentException("time limit must be positive, got " + timeLimit);
        if (memoryBudget.isPresent() && memoryBudget.getAsLong() <= 0) throw new IllegalArgumentException("memory budget must be positive, got " + memoryBudget.getAsLong());
    }

    public static SearchOptions defaults() {
        return new SearchOptions(0, Duration.ofSeconds(10), 1000, 40_000, 2000, "h100", false, List.of(), OptionalLong.empty(), false, BUILDABLE, List.of(), List.of(), org.tessel.cost.CostModel.Params.defaults());
    }

    public SearchOptions withSeed(long s) { return new SearchOptions(s, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withTimeLimit(Duration d) { return new SearchOptions(seed, d, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withSteps(long unimproved, long max) { return new SearchOptions(seed, timeLimit, unimproved, max, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withRandomSamples(int n) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, n, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withTarget(String t) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, t, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withCudaGraphs(boolean b) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, b, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withPrecisionRules(List<PrecisionRule> r) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, r, memoryBudget, fullAssert, precisions, forced, selectors, costParams); }
    public SearchOptions withMemoryBudget(OptionalLong b) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, b, fullAssert, precisions, forced, selectors, costParams); }
    /** The precisions nodes may compute in (FP32 always among them). */
    public SearchOptions withPrecisions(java.util.Set<org.tessel.cost.Precision> ps) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, ps, forced, selectors, costParams); }
    /** Forced choices: every node a choice matches runs its tactic (at its precision and layout), or the search fails naming the node. */
    public SearchOptions withForced(List<ForcedChoice> f) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, f, selectors, costParams); }
    /** Algorithm selectors, applied in order while the problem is built and told the plan a strategy finds. */
    public SearchOptions withSelectors(List<AlgorithmSelector> s) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, s, costParams); }
    /** The cost model's parameters the search prices with. */
    public SearchOptions withCostParams(org.tessel.cost.CostModel.Params p) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, fullAssert, precisions, forced, selectors, p); }
    public SearchOptions withFullAssert(boolean b) { return new SearchOptions(seed, timeLimit, unimprovedSteps, maxMoves, randomSamples, target, cudaGraphs, precisionRules, memoryBudget, b, precisions, forced, selectors, costParams); }
}
