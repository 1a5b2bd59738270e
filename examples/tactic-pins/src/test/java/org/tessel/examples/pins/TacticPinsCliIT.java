package org.tessel.examples.pins;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The selector from its jar: listed, found by name or class, excluding and pinning in search and build, its refusals in one line. */
class TacticPinsCliIT {
    @TempDir Path dir;

    @Test void pinsAndExclusionsFromTheCommandLine() throws Exception {
        String jar = Cli.jar().toString();
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.tessel.examples.pins.TacticPins"));
        Cli list = Cli.run("plugins", "--plugins", jar);
        assertEquals(0, list.code(), list.toString());
        assertTrue(list.out().contains("selectors: tactic-pins") && list.out().contains("0 ops, 0 tactics, 1 selectors"), list.out());

        Cli free = Cli.run("search", "zoo:resnet50-tiny", "--show-plan");
        assertTrue(free.out().contains("cudnn.conv.fused_bias_act"), free.out());
        Path report = dir.resolve("plan.tsv");
        Cli s = Cli.run("search", "zoo:resnet50-tiny", "--plugins", jar, "--selector", "tactic-pins:exclude=cudnn.*|cublaslt.conv*,report=" + report, "--show-plan");
        assertEquals(0, s.code(), s.toString());
        // with cuDNN and cuBLASLt's convolution tactics excluded, the 3x3 convolutions fall back to the reference interpreter
        assertTrue(!s.out().contains("cudnn.") && !s.out().contains("cublaslt.conv") && s.out().contains("cpu.reference"), s.out());
        assertTrue(Files.readString(report).contains("\tcpu.reference\t"), "the selector wrote the plan it was told");

        // by class name, in a build: the engine's plan keeps the pin
        Path engine = dir.resolve("e.engine");
        Cli b = Cli.run("build", "zoo:resnet50-tiny", "--cpu", "--strategy", "joint", "--plugins", jar,
                "--selector", "org.tessel.examples.pins.TacticPins:pin=Softmax@cpu.reference", "--save-engine", engine.toString());
        assertEquals(0, b.code(), b.toString());
        Cli inspect = Cli.run("inspect", engine.toString());
        assertTrue(inspect.out().lines().anyMatch(l -> l.contains("probabilities") && l.contains("cpu.reference")), inspect.out());

        Cli nothing = Cli.run("search", "zoo:resnet50-tiny", "--plugins", jar, "--selector", "tactic-pins:pin=maxpool@cudnn.*");
        assertEquals(2, nothing.code(), nothing.toString());
        assertTrue(nothing.err().contains("selector 'tactic-pins' kept no candidate for node 'maxpool' (MaxPool)") && nothing.err().strip().lines().count() == 1, nothing.err());
        Cli bad = Cli.run("search", "zoo:resnet50-tiny", "--plugins", jar, "--selector", "tactic-pins:pin=maxpool");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--selector 'tactic-pins:pin=maxpool'") && bad.err().contains("is not NODE_GLOB@TACTIC_GLOB"), bad.err());
    }
}
