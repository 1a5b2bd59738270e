package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.text.GoldenFile;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.text.IrPrinter;

/**
 * Golden tests: each file under src/test/resources/golden holds a pipeline, an input graph and
 * the expected printed result. Besides the text, every case checks that the reference
 * interpreter gives the same outputs before and after. Rewrite expectations on purpose with
 * {@code ./run-tests -pl passes -Dtessel.golden.accept=true}.
 */
class GoldenPassesTest {
    private static final Path DIR = Path.of("src/test/resources/golden");

    @TestFactory Stream<DynamicTest> goldenFiles() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(DIR)) { files = s.filter(p -> p.toString().endsWith(".tir")).sorted().toList(); }
        assertFalse(files.isEmpty(), "no golden files in " + DIR.toAbsolutePath());
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> check(f)));
    }

    private static void check(Path file) {
        GoldenFile gf = GoldenFile.read(file);
        Graph g = IrParser.parse(gf.input(), file.toString());
        Graph before = g.copy();
        new PassManager().fullVerify(true).run(g, gf.pipeline());
        String actual = IrPrinter.print(g);
        // the printed result must itself parse back to the same graph
        org.tessel.ir.text.GraphEquality.assertEqual(g, IrParser.parse(actual, file + " (actual)"));
        gf.check(actual);
        List<Tensor> in = before.inputs().stream().map(GoldenPassesTest::sample).toList();
        List<Tensor> a = new ReferenceInterpreter().run(before, in), b = new ReferenceInterpreter().run(g, in);
        for (int k = 0; k < a.size(); k++)
            for (int i = 0; i < a.get(k).size(); i++)
                assertEquals(a.get(k).getDouble(i), b.get(k).getDouble(i), 1e-5 * (1 + Math.abs(a.get(k).getDouble(i))), file + ": output " + k + " element " + i);
    }

    private static Tensor sample(Value v) {
        Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
        for (int i = 0; i < t.size(); i++) t.setDouble(i, Math.sin(i * 1.7 + v.name().length()));
        return t;
    }
}
