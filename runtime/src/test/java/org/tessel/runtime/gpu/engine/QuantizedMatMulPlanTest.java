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
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        List<PlannedNode> quantized = EnginePlans.complete(problem, Searcher.run(problem, strategy, o)).plan().nodes().stream()
                .filter(n -> n.op().equals("tessel.WeightOnlyMatMul")).toList();
        assertEquals(12, quantized.size(), "llama-tiny's projections but down_proj (K=172) are quantized");
        String want = step.equals("decode") ? GpuTactics.GEMV_WEIGHT_ONLY : GpuTactics.GEMM_WEIGHT_ONLY;
        assertTrue(quantized.stream().allMatch(n -> n.tacticId().equals(want)), strategy + " " + step + ": " + quantized);
    }
}
