package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;

/**
 * INT8 from the command line: `build`/`search --int8 --calib DATA --calibrator C --calib-cache F`,
 * every calibration-data form and its errors, the cache written then reused, forced INT8 that no
 * tactic runs (refused, or allowed to fall back and listed by `inspect`), and `export-qdq`, whose
 * file ONNX Runtime runs to the CPU INT8 engine's outputs.
 */
class Int8CommandTest {
    @TempDir Path dir;

    private static final String MODEL = "zoo:resnet50-tiny";
    private static final String CONVS = "layer*conv*=int8";

    private static Tensor input(long seed) {
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        Shape s = g.inputs().getFirst().type().shape();
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Tensor t = Tensor.zeros(DType.F32, s);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
        return t;
    }

    @Test void anInt8BuildWhoseSearchChoseNoInt8SaysSo() {
        CliRun r = CliRun.of("build", MODEL, "--int8", "--calib", "generated:2", "--strategy", "joint", "--cpu", "--save-engine", dir.resolve("none.engine").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("int8: 0 of 22 nodes run INT8; the search found no node faster at INT8 on h200-measured") && r.out().contains("--precision 'Conv=int8'"), r.out());
    }

    @Test void buildCalibratesWritesTheCacheAndReusesIt() throws Exception {
        Path cache = dir.resolve("r.cache"), e1 = dir.resolve("a.engine"), e2 = dir.resolve("b.engine");
        CliRun a = CliRun.of("build", MODEL, "--int8", "--calib", "generated:3", "--calibrator", "minmax", "--calib-cache", cache.toString(),
                "--precision", CONVS, "--strategy", "joint", "--cpu", "--save-engine", e1.toString());
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("int8: calibrated 40 tensors over 3 batches with minmax in ") && a.out().contains("cache written to " + cache), a.out());
        assertTrue(a.out().contains("INT8=17") && a.out().contains("int8: 17 of 24 nodes run INT8\n"), a.out());
        assertTrue(Files.readString(cache).contains("tessel-calibration-cache version=1 calibrator=minmax model=resnet50-tiny fingerprint="));
        EnginePlan stored = Engine.load(e1, EngineHeader.Machine.cpu()).plan();
        assertEquals("minmax", stored.quantization().calibrator());
        assertEquals(17, stored.precisionMix().get(Precision.INT8));

        // the cache exists: no calibration run, same scales, same engine
        CliRun b = CliRun.of("build", MODEL, "--int8", "--calib", "generated:3", "--calib-cache", cache.toString(),
                "--precision", CONVS, "--strategy", "joint", "--cpu", "--save-engine", e2.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("int8: calibration cache " + cache + " (minmax, 40 tensors)") && b.out().contains("--calib is not read"), b.out());
        assertEquals(stored, Engine.load(e2, EngineHeader.Machine.cpu()).plan());

        CliRun inspect = CliRun.of("inspect", e1.toString());
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("int8: 17 nodes, ") && inspect.out().contains(" tensor scales (calibrator minmax)") && inspect.out().contains("\nscale %maxpool "), inspect.out());

        // a hand-edited cache with a broken line is refused naming the file and line
        Files.writeString(cache, Files.readString(cache).replaceFirst("\nmaxpool [0-9.eE-]+\n", "\nmaxpool twelve\n"));
        CliRun bad = CliRun.of("build", MODEL, "--int8", "--calib-cache", cache.toString(), "--strategy", "joint", "--cpu", "--save-engine", e2.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().matches("(?s)tessel build: " + java.util.regex.Pattern.quote(cache.toString()) + ":\\d+: tensor 'maxpool': scale 'twelve' is not a number\\s*"), bad.err());
    }

    @Test void int8WithoutScalesAndStrayCalibrationOptionsAreErrors() {
        Path e = dir.resolve("x.engine");
        CliRun a = CliRun.of("build", MODEL, "--int8", "--strategy", "joint", "--cpu", "--save-engine", e.toString());
        assertEquals("tessel build: --int8 needs quantization scales: give calibration data with --calib DIR|generated[:N] or an existing --calib-cache FILE", a.err().strip());
        CliRun s = CliRun.of("search", MODEL, "--precisions", "fp32,int8");
        assertEquals("tessel search: --int8 needs quantization scales: give calibration data with --calib DIR|generated[:N] or an existing --calib-cache FILE", s.err().strip());
        CliRun stray = CliRun.of("search", MODEL, "--calib", "generated");
        assertEquals("tessel search: --calib applies to INT8 and FP8: add --int8 or --fp8", stray.err().strip());
        CliRun noPlan = CliRun.of("build", MODEL, "--int8", "--calib", "generated:1", "--cpu", "--save-engine", e.toString());
        assertEquals("tessel build: --int8 builds an engine from a plan, where each node's INT8 is the search's choice: add --strategy (e.g. joint)", noPlan.err().strip());
        CliRun calibrator = CliRun.of("search", MODEL, "--int8", "--calib", "generated:1", "--calibrator", "kl");
        assertEquals("tessel search: unknown calibrator 'kl' (entropy, minmax, percentile[:P], mse)", calibrator.err().strip());
        CliRun zero = CliRun.of("search", MODEL, "--int8", "--calib", "generated:0");
        assertEquals("tessel search: --calib generated:0: the calibration set is empty (N must be at least 1)", zero.err().strip());
        assertFalse(Files.exists(e));
    }

    @Test void calibrationDataFoldersAndTheirErrors() throws Exception {
        Path npy = Files.createDirectories(dir.resolve("npy"));
        for (int i = 0; i < 3; i++) Npy.write(npy.resolve("batch" + i + ".npy"), input(i));
        CliRun a = CliRun.of("search", MODEL, "--int8", "--calib", npy.toString(), "--calibrator", "percentile:99.9");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("int8: calibrated 40 tensors over 3 batches with percentile:99.9"), a.out());

        // an ONNX test data set: one folder per batch
        Path sets = Files.createDirectories(dir.resolve("sets"));
        for (int i = 0; i < 2; i++) OnnxTensors.writeTensor(Files.createDirectories(sets.resolve("test_data_set_" + i)).resolve("input_0.pb"), input(10 + i), "input");
        CliRun b = CliRun.of("search", MODEL, "--int8", "--calib", sets.toString(), "--calibrator", "mse");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("over 2 batches with mse"), b.out());

        Path wrong = Files.createDirectories(dir.resolve("wrong"));
        Npy.write(wrong.resolve("a.npy"), Tensor.zeros(DType.F32, Shape.of(1, 3, 8, 8)));
        CliRun c = CliRun.of("search", MODEL, "--int8", "--calib", wrong.toString());
        String inName = Zoo.build("resnet50-tiny", ZooOptions.defaults()).inputs().getFirst().name();
        assertTrue(c.err().startsWith("tessel search: " + wrong.resolve("a.npy") + ": f32[1, 3, 8, 8] for input %" + inName + ", which is f32")
                || c.err().startsWith("tessel search: " + wrong.resolve("a.npy") + ": f32[1,3,8,8] for input %" + inName + ", which is f32"), c.err());
        Npy.write(wrong.resolve("a.npy"), Tensor.zeros(DType.F64, input(0).shape()));
        c = CliRun.of("search", MODEL, "--int8", "--calib", wrong.toString());
        assertTrue(c.err().contains("f64") && c.err().contains("for input %" + inName), c.err());

        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertEquals("tessel search: --calib " + empty + ": the calibration set is empty (no .npy or .pb files, no batch folders)",
                CliRun.of("search", MODEL, "--int8", "--calib", empty.toString()).err().strip());
        assertEquals("tessel search: --calib " + dir.resolve("nope") + ": no such folder", CliRun.of("search", MODEL, "--int8", "--calib", dir.resolve("nope").toString()).err().strip());
    }

    @Test void forcedInt8ThatNoTacticRunsFailsUnlessAllowedToFallBack() throws Exception {
        Path e = dir.resolve("f.engine");
        CliRun refused = CliRun.of("build", MODEL, "--int8", "--calib", "generated:1", "--precision", "conv1=int8", "--strategy", "joint", "--cpu", "--save-engine", e.toString());
        assertEquals(2, refused.code());
        assertTrue(refused.err().startsWith("tessel build: node 'conv1' (Conv): --precision conv1=int8: no INT8 tactic runs it (cudnn.conv.fused_bias_act: INT8 needs input and output channels per group that are multiples of 4 (got 3 -> 4)")
                && refused.err().contains("--int8-fallback"), refused.err());
        CliRun fell = CliRun.of("build", MODEL, "--int8", "--calib", "generated:1", "--precision", "conv1=int8", "--precision", CONVS, "--int8-fallback",
                "--strategy", "joint", "--cpu", "--save-engine", e.toString());
        assertEquals(0, fell.code(), fell.err());
        assertTrue(fell.out().contains("int8 fallback: conv1: rule 'conv1=int8': no INT8 tactic runs it"), fell.out());
        CliRun inspect = CliRun.of("inspect", e.toString());
        assertTrue(inspect.out().contains("\nint8 fallback conv1: rule 'conv1=int8': no INT8 tactic runs it (cudnn.conv.fused_bias_act: INT8 needs input and output channels"), inspect.out());
        assertFalse(inspect.out().contains("int8 fallback layer"), "the nodes that run at INT8 are not listed: " + inspect.out());
    }

    /** export-qdq: ONNX Runtime runs the exported file to the INT8 engine's outputs (both quantize with the same scales), near FP32. */
    @Test void exportedQdqModelRunsInOnnxRuntimeLikeTheInt8Engine() throws Exception {
        Path cache = dir.resolve("c.cache"), plan = dir.resolve("p.json"), e = dir.resolve("q.engine"), onnx = dir.resolve("q.onnx");
        CliRun s = CliRun.of("search", MODEL, "--int8", "--precisions", "fp32", "--calib", "generated:4", "--calib-cache", cache.toString(),
                "--precision", CONVS, "--plan-out", plan.toString());
        assertEquals(0, s.code(), s.err());
        assertEquals(0, CliRun.of("build", MODEL, "--plan", plan.toString(), "--cpu", "--save-engine", e.toString()).code());
        CliRun x = CliRun.of("export-qdq", MODEL, "--plan", plan.toString(), "-o", onnx.toString());
        assertEquals(0, x.code(), x.err());
        assertTrue(x.out().contains("17 activation Q/DQ pairs, 16 weights quantized per channel"), x.out());
        // the same from the cache, placed by the search's own plan
        Path onnx2 = dir.resolve("q2.onnx");
        CliRun y = CliRun.of("export-qdq", MODEL, "--calib-cache", cache.toString(), "--precision", CONVS, "-o", onnx2.toString());
        assertEquals(0, y.code(), y.err());
        assertTrue(y.out().contains("INT8=17"), y.out());

        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        String in = g.inputs().getFirst().name(), out = g.outputs().getFirst().name();
        try (OrtRunner ort = OrtRunner.open(Files.readAllBytes(onnx), Map.of(), onnx.toString())) {
            for (long seed : new long[] {21, 22, 23}) {
                Tensor x0 = input(seed);
                Map<String, Tensor> o = ort.run(Map.of(in, x0), List.of(out));
                Tensor mine = engine.createContext().run(List.of(x0)).getFirst();
                double err = Tensor.relativeL2(mine, o.get(out));
                assertTrue(err < 1e-5, "ONNX Runtime on the Q/DQ file vs the CPU INT8 engine: relative L2 " + err);
                Tensor fp32 = new org.tessel.ir.ReferenceInterpreter().run(g, List.of(x0)).getFirst();
                double q = Tensor.relativeL2(fp32, o.get(out));
                assertTrue(q > 1e-4 && q < 0.2, "quantized, near FP32: relative L2 " + q);
            }
        }
    }

    /**
     * A real model from ../shared/models, calibrated (minmax) on its own test data set: the INT8 CPU
     * engine's logits (the Gemm before the Softmax, %r174; the Softmax itself saturates) stay near
     * the FP32 reference's, and the predicted class is the same.
     */
    @Test void realModelInt8NearFp32() throws Exception {
        Path m = Shared.model("light_resnet50");
        Path e = dir.resolve("real.engine");
        CliRun b = CliRun.of("build", m.resolve("model.onnx").toString(), "--int8", "--calib", m.toString(), "--calibrator", "minmax", "--strategy", "joint", "--cpu",
                "--save-engine", e.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("over 1 batches with minmax"), b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        int int8 = engine.plan().precisionMix().getOrDefault(Precision.INT8, 0);
        assertTrue(int8 >= 40, "the search runs the convolutions at INT8: " + engine.plan().precisionMix());
        Path in = m.resolve("test_data_set_0/input_0.pb");
        CliRun c = CliRun.of("compare", e.toString(), "--model", m.resolve("model.onnx").toString(), "--inputs", in.toString(), "--all-tensors");
        java.util.regex.Matcher logits = java.util.regex.Pattern.compile("tensor %r174 f32\\[1,1000\\]\n  engine vs reference +max_abs \\S+ +rel_l2 (\\S+) +cosine (\\S+)").matcher(c.out());
        assertTrue(logits.find(), c.out());
        double relL2 = Double.parseDouble(logits.group(1)), cosine = Double.parseDouble(logits.group(2));
        System.out.printf("light_resnet50 INT8 (%d INT8 nodes, minmax) logits vs FP32: relative L2 %.4f, cosine %.6f%n", int8, relL2, cosine);
        assertTrue(relL2 > 1e-6 && relL2 < 0.05 && cosine > 0.999, "relative L2 " + relL2 + ", cosine " + cosine);
        Tensor want = OnnxTensors.readTensor(m.resolve("test_data_set_0/output_0.pb")), got = engine.createContext().run(List.of(OnnxTensors.readTensor(in))).getFirst();
        assertEquals(argmax(want), argmax(got), "the same class");
    }

    private static int argmax(Tensor t) {
        int best = 0;
        for (int i = 1; i < t.size(); i++) if (t.getDouble(i) > t.getDouble(best)) best = i;
        return best;
    }
}
