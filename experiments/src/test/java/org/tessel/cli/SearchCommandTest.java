package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** `tessel search` on a tiny zoo model: the report, the last line, --explain, and a bad strategy. */
class SearchCommandTest {
    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Tessel.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test void reportsLatencyBoundGapAndEndsWithTheSummaryLine() {
        Run r = run("search", "resnet50-tiny", "--target", "h100", "--strategy", "greedy", "--explain");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("lower bound:") && r.out().contains("evaluated moves") && r.out().contains("runner-up"), r.out());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("predicted_ms=\\d+\\.\\d+ bound_ms=\\d+\\.\\d+ gap=\\d+\\.\\d+%"), lines[lines.length - 1]);
    }

    @Test void exactSaysItIsProvenOptimal() {
        Run r = run("search", "zoo:bert-tiny", "--strategy", "exact");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(proven optimal)"), r.out());
    }

    @Test void unknownStrategyIsOneLineWithASuggestion() {
        Run r = run("search", "bert-tiny", "--strategy", "sequentail");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown strategy 'sequentail' (did you mean 'sequential'?)"), r.err());
    }
}
