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

    /**
     * An op no GPU tactic implements (every op the reference interpreter runs has one now): a plugin's, registered for the
     * test, as a third party would add it without a kernel.
     */
    static final class Lonely implements org.tessel.api.OpSchema {
        final String name;
        Lonely(String name) { this.name = name; }
        @Override public String name() { return name; }
        @Override public String domain() { return "test"; }
        @Override public String summary() { return "identity without a GPU kernel"; }
        @Override public int minInputs() { return 1; }
        @Override public int maxInputs() { return 1; }
        @Override public java.util.List<org.tessel.api.AttrSpec> attributes() { return java.util.List.of(); }
        @Override public java.util.Set<org.tessel.api.Trait> traits() { return java.util.Set.of(org.tessel.api.Trait.PURE); }
        @Override public java.util.List<org.tessel.api.TensorType> inferTypes(org.tessel.api.InferenceContext ctx) { return java.util.List.of(ctx.input(0)); }
        @Override public java.util.List<Tensor> evaluate(org.tessel.api.EvalContext ctx) { return java.util.List.of(ctx.input(0)); }
    }

    static org.tessel.api.OpRegistry.Installation lonelyOps() {
        return org.tessel.api.OpRegistry.install(org.tessel.api.OpRegistry.global().with("test", java.util.List.of(new Lonely("NoKernelA"), new Lonely("NoKernelB"))));
    }

    @Test void aGraphWithAnUnsupportedOpIsRefusedNamingTheNodeAndEveryMissingOp() throws Exception {
        try (var ops = lonelyOps()) {
            NetworkBuilder b = new NetworkBuilder("two_missing");
            Value x = b.input("x", DType.F32, 2, 4);
            Value a = b.node("test.NoKernelA", "wo", Attributes.empty(), 1, b.op("Tanh", null, x)).output();
            Value c = b.node("test.NoKernelB", "w8", Attributes.empty(), 1, b.op("Pad", null, a, b.longs("pads", 0, 0, 0, 1))).output();
            Graph g = b.output(b.op("Tanh", null, c)).build();
            GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
            assertTrue(e.getMessage().contains("graph 'two_missing'"), e.getMessage());
            assertTrue(e.getMessage().contains("node 'wo'"), e.getMessage());
            assertTrue(e.getMessage().contains("test.NoKernelA") && e.getMessage().contains("test.NoKernelB"), e.getMessage());
        }
    }

    @Test void aLoneUnsupportedOpIsNamed() throws Exception {
        try (var ops = lonelyOps()) {
            NetworkBuilder b = new NetworkBuilder("one_missing");
            Graph g = b.output(b.node("test.NoKernelA", "proj", Attributes.empty(), 1, b.input("x", DType.F32, 5, 4)).output()).build();
            GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.requireSupported(g));
            assertTrue(e.getMessage().contains("(test.NoKernelA) has no GPU kernel"), e.getMessage());
        }
    }

    /** The LLM quantized MatMuls have their GEMV/GEMM tactics: a weight-only projection is covered. */
    @Test void weightOnlyMatMulIsCovered() {
        NetworkBuilder b = new NetworkBuilder("weight_only");
        Value w = b.constant("proj_w", Tensor.ofLongs(DType.I8, Shape.of(3, 4), new long[12]));
        Value sc = b.constant("proj_s", Tensor.ofFloats(Shape.of(3, 1), 0.1f, 0.2f, 0.3f));
        Value y = b.node(QuantizedMatMulOps.WEIGHT_ONLY, "proj", Attributes.builder().put("bits", 8L).put("group_size", 4L).build(), 1, b.input("x", DType.F32, 5, 4), w, sc).output();
        Graph g = b.output(y).build();
        assertDoesNotThrow(() -> GpuEngine.requireSupported(g));
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
