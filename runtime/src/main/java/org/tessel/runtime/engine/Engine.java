package org.tessel.runtime.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.text.IrPrinter;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;

/**
 * A built engine: the optimized graph, the plan for each layer (tactic, precision, layout), the
 * activation memory plan, compiled kernels, and the header that says where it can run. Immutable
 * and shareable between threads; each thread runs it through its own {@link ExecutionContext}.
 */
public final class Engine {
    /** The CPU tactic: runs a node with its reference implementation. */
    public static final String CPU_REFERENCE = "cpu.reference";

    private final EngineHeader header;
    private final Graph graph;
    private final List<LayerPlan> layers;
    private final Map<String, long[]> memory;
    private final long arenaBytes;
    private final Map<String, byte[]> kernels;

    private Engine(EngineHeader header, Graph graph, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels) {
        this.header = header;
        this.graph = graph;
        this.layers = List.copyOf(layers);
        this.memory = Collections.unmodifiableMap(memory);
        this.arenaBytes = arenaBytes;
        this.kernels = Collections.unmodifiableMap(kernels);
    }

    /**
     * A CPU engine for an (optimized) graph: every layer runs its reference implementation in the
     * precision and layout the graph records; memory is planned for the node order.
     */
    public static Engine buildCpu(Graph optimized) {
        Verifier.verify(optimized);
        List<LayerPlan> layers = new ArrayList<>();
        for (Node n : optimized.nodes())
            layers.add(new LayerPlan(n.name(), CPU_REFERENCE, n.output().type().dtype().text(), n.output().type().layout().text()));
        MemoryPlan plan = new LivenessMemoryPlanner().plan(optimized);
        Map<String, long[]> memory = new LinkedHashMap<>();
        for (var e : plan.allocations().entrySet()) memory.put(e.getKey().name(), new long[] {e.getValue().offset(), e.getValue().bytes()});
        EngineHeader h = new EngineHeader(EngineHeader.FORMAT_VERSION, "cpu", "none", EngineHeader.Machine.cpu().libraries(), 0, new byte[32]);
        return new Engine(h, optimized, layers, memory, plan.arenaBytes(), new LinkedHashMap<>());
    }

    /**
     * An engine made by another backend's builder (the GPU builder): its plan, memory plan and
     * kernels (PTX and builder metadata by name) behind a header for that backend.
     */
    public static Engine of(EngineHeader header, Graph optimized, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels) {
        return new Engine(header, optimized, layers, new LinkedHashMap<>(memory), arenaBytes, new LinkedHashMap<>(kernels));
    }

    public EngineHeader header() { return header; }
    public Graph graph() { return graph; }
    public List<LayerPlan> layers() { return layers; }
    public long arenaBytes() { return arenaBytes; }
    public Map<String, long[]> memoryPlan() { return memory; }
    public Map<String, byte[]> kernels() { return kernels; }

    public ExecutionContext createContext() { return new ExecutionContext(this); }

    /** Writes the engine atomically. */
    public void save(Path file) throws IOException {
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (Value c : graph.constants()) weights.put(c.name(), c.constantValue());
        String text = IrPrinter.print(graph, IrPrinter.Options.elidingAbove(0));
        EngineFile.write(file, header.backend(), header.gpuArch(), header.libraries(), text, layers, memory, arenaBytes, kernels, weights);
    }

    /** Loads and checks an engine for this machine. */
    public static Engine load(Path file, EngineHeader.Machine machine) {
        EngineFile.Contents c = EngineFile.read(file);
        String why = c.header().incompatibility(machine);
        if (why != null) throw new EngineFormatException(file + ": cannot run here: " + why + "; rebuild the engine on this machine");
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
        return new Engine(c.header(), g, c.layers(), new LinkedHashMap<>(c.memory()), c.arenaBytes(), new LinkedHashMap<>(c.kernels()));
    }
}
