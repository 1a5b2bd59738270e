package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.io.IdxFiles;
import org.tessel.ir.onnx.OnnxImporter;

/**
 * The Fashion-MNIST CNN that {@code scripts/train-fashion-mnist.py} trained (a real model on real images, for
 * accuracy work): Tessel's import reproduces the training script's own forward pass, a CPU engine's top-1 on
 * the test images is the script's, and {@code tessel evaluate} judges a reduced-precision plan against FP32.
 * Needs Debian's dataset-fashion-mnist package (skipped, saying so, without it).
 */
class FashionCnnTest {
    static final Path MODEL_DIR = Path.of("src/test/resources/fashion-mnist");
    static final Path MODEL = MODEL_DIR.resolve("fashion-cnn.onnx");
    static final Path DATA = Path.of("/usr/share/datasets/fashion-mnist");
    static final Path TEST_IMAGES = DATA.resolve("t10k-images-idx3-ubyte.gz"), TEST_LABELS = DATA.resolve("t10k-labels-idx1-ubyte.gz");

    @TempDir static Path dir;
    static Path fp32Engine;

    @BeforeAll static void data() {
        assumeTrue(Files.isDirectory(DATA), "skipped: " + DATA + " is absent (apt-get install dataset-fashion-mnist)");
        assertTrue(Files.exists(MODEL), MODEL + " is missing: run scripts/train-fashion-mnist.py");
    }

    private static synchronized Path fp32Engine() {
        if (fp32Engine == null) {
            Path f = dir.resolve("fp32.engine");
            CliRun r = CliRun.of("build", MODEL.toString(), "--batch", "100", "--cpu", "--save-engine", f.toString());
            assertEquals(0, r.code(), r.err());
            fp32Engine = f;
        }
        return fp32Engine;
    }

    @Test void importReproducesTheTrainingScriptsLogits() throws Exception {
        Graph g = OnnxImporter.importModel(MODEL, OnnxImporter.Options.defaults().withBatchSize(64));
        long[] pixels = IdxFiles.read(TEST_IMAGES).longs();
        float[] x = new float[64 * 784];
        for (int i = 0; i < x.length; i++) x[i] = pixels[i] / 255f;
        Map<String, Tensor> out = new ReferenceInterpreter().run(g, Map.of("image", Tensor.ofFloats(DType.F32, Shape.of(64, 1, 28, 28), x)));
        Tensor want = Npy.read(MODEL_DIR.resolve("reference-logits.npy")); // the script's forward pass in f64
        assertEquals(Shape.of(64, 10), want.shape());
        assertNull(Compare.allClose(want, out.get("logits"), 1e-4, 1e-4));
    }

    @Test void engineTop1IsTheTrainingScripts() throws Exception {
        CliRun r = CliRun.of("evaluate", fp32Engine().toString(), "--images", TEST_IMAGES.toString(), "--labels", TEST_LABELS.toString(), "--limit", "2000", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        long[] predicted = Npy.read(MODEL_DIR.resolve("reference-predictions.npy")).longs(), labels = IdxFiles.read(TEST_LABELS).longs();
        int expected = 0;
        for (int i = 0; i < 2000; i++) if (predicted[i] == labels[i]) expected++;
        // f32 sums in another order may flip a near-tie or two
        assertTrue(Math.abs(j.get("correct").asInt() - expected) <= 2, "engine " + j.get("correct") + " correct, the script " + expected);
        assertTrue(j.get("top1").asDouble() > 0.8, "a trained Fashion-MNIST CNN: " + j);
    }

    @Test void fp16PlanIsJudgedAgainstFp32OnRealImages() throws Exception {
        Path fp16 = dir.resolve("fp16.engine");
        CliRun b = CliRun.of("build", MODEL.toString(), "--batch", "100", "--cpu", "--strategy", "joint", "--fp16", "--precision", "*=fp16", "--save-engine", fp16.toString());
        assertEquals(0, b.code(), b.err());
        CliRun r = CliRun.of("evaluate", fp16.toString(), "--images", TEST_IMAGES.toString(), "--labels", TEST_LABELS.toString(), "--limit", "1000",
                "--reference", fp32Engine().toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("backend").asText().contains("fp16"), j.toString());
        assertTrue(j.get("agreement").asDouble() >= 0.99, j.toString());
        double relL2 = j.get("logits_rel_l2").asDouble();
        assertTrue(relL2 > 0 && relL2 < 1e-2, "FP16 rounding is measured, and small: " + j);
        assertTrue(Math.abs(j.get("top1").asDouble() - j.get("reference_top1").asDouble()) <= 0.01, j.toString());
    }

    /** Real images for sensitivity and for the build's held-out check, disjoint from the images the engine is then judged on. */
    private static Path imagesAsNpy(String name, int from, int count) throws Exception {
        long[] pixels = IdxFiles.read(TEST_IMAGES).longs();
        float[] x = new float[count * 784];
        for (int i = 0; i < x.length; i++) x[i] = pixels[from * 784 + i] / 255f;
        Path d = Files.createDirectories(dir.resolve(name));
        Npy.write(d.resolve("image.npy"), Tensor.ofFloats(DType.F32, Shape.of(count, 1, 28, 28), x));
        return d;
    }

    @Test void anAccuracyBudgetHoldsOnImagesTheBuildNeverSaw() throws Exception {
        Path sens = imagesAsNpy("sens", 9000, 100), check = imagesAsNpy("check", 9100, 100), cache = dir.resolve("sensitivity");
        Path e = dir.resolve("budget.engine");
        CliRun b = CliRun.of("build", MODEL.toString(), "--batch", "100", "--cpu", "--strategy", "joint", "--best", "--accuracy-budget", "rel_l2=0.0005",
                "--accuracy-inputs", sens.toString(), "--accuracy-check-inputs", check.toString(), "--sensitivity-cache", cache.toString(), "--save-engine", e.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("budget rel_l2=0.0005: kept"), b.out());
        CliRun r = CliRun.of("evaluate", e.toString(), "--images", TEST_IMAGES.toString(), "--labels", TEST_LABELS.toString(), "--limit", "1000",
                "--reference", fp32Engine().toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        double relL2 = j.get("logits_rel_l2").asDouble();
        assertTrue(relL2 > 0 && relL2 <= 0.0005, "reduced precision where the budget allows it, and within the budget on 1,000 other images: " + j);
        assertTrue(j.get("agreement").asDouble() >= 0.99, j.toString());
        // a top-1 budget finer than 100 check rows can resolve is said, not silently "certified"
        CliRun t = CliRun.of("build", MODEL.toString(), "--batch", "100", "--cpu", "--strategy", "joint", "--best", "--accuracy-budget", "top1=0.999",
                "--accuracy-inputs", sens.toString(), "--accuracy-check-inputs", check.toString(), "--sensitivity-cache", cache.toString(), "--save-engine", dir.resolve("top1.engine").toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("the held-out check compares 100 top-1 decisions") && t.out().contains("give at least 3000 rows"), t.out());
    }

    @Test void badDataIsNamed() throws Exception {
        Path e = fp32Engine();
        Path labels3 = idx(dir.resolve("three-labels"), new int[] {3}, new byte[] {1, 2, 3});
        CliRun r = CliRun.of("evaluate", e.toString(), "--images", TEST_IMAGES.toString(), "--labels", labels3.toString());
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("three-labels has 3 labels") && r.err().contains("10000 images"), r.err());
        Path small = idx(dir.resolve("small-images"), new int[] {3, 10, 10}, new byte[300]);
        r = CliRun.of("evaluate", e.toString(), "--images", small.toString(), "--labels", labels3.toString());
        assertTrue(r.err().contains("input 'image' takes") && r.err().contains("784 values per sample") && r.err().contains("100 values each"), r.err());
        Path bad = idx(dir.resolve("bad-labels"), new int[] {3}, new byte[] {1, 12, 3});
        Path ok = idx(dir.resolve("three-images"), new int[] {3, 28, 28}, new byte[3 * 784]);
        r = CliRun.of("evaluate", e.toString(), "--images", ok.toString(), "--labels", bad.toString());
        assertTrue(r.err().contains("label 1 is 12, outside the engine's 10 classes"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    private static Path idx(Path f, int[] dims, byte[] data) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) 8).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return Files.write(f, b.put(data).array());
    }
}
