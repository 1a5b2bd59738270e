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
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.io.IdxFiles;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * FP8 accuracy on real images, as FashionMnistInt8Test measures INT8: the trained Fashion-MNIST CNN
 * calibrated for FP8 (scales amax/448) on the first 512 training images with each calibrator, its
 * convolutions at FP8 on the CPU engine (the 1-channel stem too: FP8 convolutions take any input
 * channel count), top-1 on the 10,000 test images against the FP32 engine's. Skipped, saying so, without
 * the model or Debian's dataset-fashion-mnist.
 */
class FashionMnistFp8Test {
    @TempDir Path dir;

    @Test void fp8TopOneIsWithinAPointOfFp32PerCalibrator() throws Exception {
        Path model = FashionMnistInt8Test.MODEL, data = FashionMnistInt8Test.DATA;
        Assumptions.assumeTrue(Files.isRegularFile(model), "no trained model at " + model.toAbsolutePath() + " (scripts/train-fashion-mnist.py writes it); skipping");
        Assumptions.assumeTrue(Files.isRegularFile(data.resolve("t10k-images-idx3-ubyte.gz")) && Files.isRegularFile(data.resolve("train-images-idx3-ubyte.gz")),
                "no Fashion-MNIST at " + data + " (apt-get install dataset-fashion-mnist); skipping");
        int calibration = FashionMnistInt8Test.CALIBRATION, calibBatch = FashionMnistInt8Test.CALIB_BATCH, batch = FashionMnistInt8Test.BATCH;
        Tensor train = IdxFiles.read(data.resolve("train-images-idx3-ubyte.gz"));
        Tensor test = IdxFiles.read(data.resolve("t10k-images-idx3-ubyte.gz")), labels = IdxFiles.read(data.resolve("t10k-labels-idx1-ubyte.gz"));
        Path calib = Files.createDirectories(dir.resolve("calib"));
        for (int b = 0; b < calibration / calibBatch; b++)
            Npy.write(calib.resolve(String.format(Locale.ROOT, "train-%03d.npy", b)), FashionMnistInt8Test.images(train, b * calibBatch, calibBatch));

        Path fp32 = dir.resolve("fp32.engine");
        CliRun f = CliRun.of("build", model.toString(), "--batch", String.valueOf(batch), "--cpu", "--save-engine", fp32.toString());
        assertEquals(0, f.code(), f.err());
        double base = FashionMnistInt8Test.top1(fp32, test, labels);
        Map<String, Double> fp8 = new LinkedHashMap<>();
        Map<String, String> how = new LinkedHashMap<>();
        for (String c : List.of("entropy", "minmax", "percentile", "mse")) {
            Path cache = dir.resolve(c + ".cache"), engine = dir.resolve(c + ".engine");
            CliRun s = CliRun.of("search", model.toString(), "--batch", String.valueOf(calibBatch), "--fp8", "--target", "h100", "--calib", calib.toString(),
                    "--calibrator", c, "--calib-cache", cache.toString());
            assertEquals(0, s.code(), s.err() + s.out());
            CliRun b = CliRun.of("build", model.toString(), "--batch", String.valueOf(batch), "--fp8", "--calib-cache", cache.toString(),
                    "--precision", "Conv=fp8", "--fp8-fallback", "--strategy", "joint", "--cpu", "--save-engine", engine.toString());
            assertEquals(0, b.code(), b.err() + b.out());
            var mix = Engine.load(engine, EngineHeader.Machine.cpu()).plan().precisionMix();
            assertTrue(mix.getOrDefault(Precision.FP8, 0) >= 3, c + ": the convolutions run at FP8: " + mix);
            fp8.put(c, FashionMnistInt8Test.top1(engine, test, labels));
            how.put(c, mix.toString());
        }
        System.out.printf(Locale.ROOT, "Fashion-MNIST top-1 on 10,000 test images: FP32 %.2f%%%n", base);
        for (var e : fp8.entrySet())
            System.out.printf(Locale.ROOT, "  FP8 %-10s %.2f%% (%+.2f points; %s)%n", e.getKey(), e.getValue(), e.getValue() - base, how.get(e.getKey()));
        assertTrue(base > 80, "the trained model classifies: " + base);
        for (var e : fp8.entrySet()) assertTrue(Math.abs(e.getValue() - base) <= 1.0, "FP8 " + e.getKey() + " within 1 point of FP32: " + e.getValue() + " vs " + base);
    }
}
