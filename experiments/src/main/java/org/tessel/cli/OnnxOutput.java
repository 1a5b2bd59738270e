package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import picocli.CommandLine.Option;

/**
 * How verbs that write ONNX ({@code convert}, {@code optimize}) write it: one self-contained file,
 * or with {@code --external-data [BYTES]} the initializers of at least BYTES bytes in
 * {@code FILE.data} beside it (ONNX's external data, needed past protobuf's 2 GiB limit).
 */
final class OnnxOutput {
    /** ONNX's own default threshold for external data (onnx.save's size_threshold). */
    static final long DEFAULT_THRESHOLD = 1024;

    @Option(names = "--external-data", arity = "0..1", paramLabel = "BYTES", fallbackValue = "" + DEFAULT_THRESHOLD,
            description = "Write initializers of at least BYTES bytes (default " + DEFAULT_THRESHOLD + ") to FILE.data beside the .onnx file (ONNX external data).")
    Long externalThreshold;

    /** Refuses the flag where the output is not ONNX. */
    void check(Path out) {
        if (externalThreshold == null) return;
        if (externalThreshold < 0) throw new IllegalArgumentException("--external-data " + externalThreshold + ": the threshold is a byte count, at least 0");
        if (out == null || !out.toString().endsWith(".onnx"))
            throw new IllegalArgumentException("--external-data applies to ONNX output (-o FILE.onnx)" + (out == null ? "" : "; " + out + " is not one"));
    }

    /** Writes the model, reporting the data file when there is one. */
    void write(ModelProto m, Path out) throws IOException {
        if (externalThreshold == null) {
            AtomicFiles.writeBytes(out, m.toByteArray());
            return;
        }
        Path data = OnnxExporter.writeWithExternalData(m, out, externalThreshold);
        System.out.printf("external data: %s (%d bytes; initializers of at least %d bytes)%n", data, java.nio.file.Files.size(data), externalThreshold);
    }
}
