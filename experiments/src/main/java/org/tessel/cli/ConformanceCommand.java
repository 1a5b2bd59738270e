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

    @Override public Integer call() {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("no such folder: " + dir);
        Conformance.Result r = Conformance.run(dir, Pattern.compile(filter), System.out);
        return r.failed() == 0 ? 0 : 1;
    }
}
