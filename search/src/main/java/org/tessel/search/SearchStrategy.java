package org.tessel.search;

/** One way to solve a {@link SearchProblem}: Timefold's joint search or a baseline. */
public interface SearchStrategy {
    String name();

    /** One line for `--help` and reports. */
    String summary();

    Result solve(SearchProblem p, SearchOptions o);

    /**
     * A strategy's answer.
     *
     * @param evaluatedMoves plans or moves scored on the way (Timefold: moves evaluated; baselines: candidate choices priced)
     * @param provenOptimal  the strategy proved no better plan exists
     * @param stoppedByTime  the time limit, not a step or sample limit, ended the search (the result may then vary between runs)
     * @param convergence    the best feasible plan's predicted latency over the solve, as [seconds, milliseconds] pairs, for
     *                       strategies that improve a plan over time (Timefold); empty for the others
     */
    record Result(Assignment assignment, long evaluatedMoves, boolean provenOptimal, boolean stoppedByTime, String note, java.util.List<double[]> convergence) {
        public Result {
            convergence = java.util.List.copyOf(convergence);
        }

        /** A result found at once (no convergence to report). */
        public Result(Assignment assignment, long evaluatedMoves, boolean provenOptimal, boolean stoppedByTime, String note) {
            this(assignment, evaluatedMoves, provenOptimal, stoppedByTime, note, java.util.List.of());
        }
    }
}
