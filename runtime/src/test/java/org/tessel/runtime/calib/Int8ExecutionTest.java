package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * INT8 on the CPU engine end to end: calibrate a zoo CNN, search a plan with INT8 allowed, carry the
 * scales in the plan, build and run: the logits stay close to FP32; the engine equals the same plan
 * written as explicit Q/DQ and run on the reference interpreter (whose QuantizeLinear and
 * DequantizeLinear are ONNX's, written independently); the engine file keeps the scales.
 */
class Int8ExecutionTest {
    @TempDir Path dir;

    /** A zoo CNN whose output is its logits (the Softmax removed: random weights saturate it). */
    static Graph logits(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        Node softmax = g.outputs().getFirst().producer();
        assertEquals("Softmax", softmax.opName());
        g.setOutputs(List.of(softmax.input(0)));
        g.removeNode(softmax);
        return g;
    }

    /** The model's logits where it ends in a Softmax, else its outputs as they are. */
    static Graph graph(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        return g.outputs().getFirst().producer().opName().equals("Softmax") ? logits(model) : g;
    }

    static List<Tensor> input(Graph g, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        List<Tensor> in = new ArrayList<>();
        for (var v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
            in.add(t);
        }
        return in;
    }

    /** The prepared graph, the INT8 plan the joint search finds for it with these rules, applied and carrying its scales. */
    record Int8Build(Graph prepared, PlanApplier.Applied applied) {}

    static Int8Build plan(Graph g, Calibrator c, int batches, List<String> rules) { return plan(g, c, batches, rules, List.of()); }

    /** As above, with forced choices ({@code PATTERN=TACTIC[:PRECISION[:LAYOUT]]}) the search obeys. */
    static Int8Build plan(Graph g, Calibrator c, int batches, List<String> rules, List<String> forced) {
        Graph prepared = Searcher.prepare(g);
        List<List<Tensor>> data = new ArrayList<>();
        for (int b = 0; b < batches; b++) data.add(input(prepared, 100 + b));
        ActivationCalibration.Result r = ActivationCalibration.calibrate(prepared, data, c, w -> {});
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.INT8))
                .withPrecisionRules(rules.stream().map(PrecisionRule::parse).toList()).withForced(forced.stream().map(org.tessel.search.ForcedChoice::parse).toList());
        SearchProblem p = Searcher.problem(prepared, o);
        Plan plan = Searcher.run(p, "joint", o);
        PlanApplier.Applied a = EnginePlans.complete(p, plan);
        EnginePlan q = a.plan().withQuantization(QuantizationTable.forPlanned(a.graph(), a.plan(), r.calibrator(), r.scales()));
        return new Int8Build(prepared, new PlanApplier.Applied(a.graph(), q));
    }

    @Test void resnet50Int8LogitsStayCloseToFp32() {
        Graph g = logits("resnet50");
        Int8Build b = plan(g, new Calibrator.Entropy(), 4, List.of());
        int int8 = b.applied().plan().precisionMix().getOrDefault(Precision.INT8, 0);
        assertTrue(int8 >= 40, "the search runs ResNet-50's convolutions at INT8 when it may: " + b.applied().plan().precisionMix());
        Engine e = Engine.buildCpu(b.applied().graph(), b.applied().plan());
        List<Tensor> in = input(g, 7); // not a calibration batch
        Tensor want = new ReferenceInterpreter().run(g, in).getFirst(), got = e.createContext().run(in).getFirst();
        double err = Tensor.relativeL2(want, got);
        System.out.printf("resnet50 b1 INT8 (entropy, %d INT8 nodes) vs FP32 logits: relative L2 %.4f%n", int8, err);
        assertTrue(err < 0.05, "relative L2 " + err);
        assertTrue(err > 1e-5, "INT8 really quantizes: " + err);
    }

    @Test void theEngineEqualsThePlanWrittenAsQdqOnTheReferenceInterpreter() throws Exception {
        Graph g = logits("resnet50-tiny");
        for (Calibrator c : List.of(new Calibrator.MinMax(), new Calibrator.Percentile(99.9), new Calibrator.Mse(), new Calibrator.Entropy())) {
            Int8Build b = plan(g, c, 3, List.of("layer*conv*=int8"));
            assertTrue(b.applied().plan().precisionMix().getOrDefault(Precision.INT8, 0) >= 12, b.applied().plan().precisionMix().toString());
            Engine e = Engine.buildCpu(b.applied().graph(), b.applied().plan());
            QdqGraphs.Result qdq = QdqGraphs.insert(b.prepared(), b.applied().graph(), b.applied().plan());
            assertTrue(qdq.activationPairs() > 10 && qdq.weights() >= 12, qdq.activationPairs() + " pairs, " + qdq.weights() + " weights");
            assertTrue(qdq.graph().nodes().stream().anyMatch(n -> n.opName().equals("QuantizeLinear")));
            for (long seed : new long[] {1, 2}) {
                List<Tensor> in = input(g, seed);
                Tensor engine = e.createContext().run(in).getFirst(), reference = new ReferenceInterpreter().run(qdq.graph(), in).getFirst();
                Tensor fp32 = new ReferenceInterpreter().run(g, in).getFirst();
                assertTrue(Tensor.relativeL2(reference, engine) < 1e-5, c.name() + ": engine vs Q/DQ graph " + Tensor.relativeL2(reference, engine));
                assertTrue(Tensor.relativeL2(fp32, engine) > 1e-4, c.name() + ": quantization changes the result");
                assertTrue(Tensor.relativeL2(fp32, engine) < 0.2, c.name() + ": and stays near FP32: " + Tensor.relativeL2(fp32, engine));
            }
        }
    }

    @Test void theEngineFileKeepsTheScales() throws Exception {
        Graph g = logits("resnet50-tiny");
        Int8Build b = plan(g, new Calibrator.MinMax(), 2, List.of("layer1*=int8"));
        EnginePlan plan = b.applied().plan();
        assertEquals("minmax", plan.quantization().calibrator());
        assertFalse(plan.quantization().scales().isEmpty());
        assertEquals(plan, EnginePlanJson.read(EnginePlanJson.write(plan), "plan.json"), "JSON keeps the table");
        Path f = dir.resolve("int8.engine");
        Engine built = Engine.buildCpu(b.applied().graph(), plan);
        built.save(f);
        Engine loaded = Engine.load(f, EngineHeader.Machine.cpu());
        assertEquals(plan, loaded.plan());
        List<Tensor> in = input(g, 3);
        assertTrue(loaded.createContext().run(in).getFirst().dataEquals(built.createContext().run(in).getFirst()), "the loaded engine computes what the built one did");
        // the same plan without its scales is refused before any work, naming the node and the tensor
        EnginePlan bare = plan.withQuantization(QuantizationTable.EMPTY);
        var ex = assertThrows(org.tessel.tactics.plan.PlanException.class, () -> Engine.buildCpu(b.applied().graph(), bare));
        assertTrue(ex.getMessage().matches("node '[^']+' \\(.*\\): runs at int8, but the plan has no quantization scale for its tensor %.+"), ex.getMessage());
        Map<String, Float> one = new java.util.TreeMap<>(plan.quantization().scales());
        String dropped = one.keySet().iterator().next();
        one.remove(dropped);
        var ex2 = assertThrows(org.tessel.tactics.plan.PlanException.class,
                () -> Engine.buildCpu(b.applied().graph(), plan.withQuantization(new QuantizationTable("minmax", one, Map.of()))));
        assertTrue(ex2.getMessage().contains("no quantization scale for its tensor %" + dropped + " "), ex2.getMessage());
    }

    /**
     * The GPU builder takes an INT8 plan's convolutions (cuDNN's INT8 convolution with Tessel's epilogue): the plan passes
     * its checks before any GPU work, its I/O precision is a floating one, and without the scales it is refused naming the
     * node and the tensor.
     */
    @Test void theGpuBuilderTakesInt8ConvolutionsAndNamesWhatItCannot() {
        Graph g = logits("resnet50-tiny");
        Int8Build b = plan(g, new Calibrator.MinMax(), 1, List.of("layer1*conv*=int8"));
        var planned = b.applied();
        var io = org.tessel.runtime.gpu.engine.GpuEngine.precisionFor(planned.plan(), planned.graph());
        assertTrue(io != org.tessel.runtime.gpu.engine.GpuEngine.Precision.INT8, "inputs are uploaded as floats: " + io);
        int int8 = 0;
        for (var n : planned.plan().nodes()) if (n.precision() == Precision.INT8) int8++;
        assertTrue(int8 > 0, "the plan runs some node at INT8");
        org.tessel.runtime.gpu.engine.GpuEngine.checkPlan(planned.graph(), planned.plan(), io);
        String first = planned.plan().nodes().stream().filter(n -> n.precision() == Precision.INT8).findFirst().orElseThrow().node();
        Map<String, Float> some = new java.util.TreeMap<>(planned.plan().quantization().scales());
        some.remove(first);
        var ex = assertThrows(org.tessel.runtime.gpu.engine.GpuEngineException.class, () -> org.tessel.runtime.gpu.engine.GpuEngine.checkPlan(planned.graph(),
                planned.plan().withQuantization(new QuantizationTable("minmax", some, Map.of())), io));
        assertTrue(ex.getMessage().startsWith("cannot build a GPU engine: the plan runs node '") && ex.getMessage().contains("at int8 and has no scale for its tensor %"),
                ex.getMessage());
    }

    /** What the INT8 GPU kernels cannot take is named before any GPU work: a GELU epilogue, K or N not a multiple of 4. */
    @Test void int8GemmLimitsAreNamed() {
        assertEquals(null, org.tessel.runtime.gpu.engine.Int8LayersAccess.gemmWhyNot(768, 3072, "Relu"));
        assertTrue(org.tessel.runtime.gpu.engine.Int8LayersAccess.gemmWhyNot(768, 3072, "Gelu").contains("the INT8 GEMM epilogue takes bias, residual and ReLU (got Gelu)"));
        assertTrue(org.tessel.runtime.gpu.engine.Int8LayersAccess.gemmWhyNot(30, 64, null).contains("multiples of 4 (got K=30, N=64)"));
    }
    /** The CPU half of Int8EngineGpuTest: the INT8 plans it builds on the GPU pass the GPU builder's checks. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = ';', value = {"resnet50-tiny;layer1*conv*=int8;", "resnet50-tiny;layer*conv*=int8;", "bert-tiny;*output.dense=int8;",
            "resnet50-tiny;layer*conv*=int8;layer*conv*=tessel.conv.int8_dp4a:int8:nhwc",
            "resnet50-tiny;layer*conv*=int8;layer*conv1*=cublaslt.conv1x1:int8:nhwc,layer*conv3*=cublaslt.conv1x1:int8:nhwc,layer*conv2*=cublaslt.conv.im2col:int8:nhwc"})
    void theInt8PlansTheGpuTestBuildsPassTheBuildersChecks(String model, String rule, String forced) {
        Int8Build b = plan(graph(model), new Calibrator.MinMax(), 2, List.of(rule, "*=fp32|int8"), forced == null ? List.of() : List.of(forced.split(",")));
        var a = b.applied();
        long int8 = a.plan().nodes().stream().filter(n -> n.precision() == Precision.INT8).count();
        assertTrue(int8 > 0, model + " " + rule + ": " + a.plan().precisionMix());
        if (forced != null && forced.contains("cublaslt.conv"))
            for (String id : List.of("cublaslt.conv1x1", "cublaslt.conv.im2col"))
                assertTrue(a.plan().nodes().stream().anyMatch(n -> n.precision() == Precision.INT8 && n.tacticId().equals(id)), id + " at INT8: " + a.plan().nodes());
        org.tessel.runtime.gpu.engine.GpuEngine.checkPlan(a.graph(), a.plan(), org.tessel.runtime.gpu.engine.GpuEngine.precisionFor(a.plan(), a.graph()));
        System.out.println(model + " " + rule + ": " + a.plan().precisionMix());
    }
}
