package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;

/**
 * Inputs that used to crash, hang or be silently ignored (issue 13, "No silent failures"), one
 * case each: every one now ends in one line that names the flag, file, key, node or output, with
 * a non-zero exit, and writes nothing it should not.
 */
class HostileInputTest {
    @TempDir Path dir;

    private static CliRun run(String... args) { return CliRun.of(args); }

    /** Exit 2 and one line on stderr, without a stack trace, containing every fragment. */
    private static CliRun refused(CliRun r, String... fragments) {
        assertEquals(2, r.code(), "out: " + r.out() + "\nerr: " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.err());
        for (String f : fragments) assertTrue(r.err().contains(f), "'" + f + "' in: " + r.err());
        return r;
    }

    private List<String> files(Path d) throws IOException {
        try (Stream<Path> s = Files.walk(d)) {
            return s.filter(Files::isRegularFile).map(p -> d.relativize(p).toString()).sorted().toList();
        }
    }

    /** x[1,4] (or symbolic dims) -> Relu -> y, declared as given. */
    private Path onnx(String file, Object[] inDims, int outType, Object[] outDims) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("g").addInput(info("x", 1, inDims)).addOutput(info("y", outType, outDims))
                .addNode(NodeProto.newBuilder().setOpType("Relu").setName("relu").addInput("x").addOutput("y")).build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(10).addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(21)).setGraph(g).build();
        Path p = dir.resolve(file);
        Files.write(p, m.toByteArray());
        return p;
    }

    private static ValueInfoProto info(String name, int type, Object[] dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims)
            s.addDim(d instanceof String p ? TensorShapeProto.Dimension.newBuilder().setDimParam(p) : TensorShapeProto.Dimension.newBuilder().setDimValue((Integer) d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type).setShape(s))).build();
    }

    // --batch on a model exported with a fixed batch of 1

    @Test void batchOnAFixedBatchOnnxModelRebatchesItWhenTheGraphScales() throws Exception {
        Path model = dir.resolve("resnet.onnx"), engine = dir.resolve("r4.engine");
        assertEquals(0, run("convert", "zoo:resnet50-tiny", "-o", model.toString()).code());
        CliRun b = run("build", model.toString(), "--batch", "4", "--cpu", "--save-engine", engine.toString());
        assertEquals(0, b.code(), b.err());
        assertEquals(4, Engine.load(engine, EngineHeader.Machine.cpu()).graph().inputs().getFirst().type().shape().dim(0), "a batch-4 engine, not batch 1");
        CliRun r = run("run", engine.toString(), "--batch", "4", "--iterations", "1", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("batch 4"), r.out());
    }

    @Test void batchOnAModelWhoseReshapePinsTheBatchIsRefusedNamingTheNode() {
        Path model = dir.resolve("bert.onnx"), engine = dir.resolve("b.engine");
        assertEquals(0, run("convert", "zoo:bert-tiny", "-o", model.toString()).code());
        refused(run("build", model.toString(), "--batch", "2", "--cpu", "--save-engine", engine.toString()),
                "bert.onnx: batch size 2 was asked of a model whose inputs have a fixed batch dimension of 1, and it cannot be rebatched",
                "node 'encoder.layer.0.attention.self.query.reshape' (Reshape)", "export the model with a symbolic batch dimension");
        assertFalse(Files.exists(engine));
    }

    @Test void batchZeroIsRefusedForOnnxToo() throws Exception {
        Path model = onnx("m.onnx", new Object[] {"N", 4}, 1, new Object[] {"N", 4});
        refused(run("build", model.toString(), "--batch", "0", "--cpu", "--save-engine", dir.resolve("e.engine").toString()),
                "Invalid value for option '--batch': must be at least 1, got 0", "tessel build --help");
    }

    @Test void aDimNoInputHasListsTheKnownOnes() throws Exception {
        Path model = onnx("m.onnx", new Object[] {"batch", "seq_len"}, 1, new Object[] {"batch", "seq_len"});
        refused(run("show", model.toString(), "--dim", "sequence=8"),
                "m.onnx: a size was given for dimension 'sequence', but no graph input has a symbolic dimension of that name; the inputs' symbolic dimensions are batch, seq_len");
        refused(run("show", model.toString()), "dimension 1 is symbolic ('seq_len'); give its size with --dim seq_len=N");
        CliRun ok = run("show", model.toString(), "--seq", "8", "--batch", "2");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("%x: f32[2,8]"), ok.out());
        refused(run("show", model.toString(), "--dim", "seq_len=0"), "Invalid value for option '--dim' (NAME=VALUE): must be at least 1, got 0");
    }

    // numeric options, every verb

    static Stream<List<String>> badNumbers() {
        return Stream.of(
                List.of("run", "FILE", "--iterations", "2147483647", "--iterations", "must be from 1 to 1000000, got 2147483647"),
                List.of("run", "FILE", "--iterations", "0", "--iterations", "must be from 1 to 1000000, got 0"),
                List.of("run", "FILE", "--warmup", "-1", "--warmup", "must be from 0 to 1000000, got -1"),
                List.of("run", "FILE", "--batch", "-2", "--batch", "must be at least 1, got -2"),
                List.of("inspect", "FILE", "--profile", "0", "--profile", "must be from 1 to 1000000, got 0"),
                List.of("search", "zoo:resnet50-tiny", "--time-limit", "-1", "--time-limit", "must be more than 0 and at most 31536000 seconds, got -1"),
                List.of("search", "zoo:resnet50-tiny", "--time-limit", "NaN", "--time-limit", "must be more than 0 and at most 31536000 seconds, got NaN"),
                List.of("search", "zoo:resnet50-tiny", "--moves", "0", "--moves", "must be at least 1, got 0"),
                List.of("search", "zoo:resnet50-tiny", "--unimproved-steps", "-5", "--unimproved-steps", "must be at least 1, got -5"),
                List.of("search", "zoo:resnet50-tiny", "--random-samples", "0", "--random-samples", "must be at least 1, got 0"),
                List.of("search", "zoo:resnet50-tiny", "--memory-budget-mib", "-3", "--memory-budget-mib", "must be more than 0"),
                List.of("build", "zoo:resnet50-tiny", "--save-engine", "FILE", "--streams", "-1", "--streams", "must be from 1 to 8, got -1"),
                List.of("build", "zoo:resnet50-tiny", "--save-engine", "FILE", "--top-k", "0", "--top-k", "must be at least 1, got 0"),
                List.of("zoo", "--batch", "0", "--batch", "must be at least 1, got 0"),
                List.of("show", "zoo:resnet50-tiny", "--elide", "-2", "--elide", "must be at least -1, got -2"),
                List.of("show", "zoo:bert-tiny", "--seq", "0", "--seq", "must be at least 1, got 0"),
                List.of("show", "zoo:bert-tiny", "--layers", "x", "--layers", "'x' is not a whole number (at least 1)"),
                List.of("check", "zoo:resnet50-tiny", "--rtol", "-1e-3", "--rtol", "must be 0 or more (finite), got -1e-3"),
                List.of("conformance", "FILE", "--atol", "Infinity", "--atol", "must be 0 or more (finite), got Infinity"),
                List.of("tactics", "zoo:resnet50-tiny", "--batch", "0", "--batch", "must be at least 1, got 0"),
                List.of("calibrate", "--timing-cache", "FILE", "--outliers", "-1", "--outliers", "must be at least 0, got -1"));
    }

    @ParameterizedTest @MethodSource("badNumbers")
    void aNumericOptionOutOfRangeIsRefusedNamingTheFlagAndTheRange(List<String> c) {
        List<String> args = c.subList(0, c.size() - 2).stream().map(a -> a.equals("FILE") ? dir.resolve("f").toString() : a).toList();
        String flag = c.get(c.size() - 2), range = c.getLast();
        refused(run(args.toArray(String[]::new)), "Invalid value for option '" + flag + "': " + range, "see 'tessel " + args.getFirst() + " --help'");
    }

    @Test void anUnknownTuningLevelIsRefusedEvenForACpuEngine() {
        refused(run("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", dir.resolve("e.engine").toString(), "--tuning", "nope"),
                "--tuning 'nope' is not a level; use fixed, cost-model, top-k, all");
        assertFalse(Files.exists(dir.resolve("e.engine")));
    }

    @Test void zooAtAHugeBatchNeverPrintsNegativeCounts() {
        CliRun r = run("zoo", "--batch", "2000000000");
        refused(r, "zoo:resnet50 at --batch 2000000000", "FLOPs do not fit a 64-bit count");
        assertFalse(r.out().matches("(?s).*\\s-\\d.*"), "no negative figure: " + r.out());
    }

    // atomic writes

    @Test void buildAndConvertBothCreateMissingFoldersAndLeaveNoTemporaryFiles() throws Exception {
        assertEquals(0, run("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", dir.resolve("a/b/e.engine").toString()).code());
        assertEquals(0, run("convert", "zoo:resnet50-tiny", "-o", dir.resolve("c/d/m.tir").toString()).code());
        assertEquals(0, run("convert", "zoo:resnet50-tiny", "-o", dir.resolve("c/d/m.onnx").toString()).code());
        assertEquals(0, run("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", dir.resolve("a/b/e.engine").toString()).code(), "a second build replaces the engine");
        assertEquals(List.of("a/b/e.engine", "c/d/m.onnx", "c/d/m.tir"), files(dir));
    }

    @Test void aTargetThatIsAFolderIsRefusedBeforeAnyWorkNamingIt() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("out.engine"));
        refused(run("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", folder.toString()), "cannot write " + folder + ": it is a folder; give a file name");
        Path tirFolder = Files.createDirectories(dir.resolve("out.tir"));
        refused(run("convert", "zoo:resnet50-tiny", "-o", tirFolder.toString()), "cannot write " + tirFolder + ": it is a folder; give a file name");
        Files.writeString(dir.resolve("file"), "x");
        refused(run("search", "zoo:resnet50-tiny", "--strategy", "greedy", "--plan-out", dir.resolve("file/plan.json").toString()),
                "cannot write " + dir.resolve("file/plan.json") + ": " + dir.resolve("file") + " is a file, not a folder");
        assertEquals(List.of("file"), files(dir), "nothing written, no .tmp");
    }

    // experiment configs

    @Test void anExperimentNameThatLeavesTheResultsFolderIsRefused() throws Exception {
        Path yaml = dir.resolve("cfg/x.yaml");
        Files.createDirectories(yaml.getParent());
        Files.writeString(yaml, "name: ../../escaped\nmodels: [resnet50-tiny]\nstrategies: [greedy]\n");
        refused(run("experiment", yaml.toString()), "x.yaml: key 'name': '../../escaped' is not a plain name");
        assertEquals(List.of("cfg/x.yaml"), files(dir));
    }

    @Test void emptyAndMalformedYamlSayWhatIsWrong() throws Exception {
        Path yaml = dir.resolve("x.yaml");
        Files.writeString(yaml, "");
        refused(run("experiment", yaml.toString()), "x.yaml: empty config; give at least 'models' and 'strategies'");
        Files.writeString(yaml, "name: ok\nmodels: [resnet50-tiny\nstrategies: [greedy]\n");
        refused(run("experiment", yaml.toString()), "x.yaml: not valid YAML: while parsing a flow sequence; expected ',' or ']'", "(line 3, column 11)");
        Files.writeString(yaml, "models: [resnet50-tiny]\nstrategies: [greedy]\nstrategies: [exact]\n");
        refused(run("experiment", yaml.toString()), "x.yaml: not valid YAML: Duplicate field 'strategies'");
        Files.writeString(yaml, "models: [resnet50-tiny]\nstrategies: [greedy]\nmoves: 0\n");
        refused(run("experiment", yaml.toString()), "x.yaml: key 'moves': must be at least 1, got 0");
        Files.writeString(yaml, "- models\n");
        refused(run("experiment", yaml.toString()), "x.yaml: expected keys (name: ..., models: [...], strategies: [...]), found a list");
    }

    // text files that are not UTF-8, folders where files belong, show's text

    @Test void aFileThatIsNotUtf8IsNamedWithItsLine() throws Exception {
        Path tir = dir.resolve("m.tir");
        Files.write(tir, new byte[] {'g', 'r', 'a', 'p', 'h', '\n', (byte) 0xFF, '\n'});
        refused(run("show", tir.toString()), tir + ":2: not UTF-8 text (byte 0xFF at offset 6)");
        Path cache = dir.resolve("t.cache");
        Files.write(cache, "# tessel timing cache v1\ngpu=\u00ff\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        refused(run("search", "zoo:resnet50-tiny", "--timing-cache", cache.toString()), cache + ":2: not UTF-8 text (byte 0xFF");
        refused(run("calibrate", "--timing-cache", cache.toString()), cache + ":2: not UTF-8 text");
    }

    @Test void aFolderWhereAFileBelongsIsNamed() throws Exception {
        Path d = Files.createDirectories(dir.resolve("thing.tir"));
        refused(run("show", d.toString()), d + " is a folder");
        refused(run("run", d.toString()), d + " is a folder, not an engine file");
        refused(run("inspect", d.toString()), d + " is a folder, not an engine file");
        refused(run("calibrate", "--timing-cache", d.toString()), d + " is a folder, not a file");
        refused(run("experiment", d.toString()), d + " is a folder, not a file");
        refused(run("build", "zoo:resnet50-tiny", "--cpu", "--plan", d.toString(), "--save-engine", dir.resolve("e.engine").toString()), d.toString());
        refused(run("check", "zoo:resnet50-tiny", "--data", d.toString()), d.resolve("input_0.pb") + ": no such file");
    }

    @Test void showWithEveryConstantRoundTripsAndElidedShowOutputSaysHowToGetIt() throws Exception {
        CliRun full = run("show", "zoo:resnet50-tiny", "--elide", "-1");
        assertEquals(0, full.code(), full.err());
        Path tir = dir.resolve("full.tir");
        Files.writeString(tir, full.out());
        CliRun again = run("show", tir.toString(), "--elide", "-1");
        assertEquals(0, again.code(), again.err());
        assertEquals(full.out(), again.out(), "show's text loads back to the same graph");

        CliRun elided = run("show", "zoo:resnet50-tiny");
        assertTrue(elided.out().startsWith("// "), "the reading form says so on its first line: " + elided.out().lines().findFirst().orElse(""));
        Path short_ = dir.resolve("short.tir");
        Files.writeString(short_, elided.out());
        CliRun r = refused(run("optimize", short_.toString()), short_ + ":3:", "is elided", "tessel show MODEL --elide -1", "tessel convert MODEL -o FILE.tir");
        assertFalse(r.err().contains("IrParser") || r.err().contains("resolver"), "no Java API advice: " + r.err());
    }

    // declared output types

    @Test void aDeclaredOutputTypeThatDisagreesIsNamed() throws Exception {
        Path wrongType = onnx("t.onnx", new Object[] {1, 4}, 7, new Object[] {1, 4});
        refused(run("check", wrongType.toString()), "t.onnx: graph output 'y' is declared INT64, but the graph computes f32 (f32[1,4])");
        Path wrongShape = onnx("s.onnx", new Object[] {1, 4}, 1, new Object[] {1, 5});
        refused(run("build", wrongShape.toString(), "--cpu", "--save-engine", dir.resolve("e.engine").toString()),
                "s.onnx: graph output 'y' is declared with shape [1,5], but the graph computes f32[1,4]");
    }
}
