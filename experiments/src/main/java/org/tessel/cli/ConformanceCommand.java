package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.tessel.ir.onnx.Conformance;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Runs ONNX backend-test cases through import and the reference interpreter. */
@Command(name = "conformance", description = "Run ONNX backend-test case folders (model.onnx + test_data_set_N) through import and the reference interpreter; ends with 'N passed, N failed, N skipped'.")
final class ConformanceCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "A folder of case folders, e.g. ../shared/onnx-node or ../shared/models.") Path dir;
    @Option(names = "--filter", defaultValue = ".*", description = "Regex on case names (default: all).") String filter;
    @Option(names = "--rtol", converter = Ranges.Tolerance.class, description = "Relative tolerance (default 1e-3).") Double rtol;
    @Option(names = "--atol", converter = Ranges.Tolerance.class, description = "Absolute tolerance (default: 1e-7, ONNX's for node cases; 1e-4 when no case is named test_*, i.e. real models).") Double atol;

    @Override public Integer call() {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("no such folder: " + dir);
        Conformance.Tolerance dflt = looksLikeNodeCases() ? Conformance.Tolerance.NODE : Conformance.Tolerance.MODELS;
        Conformance.Tolerance tol = new Conformance.Tolerance(rtol != null ? rtol : dflt.rtol(), atol != null ? atol : dflt.atol());
        System.out.printf("tolerance: rtol %.0e, atol %.0e%n", tol.rtol(), tol.atol());
        Conformance.Result r;
        try (Progress p = Progress.start("conformance", 0)) {
            r = Conformance.run(dir, Pattern.compile(filter), System.out, Conformance.Options.defaults().withTolerance(tol), (done, total, name) -> {
                p.extra(name + ", " + done + "/" + total);
                p.stepTo(done);
            });
        }
        return r.failed() == 0 ? 0 : 1;
    }

    private boolean looksLikeNodeCases() {
        try (var s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("test_"));
        } catch (java.io.IOException e) {
            return true;
        }
    }
}
