package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.io.IdxFiles;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.runtime.engine.ExecutionContext;

/**
 * INT8 accuracy on real images: the trained Fashion-MNIST CNN (scripts/train-fashion-mnist.py),
 * calibrated on the first 512 training images with each calibrator, its convolutions at INT8 on the
 * CPU engine, top-1 on the 10,000 test images against the FP32 engine's. Skipped, saying so, without
 * the model or Debian's dataset-fashion-mnist.
 */
class FashionMnistInt8Test {
    static final Path MODEL = Path.of("src/test/resources/fashion-mnist/fashion-cnn.onnx");
    static final Path DATA = Path.of("/usr/share/datasets/fashion-mnist");
    static final int CALIBRATION = 512, CALIB_BATCH = 128, BATCH = 100;

    @TempDir Path dir;

    /** Images [from, from + n) as the model takes them: f32 [n, 1, 28, 28], pixels / 255. */
    static Tensor images(Tensor idx, int from, int n) {
        int px = 28 * 28;
        float[] f = new float[n * px];
        for (int i = 0; i < f.length; i++) f[i] = idx.getLong(from * px + i) / 255f;
        return Tensor.ofFloats(DType.F32, Shape.of(n, 1, 28, 28), f);
    }

    /** Top-1 (percent) of an engine over the test set. */
    static double top1(Path engine, Tensor images, Tensor labels) {
        Engine e = Engine.load(engine, EngineHeader.Machine.cpu());
        ExecutionContext ctx = e.createContext();
        int n = labels.size(), right = 0;
        for (int from = 0; from < n; from += BATCH) {
            Tensor logits = ctx.run(List.of(images(images, from, BATCH))).getFirst();
            for (int i = 0; i < BATCH; i++) {
                int best = 0;
                for (int k = 1; k < 10; k++) if (logits.getFloat(i * 10 + k) > logits.getFloat(i * 10 + best)) best = k;
                if (best == labels.getLong(from + i)) right++;
            }
        }
        return 100.0 * right / n;
    }

    @Test void int8TopOneIsWithinAPointOfFp32PerCalibrator() throws Exception {
        Assumptions.assumeTrue(Files.isRegularFile(MODEL), "no trained model at " + MODEL.toAbsolutePath() + " (scripts/train-fashion-mnist.py writes it); skipping");
        Assumptions.assumeTrue(Files.isRegularFile(DATA.resolve("t10k-images-idx3-ubyte.gz")) && Files.isRegularFile(DATA.resolve("train-images-idx3-ubyte.gz")),
                "no Fashion-MNIST at " + DATA + " (apt-get install dataset-fashion-mnist); skipping");
        Tensor train = IdxFiles.read(DATA.resolve("train-images-idx3-ubyte.gz"));
        Tensor test = IdxFiles.read(DATA.resolve("t10k-images-idx3-ubyte.gz")), labels = IdxFiles.read(DATA.resolve("t10k-labels-idx1-ubyte.gz"));
        Path calib = Files.createDirectories(dir.resolve("calib"));
        for (int b = 0; b < CALIBRATION / CALIB_BATCH; b++) Npy.write(calib.resolve(String.format(Locale.ROOT, "train-%03d.npy", b)), images(train, b * CALIB_BATCH, CALIB_BATCH));

        Path fp32 = dir.resolve("fp32.engine");
        CliRun f = CliRun.of("build", MODEL.toString(), "--batch", String.valueOf(BATCH), "--cpu", "--save-engine", fp32.toString());
        assertEquals(0, f.code(), f.err());
        double base = top1(fp32, test, labels);
        Map<String, Double> int8 = new LinkedHashMap<>();
        Map<String, String> how = new LinkedHashMap<>();
        for (String c : List.of("entropy", "minmax", "percentile", "mse")) {
            Path cache = dir.resolve(c.replace(':', '_') + ".cache"), engine = dir.resolve(c.replace(':', '_') + ".engine");
            // calibrate at the calibration batch size; the cache serves the engine's batch size
            CliRun s = CliRun.of("search", MODEL.toString(), "--batch", String.valueOf(CALIB_BATCH), "--int8", "--calib", calib.toString(), "--calibrator", c,
                    "--calib-cache", cache.toString());
            assertEquals(0, s.code(), s.err());
            assertTrue(s.out().contains("over " + CALIBRATION / CALIB_BATCH + " batches"), s.out());
            CliRun b = CliRun.of("build", MODEL.toString(), "--batch", String.valueOf(BATCH), "--int8", "--calib-cache", cache.toString(),
                    "--precision", "Conv=int8", "--int8-fallback", "--strategy", "joint", "--cpu", "--save-engine", engine.toString());
            assertEquals(0, b.code(), b.err());
            var mix = Engine.load(engine, EngineHeader.Machine.cpu()).plan().precisionMix();
            assertTrue(mix.getOrDefault(Precision.INT8, 0) >= 3, c + ": the convolutions run at INT8: " + mix);
            int8.put(c, top1(engine, test, labels));
            how.put(c, mix.toString());
        }
        // explicit quantization: the entropy plan written as a Q/DQ model and built back with the model's own scales, no calibration data
        Path qdq = dir.resolve("entropy-qdq.onnx"), qdqEngine = dir.resolve("entropy-qdq.engine");
        CliRun x = CliRun.of("export-qdq", MODEL.toString(), "--batch", String.valueOf(BATCH), "--calib-cache", dir.resolve("entropy.cache").toString(),
                "--precision", "Conv=int8", "--int8-fallback", "-o", qdq.toString());
        assertEquals(0, x.code(), x.err());
        CliRun q = CliRun.of("build", qdq.toString(), "--cpu", "--save-engine", qdqEngine.toString());
        assertEquals(0, q.code(), q.err());
        double explicit = top1(qdqEngine, test, labels);
        System.out.printf(Locale.ROOT, "Fashion-MNIST top-1 on 10,000 test images: FP32 %.2f%%%n", base);
        for (var e : int8.entrySet())
            System.out.printf(Locale.ROOT, "  INT8 %-10s %.2f%% (%+.2f points; %s)%n", e.getKey(), e.getValue(), e.getValue() - base, how.get(e.getKey()));
        System.out.printf(Locale.ROOT, "  Q/DQ round trip of the entropy plan (export-qdq, then build with the model's scales): %.2f%% (%s)%n", explicit,
                Engine.load(qdqEngine, EngineHeader.Machine.cpu()).plan().precisionMix());
        assertEquals(int8.get("entropy"), explicit, 1e-9, "the Q/DQ model builds to the entropy engine's predictions");
        assertTrue(base > 80, "the trained model classifies: " + base);
        assertTrue(Math.abs(int8.get("entropy") - base) <= 1.0, "INT8 entropy within 1 point of FP32: " + int8.get("entropy") + " vs " + base);
    }
}
