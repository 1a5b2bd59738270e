package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.BatchScheduler;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;

/** `--kv-cache` of `tessel generate` and `tessel serve-bench`: the FP8 cache as a visible choice, its output, its refusals. */
class KvCacheCommandTest {
    private static String output(CliRun r) {
        Matcher m = Pattern.compile("(?m)^output: ([0-9,]+) \\(").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        return m.group(1);
    }

    private static String expected(KvCacheFormat kv, long[] prompt, int n) {
        DecoderRunner runner = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), ZooOptions.DEFAULT_SEED).withKvCache(kv);
        long[] out = new BatchScheduler(runner, runner.newCache(16, 2), BatchScheduler.Policy.IN_FLIGHT, 1, prompt.length)
                .run(List.of(new Request("x", prompt, n, 0, Sampler.greedy()))).outcomes().getFirst().output();
        return GenerateCommand.join(out);
    }

    @Test void generateWithAnFp8CachePrintsItsScalesAndTheFp8RunnersTokens() {
        DecoderRunner plain = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), ZooOptions.DEFAULT_SEED);
        KvCacheFormat calibrated = DecoderModels.kvCache("fp8", plain);
        CliRun r = CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "4,5,6", "--max-new-tokens", "6", "--kv-cache", "fp8");
        assertEquals(0, r.code(), r.err());
        assertEquals(expected(calibrated, new long[] {4, 5, 6}, 6), output(r));
        assertTrue(r.out().contains("kv cache: fp8 e4m3 (per-layer K scales ["), r.out());
        assertTrue(r.out().contains("128 bytes per token (native 4-byte elements: 512)"), r.out());
        CliRun fixed = CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "4,5,6", "--max-new-tokens", "6", "--kv-cache", "fp8:0.02");
        assertEquals(0, fixed.code(), fixed.err());
        assertEquals(expected(KvCacheFormat.fp8(2, 0.02f), new long[] {4, 5, 6}, 6), output(fixed));
        assertTrue(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "4", "--max-new-tokens", "2").out().contains("kv cache: native (4-byte elements)"));
    }

    /** Speculative decoding over FP8 caches (target and draft each with its own scales): the target's greedy output over its FP8 cache. */
    @Test void speculativeDecodingRunsOverFp8Caches() {
        DecoderRunner plain = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), ZooOptions.DEFAULT_SEED);
        CliRun r = CliRun.of("generate", "zoo:llama-tiny", "--draft", "zoo:llama-tiny", "--draft-layers", "1", "--prompt-tokens", "4,5,6", "--max-new-tokens", "8",
                "--kv-cache", "fp8");
        assertEquals(0, r.code(), r.err());
        assertEquals(expected(DecoderModels.kvCache("fp8", plain), new long[] {4, 5, 6}, 8), output(r));
        assertTrue(r.out().contains("the same tokens"), r.out());
    }

    @Test void badKvCacheSpecsAreOneLine() {
        assertEquals("tessel generate: --kv-cache takes native, fp8 (scales calibrated as amax / 448) or fp8:SCALE, got 'int8'",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--kv-cache", "int8").err().strip());
        assertEquals("tessel generate: --kv-cache fp8:SCALE needs a positive normal scale, got -1",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--kv-cache", "fp8:-1").err().strip());
        assertEquals("tessel serve-bench: --kv-cache fp8:SCALE needs a number, got 'x'",
                CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "2", "--kv-cache", "fp8:x").err().strip());
    }

    @Test void serveBenchSessionsCompareOffloadWithRecompute() {
        CliRun r = CliRun.of("serve-bench", "zoo:llama-tiny", "--sessions", "4", "--turns", "3", "--prompt-len", "6-10", "--turn-len", "3-5", "--output-len", "4-6",
                "--think", "0.05", "--kv-blocks", "10", "--block-size", "4", "--max-batch", "2", "--chunk", "8", "--warmup", "0", "--repeat", "1",
                "--kv-offload", "--host-kv-mb", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("workload: 4 sessions of 3 turns"), r.out());
        Matcher m = Pattern.compile("(?m)^offload +12 +\\d+ .*$").matcher(r.out());
        assertTrue(m.find(), r.out());
        Matcher saved = Pattern.compile("offload vs recompute: (\\d+) recomputed tokens saved \\((\\d+) against (\\d+)\\), ([0-9.]+) MiB moved .* outputs identical for 12 of 12 turns")
                .matcher(r.out());
        assertTrue(saved.find(), r.out());
        assertTrue(Long.parseLong(saved.group(1)) > 0 && Double.parseDouble(saved.group(4)) > 0, saved.group());
    }

    @Test void offloadFlagsAreCheckedWithOneLineErrors() {
        assertEquals("tessel serve-bench: --kv-offload needs a host memory budget for the offloaded KV blocks: add --host-kv-mb MB",
                CliRun.of("serve-bench", "zoo:llama-tiny", "--sessions", "2", "--kv-offload").err().strip());
        assertEquals("tessel serve-bench: --kv-offload applies to multi-turn sessions: add --sessions N",
                CliRun.of("serve-bench", "zoo:llama-tiny", "--kv-offload", "--host-kv-mb", "4").err().strip());
        CliRun tooLong = CliRun.of("serve-bench", "zoo:llama-tiny", "--sessions", "2", "--turns", "4", "--prompt-len", "60", "--turn-len", "30", "--output-len", "8",
                "--warmup", "0", "--repeat", "1", "--kv-blocks", "64", "--block-size", "4");
        assertEquals(0, tooLong.code(), tooLong.err());
        assertTrue(tooLong.out().contains("refused: session session-0, turn 2 (request session-0/2): its context reaches 144 tokens"), tooLong.out());
    }
}
