package org.tessel.runtime.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.Backend;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The CPU backend builds and runs exactly the plan it is given: any tactic, by emulation, with the
 * precision really emulated (rounding happens where a kernel at that precision would round, and
 * only there); the engine file keeps the plan and loading replays it; a bad plan or a file whose
 * plan and layers disagree is refused, naming the node.
 */
class PlanExecutionTest {
    @TempDir Path dir;

    static Graph optimized(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    /** Per node a random tactic that supports it at a random precision (FP32, TF32, FP16, BF16) in the node's layout. */
    static EnginePlan randomPlan(Graph g, SplittableRandom r) {
        TacticCatalog cat = TacticCatalog.global();
        List<PlannedNode> nodes = new ArrayList<>();
        List<Precision> ps = new ArrayList<>(List.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16));
        for (Node n : g.nodes()) {
            for (int i = ps.size() - 1; i > 0; i--) { int j = r.nextInt(i + 1); Precision t = ps.get(i); ps.set(i, ps.get(j)); ps.set(j, t); }
            PlannedNode chosen = null;
            for (Precision p : ps) {
                List<Tactic> ts = cat.supported(n, p, Engine.planLayout(n));
                if (ts.isEmpty()) continue;
                chosen = new PlannedNode(n.name(), n.opName(), ts.get(r.nextInt(ts.size())).id(), "", p, Engine.planLayout(n), 0, r.nextDouble(0, 50));
                break;
            }
            nodes.add(assertNotNullAndGet(chosen, n));
        }
        return new EnginePlan(g.name(), "random", "h100", r.nextLong(), List.of(), nodes, List.of(), r.nextDouble(100, 1000), Double.NaN);
    }

    private static PlannedNode assertNotNullAndGet(PlannedNode p, Node n) {
        assertNotNull(p, n.describe() + " has no tactic at any float precision (cpu.reference should run it at FP32)");
        return p;
    }

    static Tensor random(Graph g, int input, long seed) {
        return new NetworkBuilder("in", OpRegistry.global(), seed).randomUniform(g.inputs().get(input).type().shape(), -1, 1);
    }

    @Test void aPlanForAZooModelSurvivesSaveAndLoadAndRunsTheSame() throws Exception {
        Graph g = optimized("resnet50-tiny");
        EnginePlan plan = randomPlan(g, new SplittableRandom(11));
        assertTrue(plan.nodes().stream().anyMatch(p -> !p.tacticId().equals(Engine.CPU_REFERENCE)), "the plan names GPU tactics");
        assertTrue(plan.precisionMix().size() > 1, "the plan mixes precisions: " + plan.precisionMix());
        Engine e = Engine.buildCpu(g, plan);
        for (int i = 0; i < plan.nodes().size(); i++) {
            PlannedNode p = plan.nodes().get(i);
            assertEquals(new LayerPlan(p.node(), p.tactic(), p.precision().text(), p.layout().text()), e.layers().get(i));
        }
        Path f = dir.resolve("planned.engine");
        e.save(f);
        Engine loaded = Engine.load(f, EngineHeader.Machine.cpu());
        assertEquals(plan, loaded.plan());
        assertEquals(e.layers(), loaded.layers());
        assertFalse(loaded.kernels().containsKey(Engine.META_PLAN), "the plan is the engine's plan, not one of its kernels");
        Tensor x = random(g, 0, 4);
        assertTrue(e.createContext().run(List.of(x)).get(0).dataEquals(loaded.createContext().run(List.of(x)).get(0)), "the loaded plan runs bit for bit the same");
    }

    @Test void theReferencePlanIsStoredToo() throws Exception {
        Graph g = optimized("mobilenetv2-tiny");
        Engine e = Engine.buildCpu(g);
        assertEquals(Engine.referencePlan(g), e.plan());
        Path f = dir.resolve("ref.engine");
        e.save(f);
        assertEquals(e.plan(), Engine.load(f, EngineHeader.Machine.cpu()).plan());
    }

    @Test void anEngineFileWithoutAPlanStillLoadsAndRuns() throws Exception {
        Graph g = optimized("resnet50-tiny");
        Engine e = Engine.buildCpu(g);
        // as engines were written before plans: reference layers, f32 as the precision text, no meta/plan
        List<LayerPlan> old = new ArrayList<>();
        for (Node n : g.nodes()) old.add(new LayerPlan(n.name(), Engine.CPU_REFERENCE, "f32", n.output().type().layout().text()));
        Engine legacy = Engine.of(e.header(), g, old, e.memoryPlan(), e.arenaBytes(), e.kernels());
        Path f = dir.resolve("old.engine");
        legacy.save(f);
        Engine loaded = Engine.load(f, EngineHeader.Machine.cpu());
        assertNull(loaded.plan());
        Tensor x = random(g, 0, 2);
        assertTrue(e.createContext().run(List.of(x)).get(0).dataEquals(loaded.createContext().run(List.of(x)).get(0)));
    }

    @Test void aFileWhosePlanAndLayersDisagreeIsRefusedNamingTheNode() throws Exception {
        Graph g = optimized("resnet50-tiny");
        Engine e = Engine.buildCpu(g);
        List<LayerPlan> layers = new ArrayList<>(e.layers());
        LayerPlan l = layers.get(3);
        layers.set(3, new LayerPlan(l.node(), l.tactic(), "fp16", l.layout()));
        Path f = dir.resolve("mismatch.engine");
        Engine.of(e.header(), g, layers, e.memoryPlan(), e.arenaBytes(), e.kernels(), e.plan()).save(f);
        EngineFormatException ex = assertThrows(EngineFormatException.class, () -> Engine.load(f, EngineHeader.Machine.cpu()));
        assertEquals(f + ": layer 3 (node '" + l.node() + "') runs cpu.reference at fp16/" + l.layout() + ", the stored plan says node '" + l.node()
                + "' runs cpu.reference at fp32/" + l.layout(), ex.getMessage());

        // a stored plan that no longer fits the stored graph (here: a node the graph does not have)
        EnginePlan alien = e.plan().withNodes(e.plan().nodes().subList(1, e.plan().nodes().size()));
        Path f2 = dir.resolve("alien.engine");
        Engine.of(e.header(), g, e.layers(), e.memoryPlan(), e.arenaBytes(), e.kernels(), alien).save(f2);
        ex = assertThrows(EngineFormatException.class, () -> Engine.load(f2, EngineHeader.Machine.cpu()));
        assertTrue(ex.getMessage().startsWith(f2 + ": the stored plan does not fit the stored graph: ") && ex.getMessage().contains(g.nodes().getFirst().describe()), ex.getMessage());
    }

    // ---- precision emulation really rounds, where it should and only there ----

    /** y = relu(x), m = x @ [[1]] + 0 (a Gemm: a standalone MatMul has no GPU tactic): an elementwise node and a tensor-core node on the same value. */
    private static Graph reluAndMatmul() {
        NetworkBuilder b = new NetworkBuilder("probe", OpRegistry.global(), 1);
        var x = b.input("x", DType.F32, 1, 1);
        var y = b.relu(x);
        var m = b.gemm(x, b.constant("w", Shape.of(1, 1), 1f), b.constant("b", Shape.of(1), 0f), false);
        b.output(y, m);
        return b.build();
    }

    /** Both nodes at precision p, each with some GPU tactic that supports it there. */
    private static EnginePlan gpuPlan(Graph g, Precision p) {
        List<PlannedNode> ns = new ArrayList<>();
        for (Node n : g.nodes()) {
            Tactic t = TacticCatalog.global().supported(n, p, Engine.planLayout(n)).stream().filter(x -> x.backend() == Backend.GPU).findFirst().orElseThrow();
            ns.add(new PlannedNode(n.name(), n.opName(), t.id(), "", p, Engine.planLayout(n), 0, Double.NaN));
        }
        return new EnginePlan(g.name(), "file", "h100", 0, List.of(), ns, List.of(), Double.NaN, Double.NaN);
    }

    private static float[] run(Graph g, EnginePlan plan, float x) {
        List<Tensor> out = Engine.buildCpu(g, plan).createContext().run(List.of(Tensor.ofFloats(Shape.of(1, 1), x)));
        return new float[] {out.get(0).floats()[0], out.get(1).floats()[0]};
    }

    @Test void reducedPrecisionPlansRoundAndFp32PlansDoNot() {
        Graph g = reluAndMatmul();
        float tiny = 1 + 0x1p-12f; // f32 has it; f16 (10-bit mantissa), TF32 (10) and bf16 (7) round it to 1
        float small = 1 + 0x1p-9f; // f16 and TF32 have it, bf16 rounds it to 1
        assertArrayEquals(new float[] {tiny, tiny}, run(g, gpuPlan(g, Precision.FP32), tiny));
        assertArrayEquals(new float[] {tiny, tiny}, new float[] {new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(1, 1), tiny))).get(0).floats()[0], tiny});
        assertArrayEquals(new float[] {1, 1}, run(g, gpuPlan(g, Precision.FP16), tiny));
        assertArrayEquals(new float[] {small, small}, run(g, gpuPlan(g, Precision.FP16), small));
        assertArrayEquals(new float[] {1, 1}, run(g, gpuPlan(g, Precision.BF16), small));
        // TF32 rounds the operands of the tensor-core op only; the elementwise node computes and stores f32
        assertArrayEquals(new float[] {tiny, 1}, run(g, gpuPlan(g, Precision.TF32), tiny));
        assertArrayEquals(new float[] {small, small}, run(g, gpuPlan(g, Precision.TF32), small));
    }

    @Test void tf32RoundsToNearestEvenOnA10BitMantissa() {
        assertEquals(1f, PrecisionEmulation.roundTf32(1 + 0x1p-11f), "a tie goes to the even neighbour 1");
        assertEquals(1 + 0x1p-9f, PrecisionEmulation.roundTf32(1 + 3 * 0x1p-11f), "a tie goes to the even neighbour 1 + 2^-9");
        assertEquals(1 + 0x1p-10f, PrecisionEmulation.roundTf32(1 + 0x1p-10f + 0x1p-12f));
        assertEquals(-2f, PrecisionEmulation.roundTf32(-2 + 0x1p-12f));
        assertEquals(2f, PrecisionEmulation.roundTf32(2 - 0x1p-12f), "rounding up carries into the exponent");
        assertEquals(Float.POSITIVE_INFINITY, PrecisionEmulation.roundTf32(Float.MAX_VALUE), "past the largest TF32 value is infinity, as in f32");
        assertTrue(Float.isNaN(PrecisionEmulation.roundTf32(Float.NaN)));
    }

    @Test void castsOnEdgesAreApplied() {
        Graph g = reluAndMatmul();
        EnginePlan fp32 = gpuPlan(g, Precision.FP32);
        String relu = g.nodes().get(0).name();
        var cast = new org.tessel.tactics.plan.Conversion("x", "", relu, DType.F32, org.tessel.api.Layout.ANY, DType.F16, org.tessel.api.Layout.ANY, Double.NaN);
        EnginePlan withCast = new EnginePlan(g.name(), "file", "h100", 0, List.of(), fp32.nodes(), List.of(cast), Double.NaN, Double.NaN);
        assertArrayEquals(new float[] {1, 1 + 0x1p-12f}, run(g, withCast, 1 + 0x1p-12f), "only the edge into the relu is cast");
        var nowhere = new org.tessel.tactics.plan.Conversion("x", "", "nosuch", DType.F32, org.tessel.api.Layout.ANY, DType.F16, org.tessel.api.Layout.ANY, Double.NaN);
        PlanException ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, new EnginePlan(g.name(), "file", "h100", 0, List.of(), fp32.nodes(), List.of(nowhere), Double.NaN, Double.NaN)));
        assertTrue(ex.getMessage().contains("node 'nosuch' does not read %x"), ex.getMessage());
    }

    // ---- bad plans are refused before any work, naming the node ----

    @Test void aPlanNamingAnUnknownTacticIsRefusedNamingTheNode() {
        Graph g = optimized("resnet50-tiny");
        EnginePlan ref = Engine.referencePlan(g);
        Node n = g.nodes().get(2);
        EnginePlan bad = ref.withNodes(replace(ref.nodes(), 2, ref.nodes().get(2).withTactic("cudnn.conv.warp_drive", "")));
        PlanException ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, bad));
        assertTrue(ex.getMessage().startsWith(n.describe() + ": unknown tactic 'cudnn.conv.warp_drive'"), ex.getMessage());
    }

    @Test void aTacticThatDoesNotSupportTheNodeIsRefusedNamingTheNode() {
        Graph g = optimized("resnet50-tiny");
        EnginePlan ref = Engine.referencePlan(g);
        int i = indexOf(g, "MaxPool");
        Node n = g.nodes().get(i);
        // a GEMM tactic for a pooling node: the wrong op kind
        String gemm = TacticCatalog.global().all().stream().map(Tactic::id).filter(id -> id.startsWith("cublaslt.")).findFirst().orElseThrow();
        PlanException ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, ref.withNodes(replace(ref.nodes(), i, ref.nodes().get(i).withTactic(gemm, "")))));
        assertTrue(ex.getMessage().startsWith(n.describe() + ": tactic " + gemm + " does not implement this op"), ex.getMessage());
        // the right kind at a precision it does not have: the CPU reference is FP32 only
        PlannedNode p = ref.nodes().get(i);
        PlannedNode fp16 = new PlannedNode(p.node(), p.op(), p.tacticId(), "", Precision.FP16, p.layout(), 0, Double.NaN);
        ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, ref.withNodes(replace(ref.nodes(), i, fp16))));
        assertTrue(ex.getMessage().startsWith(n.describe() + ": tactic cpu.reference cannot run it at fp16/"), ex.getMessage());
    }

    @Test void aNodeMissingFromThePlanIsRefusedNamingIt() {
        Graph g = optimized("resnet50-tiny");
        EnginePlan ref = Engine.referencePlan(g);
        List<PlannedNode> ns = new ArrayList<>(ref.nodes());
        ns.remove(5);
        PlanException ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, ref.withNodes(ns)));
        assertEquals("plan for '" + g.name() + "' has no entry for " + g.nodes().get(5).describe(), ex.getMessage());
    }

    @Test void aPlanInAnotherOrderLayoutOrAtInt8IsRefusedNamingTheNode() {
        Graph g = optimized("resnet50-tiny");
        EnginePlan ref = Engine.referencePlan(g);
        List<PlannedNode> ns = new ArrayList<>(ref.nodes());
        ns.add(0, ns.remove(1));
        PlanException ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, ref.withNodes(ns)));
        assertTrue(ex.getMessage().startsWith(g.nodes().getFirst().describe() + ": the plan schedules node '" + g.nodes().get(1).name() + "' at position 0"), ex.getMessage());

        int c = indexOf(g, "tessel.Fused");
        PlannedNode conv = ref.nodes().get(c);
        PlannedNode nhwc = new PlannedNode(conv.node(), conv.op(), conv.tacticId(), "", Precision.FP32, org.tessel.api.Layout.NHWC, 0, Double.NaN);
        ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, ref.withNodes(replace(ref.nodes(), c, nhwc))));
        assertEquals(g.nodes().get(c).describe() + ": the plan says layout nhwc, the planned graph's tensors are nchw (a layout change is a tessel.Reformat node in the planned graph)",
                ex.getMessage());

        int i = 0;
        while (TacticCatalog.global().supported(g.nodes().get(i), Precision.INT8, Engine.planLayout(g.nodes().get(i))).isEmpty()) i++;
        Node n = g.nodes().get(i);
        Tactic t = TacticCatalog.global().supported(n, Precision.INT8, Engine.planLayout(n)).getFirst();
        EnginePlan int8 = ref.withNodes(replace(ref.nodes(), i, new PlannedNode(n.name(), n.opName(), t.id(), "", Precision.INT8, Engine.planLayout(n), 0, Double.NaN)));
        ex = assertThrows(PlanException.class, () -> Engine.buildCpu(g, int8));
        assertTrue(ex.getMessage().startsWith(n.describe() + ": runs at int8, but the plan has no quantization scale for its tensor %"), ex.getMessage());
    }

    private static int indexOf(Graph g, String op) {
        for (int i = 0; i < g.nodes().size(); i++) if (g.nodes().get(i).opName().equals(op)) return i;
        throw new AssertionError("no " + op + " in " + g.name() + ": " + g.opHistogram());
    }

    private static List<PlannedNode> replace(List<PlannedNode> ns, int i, PlannedNode p) {
        List<PlannedNode> out = new ArrayList<>(ns);
        out.set(i, p);
        return out;
    }
}
