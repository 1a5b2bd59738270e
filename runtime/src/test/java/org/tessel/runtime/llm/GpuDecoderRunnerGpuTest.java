package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.cost.Precision;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;

/**
 * {@link GpuDecoderRunner} (paged step graphs planned by the joint search, every attention {@code tessel.attention.paged},
 * the KV cache in {@link GpuPagedKvCache}) against the CPU {@link DecoderRunner}: greedy tokens equal for llama-tiny
 * and gpt2-tiny, several prompts at batch 1 and 3 (prompts of different lengths in one prefill step), and under
 * in-flight batching with {@link BatchScheduler} (chunked prefill, requests finishing at different steps), after
 * which every pool block is free again. Decode steps replay CUDA graphs. On the emulated device
 * ({@code -Dtessel.test.device=emulated}) the plan forces the linear layers onto tessel.matmul (only Tessel's kernels
 * run there); on a GPU the search chooses (cuBLAS allowed). Also the binding of caller-owned buffers: a wrong name,
 * dtype, shape or size is refused naming the value.
 */
@Tag("gpu")
class GpuDecoderRunnerGpuTest {
    private static final long SEED = 3;

    static GpuDecoderRunner.StepPlanner planner() {
        boolean emulated = GpuTestSupport.emulated();
        return g -> {
            List<ForcedChoice> forced = new ArrayList<>(List.of(ForcedChoice.parse("tessel.PagedAttention=tessel.attention.paged:fp16")));
            if (emulated) forced.add(ForcedChoice.parse("MatMul=tessel.matmul:fp16"));
            SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16)).withForced(forced);
            SearchProblem p = Searcher.problem(Searcher.prepare(g), o);
            return EnginePlans.complete(p, Searcher.run(p, "joint", o));
        };
    }

    static GpuDecoderRunner gpuRunner(String model, CudaContext ctx) {
        return new GpuDecoderRunner(model, Zoo.decoder(model, 0), SEED, ctx, GpuEngine.Precision.FP16, planner(), true);
    }

    /** Greedy generation of {@code steps} tokens for a batch of prompts: one prefill step of them all, then decode steps. */
    static List<long[]> cpuGreedy(DecoderRunner r, long[][] prompts, int steps) {
        PagedKvCache cache = r.newCache(4, 64);
        return greedy(prompts, steps, rows -> r.step(rows, cache));
    }

    static List<long[]> greedy(long[][] prompts, int steps, java.util.function.Function<List<DecoderRunner.Row>, List<float[]>> step) {
        List<long[]> out = new ArrayList<>();
        for (long[] ignored : prompts) out.add(new long[steps]);
        List<DecoderRunner.Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i]));
        for (int k = 0; k < steps; k++) {
            List<float[]> logits = step.apply(rows);
            rows = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                out.get(i)[k] = Sampler.greedy().next(logits.get(i));
                rows.add(new DecoderRunner.Row("s" + i, new long[] {out.get(i)[k]}));
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "gpt2-tiny"})
    void greedyTokensEqualTheCpuRunnersAtBatchOneAndThree(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
        int steps = 6;
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        try (GpuDecoderRunner gpu = gpuRunner(model, ctx)) {
            for (long[] prompt : prompts) {
                long[][] one = {prompt};
                try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                    List<long[]> got = greedy(one, steps, rows -> gpu.step(rows, cache));
                    assertArrayEquals(cpuGreedy(cpu, one, steps).get(0), got.get(0), model + " batch 1, prompt of " + prompt.length);
                    for (String s : List.of("s0")) cache.free(s);
                    assertEquals(cache.numBlocks(), cache.freeBlocks());
                }
            }
            try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                List<long[]> got = greedy(prompts, steps, rows -> gpu.step(rows, cache));
                List<long[]> want = cpuGreedy(cpu, prompts, steps);
                for (int i = 0; i < prompts.length; i++) assertArrayEquals(want.get(i), got.get(i), model + " batch 3, row " + i);
            }
            assertTrue(gpu.graphReplays() > 0, "decode steps replay their captured CUDA graph");
            for (GpuEngine e : gpu.engines().values())
                assertTrue(e.layerPlans().stream().filter(l -> l.node().endsWith("paged_attention")).allMatch(l -> l.tactic().equals("tessel.attention.paged"))
                        && e.layerPlans().stream().anyMatch(l -> l.tactic().equals("tessel.attention.paged")), "every attention runs tessel.attention.paged: " + e.layerPlans());
        }
    }

    /** In-flight batching: different prompt lengths and output lengths (requests finish at different steps), prefill chunked to 4. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "gpt2-tiny"})
    void inFlightBatchingGivesTheCpuSchedulersTokensAndFreesEveryBlock(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        List<Request> requests = List.of(
                new Request("a", new long[] {5, 6, 7, 8, 9, 10}, 7, 0, Sampler.greedy()),
                new Request("b", new long[] {300, 301}, 3, 0, Sampler.greedy()),
                new Request("c", new long[] {42, 43, 44, 45, 46, 47, 48, 49, 50}, 5, 0, Sampler.greedy()),
                new Request("d", new long[] {99}, 2, 0, Sampler.greedy()));
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        var want = new BatchScheduler(cpu, cpu.newCache(4, 24), BatchScheduler.Policy.IN_FLIGHT, 3, 4).run(requests);
        try (GpuDecoderRunner gpu = gpuRunner(model, ctx); GpuPagedKvCache cache = gpu.newCache(4, 24)) {
            var got = new BatchScheduler(gpu, cache, BatchScheduler.Policy.IN_FLIGHT, 3, 4).run(requests);
            for (int i = 0; i < requests.size(); i++)
                assertArrayEquals(want.outcomes().get(i).output(), got.outcomes().get(i).output(), model + " request " + requests.get(i).id());
            assertEquals(want.steps(), got.steps(), "the same schedule");
            assertEquals(cache.numBlocks(), cache.freeBlocks(), "every block is back on the free list");
            assertEquals(0, cache.liveTokens());
        }
    }

    @Test void callerOwnedBuffersAreCheckedAgainstTheEngine() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        DecoderConfig c = Zoo.decoder(model, 0);
        PagedDecoderShape shape = new PagedDecoderShape(1, 1, 2, 4, 8);
        var planned = planner().plan(Zoo.buildPagedDecoder(model, c, shape, SEED));
        Shape pool = Shape.of(8, c.kvHeads(), 4, c.headDim());
        long bytes = pool.numElements() * 2;
        try (GpuEngine e = GpuEngine.build(planned.graph(), planned.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1);
             DeviceBuffer ok = DeviceBuffer.allocate(bytes); DeviceBuffer small = DeviceBuffer.allocate(bytes - 2)) {
            Map<String, String> refusals = new LinkedHashMap<>();
            refusals.put("no_such", "has no such input or output");
            refusals.put("dtype", "holds f32, and the engine stores it as f16");
            refusals.put("shape", "and the graph's %kv_pool.0.key is " + pool);
            refusals.put("size", "holds " + (bytes - 2) + " bytes");
            for (var r : refusals.entrySet()) {
                Map<String, GpuEngine.ExternalBuffer> m = switch (r.getKey()) {
                    case "no_such" -> Map.of("kv_pool.9.key", new GpuEngine.ExternalBuffer(ok, DType.F16, pool));
                    case "dtype" -> Map.of("kv_pool.0.key", new GpuEngine.ExternalBuffer(ok, DType.F32, pool));
                    case "shape" -> Map.of("kv_pool.0.key", new GpuEngine.ExternalBuffer(ok, DType.F16, Shape.of(4, c.kvHeads(), 8, c.headDim())));
                    default -> Map.of("kv_pool.0.key", new GpuEngine.ExternalBuffer(small, DType.F16, pool));
                };
                GpuEngineException x = assertThrows(GpuEngineException.class, () -> e.createExecutionContext(m));
                assertTrue(x.getMessage().contains(r.getValue()), r.getKey() + ": " + x.getMessage());
            }
        }
    }
}
