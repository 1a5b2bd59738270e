package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code serve-bench --schedule-only}: each policy's steps, preemptions and KV use computed on a CPU stand-in decoder are
 * those the real model's run takes (llama-tiny served on CPU engines, a cache small enough for the in-flight policy to
 * preempt), with the default {@code --kv-watermark} (3% of the blocks), none and 10%; what would make the schedule depend on the run is refused.
 */
class ServeBenchScheduleTest {
    static final List<String> WORKLOAD = List.of("serve-bench", "zoo:llama-tiny", "--requests", "14", "--kv-blocks", "12", "--max-batch", "4", "--block-size", "4",
            "--chunk", "5", "--prompt-len", "4-20", "--output-len", "4-16");

    /** Policy to its [steps, preemptions] from serve-bench's table, and the KV utilisation column. */
    static Map<String, String> rows(String out, int stepsColumn, int preemptColumn, int kvColumn) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > kvColumn && (f[0].equals("in-flight") || f[0].equals("static")) && f[1].matches("\\d+")) m.put(f[0], f[stepsColumn] + " steps, " + f[preemptColumn] + " preempted, " + f[kvColumn]);
        }
        return m;
    }

    static String[] args(List<String> base, String... more) {
        List<String> a = new java.util.ArrayList<>(base);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test void theStandInsScheduleIsTheRealRunsWithAndWithoutAWatermark() {
        for (String[] wm : new String[][] {{}, {"--kv-watermark", "0"}, {"--kv-watermark", "0.1"}}) {
            CliRun schedule = CliRun.of(args(WORKLOAD, concat(wm, "--schedule-only")));
            CliRun real = CliRun.of(args(WORKLOAD, concat(wm, "--warmup", "0", "--repeat", "1")));
            assertEquals(0, schedule.code(), schedule.err());
            assertEquals(0, real.code(), real.err());
            // --schedule-only: policy served tokens steps preempt recomputed prefilled kv_util; serving: ... steps preempt kv_util last
            Map<String, String> want = rows(real.out(), 11, 12, 13), got = rows(schedule.out(), 3, 4, 7);
            assertEquals(2, want.size(), real.out());
            assertEquals(want, got, String.join(" ", wm) + ": " + schedule.out());
            assertTrue(schedule.out().contains("steps and preemptions as a real run takes them, no times"), schedule.out());
        }
    }

    /**
     * Packed steps (the GPU runner's default) and split ones (--split-steps) take the same schedule, the same engine runs
     * with prompt chunks, and the packed runs compute fewer token slots (no row padded to another's length; each run's
     * decode rows come along) but at least the prompt tokens they prefill.
     */
    @Test void packedAndSplitStepsTakeTheSameScheduleAndPackedComputesFewerSlots() {
        CliRun packed = CliRun.of(args(WORKLOAD, "--schedule-only")), split = CliRun.of(args(WORKLOAD, "--schedule-only", "--split-steps"));
        assertEquals(0, packed.code(), packed.err());
        assertEquals(0, split.code(), split.err());
        assertEquals(rows(split.out(), 3, 4, 7), rows(packed.out(), 3, 4, 7));
        for (String policy : List.of("in-flight", "static")) {
            long[] p = columns(packed.out(), policy), q = columns(split.out(), policy); // prefilled, prefill_runs, prefill_slots
            assertEquals(q[1], p[1], policy + ": the same runs with prompt chunks");
            assertTrue(p[2] < q[2] && p[2] >= p[0], policy + ": packed slots " + p[2] + " below split " + q[2] + " and at least the " + p[0] + " prefilled tokens");
        }
        assertTrue(packed.out().contains("packed engine runs with prompt chunks"), packed.out());
    }

    /** A policy's prefilled tokens, prefill runs and prefill slots from the --schedule-only table. */
    private static long[] columns(String out, String policy) {
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f[0].equals(policy) && f.length >= 10) return new long[] {Long.parseLong(f[6]), Long.parseLong(f[8]), Long.parseLong(f[9])};
        }
        throw new AssertionError("no " + policy + " row in " + out);
    }

    @Test void whatWouldMakeTheScheduleDependOnTheRunIsRefused() {
        for (String[] extra : new String[][] {{"--arrival-rate", "5"}, {"--gpu"}, {"--weights", "int8"}}) {
            CliRun r = CliRun.of(args(WORKLOAD, concat(extra, "--schedule-only")));
            assertEquals("tessel serve-bench: --schedule-only computes the schedule of requests arriving at once on a CPU stand-in of the model: drop "
                    + (extra[0].equals("--weights") ? "--weights/--awq/--smoothquant" : extra[0]), r.err().strip());
        }
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
