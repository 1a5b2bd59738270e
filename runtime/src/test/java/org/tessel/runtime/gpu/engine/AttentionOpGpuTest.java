package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * ONNX Attention and Einsum decomposed and run by GPU engines on a GPU, cuBLASLt included, against the CPU engine
 * (AttentionOpEmulatedTest's forms and bounds, at sizes closer to a model's).
 */
@Tag("gpu")
class AttentionOpGpuTest {
    @Test void attentionAndEinsumMatchTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(7);
        Tensor q = AttentionOpEmulatedTest.random(r, 2, 128, 512), k = AttentionOpEmulatedTest.random(r, 2, 128, 512), v = AttentionOpEmulatedTest.random(r, 2, 128, 512);
        for (Attributes a : List.of(Attributes.empty(), Attributes.builder().put("is_causal", 1L).build())) {
            List<String> t = AttentionOpEmulatedTest.check(ctx, false, AttentionOpEmulatedTest.oneNode("Attention", AttentionOpEmulatedTest.heads(a, 8, 8), 1, q, k, v), q, k, v);
            assertTrue(t.contains(GpuTactics.ATTENTION_MMA) || t.contains(GpuTactics.ATTENTION_BSHD), t.toString());
            System.out.printf("RESULT|Attention 3-D %s|%s%n", a, t);
        }
        Tensor qg = AttentionOpEmulatedTest.random(r, 1, 32, 16, 64), kg = AttentionOpEmulatedTest.random(r, 1, 8, 200, 64), vg = AttentionOpEmulatedTest.random(r, 1, 8, 200, 64);
        Attributes causal = Attributes.builder().put("is_causal", 1L).build();
        System.out.printf("RESULT|Attention 4-D GQA causal|%s%n",
                AttentionOpEmulatedTest.check(ctx, false, AttentionOpEmulatedTest.oneNode("Attention", causal, 1, qg, kg, vg), qg, kg, vg));
        Tensor ea = AttentionOpEmulatedTest.random(r, 4, 8, 64, 32), eb = AttentionOpEmulatedTest.random(r, 4, 8, 96, 32);
        System.out.printf("RESULT|Einsum bhqd,bhkd->bhqk|%s%n", AttentionOpEmulatedTest.check(ctx, false,
                AttentionOpEmulatedTest.oneNode("Einsum", Attributes.builder().put("equation", "bhqd,bhkd->bhqk").build(), 1, ea, eb), ea, eb));
    }
}
