package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/**
 * Calibration results do not change when calibration gets faster: the scales of every calibrator
 * (and a digest of every histogram) on resnet50-tiny over fixed seeded batches are exactly those
 * in {@code calib/golden-scales.txt}, which the sequential single-pass code of before the speed-up
 * wrote (run with {@code -Dtessel.calib.golden.write=PATH} to write them anew).
 */
class CalibrationGoldenTest {
    static final String RESOURCE = "/calib/golden-scales.txt";

    /** Six batches whose range grows (batch b is scaled by 1 + b % 3), so the histograms merge bins on the way. */
    static List<List<Tensor>> batches(Graph g) {
        List<List<Tensor>> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(11);
        for (int b = 0; b < 6; b++) {
            List<Tensor> in = new ArrayList<>();
            for (var v : g.inputs()) {
                Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
                double s = 1 + b % 3;
                for (int i = 0; i < t.size(); i++) t.setDouble(i, s * r.nextDouble(-1, 1));
                in.add(t);
            }
            out.add(in);
        }
        return out;
    }

    /** One line per tensor and calibrator: the scale's bits, then the histogram's width bits, max bits, total and a digest of the counts. */
    static String render(Graph g, List<List<Tensor>> batches) {
        Map<String, Histogram> hs = ActivationCalibration.collect(g, batches);
        StringBuilder sb = new StringBuilder();
        for (var e : hs.entrySet()) {
            Histogram h = e.getValue();
            long digest = 1;
            for (long c : h.counts()) digest = digest * 1_000_003L + c;
            sb.append(String.format(Locale.ROOT, "histogram %s width=%016x max=%016x total=%d nonfinite=%d counts=%016x%n", e.getKey(),
                    Double.doubleToRawLongBits(h.width()), Double.doubleToRawLongBits(h.max()), h.total(), h.nonFinite(), digest));
        }
        for (String c : List.of("entropy", "minmax", "percentile:99.99", "mse")) {
            Map<String, Float> s = ActivationCalibration.scales(hs, Calibrator.parse(c), w -> {});
            for (var e : s.entrySet())
                sb.append(String.format(Locale.ROOT, "scale %s %s %08x%n", c, e.getKey(), Float.floatToRawIntBits(e.getValue())));
        }
        return sb.toString();
    }

    static Graph model() {
        return Zoo.build("resnet50-tiny", ZooOptions.defaults());
    }

    @Test void scalesAndHistogramsAreExactlyThoseOfTheSequentialCode() throws IOException {
        Graph g = model();
        String got = render(g, batches(g));
        String path = System.getProperty("tessel.calib.golden.write");
        if (path != null && !path.isEmpty()) {
            Files.writeString(Path.of(path), got);
            return;
        }
        String want;
        try (InputStream in = CalibrationGoldenTest.class.getResourceAsStream(RESOURCE)) {
            assertNotNull(in, RESOURCE + " is missing");
            want = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        List<String> w = want.lines().toList(), h = got.lines().toList();
        assertEquals(w.size(), h.size(), "lines");
        for (int i = 0; i < w.size(); i++) assertEquals(w.get(i), h.get(i), "line " + (i + 1));
    }

    @Test void theHistogramsDoNotDependOnTheThreadCount() {
        Graph g = model();
        List<List<Tensor>> bs = batches(g);
        Map<String, Histogram> one = ActivationCalibration.collect(g, bs, 1);
        for (int threads : new int[] {2, 3, 6, 8}) {
            Map<String, Histogram> many = ActivationCalibration.collect(g, bs, threads);
            assertEquals(one.keySet(), many.keySet());
            for (var e : one.entrySet()) {
                Histogram a = e.getValue(), b = many.get(e.getKey());
                assertArrayEquals(a.counts(), b.counts(), threads + " threads, tensor %" + e.getKey());
                assertEquals(a.width(), b.width());
                assertEquals(a.max(), b.max());
                assertEquals(a.total(), b.total());
            }
        }
    }

    @Test void theEntropyLevelsOfABinAreItsLevelRanges() {
        for (int i = Calibrator.Entropy.START; i <= Histogram.BINS; i++)
            for (int lv = 0; lv < Calibrator.Entropy.LEVELS; lv++) {
                int from = (lv * i + 127) / 128, to = ((lv + 1) * i + 127) / 128;
                for (int j = from; j < to; j++) assertEquals(lv, Calibrator.Entropy.level(j, i), "bin " + j + " of " + i);
                if (lv == Calibrator.Entropy.LEVELS - 1) assertEquals(i, to);
            }
    }

    /** The entropy calibrator as first written (per-bin levels, separate loops): what the faster one must match exactly. */
    static double plainEntropy(Histogram h) {
        int levels = 128;
        if (h.width() == 0) return h.max();
        long[] raw = h.counts();
        double[] bins = new double[raw.length];
        for (int i = 0; i < raw.length; i++) bins[i] = raw[i];
        bins[0] = bins[1];
        double[] suffix = new double[bins.length + 1];
        for (int i = bins.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + bins[i];
        double best = Double.POSITIVE_INFINITY;
        int bestI = bins.length;
        double[] p = new double[bins.length], q = new double[bins.length];
        double[] levelSum = new double[levels];
        int[] levelNonzero = new int[levels];
        for (int i = 128; i <= bins.length; i++) {
            java.util.Arrays.fill(levelSum, 0);
            java.util.Arrays.fill(levelNonzero, 0);
            for (int j = 0; j < i; j++) {
                int lv = Calibrator.Entropy.level(j, i);
                levelSum[lv] += bins[j];
                if (bins[j] != 0) levelNonzero[lv]++;
            }
            double qTotal = 0, pTotal = 0;
            for (int j = 0; j < i; j++) {
                int lv = Calibrator.Entropy.level(j, i);
                q[j] = bins[j] == 0 ? 0 : levelSum[lv] / levelNonzero[lv];
                qTotal += q[j];
                p[j] = bins[j];
            }
            p[i - 1] += suffix[i];
            for (int j = 0; j < i; j++) pTotal += p[j];
            if (pTotal == 0 || qTotal == 0) continue;
            double kl = 0;
            for (int j = 0; j < i; j++) {
                if (p[j] == 0) continue;
                double pj = p[j] / pTotal, qj = q[j] / qTotal;
                if (qj == 0) { kl = Double.POSITIVE_INFINITY; break; }
                kl += pj * Math.log(pj / qj);
            }
            if (kl <= best) { best = kl; bestI = i; }
        }
        return Math.min(h.max(), bestI * h.width());
    }

    @Test void theEntropyThresholdIsExactlyThatOfThePlainFormulation() {
        SplittableRandom r = new SplittableRandom(3);
        for (int t = 0; t < 40; t++) {
            long[] c = new long[Histogram.BINS];
            int kind = t % 5;
            for (int j = 0; j < c.length; j++) {
                double decay = Math.exp(-j / (20.0 + 40 * r.nextDouble()));
                c[j] = switch (kind) {
                    case 0 -> (long) (1e6 * decay); // long tail of zeros
                    case 1 -> r.nextInt(4) == 0 ? 0 : r.nextLong(1, 1000); // sparse, ragged
                    case 2 -> r.nextInt(3); // small counts with many repeats
                    case 3 -> (long) (1e17 * decay) + r.nextLong(1000); // beyond 2^53 in total
                    default -> j < 2 || r.nextInt(50) == 0 ? r.nextLong(1, 100) : 0; // almost empty
                };
            }
            Histogram h = Histogram.of(c, 0.001 * (1 + t), Histogram.BINS * 0.001 * (1 + t));
            assertEquals(Double.doubleToRawLongBits(plainEntropy(h)), Double.doubleToRawLongBits(new Calibrator.Entropy().amax(h)), "histogram " + t);
        }
    }

    @Test void aBatchThatFailsFailsCalibrationOnAnyThreadCount() {
        Graph g = model();
        List<List<Tensor>> bs = new ArrayList<>(batches(g));
        var v = g.inputs().get(0);
        int[] d = v.type().shape().dims().clone();
        d[d.length - 1] += 1; // a batch of the wrong shape
        bs.set(2, List.of(Tensor.zeros(v.type().dtype(), org.tessel.api.Shape.of(d))));
        for (int threads : new int[] {1, 3}) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> ActivationCalibration.collect(g, bs, threads));
            assertTrue(String.valueOf(e.getMessage()).contains("input %" + v.name()), e.getMessage());
        }
    }
}
