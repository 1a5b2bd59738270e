package org.tessel.runtime.tuning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.cost.Calibration;
import org.tessel.cost.CostModel;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

class CalibrationReportTest {
    static final String[] ALGOS = {"cudnn.conv.implicit_precomp_gemm", "cudnn.conv.implicit_gemm", "cudnn.conv.winograd_nonfused", "cudnn.conv.fft_tiling"};

    /** The keys the auto-tuner writes for a model's convolutions and GEMMs. */
    static List<String> signatures(String model, int batch, String precision) {
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        new PassManager().run(g, StandardPipelines.STANDARD);
        List<String> out = new ArrayList<>();
        for (Node n : g.nodes()) {
            if (n.opName().equals("Gemm") || n.opName().equals("Conv")) out.add(TimingCache.signature(n, precision));
            else if (n.body() != null && n.attrs().getString("kind", "").equals("conv_bias_act")) {
                Node conv = n.body().nodes().get(0);
                out.add(TimingCache.signature(n, precision) + "|" + TimingCache.signature(conv, precision));
            }
        }
        return out;
    }

    private static String noConstants(String sig) { return sig.replaceAll("([\\]}])c([,)])", "$1$2"); }

    @Test
    void signaturesRebuildTheNodesTheyCameFrom() {
        for (String sig : signatures("resnet50", 2, "FP16")) {
            Node n = SignatureNodes.rebuild(sig);
            String again = TimingCache.signature(n, "FP16");
            if (n.body() != null) again += "|" + TimingCache.signature(n.body().nodes().get(0), "FP16");
            assertEquals(noConstants(sig), again, "round trip of " + sig);
        }
        // MobileNetV2's ReLU6 convolutions come back with Relu (the tuner times cuDNN's ReLU call)
        String clip = signatures("mobilenetv2", 1, "FP16").stream().filter(s -> s.contains(",Clip]")).findFirst().orElseThrow();
        Node n = SignatureNodes.rebuild(clip);
        assertEquals("Relu", n.body().nodes().get(n.body().size() - 1).opName());
        assertEquals(org.tessel.api.Layout.NHWC, SignatureNodes.layout(clip));
        assertEquals("FP16", SignatureNodes.precision(clip));
    }

    @Test
    void badSignaturesFailNamingThemselves() {
        var e = assertThrows(IllegalArgumentException.class, () -> SignatureNodes.rebuild("Conv{strides=[1, 1];}(f32[1,2,3,3]{nhwc},f32[2,2,1,1]c"));
        assertTrue(e.getMessage().contains("Conv{strides"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> SignatureNodes.rebuild("tessel.Fused[Gelu]{kind=eltwise;}(f32[4])->f32[4]@FP16"));
        assertTrue(e2.getMessage().contains("eltwise"), e2.getMessage());
    }

    @Test
    void predictionsRankAlgorithmsAndLeaveUnpricedOnesOut() {
        TacticPredictor pr = TacticPredictor.builtin();
        CostModel m = TacticPredictor.model("h200-measured");
        int winogradPriced = 0;
        for (String sig : signatures("resnet50", 1, "FP16")) {
            if (sig.startsWith("Gemm")) {
                double a = pr.predictUs(sig, "cublaslt.gemm/heuristic_0", m), b = pr.predictUs(sig, "cublaslt.gemm/heuristic_3", m);
                assertTrue(a > 0 && a == b, sig);
                continue;
            }
            double pre = pr.predictUs(sig, TacticPredictor.CONV_FUSED + "/cudnn.conv.implicit_precomp_gemm", m);
            double ig = pr.predictUs(sig, TacticPredictor.CONV_FUSED + "/cudnn.conv.implicit_gemm", m);
            assertTrue(pre > 0 && ig > 0, sig);
            assertTrue(Double.isNaN(pr.predictUs(sig, TacticPredictor.CONV_FUSED + "/cudnn.conv.fft_tiling", m)), "FFT has no catalogue tactic");
            double w = pr.predictUs(sig, TacticPredictor.CONV_FUSED + "/cudnn.conv.winograd_nonfused", m);
            if (!Double.isNaN(w)) winogradPriced++;
            if (sig.contains("kernel_shape=[1, 1]")) assertTrue(Double.isNaN(w), "Winograd is 3x3 only: " + sig);
            // the algorithm is a variant: the catalogue tactic is the layer's, the fused call or (3-channel f16 NHWC) the stem
            boolean stem = sig.contains("f32[1,3,224,224]{nhwc}");
            assertEquals(stem ? "tessel.conv.stem" : TacticPredictor.CONV_FUSED, pr.catalogueId(sig, TacticPredictor.CONV_FUSED + "/cudnn.conv.implicit_gemm"), sig);
        }
        assertTrue(winogradPriced > 0);
    }

    /** A synthetic cache: measured = prediction x 1.7 x seeded noise; the report must see the scale and the noise. */
    @Test
    void reportScoresACacheAndWritesItsCsv(@TempDir Path dir) throws Exception {
        TacticPredictor pr = TacticPredictor.builtin();
        CostModel m = TacticPredictor.model("h200-measured");
        TimingCache cache = new TimingCache(new TimingCache.Environment("test GPU", "1", Map.of()));
        SplittableRandom r = new SplittableRandom(3);
        List<Double> pred = new ArrayList<>(), meas = new ArrayList<>();
        for (String sig : new java.util.TreeSet<>(signatures("resnet50", 1, "FP16"))) {
            for (String a : ALGOS) {
                String id = sig.startsWith("Gemm") ? "cublaslt.gemm/heuristic_0" : TacticPredictor.CONV_FUSED + "/" + a;
                double p = pr.predictUs(sig, id, m);
                double t = (Double.isNaN(p) ? 10 : p) * 1.7 * Math.exp(r.nextGaussian() * 0.2);
                cache.put(sig, id, new Measurement(t, 0.01 * t, 9));
                if (!Double.isNaN(p)) { pred.add(p); meas.add(t); }
                if (sig.startsWith("Gemm")) break;
            }
        }
        Path file = dir.resolve("cache.txt");
        cache.save(file);
        long t0 = System.nanoTime();
        CalibrationReport rep = CalibrationReport.of(TimingCache.read(file), "h200-measured");
        System.out.printf("report over %d rows in %.1f s%n%s%n", rep.entries().size(), (System.nanoTime() - t0) / 1e9, rep.text(5));
        double[] p = pred.stream().mapToDouble(Double::doubleValue).toArray(), t = meas.stream().mapToDouble(Double::doubleValue).toArray();
        assertEquals(pred.size(), rep.raw().rows());
        assertEquals(Calibration.spearman(p, t), rep.raw().spearman(), 1e-6);
        assertEquals(Calibration.mape(p, t), rep.raw().mapePct(), 0.01);
        assertTrue(rep.unpriced() > 0, "FFT rows are counted unpriced");
        // the 1.7x scale is what a family fit removes, out of sample too
        assertTrue(rep.raw().mapePct() > 35, "raw MAPE " + rep.raw().mapePct());
        assertTrue(rep.familyCv().mapePct() < 25, "cross-validated MAPE " + rep.familyCv().mapePct());
        assertNotNull(rep.fitted());
        assertTrue(rep.fitted().mapePct() < 25, "fitted MAPE " + rep.fitted().mapePct());
        Path csv = dir.resolve("cal.csv");
        rep.writeCsv(csv);
        List<String> lines = Files.readAllLines(csv);
        assertEquals(rep.entries().size() + 1, lines.size());
        assertTrue(lines.get(0).startsWith("op,tactic,signature,precision,layout,measured_us"));
        assertFalse(rep.text(3).isEmpty());
    }

    /**
     * The real thing: 140 tactics the auto-tuner timed on an H200 (AutotuneBench, level ALL: ResNet-50
     * b1 and b32 FP16, MobileNetV2 b1 FP16), scored from the cache file alone.
     */
    @Test
    void theH200CacheScoresAboveTheTarget() throws Exception {
        Path file = Path.of(CalibrationReportTest.class.getResource("/tuning/h200-autotune-cache.txt").toURI());
        TimingCache cache = TimingCache.read(file);
        assertEquals(140, cache.size());
        CalibrationReport rep = CalibrationReport.of(cache, "h200-measured", false);
        System.out.println(rep.text(8));
        assertEquals(140, rep.entries().size());
        assertEquals(0, rep.unpriced());
        assertTrue(rep.raw().spearman() >= 0.8, "Spearman over all timed tactics " + rep.raw().spearman());
    }
}
