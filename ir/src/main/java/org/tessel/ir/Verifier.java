package org.tessel.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.TensorType;

/**
 * Checks a graph's invariants and reports every problem with the node or value it concerns.
 * Cheap checks (SSA, order, arity, attributes) always run; {@link Level#FULL} also re-runs type
 * inference on every node and compares with the recorded types.
 */
public final class Verifier {
    public enum Level { CHEAP, FULL }

    private Verifier() {}

    public static void verify(Graph g) { verify(g, Level.FULL); }

    public static void verify(Graph g, Level level) {
        List<String> problems = check(g, level);
        if (!problems.isEmpty()) throw new VerificationException(g.name(), problems);
    }

    public static List<String> check(Graph g, Level level) { return check(g, level, java.util.Map.of()); }

    /**
     * Checks {@code g}; {@code bound} gives the constant values of inputs known from outside (a fused
     * body's inputs bound to the fused node's constant operands), used when types are re-inferred.
     */
    public static List<String> check(Graph g, Level level, java.util.Map<Value, org.tessel.api.Tensor> bound) {
        List<String> p = new ArrayList<>();
        // sized for the graph: verification runs after every pass, on graphs of up to millions of values
        int values = g.inputs().size() + g.constants().size() + 2 * g.nodes().size();
        Set<Value> defined = Collections.newSetFromMap(new IdentityHashMap<>(values));
        Set<String> names = HashSet.newHashSet(values);
        for (Value v : g.inputs()) define(v, "graph input", defined, names, p);
        for (Value v : g.constants()) {
            define(v, "constant", defined, names, p);
            if (v.isDeferred()) continue; // its maker's data is checked against the type when made
            if (v.constantValue() == null) p.add("constant %" + v.name() + " has no data");
            else if (!v.constantValue().type().sameLogicalType(v.type()))
                p.add("constant %" + v.name() + " is typed " + v.type() + " but holds " + v.constantValue().type());
        }
        Set<String> nodeNames = HashSet.newHashSet(g.nodes().size());
        for (Node n : g.nodes()) {
            String where = n.describe();
            if (!nodeNames.add(n.name())) p.add(where + ": node name used twice");
            var op = n.op();
            if (n.numInputs() < op.minInputs() || n.numInputs() > op.maxInputs())
                p.add(where + ": takes " + Graph.arity(op.minInputs(), op.maxInputs()) + " inputs, has " + n.numInputs());
            if (n.outputs().size() < op.minOutputs() || n.outputs().size() > op.maxOutputs())
                p.add(where + ": has " + Graph.arity(op.minOutputs(), op.maxOutputs()) + " outputs, declares " + n.outputs().size());
            for (int i = 0; i < n.numInputs(); i++) {
                Value in = n.input(i);
                if (in == null) {
                    if (i < op.minInputs()) p.add(where + ": required input " + i + " is missing");
                    continue;
                }
                if (!defined.contains(in)) {
                    boolean later = in.producer() != null && g.nodes().contains(in.producer());
                    p.add(where + ": input " + i + " %" + in.name() + (later ? " is used before it is defined (nodes out of topological order, or a cycle)" : " is not defined in this graph"));
                }
            }
            checkAttributes(n, p);
            for (int i = 0; i < n.outputs().size(); i++) {
                Value o = n.output(i);
                if (o.producer() != n || o.outputIndex() != i) p.add(where + ": output %" + o.name() + " is not linked to its producer");
                define(o, "result of " + where, defined, names, p);
            }
            if (n.body() != null) {
                // a fused node's types are its body's
                for (int i = 0; i < Math.min(n.outputs().size(), n.body().outputs().size()); i++)
                    if (!n.body().outputs().get(i).type().sameLogicalType(n.output(i).type()))
                        p.add(where + ": output %" + n.output(i).name() + " is typed " + n.output(i).type() + " but the body returns " + n.body().outputs().get(i).type());
                for (int i = 0; i < Math.min(n.numInputs(), n.body().inputs().size()); i++)
                    if (n.input(i) != null && !n.body().inputs().get(i).type().sameLogicalType(n.input(i).type()))
                        p.add(where + ": input " + i + " %" + n.input(i).name() + " is " + n.input(i).type() + " but the body expects " + n.body().inputs().get(i).type());
            } else if (level == Level.FULL && p.isEmpty()) {
                try {
                    List<TensorType> inferred = Graph.inferTypes(op, n.name(), n.inputs(), n.attrs(), n.outputs().size(),
                            v -> v.isConstant() ? v.inferenceValue() : bound.get(v));
                    for (int i = 0; i < inferred.size(); i++) {
                        TensorType rec = n.output(i).type();
                        if (!inferred.get(i).sameLogicalType(rec))
                            p.add(where + ": output %" + n.output(i).name() + " is typed " + rec + " but the op infers " + inferred.get(i));
                    }
                } catch (IrException e) {
                    p.add(e.getMessage());
                }
            }
            if (n.body() != null) {
                for (String bp : check(n.body(), level, bodyBindings(n, bound))) p.add(where + " body: " + bp);
                if (n.body().inputs().size() != n.numInputs())
                    p.add(where + ": body has " + n.body().inputs().size() + " inputs, node has " + n.numInputs());
                if (n.body().outputs().size() != n.outputs().size())
                    p.add(where + ": body has " + n.body().outputs().size() + " outputs, node has " + n.outputs().size());
            }
        }
        if (g.outputs().isEmpty()) p.add("graph has no outputs");
        Set<Value> seenOut = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Value o : g.outputs()) {
            if (!defined.contains(o)) p.add("graph output %" + o.name() + " is not defined in this graph");
            if (!seenOut.add(o)) p.add("graph output %" + o.name() + " is listed twice (each output needs its own value and name)");
        }
        return p;
    }

    private static void define(Value v, String what, Set<Value> defined, Set<String> names, List<String> p) {
        if (!defined.add(v)) p.add(what + ": value %" + v.name() + " is defined twice");
        if (!names.add(v.name())) p.add(what + ": value name %" + v.name() + " is used twice");
    }

    private static void checkAttributes(Node n, List<String> p) {
        var specs = n.op().attributes();
        for (var e : n.attrs().asMap().entrySet()) {
            AttrSpec spec = specs.stream().filter(s -> s.name().equals(e.getKey())).findFirst().orElse(null);
            if (spec == null) {
                p.add(n.describe() + ": unknown attribute '" + e.getKey() + "' (known: "
                        + specs.stream().map(AttrSpec::name).toList() + ")");
            } else if (spec.kind() != e.getValue().kind()
                    && !(spec.kind() == AttrValue.Kind.FLOAT && e.getValue().kind() == AttrValue.Kind.INT)) {
                p.add(n.describe() + ": attribute '" + e.getKey() + "' must be " + spec.kind() + ", found " + e.getValue().kind());
            }
        }
        for (AttrSpec s : specs)
            if (s.required() && !n.attrs().has(s.name())) p.add(n.describe() + ": required attribute '" + s.name() + "' is missing");
    }

    /** A fused node's body inputs bound to the constant values of the node's operands (known from outside). */
    public static java.util.Map<Value, org.tessel.api.Tensor> bodyBindings(Node n, java.util.Map<Value, org.tessel.api.Tensor> outer) {
        java.util.Map<Value, org.tessel.api.Tensor> m = new IdentityHashMap<>();
        List<Value> ins = n.body().inputs();
        for (int i = 0; i < Math.min(ins.size(), n.numInputs()); i++) {
            Value o = n.input(i);
            if (o == null) continue;
            org.tessel.api.Tensor t = o.isConstant() ? o.inferenceValue() : outer.get(o);
            if (t != null) m.put(ins.get(i), t);
        }
        return m;
    }
}
