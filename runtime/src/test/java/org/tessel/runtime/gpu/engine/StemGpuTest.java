package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.passes.PassManager;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * The f16 stem forms of {@link StemConv} against the reference interpreter: every form forced in turn (the
 * NCHW-input one may be refused by cuDNN, which is reported, not failed), then the tuned choice, a second
 * execution context replaying it and a saved-and-loaded engine. Two stems: ResNet's 7x7/2 (3 channels,
 * with ReLU) and a 3x3/2 one with 4 channels and a clip (MobileNet-like).
 */
@Tag("gpu")
class StemGpuTest {
    /** The standard pipeline with NHWC forced (its cost rule keeps graphs this small in NCHW). */
    static final String NHWC = org.tessel.passes.StandardPipelines.STANDARD.replace(",assign-layouts,", ",assign-layouts{policy=nhwc},");

    /** x [n, c, s, s] -> conv k x k / 2 -> act -> max pool 3/2 -> conv 1x1 (the stem's NHWC output feeds more layers). */
    static Graph stem(int n, int c, int s, int k, boolean clip) {
        NetworkBuilder b = new NetworkBuilder("stem_c" + c + "_k" + k);
        Value x = b.input("x", DType.F32, n, c, s, s);
        Value y = b.conv(x, b.uniformWeights("w1", -0.3f, 0.3f, 16, c, k, k), b.uniformWeights("b1", -0.2f, 0.2f, 16), 2, k / 2);
        y = clip ? b.clip(y, 0f, 6f) : b.relu(y);
        y = b.maxPool(y, 3, 2, 1);
        y = b.conv(y, b.uniformWeights("w2", -0.3f, 0.3f, 8, 16, 1, 1), null, 1, 0);
        return b.output(y).build();
    }

    @Test
    void everyStemFormMatchesTheReference() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Graph reference : List.of(stem(3, 3, 45, 7, false), stem(2, 4, 32, 3, true))) {
            Value in = reference.inputs().get(0);
            Tensor x = GpuTestSupport.random(new SplittableRandom(11), DType.F32, in.type().shape(), -2, 2);
            Tensor ref = GpuTestSupport.reference(reference, Map.of(in.name(), x)).values().iterator().next();
            Graph g = reference.copy();
            new PassManager().run(g, NHWC);
            String conv = g.nodes().stream().filter(n -> n.opName().equals("Conv") || n.opName().equals("tessel.Fused")).findFirst().orElseThrow().name();
            for (StemConv.Form f : StemConv.Form.values()) {
                String what = reference.name() + " " + f.id;
                // the form is the planned tactic's variant
                try (GpuEngine e = GpuEngine.buildForced(g, Map.of(conv, f.id), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED); GpuExecutionContext c = e.createExecutionContext()) {
                    String tactic = stemTactic(e);
                    System.out.println("RESULT|" + what + "|tactic " + tactic);
                    checks.check(what + " tactic", () -> assertTrue(tactic.startsWith(f.id + "/"), tactic));
                    checks.check(what + " eager", () -> assertClose(what + " eager", c.run(List.of(x)).get(0), ref, 1e-2));
                    c.captureGraph();
                    checks.check(what + " graph", () -> assertClose(what + " graph", c.run(List.of(x)).get(0), ref, 1e-2));
                } catch (GpuEngineException ex) {
                    if (f != StemConv.Form.NCHW_IN) checks.check(what + " build", () -> { throw ex; });
                    else System.out.println("RESULT|" + what + "|refused by cuDNN (allowed): " + ex.getMessage().lines().findFirst().orElse(""));
                }
            }
            String what = reference.name() + " tuned";
            java.nio.file.Path file = java.nio.file.Files.createTempFile("stem", ".engine");
            try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx, GpuEngine.Options.tuned(null))) {
                String tactic = stemTactic(e);
                for (Autotuner.Record r : e.tuner().records())
                    if (r.tactic().startsWith(GpuTactics.CONV_STEM + "/")) System.out.printf("RESULT|%s|candidate %s %.1f us%s%n", what, r.tactic(), r.measuredUs(), r.chosen() ? " chosen" : "");
                System.out.println("RESULT|" + what + "|tactic " + tactic);
                checks.check(what + " tactic", () -> assertTrue(tactic.startsWith(GpuTactics.CONV_STEM + "/"), tactic));
                try (GpuExecutionContext c1 = e.createExecutionContext(); GpuExecutionContext c2 = e.createExecutionContext()) {
                    checks.check(what + " context 1", () -> assertClose(what + " context 1", c1.run(List.of(x)).get(0), ref, 1e-2));
                    checks.check(what + " context 2 (replayed choice)", () -> assertClose(what + " context 2", c2.run(List.of(x)).get(0), ref, 1e-2));
                }
                e.save(file);
                try (GpuEngine l = GpuEngine.load(file, ctx); GpuExecutionContext c = l.createExecutionContext()) {
                    checks.check(what + " loaded tactic", () -> assertTrue(stemTactic(l).equals(tactic), stemTactic(l) + " vs " + tactic));
                    checks.check(what + " loaded", () -> assertClose(what + " loaded", c.run(List.of(x)).get(0), ref, 1e-2));
                }
            } finally {
                java.nio.file.Files.deleteIfExists(file);
            }
        }
        checks.done();
    }

    static String stemTactic(GpuEngine e) {
        return e.layerPlans().stream().map(LayerPlan::tactic).filter(t -> t.startsWith(GpuTactics.CONV_STEM + "/")).findFirst().orElse("(no stem layer)");
    }
}
