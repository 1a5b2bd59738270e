package org.tessel.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.OpException;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * An SSA graph: inputs, constants, nodes in a valid topological order, and outputs. Every value
 * has a unique name. Mutation goes through this class so names stay unique and producers stay
 * linked; passes change a graph through a rewriter built on these methods.
 */
public final class Graph {
    private String name;
    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> constants = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final Map<String, Value> valuesByName = new HashMap<>();
    /** Every use of a value by a node input, one entry per use, kept up to date by every mutation. */
    private final Map<Value, List<Node>> uses = new IdentityHashMap<>();
    private final Set<String> nodeNames = new HashSet<>();
    private int nameCounter;

    public Graph(String name) { this.name = Objects.requireNonNull(name); }

    public String name() { return name; }
    public void setName(String n) { this.name = n; }
    public List<Value> inputs() { return Collections.unmodifiableList(inputs); }
    public List<Value> constants() { return Collections.unmodifiableList(constants); }
    public List<Node> nodes() { return Collections.unmodifiableList(nodes); }
    public List<Value> outputs() { return Collections.unmodifiableList(outputs); }

    public Value value(String valueName) { return valuesByName.get(valueName); }

    /** A fresh value name derived from base ("conv" -> "conv", "conv_1", ...). */
    public String uniqueValueName(String base) {
        String b = base == null || base.isEmpty() ? "v" : base;
        if (!valuesByName.containsKey(b)) return b;
        String c;
        do { c = b + "_" + (++nameCounter); } while (valuesByName.containsKey(c));
        return c;
    }

    public String uniqueNodeName(String base) {
        String b = base == null || base.isEmpty() ? "n" : base;
        if (!nodeNames.contains(b)) return b;
        String c;
        do { c = b + "_" + (++nameCounter); } while (nodeNames.contains(c));
        return c;
    }

    private Value register(Value v) {
        if (valuesByName.containsKey(v.name())) throw new IrException("value %" + v.name() + " is defined twice in graph '" + name + "'");
        valuesByName.put(v.name(), v);
        return v;
    }

    public Value addInput(String valueName, TensorType type) {
        Value v = register(new Value(valueName, type, Value.Kind.INPUT, null));
        inputs.add(v);
        return v;
    }

    public Value addConstant(String valueName, Tensor data) {
        Value v = register(new Value(uniqueValueName(valueName), data.type(), Value.Kind.CONSTANT, data));
        constants.add(v);
        return v;
    }

    /** Adds a constant with an exact name (the parser and importers use this); fails if taken. */
    public Value addConstantExact(String valueName, Tensor data, TensorType type) {
        Value v = register(new Value(valueName, type, Value.Kind.CONSTANT, data));
        constants.add(v);
        return v;
    }

    public void setOutputs(List<Value> outs) {
        outputs.clear();
        outputs.addAll(outs);
    }

    public void addOutput(Value v) { outputs.add(v); }

    /**
     * Appends a node whose output types come from the op's type inference. Errors name the node.
     */
    public Node addNode(OpSchema op, String nodeName, List<Value> ins, Attributes attrs, int numOutputs) {
        List<TensorType> types = inferTypes(op, nodeName, ins, attrs, numOutputs);
        return insertNode(nodes.size(), op, nodeName, ins, attrs, types, null, null);
    }

    /** Runs the op's type inference for a prospective node; wraps op errors with the node's name. */
    public static List<TensorType> inferTypes(OpSchema op, String nodeName, List<Value> ins, Attributes attrs, int numOutputs) {
        return inferTypes(op, nodeName, ins, attrs, numOutputs, Value::constantValue);
    }

    /**
     * Type inference where {@code constants} gives an input's value when it is known: a constant's
     * own, or, inside a fused node's body, the outer constant a body input stands for (shape-deciding
     * inputs such as Reshape's shape are body inputs bound to outer constants).
     */
    public static List<TensorType> inferTypes(OpSchema op, String nodeName, List<Value> ins, Attributes attrs, int numOutputs,
                                              java.util.function.Function<Value, Tensor> constants) {
        if (ins.size() < op.minInputs() || ins.size() > op.maxInputs())
            throw new IrException("node '" + nodeName + "' (" + op.qualifiedName() + "): takes "
                    + arity(op.minInputs(), op.maxInputs()) + " inputs, got " + ins.size());
        if (numOutputs < op.minOutputs() || numOutputs > op.maxOutputs())
            throw new IrException("node '" + nodeName + "' (" + op.qualifiedName() + "): has "
                    + arity(op.minOutputs(), op.maxOutputs()) + " outputs, asked for " + numOutputs);
        List<TensorType> inTypes = new ArrayList<>(ins.size());
        List<Tensor> consts = new ArrayList<>(ins.size());
        for (Value v : ins) {
            inTypes.add(v == null ? null : v.type());
            consts.add(v == null ? null : constants.apply(v));
        }
        try {
            List<TensorType> out = op.inferTypes(new org.tessel.api.InferenceContext(nodeName, inTypes, consts, attrs, numOutputs));
            if (out.size() != numOutputs)
                throw new IrException("node '" + nodeName + "' (" + op.qualifiedName() + "): type inference returned " + out.size() + " types for " + numOutputs + " outputs");
            return out;
        } catch (OpException | IllegalArgumentException | ArithmeticException | IndexOutOfBoundsException e) {
            throw new IrException("node '" + nodeName + "' (" + op.qualifiedName() + "): " + e.getMessage(), e);
        }
    }

    static String arity(int min, int max) {
        if (min == max) return String.valueOf(min);
        if (max == Integer.MAX_VALUE) return "at least " + min;
        return min + " to " + max;
    }

    /**
     * Inserts a node with given output types at position index. Output names default to the node
     * name (plus "_i" for later outputs), made unique.
     */
    public Node insertNode(int index, OpSchema op, String nodeName, List<Value> ins, Attributes attrs,
                           List<TensorType> outTypes, List<String> outNames, Graph body) {
        String nn = nodeName == null ? uniqueNodeName(op.name().toLowerCase(java.util.Locale.ROOT)) : nodeName;
        if (nodeNames.contains(nn)) nn = uniqueNodeName(nn);
        Node n = new Node(op, nn, ins, attrs, body);
        for (int i = 0; i < outTypes.size(); i++) {
            String vn = outNames != null && outNames.get(i) != null ? outNames.get(i) : uniqueValueName(i == 0 ? nn : nn + "_" + i);
            n.addOutput(register(new Value(vn, outTypes.get(i), Value.Kind.RESULT, null)));
        }
        nodeNames.add(nn);
        nodes.add(index, n);
        n.setOwner(this);
        for (Value v : n.inputs()) if (v != null) uses.computeIfAbsent(v, k -> new ArrayList<>()).add(n);
        return n;
    }

    public int indexOf(Node n) { return nodes.indexOf(n); }

    /** Removes a node; its outputs must have no users left. */
    public void removeNode(Node n) {
        if (n.owner() != this || !nodes.remove(n)) throw new IrException(n.describe() + " is not in graph '" + name + "'");
        n.setOwner(null);
        for (Value v : n.inputs()) if (v != null) dropUse(v, n);
        for (Value o : n.outputs()) valuesByName.remove(o.name());
        nodeNames.remove(n.name());
    }

    public void removeConstant(Value c) {
        if (constants.remove(c)) valuesByName.remove(c.name());
    }

    public void removeInput(Value c) {
        if (inputs.remove(c)) valuesByName.remove(c.name());
    }

    /** Replaces every use of {@code from} (node inputs and graph outputs) by {@code to}. */
    public void replaceAllUses(Value from, Value to) {
        if (from == to) return;
        List<Node> users = uses.remove(from);
        if (users != null) {
            for (Node n : new java.util.LinkedHashSet<>(users))
                for (int i = 0; i < n.numInputs(); i++)
                    if (n.input(i) == from) {
                        n.setInput(i, to);
                        uses.computeIfAbsent(to, k -> new ArrayList<>()).add(n);
                    }
        }
        outputs.replaceAll(v -> v == from ? to : v);
    }

    public void setNodeInput(Node n, int i, Value v) {
        Value old = n.input(i);
        if (old == v) return;
        if (old != null) dropUse(old, n);
        n.setInput(i, v);
        if (v != null) uses.computeIfAbsent(v, k -> new ArrayList<>()).add(n);
    }

    private void dropUse(Value v, Node n) {
        List<Node> l = uses.get(v);
        if (l == null) return;
        for (int k = 0; k < l.size(); k++) if (l.get(k) == n) { l.remove(k); break; }
        if (l.isEmpty()) uses.remove(v);
    }

    /** True when n is a node of this graph (O(1)). */
    public boolean contains(Node n) { return n.owner() == this; }

    /** Number of node inputs that read v (a node reading it twice counts twice); graph outputs not counted. */
    public int useCount(Value v) {
        List<Node> l = uses.get(v);
        return l == null ? 0 : l.size();
    }

    /** Users of each value, each user once. */
    public Map<Value, List<Node>> users() {
        Map<Value, List<Node>> m = new IdentityHashMap<>();
        for (var e : uses.entrySet()) m.put(e.getKey(), new ArrayList<>(new java.util.LinkedHashSet<>(e.getValue())));
        return m;
    }

    /** The nodes reading v, each once, in the order they started using it. */
    public List<Node> users(Value v) {
        List<Node> l = uses.get(v);
        return l == null ? List.of() : new ArrayList<>(new java.util.LinkedHashSet<>(l));
    }

    /** Drops constants no node or output uses. */
    public int removeUnusedConstants() {
        Set<Value> outs = Collections.newSetFromMap(new IdentityHashMap<>());
        outs.addAll(outputs);
        int before = constants.size();
        for (Value c : List.copyOf(constants)) if (useCount(c) == 0 && !outs.contains(c)) removeConstant(c);
        return before - constants.size();
    }

    /** Reorders nodes into a topological order (stable where already ordered). */
    public void sortTopologically() {
        Map<Value, Node> prod = new IdentityHashMap<>();
        for (Node n : nodes) for (Value o : n.outputs()) prod.put(o, n);
        List<Node> order = new ArrayList<>(nodes.size());
        Set<Node> done = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<Node> onStack = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : nodes) visit(n, prod, done, onStack, order);
        nodes.clear();
        nodes.addAll(order);
    }

    private void visit(Node start, Map<Value, Node> prod, Set<Node> done, Set<Node> onStack, List<Node> order) {
        // iterative DFS so deep graphs do not overflow the stack
        record Frame(Node node, int next) {}
        if (done.contains(start)) return;
        java.util.ArrayDeque<Frame> stack = new java.util.ArrayDeque<>();
        stack.push(new Frame(start, 0));
        onStack.add(start);
        while (!stack.isEmpty()) {
            Frame f = stack.pop();
            Node n = f.node();
            int i = f.next();
            boolean pushed = false;
            while (i < n.numInputs()) {
                Value in = n.input(i++);
                Node p = in == null ? null : prod.get(in);
                if (p != null && !done.contains(p)) {
                    if (onStack.contains(p)) throw new IrException("cycle in graph '" + name + "' through " + p.describe() + " and " + n.describe());
                    stack.push(new Frame(n, i));
                    stack.push(new Frame(p, 0));
                    onStack.add(p);
                    pushed = true;
                    break;
                }
            }
            if (!pushed) {
                onStack.remove(n);
                done.add(n);
                order.add(n);
            }
        }
    }

    /** A deep copy of the structure; constant tensors are shared (they are immutable by convention). */
    public Graph copy() {
        Graph g = new Graph(name);
        Map<Value, Value> map = new IdentityHashMap<>();
        for (Value v : inputs) map.put(v, g.addInput(v.name(), v.type()));
        for (Value v : constants) map.put(v, g.addConstantExact(v.name(), v.constantValue(), v.type()));
        for (Node n : nodes) {
            List<Value> ins = new ArrayList<>();
            for (Value v : n.inputs()) ins.add(v == null ? null : map.get(v));
            List<TensorType> types = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (Value o : n.outputs()) { types.add(o.type()); names.add(o.name()); }
            Node c = g.insertNode(g.nodes.size(), n.op(), n.name(), ins, n.attrs(), types, names, n.body() == null ? null : n.body().copy());
            for (int i = 0; i < n.outputs().size(); i++) map.put(n.output(i), c.output(i));
        }
        for (Value v : outputs) g.outputs.add(map.get(v));
        return g;
    }

    /** Number of nodes, counting a fused node once. */
    public int size() { return nodes.size(); }

    /** Renames a value; fails if the new name is taken. */
    public void renameValue(Value v, String newName) {
        if (v.name().equals(newName)) return;
        if (valuesByName.containsKey(newName)) throw new IrException("value name %" + newName + " is already used in graph '" + name + "'");
        valuesByName.remove(v.name());
        v.rename(newName);
        valuesByName.put(newName, v);
    }

    /** Renames a node; fails if the new name is taken. */
    public void renameNode(Node n, String newName) {
        if (n.name().equals(newName)) return;
        if (nodeNames.contains(newName)) throw new IrException("node name '" + newName + "' is already used in graph '" + name + "'");
        nodeNames.remove(n.name());
        n.rename(newName);
        nodeNames.add(newName);
    }

    public boolean hasNodeNamed(String nodeName) { return nodeNames.contains(nodeName); }

    /** Counts of nodes per op, in first-seen order. */
    public Map<String, Integer> opHistogram() {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (Node n : nodes) m.merge(n.opName(), 1, Integer::sum);
        return m;
    }

    @Override public String toString() { return "Graph(" + name + ", " + nodes.size() + " nodes)"; }
}
