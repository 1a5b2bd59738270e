package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.LoraOps;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.engine.Engine;

/**
 * Several LoRA adapters served at once: the CPU kernel equals the op's reference bit for bit, a
 * batch mixing adapters gives each row what it gets alone, generation through an adapter differs
 * from the base and repeats, and an adapter the runner does not serve is refused by name.
 */
class LoraServingTest {
    private static final long SEED = 3;

    static DecoderRunner runner(String model) {
        DecoderRunner base = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        Graph g = base.graph(new DecoderShape(1, 1, 0));
        return base.withAdapters(List.of(LoraAdapter.random("math", g, List.of("q", "k", "v", "o"), 4, 8, 11),
                LoraAdapter.random("code", g, List.of("q", "v", "mlp"), 8, 8, 12)));
    }

    @Test void cpuKernelEqualsTheReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(5);
        int batch = 4, tokens = 3, k = 70, n = 90, slots = 3, rank = 6;
        Graph g = new Graph("delta");
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(batch, tokens, k)));
        Value ids = g.addInput("ids", org.tessel.api.TensorType.of(DType.I64, Shape.of(batch)));
        Node d = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta", List.of(x, g.addConstant("a", normal(r, Shape.of(slots, rank, k))),
                g.addConstant("b", normal(r, Shape.of(slots, n, rank))), g.addConstant("s", Tensor.ofFloats(Shape.of(slots), 0.5f, 2f, 1.25f)), ids), Attributes.empty(), 1);
        g.setOutputs(List.of(d.output()));
        List<Tensor> in = List.of(normal(r, Shape.of(batch, tokens, k)), Tensor.ofLongs(DType.I64, Shape.of(batch), 2, 0, 3, 1));
        float[] want = new ReferenceInterpreter().run(g, in).getFirst().floats();
        float[] got = Engine.buildCpu(g).createContext().run(in).getFirst().floats();
        assertArrayEquals(want, got);
        for (int j = 0; j < tokens * n; j++) assertEquals(0f, got[tokens * n + j], "row 1 has no adapter");
    }

    @Test void theStandardPipelineLeavesEachDeltaANodeOfItsOwnSoTheKernelRunsIt() {
        DecoderRunner runner = runner("llama-tiny");
        Graph g = runner.graph(new DecoderShape(2, 1, 4));
        new org.tessel.passes.PassManager().run(g, org.tessel.passes.StandardPipelines.resolve("standard"));
        // math adapts q, k, v, o and code q, v and the MLP: 4 + 3 distinct layers per block, 2 blocks
        assertEquals(2 * 7, g.opHistogram().getOrDefault(LoraOps.DELTA, 0), g.opHistogram().toString());
        // the plan treats it as any op: the catalogue's CPU tactic takes it, at a finite cost
        var catalog = org.tessel.tactics.TacticCatalog.builtin();
        var host = new org.tessel.cost.CostModel(org.tessel.cost.DeviceSpec.h100Sxm());
        for (Node n : g.nodes())
            if (n.opName().equals(LoraOps.DELTA)) {
                var tactics = catalog.supported(n, org.tessel.cost.Precision.FP32, n.output().type().layout());
                assertTrue(tactics.contains(catalog.byId("cpu.reference")), n.describe() + ": " + tactics);
                double us = catalog.byId("cpu.reference").cost(host, n, org.tessel.cost.Precision.FP32, n.output().type().layout(), true).totalUs();
                assertTrue(us > 0 && Double.isFinite(us), n.describe() + ": " + us + " us");
            }
    }

    static Tensor normal(SplittableRandom r, Shape s) {
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(s, v);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "gpt2-tiny"})
    void aMixedBatchGivesEachRowWhatItGetsAlone(String model) {
        DecoderRunner runner = runner(model);
        long[][] prompts = {{11, 200, 37, 5}, {9, 8, 7, 6}, {300, 1, 2, 3}};
        String[] adapters = {"math", "code", null};
        PagedKvCache cache = runner.newCache(4, 32);
        List<DecoderRunner.Row> rows = new ArrayList<>();
        for (int i = 0; i < 3; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i], adapters[i]));
        List<float[]> mixed = runner.step(rows, cache);
        List<DecoderRunner.Row> decode = new ArrayList<>();
        for (int i = 0; i < 3; i++) decode.add(new DecoderRunner.Row("s" + i, new long[] {42 + i}, adapters[i]));
        List<float[]> mixedDecode = runner.step(decode, cache);
        for (int i = 0; i < 3; i++) {
            PagedKvCache own = runner.newCache(4, 32);
            float[] alone = runner.step(List.of(rows.get(i)), own).getFirst();
            float[] aloneDecode = runner.step(List.of(decode.get(i)), own).getFirst();
            assertArrayEquals(alone, mixed.get(i), "row " + i + " (adapter " + adapters[i] + ") prefill");
            assertArrayEquals(aloneDecode, mixedDecode.get(i), "row " + i + " (adapter " + adapters[i] + ") decode");
        }
        // and the adapters matter: the same prompt through each gives three different logit vectors
        PagedKvCache c2 = runner.newCache(4, 32);
        List<float[]> same = runner.step(List.of(new DecoderRunner.Row("x", prompts[0], "math"), new DecoderRunner.Row("y", prompts[0], "code"),
                new DecoderRunner.Row("z", prompts[0], null)), c2);
        assertFalse(java.util.Arrays.equals(same.get(0), same.get(2)));
        assertFalse(java.util.Arrays.equals(same.get(1), same.get(2)));
        assertFalse(java.util.Arrays.equals(same.get(0), same.get(1)));
    }

    @Test void generationThroughAnAdapterDiffersFromTheBaseAndRepeats() {
        long[] prompt = {11, 200, 37, 5, 480};
        Map<String, long[]> first = generate(), again = generate();
        for (String id : first.keySet()) assertArrayEquals(first.get(id), again.get(id), id);
        assertFalse(java.util.Arrays.equals(first.get("base"), first.get("math")), "math adapter: " + java.util.Arrays.toString(first.get("math")));
        assertFalse(java.util.Arrays.equals(first.get("base"), first.get("code")), "code adapter: " + java.util.Arrays.toString(first.get("code")));
        // served together, each equals what its runner gives it alone
        DecoderRunner runner = runner("llama-tiny");
        for (String a : List.of("math", "code")) {
            var alone = new BatchScheduler(runner, runner.newCache(4, 16), BatchScheduler.Policy.IN_FLIGHT, 1, 8)
                    .run(List.of(new Request(a, prompt, 6, 0, Sampler.greedy(), a)));
            assertArrayEquals(alone.outcomes().getFirst().output(), first.get(a), a);
        }
    }

    static Map<String, long[]> generate() {
        DecoderRunner runner = runner("llama-tiny");
        long[] prompt = {11, 200, 37, 5, 480};
        var report = new BatchScheduler(runner, runner.newCache(4, 32), BatchScheduler.Policy.IN_FLIGHT, 4, 8).run(List.of(
                new Request("base", prompt, 6, 0, Sampler.greedy()), new Request("math", prompt, 6, 0, Sampler.greedy(), "math"),
                new Request("code", prompt, 6, 0, Sampler.greedy(), "code")));
        Map<String, long[]> out = new java.util.LinkedHashMap<>();
        for (var o : report.outcomes()) out.put(o.request().id(), o.output());
        return out;
    }

    @Test void anAdapterTheRunnerDoesNotServeIsRefusedByName() {
        DecoderRunner runner = runner("llama-tiny");
        var report = new BatchScheduler(runner, runner.newCache(4, 16), BatchScheduler.Policy.IN_FLIGHT, 2, 8).run(List.of(
                new Request("ok", new long[] {1, 2}, 2, 0, Sampler.greedy(), "math"), new Request("bad", new long[] {1, 2}, 2, 0, Sampler.greedy(), "poetry")));
        assertFalse(report.outcomes().get(0).refused());
        assertEquals("request bad: adapter 'poetry' is not loaded (loaded: math, code)", report.outcomes().get(1).refusal());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> runner.step(List.of(new DecoderRunner.Row("s", new long[] {1}, "poetry")), runner.newCache(4, 4)));
        assertEquals("sequence s: adapter 'poetry' is not loaded (loaded: math, code)", e.getMessage());
        DecoderRunner plain = new DecoderRunner("llama-tiny", DecoderConfig.LLAMA_TINY, SEED);
        e = assertThrows(IllegalArgumentException.class, () -> plain.step(List.of(new DecoderRunner.Row("s", new long[] {1}, "math")), plain.newCache(4, 4)));
        assertEquals("sequence s: adapter 'math' is not loaded (loaded: none)", e.getMessage());
    }
}
