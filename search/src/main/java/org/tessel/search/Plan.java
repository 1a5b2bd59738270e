package org.tessel.search;

import java.util.Locale;

/**
 * The result of one search: the plan, its predicted latency, the problem's lower bound and the
 * gap between them, how long the search took and how many moves it scored, and the seed.
 *
 * @param gapPct (predicted - bound) / bound, in percent
 * @param convergence the best feasible plan's predicted latency during the solve, [seconds, milliseconds] pairs (Timefold); empty otherwise
 */
public record Plan(String model, String strategy, String target, long seed, int nodes, int candidates, int fusedGroups,
                   Assignment assignment, PlanEvaluator.Evaluation evaluation, double predictedUs, double boundUs, double gapPct,
                   double solveSeconds, long evaluatedMoves, boolean provenOptimal, boolean stoppedByTime, String note, java.util.List<double[]> convergence) {

    public Plan {
        convergence = java.util.List.copyOf(convergence);
    }

    /** A plan without a convergence history (strategies that find theirs at once). */
    public Plan(String model, String strategy, String target, long seed, int nodes, int candidates, int fusedGroups,
                Assignment assignment, PlanEvaluator.Evaluation evaluation, double predictedUs, double boundUs, double gapPct,
                double solveSeconds, long evaluatedMoves, boolean provenOptimal, boolean stoppedByTime, String note) {
        this(model, strategy, target, seed, nodes, candidates, fusedGroups, assignment, evaluation, predictedUs, boundUs, gapPct, solveSeconds,
                evaluatedMoves, provenOptimal, stoppedByTime, note, java.util.List.of());
    }

    public boolean feasible() { return evaluation.feasible(); }

    public double predictedMs() { return predictedUs / 1000; }

    public double boundMs() { return boundUs / 1000; }

    /** Moves (or priced choices) per second of solving. */
    public double movesPerSecond() { return solveSeconds <= 0 ? 0 : evaluatedMoves / solveSeconds; }

    /** The last line `tessel search` prints, for scripts. */
    public String summaryLine() {
        return String.format(Locale.ROOT, "predicted_ms=%.4f bound_ms=%.4f gap=%.2f%%", predictedMs(), boundMs(), gapPct);
    }
}
