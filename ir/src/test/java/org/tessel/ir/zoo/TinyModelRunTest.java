package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/** Runs every tiny variant through the reference interpreter: finite, well-shaped, seeded. */
class TinyModelRunTest {
    private static final List<String> TINY = List.of("resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny");

    /** Seeded inputs: normal images, token ids in the vocabulary, masks that pad the last quarter. */
    static Map<String, Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Value v : g.inputs()) {
            Shape s = v.type().shape();
            Tensor t = Tensor.zeros(v.type());
            switch (v.name()) {
                case "input_ids" -> { for (int i = 0; i < t.size(); i++) t.setLong(i, r.nextInt(1000)); }
                case "attention_mask" -> {
                    int seq = s.dim(1);
                    for (int i = 0; i < t.size(); i++) t.setLong(i, i % seq < seq - seq / 4 ? 1 : 0);
                }
                default -> { for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextGaussian()); }
            }
            m.put(v.name(), t);
        }
        return m;
    }

    static Map<String, Tensor> run(String model, ZooOptions o, long inputSeed) {
        Graph g = Zoo.build(model, o);
        return new ReferenceInterpreter().run(g, inputs(g, inputSeed));
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "vit-tiny"})
    void classifiersGiveFiniteProbabilitiesPerExample(String model) {
        Map<String, Tensor> out = run(model, ZooOptions.defaults().withBatch(2), 1);
        Tensor p = out.get("probabilities");
        assertEquals(Shape.of(2, 10), p.shape());
        for (int b = 0; b < 2; b++) {
            double sum = 0;
            for (int k = 0; k < 10; k++) {
                double v = p.getDouble(b * 10 + k);
                assertTrue(Double.isFinite(v) && v >= 0 && v <= 1, model + ": probability " + v);
                sum += v;
            }
            assertEquals(1.0, sum, 1e-4, model + ": row " + b + " sums to 1");
        }
        // the two examples differ, so the batch is not collapsed into one
        assertFalse(java.util.Arrays.equals(java.util.Arrays.copyOfRange(p.floats(), 0, 10), java.util.Arrays.copyOfRange(p.floats(), 10, 20)), model);
        // and the output is not saturated to one-hot, which would hide numerical trouble
        double max = 0;
        for (int i = 0; i < 20; i++) max = Math.max(max, p.getDouble(i));
        assertTrue(max < 0.999, model + ": saturated softmax, max probability " + max);
    }

    @Test
    void bertTinyGivesFiniteHiddenStatesAndPooledOutput() {
        Map<String, Tensor> out = run("bert-tiny", ZooOptions.defaults().withBatch(2), 1);
        Tensor h = out.get("last_hidden_state"), pooled = out.get("pooler_output");
        assertEquals(Shape.of(2, 16, 128), h.shape());
        assertEquals(Shape.of(2, 128), pooled.shape());
        assertAllFinite("bert-tiny", h);
        for (int i = 0; i < pooled.size(); i++) assertTrue(Math.abs(pooled.getDouble(i)) <= 1, "tanh output " + pooled.getDouble(i));
        // each position's hidden state is LayerNorm-ed with gamma near 1: mean near beta, unit-ish spread
        double mean = 0, sq = 0;
        for (int k = 0; k < 128; k++) { mean += h.getDouble(k); sq += h.getDouble(k) * h.getDouble(k); }
        mean /= 128;
        double sd = Math.sqrt(sq / 128 - mean * mean);
        assertTrue(Math.abs(mean) < 0.2 && sd > 0.8 && sd < 1.2, "mean " + mean + " sd " + sd);
    }

    @Test
    void bertMaskHidesPaddedTokens() {
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults());
        Map<String, Tensor> in = inputs(g, 3);
        Map<String, Tensor> a = new ReferenceInterpreter().run(g, in);
        // the last 4 of 16 positions are padding: changing their ids must not move the others
        Tensor ids = in.get("input_ids").copy();
        for (int i = 12; i < 16; i++) ids.setLong(i, (ids.getLong(i) + 17) % 1000);
        in.put("input_ids", ids);
        Map<String, Tensor> b = new ReferenceInterpreter().run(g, in);
        Tensor ha = a.get("last_hidden_state"), hb = b.get("last_hidden_state");
        for (int i = 0; i < 12 * 128; i++) assertEquals(ha.getDouble(i), hb.getDouble(i), 1e-5, "unmasked position " + i / 128);
        boolean paddedMoved = false;
        for (int i = 12 * 128; i < 16 * 128; i++) paddedMoved |= Math.abs(ha.getDouble(i) - hb.getDouble(i)) > 1e-4;
        assertTrue(paddedMoved, "the padded positions' own states depend on their ids");
    }

    @Test
    void sameSeedSameModelOtherSeedOtherModel() {
        for (String model : TINY) {
            Map<String, Tensor> a = run(model, ZooOptions.defaults().withSeed(5), 9);
            Map<String, Tensor> b = run(model, ZooOptions.defaults().withSeed(5), 9);
            Map<String, Tensor> c = run(model, ZooOptions.defaults().withSeed(6), 9);
            for (String k : a.keySet()) {
                assertTrue(a.get(k).dataEquals(b.get(k)), model + ": output " + k + " differs between two builds with seed 5");
                assertFalse(a.get(k).dataEquals(c.get(k)), model + ": output " + k + " is the same under seeds 5 and 6");
                assertAllFinite(model, a.get(k));
            }
        }
    }

    @Test
    void batchedRunMatchesSingleExampleRuns() {
        // every example goes through the network independently: no op mixes the batch
        for (String model : TINY) {
            Graph g4 = Zoo.build(model, ZooOptions.defaults().withBatch(2));
            Map<String, Tensor> in4 = inputs(g4, 11);
            Map<String, Tensor> out4 = new ReferenceInterpreter().run(g4, in4);
            Graph g1 = Zoo.build(model, ZooOptions.defaults());
            for (int ex = 0; ex < 2; ex++) {
                Map<String, Tensor> in1 = new LinkedHashMap<>();
                for (var e : in4.entrySet()) in1.put(e.getKey(), slice(e.getValue(), ex));
                Map<String, Tensor> out1 = new ReferenceInterpreter().run(g1, in1);
                for (String k : out1.keySet()) {
                    Tensor whole = slice(out4.get(k), ex), one = out1.get(k);
                    for (int i = 0; i < one.size(); i++)
                        assertEquals(one.getDouble(i), whole.getDouble(i), 1e-4 * Math.max(1, Math.abs(one.getDouble(i))), model + " " + k + " example " + ex);
                }
            }
        }
    }

    private static Tensor slice(Tensor t, int example) {
        int[] d = t.shape().dims();
        int per = (int) (t.shape().numElements() / d[0]);
        d[0] = 1;
        Tensor out = Tensor.zeros(t.dtype(), Shape.of(d));
        for (int i = 0; i < per; i++) {
            if (t.dtype() == DType.I64) out.setLong(i, t.getLong(example * per + i));
            else out.setDouble(i, t.getDouble(example * per + i));
        }
        return out;
    }

    private static void assertAllFinite(String model, Tensor t) {
        for (int i = 0; i < t.size(); i++) assertTrue(Double.isFinite(t.getDouble(i)), model + ": non-finite value at " + i);
    }
}
