package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.tile} and {@code tessel.gather_nd} in GPU engines against the reference interpreter: ONNX's Tile and
 * GatherND node cases (repeats bound as a constant; GatherND's indices a graph input, so computed on the device) and
 * {@link DataNodeCases#tileGatherNdCases}: Tile of f32 (ranks 2 to 5, 256,000 outputs), i64 and bool data; GatherND of
 * f32 and i32 data with batch_dims 0, 1 and 2, constant and computed indices (i64 and i32, negative ones among them),
 * tuples of one coordinate to the data's rank, a 3,000-element slice. FP32 engines (eager, then CUDA-graph replay) move
 * every element bit for bit (integers through the device's i32); FP16 engines, for the graphs without integer outputs,
 * on the inputs rounded to f16 (the reference too), bit for bit as well: moving elements rounds nothing. Each case's
 * layers must be the two tactics under test (no other kernel took the nodes). Runs on a GPU, or on the emulated device
 * ({@code -Dgroups=gpu -Dtessel.excludedGroups=none -Dtessel.test.device=emulated}).
 */
@Tag("gpu")
class TileGatherNdGpuTest {
    private static final Set<String> OPS = Set.of("Tile", "GatherND");

    @Test void tileAndGatherNdMatchTheReference() throws Exception {
        List<DataNodeCases.Case> cases = new ArrayList<>(DataNodeCases.load().stream().filter(c -> c.nodes().stream().anyMatch(n -> OPS.contains(n.opName()))).toList());
        int nodeCases = cases.size();
        cases.addAll(DataNodeCases.tileGatherNdCases(new java.util.SplittableRandom(12)));
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        Set<String> tactics = new TreeSet<>(), dtypes = new TreeSet<>();
        int runs = 0;
        for (DataNodeCases.Case c : cases) {
            GpuEngine.requireSupported(c.graph());
            for (Node n : c.nodes()) if (OPS.contains(n.opName())) dtypes.add(n.opName() + " " + n.input(0).type().dtype().text());
            Map<String, Tensor> ref = GpuTestSupport.reference(c.graph(), c.inputs());
            boolean ints = c.graph().outputs().stream().anyMatch(v -> !v.type().dtype().isFloating());
            for (GpuEngine.Precision p : ints ? List.of(GpuEngine.Precision.FP32) : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                boolean fp32 = p == GpuEngine.Precision.FP32;
                Map<String, Tensor> in = new LinkedHashMap<>(c.inputs());
                if (!fp32) in.replaceAll((k, t) -> t.dtype() == DType.F32 ? roundF16(t) : t);
                Map<String, Tensor> want = fp32 ? ref : GpuTestSupport.reference(c.graph(), in);
                String what = c.name() + " " + p;
                runs++;
                checks.check(what, () -> {
                    try (GpuEngine e = GpuEngine.build(c.graph(), p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                        for (LayerPlan l : e.layerPlans()) {
                            Node n = c.graph().nodes().stream().filter(m -> m.name().equals(l.node())).findFirst().orElseThrow();
                            if (OPS.contains(n.opName())) {
                                assertEquals(n.opName().equals("Tile") ? GpuTactics.TILE : GpuTactics.GATHER_ND, GpuTactics.catalogueId(l.tactic()), n.describe());
                                tactics.add(l.tactic());
                            }
                        }
                        compare(what + " eager", x.run(in), want);
                        x.captureGraph();
                        compare(what + " graph", x.run(in), want);
                    }
                });
            }
        }
        System.out.println("TileGatherNdGpuTest: " + nodeCases + " node cases and " + (cases.size() - nodeCases) + " synthetic graphs, " + runs + " engines, tactics "
                + tactics + ", data " + dtypes);
        checks.done();
        assertEquals(Set.of(GpuTactics.TILE, GpuTactics.GATHER_ND), tactics);
        // the node cases come from ../shared/onnx-node, which a GPU bundle may leave out: then the synthetic graphs alone ran
        if (java.nio.file.Files.isDirectory(DataNodeCases.folder()))
            assertTrue(nodeCases >= 5, nodeCases + " node cases (test_tile, test_tile_precomputed, three test_gathernd_example_*) in " + DataNodeCases.folder());
        else System.out.println("TileGatherNdGpuTest: no ONNX node cases at " + DataNodeCases.folder() + "; the synthetic graphs ran alone");
        assertTrue(dtypes.containsAll(Set.of("Tile f32", "Tile i64", "Tile bool", "GatherND f32", "GatherND i32")), dtypes.toString());
    }

    private static Tensor roundF16(Tensor t) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(DType.F16, t.getFloat(i));
        return Tensor.ofFloats(DType.F32, t.shape(), v);
    }

    private static void compare(String what, Map<String, Tensor> got, Map<String, Tensor> ref) {
        for (var r : ref.entrySet()) {
            Tensor g = got.get(r.getKey());
            assertEquals(r.getValue().shape(), g.shape(), what + " %" + r.getKey() + " shape");
            double[] v = new double[g.size()];
            for (int i = 0; i < v.length; i++) v[i] = g.getDouble(i);
            String why = DataKernelsHostTest.mismatch(v, r.getValue(), true, 0);
            System.out.println("RESULT|" + what + "|" + r.getKey() + "|" + (why == null ? "ok" : "FAIL " + why));
            if (why != null) throw new AssertionError(what + " output %" + r.getKey() + " " + why);
        }
    }
}
