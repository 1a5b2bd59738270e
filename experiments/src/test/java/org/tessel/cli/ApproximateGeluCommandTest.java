package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * `--approximate-gelu` on search and build: the exact GELU after BERT's FFN1 becomes the tanh form, which the search then
 * fuses into cuBLASLt's GELU epilogue; the engine computes the approximated graph (equal to its reference, within the
 * approximation's bound of the model's); combinations it is not carried through are refused naming both flags.
 */
class ApproximateGeluCommandTest {
    @Test void theSearchFusesTheApproximatedGeluIntoTheGemmEpilogue() {
        CliRun exact = CliRun.of("search", "zoo:bert-tiny", "--strategy", "joint", "--precisions", "fp16", "--target", "h100", "--show-plan");
        CliRun approx = CliRun.of("search", "zoo:bert-tiny", "--strategy", "joint", "--precisions", "fp16", "--target", "h100", "--show-plan", "--approximate-gelu");
        assertEquals(0, exact.code(), exact.err());
        assertEquals(0, approx.code(), approx.err());
        assertTrue(exact.out().contains("cublaslt.gemm.bias_gelu_erf") && !exact.out().contains("cublaslt.gemm.bias_gelu "), exact.out());
        assertTrue(approx.out().contains("cublaslt.gemm.bias_gelu ") && !approx.out().contains("bias_gelu_erf"), approx.out());
        assertTrue(predicted(approx.out()) < predicted(exact.out()), "one kernel instead of a GEMM and a GELU pass: " + predicted(approx.out()) + " vs " + predicted(exact.out()));
    }

    static double predicted(String out) {
        var m = java.util.regex.Pattern.compile("predicted latency: ([0-9.]+) ms").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test void theEngineComputesTheApproximatedGraph(@TempDir Path dir) throws Exception {
        Path e = dir.resolve("bert.engine");
        CliRun b = CliRun.of("build", "zoo:bert-tiny", "--cpu", "--strategy", "joint", "--approximate-gelu", "--save-engine", e.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("approximate-gelu: 2 GELUs computed in the tanh form"), b.out());
        CliRun none = CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--approximate-gelu", "--save-engine", dir.resolve("r.engine").toString());
        assertEquals(0, none.code(), none.err());
        assertTrue(none.out().contains("note: --approximate-gelu: the model has no GELU"), "a model without GELUs says so: " + none.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        assertTrue(engine.graph().nodes().stream().flatMap(n -> n.body() == null ? java.util.stream.Stream.of(n) : n.body().nodes().stream())
                .filter(n -> n.opName().equals("Gelu")).allMatch(n -> n.attrs().getString("approximate", "none").equals("tanh")), "every GELU the engine runs is the tanh form");
        Graph model = org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults());
        List<Tensor> in = SearchPlanExecutionTest.inputs(model, 3);
        List<Tensor> want = new ReferenceInterpreter().run(model, in), got = engine.createContext().run(in);
        Graph approximated = model.copy();
        new org.tessel.passes.PassManager().run(approximated, "recognize-composites,approximate-gelu");
        List<Tensor> wantApprox = new ReferenceInterpreter().run(approximated, in);
        for (int k = 0; k < want.size(); k++) {
            double toModel = SearchPlanExecutionTest.relativeL2(want.get(k), got.get(k)), toApprox = SearchPlanExecutionTest.relativeL2(wantApprox.get(k), got.get(k));
            assertTrue(toApprox < 1e-5, "output " + k + ": the FP32 engine computes the approximated graph (" + toApprox + ")");
            assertTrue(toModel > toApprox && toModel < 1e-2, "output " + k + ": and differs from the exact model by the approximation (" + toModel + ")");
        }
    }

    @Test void combinationsItIsNotCarriedThroughAreRefused(@TempDir Path dir) {
        CliRun budget = CliRun.of("build", "zoo:bert-tiny", "--cpu", "--strategy", "joint", "--approximate-gelu", "--accuracy-budget", "rel_l2=0.01", "--save-engine", dir.resolve("a").toString());
        assertEquals(2, budget.code(), budget.out());
        assertTrue(budget.err().contains("--approximate-gelu with --accuracy-budget") && !budget.err().contains("\tat "), budget.err());
        CliRun profiles = CliRun.of("search", "zoo:bert-tiny", "--approximate-gelu", "--min-shapes", "input_ids:1x16", "--opt-shapes", "input_ids:2x16", "--max-shapes", "input_ids:4x16");
        assertTrue(profiles.code() != 0 && profiles.err().contains("--approximate-gelu is not carried into optimization profiles"), profiles.err() + profiles.out());
    }
}
