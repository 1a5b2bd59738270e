package org.tessel.ir.text;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;

/**
 * A golden test file: an input graph, the pipeline to run on it, and the expected printed
 * result, in one {@code .tir} file that reviewers read as a before/after pair.
 *
 * <h2>Format</h2>
 * <pre>
 * // RUN: canonicalize | fold-constants       (zero or more lines; joined by a space, in order)
 * // any other comment about the test
 * // INPUT:
 * graph @g(%x: f32[2]) {
 *   %y = Relu(%x) : f32[2]
 *   return %y
 * }
 * // EXPECTED:
 * graph @g(%x: f32[2]) {
 *   return %x
 * }
 * </pre>
 * Markers are lines that read exactly {@code // RUN: ...}, {@code // INPUT:} and
 * {@code // EXPECTED:} (leading blanks allowed). Before {@code // INPUT:} only blank lines and
 * {@code //} comments may appear; {@code // RUN:} lines must come before it. The INPUT block runs
 * up to {@code // EXPECTED:}, the EXPECTED block to the end of the file. How a RUN pipeline is
 * spelled is up to the test that executes it; this class only hands the text over.
 *
 * <h2>Checking</h2>
 * {@link #check(String)} compares the EXPECTED block with the actual text ignoring trailing
 * blanks on each line and blank lines at either end. On a mismatch it writes the whole file, with
 * the actual text in place of the EXPECTED block, to {@code target/golden-actual/<file name>}
 * (relative to the working directory, which is the module directory under Maven), so that
 * {@code diff} against the source shows exactly what changed; then it fails with an
 * {@link AssertionError} naming the first differing line. With the system property
 * {@code tessel.golden.accept=true} ({@code mvn test -Dtessel.golden.accept=true}) it rewrites
 * the EXPECTED block of the source file instead of failing. For that to work, tests must read
 * golden files from the source tree ({@code src/test/resources/...}), not from the class path.
 */
public final class GoldenFile {
    /** The system property that makes a mismatch rewrite the source file. */
    public static final String ACCEPT_PROPERTY = "tessel.golden.accept";

    private static final String RUN = "// RUN:";
    private static final String INPUT = "// INPUT:";
    private static final String EXPECTED = "// EXPECTED:";

    private final Path source;
    private final List<String> runLines;
    private final String input;
    private final int inputMarkerLine;
    private final String expected;
    private final String head;

    private GoldenFile(Path source, List<String> runLines, String input, int inputMarkerLine, String expected, String head) {
        this.source = source;
        this.runLines = List.copyOf(runLines);
        this.input = input;
        this.inputMarkerLine = inputMarkerLine;
        this.expected = expected;
        this.head = head;
    }

    public static GoldenFile read(Path file) {
        try {
            return parse(file, Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Splits golden-file text; {@code source} is where it lives (used in messages and by accept). */
    public static GoldenFile parse(Path source, String text) {
        String[] lines = text.split("\n", -1);
        List<String> runs = new ArrayList<>();
        int inputAt = -1, expectedAt = -1;
        for (int i = 0; i < lines.length; i++) {
            String raw = stripCr(lines[i]);
            String line = raw.strip();
            if (line.startsWith(RUN)) {
                if (inputAt >= 0) throw error(source, i, raw, "// RUN: lines must come before // INPUT:");
                runs.add(line.substring(RUN.length()).strip());
            } else if (line.startsWith(INPUT)) {
                if (!line.equals(INPUT)) throw error(source, i, raw, "nothing may follow // INPUT: on its line");
                if (inputAt >= 0) throw error(source, i, raw, "second // INPUT: marker (the first is on line " + (inputAt + 1) + ")");
                inputAt = i;
            } else if (line.startsWith(EXPECTED)) {
                if (!line.equals(EXPECTED)) throw error(source, i, raw, "nothing may follow // EXPECTED: on its line");
                if (inputAt < 0) throw error(source, i, raw, "// EXPECTED: must come after // INPUT:");
                if (expectedAt >= 0) throw error(source, i, raw, "second // EXPECTED: marker (the first is on line " + (expectedAt + 1) + ")");
                expectedAt = i;
            } else if (inputAt < 0 && !line.isEmpty() && !line.startsWith("//")) {
                throw error(source, i, raw, "only // comments and // RUN: lines may come before // INPUT:");
            }
        }
        if (inputAt < 0) throw error(source, lines.length - 1, "", "no // INPUT: marker");
        if (expectedAt < 0) throw error(source, lines.length - 1, "", "no // EXPECTED: marker");
        // the empty piece after a final newline is not a line of the EXPECTED block
        int end = lines.length > 0 && lines[lines.length - 1].isEmpty() ? lines.length - 1 : lines.length;
        StringBuilder in = new StringBuilder();
        for (int i = inputAt + 1; i < expectedAt; i++) in.append(stripCr(lines[i])).append('\n');
        StringBuilder exp = new StringBuilder();
        for (int i = expectedAt + 1; i < end; i++) exp.append(stripCr(lines[i])).append('\n');
        StringBuilder head = new StringBuilder();
        for (int i = 0; i <= expectedAt; i++) head.append(stripCr(lines[i])).append('\n');
        return new GoldenFile(source, runs, in.toString(), inputAt + 1, exp.toString(), head.toString());
    }

    private static String stripCr(String s) { return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s; }

    private static IrParseException error(Path source, int lineIndex, String line, String msg) {
        int col = 1;
        while (col <= line.length() && Character.isWhitespace(line.charAt(col - 1))) col++;
        return new IrParseException(source.toString(), lineIndex + 1, col, msg);
    }

    public Path source() { return source; }

    /** The file's name: where {@code target/golden-actual/} puts the actual output. */
    public String name() { return source.getFileName().toString(); }

    /** The text of each {@code // RUN:} line, in order. */
    public List<String> runLines() { return runLines; }

    /** The RUN lines joined by a single space: one pipeline may be split across lines. */
    public String pipeline() { return String.join(" ", runLines); }

    /** The INPUT block, verbatim. */
    public String input() { return input; }

    /** The EXPECTED block, verbatim. */
    public String expected() { return expected; }

    /** Parses the INPUT block; error locations are lines of the golden file itself. */
    public Graph parseInput(OpRegistry registry) { return parseInput(new IrParser(registry)); }

    public Graph parseInput(IrParser parser) {
        // leading newlines shift the parser's line numbers onto the file's
        return parser.read("\n".repeat(inputMarkerLine) + input, source.toString());
    }

    /** Equality up to trailing blanks on lines and blank lines at both ends. */
    public static boolean textEquals(String a, String b) { return normalize(a).equals(normalize(b)); }

    /** Trailing blanks removed from every line, blank lines at both ends dropped, '\n' line ends. */
    public static String normalize(String text) {
        List<String> lines = new ArrayList<>();
        for (String l : text.split("\n", -1)) lines.add(l.stripTrailing());
        int from = 0, to = lines.size();
        while (from < to && lines.get(from).isEmpty()) from++;
        while (to > from && lines.get(to - 1).isEmpty()) to--;
        return String.join("\n", lines.subList(from, to));
    }

    public boolean matches(String actual) { return textEquals(expected, actual); }

    /** The whole file with {@code actual} as its EXPECTED block. */
    public String withExpected(String actual) {
        String body = normalize(actual);
        return head + (body.isEmpty() ? "" : body + "\n");
    }

    /** Checks against {@code target/golden-actual}, accepting when {@value #ACCEPT_PROPERTY} is true. */
    public void check(String actual) {
        check(actual, Path.of("target", "golden-actual"), Boolean.getBoolean(ACCEPT_PROPERTY));
    }

    /**
     * Compares; on a mismatch writes the file with the actual text to {@code actualDir/name()}
     * and then either rewrites the source (accept) or throws an AssertionError.
     */
    public void check(String actual, Path actualDir, boolean accept) {
        if (matches(actual)) return;
        String updated = withExpected(actual);
        Path out = actualDir.resolve(name());
        try {
            Files.createDirectories(actualDir);
            Files.writeString(out, updated);
            if (accept) {
                Files.writeString(source, updated);
                return;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("golden file " + source + ": cannot write " + (accept ? source : out) + ": " + e.getMessage(), e);
        }
        throw new AssertionError(mismatchMessage(actual, out));
    }

    private String mismatchMessage(String actual, Path out) {
        String[] e = normalize(expected).split("\n", -1);
        String[] a = normalize(actual).split("\n", -1);
        int i = 0;
        while (i < e.length && i < a.length && e[i].equals(a[i])) i++;
        StringBuilder sb = new StringBuilder("golden file ").append(source).append(": actual output differs from the EXPECTED block at its line ")
                .append(i + 1).append('\n');
        sb.append("  expected: ").append(i < e.length ? e[i] : "<end of block>").append('\n');
        sb.append("  actual:   ").append(i < a.length ? a[i] : "<end of output>").append('\n');
        sb.append("the file with the actual output is at ").append(out)
                .append("; rerun with -D").append(ACCEPT_PROPERTY).append("=true to accept it\n--- actual ---\n");
        int shown = Math.min(a.length, 200);
        for (int k = 0; k < shown; k++) sb.append(a[k]).append('\n');
        if (a.length > shown) sb.append("... (").append(a.length - shown).append(" more lines)\n");
        return sb.toString();
    }
}
