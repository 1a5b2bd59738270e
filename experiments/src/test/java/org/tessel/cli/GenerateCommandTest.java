package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.BatchScheduler;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;

/** `tessel generate` and `tessel serve-bench`: their output, figures and refusals. */
class GenerateCommandTest {
    private static String outputLine(CliRun r) {
        Matcher m = Pattern.compile("(?m)^output: ([0-9,]+) \\((\\d+) tokens\\)$").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        return m.group(1);
    }

    @Test
    void greedyGenerationPrintsTheTokensTheRuntimeGivesAndItsTimes() {
        CliRun r = CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1,2,3", "--max-new-tokens", "7", "--greedy");
        assertEquals(0, r.code(), r.err());
        DecoderRunner runner = new DecoderRunner("gpt2-tiny", Zoo.decoder("gpt2-tiny", 0), ZooOptions.DEFAULT_SEED);
        long[] want = new BatchScheduler(runner, runner.newCache(16, 1), BatchScheduler.Policy.IN_FLIGHT, 1, 3)
                .run(List.of(new Request("x", new long[] {1, 2, 3}, 7, 0, Sampler.greedy()))).outcomes().getFirst().output();
        assertEquals(GenerateCommand.join(want), outputLine(r));
        assertTrue(r.out().contains("no tokenizer"), r.out());
        assertTrue(r.out().matches("(?s).*time to first token: [0-9.]+ ms; per output token: [0-9.]+ ms.*"), r.out());
        assertTrue(r.out().contains("kv cache: 1 blocks of 16 tokens"), r.out());
    }

    @Test
    void speculativeDecodingPrintsTheTargetsGreedyTokensAndTheAcceptanceRate() {
        String plain = outputLine(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "9,8,7", "--max-new-tokens", "10"));
        CliRun r = CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "9,8,7", "--max-new-tokens", "10", "--draft", "zoo:llama-tiny", "--draft-layers", "1", "--speculate", "3");
        assertEquals(0, r.code(), r.err());
        assertEquals(plain, outputLine(r));
        assertTrue(r.out().matches("(?s).*acceptance: \\d+ of \\d+ proposed tokens \\([0-9.]+%; random weights.*"), r.out());
        assertEquals("tessel generate: --speculate applies to speculative decoding: add --draft MODEL",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--speculate", "2").err().strip());
    }

    @Test
    void samplingIsSeeded() {
        String[] base = {"generate", "zoo:llama-tiny", "--prompt-tokens", "5,6", "--max-new-tokens", "12", "--temperature", "1.5", "--top-k", "50"};
        String a = outputLine(CliRun.of(concat(base, "--seed", "1"))), b = outputLine(CliRun.of(concat(base, "--seed", "1")));
        String c = outputLine(CliRun.of(concat(base, "--seed", "2")));
        assertEquals(a, b, "same seed, same tokens");
        assertNotEquals(a, c, "another seed samples other tokens (12 draws among 50 at temperature 1.5)");
    }

    @Test
    void badRequestsAreOneLineNamingWhatIsWrong() {
        StringBuilder longPrompt = new StringBuilder("1");
        for (int i = 1; i < 129; i++) longPrompt.append(",1");
        CliRun tooLong = CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", longPrompt.toString(), "--max-new-tokens", "1");
        assertEquals(2, tooLong.code());
        assertEquals("tessel generate: request generate: its prompt of 129 tokens is longer than gpt2-tiny's 128 positions", tooLong.err().strip());
        CliRun pastContext = CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1,2", "--max-new-tokens", "127");
        assertEquals("tessel generate: request generate: prompt 2 + max new tokens 127 = 129 exceeds gpt2-tiny's 128 positions", pastContext.err().strip());
        assertEquals("tessel generate: request generate: prompt token 512 is outside gpt2-tiny's vocabulary [0, 512)",
                CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1,512", "--max-new-tokens", "1").err().strip());
        assertEquals("tessel generate: --top-k applies to sampling: add --temperature T (or drop it for greedy decoding)",
                CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--top-k", "5").err().strip());
        assertEquals("tessel generate: --greedy and --temperature exclude each other: pick one",
                CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--greedy", "--temperature", "1").err().strip());
        String notDecoder = CliRun.of("generate", "zoo:bert-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1").err().strip();
        assertTrue(notDecoder.startsWith("tessel generate: model 'bert-tiny' is not a decoder; the zoo's decoders are gpt2, gpt2-tiny"), notDecoder);
        assertEquals("tessel generate: model.onnx: cannot read: no such file", CliRun.of("generate", "model.onnx", "--prompt-tokens", "1", "--max-new-tokens", "1").err().strip());
        String other = CliRun.of("generate", "model.bin", "--prompt-tokens", "1", "--max-new-tokens", "1").err().strip();
        assertTrue(other.endsWith("and decoder-with-past ONNX files (FILE.onnx)"), other);
        assertTrue(CliRun.of("serve-bench", "zoo:gpt2-tiny", "--prompt-len", "9-3").err().contains("--prompt-len must be A-B with 1 <= A <= B tokens (or one number), got '9-3'"));
    }

    @Test
    void serveBenchComparesInFlightWithStaticBatchingOnTheSameWorkload() {
        CliRun r = CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "10", "--seed", "4", "--prompt-len", "2-20", "--output-len", "2-12",
                "--kv-blocks", "6", "--block-size", "8", "--max-batch", "4", "--chunk", "8", "--warmup", "0", "--repeat", "1", "--arrival-rate", "500");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Poisson arrivals at 500.0/s; KV cache 6 blocks of 8 tokens (48 tokens)"), r.out());
        assertTrue(Pattern.compile("(?m)^in-flight\\s+10\\s+\\d+").matcher(r.out()).find(), r.out());
        assertTrue(Pattern.compile("(?m)^static\\s+10\\s+\\d+").matcher(r.out()).find(), r.out());
        assertTrue(r.out().contains("outputs identical for 10 of 10 requests"), r.out());
        assertTrue(r.out().matches("(?s).*in-flight vs static: [0-9.]+x throughput at equal KV memory.*"), r.out());
    }

    @Test
    void quantizedGenerationInEveryModeIsTheRuntimesAndPrintsItsWeights() {
        String[][] modes = {{"--weights", "int8:64"}, {"--weights", "int4:32"}, {"--weights", "int4:32", "--awq"}, {"--smoothquant"}, {"--smoothquant=0.8"}};
        for (String[] mode : modes) {
            CliRun r = CliRun.of(concat(new String[] {"generate", "zoo:llama-tiny", "--prompt-tokens", "1,2,3", "--max-new-tokens", "8"}, mode));
            assertEquals(0, r.code(), String.join(" ", mode) + ": " + r.err());
            System.out.println(String.join(" ", mode) + " -> " + outputLine(r));
            assertEquals(outputLine(r), outputLine(CliRun.of(concat(new String[] {"generate", "zoo:llama-tiny", "--prompt-tokens", "1,2,3", "--max-new-tokens", "8"}, mode))),
                    "deterministic");
            assertTrue(r.out().matches("(?s).*weights: .*constants [0-9,]+ bytes \\(fp32 [0-9,]+, [0-9.]+x smaller\\).*"), r.out());
        }
        CliRun w8 = CliRun.of("generate", "zoo:gpt2-tiny", "--prompt-tokens", "1,2,3", "--max-new-tokens", "4", "--weights", "int8:64");
        assertTrue(w8.out().contains("weights: weight-only INT8, groups of 64"), w8.out());
        CliRun bench = CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "4", "--prompt-len", "2-8", "--output-len", "2-6", "--warmup", "0", "--repeat", "1", "--weights", "int4:32", "--awq");
        assertEquals(0, bench.code(), bench.err());
        assertTrue(bench.out().contains("weights: weight-only INT4, groups of 32, AWQ-scaled"), bench.out());
        assertTrue(bench.out().contains("outputs identical for 4 of 4 requests"), bench.out());
        assertEquals("tessel serve-bench: --weights int5: expected int8 or int4, optionally :GROUP (e.g. int4:64)",
                CliRun.of("serve-bench", "zoo:llama-tiny", "--weights", "int5").err().strip());
    }

    @Test
    void badQuantizationFlagsAreOneLineNamingTheFlag() {
        String[] base = {"generate", "zoo:llama-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1"};
        assertEquals("tessel generate: --weights int3: expected int8 or int4, optionally :GROUP (e.g. int4:64)", CliRun.of(concat(base, "--weights", "int3")).err().strip());
        assertEquals("tessel generate: --weights int4:x: GROUP must be a positive integer, got 'x'", CliRun.of(concat(base, "--weights", "int4:x")).err().strip());
        assertEquals("tessel generate: --weights int4:33: 4-bit groups must be even (two codes a byte), got group size 33", CliRun.of(concat(base, "--weights", "int4:33")).err().strip());
        assertEquals("tessel generate: --awq scales weights for weight-only quantization: add --weights int4 or int8", CliRun.of(concat(base, "--awq")).err().strip());
        assertEquals("tessel generate: --smoothquant (W8A8) and --weights (weight-only) exclude each other: pick one",
                CliRun.of(concat(base, "--weights", "int8", "--smoothquant")).err().strip());
        assertEquals("tessel generate: --smoothquant: alpha must be in [0, 1], got 1.5", CliRun.of(concat(base, "--smoothquant=1.5")).err().strip());
        assertEquals("tessel generate: --smoothquant=abc: ALPHA must be a number in [0, 1]", CliRun.of(concat(base, "--smoothquant=abc")).err().strip());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /**
     * --gpu in generate and serve-bench, alone and with --bf16, --draft or --lora: on a machine without a CUDA GPU, one line
     * saying so, after every other flag was accepted (the GPU runs are GpuDecoderRunnerGpuTest's and GpuDecoderRunnerServingGpuTest's).
     */
    @Test
    void gpuIsRefusedClearlyWithoutACudaGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.tessel.runtime.Backend.detect() instanceof org.tessel.runtime.Backend.Cpu, "this machine has a CUDA GPU");
        String[] gen = {"generate", "zoo:llama-tiny", "--prompt-tokens", "1,2", "--max-new-tokens", "2", "--gpu"};
        for (String[] extra : new String[][] {{}, {"--bf16"}, {"--draft", "zoo:llama-tiny", "--draft-layers", "1"}, {"--lora", "m=random:4", "--adapter", "m"}}) {
            CliRun g = CliRun.of(concat(gen, extra));
            assertEquals(2, g.code(), g.err());
            assertTrue(g.err().strip().startsWith("tessel generate: --gpu needs a CUDA GPU, and this machine has none ("), String.join(" ", extra) + ": " + g.err());
            assertTrue(g.err().strip().endsWith("drop --gpu to run on CPU engines"), g.err());
        }
        for (String[] extra : new String[][] {{}, {"--bf16"}, {"--lora", "a=random:4:1", "--lora", "b=random:8:2", "--lora-mix"}}) {
            CliRun s = CliRun.of(concat(new String[] {"serve-bench", "zoo:llama-tiny", "--requests", "2", "--gpu"}, extra));
            assertEquals(2, s.code(), s.err());
            assertTrue(s.err().strip().startsWith("tessel serve-bench: --gpu needs a CUDA GPU"), String.join(" ", extra) + ": " + s.err());
        }
    }

    @Test
    void bf16GoesWithGpu() {
        assertEquals("tessel generate: --bf16 runs the GPU runner at BF16: add --gpu",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1", "--max-new-tokens", "1", "--bf16").err().strip());
        assertEquals("tessel serve-bench: --bf16 runs the GPU runner at BF16: add --gpu", CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "2", "--bf16").err().strip());
    }
}
