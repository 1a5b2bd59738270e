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
import org.tessel.runtime.gpu.engine.GpuTactics;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;

/**
 * {@link GpuDecoderRunner} (paged step graphs planned by the joint search, every attention {@code tessel.attention.paged},
 * the KV cache in {@link GpuPagedKvCache}) against the CPU {@link DecoderRunner}: greedy tokens equal for llama-tiny
 * and gpt2-tiny, several prompts at batch 1 and 3 (prompts of different lengths in one prefill step), and under
 * in-flight batching with {@link BatchScheduler} (chunked prefill, requests finishing at different steps), after
 * which every pool block is free again. Decode steps replay CUDA graphs. On the emulated device
 * ({@code -Dtessel.test.device=emulated}) the search chooses among Tessel's kernels only (a selector; only they run
 * there: tessel.gemv with its fused norms where a step's rows fit it, else tessel.matmul); on a GPU it chooses among all
 * (cuBLAS allowed); on both, FP16 prefill chunks run the tensor-core form of the paged prefill ({@code tessel.attention.paged/mma}). Also one paged step engine against the reference interpreter
 * (pools aliased in place, and copied into caller-owned outputs), and the binding of caller-owned buffers: a wrong name,
 * dtype, shape or size is refused naming the value.
 */
@Tag("gpu")
class GpuDecoderRunnerGpuTest {
    static final long SEED = 3;

    static GpuDecoderRunner.StepPlanner planner() { return planner(Precision.FP16); }

    /** The joint search at {@code p} (FP16 or BF16) beside FP32, attention forced onto tessel.attention.paged at p, and on the emulated device Tessel's kernels only. */
    static GpuDecoderRunner.StepPlanner planner(Precision p) { return planner(p, true); }

    /**
     * As {@link #planner(Precision)}; without {@code paged} (a step graph with no {@code tessel.PagedAttention}, as an
     * ONNX decoder's) nothing is forced. Either way the MatMuls are held at p, as the CLI's planners hold them (without
     * that anchor the search prices llama-tiny's steps, a LoRA prefill's too, cheapest at FP32, and the decoder refuses the plan).
     */
    static GpuDecoderRunner.StepPlanner planner(Precision p, boolean paged) {
        boolean emulated = GpuTestSupport.emulated();
        String at = p.name().toLowerCase(java.util.Locale.ROOT);
        return g -> {
            List<ForcedChoice> forced = new ArrayList<>();
            if (paged) forced.add(ForcedChoice.parse("tessel.PagedAttention=tessel.attention.paged:" + at));
            SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p)).withForced(forced)
                    .withPrecisionRules(List.of(PrecisionRule.parse("MatMul=" + at)));
            // only Tessel's kernels run on the emulated device: the search chooses among them (tessel.gemv and its fused
            // norm and SiLU prologues at the decode steps' rows, tessel.matmul where the GEMV does not fit)
            if (emulated) o = o.withSelectors(List.of(TESSEL_KERNELS));
            SearchProblem pr = Searcher.problem(Searcher.prepare(g), o);
            // the search prices the prefill forms: FP16 chunks take the tensor-core one (mma), BF16 and FP8 pools the tiled one
            return EnginePlans.complete(pr, Searcher.run(pr, "joint", o));
        };
    }

    /** Keeps Tessel's own kernels (the emulated device runs no cuBLAS or cuDNN, nor the tessel.* forms that call them). */
    static final org.tessel.api.select.AlgorithmSelector TESSEL_KERNELS = (node, candidates) -> candidates.stream()
            .filter(a -> a.tactic().startsWith("tessel.") && !org.tessel.runtime.gpu.engine.GpuTactics.usesNvidiaLibraries(a.tactic())).toList();

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

    /** The runner's decode steps run each layer's ropes inside its paged attention (a rope_attention group), its prefill chunks apart. */
    @Test void decodeStepsFuseTheRopesIntoTheAttention() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        for (int newTokens : new int[] {1, 4}) {
            var g = Zoo.buildPagedDecoder("llama-tiny", c, new PagedDecoderShape(3, newTokens, 4, 16, 16), SEED);
            var kinds = planner().plan(g).plan().groups().stream().filter(f -> f.kind().equals("rope_attention")).count();
            assertEquals(newTokens == 1 ? c.layers() : 0, kinds, "rope_attention groups at " + newTokens + " new tokens");
        }
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
            List<long[]> want3 = cpuGreedy(cpu, prompts, steps);
            try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                List<long[]> got = greedy(prompts, steps, rows -> gpu.step(rows, cache));
                for (int i = 0; i < prompts.length; i++) assertArrayEquals(want3.get(i), got.get(i), model + " batch 3, row " + i);
            }
            // the greedy tokens picked on the device (stepGreedy: the prefill on the logits path, decode steps by the arg-max kernel)
            try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                List<long[]> got = new ArrayList<>();
                for (long[] ignored : prompts) got.add(new long[steps]);
                List<DecoderRunner.Row> rows = new ArrayList<>();
                for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i]));
                for (int k = 0; k < steps; k++) {
                    long[] next = gpu.stepGreedy(rows, cache);
                    rows = new ArrayList<>();
                    for (int i = 0; i < prompts.length; i++) {
                        got.get(i)[k] = next[i];
                        rows.add(new DecoderRunner.Row("s" + i, new long[] {next[i]}));
                    }
                }
                for (int i = 0; i < prompts.length; i++) assertArrayEquals(want3.get(i), got.get(i), model + " batch 3 greedy on the device, row " + i);
            }
            assertTrue(gpu.graphReplays() > 0, "decode steps replay their captured CUDA graph");
            assertTrue(gpu.enginesBuilt() > 1 && gpu.sharedMemory().weightReuses() > 0,
                    "the buckets' engines share their weights: " + gpu.sharedMemory().weightUploads() + " uploads, " + gpu.sharedMemory().weightReuses() + " reuses over "
                            + gpu.enginesBuilt() + " engines");
            for (var entry : gpu.engines().entrySet()) {
                GpuEngine e = entry.getValue();
                assertTrue(e.layerPlans().stream().filter(l -> l.node().endsWith("paged_attention")).allMatch(l -> l.tactic().startsWith("tessel.attention.paged"))
                        && e.layerPlans().stream().anyMatch(l -> l.tactic().startsWith("tessel.attention.paged")), "every attention runs tessel.attention.paged: " + e.layerPlans());
                if (!entry.getKey().decode()) // FP16 prefill chunks in the tensor-core form the planner named
                    assertTrue(e.layerPlans().stream().filter(l -> l.tactic().startsWith("tessel.attention.paged")).allMatch(l -> l.tactic().equals("tessel.attention.paged/mma")),
                            entry.getKey() + ": " + e.layerPlans());
            }
        }
    }

    /**
     * {@link GpuDecoderRunner#decodeGreedy}, the decode run ahead of the host with each token fed back on the device, gives
     * the CPU runner's greedy tokens at batch 1 and 3 over 40 steps: past the tokens' ring's half (its reads behind the
     * device) and across the buckets the growing block tables move through (blocks of 4 tokens), where it drains and
     * starts again on the next context.
     */
    @Test void decodeRunAheadOfTheHostGivesTheCpuRunnersTokens() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
        int steps = 40;
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        try (GpuDecoderRunner gpu = gpuRunner(model, ctx)) {
            for (long[][] batch : List.of(new long[][] {prompts[0]}, prompts)) {
                List<long[]> want = cpuGreedy(cpu, batch, steps + 1);
                try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                    List<DecoderRunner.Row> rows = new ArrayList<>();
                    for (int i = 0; i < batch.length; i++) rows.add(new DecoderRunner.Row("s" + i, batch[i]));
                    long[] first = gpu.stepGreedy(rows, cache); // the prefill
                    List<DecoderRunner.Row> fed = new ArrayList<>();
                    for (int i = 0; i < batch.length; i++) fed.add(new DecoderRunner.Row("s" + i, new long[] {first[i]}));
                    long[][] got = gpu.decodeGreedy(fed, steps, cache);
                    for (int i = 0; i < batch.length; i++) {
                        assertEquals(want.get(i)[0], first[i], "batch " + batch.length + " row " + i + ": the prefill's token");
                        assertArrayEquals(java.util.Arrays.copyOfRange(want.get(i), 1, steps + 1), got[i], "batch " + batch.length + " row " + i + ": the decoded tokens");
                        assertEquals(batch[i].length + steps, cache.length("s" + i), "the keys and values of every token fed are in the cache");
                    }
                }
            }
        }
    }

    /**
     * Weight-only INT8 (groups of 64) and INT4 (groups of 32) step graphs, quantized as the CPU runner quantizes them, give the
     * CPU quantized runner's greedy tokens at batch 1 and 3; the decode engines run the quantized projections on the GEMV.
     */
    @ParameterizedTest
    @ValueSource(strings = {"int8:64", "int4:32"})
    void quantizedWeightsGiveTheCpuQuantizedRunnersTokens(String weights) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        LlmQuantization q = LlmQuantization.uncalibrated(QuantizationSpec.parse(weights, false, null));
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
        int steps = 6;
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED, q);
        try (GpuDecoderRunner fp = gpuRunner(model, ctx); GpuDecoderRunner gpu = fp.withQuantization(q)) {
            try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                List<long[]> got = greedy(new long[][] {prompts[0]}, steps, rows -> gpu.step(rows, cache));
                assertArrayEquals(cpuGreedy(cpu, new long[][] {prompts[0]}, steps).get(0), got.get(0), weights + " batch 1");
            }
            try (GpuPagedKvCache cache = gpu.newCache(4, 64)) {
                List<long[]> got = greedy(prompts, steps, rows -> gpu.step(rows, cache));
                List<long[]> want = cpuGreedy(cpu, prompts, steps);
                for (int i = 0; i < prompts.length; i++) assertArrayEquals(want.get(i), got.get(i), weights + " batch 3, row " + i);
            }
            GpuEngine decode = gpu.engines().entrySet().stream().filter(e -> e.getKey().decode()).map(java.util.Map.Entry::getValue).findFirst().orElseThrow();
            assertTrue(decode.layerPlans().stream().anyMatch(l -> GpuTactics.catalogueId(l.tactic()).equals(GpuTactics.GEMV_WEIGHT_ONLY)), "the decode step runs the weight-only GEMV: " + decode.layerPlans());
            assertTrue(fp.engines().isEmpty(), "the FP16 runner built nothing");
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
            assertTrue(gpu.engines().keySet().stream().anyMatch(PagedDecoderShape::packed), "steps with a prompt chunk ran packed: " + gpu.engines().keySet());
            assertEquals(cache.numBlocks(), cache.freeBlocks(), "every block is back on the free list");
            assertEquals(0, cache.liveTokens());
        }
    }

    /**
     * A prefill chunk's step is captured as a CUDA graph after its shape's first run, and the next prefill of that shape
     * (other sequences, other tokens, a cache that has moved on) replays it with its own inputs: its logits are the CPU
     * runner's, as the first run's are.
     */
    @Test void aPrefillShapeRunsAgainAsItsCapturedGraphWithItsOwnInputs() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        PagedKvCache cpuCache = cpu.newCache(8, 16);
        List<List<DecoderRunner.Row>> steps = List.of(
                List.of(new DecoderRunner.Row("a0", new long[] {11, 200, 37, 5, 480, 9}), new DecoderRunner.Row("a1", new long[] {7, 7, 300, 2, 1})),
                List.of(new DecoderRunner.Row("b0", new long[] {40, 41, 42, 43, 44, 45}), new DecoderRunner.Row("b1", new long[] {3, 1, 4, 1, 5}))); // 11 tokens: the same packed bucket (12)
        try (GpuDecoderRunner gpu = gpuRunner(model, ctx); GpuPagedKvCache cache = gpu.newCache(8, 16)) {
            for (int k = 0; k < steps.size(); k++) {
                int before = gpu.graphReplays();
                long built = gpu.buildNanos();
                List<float[]> want = cpu.step(steps.get(k), cpuCache), got = gpu.step(steps.get(k), cache);
                assertEquals(k == 0 ? before : before + 1, gpu.graphReplays(), k == 0 ? "the first prefill of its shape runs, then is captured" : "the second replays the graph");
                // building, binding and capturing count as build time (serving clocks leave it out); a replay adds none
                if (k == 0) assertTrue(gpu.buildNanos() > built, "the first step builds and captures");
                else assertEquals(built, gpu.buildNanos(), "a replay builds and captures nothing");
                for (int r = 0; r < want.size(); r++) {
                    double d = 0, n = 0;
                    for (int v = 0; v < want.get(r).length; v++) { d += Math.pow(want.get(r)[v] - got.get(r)[v], 2); n += Math.pow(want.get(r)[v], 2); }
                    assertTrue(Math.sqrt(d / n) < 1e-2, "prefill " + k + " row " + r + ": logits' relative L2 against the CPU runner " + Math.sqrt(d / n));
                }
            }
        }
    }

    /**
     * A padded step's last-token logits are exactly the last rows of every position's logits (the same engine); a packed
     * step's (its own engine, the rows' tokens packed) are within FP16 rounding of them, and its greedy tokens on the
     * device are the arg-max of its logits.
     */
    @Test void lastTokenLogitsEqualTheLastRowsOfEveryPositionsLogits() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2}};
        try (GpuDecoderRunner gpu = gpuRunner("llama-tiny", ctx); GpuPagedKvCache a = gpu.newCache(4, 32); GpuPagedKvCache b = gpu.newCache(4, 32);
             GpuPagedKvCache c = gpu.newCache(4, 32); GpuPagedKvCache d = gpu.newCache(4, 32)) {
            List<DecoderRunner.Row> rows = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i]));
            List<float[][]> all = gpu.stepAllLogits(rows, b);
            List<float[]> packed = gpu.step(rows, c);
            long[] greedy = gpu.stepGreedy(rows, d);
            List<float[]> last = gpu.packSteps(false).step(rows, a);
            for (int i = 0; i < prompts.length; i++) {
                float[] want = all.get(i)[prompts[i].length - 1];
                assertArrayEquals(want, last.get(i), "row " + i + "'s last logits");
                double dd = 0, nn = 0;
                for (int v = 0; v < want.length; v++) { dd += Math.pow(want[v] - packed.get(i)[v], 2); nn += Math.pow(want[v], 2); }
                assertTrue(Math.sqrt(dd / nn) < 1e-3, "row " + i + "'s packed logits: relative L2 " + Math.sqrt(dd / nn));
                assertEquals(Sampler.greedy().next(packed.get(i)), greedy[i], "row " + i + "'s greedy token on the device");
            }
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

    /**
     * The paged prefill step graph of llama-tiny (two prompts of 5 and 3 tokens padded to 4 + 4, scattered block
     * tables, pools holding earlier tokens) as one engine against the reference interpreter: once with the pools as
     * the context's own inputs (each pool output aliases its input), once with the pool outputs bound to separate
     * caller-owned buffers (the layer copies each pool in first). Logits within FP16's tolerance, every element of the
     * pools after the step within 2e-2 of the reference (the pools come in as f16 values, so only the new tokens round).
     */
    @Test void thePagedStepEngineMatchesTheReferenceWithAliasedAndCopiedPools() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        DecoderConfig c = Zoo.decoder(model, 0);
        int bs = 4, blocks = 12, mb = 4, n = 4;
        PagedDecoderShape shape = new PagedDecoderShape(2, n, mb, bs, blocks);
        var graph = Zoo.buildPagedDecoder(model, c, shape, SEED);
        var planned = planner().plan(graph);
        // row 0: 6 cached tokens then 4 new (positions 6..9); row 1: 2 cached then 2 new and 2 padding
        long[][] tables = {{5, 0, 7, 2}, {9, 3, 11, 1}};
        int[] cached = {6, 2}, real = {4, 2};
        java.util.SplittableRandom r = new java.util.SplittableRandom(8);
        Map<String, org.tessel.api.Tensor> in = new LinkedHashMap<>();
        long[] ids = new long[2 * n], pos = new long[2 * n], slots = new long[2 * n], tab = new long[2 * mb], lens = new long[2];
        for (int row = 0; row < 2; row++) {
            for (int j = 0; j < mb; j++) tab[row * mb + j] = tables[row][j];
            lens[row] = cached[row] + real[row];
            for (int i = 0; i < n; i++) {
                int p = cached[row] + i;
                boolean isReal = i < real[row];
                ids[row * n + i] = isReal ? r.nextInt(c.vocab()) : 0;
                pos[row * n + i] = isReal ? p : 0;
                slots[row * n + i] = isReal ? tables[row][p / bs] * bs + p % bs : -1;
            }
        }
        in.put("input_ids", org.tessel.api.Tensor.ofLongs(DType.I64, Shape.of(2, n), ids));
        in.put("position_ids", org.tessel.api.Tensor.ofLongs(DType.I64, Shape.of(2, n), pos));
        in.put("block_tables", org.tessel.api.Tensor.ofLongs(DType.I64, Shape.of(2, mb), tab));
        in.put("slots", org.tessel.api.Tensor.ofLongs(DType.I64, Shape.of(2, n), slots));
        in.put("context_lens", org.tessel.api.Tensor.ofLongs(DType.I64, Shape.of(2), lens));
        Shape pool = Shape.of(blocks, c.kvHeads(), bs, c.headDim());
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) // values representable in f16, so the unwritten slots compare exactly
                in.put("kv_pool." + l + "." + kv, GpuTestSupport.asF32(roundF16(GpuTestSupport.random(r, DType.F32, pool, -1, 1))));
        Map<String, org.tessel.api.Tensor> want = GpuTestSupport.reference(graph, in);
        try (GpuEngine e = GpuEngine.build(planned.graph(), planned.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1)) {
            try (var aliased = e.createExecutionContext()) {
                check("aliased pools", aliased.run(in), want, c);
            }
            Map<String, GpuEngine.ExternalBuffer> outs = new LinkedHashMap<>();
            List<DeviceBuffer> buffers = new ArrayList<>();
            try {
                for (int l = 0; l < c.layers(); l++)
                    for (String kv : List.of("key", "value")) {
                        DeviceBuffer b = DeviceBuffer.allocate(pool.numElements() * 2);
                        b.fill((byte) 0xFF);
                        buffers.add(b);
                        outs.put("present_pool." + l + "." + kv, new GpuEngine.ExternalBuffer(b, DType.F16, pool));
                    }
                try (var copied = e.createExecutionContext(outs)) {
                    Map<String, org.tessel.api.Tensor> got = new LinkedHashMap<>(copied.run(in));
                    assertEquals(List.of("logits"), List.copyOf(got.keySet()), "outputs bound to caller-owned buffers are not downloaded");
                    outs.forEach((name, x) -> got.put(name, org.tessel.runtime.gpu.HostTensors.download(x.buffer(), DType.F16, pool)));
                    check("pools copied into caller-owned outputs", got, want, c);
                }
            } finally {
                buffers.forEach(DeviceBuffer::close);
            }
        }
    }

    private static org.tessel.api.Tensor roundF16(org.tessel.api.Tensor t) {
        float[] v = t.floats().clone();
        for (int i = 0; i < v.length; i++) v[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
        return org.tessel.api.Tensor.ofFloats(DType.F32, t.shape(), v);
    }

    private static void check(String what, Map<String, org.tessel.api.Tensor> got, Map<String, org.tessel.api.Tensor> want, DecoderConfig c) {
        // every token's logits: a padding token's attention is 0 in both
        GpuTestSupport.assertClose(what + ": logits", got.get("logits"), want.get("logits"), GpuTestSupport.tolerance(DType.F16));
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) {
                String name = "present_pool." + l + "." + kv;
                org.tessel.api.Tensor g = got.get(name), w = want.get(name);
                double worst = 0;
                for (int i = 0; i < w.size(); i++) worst = Math.max(worst, Math.abs(g.getFloat(i) - w.getFloat(i)));
                assertTrue(worst < 2e-2, what + ": " + name + " max abs error " + worst);
            }
    }
}
