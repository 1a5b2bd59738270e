package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
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

    @Test void aGraphWithAnUnsupportedOpIsRefusedNamingTheNodeAndEveryMissingOp() {
        NetworkBuilder b = new NetworkBuilder("two_missing");
        Value x = b.input("x", DType.F32, 1, 2, 4, 4);
        Value seq = b.op("Reshape", null, x, b.longs("rs", 2, 4, 4));
        Value gru = b.op("GRU", org.tessel.api.Attributes.builder().put("hidden_size", 4L).build(), seq,
                b.constant("wg", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 12, 4))), b.constant("rg", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 12, 4))));
        Value rnn = b.op("RNN", org.tessel.api.Attributes.builder().put("hidden_size", 4L).build(), b.op("Reshape", null, gru, b.longs("rs2", 2, 4, 4)),
                b.constant("wr", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 4, 4))), b.constant("rr", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 4, 4))));
        Graph g = b.output(b.op("Tanh", null, rnn)).build();
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
        assertTrue(e.getMessage().contains("graph 'two_missing'"), e.getMessage());
        assertTrue(e.getMessage().contains("node '"), e.getMessage());
        assertTrue(e.getMessage().contains("GRU") && e.getMessage().contains("RNN"), e.getMessage());
    }

    @Test void aLoneUnsupportedOpIsNamed() {
        NetworkBuilder b = new NetworkBuilder("one_rnn");
        Value x = b.input("x", DType.F32, 3, 2, 5);
        Graph g = b.output(b.op("RNN", org.tessel.api.Attributes.builder().put("hidden_size", 4L).build(), x,
                b.constant("w", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 4, 5))), b.constant("r", org.tessel.api.Tensor.zeros(DType.F32, org.tessel.api.Shape.of(1, 4, 4))))).build();
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
        assertTrue(e.getMessage().contains("(RNN) has no GPU kernel"), e.getMessage());
    }
}
