package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `tessel VERB --help` for every verb; trtexec's flag names where they mean the same; PNG plots. */
class HelpAndAliasesTest {
    @TempDir Path dir;

    @Test void everyVerbHasHelpThatPrintsItsUsageAndNothingElse() {
        var verbs = new CommandLine(new Tessel()).getSubcommands().keySet();
        assertTrue(verbs.containsAll(java.util.List.of("compare", "run", "optimize", "build", "inspect", "search", "conformance", "experiment")), verbs.toString());
        for (String v : verbs) {
            CliRun r = CliRun.of(v, "--help");
            assertEquals(0, r.code(), v + ": " + r.err());
            assertTrue(r.out().contains("Usage: tessel " + v), v + ":\n" + r.out());
            assertEquals("", r.err(), v + " --help warns: " + r.err());
        }
        CliRun h = CliRun.of("help", "compare");
        assertTrue(h.out().startsWith("Usage: tessel compare"), h.out());
    }

    @Test void trtexecBuildAndRunFlags() throws Exception {
        Path onnx = dir.resolve("m.onnx");
        assertEquals(0, CliRun.of("convert", "zoo:resnet50-tiny", "-o", onnx.toString()).code());
        Path e = dir.resolve("m.engine"), info = dir.resolve("layers.json");
        CliRun b = CliRun.of("build", "--onnx", onnx.toString(), "--saveEngine", e.toString(), "--cpu", "--exportLayerInfo", info.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(Files.isRegularFile(e));
        var layers = new ObjectMapper().readTree(Files.readString(info)).get("layers");
        assertTrue(layers.size() > 5, "the engine's layers: " + layers);

        CliRun twice = CliRun.of("build", onnx.toString(), "--onnx", onnx.toString(), "--saveEngine", e.toString());
        assertEquals(2, twice.code());
        assertTrue(twice.err().contains("give the model once"), twice.err());
        CliRun none = CliRun.of("build", "--saveEngine", e.toString(), "--cpu");
        assertEquals("tessel build: no model: give MODEL (an .onnx or .tir file, or zoo:NAME) or --onnx FILE", none.err().strip());

        CliRun int8 = CliRun.of("build", "--onnx", onnx.toString(), "--saveEngine", dir.resolve("i8.engine").toString(), "--int8");
        assertEquals(2, int8.code());
        assertTrue(int8.err().startsWith("tessel build: --int8 needs quantization scales: give calibration data with --calib"), int8.err());
        assertFalse(Files.exists(dir.resolve("i8.engine")));

        CliRun best = CliRun.of("build", "--onnx", onnx.toString(), "--saveEngine", dir.resolve("b.engine").toString(), "--best", "--noTF32", "--strategy", "rule", "--cpu");
        assertEquals(0, best.code(), best.err());
        assertTrue(best.out().contains("FP16="), "--best allows fp16: " + best.out());
        assertFalse(best.out().contains("TF32="), best.out());
        CliRun clash = CliRun.of("build", "--onnx", onnx.toString(), "--saveEngine", e.toString(), "--noTF32", "--tf32");
        assertEquals("tessel build: --noTF32 and --tf32 exclude each other", clash.err().strip());

        Path profile = dir.resolve("profile.json");
        CliRun r = CliRun.of("run", "--loadEngine", e.toString(), "--iterations", "2", "--warmUp", "5", "--exportProfile", profile.toString(), "--useCudaGraph");
        assertEquals(0, r.code(), r.err());
        assertTrue(new ObjectMapper().readTree(Files.readString(profile)).get("layers").size() > 5);
        CliRun i = CliRun.of("inspect", "--loadEngine", e.toString());
        assertEquals(0, i.code(), i.err());
        assertTrue(i.out().startsWith("engine " + e + ": backend cpu"), i.out());
        CliRun both = CliRun.of("run", e.toString(), "--loadEngine", e.toString());
        assertEquals("tessel run: give the engine once: FILE or --loadEngine, not both", both.err().strip());
    }

    @Test void shapesSetsAnOnnxModelsInputAndRefusesAFixedDimensionThatDisagrees() {
        Path m = Shared.model("light_squeezenet").resolve("model.onnx");
        CliRun ok = CliRun.of("check", "--onnx", m.toString(), "--shapes", "data_0:1x3x224x224", "--data", m.getParent().resolve("test_data_set_0").toString());
        assertEquals(0, ok.code(), ok.err());
        CliRun bad = CliRun.of("check", m.toString(), "--shapes", "data_0:2x3x224x224");
        assertEquals(2, bad.code());
        assertEquals("tessel check: --shapes 'data_0:2x3x224x224': dimension 0 of input 'data_0' is fixed at 1 in " + m, bad.err().strip());
        CliRun unknown = CliRun.of("check", m.toString(), "--shapes", "image:1x3x224x224");
        assertEquals("tessel check: --shapes 'image:1x3x224x224': " + m + " has no input 'image' (inputs: [data_0])", unknown.err().strip());
    }

    private static BufferedImage png(Path f) throws Exception {
        byte[] b = Files.readAllBytes(f);
        assertTrue(b.length > 8 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G', f + " is a PNG");
        return ImageIO.read(f.toFile());
    }

    @Test void plotsArePngsOfTheMeasuredData() throws Exception {
        Path e = dir.resolve("p.engine");
        assertEquals(0, CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", e.toString()).code());
        Path layers = dir.resolve("layers.png");
        CliRun r = CliRun.of("inspect", e.toString(), "--profile", "1", "--plot", layers.toString());
        assertEquals(0, r.code(), r.err());
        BufferedImage img = png(layers);
        assertTrue(img.getWidth() >= 800 && img.getHeight() >= 600, img.getWidth() + "x" + img.getHeight());
        CliRun noProfile = CliRun.of("inspect", e.toString(), "--plot", layers.toString());
        assertEquals("tessel inspect: --plot draws measured layer times: add --profile N", noProfile.err().strip());
        CliRun notPng = CliRun.of("inspect", e.toString(), "--profile", "1", "--plot", dir.resolve("x.jpg").toString());
        assertEquals("tessel inspect: --plot " + dir.resolve("x.jpg") + ": give a file ending in .png", notPng.err().strip());

        Path cal = dir.resolve("cal.png");
        CliRun c = CliRun.of("calibrate", "--timing-cache", TimingCacheSearchTest.CACHE.toString(), "--no-fit", "--plot", cal.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(png(cal).getWidth() >= 700);

        Path conv = dir.resolve("conv.png");
        CliRun sr = CliRun.of("search", "zoo:bert-tiny", "--strategy", "timefold", "--moves", "20000", "--plot", conv.toString());
        assertEquals(0, sr.code(), sr.err());
        assertTrue(sr.out().contains("plot: " + conv + " ("), sr.out());
        assertTrue(png(conv).getWidth() >= 800);
        CliRun atOnce = CliRun.of("search", "zoo:bert-tiny", "--strategy", "greedy", "--plot", dir.resolve("g.png").toString());
        assertEquals(0, atOnce.code(), atOnce.err());
        assertTrue(atOnce.out().contains("note: --plot: the greedy strategy found its plan at once") && !java.nio.file.Files.exists(dir.resolve("g.png")), atOnce.out());
    }
}
