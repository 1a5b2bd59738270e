package org.tessel.examples.pins;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tessel.cli.Tessel;

/** One in-process run of `tessel`, with what it printed; and the example's jar, as Maven packaged it. */
record Cli(int code, String out, String err) {
    static Cli run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Tessel.execute(args);
            return new Cli(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /**
     * The plugin jar `mvn package` made: the command-line tests run after packaging (surefire's plugin-jar-cli
     * execution sets example.jar); run any other way they are skipped, saying so.
     */
    static Path jar() {
        String p = System.getProperty("example.jar");
        org.junit.jupiter.api.Assumptions.assumeTrue(p != null, "example.jar is not set: the command-line tests run in `mvn verify`, after the jar is packaged");
        if (!Files.isRegularFile(Path.of(p))) throw new IllegalStateException("example.jar=" + p + " does not exist");
        return Path.of(p);
    }

    @Override public String toString() { return "exit " + code + "\n" + out + err; }
}
