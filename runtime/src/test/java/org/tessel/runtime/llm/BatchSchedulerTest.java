package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;

/**
 * Generation on CPU engines with the paged cache: greedy tokens equal those of recomputing the
 * whole sequence on the reference interpreter without a cache, and under in-flight and static
 * batching (chunked prefill, queueing, preemption) every request's tokens equal its tokens alone.
 */
class BatchSchedulerTest {
    private static final long SEED = 3;

    /** Greedy generation through the runner and cache equals argmax over full no-cache passes of the reference interpreter. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void cachedGenerationEqualsRecomputingTheWholeSequence(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        DecoderRunner runner = new DecoderRunner(model, c, SEED);
        long[] prompt = {11, 200, 37, 5, 480};
        int newTokens = 6;
        var report = new BatchScheduler(runner, runner.newCache(4, 16), BatchScheduler.Policy.IN_FLIGHT, 1, 3)
                .run(List.of(new Request("only", prompt, newTokens, 0, Sampler.greedy())));
        long[] got = report.outcomes().get(0).output();

        List<Long> seq = new ArrayList<>();
        for (long t : prompt) seq.add(t);
        long[] want = new long[newTokens];
        for (int k = 0; k < newTokens; k++) {
            int n = seq.size();
            Graph g = Zoo.buildDecoder(model, c, DecoderShape.prefill(1, n), SEED);
            long[] pos = new long[n];
            for (int i = 0; i < n; i++) pos[i] = i;
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), seq.stream().mapToLong(Long::longValue).toArray()));
            in.put("attention_mask", Tensor.full(DType.I64, Shape.of(1, n), 1));
            in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), pos));
            float[] logits = new ReferenceInterpreter().run(g, in).get("logits").floats();
            want[k] = Sampler.greedy().next(java.util.Arrays.copyOfRange(logits, (n - 1) * c.vocab(), n * c.vocab()));
            seq.add(want[k]);
        }
        assertArrayEquals(want, got, model);
        assertTrue(java.util.Arrays.stream(got).distinct().count() > 1, "the tokens vary, so the check means something: " + java.util.Arrays.toString(got));
    }

    /** Seeded requests: prompt lengths 1-20, outputs 1-12, arrivals spread over a few milliseconds. */
    static List<Request> workload(int count, long seed, Sampler sampler) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Request> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long[] prompt = new long[1 + r.nextInt(20)];
            for (int k = 0; k < prompt.length; k++) prompt[k] = r.nextInt(512);
            out.add(new Request("req-" + i, prompt, 1 + r.nextInt(12), i * 0.002, sampler.forRequest(seed * 1000 + i)));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny:greedy", "gpt2-tiny:greedy", "llama-tiny:sampling"})
    void everyRequestsOutputUnderBatchingEqualsItsOutputAlone(String spec) {
        String model = spec.split(":")[0];
        DecoderConfig c = Zoo.decoder(model, 0);
        DecoderRunner runner = new DecoderRunner(model, c, SEED);
        Sampler sampler = spec.endsWith("greedy") ? Sampler.greedy() : Sampler.sampling(0.8, 20, 1);
        List<Request> requests = workload(14, 5, sampler);
        // alone: one request at a time, the whole cache to itself
        Map<String, long[]> alone = new LinkedHashMap<>();
        for (Request r : workload(14, 5, sampler))
            alone.put(r.id(), new BatchScheduler(runner, runner.newCache(4, 64), BatchScheduler.Policy.IN_FLIGHT, 1, 64)
                    .run(List.of(new Request(r.id(), r.prompt(), r.maxNewTokens(), 0, r.sampler()))).outcomes().get(0).output());
        // 12 blocks of 4 tokens: too few for all at once, so requests queue and the in-flight policy preempts
        for (BatchScheduler.Policy policy : BatchScheduler.Policy.values()) {
            var report = new BatchScheduler(runner, runner.newCache(4, 12), policy, 4, 5).run(workload(14, 5, sampler));
            for (BatchScheduler.Outcome o : report.outcomes()) {
                assertFalse(o.refused(), o.refusal());
                assertArrayEquals(alone.get(o.request().id()), o.output(), policy + " " + o.request().id());
                assertEquals(o.request().maxNewTokens(), o.output().length);
                assertTrue(o.ttft() >= 0 && o.tpot() >= 0);
            }
            assertTrue(report.meanKvUtilisation() > 0 && report.meanKvUtilisation() <= 1, "utilisation " + report.meanKvUtilisation());
        }
        assertEquals(requests.size(), alone.size());
        if (spec.equals("llama-tiny:greedy")) {
            // a watermark of 2 of the 12 blocks: admission leaves room to grow, fewer preemptions, the same tokens. Every
            // request arrives at once here: arrivals are honoured on the serving (wall) clock, so staggered ones would make
            // the schedule, and the preemption counts compared, depend on how fast this machine runs the steps
            List<Request> atOnce = workload(14, 5, sampler).stream().map(r -> new Request(r.id(), r.prompt(), r.maxNewTokens(), 0, r.sampler())).toList();
            var plain = new BatchScheduler(runner, runner.newCache(4, 12), BatchScheduler.Policy.IN_FLIGHT, 4, 5).run(atOnce);
            var paced = new BatchScheduler(runner, runner.newCache(4, 12), BatchScheduler.Policy.IN_FLIGHT, 4, 5).withWatermark(2).run(atOnce);
            for (BatchScheduler.Outcome o : plain.outcomes()) assertArrayEquals(alone.get(o.request().id()), o.output(), "at once " + o.request().id());
            assertTrue(plain.preemptions() > 0, "the small cache forces preemptions, so recomputation is exercised");
            for (BatchScheduler.Outcome o : paced.outcomes()) assertArrayEquals(alone.get(o.request().id()), o.output(), "watermark " + o.request().id());
            assertTrue(paced.preemptions() < plain.preemptions(), "preemptions " + paced.preemptions() + " with the watermark, " + plain.preemptions() + " without");
        }
    }

    /**
     * A step whose rows do not fit one padded shape together (one row's past near the model's positions, another's long
     * prompt) gives each row the logits it gets alone: the runner splits the step (it had indexed past its logits).
     */
    @Test void rowsThatDoNotFitOnePaddedShapeTogetherGetTheirLogitsAlone() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        int max = c.maxPositions();
        long[] longPast = new long[max - 3], prompt = new long[max / 2 + 1];
        for (int i = 0; i < longPast.length; i++) longPast[i] = (7L * i + 3) % c.vocab();
        for (int i = 0; i < prompt.length; i++) prompt[i] = (11L * i + 5) % c.vocab();
        DecoderRunner runner = new DecoderRunner("llama-tiny", c, 3);
        PagedKvCache together = runner.newCache(16, 64), aloneA = runner.newCache(16, 64), aloneB = runner.newCache(16, 64);
        runner.step(List.of(new DecoderRunner.Row("a", longPast)), together);
        runner.step(List.of(new DecoderRunner.Row("a", longPast)), aloneA);
        List<float[]> both = runner.step(List.of(new DecoderRunner.Row("a", new long[] {42}), new DecoderRunner.Row("b", prompt)), together);
        float[] a = runner.step(List.of(new DecoderRunner.Row("a", new long[] {42})), aloneA).getFirst();
        float[] b = runner.step(List.of(new DecoderRunner.Row("b", prompt)), aloneB).getFirst();
        assertEquals(2, both.size());
        for (int v = 0; v < a.length; v++) {
            assertEquals(a[v], both.get(0)[v], 1e-4, "row a, logit " + v);
            assertEquals(b[v], both.get(1)[v], 1e-4, "row b, logit " + v);
        }
        assertEquals(max - 2, together.length("a"));
        assertEquals(prompt.length, together.length("b"));
    }

    @Test void aWatermarkIsRefusedWhereItMeansNothing() {
        DecoderRunner runner = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BatchScheduler(runner, runner.newCache(4, 12), BatchScheduler.Policy.STATIC, 4, 5).withWatermark(1))
                .getMessage().contains("static batching reserves"));
        assertEquals("a KV watermark of 12 blocks must lie in [0, 12), the cache's blocks",
                assertThrows(IllegalArgumentException.class, () -> new BatchScheduler(runner, runner.newCache(4, 12), BatchScheduler.Policy.IN_FLIGHT, 4, 5).withWatermark(12)).getMessage());
    }

    @Test
    void aRequestThatCanNeverFitIsRefusedByNameAndTheOthersRun() {
        DecoderConfig c = Zoo.decoder("gpt2-tiny", 0);
        DecoderRunner runner = new DecoderRunner("gpt2-tiny", c, SEED);
        long[] longPrompt = new long[129];
        List<Request> requests = List.of(
                new Request("fine", new long[] {1, 2, 3}, 4, 0, Sampler.greedy()),
                new Request("too-long", longPrompt, 1, 0, Sampler.greedy()),
                new Request("too-big", new long[] {1, 2}, 60, 0, Sampler.greedy()),
                new Request("bad-token", new long[] {1, 512}, 2, 0, Sampler.greedy()));
        var report = new BatchScheduler(runner, runner.newCache(4, 8), BatchScheduler.Policy.IN_FLIGHT, 4, 8).run(requests);
        assertFalse(report.outcomes().get(0).refused());
        assertEquals("request too-long: its prompt of 129 tokens is longer than gpt2-tiny's 128 positions", report.outcomes().get(1).refusal());
        assertEquals("request too-big: 62 tokens need 16 KV blocks of 4 and the cache has 8", report.outcomes().get(2).refusal());
        assertTrue(report.outcomes().get(3).refusal().contains("prompt token 512 is outside gpt2-tiny's vocabulary"), report.outcomes().get(3).refusal());
        assertEquals(4, report.generatedTokens());
    }
}
