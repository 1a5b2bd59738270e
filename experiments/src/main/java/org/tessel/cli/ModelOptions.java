package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

/**
 * How every verb names a model: an ONNX file, a Tessel text-IR file (.tir), or {@code zoo:NAME}
 * from the built-in zoo, with the batch size and other dimensions set on the command line.
 */
final class ModelOptions {
    /** The model as named on the command line (MODEL or --onnx); null until given. */
    String model;

    @Spec(Spec.Target.MIXEE) CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "An .onnx file, a .tir text-IR file, or zoo:NAME (see `tessel zoo`).")
    void positional(String m) { set(m, "MODEL"); }

    @Option(names = "--onnx", paramLabel = "FILE", description = "The model file (trtexec's name for MODEL).")
    void onnx(String m) { set(m, "--onnx"); }

    @Option(names = "--shapes", paramLabel = "NAME:DxDx...", split = ",", description = "Input shapes as trtexec writes them, e.g. input:4x3x224x224 "
            + "(ONNX models: sets the input's symbolic dimensions; fixed ones must agree).")
    List<String> shapes = new ArrayList<>();

    private void set(String m, String how) {
        if (model != null) throw new ParameterException(spec.commandLine(), "give the model once: " + model + " and " + m + " (" + how + ")");
        model = m;
    }

    /** The model's name; a clear error when none was given. */
    String name() {
        if (model == null) throw new IllegalArgumentException("no model: give MODEL (an .onnx or .tir file, or zoo:NAME) or --onnx FILE");
        return model;
    }

    @Option(names = "--batch", description = "Batch size (zoo models; ONNX inputs whose first dimension is symbolic or set).")
    Integer batch;

    @Option(names = "--seq", description = "Sequence length for text models (zoo BERT; ONNX dim named like 'seq*').")
    Integer seq;

    @Option(names = "--layers", description = "Number of encoder layers (zoo BERT and ViT).")
    Integer layers;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for zoo weights (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dim", description = "Value of a symbolic ONNX dimension, NAME=VALUE (repeatable).")
    Map<String, Long> dims = new LinkedHashMap<>();

    /** The same dimensions and seed for another model (an engine's source model). */
    ModelOptions withModel(String other) {
        ModelOptions m = new ModelOptions();
        m.model = other;
        m.batch = batch;
        m.seq = seq;
        m.layers = layers;
        m.seed = seed;
        m.dims = new LinkedHashMap<>(dims);
        return m;
    }

    Graph load() throws IOException {
        name();
        if (!shapes.isEmpty() && (model.startsWith("zoo:") || model.endsWith(".tir")))
            throw new IllegalArgumentException("--shapes sets an ONNX model's input dimensions; " + model + " has fixed shapes (zoo models take --batch/--seq)");
        if (model.startsWith("zoo:")) {
            ZooOptions d = ZooOptions.defaults();
            ZooOptions o = new ZooOptions(batch != null ? batch : d.batch(), seq != null ? seq : d.sequenceLength(),
                    layers != null ? layers : d.layers(), seed);
            return Zoo.build(model.substring(4), o);
        }
        Path p = Path.of(model);
        if (!Files.exists(p)) throw new IllegalArgumentException("no such model file: " + model + " (give an .onnx or .tir file, or zoo:NAME)");
        String name = p.getFileName().toString();
        if (name.endsWith(".tir")) return IrParser.parse(Files.readString(p), p.toString());
        if (name.endsWith(".onnx") || Files.isRegularFile(p)) {
            OnnxImporter.Options opts = OnnxImporter.Options.defaults();
            if (batch != null) opts = opts.withBatchSize(batch);
            for (var e : dims.entrySet()) opts = opts.withDim(e.getKey(), e.getValue());
            if (seq != null) opts = opts.withDim("sequence", seq);
            for (var e : Shapes.dims(p, shapes).entrySet()) opts = opts.withDim(e.getKey(), e.getValue());
            return OnnxImporter.importModel(p, opts);
        }
        throw new IllegalArgumentException(model + ": not a model file (expected .onnx or .tir)");
    }
}
