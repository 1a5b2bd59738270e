package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;

/**
 * The zoo's decoders: their graph forms and cache tensors, the published sizes of the full ones
 * (built without drawing their weights), and the property that makes a KV cache correct: a prefill
 * followed by single-token decode steps gives the logits of one pass over the whole sequence.
 */
class DecoderTest {
    private static final long SEED = 7;

    /**
     * A deferred weight is drawn once: a copy of the graph (what every pass pipeline makes) takes the tensor its original
     * drew, and so does a graph of the same model in another shape (a decoder's next step bucket), while another seed draws
     * its own.
     */
    @Test
    void deferredWeightsAreDrawnOnceForCopiesAndForOtherShapesOfTheModel() {
        Graph decode = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, 1, 4), SEED);
        Graph copy = decode.copy();
        String w = "model.layers.0.mlp.down_proj.weight";
        Value inCopy = copy.value(w), inOriginal = decode.value(w);
        assertTrue(inCopy.isDeferred() && inOriginal.isDeferred(), "llama-tiny's projections are deferred");
        Tensor drawn = inCopy.constantValue();
        assertTrue(drawn == inOriginal.constantValue(), "the copy's read drew the original's tensor");
        Graph prefill = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, 8, 0), SEED);
        assertTrue(drawn == prefill.value(w).constantValue(), "another shape of the model takes the tensor drawn for the first");
        Tensor other = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, 1, 4), SEED + 1).value(w).constantValue();
        assertTrue(other != drawn && other.getFloat(0) != drawn.getFloat(0), "another seed draws its own weights");
    }

    @Test
    void fullSizeDecodersHaveTheirPublishedParameterCountsAndBuildWithoutTheirWeights() {
        long t0 = System.nanoTime();
        Graph llama = Zoo.build("llama-1b");
        Graph gpt2 = Zoo.build("gpt2");
        double seconds = (System.nanoTime() - t0) / 1e9;
        // 4.4 GB of f32 weights would not fit the test JVM's heap; deferred constants are never drawn
        assertTrue(seconds < 20, "building both graphs took " + seconds + " s");
        assertEquals(1_100_048_384L + 32, ModelStats.of(llama).parameters(), "TinyLlama-1.1B plus RoPE's 32-float inv_freq buffer");
        assertEquals(124_439_808L, ModelStats.of(gpt2).parameters(), "GPT-2 small with its head tied to wte");
        for (Value c : llama.constants())
            if (c.type().numElements() > 1 << 16) assertTrue(c.isDeferred(), c.name() + " is drawn eagerly");
        DecoderConfig c = Zoo.decoder("llama-1b", 0);
        assertEquals(22, c.layers());
        assertEquals(64, c.headDim());
        assertEquals(4, c.kvHeads());
        assertEquals(Shape.of(1, 4, 128, 64), llama.value("present.21.key").type().shape());
    }

    @Test
    void decodeFormTakesAndReturnsTheCacheNamedAsTransformersExports() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        Graph g = Zoo.buildDecoder("llama-tiny", c, DecoderShape.decode(3, 9), SEED);
        List<String> inputs = g.inputs().stream().map(Value::name).toList();
        assertEquals(List.of("input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value",
                "past_key_values.1.key", "past_key_values.1.value"), inputs);
        assertEquals(Shape.of(3, 10), g.value("attention_mask").type().shape());
        assertEquals(Shape.of(3, 2, 9, 16), g.value("past_key_values.1.value").type().shape(), "2 KV heads of 16");
        assertEquals(List.of("logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"),
                g.outputs().stream().map(Value::name).toList());
        assertEquals(Shape.of(3, 1, 512), g.value("logits").type().shape());
        assertEquals(Shape.of(3, 2, 10, 16), g.value("present.0.key").type().shape());
        Graph prefill = Zoo.build("gpt2-tiny", ZooOptions.defaults().withBatch(2).withSequenceLength(5));
        assertEquals(List.of("input_ids", "attention_mask", "position_ids"), prefill.inputs().stream().map(Value::name).toList());
        assertEquals(Shape.of(2, 4, 5, 16), prefill.value("present.1.value").type().shape());
    }

    @Test
    void tooLongAContextIsRefusedNamingTheLengths() {
        DecoderConfig c = Zoo.decoder("gpt2-tiny", 0);
        var e = assertThrows(IllegalArgumentException.class, () -> Zoo.buildDecoder("gpt2-tiny", c, DecoderShape.decode(1, 128), SEED));
        assertTrue(e.getMessage().contains("at most 128 positions") && e.getMessage().contains("128 cached + 1 new"), e.getMessage());
        var notDecoder = assertThrows(IllegalArgumentException.class, () -> Zoo.decoder("bert-tiny", 0));
        assertTrue(notDecoder.getMessage().contains("not a decoder") && notDecoder.getMessage().contains("llama-tiny"), notDecoder.getMessage());
    }

    /** Prefill of the first tokens then one decode step per token equals the full pass, for both families and a tied/untied head. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "gpt2-tiny:untied"})
    void prefillThenCachedDecodeEqualsTheFullSequence(String spec) {
        String model = spec.split(":")[0];
        DecoderConfig c = Zoo.decoder(model, 0);
        if (spec.endsWith(":untied")) c = c.withTiedHead(false);
        long[] tokens = {17, 3, 400, 99, 250, 8, 1, 511, 42};
        int prompt = 4, n = tokens.length;
        Tensor full = run(model, c, DecoderShape.prefill(1, n), tokens, 0, null).get("logits");

        Map<String, Tensor> out = run(model, c, DecoderShape.prefill(1, prompt), java.util.Arrays.copyOf(tokens, prompt), 0, null);
        assertClose(slice(full, 0, prompt, c.vocab()), out.get("logits"), spec + " prefill");
        for (int t = prompt; t < n; t++) {
            out = run(model, c, DecoderShape.decode(1, t), new long[] {tokens[t]}, t, out);
            assertClose(slice(full, t, t + 1, c.vocab()), out.get("logits"), spec + " decode of token " + t);
        }
        assertEquals(Shape.of(1, c.kvHeads(), n, c.headDim()), out.get("present.1.key").shape());
    }

    /**
     * A batch of two sequences with different cache lengths (the shorter one's cache padded, its
     * padding masked) gives each sequence the logits it gets alone.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void paddedBatchedDecodeEqualsEachSequenceAlone(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        long[] a = {5, 6, 7, 8, 9, 10}, b = {300, 301, 302};
        Map<String, Tensor> alone = run(model, c, DecoderShape.prefill(1, 5), java.util.Arrays.copyOf(a, 5), 0, null);
        Tensor wantA = run(model, c, DecoderShape.decode(1, 5), new long[] {a[5]}, 5, alone).get("logits");
        Map<String, Tensor> aloneB = run(model, c, DecoderShape.prefill(1, 2), java.util.Arrays.copyOf(b, 2), 0, null);
        Tensor wantB = run(model, c, DecoderShape.decode(1, 2), new long[] {b[2]}, 2, aloneB).get("logits");

        // batch: row 0 has 5 cached tokens, row 1 has 2 cached and 3 padding slots
        Graph g = Zoo.buildDecoder(model, c, DecoderShape.decode(2, 5), SEED);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), a[5], b[2]));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(2, 6), 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 5, 2));
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) {
                Tensor ra = alone.get("present." + l + "." + kv), rb = aloneB.get("present." + l + "." + kv);
                Tensor t = Tensor.zeros(DType.F32, Shape.of(2, c.kvHeads(), 5, c.headDim()));
                int hd = c.headDim();
                for (int h = 0; h < c.kvHeads(); h++)
                    for (int p = 0; p < 5; p++)
                        for (int d = 0; d < hd; d++) {
                            t.setDouble(((h) * 5 + p) * hd + d, ra.getDouble((h * 5 + p) * hd + d));
                            // padding slots hold garbage: the mask must hide them
                            t.setDouble(((c.kvHeads() + h) * 5 + p) * hd + d, p < 2 ? rb.getDouble((h * 2 + p) * hd + d) : 1e3 * (d + 1));
                        }
                in.put("past_key_values." + l + "." + kv, t);
            }
        Tensor got = new ReferenceInterpreter().run(g, in).get("logits");
        assertClose(wantA, slice(got, 0, 1, c.vocab()), model + " row 0");
        assertClose(wantB, Tensor.ofFloats(Shape.of(1, 1, c.vocab()), java.util.Arrays.copyOfRange(got.floats(), c.vocab(), 2 * c.vocab())), model + " row 1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void decodeFormSurvivesOnnxExportAndImport(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        Graph g = Zoo.buildDecoder(model, c, DecoderShape.decode(2, 3), SEED);
        Graph back = OnnxImporter.importModel(OnnxExporter.toBytes(g), model + ".onnx");
        assertEquals(g.inputs().stream().map(Value::name).toList(), back.inputs().stream().map(Value::name).toList());
        Map<String, Tensor> in = TinyModelRunTest.inputs(g, 3);
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 4, 9));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 3, 3));
        in.put("attention_mask", Tensor.full(DType.I64, Shape.of(2, 4), 1));
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, in), got = new ReferenceInterpreter().run(back, in);
        for (String k : want.keySet()) assertClose(want.get(k), got.get(k), model + " " + k);
    }

    /** Runs a form with tokens at positions start.., the cache taken from a previous run's presents. */
    static Map<String, Tensor> run(String model, DecoderConfig c, DecoderShape s, long[] tokens, int start, Map<String, Tensor> previous) {
        Graph g = Zoo.buildDecoder(model, c, s, SEED);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, tokens.length), tokens));
        in.put("attention_mask", Tensor.full(DType.I64, Shape.of(1, start + tokens.length), 1));
        long[] pos = new long[tokens.length];
        for (int i = 0; i < pos.length; i++) pos[i] = start + i;
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, tokens.length), pos));
        if (s.pastLength() > 0)
            for (int l = 0; l < c.layers(); l++) {
                in.put("past_key_values." + l + ".key", previous.get("present." + l + ".key"));
                in.put("past_key_values." + l + ".value", previous.get("present." + l + ".value"));
            }
        return new ReferenceInterpreter().run(g, in);
    }

    static Tensor slice(Tensor logits, int from, int to, int vocab) {
        return Tensor.ofFloats(Shape.of(1, to - from, vocab), java.util.Arrays.copyOfRange(logits.floats(), from * vocab, to * vocab));
    }

    static void assertClose(Tensor want, Tensor got, String what) {
        assertEquals(want.shape(), got.shape(), what);
        List<String> bad = new ArrayList<>();
        double spread = 0;
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i), g = got.getDouble(i);
            spread = Math.max(spread, Math.abs(w - want.getDouble(0)));
            if (!(Math.abs(w - g) <= 1e-4 * Math.max(1, Math.abs(w))) && bad.size() < 5) bad.add("[" + i + "] " + w + " vs " + g);
        }
        assertTrue(bad.isEmpty(), what + ": " + bad);
        assertTrue(want.size() == 1 || spread > 1e-3 || what.contains("present"), what + ": the values do not vary (" + spread + "), the comparison would prove nothing");
    }
}
