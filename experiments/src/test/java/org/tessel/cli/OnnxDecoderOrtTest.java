package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.llm.OnnxDecoderWriter;

/**
 * {@link OnnxDecoderWriter}'s decoder-with-past file is standard ONNX with dynamic axes: ONNX Runtime runs the one file at
 * several (batch, new, past) with the zoo's own step graph's logits and present K/V at that shape (a padded batch: garbage
 * in masked past slots, rows of different cached lengths).
 */
class OnnxDecoderOrtTest {
    @ParameterizedTest
    @CsvSource({"1,7,3", "2,1,6", "3,4,16"})
    void oneFileServesEveryShapeAsTheZoosStepGraphs(int batch, int n, int past) {
        DecoderConfig c = DecoderConfig.LLAMA_TINY;
        byte[] file = OnnxDecoderWriter.model("llama-tiny", c, 5, null, true).toByteArray();
        Graph zoo = Zoo.buildDecoder("llama-tiny", c, new DecoderShape(batch, n, past), 5);
        SplittableRandom r = new SplittableRandom(batch * 31L + n * 7L + past);
        int total = past + n;
        long[] ids = new long[batch * n], positions = new long[batch * n], mask = new long[batch * total];
        for (int b = 0; b < batch; b++) {
            int cached = past - b; // row b has b masked past slots at the end
            for (int j = 0; j < total; j++) mask[b * total + j] = j < cached || j >= past ? 1 : 0;
            for (int i = 0; i < n; i++) {
                ids[b * n + i] = r.nextInt(c.vocab());
                positions[b * n + i] = cached + i;
            }
        }
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(batch, n), ids));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(batch, total), mask));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(batch, n), positions));
        for (int l = 0; l < c.layers(); l++)
            for (String kind : List.of("key", "value")) {
                Tensor t = Tensor.zeros(DType.F32, Shape.of(batch, c.kvHeads(), past, c.headDim()));
                for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextGaussian());
                in.put("past_key_values." + l + "." + kind, t);
            }
        Map<String, Tensor> want = new ReferenceInterpreter().run(zoo, in);
        Map<String, Tensor> got;
        try (OrtRunner ort = OrtRunner.open(file, Map.of(), "llama-tiny with past")) {
            got = ort.run(in, List.copyOf(want.keySet()));
        }
        // and Tessel's import of the same file at this shape
        Graph imported = OnnxImporter.importModel(file, "llama-tiny with past", OnnxImporter.Options.defaults()
                .withDim("batch", batch).withDim("sequence_length", n).withDim("past_sequence_length", past).withDim("total_length", total));
        Map<String, Tensor> tessel = new ReferenceInterpreter().run(imported, in);
        for (String k : want.keySet()) {
            assertEquals(want.get(k).shape(), got.get(k).shape(), k);
            assertTrue(diff(want.get(k), got.get(k)) < 1e-4, k + ": ONNX Runtime on the file differs from the zoo graph by " + diff(want.get(k), got.get(k)));
            assertTrue(diff(want.get(k), tessel.get(k)) < 1e-4, k + ": Tessel's import of the file differs from the zoo graph by " + diff(want.get(k), tessel.get(k)));
        }
    }

    private static double diff(Tensor w, Tensor h) {
        double worst = 0;
        for (int i = 0; i < w.size(); i++) worst = Math.max(worst, Math.abs(w.getDouble(i) - h.getDouble(i)) / Math.max(1, Math.abs(w.getDouble(i))));
        return worst;
    }
}
