package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/**
 * Calibration caches: what calibration writes reads back equal; a hand edit (comments, a changed
 * scale) is taken; every malformed line names the file and line; a cache of another model, one
 * missing tensors or made at another batch size is refused naming what differs; extra tensors warn.
 */
class CalibrationCacheTest {
    @TempDir Path dir;

    private static Graph tiny(int batch) {
        return Zoo.build("resnet50-tiny", ZooOptions.defaults().withBatch(batch));
    }

    private static List<List<Tensor>> batches(Graph g, int n) {
        List<List<Tensor>> out = new ArrayList<>();
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int b = 0; b < n; b++) {
            List<Tensor> in = new ArrayList<>();
            for (var v : g.inputs()) {
                Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
                for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
                in.add(t);
            }
            out.add(in);
        }
        return out;
    }

    @Test void writtenCacheReadsBackAndAppliesToItsGraph() throws Exception {
        Graph g = tiny(1);
        List<String> warnings = new ArrayList<>();
        ActivationCalibration.Result r = ActivationCalibration.calibrate(g, batches(g, 3), new Calibrator.Entropy(), warnings::add);
        assertEquals(ActivationCalibration.calibrated(g).size(), r.scales().size(), "a scale per floating activation");
        assertEquals(3, r.batches());
        Path f = dir.resolve("c.cache");
        CalibrationCache.of(g, r.calibrator(), r.scales()).write(f);
        String text = Files.readString(f);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("tessel-calibration-cache version=1 calibrator=entropy model=resnet50-tiny fingerprint=")), text);
        CalibrationCache c = CalibrationCache.read(f);
        assertEquals(r.scales(), c.scales());
        assertEquals(r.scales(), c.scalesFor(g, f, warnings::add));
        assertEquals(List.of(), warnings);
        // a hand edit with comments
        String first = r.scales().keySet().iterator().next();
        Files.writeString(f, text.replace(first + " " + r.scales().get(first) + "\n", "# tuned by hand\n" + first + " 0.5   # was calibrated\n\n"));
        assertEquals(0.5f, CalibrationCache.read(f).scalesFor(g, f, warnings::add).get(first));
    }

    @Test void everyMalformedLineIsNamed() throws Exception {
        Path f = dir.resolve("bad.cache");
        String header = "tessel-calibration-cache version=1 calibrator=minmax model=m fingerprint=00\n";
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(header + "x 0.1\ny\n", f + ":3: expected 'TENSOR SCALE', got 'y'");
        cases.put(header + "x abc\n", f + ":2: tensor 'x': scale 'abc' is not a number");
        cases.put(header + "x -1\n", f + ":2: tensor 'x': scale must be positive and finite, got -1");
        cases.put(header + "x 0\n", f + ":2: tensor 'x': scale must be positive and finite, got 0");
        cases.put(header + "x 0.1\nx 0.2\n", f + ":3: tensor 'x' is given twice");
        cases.put("x 0.1\n", f + ":1: not a calibration cache: the header line must start with 'tessel-calibration-cache', got 'x'");
        cases.put("tessel-calibration-cache version=2 calibrator=minmax model=m fingerprint=00\nx 1\n", f + ":1: calibration cache version 2 is not supported (this Tessel reads version 1)");
        cases.put("tessel-calibration-cache version=1 calibrator=minmax model=m\nx 1\n", f + ":1: the header has no 'fingerprint='");
        cases.put("tessel-calibration-cache version=1 calibrator=minmax model=m fingerprint=0 colour=red\n", f + ":1: unknown header key 'colour' (version, calibrator, model, fingerprint, format)");
        cases.put("tessel-calibration-cache version=1 calibrator=minmax model=m fingerprint=0 format=fp16\nx 1\n", f + ":1: format 'fp16' is not a quantized precision (int8, fp8)");
        cases.put("tessel-calibration-cache version=1 version=1\n", f + ":1: header key 'version' given twice");
        cases.put("# only a comment\n", f + ": empty calibration cache (no 'tessel-calibration-cache' header line)");
        cases.put(header, f + ": the calibration cache has no tensor scales");
        for (var e : cases.entrySet()) {
            Files.writeString(f, e.getKey());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> CalibrationCache.read(f), e.getKey());
            assertEquals(e.getValue(), ex.getMessage());
        }
        assertEquals(dir.resolve("none") + ": no such calibration cache", assertThrows(IllegalArgumentException.class, () -> CalibrationCache.read(dir.resolve("none"))).getMessage());
    }

    @Test void anFp8CacheRecordsItsFormatAndAnInt8OneIsWrittenAsBefore() throws Exception {
        Path f = dir.resolve("fp8.cache");
        CalibrationCache fp8 = new CalibrationCache("entropy", "m", "00ff", java.util.Map.of("x", 0.5f / 448), org.tessel.cost.Precision.FP8);
        fp8.write(f);
        String text = Files.readString(f);
        assertTrue(text.contains("fingerprint=00ff format=fp8\n") && text.contains("e4m3 value * scale"), text);
        assertEquals(fp8, CalibrationCache.read(f));
        CalibrationCache int8 = new CalibrationCache("entropy", "m", "00ff", java.util.Map.of("x", 0.5f / 127));
        int8.write(f);
        assertFalse(Files.readString(f).contains("format="), "an INT8 cache is byte-identical to one written before FP8");
        assertEquals(org.tessel.cost.Precision.INT8, CalibrationCache.read(f).format());
    }

    @Test void aCacheForAnotherGraphIsRefusedNamingWhatDiffers() throws Exception {
        Graph g = tiny(1);
        Map<String, Float> scales = new LinkedHashMap<>();
        for (var v : ActivationCalibration.calibrated(g)) scales.put(v.name(), 0.01f);
        Path f = dir.resolve("c.cache");
        List<String> warnings = new ArrayList<>();

        CalibrationCache other = new CalibrationCache("minmax", "bert", "ff", Map.of("bert.embeddings", 0.1f, "bert.pooler", 0.2f));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> other.scalesFor(g, f, warnings::add));
        assertTrue(e.getMessage().startsWith(f + ": the calibration cache is for another model ('bert'): none of its 2 tensors is in 'resnet50-tiny'"), e.getMessage());

        Map<String, Float> fewer = new LinkedHashMap<>(scales);
        String gone = ActivationCalibration.calibrated(g).get(3).name();
        fewer.remove(gone);
        e = assertThrows(IllegalArgumentException.class, () -> CalibrationCache.of(g, "minmax", fewer).scalesFor(g, f, warnings::add));
        assertEquals(f + ": the calibration cache has no scale for 1 tensor(s) of 'resnet50-tiny': %" + gone + " (recalibrate with --calib, or add 'TENSOR SCALE' lines)", e.getMessage());

        Map<String, Float> more = new LinkedHashMap<>(scales);
        more.put("not.in.model", 1f);
        assertEquals(scales, CalibrationCache.of(g, "minmax", more).scalesFor(g, f, warnings::add));
        assertEquals(List.of(f + ": the calibration cache has scales for 1 tensor(s) 'resnet50-tiny' lacks, not used: %not.in.model"), warnings);

        // same names, another input size: refused; another batch size: the same scales apply
        Graph small = IrParser.parse("graph @m(%x: f32[1,4,8,8]) {\n  %y = Relu(%x) : f32[1,4,8,8]\n  return %y\n}\n", "small.tir");
        Graph large = IrParser.parse("graph @m(%x: f32[1,4,16,16]) {\n  %y = Relu(%x) : f32[1,4,16,16]\n  return %y\n}\n", "large.tir");
        Graph batch8 = IrParser.parse("graph @m(%x: f32[8,4,8,8]) {\n  %y = Relu(%x) : f32[8,4,8,8]\n  return %y\n}\n", "b8.tir");
        CalibrationCache c = CalibrationCache.of(small, "minmax", Map.of("x", 0.1f, "y", 0.1f));
        e = assertThrows(IllegalArgumentException.class, () -> c.scalesFor(large, f, warnings::add));
        assertTrue(e.getMessage().startsWith(f + ": the calibration cache was made for another form of the model (fingerprint "), e.getMessage());
        assertEquals(Map.of("x", 0.1f, "y", 0.1f), c.scalesFor(batch8, f, warnings::add));
        assertEquals(ActivationCalibration.fingerprint(g), ActivationCalibration.fingerprint(tiny(2)), "the batch size is not part of it");
        assertEquals(ActivationCalibration.fingerprint(g), ActivationCalibration.fingerprint(tiny(1)), "the fingerprint is stable");
    }

    @Test void anEmptyCalibrationSetIsRefused() {
        Graph g = tiny(1);
        assertEquals("the calibration set for 'resnet50-tiny' is empty: give at least one batch",
                assertThrows(IllegalArgumentException.class, () -> ActivationCalibration.collect(g, List.of())).getMessage());
    }
}
