package org.tessel.runtime.llm.quant;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.runtime.llm.DecoderRunner;

/**
 * AWQ and SmoothQuant on the zoo decoders: channel scaling is exact in FP32 before quantization, AWQ
 * beats round-to-nearest where activations have outlier channels, and generation runs in every mode,
 * deterministically.
 */
class LlmQuantizationTest {
    static final long SEED = 42;

    static long[][] calibration(DecoderConfig c, int count, int len, int offset) {
        return CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), count, len, offset);
    }

    static Tensor prefillLogits(Graph g, long[] seq) {
        return new ReferenceInterpreter().run(g, ActivationStats.prefillInputs(seq)).get("logits");
    }

    /** Random per-channel scales in [1/8, 8] for every group: folding them must not change the FP32 model. */
    @Test void channelScalingIsExactInFp32() {
        for (String model : List.of("llama-tiny", "gpt2-tiny")) {
            DecoderConfig c = Zoo.decoder(model, 0);
            Graph g = Zoo.buildDecoder(model, c, new DecoderShape(1, 16, 0), SEED);
            long[] seq = calibration(c, 1, 16, 4000)[0];
            Tensor before = prefillLogits(g, seq);
            SplittableRandom r = new SplittableRandom(5);
            Map<String, float[]> scales = new HashMap<>();
            int folded = 0, explicit = 0;
            for (ChannelScaling.Group grp : ChannelScaling.groups(g)) {
                float[] s = new float[grp.k()];
                for (int j = 0; j < s.length; j++) s[j] = (float) Math.exp(r.nextDouble(-Math.log(8), Math.log(8)));
                for (String w : grp.weightNames()) scales.put(w, s);
                if (grp.foldTarget(g) != null) folded++; else explicit++;
            }
            int mulsBefore = g.opHistogram().getOrDefault("Mul", 0);
            assertEquals(folded + explicit, ChannelScaling.apply(g, scales));
            assertEquals(mulsBefore + explicit, g.opHistogram().getOrDefault("Mul", 0), model + ": one explicit Mul per group without a norm");
            assertEquals(2 * 2, folded, model + ": the two norms of each layer take the scales");
            double rel = Tensor.relativeL2(before, prefillLogits(g, seq));
            assertTrue(rel < 1e-5, model + ": FP32 logits moved by " + rel);
        }
    }

    /** After recognize-composites the norms are RMSNormalization nodes: their scale takes the 1/s, as the Mul by the weight did. */
    @Test void channelScalingFoldsIntoRecognizedRmsNormalizations() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        Graph g = Zoo.buildDecoder("llama-tiny", c, new DecoderShape(1, 16, 0), SEED);
        new PassManager().run(g, "recognize-composites,dce");
        long[] seq = calibration(c, 1, 16, 4000)[0];
        Tensor before = prefillLogits(g, seq);
        SplittableRandom r = new SplittableRandom(6);
        Map<String, float[]> scales = new HashMap<>();
        int folded = 0;
        for (ChannelScaling.Group grp : ChannelScaling.groups(g)) {
            float[] s = new float[grp.k()];
            for (int j = 0; j < s.length; j++) s[j] = (float) Math.exp(r.nextDouble(-Math.log(8), Math.log(8)));
            for (String w : grp.weightNames()) scales.put(w, s);
            var target = grp.foldTarget(g);
            if (target != null) { assertEquals("RMSNormalization", target.opName()); folded++; }
        }
        assertEquals(2 * 2, folded, "the two norms of each layer take the scales");
        int mulsBefore = g.opHistogram().getOrDefault("Mul", 0), groups = ChannelScaling.groups(g).size();
        ChannelScaling.apply(g, scales);
        assertEquals(mulsBefore + groups - folded, g.opHistogram().getOrDefault("Mul", 0));
        assertTrue(Tensor.relativeL2(before, prefillLogits(g, seq)) < 1e-5);
    }

    /** SmoothQuant's calibrated migration, before any quantization, leaves the FP32 model as it was. */
    @Test void smoothQuantMigrationIsExactInFp32() {
        for (String model : List.of("llama-tiny", "gpt2-tiny")) {
            DecoderConfig c = Zoo.decoder(model, 0);
            LlmQuantization q = LlmQuantization.calibrate(model, c, SEED, QuantizationSpec.parse(null, false, ""), calibration(c, 2, 32, 0));
            assertEquals(2 * (model.equals("llama-tiny") ? 5 : 2), q.channelScales().size(), model + ": weights of norm-fed groups smoothed: " + q.channelScales().keySet());
            Graph g = Zoo.buildDecoder(model, c, new DecoderShape(1, 16, 0), SEED);
            long[] seq = calibration(c, 1, 16, 4000)[0];
            Tensor before = prefillLogits(g, seq);
            ChannelScaling.apply(g, q.channelScales());
            assertTrue(Tensor.relativeL2(before, prefillLogits(g, seq)) < 1e-5);
            // then the W8A8 rewrite: every linear layer but the head
            SmoothQuant.rewrite(g, activationScalesOf(q, g));
            assertEquals(2 * (model.equals("llama-tiny") ? 7 : 4), g.opHistogram().getOrDefault(QuantizedMatMulOps.W8A8, 0));
        }
    }

    private static Map<String, Float> activationScalesOf(LlmQuantization q, Graph g) {
        Map<String, Float> m = new HashMap<>();
        for (ChannelScaling.Group grp : ChannelScaling.groups(g)) for (var member : grp.members()) m.put(ChannelScaling.originalName(member.weight()), 0.05f);
        return m;
    }

    /**
     * A layer whose input has a few outlier channels (x50) that meet small weights: AWQ scales those
     * channels up before quantizing, so their weights keep precision, and its output error on held-out
     * rows is well below round-to-nearest's.
     */
    @Test void awqBeatsRoundToNearestOnOutlierChannels() {
        int k = 128, n = 96, rows = 256;
        SplittableRandom r = new SplittableRandom(9);
        Graph g = normThenProjection(rows, k, n, r);
        int[] outliers = {3, 40, 77, 101};
        java.util.function.Supplier<Tensor> batch = () -> {
            float[] v = new float[rows * k];
            for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
            for (int i = 0; i < rows; i++) for (int o : outliers) v[i * k + o] *= 50;
            return Tensor.ofFloats(Shape.of(rows, k), v);
        };
        Tensor calib = batch.get(), heldOut = batch.get();
        ChannelScaling.Group grp = ChannelScaling.groups(g).getFirst();
        float[] mean = new float[k], max = new float[k];
        float[][] xr = new float[rows][k];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < k; j++) {
                float a = Math.abs(calib.floats()[i * k + j]);
                mean[j] += a / rows;
                max[j] = Math.max(max[j], a);
                xr[i][j] = calib.floats()[i * k + j];
            }
        var f = new WeightQuantizer.Format(4, 32, true);
        Awq.Choice choice = Awq.search(new ActivationStats.GroupStats(grp, mean, max, xr), f, DType.F16);
        assertTrue(choice.alpha() > 0, "alpha " + choice.alpha());
        assertTrue(choice.error() < 0.7 * choice.rtnError(), "AWQ " + choice.error() + " vs RTN " + choice.rtnError());

        Tensor want = new ReferenceInterpreter().run(g, List.of(heldOut)).getFirst();
        Graph rtn = g.copy(), awq = g.copy();
        new PassManager().run(rtn, "quantize-weights{bits=4,group-size=32}");
        ChannelScaling.apply(awq, Map.of("proj.weight", choice.scales()));
        assertEquals("proj", ChannelScaling.groups(awq).getFirst().members().getFirst().node().name());
        new PassManager().run(awq, "quantize-weights{bits=4,group-size=32}");
        assertEquals(1, awq.opHistogram().getOrDefault(QuantizedMatMulOps.WEIGHT_ONLY, 0));
        double eRtn = Tensor.relativeL2(want, new ReferenceInterpreter().run(rtn, List.of(heldOut)).getFirst());
        double eAwq = Tensor.relativeL2(want, new ReferenceInterpreter().run(awq, List.of(heldOut)).getFirst());
        System.out.printf("outlier channels, W4 g32: held-out relative L2 RTN %.4f, AWQ %.4f (alpha %.1f)%n", eRtn, eAwq, choice.alpha());
        assertTrue(eAwq < 0.8 * eRtn, "held out: AWQ " + eAwq + " vs RTN " + eRtn);
    }

    /** A quantized decoder's engine (u8/i8 codes, f16 scales, the new ops) survives an engine file: same logits after loading. */
    @Test void quantizedEngineSavesAndLoads(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        for (QuantizationSpec spec : List.of(QuantizationSpec.parse("int4:32", false, null), QuantizationSpec.parse(null, false, ""))) {
            DecoderRunner runner = new DecoderRunner("llama-tiny", c, SEED, LlmQuantization.calibrate("llama-tiny", c, SEED, spec, calibration(c, 2, 32, 0)));
            Graph g = runner.graph(new DecoderShape(1, 16, 0));
            new PassManager().run(g, org.tessel.passes.StandardPipelines.resolve("standard"));
            org.tessel.runtime.engine.Engine e = org.tessel.runtime.engine.Engine.buildCpu(g);
            java.nio.file.Path f = dir.resolve(spec.label() + ".engine");
            try {
                e.save(f);
            } catch (java.io.IOException ex) {
                throw new java.io.UncheckedIOException(ex);
            }
            org.tessel.runtime.engine.Engine loaded = org.tessel.runtime.engine.Engine.read(f);
            long[] seq = calibration(c, 1, 16, 4000)[0];
            Map<String, Tensor> in = new LinkedHashMap<>();
            long[] ones = new long[16], pos = new long[16];
            for (int i = 0; i < 16; i++) { ones[i] = 1; pos[i] = i; }
            in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, 16), seq));
            in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(1, 16), ones));
            in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, 16), pos));
            assertArrayEquals(e.createContext().run(in).get("logits").floats(), loaded.createContext().run(in).get("logits").floats(), spec.label());
        }
    }

    /**
     * Activations with outlier channels (x50) after a norm: per-tensor INT8 of X wastes its range on
     * them; SmoothQuant's migration into the norm and the weights brings W8A8's output error well down.
     */
    @Test void smoothQuantBeatsPlainW8A8OnOutlierChannels() {
        int k = 128, n = 96, rows = 256;
        SplittableRandom r = new SplittableRandom(19);
        Graph g = normThenProjection(rows, k, n, r);
        float[] v = new float[rows * k];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        for (int i = 0; i < rows; i++) for (int o : new int[] {5, 60, 99}) v[i * k + o] *= 50;
        Tensor in = Tensor.ofFloats(Shape.of(rows, k), v);
        float[] max = new float[k], mean = new float[k];
        for (int i = 0; i < rows; i++) for (int j = 0; j < k; j++) max[j] = Math.max(max[j], Math.abs(v[i * k + j]));
        ActivationStats.GroupStats st = new ActivationStats.GroupStats(ChannelScaling.groups(g).getFirst(), mean, max, new float[0][]);
        Tensor want = new ReferenceInterpreter().run(g, List.of(in)).getFirst();

        Graph plain = g.copy();
        SmoothQuant.rewrite(plain, Map.of("proj.weight", SmoothQuant.activationScale(max, null)));
        Graph smooth = g.copy();
        float[] s = SmoothQuant.factors(st, 0.5f);
        ChannelScaling.apply(smooth, Map.of("proj.weight", s));
        SmoothQuant.rewrite(smooth, Map.of("proj.weight", SmoothQuant.activationScale(max, s)));
        assertEquals(1, smooth.opHistogram().getOrDefault(QuantizedMatMulOps.W8A8, 0));
        double ePlain = Tensor.relativeL2(want, new ReferenceInterpreter().run(plain, List.of(in)).getFirst());
        double eSmooth = Tensor.relativeL2(want, new ReferenceInterpreter().run(smooth, List.of(in)).getFirst());
        System.out.printf("outlier channels, W8A8: relative L2 without smoothing %.4f, SmoothQuant alpha 0.5 %.4f%n", ePlain, eSmooth);
        assertTrue(eSmooth < 0.5 * ePlain, "SmoothQuant " + eSmooth + " vs plain " + ePlain);
    }

    /** Greedy generation in every mode on both tiny decoders: same tokens twice (fresh runners), printed. */
    @Test void generatesInEveryModeDeterministically() {
        long[][] prompts = {{1, 2, 3, 4}};
        for (String model : List.of("llama-tiny", "gpt2-tiny")) {
            DecoderConfig c = Zoo.decoder(model, 0);
            long[][] calib = calibration(c, 2, 32, 0);
            for (QuantizationSpec spec : List.of(QuantizationSpec.FP32, QuantizationSpec.parse("int8:64", false, null), QuantizationSpec.parse("int4:32", false, null),
                    QuantizationSpec.parse("int4:32", true, null), QuantizationSpec.parse(null, false, "0.5"))) {
                long[] first = null;
                for (int rep = 0; rep < 2; rep++) {
                    DecoderRunner runner = new DecoderRunner(model, c, SEED, LlmQuantization.calibrate(model, c, SEED, spec, calib));
                    long[] out = QuantizationEval.greedy(runner, prompts, 12).getFirst();
                    assertEquals(12, out.length);
                    if (first == null) first = out;
                    else assertArrayEquals(first, out, model + " " + spec.label());
                }
                System.out.println(model + " " + spec.label() + ": " + java.util.Arrays.toString(first));
            }
        }
    }

    /** x [rows, k] -> a norm's weight (ones) -> a projection [k, n] of N(0, 0.05) weights -> Identity (so the projection is not the LM head). */
    static Graph normThenProjection(int rows, int k, int n, SplittableRandom r) {
        NetworkBuilder b = new NetworkBuilder("outliers");
        Value x = b.input("x", DType.F32, rows, k);
        float[] gamma = new float[k];
        java.util.Arrays.fill(gamma, 1f);
        Value normed = b.name("norm").mul(x, b.constant("norm.weight", Tensor.ofFloats(Shape.of(k), gamma)));
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.05);
        Value y = b.name("proj").matmul(normed, b.constant("proj.weight", Tensor.ofFloats(Shape.of(k, n), w)));
        return b.output(b.name("out").op("Identity", org.tessel.api.Attributes.empty(), y)).build();
    }
}
