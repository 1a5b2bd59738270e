package org.tessel.ir.onnx;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Where the shared ONNX data lives: the {@code tessel.shared} system property, else /work/shared. */
final class SharedData {
    private SharedData() {}

    static Path root() { return Path.of(System.getProperty("tessel.shared", "/work/shared")); }

    /** The folder under the shared root, or a skipped test saying where it was looked for. */
    static Path require(String sub) {
        Path p = root().resolve(sub);
        Assumptions.assumeTrue(Files.isDirectory(p), "shared data not found at " + p + " (set -Dtessel.shared=DIR); skipping");
        return p;
    }
}
