package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;

/**
 * The zoo decoders' decode form, exported to ONNX, runs in ONNX Runtime with the reference
 * interpreter's logits and present K/V: a padded batch (two cache lengths) with the KV-cache
 * inputs and outputs named as transformers' exports.
 */
class DecoderOrtTest {
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void decodeFormMatchesOnnxRuntime(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        Graph g = Zoo.buildDecoder(model, c, DecoderShape.decode(2, 6), 5);
        SplittableRandom r = new SplittableRandom(8);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 17, 402));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(2, 7), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 6, 3));
        for (Value v : g.inputs()) {
            if (!v.name().startsWith("past_key_values.")) continue;
            Tensor t = Tensor.zeros(v.type());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextGaussian());
            in.put(v.name(), t);
        }
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, in);
        Map<String, Tensor> got;
        try (OrtRunner ort = OrtRunner.open(OnnxExporter.toBytes(g), Map.of(), model + " decode")) {
            got = ort.run(in, List.copyOf(want.keySet()));
        }
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            Tensor w = want.get(k), h = got.get(k);
            assertEquals(w.shape(), h.shape(), k);
            double worst = 0;
            for (int i = 0; i < w.size(); i++) worst = Math.max(worst, Math.abs(w.getDouble(i) - h.getDouble(i)) / Math.max(1, Math.abs(w.getDouble(i))));
            assertTrue(worst < 1e-4, model + " " + k + ": ONNX Runtime differs by " + worst);
        }
    }
}
