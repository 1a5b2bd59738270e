package org.tessel.runtime.gpu.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxImportException;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.eltwise.EltwiseTactics;

/**
 * ONNX's node test cases of the elementwise ops the GPU engine generates (test support, shared by the
 * CPU checks of {@link EltwiseNodeCasesTest} and the GPU run of the engine's test): each case as the
 * conformance runner imports it (inputs bound as constants only where an op needs them constant), with
 * its first data set.
 */
public final class EltwiseNodeCases {
    private EltwiseNodeCases() {}

    /** The single ops this family builds: tessel.eltwise's, and the casts of tessel.cast. */
    public static final Set<String> OPS = EltwiseTactics.ENGINE_SINGLE_OPS;

    /** One imported case: its graph, what the data set feeds its inputs, and the outputs ONNX expects. */
    public record Case(String name, Graph graph, List<Tensor> feed, List<Tensor> expected) {
        /** True when every node is one this family builds. */
        public boolean onlyEltwise() { return graph.nodes().stream().allMatch(n -> OPS.contains(n.opName())); }

        /** True when every floating value of the graph is f32 (what the GPU engine takes). */
        public boolean f32Only() {
            for (Value v : graph.inputs()) if (v.type().dtype().isFloating() && v.type().dtype() != DType.F32) return false;
            for (Node n : graph.nodes()) {
                for (Value v : n.inputs()) if (v != null && v.type().dtype().isFloating() && v.type().dtype() != DType.F32) return false;
                if (n.output().type().dtype().isFloating() && n.output().type().dtype() != DType.F32) return false;
            }
            return true;
        }

        public boolean hasFloats() {
            for (Node n : graph.nodes()) {
                for (Value v : n.inputs()) if (v != null && v.type().dtype().isFloating()) return true;
                if (n.output().type().dtype().isFloating()) return true;
            }
            return false;
        }
    }

    /** The shared node-case folder, or null when it is absent. */
    public static Path folder() {
        Path p = Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("onnx-node");
        return Files.isDirectory(p) ? p : null;
    }

    /** The catalogue tactic that runs {@code n} alone: tessel.cast for casts, tessel.eltwise otherwise. */
    public static Tactic tacticFor(Node n) {
        return n.opName().equals("Cast") || n.opName().equals("CastLike") ? DataMovementTactics.CAST : EltwiseTactics.ELTWISE;
    }

    /** Why the catalogue does not offer {@code n}'s tactic at FP32, or null when it does. */
    public static String whyNot(Node n) { return tacticFor(n).whyNot(n, Precision.FP32, Layout.NCHW); }

    private static volatile Map<String, Object> cache;

    /**
     * Every case under {@code dir} whose model has a node of {@link #OPS}, imported (a {@link Case}) or the
     * importer's reason for refusing it (a String), by case name.
     */
    public static synchronized Map<String, Object> load(Path dir) throws IOException {
        if (cache != null) return cache;
        Map<String, Object> out = new LinkedHashMap<>();
        List<Path> folders;
        try (Stream<Path> s = Files.list(dir)) {
            folders = s.filter(p -> Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList();
        }
        for (Path c : folders) {
            Onnx.ModelProto model = Onnx.ModelProto.parseFrom(Files.readAllBytes(c.resolve("model.onnx")));
            if (model.getGraph().getNodeList().stream().noneMatch(n -> n.getDomain().isEmpty() && OPS.contains(n.getOpType()))) continue;
            String name = c.getFileName().toString();
            try {
                out.put(name, importCase(name, c, model));
            } catch (OnnxImportException | IllegalArgumentException e) {
                out.put(name, String.valueOf(e.getMessage()));
            }
        }
        cache = out;
        return out;
    }

    /** As the conformance runner: as it is, else with the inputs after the first, else all, bound to the data as constants. */
    private static Case importCase(String name, Path dir, Onnx.ModelProto model) throws IOException {
        Path data = dir.resolve("test_data_set_0");
        if (!Files.isDirectory(data)) throw new IllegalArgumentException(name + ": no test_data_set_0");
        List<Tensor> ins = new ArrayList<>(), outs = new ArrayList<>();
        for (int i = 0; Files.isRegularFile(data.resolve("input_" + i + ".pb")); i++) ins.add(OnnxTensors.readTensor(data.resolve("input_" + i + ".pb")));
        for (int i = 0; Files.isRegularFile(data.resolve("output_" + i + ".pb")); i++) outs.add(OnnxTensors.readTensor(data.resolve("output_" + i + ".pb")));
        Set<String> inits = new java.util.HashSet<>();
        for (var t : model.getGraph().getInitializerList()) inits.add(t.getName());
        List<String> names = new ArrayList<>();
        for (var v : model.getGraph().getInputList()) if (!inits.contains(v.getName())) names.add(v.getName());
        if (names.size() != ins.size()) throw new IllegalArgumentException(name + ": the data set has " + ins.size() + " inputs, the graph takes " + names.size());
        int n = names.size();
        int[] attempts = n == 0 ? new int[] {0} : n == 1 ? new int[] {1, 0} : new int[] {n, 1, 0};
        OnnxImportException last = null;
        for (int from : attempts) {
            Map<String, Tensor> bind = new LinkedHashMap<>();
            for (int i = from; i < n; i++) bind.put(names.get(i), ins.get(i));
            try {
                Graph g = OnnxImporter.importModel(model, "model.onnx", OnnxImporter.Options.defaults().withConstantInputs(bind));
                return new Case(name, g, List.copyOf(ins.subList(0, from)), List.copyOf(outs));
            } catch (OnnxImportException e) {
                last = e;
                if (e.kind() != OnnxImportException.Kind.OP_ERROR || !e.getMessage().contains("constant")) throw e;
            }
        }
        throw last;
    }
}
