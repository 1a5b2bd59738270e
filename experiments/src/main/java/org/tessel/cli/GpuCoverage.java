package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.Backend;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;

/**
 * Which ops the GPU can run: for every op of the registry (each has a reference implementation,
 * so the reference interpreter runs it), whether some GPU tactic of the catalogue supports a node
 * of that op. A tactic's support is decided on nodes ({@link Tactic#appliesTo}, {@link
 * Tactic#whyNot} at some precision and layout), not declared per op, so real nodes are asked:
 * every node of the tiny zoo models, before and after the standard pipeline (which makes the fused
 * and reformat nodes), of llama-tiny's decode step quantized as the runtime quantizes it (the LLM quantized
 * MatMuls exist only after quantization), of its paged decode step (tessel.PagedAttention), and of ONNX's node test
 * cases when a folder of them is given (plus the nodes constant folding removes from them, such as Shape and
 * ConstantOfShape, taken from an unfolded import, and a Constant node built from its schema, since imports turn every
 * Constant into a value). An op
 * with no such node is reported as unprobed rather than guessed. Every catalogue GPU id has a GPU
 * implementation (the runtime's tactic-vocabulary lint test checks it), so a supporting catalogue
 * tactic is a kernel the GPU builder builds.
 *
 * <p>An op no GPU tactic supports may still run on the GPU when the search's preparation pipeline
 * ({@code Searcher.PIPELINE}, whose {@code decompose} pass writes Attention, Einsum and ONNX RotaryEmbedding out) rewrites it into ops that
 * have GPU tactics: such an op is reported as decomposed, with how many of its probe graphs prepare into nodes every
 * one of which a GPU tactic supports, and the ops they become.
 */
final class GpuCoverage {
    private GpuCoverage() {}

    /** ONNX's control-flow ops: they hold subgraphs, which the importer refuses, so they are listed apart. */
    static final List<String> CONTROL_FLOW = List.of("If", "Loop", "Scan", "SequenceMap");

    enum Status { GPU, DECOMPOSED, CPU_ONLY, UNPROBED }

    /**
     * One op's row: how many probe nodes it had, and the GPU tactics that support at least one of them; for a
     * decomposed op, how many of its probe graphs (of {@code graphs} tried) prepare into GPU-run nodes, and their ops.
     */
    record Row(String op, Status status, int probes, Set<String> tactics, int decomposed, int graphs, Set<String> into) {
        Row(String op, Status status, int probes, Set<String> tactics) { this(op, status, probes, tactics, 0, 0, Set.of()); }
    }

    record Report(List<Row> rows, List<Row> controlFlow, List<String> sources, int casesImported, int casesRefused) {
        long count(Status s) { return rows.stream().filter(r -> r.status() == s).count(); }
        /** Ops with a GPU tactic or a decomposition the GPU runs, over the ops the reference runs (control flow apart). */
        String ratio() { return (count(Status.GPU) + count(Status.DECOMPOSED)) + "/" + rows.size(); }
    }

    /** Graphs holding each op (a few per op), where a decomposition is tried. */
    private static final Map<String, List<Graph>> GRAPHS = new java.util.HashMap<>();

    static Report measure(Path nodeCases) throws IOException {
        GRAPHS.clear();
        Map<String, List<Node>> byOp = new TreeMap<>();
        List<String> sources = new ArrayList<>();
        List<String> zoo = Zoo.names().stream().filter(n -> n.endsWith("-tiny")).toList();
        for (String name : zoo) {
            Graph g = Zoo.build(name, ZooOptions.defaults());
            add(g, byOp);
            Graph opt = g.copy();
            new PassManager().run(opt, StandardPipelines.resolve("standard"));
            add(opt, byOp);
        }
        sources.add("zoo " + String.join(", ", zoo) + " (as built and after the standard pipeline)");
        // the LLM quantized MatMuls exist only after quantization: llama-tiny's decode step quantized as the runtime does it
        org.tessel.ir.zoo.DecoderConfig llama = Zoo.decoder("llama-tiny", 0);
        boolean text = Files.isRegularFile(org.tessel.runtime.llm.quant.CalibrationText.DEFAULT_TEXT); // SmoothQuant calibrates on it
        for (String spec : text ? List.of("int4:32", "int8:64", "smoothquant") : List.of("int4:32", "int8:64")) {
            var q = org.tessel.runtime.llm.quant.QuantizationSpec.parse(spec.startsWith("int") ? spec : null, false, spec.startsWith("int") ? null : "");
            var recipe = q.smoothQuant()
                    ? org.tessel.runtime.llm.quant.LlmQuantization.calibrate("llama-tiny", llama, 42, q, org.tessel.runtime.llm.quant.CalibrationText.sequences(
                            org.tessel.runtime.llm.quant.CalibrationText.DEFAULT_TEXT, llama.vocab(), 1, 16, 0))
                    : org.tessel.runtime.llm.quant.LlmQuantization.uncalibrated(q);
            Graph g = new org.tessel.runtime.llm.DecoderRunner("llama-tiny", llama, 42, recipe).graph(new org.tessel.ir.zoo.DecoderShape(1, 1, 8));
            new PassManager().run(g, StandardPipelines.resolve("standard"));
            add(g, byOp);
        }
        sources.add("llama-tiny's decode step quantized (weight-only int4:32 and int8:64" + (text ? ", SmoothQuant W8A8" : "; no calibration text for SmoothQuant") + "), after the standard pipeline");
        // tessel.LoraDelta exists only after the lora pass: llama-tiny's decode step serving two seeded adapters, as the runtime serves them
        org.tessel.runtime.llm.DecoderRunner base = new org.tessel.runtime.llm.DecoderRunner("llama-tiny", llama, 42);
        Graph plain = base.graph(new org.tessel.ir.zoo.DecoderShape(1, 1, 8));
        Graph lora = base.withAdapters(List.of(org.tessel.passes.lora.LoraAdapter.random("a", plain, List.of("q", "v"), 4, 4, 1),
                org.tessel.passes.lora.LoraAdapter.random("b", plain, List.of("q", "v"), 8, 8, 2))).graph(new org.tessel.ir.zoo.DecoderShape(2, 1, 8));
        new PassManager().run(lora, StandardPipelines.resolve("standard"));
        add(lora, byOp);
        sources.add("llama-tiny's decode step with two LoRA adapters (q, v; ranks 4 and 8), after the standard pipeline");
        // tessel.PagedAttention exists only in the paged step graph the GPU decoder runs: llama-tiny's decode step over a paged KV cache
        Graph paged = Zoo.buildPagedDecoder("llama-tiny", llama, new org.tessel.ir.zoo.PagedDecoderShape(1, 1, 4, 4, 16), 42);
        new PassManager().run(paged, StandardPipelines.resolve("standard"));
        add(paged, byOp);
        sources.add("llama-tiny's paged decode step (one token, 4 blocks of 4 tokens a sequence, 16 pool blocks), after the standard pipeline");
        int imported = 0, refused = 0;
        if (nodeCases != null) {
            if (!Files.isDirectory(nodeCases)) throw new IllegalArgumentException("--node-cases " + nodeCases + ": not a folder");
            List<Path> cases;
            try (Stream<Path> s = Files.list(nodeCases)) {
                cases = s.filter(p -> Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList();
            }
            if (cases.isEmpty()) throw new IllegalArgumentException("--node-cases " + nodeCases + ": no case folders with a model.onnx");
            int unfolded = 0;
            for (Path c : cases) {
                Graph g = probeCase(c);
                if (g == null) refused++; // an op or element type Tessel lacks, as `tessel conformance` lists them
                else {
                    add(g, byOp);
                    imported++;
                }
                // the nodes folding removed (Shape, ConstantOfShape, ...): a graph may keep them, so they are probed too
                Set<String> kept = new TreeSet<>();
                if (g != null) for (Node n : g.nodes()) kept.add(n.opName());
                Graph u = probeUnfolded(c);
                if (u != null)
                    for (Node n : u.nodes())
                        if (!kept.contains(n.opName())) {
                            add(n, byOp);
                            unfolded++;
                        }
            }
            sources.add("ONNX node cases in " + nodeCases + " (" + imported + " imported, " + refused + " refused by the importer)");
            sources.add("the same cases imported without constant folding, for the " + unfolded + " nodes folding removes (Shape, ConstantOfShape, ...)");
        }
        // the importer turns every ONNX Constant node into a value, so Constant is probed on a node built from its schema
        NetworkBuilder constant = new NetworkBuilder("constant_probe");
        constant.output(constant.op("Constant", org.tessel.api.Attributes.builder().put("value_float", 1.0f).build()));
        add(constant.build(), byOp);
        sources.add("a Constant node built from its schema (value_float; imports turn Constant nodes into values)");
        List<Tactic> gpu = TacticCatalog.global().all().stream().filter(t -> t.backend() == Backend.GPU).toList();
        List<Row> rows = new ArrayList<>(), control = new ArrayList<>();
        List<OpSchema> ops = OpRegistry.global().all().stream().sorted(java.util.Comparator.comparing(OpSchema::qualifiedName)).toList();
        Set<String> registered = new TreeSet<>();
        for (OpSchema op : ops) {
            registered.add(op.qualifiedName());
            List<Node> probes = byOp.getOrDefault(op.qualifiedName(), List.of());
            Set<String> tactics = new TreeSet<>();
            for (Node n : probes) for (Tactic t : gpu) if (t.appliesTo(n) && supportsSomehow(t, n)) tactics.add(t.id());
            Status s = !tactics.isEmpty() ? Status.GPU : probes.isEmpty() ? Status.UNPROBED : Status.CPU_ONLY;
            Row r = new Row(op.qualifiedName(), s, probes.size(), tactics);
            if (s == Status.CPU_ONLY) r = decomposition(r, gpu);
            (CONTROL_FLOW.contains(op.qualifiedName()) ? control : rows).add(r);
        }
        for (String cf : CONTROL_FLOW) if (!registered.contains(cf)) control.add(new Row(cf, Status.UNPROBED, 0, Set.of()));
        return new Report(rows, control, sources, imported, refused);
    }

    /**
     * A node case's graph: as it is, else with its inputs after the first bound to their test data
     * (shapes, axes, pads, sizes that Tessel needs constant), so the node keeps a runtime input;
     * null when neither imports.
     */
    private static Graph probeCase(Path c) {
        try {
            return OnnxImporter.importModel(c.resolve("model.onnx"));
        } catch (RuntimeException first) {
            Path data = c.resolve("test_data_set_0");
            try {
                var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(c.resolve("model.onnx")));
                OnnxImporter.Options o = OnnxImporter.Options.defaults();
                List<String> inputs = new ArrayList<>();
                for (var vi : m.getGraph().getInputList()) inputs.add(vi.getName());
                boolean bound = false;
                for (int i = 1; i < inputs.size(); i++) {
                    Path f = data.resolve("input_" + i + ".pb");
                    if (!Files.isRegularFile(f)) continue;
                    o = o.withConstantInput(inputs.get(i), org.tessel.ir.onnx.OnnxTensors.readTensor(f));
                    bound = true;
                }
                return bound ? OnnxImporter.importModel(c.resolve("model.onnx"), o) : null;
            } catch (IOException | RuntimeException second) {
                return null;
            }
        }
    }

    /** A node case imported with constant folding off, every input bound to its test data (so nodes needing constant inputs import); null when it does not import. */
    private static Graph probeUnfolded(Path c) {
        try {
            var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(c.resolve("model.onnx")));
            OnnxImporter.Options o = OnnxImporter.Options.defaults().withFolding(false);
            List<String> inputs = new ArrayList<>();
            for (var vi : m.getGraph().getInputList()) inputs.add(vi.getName());
            for (int i = 0; i < inputs.size(); i++) {
                Path f = c.resolve("test_data_set_0").resolve("input_" + i + ".pb");
                if (Files.isRegularFile(f)) o = o.withConstantInput(inputs.get(i), org.tessel.ir.onnx.OnnxTensors.readTensor(f));
            }
            return OnnxImporter.importModel(c.resolve("model.onnx"), o);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static void add(Graph g, Map<String, List<Node>> byOp) {
        for (Node n : g.nodes()) {
            add(n, byOp);
            List<Graph> gs = GRAPHS.computeIfAbsent(n.opName(), k -> new ArrayList<>());
            if (gs.size() < 256 && !gs.contains(g)) gs.add(g);
        }
    }

    /**
     * The row of an op no GPU tactic supports, as decomposed when some graph holding it prepares (the search's
     * pipeline) into nodes without it, each supported by a GPU tactic; else the row as it was.
     */
    private static Row decomposition(Row r, List<Tactic> gpu) {
        List<Graph> graphs = GRAPHS.getOrDefault(r.op(), List.of());
        int ok = 0;
        Set<String> into = new TreeSet<>(), tactics = new TreeSet<>();
        for (Graph g : graphs) {
            Graph prepared;
            try {
                prepared = org.tessel.search.Searcher.prepare(g);
            } catch (RuntimeException e) {
                continue;
            }
            if (prepared.nodes().stream().anyMatch(n -> n.opName().equals(r.op()))) continue;
            Set<String> ops = new TreeSet<>(), used = new TreeSet<>();
            boolean all = true;
            for (Node n : prepared.nodes()) {
                ops.add(n.opName());
                boolean any = false;
                for (Tactic t : gpu) if (t.appliesTo(n) && supportsSomehow(t, n)) { used.add(t.id()); any = true; }
                all &= any;
            }
            if (!all) continue;
            ok++;
            into.addAll(ops);
            tactics.addAll(used);
        }
        return ok == 0 ? r : new Row(r.op(), Status.DECOMPOSED, r.probes(), tactics, ok, graphs.size(), into);
    }

    private static void add(Node n, Map<String, List<Node>> byOp) {
        List<Node> l = byOp.computeIfAbsent(n.opName(), k -> new ArrayList<>());
        if (l.size() < 256) l.add(n); // enough variety per op (fused kinds included); bounds the work for common ops
    }

    /** True when the tactic runs the node at some precision and layout. */
    private static boolean supportsSomehow(Tactic t, Node n) {
        for (Precision p : Precision.values())
            for (Layout l : List.of(Layout.NCHW, Layout.NHWC, Layout.ANY))
                if (t.whyNot(n, p, l) == null) return true;
        return false;
    }

    static Map<String, Object> json(Report r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ops_with_gpu_tactic", r.count(Status.GPU));
        m.put("decomposed", r.count(Status.DECOMPOSED));
        m.put("ops_reference_runs", r.rows().size());
        m.put("ratio", r.ratio());
        m.put("cpu_only", r.count(Status.CPU_ONLY));
        m.put("unprobed", r.count(Status.UNPROBED));
        m.put("probe_sources", r.sources());
        m.put("ops", r.rows().stream().map(GpuCoverage::row).toList());
        m.put("control_flow", r.controlFlow().stream().map(c -> {
            Map<String, Object> x = row(c);
            x.put("note", c.probes() == 0 && c.tactics().isEmpty() ? "not registered: the importer refuses subgraphs, so neither the reference nor the GPU runs it" : "");
            return x;
        }).toList());
        return m;
    }

    private static Map<String, Object> row(Row r) {
        Map<String, Object> x = new LinkedHashMap<>();
        x.put("op", r.op());
        x.put("status", r.status().name().toLowerCase(java.util.Locale.ROOT));
        x.put("probe_nodes", r.probes());
        x.put("gpu_tactics", List.copyOf(r.tactics()));
        if (r.status() == Status.DECOMPOSED) {
            x.put("decomposed_graphs", r.decomposed());
            x.put("probe_graphs", r.graphs());
            x.put("decomposed_into", List.copyOf(r.into()));
        }
        return x;
    }
}
