package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.ir.Graph;

class GoldenFileTest {
    private static final String FILE = """
            // RUN: fold-constants |
            //   (a comment between RUN lines)
            // RUN:   dce
            // INPUT:
            graph @g(%x: f32[2]) {
              %y = Relu(%x) : f32[2]
              return %y
            }
            // EXPECTED:
            graph @g(%x: f32[2]) {
              %y = Relu(%x) : f32[2]
              return %y
            }
            """;

    private static final String CHANGED = FILE.substring(FILE.indexOf("// EXPECTED:\n") + 13).replace("return %y", "return %x");

    @Test
    void sectionsAreSplitOut() {
        GoldenFile gf = GoldenFile.parse(Path.of("dir/relu.tir"), FILE);
        assertEquals(List.of("fold-constants |", "dce"), gf.runLines());
        assertEquals("fold-constants | dce", gf.pipeline());
        assertEquals("relu.tir", gf.name());
        assertTrue(gf.input().startsWith("graph @g(%x: f32[2]) {\n"));
        assertTrue(gf.input().endsWith("}\n"));
        assertEquals(gf.input(), gf.expected());
    }

    @Test
    void theCheckedInExampleHolds() {
        // read from the source tree, as golden tests must, so that accepting could rewrite it
        GoldenFile gf = GoldenFile.read(Path.of("src/test/resources/golden/text/canonical-print.tir"));
        assertEquals("print", gf.pipeline());
        Graph g = gf.parseInput(TestOps.REGISTRY);
        gf.check(IrPrinter.print(g));
        assertTrue(GraphEquality.structurallyEqual(g, TextTestSupport.parse(gf.expected())));
    }

    @Test
    void inputErrorsPointAtLinesOfTheGoldenFile() {
        GoldenFile gf = GoldenFile.parse(Path.of("bad.tir"), FILE.replace("  %y = Relu(%x) : f32[2]\n  return %y\n}\n// EXPECTED:",
                "  %y = Relu(%z) : f32[2]\n  return %y\n}\n// EXPECTED:"));
        IrParseException e = assertThrows(IrParseException.class, () -> gf.parseInput(TestOps.REGISTRY));
        assertEquals("bad.tir:6:13: unknown value %z", e.getMessage());
    }

    @Test
    void comparisonIgnoresTrailingBlanks() {
        GoldenFile gf = GoldenFile.parse(Path.of("g.tir"), FILE);
        assertTrue(gf.matches("\n\ngraph @g(%x: f32[2]) {   \n  %y = Relu(%x) : f32[2]\t\n  return %y\n}\n\n\n"));
        assertFalse(gf.matches("graph @g(%x: f32[2]) {\n    %y = Relu(%x) : f32[2]\n  return %y\n}\n"), "leading blanks count");
        assertTrue(GoldenFile.textEquals("a\r\nb", "a\nb"));
        assertEquals("a\n\nb", GoldenFile.normalize("\n a  \n\nb\n  \n").replaceFirst("^ ", ""));
    }

    @Test
    void aMismatchWritesTheActualFileAndFails(@TempDir Path dir) throws IOException {
        Path src = dir.resolve("relu.tir");
        Files.writeString(src, FILE);
        GoldenFile gf = GoldenFile.read(src);
        Path actualDir = dir.resolve("target/golden-actual");
        AssertionError e = assertThrows(AssertionError.class, () -> gf.check(CHANGED, actualDir, false));
        assertTrue(e.getMessage().startsWith("golden file " + src + ": actual output differs from the EXPECTED block at its line 3\n"
                + "  expected:   return %y\n  actual:     return %x\nthe file with the actual output is at " + actualDir.resolve("relu.tir")
                + "; rerun with -Dtessel.golden.accept=true to accept it\n"), e.getMessage());
        String written = Files.readString(actualDir.resolve("relu.tir"));
        assertEquals(FILE.replace("}\n// EXPECTED:\ngraph @g(%x: f32[2]) {\n  %y = Relu(%x) : f32[2]\n  return %y",
                "}\n// EXPECTED:\ngraph @g(%x: f32[2]) {\n  %y = Relu(%x) : f32[2]\n  return %x"), written);
        assertEquals(FILE, Files.readString(src), "without accept the source stays as it was");
        assertTrue(GoldenFile.read(actualDir.resolve("relu.tir")).matches(CHANGED));
    }

    @Test
    void acceptRewritesTheExpectedBlock(@TempDir Path dir) throws IOException {
        Path src = dir.resolve("relu.tir");
        Files.writeString(src, FILE);
        GoldenFile.read(src).check(CHANGED, dir.resolve("actual"), true);
        GoldenFile again = GoldenFile.read(src);
        assertTrue(again.matches(CHANGED));
    }

    @Test
    void theAcceptPropertyDrivesTheDefaultCheck(@TempDir Path dir) throws IOException {
        Path src = dir.resolve("prop-accept.tir");
        Files.writeString(src, FILE);
        String before = System.getProperty(GoldenFile.ACCEPT_PROPERTY);
        System.setProperty(GoldenFile.ACCEPT_PROPERTY, "true");
        try {
            GoldenFile.read(src).check(CHANGED);
        } finally {
            if (before == null) System.clearProperty(GoldenFile.ACCEPT_PROPERTY);
            else System.setProperty(GoldenFile.ACCEPT_PROPERTY, before);
        }
        assertTrue(GoldenFile.read(src).matches(CHANGED));
        assertTrue(Files.exists(Path.of("target", "golden-actual", "prop-accept.tir")));
        Files.writeString(src, FILE);
        assertThrows(AssertionError.class, () -> GoldenFile.read(src).check(CHANGED));
    }

    @Test
    void malformedGoldenFiles() {
        assertEquals("m.tir:1:1: only // comments and // RUN: lines may come before // INPUT:",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "graph @g() {\n// INPUT:\n// EXPECTED:\n")).getMessage());
        assertEquals("m.tir:3:1: no // EXPECTED: marker",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "// INPUT:\nx\n")).getMessage());
        assertEquals("m.tir:2:1: no // INPUT: marker",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "// RUN: a\n")).getMessage());
        assertEquals("m.tir:1:3: // EXPECTED: must come after // INPUT:",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "  // EXPECTED:\n// INPUT:\n")).getMessage());
        assertEquals("m.tir:3:1: // RUN: lines must come before // INPUT:",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "// INPUT:\nx\n// RUN: late\n// EXPECTED:\n")).getMessage());
        assertEquals("m.tir:1:1: nothing may follow // INPUT: on its line",
                assertThrows(IrParseException.class, () -> GoldenFile.parse(Path.of("m.tir"), "// INPUT: x\n// EXPECTED:\n")).getMessage());
    }
}
