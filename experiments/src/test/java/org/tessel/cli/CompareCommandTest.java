package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `tessel compare`: the engine, the reference interpreter and ONNX Runtime on the same inputs; intermediate tensors; precision bisection. */
class CompareCommandTest {
    @TempDir Path dir;

    private static JsonNode json(CliRun r) throws Exception { return new ObjectMapper().readTree(r.out()); }

    private static JsonNode pair(JsonNode row, String a, String b) {
        for (JsonNode c : row.get("comparisons")) if (c.get("a").asText().equals(a) && c.get("b").asText().equals(b)) return c;
        throw new AssertionError("no " + a + " vs " + b + " in " + row);
    }

    @Test void anFp32EngineAgreesWithTheReferenceAndOnnxRuntime() throws Exception {
        CliRun r = CliRun.of("compare", "zoo:resnet50-tiny", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode root = json(r);
        assertTrue(root.get("onnxruntime").asText().startsWith("onnxruntime 1.20.0 (CPU) on zoo:resnet50-tiny as exported to ONNX by Tessel"), root.toString());
        JsonNode out = root.get("outputs").get(0);
        for (String[] p : new String[][] {{"engine", "reference"}, {"onnxruntime", "reference"}, {"engine", "onnxruntime"}}) {
            JsonNode c = pair(out, p[0], p[1]);
            assertTrue(c.get("pass").asBoolean(), c.toString());
            assertTrue(c.get("rel_l2").asDouble() < 1e-5 && c.get("cosine").asDouble() > 0.99999, c.toString());
        }
        assertTrue(root.get("pass").asBoolean());
        CliRun text = CliRun.of("compare", "zoo:resnet50-tiny");
        assertTrue(text.out().strip().endsWith("PASS"), text.out());
        assertTrue(text.out().contains("  onnxruntime vs reference   max_abs "), text.out());
    }

    @Test void anFp16EngineFailsATightToleranceAndPassesALooseOne() throws Exception {
        CliRun tight = CliRun.of("compare", "zoo:resnet50-tiny", "--fp16", "--rtol", "0", "--atol", "1e-6", "--json");
        assertEquals(1, tight.code(), tight.err());
        JsonNode e = pair(json(tight).get("outputs").get(0), "engine", "reference");
        double maxAbs = e.get("max_abs").asDouble();
        assertTrue(maxAbs > 1e-6 && e.get("outside").asLong() > 0, e.toString());
        assertTrue(pair(json(tight).get("outputs").get(0), "onnxruntime", "reference").get("pass").asBoolean(), "ONNX Runtime runs FP32");
        CliRun loose = CliRun.of("compare", "zoo:resnet50-tiny", "--fp16", "--rtol", "0", "--atol", String.valueOf(maxAbs * 1.01));
        assertEquals(0, loose.code(), loose.out());
        assertTrue(loose.out().contains("precisions {FP16="), loose.out());
    }

    @Test void aBf16EngineOutsideTheDefaultToleranceIsToldItsRoundingAndWhatToPass() throws Exception {
        // BF16 rounds by ~3.9e-3 relative: the default rtol 1e-3 fails on rounding alone, and the FAIL says so (and what to pass)
        CliRun strict = CliRun.of("compare", "zoo:resnet50-tiny", "--bf16", "--no-onnxruntime");
        assertEquals(1, strict.code(), strict.out());
        assertTrue(strict.out().contains("note: the engine runs layers at bf16, whose rounding alone is about 0.00391 relative, more than rtol 0.001; "
                + "to compare at bf16's precision pass --rtol 0.01 (or more)"), strict.out());
        assertTrue(strict.out().contains("pass --rtol "), strict.out());
        // an FP32 engine's failure is not rounding: no note
        CliRun fp32 = CliRun.of("compare", "zoo:resnet50-tiny", "--no-onnxruntime", "--rtol", "0", "--atol", "0");
        assertFalse(fp32.out().contains("note: the engine runs layers at"), fp32.out());
        assertEquals(java.util.Optional.empty(), CompareCommand.roundingHint(java.util.EnumSet.of(org.tessel.cost.Precision.FP16), 1e-3));
        assertEquals("note: the engine runs layers at bf16, whose rounding alone is about 0.00391 relative, more than rtol 0.001; to compare at bf16's precision pass --rtol 0.01 (or more)",
                CompareCommand.roundingHint(java.util.EnumSet.of(org.tessel.cost.Precision.FP32, org.tessel.cost.Precision.BF16), 1e-3).orElseThrow());
    }

    /**
     * What a failed reduced-precision GPU comparison adds: the engine's own plan emulated on the CPU. An engine whose error
     * is the size of that emulation's (here the emulation's own outputs) is told it is the plan's rounding; one further
     * off (the same outputs scaled by 1.05, as a broken kernel might give) is told to look for a kernel's error.
     */
    @Test void aReducedPrecisionEngineIsToldWhetherItsErrorIsItsPlansRounding() {
        org.tessel.ir.Graph model = org.tessel.ir.zoo.Zoo.build("resnet50-tiny", org.tessel.ir.zoo.ZooOptions.defaults());
        var o = org.tessel.search.SearchOptions.defaults().withTarget("h100")
                .withPrecisions(java.util.EnumSet.of(org.tessel.cost.Precision.FP32, org.tessel.cost.Precision.FP16))
                .withPrecisionRules(java.util.List.of(org.tessel.search.PrecisionRule.parse("*=fp16")));
        var problem = org.tessel.search.Searcher.problem(org.tessel.search.Searcher.prepare(model.copy()), o);
        var applied = org.tessel.search.EnginePlans.complete(problem, org.tessel.search.Searcher.run(problem, "joint", o));
        java.util.List<org.tessel.api.Tensor> inputs = OptimizeCommand.randomInputs(applied.graph());
        java.util.List<org.tessel.api.Tensor> ref = new org.tessel.ir.ReferenceInterpreter().run(model, inputs);
        java.util.List<org.tessel.api.Tensor> emulated = org.tessel.runtime.engine.Engine.buildCpu(applied.graph().copy(), applied.plan()).createContext().run(inputs);
        java.util.List<String> names = model.outputs().stream().map(org.tessel.ir.Value::name).toList();
        assertTrue(CompareCommand.planEmulation(applied.graph(), applied.plan(), inputs, ref, emulated, names), "the emulation's own outputs are its rounding");
        java.util.List<org.tessel.api.Tensor> off = new java.util.ArrayList<>();
        for (org.tessel.api.Tensor t : emulated) {
            float[] v = t.floats().clone();
            for (int i = 0; i < v.length; i++) v[i] *= 1.05f;
            off.add(org.tessel.api.Tensor.ofFloats(org.tessel.api.DType.F32, t.shape(), v));
        }
        assertFalse(CompareCommand.planEmulation(applied.graph(), applied.plan(), inputs, ref, off, names), "5% off is more than FP16's rounding");
    }

    @Test void allTensorsComparesTheEnginesIntermediatesByNameWithReferenceAndOnnxRuntime() throws Exception {
        CliRun r = CliRun.of("compare", "zoo:resnet50-tiny", "--all-tensors", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode tensors = json(r).get("tensors");
        assertTrue(tensors.size() >= 10, tensors.toString());
        int withOrt = 0;
        for (JsonNode t : tensors) {
            assertTrue(t.get("pass").asBoolean(), t.toString());
            for (JsonNode c : t.get("comparisons")) if (c.get("a").asText().equals("onnxruntime")) withOrt++;
        }
        assertEquals(tensors.size(), withOrt, "ONNX Runtime returns every intermediate the engine keeps, as an added output");
        // at FP16 the intermediates drift: the first one outside tolerance is named
        CliRun h = CliRun.of("compare", "zoo:resnet50-tiny", "--all-tensors", "--fp16", "--rtol", "0", "--atol", "1e-7");
        assertEquals(1, h.code());
        assertTrue(h.out().contains("first tensor outside tolerance (in engine order): %"), h.out());
    }

    @Test void anEngineFileComparesWithItsModelOrSaysOnnxRuntimeIsSkipped() throws Exception {
        Path e = dir.resolve("r.engine");
        assertEquals(0, CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", e.toString()).code());
        CliRun alone = CliRun.of("compare", e.toString());
        assertEquals(0, alone.code(), alone.err());
        assertTrue(alone.out().contains("onnxruntime: skipped: an engine file does not hold its ONNX model; give it with --model MODEL.onnx"), alone.out());
        assertTrue(alone.out().contains("reference interpreter on the engine's graph (no --model)"), alone.out());
        CliRun with = CliRun.of("compare", e.toString(), "--model", "zoo:resnet50-tiny");
        assertEquals(0, with.code(), with.err());
        assertTrue(with.out().contains("  engine vs onnxruntime "), with.out());
        CliRun wrong = CliRun.of("compare", e.toString(), "--model", "zoo:bert-tiny");
        assertEquals(2, wrong.code());
        assertTrue(wrong.err().startsWith("tessel compare: the engine's input %input: f32[1,3,32,32] and the model's input %"), wrong.err());
        assertEquals(1, wrong.err().strip().lines().count(), wrong.err());
    }

    @Test void bisectionFindsTheLayersThatMustStayFp32AndItsPlanPasses() throws Exception {
        CliRun all16 = CliRun.of("compare", "zoo:resnet50-tiny", "--fp16", "--json", "--no-onnxruntime");
        double err16 = pair(json(all16).get("outputs").get(0), "engine", "reference").get("max_abs").asDouble();
        String atol = String.valueOf(err16 / 3);
        Path plan = dir.resolve("plan.json");
        CliRun b = CliRun.of("compare", "zoo:resnet50-tiny", "--bisect-precision", "fp16", "--rtol", "0", "--atol", atol, "--plan-out", plan.toString());
        assertEquals(0, b.code(), b.out() + b.err());
        assertTrue(b.out().contains("all fp16:") && b.out().contains("FAIL ("), b.out());
        String line = b.out().lines().filter(s -> s.startsWith("layers that must stay fp32 (")).findFirst().orElseThrow(() -> new AssertionError(b.out()));
        String[] counts = line.substring("layers that must stay fp32 (".length(), line.indexOf(',')).split(" of ");
        int need = Integer.parseInt(counts[0]), of = Integer.parseInt(counts[1]);
        assertTrue(need >= 1 && need < of, line);
        assertTrue(b.out().contains("with them in fp32:") && b.out().strip().endsWith("PASS"), b.out());
        // the written plan builds an engine that is within the tolerance, with fp32 layers and fp16 layers
        Path e = dir.resolve("b.engine");
        assertEquals(0, CliRun.of("build", "zoo:resnet50-tiny", "--save-engine", e.toString(), "--plan", plan.toString(), "--cpu").code());
        CliRun c = CliRun.of("compare", e.toString(), "--model", "zoo:resnet50-tiny", "--rtol", "0", "--atol", atol, "--no-onnxruntime");
        assertEquals(0, c.code(), c.out());
        assertTrue(c.out().contains("FP16=") && c.out().contains("FP32="), c.out());
    }

    @Test void badUseIsOneLine() throws Exception {
        CliRun r = CliRun.of("compare", "zoo:resnet50-tiny", "--bisect-precision", "int4");
        assertEquals(2, r.code());
        assertEquals("tessel compare: --bisect-precision 'int4': give the reduced precision to bisect, fp16, bf16 or tf32", r.err().strip());
        r = CliRun.of("compare", "zoo:resnet50-tiny", "--model", "x.onnx");
        assertEquals("tessel compare: --model names an engine's source model; zoo:resnet50-tiny is a model itself", r.err().strip());
        r = CliRun.of("compare", "zoo:resnet50-tiny", "--rtol", "-1");
        assertEquals("tessel compare: --rtol and --atol must be >= 0, got -1.0 and 1.0E-4", r.err().strip());
        r = CliRun.of("compare", "zoo:resnet50-tiny", "--plan-out", dir.resolve("p.json").toString());
        assertEquals("tessel compare: --plan-out writes the plan --bisect-precision finds; add --bisect-precision", r.err().strip());
        assertFalse(Files.exists(dir.resolve("p.json")));
    }
}
