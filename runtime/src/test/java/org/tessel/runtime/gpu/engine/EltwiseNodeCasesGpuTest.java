package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.onnx.Conformance;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.kernels.EltwiseNodeCases;

/**
 * tessel.eltwise and tessel.cast on the GPU against ONNX's node cases: every case whose graph is f32 (the GPU
 * engine's input type) and whose every node this family builds, as an FP32 and an FP16 engine, eagerly and
 * replayed as a CUDA graph. Integer and bool outputs must be exact; floats within ONNX's tolerance at FP32 and
 * 1e-2 relative (1e-3 absolute) at FP16. Cases whose integers exceed the i32 the engine keeps are skipped.
 */
@Tag("gpu")
class EltwiseNodeCasesGpuTest {
    private static final Conformance.Tolerance FP16 = new Conformance.Tolerance(1e-2, 1e-3);

    @Test void elementwiseNodeCasesMatchOnnxOnTheGpu() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Path dir = EltwiseNodeCases.folder();
        assumeTrue(dir != null, "ONNX node cases not found (set -Dtessel.shared.dir); skipping");
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        int built = 0;
        for (Object o : EltwiseNodeCases.load(dir).values()) {
            if (!(o instanceof EltwiseNodeCases.Case c) || !c.onlyEltwise() || !c.f32Only() || c.graph().nodes().isEmpty()) continue;
            if (c.graph().nodes().stream().anyMatch(n -> EltwiseNodeCases.whyNot(n) != null) || !fitsI32(c)) continue;
            built++;
            for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP32, GpuEngine.Precision.FP16}) {
                String what = c.name() + " " + p;
                checks.check(what, () -> {
                    try (GpuEngine e = GpuEngine.build(c.graph(), p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                        for (Node n : c.graph().nodes())
                            assertEquals(EltwiseNodeCases.tacticFor(n).id(), e.layerPlans().stream().filter(l -> l.node().equals(n.name())).findFirst().map(l -> GpuTactics.catalogueId(l.tactic())).orElse("(no layer)"),
                                    what + ": tactic of " + n.describe());
                        compare(what + " eager", c.expected(), x.run(c.feed()), p);
                        x.captureGraph();
                        compare(what + " graph", c.expected(), x.run(c.feed()), p);
                    }
                });
            }
        }
        System.out.println("elementwise node cases built on the GPU: " + built);
        checks.done();
    }

    /** True when every integer the case feeds or expects fits the i32 the engine keeps integers in. */
    private static boolean fitsI32(EltwiseNodeCases.Case c) {
        for (List<Tensor> ts : List.of(c.feed(), c.expected()))
            for (Tensor t : ts)
                if (t.dtype().isInteger())
                    for (int i = 0; i < t.size(); i++) if (t.getLong(i) != (int) t.getLong(i)) return false;
        return true;
    }

    private static void compare(String what, List<Tensor> expected, List<Tensor> got, GpuEngine.Precision p) {
        assertEquals(expected.size(), got.size(), what + ": outputs");
        for (int i = 0; i < got.size(); i++) {
            Tensor want = expected.get(i), g = got.get(i);
            if (want.dtype().isFloating()) {
                Tensor typed = Tensor.zeros(want.dtype(), want.shape());
                for (int k = 0; k < typed.size(); k++) typed.setDouble(k, g.getDouble(k));
                g = typed;
            }
            String why = Conformance.compare(want, g, p == GpuEngine.Precision.FP32 || !want.dtype().isFloating() ? Conformance.Tolerance.NODE : FP16);
            assertEquals(null, why, what + " output " + i);
        }
    }
}
