package org.tessel.runtime.gpu.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;

/**
 * The ONNX node cases (../shared/onnx-node, found through {@code tessel.shared}) of the ops whose GPU tactics are
 * {@link WindowLayers}, {@link AxisLayers} and {@code tessel.reduce}: each case the importer accepts, imported as
 * {@code tessel ops --gpu} probes it (as is, else with the inputs after the first bound to their test data), and,
 * where folding leaves no such node (Shape, Constant, ConstantOfShape), imported unfolded, the node's own inputs bound.
 */
final class DataNodeCases {
    private DataNodeCases() {}

    static final Set<String> OPS = Set.of("Slice", "Pad", "Expand", "GatherElements", "ConstantOfShape", "Shape", "Constant",
            "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
            "ArgMax", "ArgMin", "Hardmax", "LogSoftmax");

    private static final Pattern NAMES = Pattern.compile("test_(slice|constant_pad|edge_pad|reflect_pad|wrap_pad|expand|gather_elements|reduce_[a-z0-9]+"
            + "|argmax|argmin|hardmax|logsoftmax|constantofshape|shape|constant)(_.*)?");

    /** One imported case: its graph and the values of the graph's remaining inputs (test_data_set_0). */
    record Case(String name, Graph graph, Map<String, Tensor> inputs) {
        List<Node> nodes() { return graph.nodes().stream().filter(n -> OPS.contains(n.opName())).toList(); }
    }

    static Path folder() { return Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("onnx-node"); }

    /** The cases, or an empty list when the folder is absent (callers skip, saying so). */
    static List<Case> load() throws IOException {
        Path root = folder();
        if (!Files.isDirectory(root)) return List.of();
        List<Path> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(p -> NAMES.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList();
        }
        List<Case> out = new ArrayList<>();
        for (Path d : dirs) {
            Case c = load(d);
            if (c != null) out.add(c);
        }
        return out;
    }

    private static Case load(Path dir) throws IOException {
        var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        List<String> names = new ArrayList<>();
        for (var vi : m.getGraph().getInputList()) names.add(vi.getName());
        Map<String, Tensor> data = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            Path f = dir.resolve("test_data_set_0").resolve("input_" + i + ".pb");
            if (Files.isRegularFile(f)) data.put(names.get(i), OnnxTensors.readTensor(f));
        }
        OnnxImporter.Options plain = OnnxImporter.Options.defaults(), bound = plain;
        for (int i = 1; i < names.size(); i++) if (data.containsKey(names.get(i))) bound = bound.withConstantInput(names.get(i), data.get(names.get(i)));
        OnnxImporter.Options unfolded = plain.withFolding(false), unfoldedBound = unfolded;
        for (String n : names) if (data.containsKey(n)) unfoldedBound = unfoldedBound.withConstantInput(n, data.get(n));
        for (OnnxImporter.Options o : List.of(plain, bound, unfolded, unfoldedBound)) {
            Graph g;
            try {
                g = OnnxImporter.importModel(dir.resolve("model.onnx"), o);
            } catch (RuntimeException refused) {
                continue;
            }
            Case c = new Case(dir.getFileName().toString(), g, inputsOf(g, data));
            if (!c.nodes().isEmpty()) return c;
        }
        return null;
    }

    private static Map<String, Tensor> inputsOf(Graph g, Map<String, Tensor> data) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (var v : g.inputs()) {
            Tensor t = data.get(v.name());
            if (t == null) throw new IllegalStateException("no test data for graph input %" + v.name());
            in.put(v.name(), t);
        }
        return in;
    }
}
