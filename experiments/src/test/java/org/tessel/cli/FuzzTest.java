package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded fuzz suite over every file the command line reads (issue 13): real ONNX models, text IR, engine files
 * (CPU engines, one with a stored plan), engine plans, timing caches and experiment configs, each mutated a few
 * dozen ways (bytes flipped, zeroed, duplicated or cut; lines deleted, swapped, duplicated or garbled; bytes that are
 * not UTF-8), and fed to the verb that reads it. Every case must end within its time limit, without a stack trace;
 * a refusal must say what went wrong; a damaged engine file must never be accepted (its checksum sees every byte).
 */
class FuzzTest {
    static final long SEED = 20261204L;
    static final int CASES = 36;
    static final Duration LIMIT = Duration.ofSeconds(30);

    @TempDir static Path dir;
    static Path tir, engine, planEngine, plan, cache, yaml;

    @BeforeAll static void corpus() throws IOException {
        ok(CliRun.of("convert", "zoo:resnet50-tiny", "-o", (tir = dir.resolve("r.tir")).toString()));
        ok(CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", (engine = dir.resolve("r.tessel")).toString()));
        ok(CliRun.of("build", "zoo:bert-tiny", "--cpu", "--strategy", "joint", "--fp16", "--save-engine", (planEngine = dir.resolve("b.tessel")).toString()));
        ok(CliRun.of("search", "zoo:resnet50-tiny", "--plan-out", (plan = dir.resolve("plan.json")).toString()));
        cache = dir.resolve("cache.txt");
        Files.copy(Path.of("../runtime/src/test/resources/tuning/h200-autotune-cache.txt"), cache);
        yaml = dir.resolve("config.yaml");
        Files.writeString(yaml, "name: fuzz\nmodels: [resnet50-tiny]\nstrategies: [greedy, sequential]\ntime_limits: [1]\nseeds: [0]\ntargets: [h100]\n");
    }

    private static void ok(CliRun r) { assertTrue(r.code() == 0, "corpus: " + r.out() + r.err()); }

    // ---- mutations -------------------------------------------------------------------------

    /** A mutated copy of {@code b}: the mutation is named in the case's message. */
    record Mutant(String how, byte[] bytes) {}

    static Mutant binary(byte[] b, SplittableRandom r) {
        byte[] m = b.clone();
        switch (r.nextInt(5)) {
            case 0 -> {
                int n = 1 + r.nextInt(8);
                for (int i = 0; i < n; i++) { int at = r.nextInt(m.length); m[at] ^= (byte) (1 + r.nextInt(255)); }
                return new Mutant(n + " bytes flipped", m);
            }
            case 1 -> { int at = r.nextInt(m.length); return new Mutant("cut at " + at, Arrays.copyOf(m, at)); }
            case 2 -> {
                int at = r.nextInt(m.length), len = Math.min(m.length - at, 1 + r.nextInt(64));
                Arrays.fill(m, at, at + len, (byte) 0);
                return new Mutant(len + " bytes zeroed at " + at, m);
            }
            case 3 -> {
                int at = r.nextInt(m.length), len = Math.min(m.length - at, 1 + r.nextInt(256));
                byte[] d = new byte[m.length + len];
                System.arraycopy(m, 0, d, 0, at + len);
                System.arraycopy(m, at, d, at + len, m.length - at);
                return new Mutant(len + " bytes duplicated at " + at, d);
            }
            default -> {
                int at = r.nextInt(m.length);
                byte[] d = new byte[m.length + 4];
                System.arraycopy(m, 0, d, 0, at);
                d[at] = (byte) 0xff; d[at + 1] = (byte) 0xfe; d[at + 2] = (byte) 0x80; d[at + 3] = (byte) 0xc3;
                System.arraycopy(m, at, d, at + 4, m.length - at);
                return new Mutant("4 junk bytes inserted at " + at, d);
            }
        }
    }

    static Mutant text(byte[] b, SplittableRandom r) {
        List<String> lines = new ArrayList<>(new String(b, StandardCharsets.UTF_8).lines().toList());
        if (lines.size() < 2 || r.nextInt(6) == 0) return binary(b, r);
        int i = r.nextInt(lines.size()), j = r.nextInt(lines.size());
        String how;
        switch (r.nextInt(5)) {
            case 0 -> { lines.remove(i); how = "line " + (i + 1) + " deleted"; }
            case 1 -> { lines.add(i, lines.get(j)); how = "line " + (j + 1) + " repeated at " + (i + 1); }
            case 2 -> { String t = lines.get(i); lines.set(i, lines.get(j)); lines.set(j, t); how = "lines " + (i + 1) + " and " + (j + 1) + " swapped"; }
            case 3 -> {
                String l = lines.get(i);
                String[] junk = {"-1", "0", "NaN", "1e309", "99999999999", "\"", ":", "[", "}", "%", "f32[", ""};
                int at = l.isEmpty() ? 0 : r.nextInt(l.length());
                int end = Math.min(l.length(), at + 1 + r.nextInt(8));
                String repl = junk[r.nextInt(junk.length)];
                lines.set(i, l.substring(0, at) + repl + l.substring(end));
                how = "line " + (i + 1) + " garbled with '" + repl + "'";
            }
            default -> { lines.subList(i, lines.size()).clear(); how = "cut after line " + i; }
        }
        return new Mutant(how, (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    // ---- the check ---------------------------------------------------------------------------

    /**
     * Mutates {@code source} {@value #CASES} times and runs {@code verb} on each mutant. {@code mustRefuse}: a mutant
     * that differs from the source must not be accepted (exit 0).
     */
    static void fuzz(String what, Path source, boolean binary, boolean mustRefuse, Function<Path, String[]> verb) throws IOException {
        byte[] original = Files.readAllBytes(source);
        SplittableRandom r = new SplittableRandom(SEED ^ what.hashCode());
        String name = source.getFileName().toString();
        int refused = 0;
        for (int k = 0; k < CASES; k++) {
            Mutant m = binary ? binary(original, r) : text(original, r);
            Path f = dir.resolve("fuzz-" + k + "-" + name);
            Files.write(f, m.bytes());
            String[] args = verb.apply(f);
            String label = what + " case " + k + " (" + m.how() + "): tessel " + String.join(" ", args);
            CliRun run = assertTimeoutPreemptively(LIMIT, () -> CliRun.of(args), label + " did not finish in " + LIMIT.toSeconds() + " s");
            String all = run.out() + run.err();
            assertFalse(all.contains("\tat ") || all.contains("Exception in thread") || all.contains("Caused by:"), label + " printed a stack trace:\n" + all);
            if (run.code() != 0) {
                refused++;
                assertFalse(run.err().isBlank(), label + " exited " + run.code() + " saying nothing");
                assertTrue(run.err().strip().lines().findFirst().orElse("").length() > 10, label + ": " + run.err());
            } else if (mustRefuse && !Arrays.equals(m.bytes(), original)) {
                assertNotEquals(0, run.code(), label + " accepted a damaged file:\n" + all);
            }
            Files.deleteIfExists(f);
        }
        System.out.printf("fuzz %s: %d cases, %d refused with a message, %d accepted%n", what, CASES, refused, CASES - refused);
    }

    @Test void onnxModels() throws IOException {
        Path shared = Path.of(System.getProperty("tessel.shared", "../../shared"), "models");
        Assumptions.assumeTrue(Files.isDirectory(shared), "shared models not found at " + shared.toAbsolutePath() + ": ONNX fuzzing skipped");
        for (String m : List.of("light_squeezenet", "light_resnet50", "light_inception_v1")) {
            Path onnx = shared.resolve(m).resolve("model.onnx");
            if (!Files.exists(onnx)) continue;
            Path copy = dir.resolve(m + ".onnx");
            Files.copy(onnx, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            fuzz("onnx " + m, copy, true, false, f -> new String[] {"optimize", f.toString()});
        }
    }

    @Test void textIr() throws IOException {
        fuzz("tir", tir, false, false, f -> new String[] {"optimize", f.toString()});
    }

    @Test void engineFiles() throws IOException {
        fuzz("engine", engine, true, true, f -> new String[] {"run", f.toString(), "--iterations", "1", "--warmup", "0"});
        fuzz("engine with plan", planEngine, true, true, f -> new String[] {"inspect", f.toString()});
    }

    @Test void enginePlans() throws IOException {
        Path out = dir.resolve("from-plan.tessel");
        fuzz("plan", plan, false, false, f -> new String[] {"build", "zoo:resnet50-tiny", "--cpu", "--plan", f.toString(), "--save-engine", out.toString()});
    }

    @Test void timingCaches() throws IOException {
        fuzz("timing cache", cache, false, false, f -> new String[] {"calibrate", "--timing-cache", f.toString()});
    }

    @Test void experimentConfigs() throws IOException {
        Path results = dir.resolve("results");
        fuzz("experiment config", yaml, false, false, f -> new String[] {"experiment", f.toString(), "--out", results.toString()});
    }
}
