package org.tessel.passes.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.PassStatistics;

/**
 * The one place rules change a graph (MLIR's PatternRewriter). It records every change so drivers
 * can detect a fixpoint and report statistics; new nodes get inferred types, so a rule that builds
 * a wrong node fails at once naming it.
 */
public final class Rewriter {
    private final Graph graph;
    private final OpRegistry ops;
    private final PassStatistics stats;
    private final List<String> log = new ArrayList<>();
    private int changes;

    public Rewriter(Graph graph, OpRegistry ops, PassStatistics stats) {
        this.graph = graph;
        this.ops = ops;
        this.stats = stats;
    }

    public Graph graph() { return graph; }
    public OpRegistry ops() { return ops; }
    public int changes() { return changes; }
    public List<String> log() { return List.copyOf(log); }

    /** Creates a node right before {@code anchor}, with types inferred. */
    public Node insertBefore(Node anchor, String op, String name, Attributes attrs, int numOutputs, Value... inputs) {
        var schema = ops.get(op);
        String nn = graph.uniqueNodeName(name);
        var types = Graph.inferTypes(schema, nn, Arrays.asList(inputs), attrs, numOutputs);
        Node n = graph.insertNodeBefore(anchor, schema, nn, Arrays.asList(inputs), attrs, types, null, null);
        record("insert " + n.describe());
        return n;
    }

    /** Creates a node with a body (a fused node) right before {@code anchor}, with the given output types. */
    public Node insertFusedBefore(Node anchor, String op, String name, Attributes attrs, List<Value> inputs, Graph body) {
        var schema = ops.get(op);
        var types = body.outputs().stream().map(Value::type).toList();
        Node n = graph.insertNodeBefore(anchor, schema, graph.uniqueNodeName(name), inputs, attrs, types, null, body);
        record("insert " + n.describe());
        return n;
    }

    public Value constant(String name, Tensor t) {
        record("constant %" + name);
        return graph.addConstant(name, t);
    }

    /** A constant of {@code type} whose data {@code maker} makes on first use (a merge's concatenated weights: pricing a merge never reads them). */
    public Value deferredConstant(String name, org.tessel.api.TensorType type, java.util.function.Supplier<Tensor> maker) {
        record("constant %" + name);
        return graph.addDeferredConstant(name, type, maker);
    }

    /** Replaces every use of old's outputs by the given values and erases old. */
    public void replace(Node old, List<Value> replacements) {
        if (replacements.size() != old.outputs().size())
            throw new IllegalArgumentException(old.describe() + " has " + old.outputs().size() + " outputs, " + replacements.size() + " replacements given");
        List<String> oldNames = old.outputs().stream().map(Value::name).toList();
        String oldNode = old.name();
        for (int i = 0; i < replacements.size(); i++) replaceValue(old.output(i), replacements.get(i));
        erase(old);
        // a replacement made for this node (named after it, "s_1" for "s") takes the freed name back
        for (int i = 0; i < replacements.size(); i++) {
            Value r = replacements.get(i);
            String was = oldNames.get(i);
            if (r.producer() != null && r.name().matches(java.util.regex.Pattern.quote(was) + "_[0-9]+") && graph.value(was) == null) graph.renameValue(r, was);
            Node p = r.producer();
            if (p != null && p.name().matches(java.util.regex.Pattern.quote(oldNode) + "_[0-9]+") && !graph.hasNodeNamed(oldNode)) graph.renameNode(p, oldNode);
        }
    }

    public void replace(Node old, Value replacement) { replace(old, List.of(replacement)); }

    /**
     * Replaces a value everywhere. When it was a graph output, the replacement takes the old
     * name, so the graph's interface keeps its names.
     */
    public void replaceValue(Value from, Value to) {
        if (from == to) return;
        boolean wasOutput = graph.outputs().contains(from);
        graph.replaceAllUses(from, to);
        if (wasOutput && !to.isInput() && !graph.outputs().contains(from) && graph.inputs().stream().noneMatch(v -> v == to)) {
            String keep = from.name();
            if (from.producer() != null && graph.contains(from.producer())) graph.renameValue(from, graph.uniqueValueName(keep + "_old"));
            if (graph.value(keep) == null) graph.renameValue(to, keep);
        }
        record("replace %" + from.name() + " -> %" + to.name());
    }

    /** Gives n the name it was made to replace, once that name is free again ("conv_1" back to "conv"). */
    public void takeName(Node n, String name) {
        if (!graph.hasNodeNamed(name)) graph.renameNode(n, name);
    }

    public void erase(Node n) {
        graph.removeNode(n);
        record("erase " + n.describe());
    }

    public void setInput(Node n, int i, Value v) {
        graph.setNodeInput(n, i, v);
        record("set input " + i + " of " + n.describe());
    }

    public void setAttrs(Node n, Attributes a) {
        n.setAttrs(a);
        record("set attributes of " + n.describe());
    }

    public void count(String stat) { stats.inc(stat); }

    private void record(String what) {
        changes++;
        if (log.size() < 10_000) log.add(what);
    }
}
