package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * The deployment families of the zoo (EfficientNet, ConvNeXt, U-Net in both upsampling forms, the
 * CRNN-style recognizer, SSDLite) through the whole CPU path, tiny variants at batch 1: the
 * optimized graph matches the unoptimized one, the joint search solves a plan on h100, the CPU
 * engine built from that plan matches the reference interpreter and ONNX Runtime, and ONNX
 * Runtime runs Tessel's ONNX export of the model to the reference interpreter's outputs.
 */
class ZooFamiliesCliTest {
    @TempDir Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"efficientnet-b0-tiny", "convnext-tiny-tiny", "unet-tiny", "unet-bilinear-tiny", "crnn-tiny", "crnn-lstm-tiny", "ssdlite-tiny"})
    void optimizeSearchBuildAndCompareOnTheCpu(String model) throws Exception {
        String zoo = "zoo:" + model;
        CliRun opt = CliRun.of("optimize", zoo, "--check");
        assertEquals(0, opt.code(), opt.out() + opt.err());
        Graph g = Zoo.build(model, ZooOptions.defaults());
        for (Value out : g.outputs()) assertTrue(opt.out().contains("output %" + out.name() + ": matches the unoptimized graph"), opt.out());
        assertTrue(opt.out().contains("nodes: " + g.nodes().size() + " -> "), opt.out());

        Path plan = dir.resolve("plan.json"), engine = dir.resolve("m.engine");
        CliRun search = CliRun.of("search", zoo, "--target", "h100", "--strategy", "joint", "--plan-out", plan.toString());
        assertEquals(0, search.code(), search.out() + search.err());
        Matcher ms = Pattern.compile("predicted latency: ([0-9.]+) ms").matcher(search.out());
        assertTrue(ms.find(), search.out());
        assertTrue(Double.parseDouble(ms.group(1)) > 0, search.out());
        System.out.println(model + " joint h100 b1: " + ms.group(1) + " ms");

        CliRun build = CliRun.of("build", zoo, "--cpu", "--plan", plan.toString(), "--save-engine", engine.toString());
        assertEquals(0, build.code(), build.out() + build.err());
        assertEngineComputesTheModel(engine, g, model);
        // the command line's own comparison: ONNX Runtime on Tessel's export agrees with the reference interpreter
        CliRun cmp = CliRun.of("compare", engine.toString(), "--model", zoo, "--json");
        JsonNode root = new ObjectMapper().readTree(cmp.out());
        int ortChecked = 0;
        for (JsonNode out : root.get("outputs"))
            for (JsonNode c : out.get("comparisons"))
                if (c.get("a").asText().equals("onnxruntime") && c.get("b").asText().equals("reference")) {
                    assertTrue(c.get("pass").asBoolean(), c.toString());
                    ortChecked++;
                }
        assertEquals(g.outputs().size(), ortChecked, cmp.out());
    }

    /**
     * ssdlite-nms (the tiny twin): the joint search on h100 runs its EfficientNMS_TRT with tessel.nms.efficient, not the
     * host reference, and the CPU engine of an FP32 plan gives the reference's detections (count and classes exactly) (ONNX Runtime has no
     * TRT ops, so there is no comparison with it).
     */
    @org.junit.jupiter.api.Test
    void ssdLiteNmsPlansTheGpuNmsAndItsEngineDetectsAsTheReference() throws Exception {
        Path plan = dir.resolve("plan.json"), engine = dir.resolve("m.engine");
        CliRun search = CliRun.of("search", "zoo:ssdlite-nms-tiny", "--target", "h100", "--strategy", "joint", "--precisions", "fp32", "--plan-out", plan.toString());
        assertEquals(0, search.code(), search.out() + search.err());
        JsonNode nms = null;
        for (JsonNode n : new ObjectMapper().readTree(plan.toFile()).get("nodes")) if (n.get("op").asText().equals("TRT.EfficientNMS_TRT")) nms = n;
        assertTrue(nms != null && nms.get("tactic").asText().equals("tessel.nms.efficient"), String.valueOf(nms));
        CliRun build = CliRun.of("build", "zoo:ssdlite-nms-tiny", "--cpu", "--plan", plan.toString(), "--save-engine", engine.toString());
        assertEquals(0, build.code(), build.out() + build.err());
        Graph g = Zoo.build("ssdlite-nms-tiny", ZooOptions.defaults());
        List<Tensor> in = SearchPlanExecutionTest.inputs(g, 5);
        List<Tensor> want = new ReferenceInterpreter().run(g, in), got = Engine.load(engine, EngineHeader.Machine.cpu()).createContext().run(in);
        assertTrue(want.get(0).getLong(0) > 0, "the tiny detector detects something");
        // the count and classes exactly; boxes and scores within float rounding (the engine's fused decode is not the reference's float for float)
        for (int k : new int[] {0, 3}) assertTrue(want.get(k).dataEquals(got.get(k)), g.outputs().get(k).name());
        for (int k : new int[] {1, 2}) assertNull(Compare.allClose(want.get(k), got.get(k), 1e-5, 1e-6), g.outputs().get(k).name());
    }

    /**
     * The CPU engine built from the plan runs to the reference interpreter's outputs within the
     * tolerance of the plan's least precise node (the search may pick TF32 or FP16, which the CPU
     * backend emulates by rounding).
     */
    private static Precision assertEngineComputesTheModel(Path file, Graph g, String what) {
        Engine engine = Engine.load(file, EngineHeader.Machine.cpu());
        Precision loosest = engine.plan().precisionMix().keySet().stream().max(Comparator.comparingDouble(Precision::relativeError)).orElseThrow();
        List<Tensor> in = SearchPlanExecutionTest.inputs(g, 5);
        List<Tensor> want = new ReferenceInterpreter().run(g, in), got = engine.createContext().run(in);
        for (int k = 0; k < want.size(); k++) {
            double err = SearchPlanExecutionTest.relativeL2(want.get(k), got.get(k));
            assertTrue(err <= SearchPlanExecutionTest.tolerance(loosest), what + " output " + k + ": relative L2 " + err + " (" + engine.plan().precisionMix() + ")");
        }
        return loosest;
    }

    /** Tessel's ONNX of each family runs in ONNX Runtime to the reference interpreter's outputs: the graphs are real ONNX. */
    @ParameterizedTest
    @ValueSource(strings = {"efficientnet-b0-tiny", "convnext-tiny-tiny", "unet-tiny", "unet-bilinear-tiny", "crnn-tiny", "crnn-lstm-tiny", "ssdlite-tiny"})
    void onnxRuntimeRunsTheExportToTheReferenceOutputs(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        List<Tensor> in = OptimizeCommand.randomInputs(g);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) feeds.put(g.inputs().get(i).name(), in.get(i));
        List<String> outs = g.outputs().stream().map(Value::name).toList();
        Map<String, Tensor> got;
        try (OrtRunner r = OrtRunner.open(OnnxExporter.toBytes(g), Map.of(), model + " exported by Tessel")) {
            got = r.run(feeds, outs);
        }
        for (int i = 0; i < want.size(); i++)
            assertNull(Compare.allClose(want.get(i), got.get(outs.get(i)), 1e-3, 1e-4), model + " output " + outs.get(i) + " (ONNX Runtime vs reference)");
    }

    /** The recognizer's width is the model's sequence length: `--seq` on the command line gives another width of the same network. */
    @ParameterizedTest
    @ValueSource(ints = {4, 16})
    void theRecognizerTakesOtherWidthsThroughSeq(int columns) throws Exception {
        Path e = dir.resolve("crnn.engine");
        CliRun b = CliRun.of("build", "zoo:crnn-tiny", "--seq", String.valueOf(columns), "--cpu", "--strategy", "joint", "--save-engine", e.toString());
        assertEquals(0, b.code(), b.out() + b.err());
        Graph g = Zoo.build("crnn-tiny", ZooOptions.defaults().withSequenceLength(columns));
        assertEngineComputesTheModel(e, g, "crnn-tiny --seq " + columns);
        assertEquals(List.of(1, columns, 37), java.util.Arrays.stream(Engine.load(e, EngineHeader.Machine.cpu()).createContext()
                .run(SearchPlanExecutionTest.inputs(g, 1)).get(0).shape().dims()).boxed().toList());
        assertTrue(Files.size(e) > 0);
    }
}
