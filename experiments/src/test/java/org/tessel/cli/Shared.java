package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** The shared models (the {@code tessel.shared} system property): a test needing one is skipped, saying where it looked, when absent. */
final class Shared {
    private Shared() {}

    static Path model(String name) {
        Path p = Path.of(System.getProperty("tessel.shared", "/work/shared"), "models", name);
        Assumptions.assumeTrue(Files.isRegularFile(p.resolve("model.onnx")), "shared model not found at " + p + " (set -Dtessel.shared=DIR); skipping");
        return p;
    }
}
