package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.text.IrPrinter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Converts between ONNX, text IR and zoo models. */
@Command(name = "convert", description = "Write a model as ONNX (.onnx) or text IR (.tir); missing folders are created.")
final class ConvertCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = {"-o", "--output"}, required = true, description = "Output file: .onnx or .tir.") Path out;
    @Mixin OnnxOutput onnx;

    @Override public Integer call() throws Exception {
        String n = out.getFileName().toString();
        if (!n.endsWith(".onnx") && !n.endsWith(".tir"))
            throw new IllegalArgumentException("output " + out + ": give a file ending in .onnx or .tir");
        onnx.check(out);
        AtomicFiles.checkWritable(out);
        Graph g = model.load();
        if (n.endsWith(".onnx")) onnx.write(OnnxExporter.toModel(g), out);
        else AtomicFiles.writeString(out, IrPrinter.print(g));
        System.out.printf("wrote %s (%d nodes, %d bytes)%n", out, g.nodes().size(), Files.size(out));
        return 0;
    }
}
