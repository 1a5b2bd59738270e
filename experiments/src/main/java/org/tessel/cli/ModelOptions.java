package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.ir.Graph;
import org.tessel.ir.io.TextFiles;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.text.ElidedConstantException;
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

    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, description = "Batch size (zoo models; ONNX models with a symbolic batch dimension, or a fixed 1 the graph can be rebatched from).")
    Integer batch;

    @Option(names = "--seq", converter = Ranges.AtLeastOne.class, description = "Sequence length for text models (zoo BERT; zoo CRNN: its width columns; ONNX dims named like 'seq*').")
    Integer seq;

    @Option(names = "--layers", converter = Ranges.AtLeastOne.class, description = "Number of encoder layers (zoo BERT, ViT and CRNN).")
    Integer layers;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for zoo weights (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dim", paramLabel = "NAME=VALUE", converter = {picocli.CommandLine.UseDefaultConverter.class, Ranges.DimensionSize.class}, description = "Value of a symbolic ONNX dimension, NAME=VALUE (repeatable).")
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
            if (!dims.isEmpty()) throw new IllegalArgumentException("--dim sets symbolic dimensions of ONNX models; " + model + " takes --batch, --seq and --layers");
            ZooOptions d = ZooOptions.defaults();
            ZooOptions o = new ZooOptions(batch != null ? batch : d.batch(), seq != null ? seq : d.sequenceLength(),
                    layers != null ? layers : d.layers(), seed);
            return Zoo.build(model.substring(4), o);
        }
        Path p = Path.of(model);
        if (!Files.exists(p)) throw new IllegalArgumentException("no such model file: " + model + " (give an .onnx or .tir file, or zoo:NAME)");
        if (Files.isDirectory(p)) throw new IllegalArgumentException(model + " is a folder; give an .onnx or .tir file, or zoo:NAME");
        String name = p.getFileName().toString();
        if (name.endsWith(".tir")) {
            String flag = batch != null ? "--batch" : seq != null ? "--seq" : layers != null ? "--layers" : !dims.isEmpty() ? "--dim" : null;
            if (flag != null) throw new IllegalArgumentException(flag + " does not apply to " + model + ": a text-IR file's sizes are the ones written in it");
            try {
                return IrParser.parse(TextFiles.read(p), p.toString());
            } catch (ElidedConstantException e) {
                throw new IllegalArgumentException(e.sourceName() + ":" + e.line() + ":" + e.column() + ": constant " + e.constant() + " is elided: this text, like `tessel show`'s, "
                        + "leaves out large constants; write text IR with every constant by `tessel show MODEL --elide -1` or `tessel convert MODEL -o FILE.tir`", e);
            }
        }
        if (layers != null) throw new IllegalArgumentException("--layers applies to zoo models; " + model + " has the layers it was exported with");
        OnnxImporter.Options opts = OnnxImporter.Options.defaults();
        if (batch != null) opts = opts.withBatchSize(batch);
        for (var e : dims.entrySet()) opts = opts.withDim(e.getKey(), e.getValue());
        if (seq != null) opts = opts.withSequenceLength(seq);
        for (var e : Shapes.dims(p, shapes).entrySet()) opts = opts.withDim(e.getKey(), e.getValue());
        return OnnxImporter.importModel(p, opts);
    }
}
