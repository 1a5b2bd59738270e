package org.tessel.runtime.engine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.text.IrPrinter;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.engine.PrecisionEmulation.Rounding;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.Conversion;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * A built engine: the planned graph, the {@link EnginePlan} it was built from, the plan for each
 * layer (tactic, precision, layout), the activation memory plan, compiled kernels, and the header
 * that says where it can run. Immutable and shareable between threads; each thread runs it through
 * its own {@link ExecutionContext}.
 *
 * <p>The CPU backend executes any plan: every layer is its planned node run by emulation
 * ({@link CpuLayer}), whichever tactic the plan names. The engine file keeps the whole plan (as
 * JSON under {@link #META_PLAN} among the file's named blobs, so the format stays version 1) and
 * loading replays it: the stored plan is checked against the stored graph and must agree with the
 * stored layers.
 */
public final class Engine {
    /** The CPU tactic: runs a node with its reference implementation. */
    public static final String CPU_REFERENCE = "cpu.reference";
    /** The name of the plan's JSON among an engine file's named blobs (the kernels map). */
    public static final String META_PLAN = "meta/plan";

    private final EngineHeader header;
    private final Graph graph;
    private final List<LayerPlan> layers;
    private final Map<String, long[]> memory;
    private final long arenaBytes;
    private final Map<String, byte[]> kernels;
    private final EnginePlan plan;
    /** The CPU layers, made on first use (a benign race: two threads make equal lists). */
    private volatile CpuProgram cpu;

    private Engine(EngineHeader header, Graph graph, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels, EnginePlan plan) {
        if (kernels.containsKey(META_PLAN)) throw new IllegalArgumentException("'" + META_PLAN + "' is the engine's plan, not a kernel; pass the plan itself");
        this.header = header;
        this.graph = graph;
        this.layers = List.copyOf(layers);
        this.memory = Collections.unmodifiableMap(memory);
        this.arenaBytes = arenaBytes;
        this.kernels = Collections.unmodifiableMap(kernels);
        this.plan = plan;
    }

    /**
     * A CPU engine for an (optimized) graph with the reference plan: every layer runs
     * {@value #CPU_REFERENCE} in FP32, in the layout the graph records.
     */
    public static Engine buildCpu(Graph optimized) {
        return buildCpu(optimized, referencePlan(optimized));
    }

    /**
     * A CPU engine that executes {@code plan} on the planned graph: one layer per planned node with
     * the plan's tactic, precision and layout, run by emulation. The plan is checked first
     * ({@link PlanCheck}, the node order, what emulation can do), so a bad plan is refused, naming
     * the node, before any work.
     */
    public static Engine buildCpu(Graph planned, EnginePlan plan) {
        PlanCheck.check(plan, planned, TacticCatalog.global(), null);
        checkExecutable(plan, planned);
        Verifier.verify(planned);
        List<LayerPlan> layers = new ArrayList<>();
        for (PlannedNode p : plan.nodes()) layers.add(layerOf(p));
        MemoryPlan mp = new LivenessMemoryPlanner().plan(planned);
        Map<String, long[]> memory = new LinkedHashMap<>();
        for (var e : mp.allocations().entrySet()) memory.put(e.getKey().name(), new long[] {e.getValue().offset(), e.getValue().bytes()});
        EngineHeader h = new EngineHeader(EngineHeader.FORMAT_VERSION, "cpu", "none", EngineHeader.Machine.cpu().libraries(), 0, new byte[32]);
        Engine e = new Engine(h, planned, layers, memory, mp.arenaBytes(), new LinkedHashMap<>(), plan);
        e.cpuProgram(); // rounds the constants now, so the first run does not pay for it
        return e;
    }

    /**
     * The plan that runs every node with {@value #CPU_REFERENCE} in FP32, in its own layout. Fused
     * nodes the fusion pass made (named after their members, as {@link FusedGroup#nameOf} does) are
     * recorded as the plan's groups, so the plan says what was fused.
     */
    public static EnginePlan referencePlan(Graph g) {
        List<PlannedNode> nodes = new ArrayList<>();
        List<FusedGroup> groups = new ArrayList<>();
        for (Node n : g.nodes()) {
            nodes.add(new PlannedNode(n.name(), n.opName(), CPU_REFERENCE, "", Precision.FP32, planLayout(n), 0, Double.NaN));
            if (n.body() != null && n.body().nodes().size() >= 2) {
                List<String> members = n.body().nodes().stream().map(Node::name).toList();
                if (FusedGroup.nameOf(members).equals(n.name())) groups.add(new FusedGroup(n.name(), NodeFacts.fusedKind(n), members));
            }
        }
        return new EnginePlan(g.name(), "rule", "cpu", 0, groups, nodes, List.of(), Double.NaN, Double.NaN);
    }

    /**
     * The layout a plan gives a node that keeps the graph's layouts: its output's, with NCHW for a
     * layout-sensitive node whose tensors say nothing (what the layout pass means by ANY).
     */
    public static Layout planLayout(Node n) {
        Layout l = n.output().type().layout();
        return NodeFacts.layoutMatters(n) && l == Layout.ANY ? Layout.NCHW : l;
    }

    /** The layer plan a planned node becomes: what the engine file's layer table records. */
    static LayerPlan layerOf(PlannedNode p) {
        return new LayerPlan(p.node(), p.tactic(), p.precision().text(), p.layout().text());
    }

    /**
     * What {@link PlanCheck} does not check and this builder needs: the plan lists the nodes in the
     * graph's order (the schedule the engine runs), layout-sensitive nodes are planned in the layout
     * the graph gives them, every precision can be emulated, and every cast is on an edge the graph
     * has, to a type emulation can round to.
     */
    static void checkExecutable(EnginePlan plan, Graph planned) {
        List<Node> ns = planned.nodes();
        for (int i = 0; i < ns.size(); i++) {
            PlannedNode p = plan.nodes().get(i);
            if (!p.node().equals(ns.get(i).name()))
                throw new PlanException(ns.get(i).describe() + ": the plan schedules node '" + p.node() + "' at position " + i
                        + ", the planned graph has this node there; the plan's order must be the graph's");
            Node n = ns.get(i);
            // layout changes are tessel.Reformat nodes of the planned graph, so a layout-sensitive node computes in its tensors' layout
            if (NodeFacts.layoutMatters(n) && !n.opName().equals("tessel.Reformat") && p.layout() != planLayout(n))
                throw new PlanException(n.describe() + ": the plan says layout " + p.layout().text() + ", the planned graph's tensors are " + planLayout(n).text()
                        + " (a layout change is a tessel.Reformat node in the planned graph)");
        }
        for (Conversion c : plan.conversions()) {
            Value v = planned.value(c.value());
            if (v == null) throw new PlanException("conversion " + c + ": the planned graph '" + planned.name() + "' has no value %" + c.value());
            String producer = v.producer() == null ? "" : v.producer().name();
            if (!c.producer().equals(producer))
                throw new PlanException("conversion " + c + ": %" + c.value() + " is produced by " + (producer.isEmpty() ? "no node (it is an input or a constant)" : "node '" + producer + "'"));
            if (c.consumer().isEmpty() ? !planned.outputs().contains(v) : planned.users(v).stream().noneMatch(u -> u.name().equals(c.consumer())))
                throw new PlanException("conversion " + c + ": " + (c.consumer().isEmpty() ? "%" + c.value() + " is not a graph output" : "node '" + c.consumer() + "' does not read %" + c.value()));
            // a cast to i8 (f8e4m3) is the INT8 (FP8) consumer's input quantization, which its layer does with the tensor's scale
            if (c.casts() && c.to() != DType.F32 && c.to() != DType.F16 && c.to() != DType.BF16 && !consumesQuantized(plan, c))
                throw new PlanException("conversion " + c + ": the CPU backend emulates casts to f32, f16 and bf16 (and to i8 into an INT8 node, f8e4m3 into an FP8 node), not " + c.to().text());
        }
    }

    /** True when the cast's consumer runs at a quantized precision whose storage the cast goes to (i8 into INT8, f8e4m3 into FP8). */
    private static boolean consumesQuantized(EnginePlan plan, Conversion c) {
        PlannedNode p = c.consumer().isEmpty() ? null : plan.node(c.consumer());
        return p != null && p.precision().quantized() && c.to() == p.precision().storage();
    }

    /**
     * An engine made by another backend's builder (the GPU builder): its plan, memory plan and
     * kernels (PTX and builder metadata by name) behind a header for that backend.
     */
    public static Engine of(EngineHeader header, Graph optimized, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels) {
        return of(header, optimized, layers, memory, arenaBytes, kernels, null);
    }

    /** As above with the {@link EnginePlan} the layers were built from (null when the builder has none), which the file then stores. */
    public static Engine of(EngineHeader header, Graph optimized, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels,
                            EnginePlan plan) {
        return new Engine(header, optimized, layers, new LinkedHashMap<>(memory), arenaBytes, new LinkedHashMap<>(kernels), plan);
    }

    public EngineHeader header() { return header; }
    public Graph graph() { return graph; }
    public List<LayerPlan> layers() { return layers; }
    public long arenaBytes() { return arenaBytes; }
    public Map<String, long[]> memoryPlan() { return memory; }
    /** Compiled kernels and builder metadata by name (the stored plan is {@link #plan()}, not among them). */
    public Map<String, byte[]> kernels() { return kernels; }
    /** The plan the engine was built from; null for an engine file written before engines stored plans. */
    public EnginePlan plan() { return plan; }

    public ExecutionContext createContext() { return new ExecutionContext(this); }

    /**
     * This engine with more named blobs stored beside its kernels: metadata that a wrapper (a
     * profile engine's profiles and source model) keeps in the same file.
     */
    public Engine withBlobs(Map<String, byte[]> more) {
        Map<String, byte[]> k = new LinkedHashMap<>(kernels);
        for (var e : more.entrySet()) if (k.put(e.getKey(), e.getValue()) != null) throw new IllegalArgumentException("the engine already holds a blob named '" + e.getKey() + "'");
        return new Engine(header, graph, layers, new LinkedHashMap<>(memory), arenaBytes, k, plan);
    }

    /** The CPU layers and output casts, as every context of this engine runs them. */
    record CpuProgram(List<CpuLayer> layers, List<Rounding> outputCasts) {}

    CpuProgram cpuProgram() {
        CpuProgram p = cpu;
        if (p == null) cpu = p = makeCpuProgram();
        return p;
    }

    private CpuProgram makeCpuProgram() {
        if (!header.backend().equals("cpu"))
            throw new EngineRunException("this engine was built for the " + header.backend() + " backend; the CPU backend runs only CPU engines");
        List<CpuLayer> out = new ArrayList<>();
        List<Node> nodes = graph.nodes();
        List<Rounding> outputCasts = new ArrayList<>();
        for (int i = 0; i < graph.outputs().size(); i++) outputCasts.add(Rounding.NONE);
        if (plan == null) {
            // an engine file from before plans: only the reference tactic, in FP32
            for (int i = 0; i < nodes.size(); i++) {
                LayerPlan l = layers.get(i);
                if (!l.tactic().equals(CPU_REFERENCE))
                    throw new EngineRunException("layer '" + l.node() + "' uses tactic " + l.tactic() + ", which the CPU backend cannot run without the engine's plan");
                out.add(CpuLayer.of(nodes.get(i), l, Precision.FP32, null));
            }
            return new CpuProgram(List.copyOf(out), List.copyOf(outputCasts));
        }
        Map<String, Map<String, Rounding>> castsByConsumer = new HashMap<>();
        for (Conversion c : plan.conversions()) {
            if (!c.casts()) continue;
            Rounding r = Rounding.toStorage(c.to());
            if (c.consumer().isEmpty()) {
                for (int i = 0; i < graph.outputs().size(); i++) if (graph.outputs().get(i).name().equals(c.value())) outputCasts.set(i, r);
            } else {
                castsByConsumer.computeIfAbsent(c.consumer(), k -> new HashMap<>()).put(c.value(), r);
            }
        }
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            PlannedNode p = plan.nodes().get(i);
            Map<String, Rounding> edge = castsByConsumer.getOrDefault(n.name(), Map.of());
            List<Rounding> casts = new ArrayList<>();
            for (Value v : n.inputs()) casts.add(v == null ? Rounding.NONE : edge.getOrDefault(v.name(), Rounding.NONE));
            out.add(CpuLayer.of(n, layers.get(i), p.precision(), casts, plan.quantization()));
        }
        return new CpuProgram(List.copyOf(out), List.copyOf(outputCasts));
    }

    /** Writes the engine atomically. */
    public void save(Path file) throws IOException {
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (Value c : graph.constants()) weights.put(c.name(), c.constantValue());
        String text = IrPrinter.print(graph, IrPrinter.Options.elidingAbove(0));
        Map<String, byte[]> blobs = new LinkedHashMap<>(kernels);
        if (plan != null) blobs.put(META_PLAN, EnginePlanJson.write(plan).getBytes(StandardCharsets.UTF_8));
        EngineFile.write(file, header.backend(), header.gpuArch(), header.libraries(), text, layers, memory, arenaBytes, blobs, weights);
    }

    /** Loads and checks an engine for this machine. */
    public static Engine load(Path file, EngineHeader.Machine machine) {
        return load(file, machine, true);
    }

    /**
     * Reads and checks an engine file without asking whether it can run here: for showing what a
     * file holds ({@code tessel inspect}) on any machine. Running it still needs its backend.
     */
    public static Engine read(Path file) {
        return load(file, null, false);
    }

    private static Engine load(Path file, EngineHeader.Machine machine, boolean checkMachine) {
        EngineFile.Contents c = EngineFile.read(file);
        if (checkMachine) {
            String why = c.header().incompatibility(machine);
            if (why != null) throw new EngineFormatException(file + ": cannot run here: " + why + "; rebuild the engine on this machine");
        }
        Graph g;
        try {
            g = new IrParser(OpRegistry.global(), c.weights()).read(c.graphText(), file + " (graph)");
        } catch (IrException e) {
            throw new EngineFormatException(file + ": the stored graph does not load: " + e.getMessage(), e);
        }
        if (c.layers().size() != g.nodes().size())
            throw new EngineFormatException(file + ": " + c.layers().size() + " layer plans for " + g.nodes().size() + " nodes");
        for (int i = 0; i < c.layers().size(); i++)
            if (!c.layers().get(i).node().equals(g.nodes().get(i).name()))
                throw new EngineFormatException(file + ": layer plan " + i + " is for node '" + c.layers().get(i).node() + "', the graph has '" + g.nodes().get(i).name() + "' there");
        Map<String, byte[]> kernels = new LinkedHashMap<>(c.kernels());
        byte[] planJson = kernels.remove(META_PLAN);
        EnginePlan plan = planJson == null ? null : replay(file, planJson, g, c.layers(), c.header().backend());
        return new Engine(c.header(), g, c.layers(), new LinkedHashMap<>(c.memory()), c.arenaBytes(), kernels, plan);
    }

    /**
     * The stored plan, checked as a build checks it against the stored graph, and checked to be
     * what the stored layers are: a file whose plan and layers disagree is refused, naming the node.
     */
    private static EnginePlan replay(Path file, byte[] json, Graph g, List<LayerPlan> layers, String backend) {
        EnginePlan plan;
        try {
            plan = EnginePlanJson.read(new String(json, StandardCharsets.UTF_8), file + " (" + META_PLAN + ")");
        } catch (PlanException e) {
            throw new EngineFormatException(e.getMessage(), e);
        }
        try {
            PlanCheck.check(plan, g, TacticCatalog.global(), null);
            if (backend.equals("cpu")) checkExecutable(plan, g);
        } catch (PlanException e) {
            throw new EngineFormatException(file + ": the stored plan does not fit the stored graph: " + e.getMessage(), e);
        }
        for (int i = 0; i < layers.size(); i++) {
            LayerPlan l = layers.get(i);
            PlannedNode p = plan.nodes().get(i);
            LayerPlan want = layerOf(p);
            boolean same = l.node().equals(p.node()) && l.tactic().equals(want.tactic()) && l.layout().equals(want.layout())
                    && Precision.fromText(l.precision()).orElse(null) == p.precision();
            if (!same)
                throw new EngineFormatException(file + ": layer " + i + " (node '" + l.node() + "') runs " + l.tactic() + " at " + l.precision() + "/" + l.layout()
                        + ", the stored plan says node '" + p.node() + "' runs " + want.tactic() + " at " + want.precision() + "/" + want.layout());
        }
        return plan;
    }
}
