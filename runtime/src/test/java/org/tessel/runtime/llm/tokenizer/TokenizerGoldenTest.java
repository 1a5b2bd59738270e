package org.tessel.runtime.llm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.tessel.ir.io.Json;

/**
 * Tessel's tokenizer against the Hugging Face {@code tokenizers} library: every {@code NAME.golden.json} written by
 * {@code benchmarks/peers/tokenizer_goldens.py} (in test resources {@code tokenizer/}, or the folder given by the system
 * property {@code tessel.tokenizer.goldens}), each case's ids with and without special tokens and its decodes with and
 * without them, one dynamic test per case. Skipped when there are no golden files yet.
 */
class TokenizerGoldenTest {
    @TestFactory
    Stream<DynamicTest> encodesAndDecodesAsTheLibrary() throws Exception {
        String property = System.getProperty("tessel.tokenizer.goldens");
        Path dir = property != null ? Path.of(property) : Path.of(TokenizerGoldenTest.class.getResource("/tokenizer").toURI());
        List<Path> goldens;
        try (Stream<Path> files = Files.list(dir)) {
            goldens = files.filter(p -> p.getFileName().toString().endsWith(".golden.json")).sorted().toList();
        }
        if (goldens.isEmpty())  // one skipped test saying why, rather than none
            return Stream.of(DynamicTest.dynamicTest("no goldens", () -> Assumptions.abort("no *.golden.json in " + dir
                    + ": run benchmarks/peers/tokenizer_goldens.py --out " + dir + " where the tokenizers library is installed")));
        List<DynamicTest> tests = new ArrayList<>();
        for (Path golden : goldens) {
            Map<String, Object> g = Fields.cast((Map<?, ?>) Json.parse(Files.readString(golden), golden.toString()));
            Tokenizer t = Tokenizer.load(golden.resolveSibling((String) g.get("tokenizer")));
            String name = golden.getFileName().toString().replace(".golden.json", "");
            for (Object c : (List<?>) g.get("cases")) {
                Map<String, Object> k = Fields.cast((Map<?, ?>) c);
                String text = (String) k.get("text");
                tests.add(DynamicTest.dynamicTest(name + ": " + printable(text), () -> {
                    int[] ids = ints(k.get("ids"));
                    String why = name + " (" + g.get("library") + ") on \"" + printable(text) + "\"";
                    assertArrayEquals(ids, t.encode(text), why + ": ids");
                    assertArrayEquals(ints(k.get("ids_no_special")), t.encode(text, false), why + ": ids without special tokens");
                    assertEquals(k.get("decode"), t.decode(ids, true), why + ": decode skipping special tokens");
                    assertEquals(k.get("decode_with_special"), t.decode(ids, false), why + ": decode");
                }));
            }
        }
        return tests.stream();
    }

    private static int[] ints(Object list) { return ((List<?>) list).stream().mapToInt(o -> (int) (long) (Long) o).toArray(); }

    /** The text with control characters escaped, for test names and messages. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> {
            if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.length() > 60 ? b.substring(0, 57) + "..." : b.toString();
    }
}
