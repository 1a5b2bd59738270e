package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.tessel.accuracy.AccuracyInputs;
import org.tessel.accuracy.Sensitivity;
import org.tessel.accuracy.SensitivityCache;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.search.SearchProblem;
import org.tessel.search.accuracy.AccuracyBudget;
import org.tessel.search.accuracy.ErrorModel;
import picocli.CommandLine.Option;

/**
 * What `search` and `build` take for an accuracy budget: the budget, the inputs per-node
 * sensitivity is measured on and the held-out inputs the built engine is checked on (seeded
 * generated sets unless folders of .npy/.pb files are given, one folder per input set), and where
 * measured sensitivities are cached.
 */
final class AccuracyOptions {
    @Option(names = "--accuracy-budget", paramLabel = "rel_l2=V|top1=V",
            description = "Hard accuracy budget against the FP32 engine: rel_l2=0.01 (relative L2 error of every output at most 0.01) or top1=0.995 "
                    + "(a classifier's top-1 agrees with FP32 on at least 99.5%% of rows). The search sums measured per-node errors; `build` checks the engine on held-out inputs. "
                    + "With --int8 (--fp8) a node's INT8 (FP8) error is measured with the calibrated scales (--calib/--calib-cache), which the engine carries.")
    String budget;

    @Option(names = "--accuracy-inputs", paramLabel = "DIR", description = "A folder of .npy/.pb files, one per graph input (by name or order): one input set for measuring "
            + "per-node sensitivity (repeatable). Default: --accuracy-samples generated sets from --accuracy-seed.")
    List<Path> inputs = new ArrayList<>();

    @Option(names = "--accuracy-check-inputs", paramLabel = "DIR", description = "As --accuracy-inputs, the held-out sets `build` checks the engine's error on (repeatable). "
            + "Default: generated sets from --accuracy-seed + 1000.")
    List<Path> checkInputs = new ArrayList<>();

    @Option(names = "--accuracy-samples", converter = Ranges.AtLeastOne.class, defaultValue = "2", description = "Generated input sets for sensitivity and for the check (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--accuracy-seed", defaultValue = "0", description = "Seed of the generated sensitivity inputs; the held-out ones use seed + 1000 (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--accuracy-rounds", converter = Ranges.AtLeastOne.class, defaultValue = "3", description = "Solves `build` may make, tightening the error model after each "
            + "check over the budget, before it fails (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--sensitivity-cache", paramLabel = "DIR", description = "Folder of measured sensitivities, one file per model fingerprint (default ~/.cache/tessel/sensitivity).")
    Path cacheDir;

    /** The budget, or null when none was given; other accuracy flags without a budget are refused. */
    AccuracyBudget budget() {
        if (budget == null) {
            if (!inputs.isEmpty() || !checkInputs.isEmpty() || cacheDir != null)
                throw new IllegalArgumentException((!inputs.isEmpty() ? "--accuracy-inputs" : !checkInputs.isEmpty() ? "--accuracy-check-inputs" : "--sensitivity-cache")
                        + " applies with an accuracy budget: add --accuracy-budget rel_l2=V or top1=V");
            return null;
        }
        return AccuracyBudget.parse(budget, "--accuracy-budget");
    }

    /** The sensitivity inputs: the given folders, else generated sets. */
    AccuracyInputs sensitivityInputs(SearchProblem p) throws IOException {
        return inputs.isEmpty() ? AccuracyInputs.generated(p.prepared(), seed, samples) : read(p, inputs, "--accuracy-inputs");
    }

    /** The held-out inputs: the given folders, else generated sets from another seed. */
    AccuracyInputs heldOutInputs(SearchProblem p) throws IOException {
        AccuracyInputs h = checkInputs.isEmpty() ? AccuracyInputs.generated(p.prepared(), seed + 1000, samples) : read(p, checkInputs, "--accuracy-check-inputs");
        if (!inputs.isEmpty() && !checkInputs.isEmpty() && h.digest().equals(sensitivityInputs(p).digest()))
            throw new IllegalArgumentException("--accuracy-check-inputs: the held-out inputs are the --accuracy-inputs themselves; a check on them would not be held out");
        return h;
    }

    private static AccuracyInputs read(SearchProblem p, List<Path> dirs, String flag) throws IOException {
        List<List<Tensor>> sets = new ArrayList<>();
        for (Path d : dirs) {
            if (!Files.isDirectory(d)) throw new IllegalArgumentException(flag + " " + d + ": " + (Files.exists(d) ? "not a folder" : "no such folder") + " (give one folder of .npy/.pb files per input set)");
            sets.add(TensorFiles.inputs(List.of(d), p.prepared().inputs(), flag + " " + d));
        }
        return AccuracyInputs.fromFiles(dirs.size() + " input set" + (dirs.size() > 1 ? "s" : "") + " from " + dirs, sets);
    }

    /** The measured error model of the problem's graph: from the cache when its fingerprint is there (said so), else measured and cached. */
    ErrorModel errorModel(SearchProblem p, Set<Precision> precisions) throws Exception { return errorModel(p, precisions, null); }

    /** As above, INT8 measured with these calibrated scales (part of the cache key); null: INT8 unmeasured. */
    ErrorModel errorModel(SearchProblem p, Set<Precision> precisions, org.tessel.accuracy.CalibratedScales scales) throws Exception {
        AccuracyInputs in = sensitivityInputs(p);
        SensitivityCache cache = cacheDir != null ? new SensitivityCache(cacheDir) : SensitivityCache.inHome();
        String fp = Sensitivity.fingerprint(p, precisions, in, scales);
        Optional<ErrorModel> cached = cache.read(p.name(), fp);
        if (cached.isPresent()) {
            System.out.println("sensitivity: reused " + cache.file(p.name(), fp) + " (fingerprint " + fp + ", measured on " + in.description() + ")");
            return cached.get();
        }
        Sensitivity.Measured m;
        try (Progress bar = Progress.start("measuring per-node sensitivity", 0)) {
            m = Sensitivity.measure(p, precisions, in, scales, bar::extra);
        }
        Path f = cache.write(p.name(), m, in.description());
        long nodes = Sensitivity.measuredNodes(m.model());
        System.out.printf(Locale.ROOT, "sensitivity: measured %d nodes at %s%s on %s, %d CPU engines (%d node-precisions exact by the emulation, no engine needed) in %.1f s%s; cached in %s%n", nodes,
                precisions.stream().filter(q -> q != Precision.FP32).map(Precision::text).sorted().toList(),
                scales != null ? " (" + scales.precision().text() + " with " + scales.calibrator() + " scales " + scales.fingerprint() + ")" : precisions.contains(Precision.INT8) ? " (int8 not measured: no scales)" : precisions.contains(Precision.FP8) ? " (fp8 not measured: no scales)" : "", in.description(), m.engines(), m.exactWithoutEngine(), m.seconds(),
                m.classifier() ? " (classifier output: top-1 measured too)" : "", f);
        return m.model();
    }
}
