package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.io.IdxFiles;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * INT8 inside an accuracy budget, on the trained Fashion-MNIST CNN with real images: calibrated on
 * 500 training images, per-node sensitivity (INT8 included, with those scales) measured on 200 others
 * and the engine checked on 200 more. With `--int8` and no other reduced precision the choice per
 * node is fp32 or int8, and the h200-measured cost model prices the INT8 convolutions (NHWC, Tessel's dp4a
 * kernel, about 10 us below FP32's 17-32 us each here; cuDNN's INT8 form is priced at the CUDA-core rate an H100
 * measured, above FP32) below FP32 (NCHW): a loose budget (rel_l2 0.2) gets INT8 convolutions, a tight one none,
 * and every strategy's engine keeps the budget on the held-out images. Skipped without the model or Debian's dataset-fashion-mnist.
 */
class Int8BudgetCommandTest {
    static final Path MODEL = FashionMnistInt8Test.MODEL, DATA = FashionMnistInt8Test.DATA;
    static final int BATCH = 100;
    static final Pattern MEASURED = Pattern.compile("measured rel_l2 ([0-9.e-]+) on held-out inputs with (\\d+) node\\(s\\) at INT8");

    @TempDir Path dir;

    private void prepareData() throws Exception {
        Assumptions.assumeTrue(Files.isRegularFile(MODEL), "no trained model at " + MODEL.toAbsolutePath() + "; skipping");
        Assumptions.assumeTrue(Files.isRegularFile(DATA.resolve("train-images-idx3-ubyte.gz")), "no Fashion-MNIST at " + DATA + " (apt-get install dataset-fashion-mnist); skipping");
        Tensor train = IdxFiles.read(DATA.resolve("train-images-idx3-ubyte.gz"));
        Path calib = Files.createDirectories(dir.resolve("calib"));
        for (int b = 0; b < 5; b++) Npy.write(calib.resolve(String.format(Locale.ROOT, "train-%03d.npy", b)), FashionMnistInt8Test.images(train, b * BATCH, BATCH));
        for (int s = 0; s < 2; s++) {
            Npy.write(Files.createDirectories(dir.resolve("sens" + s)).resolve("image.npy"), FashionMnistInt8Test.images(train, 1000 + s * BATCH, BATCH));
            Npy.write(Files.createDirectories(dir.resolve("check" + s)).resolve("image.npy"), FashionMnistInt8Test.images(train, 1500 + s * BATCH, BATCH));
        }
    }

    private CliRun build(String strategy, String budget, Path engine) {
        return CliRun.of("build", MODEL.toString(), "--batch", String.valueOf(BATCH), "--int8", "--calib", dir.resolve("calib").toString(),
                "--calib-cache", dir.resolve("calib.cache").toString(), "--strategy", strategy, "--cpu", "--accuracy-budget", "rel_l2=" + budget,
                "--accuracy-inputs", dir.resolve("sens0").toString(), "--accuracy-inputs", dir.resolve("sens1").toString(),
                "--accuracy-check-inputs", dir.resolve("check0").toString(), "--accuracy-check-inputs", dir.resolve("check1").toString(),
                "--sensitivity-cache", dir.resolve("sensitivity").toString(), "--save-engine", engine.toString());
    }

    /** The engine's INT8 nodes, after checking the build's line against the engine and the budget. */
    private int checked(CliRun r, Path engine, double budget) {
        assertEquals(0, r.code(), r.out() + r.err());
        Matcher m = MEASURED.matcher(r.out());
        assertTrue(m.find(), r.out());
        double measured = Double.parseDouble(m.group(1));
        assertTrue(measured <= budget, "held-out error " + measured + " within " + budget + ": " + r.out());
        Map<Precision, Integer> mix = Engine.load(engine, EngineHeader.Machine.cpu()).plan().precisionMix();
        int int8 = mix.getOrDefault(Precision.INT8, 0);
        assertEquals(Integer.parseInt(m.group(2)), int8, "the line says the engine's INT8 count: " + mix);
        if (int8 > 0) assertTrue(Engine.load(engine, EngineHeader.Machine.cpu()).plan().quantization().scales().size() > 0, "the engine carries the scales");
        return int8;
    }

    @Test void looseBudgetTakesInt8ConvolutionsTightNoneAndEveryStrategyKeepsIt() throws Exception {
        prepareData();
        Path loose = dir.resolve("loose.engine");
        CliRun l = build("joint", "0.2", loose);
        int atInt8 = checked(l, loose, 0.2);
        assertTrue(l.out().contains("sensitivity: measured") && l.out().contains("int8 with entropy scales"), l.out());
        assertTrue(atInt8 >= 2, "a loose budget admits INT8 convolutions: " + l.out());
        var plan = Engine.load(loose, EngineHeader.Machine.cpu()).plan();
        long int8Convs = plan.nodes().stream().filter(n -> n.precision() == Precision.INT8 && n.tactic().contains(".conv.")).count();
        assertEquals(atInt8, int8Convs, "the INT8 nodes are convolutions: " + plan.render());

        Path tight = dir.resolve("tight.engine");
        CliRun t = build("joint", "0.0005", tight);
        assertTrue(t.out().contains("sensitivity: reused"), "the second build reuses the measurement: " + t.out());
        assertEquals(0, checked(t, tight, 0.0005), "a tight budget admits no INT8: " + t.out());

        // every strategy's engine keeps a middle budget on the held-out images
        for (String s : List.of("exact", "timefold", "greedy", "sequential")) {
            Path e = dir.resolve(s + ".engine");
            checked(build(s, "0.01", e), e, 0.01);
        }
    }

    @Test void otherScalesMeasureAgain() throws Exception {
        prepareData();
        Path e = dir.resolve("a.engine");
        CliRun a = build("joint", "0.01", e);
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("sensitivity: measured"), a.out());
        // the same model, inputs and precisions, another calibrator: another calibration cache, so measured again
        Path e2 = dir.resolve("b.engine");
        CliRun b = CliRun.of("build", MODEL.toString(), "--batch", String.valueOf(BATCH), "--int8", "--calib", dir.resolve("calib").toString(), "--calibrator", "minmax",
                "--strategy", "joint", "--cpu", "--accuracy-budget", "rel_l2=0.01",
                "--accuracy-inputs", dir.resolve("sens0").toString(), "--accuracy-inputs", dir.resolve("sens1").toString(),
                "--accuracy-check-inputs", dir.resolve("check0").toString(), "--accuracy-check-inputs", dir.resolve("check1").toString(),
                "--sensitivity-cache", dir.resolve("sensitivity").toString(), "--save-engine", e2.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("sensitivity: measured") && b.out().contains("int8 with minmax scales"), "other scales are measured again: " + b.out());
    }
}
