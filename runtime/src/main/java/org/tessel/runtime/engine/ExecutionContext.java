package org.tessel.runtime.engine;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * One thread's way to run a CPU engine: checks the inputs, runs each layer as its plan says (any
 * tactic, by emulation: {@link CpuLayer}), and (when enabled) records per-layer times. Contexts of one engine share nothing mutable, so several
 * threads can each run their own at once.
 */
public final class ExecutionContext implements AutoCloseable {
    private final Engine engine;
    private final ReferenceInterpreter interpreter = new ReferenceInterpreter();
    private final Map<Value, Integer> lastUse = new IdentityHashMap<>();
    private final Engine.CpuProgram program;
    private boolean profiling;
    private LayerObserver observer;
    private final long[] layerNanos;
    private int profiledRuns;

    ExecutionContext(Engine engine) {
        this.engine = engine;
        Graph g = engine.graph();
        for (int i = 0; i < g.nodes().size(); i++) for (Value v : g.nodes().get(i).inputs()) if (v != null) lastUse.put(v, i);
        for (Value o : g.outputs()) lastUse.put(o, Integer.MAX_VALUE);
        layerNanos = new long[g.nodes().size()];
        program = engine.cpuProgram();
    }

    public ExecutionContext profiling(boolean on) { this.profiling = on; return this; }

    /** Sees every layer's outputs as the engine keeps them (after the layer's precision rounding), e.g. to compare intermediate tensors. */
    public interface LayerObserver { void afterLayer(Node layer, List<Tensor> outputs); }

    /** Calls {@code o} after each layer of every later run (null: none). */
    public ExecutionContext observing(LayerObserver o) { this.observer = o; return this; }

    /** Runs the engine on inputs given in graph-input order; checks names, dtypes and shapes. */
    public List<Tensor> run(List<Tensor> inputs) {
        Graph g = engine.graph();
        if (inputs.size() != g.inputs().size())
            throw new EngineRunException("the engine takes " + g.inputs().size() + " inputs " + names(g.inputs()) + ", got " + inputs.size());
        Map<Value, Tensor> env = new IdentityHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            Value v = g.inputs().get(i);
            Tensor t = inputs.get(i);
            TensorType want = v.type();
            if (t.dtype() != want.dtype() || !t.shape().equals(want.shape()))
                throw new EngineRunException("input %" + v.name() + " must be " + want.dtype().text() + want.shape() + ", got " + t.dtype().text() + t.shape()
                        + (t.dtype() == want.dtype() && t.rank() == want.rank() && t.shape().dim(0) != want.shape().dim(0)
                        ? " (the engine was built for batch " + want.shape().dim(0) + "; rebuild it with --batch " + t.shape().dim(0) + ")" : ""));
            env.put(v, t);
        }
        for (Value c : g.constants()) env.put(c, c.constantValue());
        List<Node> nodes = g.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            List<Tensor> ins = new ArrayList<>(n.numInputs());
            for (Value v : n.inputs()) ins.add(v == null ? null : env.get(v));
            long t0 = profiling ? System.nanoTime() : 0;
            List<Tensor> outs = program.layers().get(i).run(interpreter, ins);
            if (profiling) layerNanos[i] += System.nanoTime() - t0;
            if (observer != null) observer.afterLayer(n, outs);
            for (int k = 0; k < outs.size(); k++) env.put(n.output(k), outs.get(k));
            for (Value v : n.inputs()) if (v != null && !v.isConstant() && !v.isInput() && lastUse.getOrDefault(v, -1) == i) env.remove(v);
        }
        if (profiling) profiledRuns++;
        List<Tensor> out = new ArrayList<>();
        for (int k = 0; k < g.outputs().size(); k++) out.add(program.outputCasts().get(k).apply(env.get(g.outputs().get(k))));
        return out;
    }

    /** Runs with inputs by name. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Graph g = engine.graph();
        List<Tensor> list = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = inputs.get(v.name());
            if (t == null) throw new EngineRunException("missing input %" + v.name() + " (" + v.type() + "); the engine's inputs are " + names(g.inputs()));
            list.add(t);
        }
        for (String k : inputs.keySet())
            if (g.inputs().stream().noneMatch(v -> v.name().equals(k))) throw new EngineRunException("the engine has no input %" + k + "; its inputs are " + names(g.inputs()));
        List<Tensor> outs = run(list);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) m.put(g.outputs().get(i).name(), outs.get(i));
        return m;
    }

    /** Mean time per layer over the profiled runs, in milliseconds, with the layer plan. */
    public List<LayerTime> layerTimes() {
        List<LayerTime> out = new ArrayList<>();
        for (int i = 0; i < layerNanos.length; i++) {
            LayerPlan l = engine.layers().get(i);
            out.add(new LayerTime(l, engine.graph().nodes().get(i).opName(), profiledRuns == 0 ? 0 : layerNanos[i] / 1e6 / profiledRuns));
        }
        return out;
    }

    public record LayerTime(LayerPlan plan, String op, double meanMs) {}

    /** Layer information as JSON: name, op, tactic, precision, layout and mean time per layer. */
    public String layerInfoJson() {
        StringBuilder sb = new StringBuilder("{\n  \"engine\": {\"backend\": ").append(q(engine.header().backend()))
                .append(", \"layers\": ").append(engine.layers().size()).append(", \"arena_bytes\": ").append(engine.arenaBytes())
                .append(", \"profiled_runs\": ").append(profiledRuns).append("},\n  \"layers\": [\n");
        List<LayerTime> ts = layerTimes();
        for (int i = 0; i < ts.size(); i++) {
            LayerTime t = ts.get(i);
            sb.append("    {\"name\": ").append(q(t.plan().node())).append(", \"op\": ").append(q(t.op())).append(", \"tactic\": ").append(q(t.plan().tactic()))
                    .append(", \"precision\": ").append(q(t.plan().precision())).append(", \"layout\": ").append(q(t.plan().layout()))
                    .append(", \"time_ms\": ").append(String.format(java.util.Locale.ROOT, "%.6f", t.meanMs())).append('}').append(i + 1 < ts.size() ? ",\n" : "\n");
        }
        return sb.append("  ]\n}\n").toString();
    }

    /** {@code s} as a JSON string literal (layer-info files of every backend). */
    public static String jsonString(String s) { return q(s); }

    private static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }

    private static List<String> names(List<Value> vs) { return vs.stream().map(v -> "%" + v.name() + ": " + v.type()).toList(); }

    /** CPU contexts hold no native memory; a GPU context frees its arena here. */
    @Override public void close() { }
}
