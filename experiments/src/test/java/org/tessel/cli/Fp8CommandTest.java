package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.runtime.calib.CalibrationCache;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * FP8 (E4M3) from the command line: calibrated builds on the CPU engine (scales amax/448, a cache
 * that records its format, FP8 nodes the plan and `inspect` show), the flags that contradict or lack
 * what FP8 needs refused with one line naming them, and an explicit float8 Q/DQ model built with its
 * own scales to the reference interpreter's outputs.
 */
class Fp8CommandTest {
    private static final OpRegistry OPS = OpRegistry.global();
    private static final String FASHION = "src/test/resources/fashion-mnist/fashion-cnn.onnx";

    @TempDir Path dir;

    private static String error(CliRun r) { return (r.err() + r.out()).strip(); }

    @Test void contradictoryOrIncompleteFlagsAreRefusedNamingThem() throws Exception {
        CliRun both = CliRun.of("build", FASHION, "--fp8", "--int8", "--calib", "generated:1", "--strategy", "joint", "--cpu", "-o", dir.resolve("a.engine").toString());
        assertNotEquals(0, both.code());
        assertTrue(error(both).contains("--int8 and --fp8 together: a plan carries one quantized format"), error(both));
        CliRun rule = CliRun.of("search", FASHION, "--int8", "--calib", "generated:1", "--precision", "Conv=fp8");
        assertTrue(error(rule).contains("--int8 and --precision Conv=fp8 together"), error(rule));

        CliRun noCalib = CliRun.of("build", FASHION, "--fp8", "--strategy", "joint", "--cpu", "-o", dir.resolve("b.engine").toString());
        assertNotEquals(0, noCalib.code());
        assertTrue(error(noCalib).contains("--fp8 needs quantization scales: give calibration data with --calib DIR|generated[:N] or an existing --calib-cache FILE"), error(noCalib));

        // without --cpu, the machine's backend builds it (the GPU engine's FP8 layers are cuBLASLt GEMMs, its convolutions on im2col matrices)
        CliRun gpu = CliRun.of("build", FASHION, "--fp8", "--calib", "generated:1", "--strategy", "joint", "-o", dir.resolve("c.engine").toString());
        assertEquals(0, gpu.code(), error(gpu));

        CliRun a100 = CliRun.of("search", FASHION, "--fp8", "--calib", "generated:1", "--target", "a100");
        assertNotEquals(0, a100.code());
        assertTrue(error(a100).contains("--fp8: target a100 has no fp8 tensor cores (FP8 is sm_89 and later"), error(a100));
        assertFalse(a100.out().contains("calibrated"), "refused before calibrating: " + a100.out());
    }

    /**
     * A MatMul runs on cuBLASLt only inside a fused gemm_bias_act, so a rule pinning BERT's dense layers to FP8 is honoured
     * by fusing them (the exact-GELU intermediate one too), not refused because no tactic runs the MatMul alone.
     */
    @Test void pinningMatMulsToFp8FusesThemIntoFp8Gemms() {
        for (String rule : new String[] {"*intermediate*=fp8", "*dense*=fp8"}) {
            CliRun s = CliRun.of("search", "zoo:bert-tiny", "--target", "h200", "--precisions", "fp32,fp16,fp8", "--calib", "generated:1", "--precision", rule);
            assertEquals(0, s.code(), rule + ": " + s.err());
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("fp8/nchw=(\\d+)").matcher(s.out());
            assertTrue(m.find() && Integer.parseInt(m.group(1)) >= 6, rule + ": " + s.out());
        }
    }

    @Test void aGpuSearchKeepsFp8ForTheGemmsTheGpuEngineRunsAtFp8() {
        org.tessel.ir.Graph prepared = org.tessel.search.Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny"));
        java.util.Set<Precision> precs = java.util.EnumSet.of(Precision.FP16, Precision.FP8);
        java.util.Map<String, String> fallbacks = new java.util.TreeMap<>();
        var rules = BuildCommand.gpuFp8Rules(java.util.List.of(), prepared, precs, fallbacks);
        assertFalse(rules.isEmpty(), "bert-tiny has nodes the catalogue runs at FP8 and the GPU engine does not");
        for (var r : rules) {
            assertEquals(java.util.Set.of(Precision.FP16), r.allowed(), r.text());
            assertTrue(fallbacks.get(r.pattern()).startsWith("the GPU engine: "), fallbacks.toString());
        }
        long gemmsKept = 0;
        for (org.tessel.ir.Node n : prepared.nodes()) {
            boolean ruled = rules.stream().anyMatch(r -> r.pattern().equals(n.name()));
            if ((n.opName().equals("MatMul") || n.opName().equals("Gemm")) && n.input(1).isConstant()) {
                long k = n.input(0).type().shape().dim(-1), m = n.input(0).type().numElements() / k, nn = n.output().type().shape().dim(-1);
                // any M (the pooler's one row): M is cuBLASLt's n, no leading dimension; K and N in sixteens
                if (k % 16 == 0 && nn % 16 == 0) {
                    assertFalse(ruled, n.describe() + " (M=" + m + ") is a GEMM with constant weights, which cuBLASLt's FP8 GEMM runs: " + fallbacks.get(n.name()));
                    gemmsKept++;
                } else {
                    assertTrue(ruled && fallbacks.get(n.name()).contains("multiples of 16 (got K=" + k), n.describe() + ": " + fallbacks.get(n.name()));
                }
            }
        }
        assertTrue(gemmsKept > 0, "bert-tiny's dense layers");
        assertTrue(fallbacks.values().stream().anyMatch(w -> w.contains("has no FP8 kernel on the GPU")), fallbacks.toString());
    }

    @Test void calibratedFp8BuildRunsConvolutionsAtFp8WithAnFp8Cache() throws Exception {
        Path cache = dir.resolve("f.cache"), engine = dir.resolve("f.engine"), fp32 = dir.resolve("fp32.engine");
        CliRun b = CliRun.of("build", FASHION, "--batch", "4", "--fp8", "--calib", "generated:3", "--calibrator", "minmax", "--calib-cache", cache.toString(),
                "--precision", "Conv=fp8", "--fp8-fallback", "--strategy", "joint", "--cpu", "-o", engine.toString());
        assertEquals(0, b.code(), b.err() + b.out());
        assertTrue(b.out().contains("fp8: calibrated "), b.out());
        // the 1-channel stem runs at FP8 too: the GPU's FP8 convolution pads K (1 x 3 x 3 = 9 -> 16) in its im2col matrix
        assertFalse(b.out().contains("fp8 fallback: stem:"), b.out());
        CalibrationCache c = CalibrationCache.read(cache);
        assertEquals(Precision.FP8, c.format());
        assertTrue(Files.readString(cache).contains(" format=fp8\n"), Files.readString(cache));
        Engine e = Engine.load(engine, EngineHeader.Machine.cpu());
        int fp8 = e.plan().precisionMix().getOrDefault(Precision.FP8, 0);
        assertTrue(fp8 >= 3, "the convolutions run FP8: " + e.plan().precisionMix());
        assertEquals(Precision.FP8, e.plan().quantization().format());
        // a scale is the calibrated amax / 448: the image input's minmax amax is below 1 (generated inputs are in [-1, 1))
        assertTrue(c.scales().get("image") <= 1f / 448 && c.scales().get("image") > 0.9f / 448, c.scales().toString());
        CliRun inspect = CliRun.of("inspect", engine.toString());
        assertTrue(inspect.out().contains("fp8: " + fp8 + " nodes, "), inspect.out());

        // the FP8 engine stays close to FP32 on the calibration distribution
        assertEquals(0, CliRun.of("build", FASHION, "--batch", "4", "--cpu", "-o", fp32.toString()).code());
        Tensor x = x(e);
        Tensor want = Engine.load(fp32, EngineHeader.Machine.cpu()).createContext().run(List.of(x)).getFirst();
        Tensor got = e.createContext().run(List.of(x)).getFirst();
        double rel = Tensor.relativeL2(want, got);
        assertTrue(rel > 0 && rel < 0.1, "FP8 vs FP32 relative L2 " + rel);

        // export-qdq with the fp8 cache writes float8e4m3fn pairs; built back with the model's own scales it is the same engine
        Path qdq = dir.resolve("f-qdq.onnx"), qdqEngine = dir.resolve("f-qdq.engine");
        CliRun ex = CliRun.of("export-qdq", FASHION, "--batch", "4", "--calib-cache", cache.toString(), "--fp8", "--precision", "Conv=fp8", "--fp8-fallback", "-o", qdq.toString());
        assertEquals(0, ex.code(), ex.err() + ex.out());
        assertTrue(ex.out().contains("weights quantized per tensor (float8e4m3fn)"), ex.out());
        CliRun q = CliRun.of("build", qdq.toString(), "--cpu", "-o", qdqEngine.toString());
        assertEquals(0, q.code(), q.err() + q.out());
        assertTrue(q.out().contains("nodes marked FP8") && !q.out().contains("warning: weight"), q.out());
        Engine back = Engine.load(qdqEngine, EngineHeader.Machine.cpu());
        assertEquals(fp8, back.plan().precisionMix().getOrDefault(Precision.FP8, 0), back.plan().precisionMix().toString());
        Tensor again = back.createContext().run(List.of(x(e))).getFirst(), once = e.createContext().run(List.of(x(e))).getFirst();
        double maxAbs = 0;
        for (int i = 0; i < once.size(); i++) maxAbs = Math.max(maxAbs, Math.abs(once.getFloat(i) - again.getFloat(i)));
        assertTrue(maxAbs < 1e-5, "the Q/DQ round trip keeps the FP8 engine's outputs: max |diff| " + maxAbs);

        // an fp8 cache does not serve --int8, saying so
        CliRun wrong = CliRun.of("search", FASHION, "--batch", "4", "--int8", "--calib-cache", cache.toString());
        assertTrue(error(wrong).contains("holds fp8 scales (amax/448), and --int8 needs int8 ones"), error(wrong));
    }

    @Test void fp8IsOneMoreChoicePerNodeUnderAnAccuracyBudget() throws Exception {
        java.util.regex.Pattern measured = java.util.regex.Pattern.compile("measured rel_l2 ([0-9.e-]+) on held-out inputs with (\\d+) node\\(s\\) at FP8");
        int[] atFp8 = new int[2];
        String[] budgets = {"0.05", "0.0001"};
        for (int i = 0; i < 2; i++) {
            Path engine = dir.resolve("budget" + i + ".engine");
            CliRun b = CliRun.of("build", FASHION, "--batch", "256", "--fp8", "--calib", "generated:4", "--calib-cache", dir.resolve("budget.cache").toString(),
                    "--accuracy-budget", "rel_l2=" + budgets[i], "--sensitivity-cache", dir.resolve("sensitivity").toString(), "--strategy", "joint", "--cpu",
                    // the convolutions at FP8 or FP32, at a batch where FP8 pays: at FP8 a convolution takes a gather, cuBLASLt's e4m3
                    // matmul and Tessel's epilogue, three launches that a batch of 16 small images does not repay; here the budget decides
                    "--precision", "Conv=fp8|fp32", "-o", engine.toString());
            assertEquals(0, b.code(), b.err() + b.out());
            assertTrue(b.out().contains("sensitivity: ") && b.out().contains("at [fp8] (fp8 with entropy scales") || b.out().contains("sensitivity: reused"), b.out());
            java.util.regex.Matcher m = measured.matcher(b.out());
            assertTrue(m.find(), b.out());
            assertTrue(Double.parseDouble(m.group(1)) <= Double.parseDouble(budgets[i]), "the engine keeps the budget: " + m.group(0));
            atFp8[i] = Integer.parseInt(m.group(2));
            assertEquals(atFp8[i], Engine.load(engine, EngineHeader.Machine.cpu()).plan().precisionMix().getOrDefault(Precision.FP8, 0).intValue());
        }
        assertTrue(atFp8[0] >= 3, "a loose budget takes FP8 convolutions: " + atFp8[0]);
        assertEquals(0, atFp8[1], "a tight budget takes none");
    }

    private static Tensor x(Engine e) { return org.tessel.accuracy.AccuracyInputs.seeded(e.graph(), 1000, false).getFirst(); }

    /** x [4, 32] -> float8 Q/DQ -> Gemm (f8e4m3 weight [16, 32] per tensor, transB, bias) -> y [4, 16]. */
    static Graph fp8QdqModel() {
        SplittableRandom r = new SplittableRandom(3);
        Graph g = new Graph("fp8_qdq");
        Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(4, 32)));
        Value zero = g.addConstant("zero", Tensor.zeros(DType.F8E4M3, Shape.scalar()));
        Value sx = g.addConstant("x_scale", Tensor.ofFloats(Shape.scalar(), 1f / 448));
        Node q = g.addNode(OPS.get("", "QuantizeLinear"), "x_quantize", List.of(x, sx, zero), Attributes.empty(), 1);
        Node d = g.addNode(OPS.get("", "DequantizeLinear"), "x_dequantize", List.of(q.output(0), sx, zero), Attributes.empty(), 1);
        float[] codes = new float[16 * 32];
        for (int i = 0; i < codes.length; i++) codes[i] = Float8E4M3.round((float) r.nextDouble(-448, 448));
        codes[5] = 448; // the largest code 448: the model's per-tensor scale is the engine's amax/448
        Value w = g.addConstant("w_f8", Tensor.ofFloats(DType.F8E4M3, Shape.of(16, 32), codes));
        Value sw = g.addConstant("w_scale", Tensor.ofFloats(Shape.scalar(), 0.01f / 448));
        Node dw = g.addNode(OPS.get("", "DequantizeLinear"), "w_dequantize", List.of(w, sw, zero), Attributes.empty(), 1);
        float[] bias = new float[16];
        for (int i = 0; i < 16; i++) bias[i] = (float) r.nextDouble(-0.1, 0.1);
        Value b = g.addConstant("bias", Tensor.ofFloats(Shape.of(16), bias));
        Node fc = g.addNode(OPS.get("", "Gemm"), "fc", List.of(d.output(0), dw.output(0), b), Attributes.empty().with("transB", AttrValue.of(1L)), 1);
        g.setOutputs(List.of(fc.output(0)));
        return g;
    }

    @Test void anExplicitFloat8QdqModelBuildsWithItsOwnScalesToTheReference() throws Exception {
        Path m = dir.resolve("fp8.onnx"), e = dir.resolve("fp8.engine");
        Graph model = fp8QdqModel();
        Files.write(m, OnnxExporter.toBytes(model));
        CliRun b = CliRun.of("build", m.toString(), "--cpu", "-o", e.toString());
        assertEquals(0, b.code(), b.err() + b.out());
        assertTrue(b.out().contains("fp8: explicit quantization from 1 Q/DQ pairs and 1 quantized weights (the model's scales, no calibration); 1 nodes marked FP8"), b.out());
        assertFalse(b.out().contains("warning: weight"), b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        assertEquals(1, engine.plan().precisionMix().getOrDefault(Precision.FP8, 0), engine.plan().precisionMix().toString());
        assertEquals(Precision.FP8, engine.plan().quantization().format());
        float[] xs = new float[4 * 32];
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextDouble(-1.2, 1.2); // past 448 * scale = 1: saturates
        Tensor x = Tensor.ofFloats(DType.F32, Shape.of(4, 32), xs);
        Tensor want = new ReferenceInterpreter().run(model, java.util.Map.of("x", x)).values().iterator().next();
        Tensor got = engine.createContext().run(List.of(x)).getFirst();
        double maxAbs = 0;
        for (int i = 0; i < want.size(); i++) maxAbs = Math.max(maxAbs, Math.abs(want.getFloat(i) - got.getFloat(i)));
        assertTrue(maxAbs < 1e-6, "engine vs the Q/DQ model on the reference interpreter: max |diff| " + maxAbs);
    }
}
