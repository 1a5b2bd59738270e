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
 *
 * <p>The node order is a linked list, so inserting before a node, appending and removing are O(1)
 * however large the graph; {@link #nodes()} is a live view numbered lazily: after a change, the
 * first positional access renumbers the nodes once (O(n)). A pass that alternates positional
 * access with changes should walk a copy of the list instead.
 */
public final class Graph {
    private String name;
    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> constants = new ArrayList<>();
    private Node head, tail;
    private int nodeCount;
    /** The nodes in order, with each node's index, as of the last numbering; stale while {@code numbered} is false. */
    private final ArrayList<Node> numberedNodes = new ArrayList<>();
    private boolean numbered = true;
    private final NodeList nodesView = new NodeList();
    private final List<Value> outputs = new ArrayList<>();
    private final Map<String, Value> valuesByName = new HashMap<>();
    /** Every use of a value by a node input, one entry per use, kept up to date by every mutation. */
    private final Map<Value, Uses> uses = new IdentityHashMap<>();

    /**
     * The uses of one value: each reading node once, in the order it started reading, with how many
     * of its inputs read the value. Adding or dropping a use is O(1), however many nodes read the
     * value (a shared weight or bias may be read by thousands).
     */
    private static final class Uses {
        final java.util.LinkedHashMap<Node, Integer> byNode = new java.util.LinkedHashMap<>();
        int count;

        void add(Node n) {
            byNode.merge(n, 1, Integer::sum);
            count++;
        }

        void drop(Node n) {
            Integer c = byNode.get(n);
            if (c == null) return;
            if (c == 1) byNode.remove(n);
            else byNode.put(n, c - 1);
            count--;
        }
    }

    private void addUse(Value v, Node n) { uses.computeIfAbsent(v, k -> new Uses()).add(n); }
    private final Set<String> nodeNames = new HashSet<>();
    private int nameCounter;

    public Graph(String name) { this.name = Objects.requireNonNull(name); }

    public String name() { return name; }
    public void setName(String n) { this.name = n; }
    public List<Value> inputs() { return Collections.unmodifiableList(inputs); }
    public List<Value> constants() { return Collections.unmodifiableList(constants); }
    /** The nodes in order: a live, unmodifiable view (iterating it while changing the graph fails fast, as with any list). */
    public List<Node> nodes() { return nodesView; }

    private final class NodeList extends java.util.AbstractList<Node> implements java.util.RandomAccess {
        @Override public Node get(int i) { return numbered().get(i); }
        @Override public int size() { return nodeCount; }
        @Override public int indexOf(Object o) { return o instanceof Node n ? Graph.this.indexOf(n) : -1; }
        @Override public boolean contains(Object o) { return o instanceof Node n && n.owner() == Graph.this; }
        void changed() { modCount++; }
    }

    private ArrayList<Node> numbered() {
        if (!numbered) {
            numberedNodes.clear();
            int i = 0;
            for (Node n = head; n != null; n = n.next) {
                n.index = i++;
                numberedNodes.add(n);
            }
            numbered = true;
        }
        return numberedNodes;
    }

    /** Links n in before {@code at} (null: at the end). */
    private void link(Node n, Node at) {
        n.next = at;
        n.prev = at == null ? tail : at.prev;
        if (n.prev == null) head = n;
        else n.prev.next = n;
        if (at == null) tail = n;
        else at.prev = n;
        nodeCount++;
        if (at == null && numbered) {
            n.index = numberedNodes.size();
            numberedNodes.add(n); // appending keeps the numbering valid
        } else numbered = false;
        nodesView.changed();
    }

    private void unlink(Node n) {
        if (n.prev == null) head = n.next;
        else n.prev.next = n.next;
        if (n.next == null) tail = n.prev;
        else n.next.prev = n.prev;
        n.prev = n.next = null;
        nodeCount--;
        numbered = false;
        nodesView.changed();
    }
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

    /**
     * Adds a constant whose data {@code maker} makes on first use ({@link Value#constantValue}):
     * a large model's graph can be built, verified and counted without holding its weights.
     */
    public Value addDeferredConstant(String valueName, TensorType type, java.util.function.Supplier<Tensor> maker) {
        Value v = register(new Value(uniqueValueName(valueName), type, maker));
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
        return insertNode(nodeCount, op, nodeName, ins, attrs, types, null, null);
    }

    /** Runs the op's type inference for a prospective node; wraps op errors with the node's name. */
    public static List<TensorType> inferTypes(OpSchema op, String nodeName, List<Value> ins, Attributes attrs, int numOutputs) {
        return inferTypes(op, nodeName, ins, attrs, numOutputs, Value::inferenceValue);
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
        if (index < 0 || index > nodeCount) throw new IndexOutOfBoundsException("node index " + index + " in a graph of " + nodeCount + " nodes");
        return insertNodeBefore(index == nodeCount ? null : numbered().get(index), op, nodeName, ins, attrs, outTypes, outNames, body);
    }

    /**
     * Inserts a node with given output types right before {@code anchor} (null: at the end), in
     * O(1). Output names default to the node name (plus "_i" for later outputs), made unique.
     */
    public Node insertNodeBefore(Node anchor, OpSchema op, String nodeName, List<Value> ins, Attributes attrs,
                                 List<TensorType> outTypes, List<String> outNames, Graph body) {
        if (anchor != null && anchor.owner() != this) throw new IrException(anchor.describe() + " is not in graph '" + name + "'");
        String nn = nodeName == null ? uniqueNodeName(op.name().toLowerCase(java.util.Locale.ROOT)) : nodeName;
        if (nodeNames.contains(nn)) nn = uniqueNodeName(nn);
        Node n = new Node(op, nn, ins, attrs, body);
        for (int i = 0; i < outTypes.size(); i++) {
            String vn = outNames != null && outNames.get(i) != null ? outNames.get(i) : uniqueValueName(i == 0 ? nn : nn + "_" + i);
            n.addOutput(register(new Value(vn, outTypes.get(i), Value.Kind.RESULT, null)));
        }
        nodeNames.add(nn);
        link(n, anchor);
        n.setOwner(this);
        for (Value v : n.inputs()) if (v != null) addUse(v, n);
        return n;
    }

    /** The node's position, or -1 when it is not in this graph; O(1) unless the graph changed since the last numbering. */
    public int indexOf(Node n) {
        if (n.owner() != this) return -1;
        numbered();
        return n.index;
    }

    /** Removes a node; its outputs must have no users left. */
    public void removeNode(Node n) {
        if (n.owner() != this) throw new IrException(n.describe() + " is not in graph '" + name + "'");
        unlink(n);
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
        Uses users = uses.remove(from);
        if (users != null) {
            for (Node n : users.byNode.keySet())
                for (int i = 0; i < n.numInputs(); i++)
                    if (n.input(i) == from) {
                        n.setInput(i, to);
                        addUse(to, n);
                    }
        }
        outputs.replaceAll(v -> v == from ? to : v);
    }

    public void setNodeInput(Node n, int i, Value v) {
        Value old = n.input(i);
        if (old == v) return;
        if (old != null) dropUse(old, n);
        n.setInput(i, v);
        if (v != null) addUse(v, n);
    }

    private void dropUse(Value v, Node n) {
        Uses u = uses.get(v);
        if (u == null) return;
        u.drop(n);
        if (u.count == 0) uses.remove(v);
    }

    /** True when n is a node of this graph (O(1)). */
    public boolean contains(Node n) { return n.owner() == this; }

    /** Number of node inputs that read v (a node reading it twice counts twice); graph outputs not counted. */
    public int useCount(Value v) {
        Uses u = uses.get(v);
        return u == null ? 0 : u.count;
    }

    /** Users of each value, each user once. */
    public Map<Value, List<Node>> users() {
        Map<Value, List<Node>> m = new IdentityHashMap<>(uses.size());
        for (var e : uses.entrySet()) m.put(e.getKey(), new ArrayList<>(e.getValue().byNode.keySet()));
        return m;
    }

    /** The nodes reading v, each once, in the order they started using it. */
    public List<Node> users(Value v) {
        Uses u = uses.get(v);
        return u == null ? List.of() : new ArrayList<>(u.byNode.keySet());
    }

    /** Drops constants no node or output uses. */
    public int removeUnusedConstants() {
        Set<Value> outs = Collections.newSetFromMap(new IdentityHashMap<>());
        outs.addAll(outputs);
        int before = constants.size();
        constants.removeIf(c -> {
            boolean unused = useCount(c) == 0 && !outs.contains(c);
            if (unused) valuesByName.remove(c.name());
            return unused;
        });
        return before - constants.size();
    }

    /** Reorders nodes into a topological order (stable where already ordered). */
    public void sortTopologically() {
        Map<Value, Node> prod = new IdentityHashMap<>();
        List<Node> nodes = List.copyOf(nodesView);
        for (Node n : nodes) for (Value o : n.outputs()) prod.put(o, n);
        List<Node> order = new ArrayList<>(nodes.size());
        Set<Node> done = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<Node> onStack = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : nodes) visit(n, prod, done, onStack, order);
        head = tail = null;
        nodeCount = 0;
        numbered = false;
        for (Node n : order) link(n, null);
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

    /**
     * A constant with {@code v}'s name, type and data: a deferred constant whose data was not made yet stays deferred, sharing
     * its maker (whichever is read first makes the data for both), so copying or previewing a graph draws no weights.
     */
    public Value addConstantFrom(Value v) {
        if (!v.isConstant()) throw new IrException("%" + v.name() + " is not a constant");
        var maker = v.isDeferred() ? v.pendingMaker() : null;
        if (maker == null) return addConstantExact(v.name(), v.constantValue(), v.type());
        Value c = register(new Value(v.name(), v.type(), maker));
        constants.add(c);
        return c;
    }

    /** A deep copy of the structure; constant tensors are shared (they are immutable by convention). */
    public Graph copy() {
        Graph g = new Graph(name);
        Map<Value, Value> map = new IdentityHashMap<>();
        for (Value v : inputs) map.put(v, g.addInput(v.name(), v.type()));
        for (Value v : constants) map.put(v, g.addConstantFrom(v));
        for (Node n : nodesView) {
            List<Value> ins = new ArrayList<>();
            for (Value v : n.inputs()) ins.add(v == null ? null : map.get(v));
            List<TensorType> types = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (Value o : n.outputs()) { types.add(o.type()); names.add(o.name()); }
            Node c = g.insertNodeBefore(null, n.op(), n.name(), ins, n.attrs(), types, names, n.body() == null ? null : n.body().copy());
            for (int i = 0; i < n.outputs().size(); i++) map.put(n.output(i), c.output(i));
        }
        for (Value v : outputs) g.outputs.add(map.get(v));
        return g;
    }

    /** Number of nodes, counting a fused node once. */
    public int size() { return nodeCount; }

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
        for (Node n : nodesView) m.merge(n.opName(), 1, Integer::sum);
        return m;
    }

    @Override public String toString() { return "Graph(" + name + ", " + nodeCount + " nodes)"; }
}
