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
}
