package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./tessel} launcher, run by bash on a copy of it in a scratch checkout whose Maven is
 * a stand-in (it logs each build, notices two builds at once, and fails when told to): a failed
 * build runs nothing and leaves the old jar alone, two first uses at once build once, and a
 * symbolic link to the launcher works.
 */
class LauncherTest {
    @TempDir Path tmp;
    private Path repo, bin, jarToBuild;

    /** The repository root: tests run in the experiments module's folder. */
    private static Path realRepo() { return Path.of("").toAbsolutePath().getParent(); }

    @BeforeEach void scratchCheckout() throws Exception {
        repo = Files.createDirectories(tmp.resolve("repo"));
        Files.createDirectories(repo.resolve("scripts"));
        Files.copy(realRepo().resolve("tessel"), repo.resolve("tessel"));
        Files.copy(realRepo().resolve("scripts/java-env.sh"), repo.resolve("scripts/java-env.sh"));
        Path src = Files.createDirectories(repo.resolve("experiments/src/main/java"));
        Files.writeString(src.resolve("Some.java"), "class Some {}\n");
        // what a build makes: a jar whose org.tessel.cli.Tessel prints its arguments
        Path classes = Files.createDirectories(tmp.resolve("classes/org/tessel/cli"));
        Files.writeString(classes.resolve("Tessel.java"), "package org.tessel.cli; public class Tessel { public static void main(String[] a) { "
                + "System.out.println(\"ran \" + String.join(\" \", a)); } }");
        assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, classes.resolve("Tessel.java").toString()));
        jarToBuild = tmp.resolve("built.jar");
        try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(jarToBuild))) {
            j.putNextEntry(new JarEntry("org/tessel/cli/Tessel.class"));
            j.write(Files.readAllBytes(classes.resolve("Tessel.class")));
        }
        bin = Files.createDirectories(tmp.resolve("bin"));
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, """
                #!/usr/bin/env bash
                # stand-in Maven: one line per build in mvn.log, 'overlap' when another build is running
                root=$(pwd)
                echo build >> "$root/mvn.log"
                mkdir "$root/mvn.running" 2>/dev/null || echo overlap >> "$root/mvn.log"
                sleep 1
                if [[ -f $root/fail ]]; then echo "[ERROR] Some.java:[1,1] COMPILATION ERROR"; rmdir "$root/mvn.running" 2>/dev/null; exit 1; fi
                mkdir -p "$root/experiments/target/lib"
                cp "%s" "$root/experiments/target/tessel-experiments-0.1.0-SNAPSHOT.jar"
                rmdir "$root/mvn.running" 2>/dev/null
                exit 0
                """.formatted(jarToBuild));
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private record Result(int code, String out, String err) {}

    private Process start(Path launcher, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("bash", launcher.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("TESSEL_JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("TESSEL_JAVA_OPTS");
        return pb.start();
    }

    private static Result finish(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher finishes");
        return new Result(p.exitValue(), out, err);
    }

    private Result run(Path launcher, String... args) throws Exception { return finish(start(launcher, args)); }

    private List<String> mvnLog() throws IOException {
        Path log = repo.resolve("mvn.log");
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    @Test void aFailedBuildRunsNothingAndLeavesTheOldJarAlone() throws Exception {
        Result first = run(repo.resolve("tessel"), "zoo");
        assertEquals(0, first.code(), first.err());
        assertEquals("ran zoo", first.out().strip());
        Path jar = repo.resolve("experiments/target/tessel-experiments-0.1.0-SNAPSHOT.jar");
        FileTime built = Files.getLastModifiedTime(jar);

        // an edit after that build (the stamp says when it started)
        FileTime stamp = Files.getLastModifiedTime(repo.resolve("experiments/target/.tessel-built"));
        Files.setLastModifiedTime(repo.resolve("experiments/src/main/java/Some.java"), FileTime.from(stamp.toInstant().plusSeconds(1)));
        Files.writeString(repo.resolve("fail"), "");
        for (int i = 0; i < 2; i++) {
            Result failed = run(repo.resolve("tessel"), "zoo");
            assertEquals(1, failed.code());
            assertEquals("", failed.out(), "the old jar is not run");
            assertTrue(failed.err().contains("COMPILATION ERROR") && failed.err().contains("tessel: the build failed"), failed.err());
            assertEquals(built, Files.getLastModifiedTime(jar), "the old jar is not touched");
        }
        assertEquals(List.of("build", "build", "build"), mvnLog(), "the failure is not hidden: the next command builds again");

        Files.delete(repo.resolve("fail"));
        assertEquals("ran zoo", run(repo.resolve("tessel"), "zoo").out().strip());
        assertEquals("ran zoo", run(repo.resolve("tessel"), "zoo").out().strip());
        assertEquals(4, mvnLog().size(), "built once more, then up to date");
    }

    @Test void twoFirstUsesAtOnceBuildOnceAndBothRun() throws Exception {
        Process a = start(repo.resolve("tessel"), "a"), b = start(repo.resolve("tessel"), "b");
        Result ra = finish(a), rb = finish(b);
        assertEquals(0, ra.code(), ra.err());
        assertEquals(0, rb.code(), rb.err());
        assertEquals("ran a", ra.out().strip());
        assertEquals("ran b", rb.out().strip());
        assertEquals(List.of("build"), mvnLog(), "one build, never two at once");
    }

    @Test void aSymbolicLinkToTheLauncherWorks() throws Exception {
        Path elsewhere = Files.createDirectories(tmp.resolve("home/bin"));
        Path link = Files.createSymbolicLink(elsewhere.resolve("tessel"), repo.resolve("tessel"));
        Path relative = Files.createSymbolicLink(tmp.resolve("home/t"), Path.of("bin/tessel"));
        Result r = run(link, "--version");
        assertEquals(0, r.code(), r.err());
        assertEquals("ran --version", r.out().strip());
        assertEquals("ran x", run(relative, "x").out().strip(), "a link to a link, relative");
        assertFalse(Files.exists(elsewhere.resolve("scripts")));
    }
}
