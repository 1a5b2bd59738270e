package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

/** The GPU engine's op coverage check, which runs without a GPU. */
class GpuEngineSupportTest {
    static Graph optimized(String model) {
        Graph g = Zoo.build(model);
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    /** The models ZooEngineGpuTest runs on the GPU, and their tiny variants. */
    @Test void optimizedCnnsAreCovered() {
        for (String m : java.util.List.of("resnet50", "resnet50-tiny", "mobilenetv2", "mobilenetv2-tiny"))
            assertDoesNotThrow(() -> GpuEngine.requireSupported(optimized(m)), m);
    }

    /** The transformers ZooEngineGpuTest runs (BERT with its i64 ids and mask, ViT) are covered too. */
    @Test void optimizedTransformersAreCovered() {
        for (String m : java.util.List.of("bert-tiny", "bert-base", "vit-tiny", "vit"))
            assertDoesNotThrow(() -> GpuEngine.requireSupported(optimized(m)), m);
    }

    /** A [rows, 4] times a per-row INT8 weight [3, 4] (tessel.WeightOnlyMatMul, which no GPU tactic runs). */
    static Value weightOnly(NetworkBuilder b, String name, Value a) {
        Value w = b.constant(name + "_w", Tensor.ofLongs(DType.I8, Shape.of(3, 4), new long[12]));
        Value s = b.constant(name + "_s", Tensor.ofFloats(Shape.of(3, 1), 0.1f, 0.2f, 0.3f));
        return b.node(QuantizedMatMulOps.WEIGHT_ONLY, name, Attributes.builder().put("bits", 8L).put("group_size", 4L).build(), 1, a, w, s).output();
    }

    @Test void aGraphWithAnUnsupportedOpIsRefusedNamingTheNodeAndEveryMissingOp() {
        NetworkBuilder b = new NetworkBuilder("two_missing");
        Value x = b.input("x", DType.F32, 2, 4);
        Value wo = b.op("Tanh", null, weightOnly(b, "wo", x));
        Value w8 = b.node(QuantizedMatMulOps.W8A8, "w8", Attributes.empty(), 1, b.op("Pad", null, wo, b.longs("pads", 0, 0, 0, 1)),
                b.constant("w8_w", Tensor.ofLongs(DType.I8, Shape.of(2, 4), new long[8])), b.constant("w8_s", Tensor.ofFloats(Shape.of(2), 0.1f, 0.1f)),
                b.constant("w8_a", Tensor.ofFloats(Shape.of(), 0.05f))).output();
        Graph g = b.output(b.op("Tanh", null, w8)).build();
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
        assertTrue(e.getMessage().contains("graph 'two_missing'"), e.getMessage());
        assertTrue(e.getMessage().contains("node 'wo'"), e.getMessage());
        assertTrue(e.getMessage().contains(QuantizedMatMulOps.WEIGHT_ONLY) && e.getMessage().contains(QuantizedMatMulOps.W8A8), e.getMessage());
    }

    @Test void aLoneUnsupportedOpIsNamed() {
        NetworkBuilder b = new NetworkBuilder("one_weight_only");
        Graph g = b.output(weightOnly(b, "proj", b.input("x", DType.F32, 5, 4))).build();
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
        assertTrue(e.getMessage().contains("(" + QuantizedMatMulOps.WEIGHT_ONLY + ") has no GPU kernel"), e.getMessage());
    }

    /** The recurrent ops have tessel.recurrent: a GRU feeding an RNN is covered. */
    @Test void recurrentOpsAreCovered() {
        NetworkBuilder b = new NetworkBuilder("gru_rnn");
        Value seq = b.input("x", DType.F32, 2, 4, 4);
        Value gru = b.op("GRU", Attributes.builder().put("hidden_size", 4L).build(), seq,
                b.constant("wg", Tensor.zeros(DType.F32, Shape.of(1, 12, 4))), b.constant("rg", Tensor.zeros(DType.F32, Shape.of(1, 12, 4))));
        Value rnn = b.op("RNN", Attributes.builder().put("hidden_size", 4L).build(), b.op("Reshape", null, gru, b.longs("rs", 2, 4, 4)),
                b.constant("wr", Tensor.zeros(DType.F32, Shape.of(1, 4, 4))), b.constant("rr", Tensor.zeros(DType.F32, Shape.of(1, 4, 4))));
        Graph g = b.output(b.op("Tanh", null, rnn)).build();
        assertDoesNotThrow(() -> GpuEngine.requireSupported(g));
    }
}
