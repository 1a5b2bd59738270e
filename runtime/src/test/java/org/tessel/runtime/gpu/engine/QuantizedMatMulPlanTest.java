package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The search plans the quantized MatMul tactics by their prices, without a GPU: on llama-tiny's weight-only quantized
 * decode step every projection gets the memory-bound GEMV and on its 32-token prefill the tiled GEMM, under the fixed
 * rule and under the joint search, at FP16 on the H200's measured target.
 */
class QuantizedMatMulPlanTest {
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"rule,decode", "rule,prefill", "joint,decode", "joint,prefill"})
    void theSearchPlansTheGemvForDecodeAndTheGemmForPrefill(String strategy, String step) {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        DecoderRunner runner = new DecoderRunner("llama-tiny", c, 42, LlmQuantization.uncalibrated(QuantizationSpec.parse("int4:32", false, null)));
        Graph g = runner.graph(step.equals("decode") ? new DecoderShape(1, 1, 8) : new DecoderShape(1, 32, 0));
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16))
                .withTimeLimit(java.time.Duration.ofSeconds(20));
        assertEquals(12, g.nodes().stream().filter(n -> n.opName().equals("tessel.WeightOnlyMatMul")).count(),
                "llama-tiny's projections but down_proj (K=172) are quantized");
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        var applied = EnginePlans.complete(problem, Searcher.run(problem, strategy, o));
        // what computes a quantized projection in the plan: the node itself, a merge of siblings (one wide node), or a fused
        // group around it (a prologue, the residual Add)
        java.util.Set<String> quantizedNodes = new java.util.HashSet<>();
        for (org.tessel.ir.Node n : applied.graph().nodes())
            if (n.opName().equals("tessel.WeightOnlyMatMul")
                    || n.body() != null && n.body().nodes().stream().anyMatch(b -> b.opName().equals("tessel.WeightOnlyMatMul"))) quantizedNodes.add(n.name());
        List<PlannedNode> quantized = applied.plan().nodes().stream().filter(n -> quantizedNodes.contains(n.node())).toList();
        assertTrue(quantized.size() >= 6, strategy + " " + step + ": " + quantized);
        String want = step.equals("decode") ? GpuTactics.GEMV_WEIGHT_ONLY : GpuTactics.GEMM_WEIGHT_ONLY;
        assertTrue(quantized.stream().allMatch(n -> n.tacticId().equals(want)), strategy + " " + step + ": " + quantized);
        if (step.equals("prefill")) {
            // the GEMM's forms are priced apart: at FP16 a tensor-core form (mma, or dequant's cuBLASLt), at FP32 dequant or
            // tiled (mma multiplies f16); the search runs this small step at FP32 (PagedDecoderWeightOnlyPlanTest has
            // llama-1b's FP16 prefill)
            for (PlannedNode n : quantized)
                assertTrue(n.precision() == Precision.FP16 ? java.util.Set.of("mma", "dequant").contains(n.variant()) : java.util.Set.of("dequant", "tiled").contains(n.variant()),
                        strategy + " " + n);
        }
    }
}
