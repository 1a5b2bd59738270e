package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassException;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuTactics;

/**
 * What {@link GpuDecoderRunner} serves beyond the FP16 base model, each against the CPU {@link DecoderRunner} on llama-tiny
 * (small and few steps: on the emulated device every step bucket is a search and a build): LoRA adapters (a batch whose
 * rows run two adapters and the base model, each adapter's deltas as tessel.lora.bgmv, gives the CPU runner's tokens),
 * BF16 steps planned at BF16 by the search, and speculative decoding with a GPU target and a GPU draft (the GPU
 * target's own greedy output, and the CPU speculative decoder's). Helpers are {@link GpuDecoderRunnerGpuTest}'s.
 */
@Tag("gpu")
class GpuDecoderRunnerServingGpuTest {
    private static final long SEED = GpuDecoderRunnerGpuTest.SEED;

    /** Greedy tokens of one prefill step of all rows (each through its adapter, null: the base model) then decode steps. */
    static List<long[]> greedy(long[][] prompts, String[] adapters, int steps, Function<List<DecoderRunner.Row>, List<float[]>> step) {
        List<long[]> out = new ArrayList<>();
        List<DecoderRunner.Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            out.add(new long[steps]);
            rows.add(new DecoderRunner.Row("s" + i, prompts[i], adapters[i]));
        }
        for (int k = 0; k < steps; k++) {
            List<float[]> logits = step.apply(rows);
            rows = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                out.get(i)[k] = Sampler.greedy().next(logits.get(i));
                rows.add(new DecoderRunner.Row("s" + i, new long[] {out.get(i)[k]}, adapters[i]));
            }
        }
        return out;
    }

    /** One prompt in three rows: adapter math, the base model, adapter code; the GPU rows give the CPU rows' tokens, and the adapters change them. */
    @Test void mixedAdapterBatchGivesTheCpuRunnersTokens() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        DecoderRunner cpu = LoraServingTest.runner("llama-tiny");
        long[] prompt = {11, 200, 37, 5, 480};
        long[][] prompts = {prompt, prompt, prompt};
        String[] adapters = {"math", null, "code"};
        int steps = 4;
        PagedKvCache cpuCache = cpu.newCache(4, 16);
        List<long[]> want = greedy(prompts, adapters, steps, rows -> cpu.step(rows, cpuCache));
        try (GpuDecoderRunner base = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx); GpuDecoderRunner gpu = base.withAdapters(cpu.adapters());
             GpuPagedKvCache cache = gpu.newCache(4, 16)) {
            assertEquals(List.of("math", "code"), gpu.adapters().stream().map(LoraAdapter::name).toList());
            List<long[]> got = greedy(prompts, adapters, steps, rows -> gpu.step(rows, cache));
            for (int i = 0; i < prompts.length; i++) assertArrayEquals(want.get(i), got.get(i), "row " + i + ", adapter " + adapters[i]);
            assertFalse(Arrays.equals(got.get(0), got.get(1)) && Arrays.equals(got.get(2), got.get(1)), "the adapters change the tokens: " + Arrays.toString(got.get(1)));
            for (GpuEngine e : gpu.engines().values()) {
                long deltas = e.layerPlans().stream().filter(l -> l.node().endsWith(".lora")).count();
                // math adapts q, k, v, o and code q, v and the MLP: 7 distinct layers per block, 2 blocks
                assertEquals(14, deltas, e.layerPlans().toString());
                assertTrue(e.layerPlans().stream().filter(l -> l.node().endsWith(".lora")).allMatch(l -> l.tactic().equals(GpuTactics.LORA)), e.layerPlans().toString());
            }
        }
    }

    /** In-flight batching (serve-bench --gpu --lora-mix): requests on math, the base model and code, of different lengths, give the CPU scheduler's tokens; every block free after. */
    @Test void inFlightBatchingOfMixedAdaptersGivesTheCpuSchedulersTokens() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        DecoderRunner cpu = LoraServingTest.runner("llama-tiny");
        List<Request> requests = List.of(
                new Request("a", new long[] {5, 6, 7, 8, 9, 10}, 4, 0, Sampler.greedy(), "math"),
                new Request("b", new long[] {300, 301, 302}, 2, 0, Sampler.greedy(), null),
                new Request("c", new long[] {42, 43, 44, 45, 46}, 5, 0, Sampler.greedy(), "code"));
        var want = new BatchScheduler(cpu, cpu.newCache(4, 24), BatchScheduler.Policy.IN_FLIGHT, 3, 8).run(requests);
        try (GpuDecoderRunner base = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx); GpuDecoderRunner gpu = base.withAdapters(cpu.adapters());
             GpuPagedKvCache cache = gpu.newCache(4, 24)) {
            var got = new BatchScheduler(gpu, cache, BatchScheduler.Policy.IN_FLIGHT, 3, 8).run(requests);
            for (int i = 0; i < requests.size(); i++)
                assertArrayEquals(want.outcomes().get(i).output(), got.outcomes().get(i).output(), "request " + requests.get(i).id() + " on " + requests.get(i).adapter());
            assertEquals(want.steps(), got.steps(), "the same schedule");
            assertEquals(cache.numBlocks(), cache.freeBlocks(), "every block is back on the free list");
        }
    }

    @Test void adaptersThatDoNotFitAndUnknownAdaptersAreRefusedByName() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        DecoderRunner gpt2 = new DecoderRunner("gpt2-tiny", Zoo.decoder("gpt2-tiny", 0), SEED);
        LoraAdapter foreign = LoraAdapter.random("foreign", gpt2.graph(new DecoderShape(1, 1, 0)), List.of("q"), 4, 4, 1);
        try (GpuDecoderRunner gpu = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx)) {
            PassException e = assertThrows(PassException.class, () -> gpu.withAdapters(List.of(foreign)).close());
            assertTrue(e.getMessage().startsWith("adapter foreign (seeded random, seed 1): layer ") && e.getMessage().contains("c_attn is not a linear layer of"), e.getMessage());
            try (GpuPagedKvCache cache = gpu.newCache(4, 4)) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                        () -> gpu.step(List.of(new DecoderRunner.Row("r1", new long[] {1, 2}, "math")), cache));
                assertEquals("sequence r1: adapter 'math' is not loaded (loaded: none)", x.getMessage());
                assertFalse(cache.contains("r1"), "nothing reserved");
            }
        }
    }

    /**
     * Each step's logits of every row when the rows are fed {@code prompts}, then {@code tokens} one a step (teacher
     * forcing: both runners see the same tokens whatever their own argmax), [step][row][vocab].
     */
    static List<List<float[]>> forced(long[][] prompts, List<long[]> tokens, int steps, Function<List<DecoderRunner.Row>, List<float[]>> step) {
        List<List<float[]>> out = new ArrayList<>();
        List<DecoderRunner.Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i]));
        for (int k = 0; k < steps; k++) {
            out.add(step.apply(rows));
            rows = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, new long[] {tokens.get(i)[k]}));
        }
        return out;
    }

    /** Relative L2 error of each step's logits, all rows together, against {@code want}. */
    static double[] relL2(List<List<float[]>> got, List<List<float[]>> want) {
        double[] e = new double[want.size()];
        for (int k = 0; k < want.size(); k++) {
            double num = 0, den = 0;
            for (int i = 0; i < want.get(k).size(); i++)
                for (int v = 0; v < want.get(k).get(i).length; v++) {
                    double d = got.get(k).get(i)[v] - want.get(k).get(i)[v];
                    num += d * d;
                    den += (double) want.get(k).get(i)[v] * want.get(k).get(i)[v];
                }
            e[k] = Math.sqrt(num / den);
        }
        return e;
    }

    /**
     * BF16 steps, planned at BF16 by the search (the runner refuses a plan at another I/O precision, and the cache holds
     * bf16), against the FP32 CPU runner, fed the CPU runner's greedy tokens (teacher forcing), with the FP16 GPU runner
     * as the yardstick. BF16 keeps 8 bits of mantissa where FP16 keeps 11 (unit roundoff 2^-9 against 2^-12), so at the
     * same rounding points (the same plans but the precision) its logits drift about 8 times as far: on llama-tiny
     * about 1e-2 to 2e-2 relative L2, and a greedy token flips where the FP32 top two logits nearly tie (they do at row
     * 0's second token). Bound: every step's relative L2 at most 4e-2 (twice the tests' BF16 engine tolerance, as the
     * KV cache adds a bf16 rounding of every cached key and value) and at most 16 times FP16's (the roundoff ratio, with
     * a factor 2 of margin); FP16 itself within its 1e-2; the first token equal.
     */
    @Test void bf16LogitsFollowTheCpuRunnersWithinBf16Rounding() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300, 1, 2}};
        int steps = 4;
        DecoderRunner cpu = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED);
        List<long[]> tokens = GpuDecoderRunnerGpuTest.cpuGreedy(cpu, prompts, steps);
        PagedKvCache cpuCache = cpu.newCache(4, 16);
        List<List<float[]>> want = forced(prompts, tokens, steps, rows -> cpu.step(rows, cpuCache));
        List<List<float[]>> fp16, bf16;
        try (GpuDecoderRunner gpu = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx); GpuPagedKvCache cache = gpu.newCache(4, 16)) {
            fp16 = forced(prompts, tokens, steps, rows -> gpu.step(rows, cache));
        }
        try (GpuDecoderRunner gpu = new GpuDecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED, ctx, GpuEngine.Precision.BF16,
                GpuDecoderRunnerGpuTest.planner(Precision.BF16), true); GpuPagedKvCache cache = gpu.newCache(4, 16)) {
            bf16 = forced(prompts, tokens, steps, rows -> gpu.step(rows, cache));
            assertEquals(org.tessel.api.DType.BF16, cache.config().dtype());
            for (GpuEngine e : gpu.engines().values()) assertEquals(GpuEngine.Precision.BF16, e.precision(), e.layerPlans().toString());
        }
        double[] e16 = relL2(fp16, want), eb = relL2(bf16, want);
        System.out.println("RESULT|llama-tiny logits relative L2 per step|fp16 " + Arrays.toString(e16) + "|bf16 " + Arrays.toString(eb));
        for (int k = 0; k < steps; k++) {
            assertTrue(e16[k] <= GpuTestSupport.tolerance(org.tessel.api.DType.F16), "fp16 step " + k + ": relative L2 " + e16[k]);
            assertTrue(eb[k] <= 4e-2 && eb[k] <= 16 * e16[k], "bf16 step " + k + ": relative L2 " + eb[k] + " (fp16 " + e16[k] + ")");
        }
        for (int i = 0; i < prompts.length; i++) assertEquals(tokens.get(i)[0], Sampler.greedy().next(bf16.get(0).get(i)), "row " + i + "'s first token");
    }

    /** GPU target llama-tiny, GPU draft its first layer: the GPU target's greedy output, and the CPU speculative decoder's (same rounds and acceptance). */
    @Test void speculativeDecodingOnTheGpuGivesTheTargetsGreedyOutput() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long[] prompt = {7, 300, 12, 45, 99};
        int n = 8, k = 3, bs = 16;
        DecoderRunner cpuTarget = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED), cpuDraft = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 1), SEED);
        SpeculativeDecoder.Result cpu = new SpeculativeDecoder(cpuTarget, cpuDraft, k).generate(prompt, n, bs);
        try (GpuDecoderRunner target = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx);
             GpuDecoderRunner draft = new GpuDecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 1), SEED, ctx, GpuEngine.Precision.FP16, GpuDecoderRunnerGpuTest.planner(), true)) {
            SpeculativeDecoder.Result got = new SpeculativeDecoder(target, draft, k).generate(prompt, n, bs);
            long[] alone;
            try (GpuPagedKvCache cache = target.newCache(bs, 3)) {
                alone = new BatchScheduler(target, cache, BatchScheduler.Policy.IN_FLIGHT, 1, prompt.length)
                        .run(List.of(new Request("alone", prompt, n, 0, Sampler.greedy()))).outcomes().getFirst().output();
            }
            assertArrayEquals(alone, got.output(), "the GPU target's own greedy output");
            assertArrayEquals(cpu.output(), got.output(), "the CPU speculative decoder's output");
            assertEquals(cpu.targetSteps(), got.targetSteps(), "the same rounds");
            assertEquals(cpu.accepted(), got.accepted(), "the same proposals accepted");
            assertTrue(got.targetSteps() < n, "fewer target steps than tokens: " + got.targetSteps());
            assertTrue(draft.graphReplays() > 0, "the draft's decode steps replay their CUDA graph");
        }
    }
}
