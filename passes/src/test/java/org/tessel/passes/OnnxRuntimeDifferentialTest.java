package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.lifecycle.AfterContainer;
import org.junit.jupiter.api.Assumptions;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;

/**
 * Differential check against an independent implementation: random graphs, before and after the
 * clean-up and folding passes, exported to ONNX and run by ONNX Runtime (CPU), must give what the
 * reference interpreter gives. Graphs ORT cannot load (it lacks nothing we generate today, but an
 * op could be added that it lacks) are counted and reported, not silently passed.
 */
class OnnxRuntimeDifferentialTest {
    private static final String PIPELINE = StandardPipelines.CLEANUP + ",recognize-composites,fold-batchnorm,fold-bias-add,merge-siblings,dce";
    private static int compared;
    private static int skippedIllConditioned;
    private static int skippedNewerOps;
    private static final List<String> refused = new ArrayList<>();

    @Provide Arbitrary<List<Integer>> programs() {
        return Arbitraries.integers().between(0, 1_000_000).list().ofMinSize(1).ofMaxSize(8);
    }

    @Property(tries = 300)
    void onnxRuntimeAgreesWithTheReferenceInterpreter(@ForAll("programs") List<Integer> program) throws OrtException {
        OrtEnvironment env;
        try {
            env = OrtEnvironment.getEnvironment();
        } catch (Throwable t) {
            Assumptions.abort("ONNX Runtime's native library does not load here: " + t);
            return;
        }
        Graph g = RandomGraphs.build(program);
        List<Tensor> in = PassPropertiesTest.inputs(g, program.hashCode());
        Graph optimized = g.copy();
        new PassManager().run(optimized, PIPELINE);
        for (Graph graph : List.of(g, optimized)) {
            if (illConditionedForOrt(graph)) { skippedIllConditioned++; continue; }
            if (graph.nodes().stream().anyMatch(n -> NEWER_THAN_ORT.contains(n.opName()))) { skippedNewerOps++; continue; }
            List<Tensor> expected = new ReferenceInterpreter().run(graph, in);
            List<Tensor> actual = runOrt(env, graph, in);
            if (actual == null) continue;
            // ORT accumulates in f32 where the reference uses double, so this cross-implementation check uses 1e-3
            PassPropertiesTest.assertSame(expected, actual, "ONNX Runtime vs reference on " + program + (graph == g ? "" : " after " + PIPELINE), 1e-3);
            compared++;
        }
    }

    /**
     * ORT's CPU LayerNormalization computes the variance as E[x^2] - E[x]^2 in f32, which cancels
     * catastrophically when a short axis holds nearly equal values (a 2-element axis gave 2%
     * differences); the reference's two-pass variance in double is the accurate one there, so
     * such graphs are not compared.
     */
    static boolean illConditionedForOrt(Graph g) {
        for (org.tessel.ir.Node n : g.nodes())
            if (n.opName().equals("LayerNormalization") && n.input(0).type().shape().dim(-1) < 16) return true;
        return false;
    }

    /** Ops of opsets later than the ORT in use (1.20: opset 21) loads: RMSNormalization is opset 23 (recognize-composites makes it). */
    static final java.util.Set<String> NEWER_THAN_ORT = java.util.Set.of("RMSNormalization");

    private static List<Tensor> runOrt(OrtEnvironment env, Graph g, List<Tensor> in) throws OrtException {
        byte[] model = OnnxExporter.toBytes(g);
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT); // compare with ORT's kernels, not its rewrites
        opts.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        try (OrtSession s = env.createSession(model, opts)) {
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            try {
                for (int i = 0; i < in.size(); i++) {
                    Value v = g.inputs().get(i);
                    feeds.put(v.name(), OnnxTensor.createTensor(env, FloatBuffer.wrap(in.get(i).floats()), v.type().shape().longDims()));
                }
                try (OrtSession.Result r = s.run(feeds)) {
                    List<Tensor> out = new ArrayList<>();
                    for (int i = 0; i < g.outputs().size(); i++) {
                        OnnxTensor t = (OnnxTensor) r.get(i);
                        assertEquals(DType.F32, g.outputs().get(i).type().dtype());
                        FloatBuffer fb = t.getFloatBuffer();
                        float[] data = new float[fb.remaining()];
                        fb.get(data);
                        out.add(Tensor.ofFloats(g.outputs().get(i).type().shape(), data));
                    }
                    return out;
                }
            } finally {
                for (OnnxTensor t : feeds.values()) t.close();
            }
        } catch (OrtException e) {
            if (e.getMessage() != null && e.getMessage().contains("NOT_IMPLEMENTED")) {
                refused.add(e.getMessage());
                return null;
            }
            throw e;
        }
    }

    @AfterContainer static void report() {
        System.out.println("ONNX Runtime differential: " + compared + " graphs compared, " + refused.size() + " refused by ORT with its NOT_IMPLEMENTED status, "
                + skippedIllConditioned + " not compared (LayerNorm over fewer than 16 values), " + skippedNewerOps + " not compared (ops newer than ORT's opset: "
                + NEWER_THAN_ORT + ")");
        assertTrue(skippedIllConditioned <= (compared + skippedIllConditioned) / 5, "too many graphs skipped as ill-conditioned: " + skippedIllConditioned);
        assertTrue(refused.size() <= compared / 10, "ONNX Runtime refused too many graphs: " + refused.stream().limit(3).toList());
    }
}
