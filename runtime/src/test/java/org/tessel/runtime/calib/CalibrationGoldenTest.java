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
}
