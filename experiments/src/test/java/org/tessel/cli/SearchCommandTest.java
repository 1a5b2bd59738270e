package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** `tessel search` on a tiny zoo model: the report, the last line, --explain, and a bad strategy. */
class SearchCommandTest {
    private static CliRun run(String... args) { return CliRun.of(args); }

    @Test void reportsLatencyBoundGapAndEndsWithTheSummaryLine() {
        CliRun r = run("search", "resnet50-tiny", "--target", "h100", "--strategy", "greedy", "--explain");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("lower bound:") && r.out().contains("evaluated moves") && r.out().contains("runner-up"), r.out());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("predicted_ms=\\d+\\.\\d+ bound_ms=\\d+\\.\\d+ gap=\\d+\\.\\d+%"), lines[lines.length - 1]);
    }

    @Test void exactSaysItIsProvenOptimal() {
        CliRun r = run("search", "zoo:bert-tiny", "--strategy", "exact");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(proven optimal)"), r.out());
    }

    @Test void unknownStrategyIsOneLineWithASuggestion() {
        CliRun r = run("search", "bert-tiny", "--strategy", "sequentail");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown strategy 'sequentail' (did you mean 'sequential'?)"), r.err());
    }
}
