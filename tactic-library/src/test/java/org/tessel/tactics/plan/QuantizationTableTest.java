package org.tessel.tactics.plan;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/**
 * The INT8 (and FP8) scales a plan carries: written to and read back from JSON exactly (floats survive), the
 * plan's other constructors give an empty table, and every malformed table is refused naming the
 * file and the key or tensor.
 */
class QuantizationTableTest {
    private static final String V3 = "{\"plan_version\": 3, \"model\": \"m\", \"strategy\": \"s\", \"target\": \"t\", \"groups\": [], "
            + "\"nodes\": [{\"node\": \"c\", \"op\": \"Conv\", \"tactic\": \"cudnn.conv.fused_bias_act\", \"precision\": \"int8\", \"layout\": \"nhwc\"}]";

    @Test void scalesRoundTripThroughJsonExactly() {
        EnginePlan p = new EnginePlan("m", "joint", "h100", 0, List.of(),
                List.of(new PlannedNode("c", "Conv", "cudnn.conv.fused_bias_act", "", Precision.INT8, Layout.NHWC, 0, 1.5)), List.of(), 1.5, 1.0);
        assertEquals(QuantizationTable.EMPTY, p.quantization(), "the constructors without a table give the empty one");
        assertFalse(EnginePlanJson.write(p).contains("quantization"), "a plan without INT8 writes no table");
        QuantizationTable q = new QuantizationTable("entropy", Map.of("x", 0.017_345_67f, "c", 1f / 127, "tiny", 1.4e-45f), Map.of("fc", "no INT8 tactic runs it"));
        EnginePlan withQ = p.withQuantization(q);
        String json = EnginePlanJson.write(withQ);
        assertTrue(json.contains("\"quantization\"") && json.contains("\"calibrator\" : \"entropy\""), json);
        EnginePlan back = EnginePlanJson.read(json, "plan.json");
        assertEquals(withQ, back);
        assertEquals(0.017_345_67f, back.quantization().scale("x"));
        assertEquals(1.4e-45f, back.quantization().scale("tiny"));
        assertTrue(Float.isNaN(back.quantization().scale("nope")));
        assertTrue(withQ.render().contains("int8: 3 tensor scales (calibrator entropy)") && withQ.render().contains("int8 fallback fc: no INT8 tactic runs it"), withQ.render());
        assertEquals(q, withQ.withStrategy("other").withNodes(withQ.nodes()).quantization(), "withers keep the table");
    }

    @Test void fp8TablesRecordTheirFormatAndPlanCheckHoldsNodesToIt() {
        EnginePlan p = new EnginePlan("m", "joint", "h100", 0, List.of(),
                List.of(new PlannedNode("c", "Conv", "cublaslt.conv.im2col", "", Precision.FP8, Layout.NHWC, 0, 1.5)), List.of(), 1.5, 1.0);
        QuantizationTable q = new QuantizationTable("minmax", Map.of("x", 0.25f / 448), Map.of(), Precision.FP8);
        String json = EnginePlanJson.write(p.withQuantization(q));
        assertTrue(json.contains("\"format\" : \"fp8\""), json);
        assertEquals(q, EnginePlanJson.read(json, "plan.json").quantization());
        assertFalse(EnginePlanJson.write(p.withQuantization(new QuantizationTable("minmax", Map.of("x", 1f), Map.of()))).contains("format"),
                "an INT8 table is written as before FP8");
        assertTrue(p.withQuantization(q).render().contains("fp8: 1 tensor scales (calibrator minmax)"), p.withQuantization(q).render());
        assertEquals("p.json: quantization.format: 'fp16' is not a quantized precision (int8, fp8)", assertThrows(PlanException.class,
                () -> EnginePlanJson.read(V3 + ", \"quantization\": {\"calibrator\": \"minmax\", \"format\": \"fp16\", \"scales\": {}}}", "p.json")).getMessage());
        assertThrows(PlanException.class, () -> new QuantizationTable("minmax", Map.of(), Map.of(), Precision.BF16));
    }

    @Test void weightChannelScalesRoundTripExactlyAndAreCheckedAgainstTheChannels() {
        EnginePlan p = new EnginePlan("m", "joint", "h100", 0, List.of(),
                List.of(new PlannedNode("c", "Conv", "cudnn.conv.fused_bias_act", "", Precision.INT8, Layout.NHWC, 0, 1.5)), List.of(), 1.5, 1.0);
        float[] w = {0.017_345_67f, 1f / 127, 1.4e-45f};
        QuantizationTable q = new QuantizationTable(QuantizationTable.EXPLICIT, Map.of("x", 0.5f), Map.of(), Precision.INT8, Map.of("c_w", w));
        w[0] = 9f; // the table keeps its own copy
        EnginePlan back = EnginePlanJson.read(EnginePlanJson.write(p.withQuantization(q)), "plan.json");
        assertEquals(q, back.quantization());
        assertArrayEquals(new float[] {0.017_345_67f, 1f / 127, 1.4e-45f}, back.quantization().weightScales("c_w", 3));
        assertNull(back.quantization().weightScales("other", 3), "a weight without scales is the builder's to quantize");
        assertNotEquals(q, new QuantizationTable(QuantizationTable.EXPLICIT, Map.of("x", 0.5f), Map.of(), Precision.INT8, Map.of("c_w", new float[] {1, 2, 3})));
        assertTrue(p.withQuantization(q).render().contains("int8: 1 tensor scales (calibrator qdq), the model's channel scales for 1 weights"), p.withQuantization(q).render());
        assertEquals("weight 'c_w' has 3 channel scales in the plan, but its node has 4 output channels",
                assertThrows(PlanException.class, () -> q.weightScales("c_w", 4)).getMessage());
        assertEquals("p.json: quantization.weights: weight 'w', channel 1: a scale is a number, got \"x\"", assertThrows(PlanException.class,
                () -> EnginePlanJson.read(V3 + ", \"quantization\": {\"calibrator\": \"qdq\", \"scales\": {}, \"weights\": {\"w\": [1, \"x\"]}}}", "p.json")).getMessage());
        assertEquals("p.json: quantization: scale of channel 0 of weight 'w' must be positive and finite, got 0.0", assertThrows(PlanException.class,
                () -> EnginePlanJson.read(V3 + ", \"quantization\": {\"calibrator\": \"qdq\", \"scales\": {}, \"weights\": {\"w\": [0]}}}", "p.json")).getMessage());
    }

    @Test void malformedTablesAreRefusedNamingTheKey() {
        Map<String, String> cases = Map.of(
                V3 + ", \"quantization\": {\"calibrator\": \"minmax\", \"scales\": {\"x\": \"big\"}}}", "p.json: quantization.scales: tensor 'x': a scale is a number, got \"big\"",
                V3 + ", \"quantization\": {\"calibrator\": \"minmax\", \"scales\": {\"x\": -0.5}}}", "p.json: quantization: quantization scale of tensor 'x' must be positive and finite, got -0.5",
                V3 + ", \"quantization\": {\"calibrator\": \"minmax\", \"scales\": {}, \"colour\": 1}}", "p.json: quantization: unknown key 'colour' (keys: calibrator, fallbacks, format, scales, weights)",
                V3 + ", \"quantization\": {\"scales\": {}}}", "p.json: quantization: missing key 'calibrator'",
                V3 + ", \"quantization\": {\"calibrator\": \"minmax\", \"scales\": {}, \"fallbacks\": {\"n\": 3}}}", "p.json: quantization.fallbacks: node 'n': the reason must be a string, got 3",
                V3.replace("\"plan_version\": 3", "\"plan_version\": 2") + ", \"quantization\": {\"calibrator\": \"minmax\", \"scales\": {}}}",
                "p.json: 'quantization' needs plan_version 3 or later (the file says 2)");
        for (var e : cases.entrySet()) assertEquals(e.getValue(), assertThrows(PlanException.class, () -> EnginePlanJson.read(e.getKey(), "p.json")).getMessage(), e.getKey());
    }
}
