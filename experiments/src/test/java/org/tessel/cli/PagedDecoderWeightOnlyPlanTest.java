package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedMerge;
import org.tessel.tactics.plan.PlannedNode;

/**
 * A weight-only quantized paged decode step (the runner's {@code --weights int4:128} / {@code int8}: the quantize-weights
 * pass, lm_head left floating) planned as the GPU runner plans it ({@link DecoderModels#pagedPlanner}, FP16) takes the
 * FP16 step's fusions on {@code tessel.gemv.weight_only}: Q/K/V and gate/up merged (their codes, scales stacked) with
 * each layer's norms fused into the wide GEMVs (rmsnorm_gemm), SiLU(gate) * up and the residual in down_proj's
 * (eltwise_gemm), o_proj's residual in its epilogue (gemm_bias_act): 5 kernels a layer, where there were 13
 * (norm, q, k, v, attention, o, Add, norm, gate, up, SiLU*up, down, Add) before.
 */
class PagedDecoderWeightOnlyPlanTest {
    static void check(String weights) {
        int layers = 2;
        Graph step = Zoo.buildPagedDecoder("llama-1b", Zoo.decoder("llama-1b", layers), new PagedDecoderShape(1, 1, 2, 4, 8), 7);
        LlmQuantization.uncalibrated(QuantizationSpec.parse(weights, false, null)).apply(step);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h200-measured", Precision.FP16).plan(step);
        List<PlannedNode> kernels = PagedDecoderGemvProloguePlanTest.kernels(a);
        List<PlannedNode> layer0 = kernels.stream().filter(n -> n.node().startsWith("model.layers.0.")).toList();
        System.out.printf("RESULT|llama-1b %s decode step: %d kernels in all, %d in layer 0: %s%n", weights, kernels.size(), layer0.size(),
                layer0.stream().map(n -> n.node() + ":" + n.tacticId() + "@" + n.precision()).toList());
        List<PlannedMerge> merges = a.plan().merges();
        assertEquals(2 * layers, merges.size(), weights + ": " + merges);
        for (PlannedMerge m : merges) assertEquals("weight_only", m.kind(), m.toString());
        for (String kind : List.of("rmsnorm_gemm", "eltwise_gemm", "gemm_bias_act")) {
            List<FusedGroup> gs = a.plan().groups().stream().filter(g -> g.kind().equals(kind)).filter(g -> g.name().startsWith("model.layers.")).toList();
            assertEquals(kind.equals("rmsnorm_gemm") ? 2 * layers : layers, gs.size(), weights + " " + kind + ": " + a.plan().groups());
            for (FusedGroup g : gs) assertEquals("tessel.gemv.weight_only", a.plan().byName().get(g.name()).tacticId(), g.toString());
        }
        assertEquals(List.of(), a.plan().nodes().stream().filter(n -> n.tacticId().equals("tessel.rmsnorm") || n.node().startsWith("model.layers.") && n.tacticId().startsWith("tessel.eltwise")).toList(),
                weights);
        assertEquals(5, layer0.size(), layer0.toString());
    }

    @Test void int4DecodeLayerTakesTheMergesAndPrologueFusions() { check("int4:128"); }

    @Test void int8DecodeLayerTakesTheMergesAndPrologueFusions() { check("int8"); }

    /**
     * 4-bit prefill chunks (past the GEMV's 16 rows) planned as the runner plans them: every quantized projection, merged
     * or not, takes tessel.gemm.weight_only at FP16 in the form the search priced cheapest: the dequant form (the weight
     * dequantized into the workspace, then cuBLASLt) at 32 and at 128 tokens, where the tensor-core mma kernel's 64x64
     * tiles reach an eighth of the peak (the model's mma price for q/k/v at 32 tokens 12.3 us, dequant 9.2 us).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} tokens")
    @org.junit.jupiter.params.provider.CsvSource({"32,dequant", "128,dequant"})
    void int4PrefillProjectionsTakeTheCheapestTensorCoreForm(int tokens, String form) {
        Graph step = Zoo.buildPagedDecoder("llama-1b", Zoo.decoder("llama-1b", 2), new PagedDecoderShape(1, tokens, 8, 16, 16), 7);
        LlmQuantization.uncalibrated(QuantizationSpec.parse("int4:128", false, null)).apply(step);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h200-measured", Precision.FP16).plan(step);
        List<PlannedNode> gemms = a.plan().nodes().stream().filter(n -> n.tacticId().equals("tessel.gemm.weight_only")).toList();
        System.out.printf("RESULT|llama-1b int4:128 prefill of %d tokens: %s%n", tokens, gemms.stream().map(n -> n.node() + ":" + n.variant() + "@" + n.precision()).toList());
        assertEquals(2 * 4, gemms.size(), a.plan().nodes().toString()); // q/k/v merged, o_proj, gate/up merged, down_proj (lm_head stays floating)
        for (PlannedNode n : gemms) {
            assertEquals(form, n.variant(), n.toString());
            assertEquals(Precision.FP16, n.precision(), n.toString());
        }
    }
}
