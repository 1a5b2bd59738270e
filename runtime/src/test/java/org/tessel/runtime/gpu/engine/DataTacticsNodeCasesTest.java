package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Every ONNX node case of Slice, Pad, Expand, Tile, GatherElements, GatherND, ConstantOfShape, Shape, Constant, the Reduce* ops,
 * ArgMax, ArgMin, Hardmax, LogSoftmax and the index ops (Range, Trilu, CumSum, CumProd, OneHot, TopK, ScatterElements,
 * ScatterND) that the importer accepts: the catalogue offers a GPU tactic for each such
 * node (FP32, channels-first), the GPU builder's CPU-side plan check accepts a plan naming it, and the layer's own
 * host-side plan (tables, extents, build-time values) accepts the node, so a GPU build fails on none of them.
 */
class DataTacticsNodeCasesTest {
    /** The layer's host-side plan of {@code n} (what its build computes before any device work); throws as the build would. */
    static void layerPlan(Node n) {
        switch (n.opName()) {
            case "Slice", "Pad", "Expand", "Tile" -> WindowLayers.windowPlan(n, DType.F32);
            case "GatherElements" -> WindowLayers.requireGatherElements(n);
            case "GatherND" -> WindowLayers.requireGatherNd(n);
            case "ConstantOfShape" -> WindowLayers.fillBits(n, DType.F32);
            case "Shape", "Constant" -> WindowLayers.constantValue(n);
            case "ArgMax", "ArgMin", "Hardmax", "LogSoftmax" -> AxisLayers.axisPlan(n);
            case "Range", "Trilu", "CumSum", "CumProd", "OneHot", "TopK", "ScatterElements", "ScatterND" -> IndexLayers.plan(n, DType.F32);
            default -> MoreLayers.reducePlan(n);
        }
    }

    static Tactic gpuTactic(Node n) {
        for (Tactic t : TacticCatalog.global().all())
            if (t.backend() == Backend.GPU && t.appliesTo(n) && t.whyNot(n, Precision.FP32, Layout.NCHW) == null) return t;
        return null;
    }

    @Test void everyCaseHasACatalogueTacticThatThePlanCheckAndTheLayerAccept() throws Exception {
        List<DataNodeCases.Case> cases = new ArrayList<>(DataNodeCases.load());
        assumeFalse(cases.isEmpty(), "ONNX node cases not found at " + DataNodeCases.folder() + "; skipping");
        cases.addAll(DataNodeCases.synthetic());
        List<String> failures = new ArrayList<>();
        Set<String> opsSeen = new TreeSet<>();
        Set<String> otherOps = new TreeSet<>();
        int nodes = 0, plansChecked = 0;
        for (DataNodeCases.Case c : cases) {
            List<PlannedNode> planned = new ArrayList<>();
            boolean whole = true;
            for (Node n : c.graph().nodes()) {
                Tactic t = gpuTactic(n);
                boolean mine = DataNodeCases.OPS.contains(n.opName());
                if (mine) {
                    nodes++;
                    opsSeen.add(n.opName());
                    if (t == null) {
                        List<String> why = new ArrayList<>();
                        for (Tactic x : TacticCatalog.global().all()) if (x.backend() == Backend.GPU && x.appliesTo(n)) why.add(x.id() + ": " + x.whyNot(n, Precision.FP32, Layout.NCHW));
                        failures.add(c.name() + " " + n.describe() + ": no GPU tactic " + why);
                    }
                    try {
                        layerPlan(n);
                    } catch (GpuEngineException e) {
                        failures.add(c.name() + ": the layer refuses: " + e.getMessage());
                    }
                }
                if (t == null) {
                    whole = false;
                    if (!mine) otherOps.add(n.opName());
                }
                else planned.add(new PlannedNode(n.name(), n.opName(), t.id(), "", Precision.FP32, Layout.NCHW, 0, 0));
            }
            if (!whole) continue; // another op of the case has no GPU tactic (not this suite's), so no whole plan to check
            try {
                GpuEngine.checkPlan(c.graph(), new EnginePlan(c.name(), "test", "h200", 0, List.of(), planned, List.of(), Double.NaN, Double.NaN), GpuEngine.Precision.FP32);
                plansChecked++;
            } catch (GpuEngineException e) {
                failures.add(c.name() + ": the plan check refuses: " + e.getMessage());
            }
        }
        System.out.println("DataTacticsNodeCasesTest: " + cases.size() + " cases, " + nodes + " nodes of " + opsSeen + ", " + plansChecked + " whole plans checked (the others hold " + otherOps + ", which have no GPU tactic here)");
        assertEquals(List.of(), failures);
        // (the importer turns Constant nodes into values: the synthetic cases hold one, and constantNodesHaveTheirValue)
        assertEquals(new TreeSet<>(DataNodeCases.OPS), opsSeen, "every op of the suite has a case");
        // some expanded cases also hold nodes no GPU tactic takes (the printed ops, e.g. f64 elementwise ones); the rest are planned whole
        assertTrue(plansChecked >= 170, plansChecked + " of " + cases.size() + " cases planned whole");
    }

    /** Constant, Shape and ConstantOfShape nodes kept in a graph: the catalogue's tactics take them and their build-time values are the reference's. */
    @Test void constantNodesHaveTheirValue() {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("constants");
        org.tessel.ir.Value x = b.input("x", DType.F32, 2, 3, 5);
        b.output(b.name("c_ints").op("Constant", org.tessel.api.Attributes.builder().put("value_ints", 4L, -7L, 9L).build()));
        b.output(b.name("c_float").op("Constant", org.tessel.api.Attributes.builder().put("value_float", 2.5f).build()));
        b.output(b.name("shape_mid").op("Shape", org.tessel.api.Attributes.builder().put("start", -2L).put("end", 10L).build(), x));
        b.output(b.name("fill").op("ConstantOfShape", org.tessel.api.Attributes.builder().put("value", org.tessel.api.Tensor.ofLongs(DType.I64, org.tessel.api.Shape.of(1), -3)).build(),
                b.longs("dims", 2, 4)));
        org.tessel.ir.Graph g = b.build();
        var ref = new org.tessel.ir.ReferenceInterpreter();
        for (Node n : g.nodes()) {
            assertTrue(gpuTactic(n) != null, n.describe());
            if (n.opName().equals("ConstantOfShape")) {
                assertEquals(0xffff_fffdL & 0xffff_ffffL, WindowLayers.fillBits(n, DType.F16) & 0xffff_ffffL, "i64 -3 lives as i32 bits");
                continue;
            }
            var want = ref.evaluate(n, n.inputs().stream().map(v -> v.isConstant() ? v.constantValue() : org.tessel.api.Tensor.zeros(v.type())).toList()).getFirst();
            var got = WindowLayers.constantValue(n);
            assertEquals(want.shape(), got.shape(), n.name());
            for (int i = 0; i < want.size(); i++) assertEquals(want.getDouble(i), got.getDouble(i), n.name() + " at " + i);
        }
    }
}
