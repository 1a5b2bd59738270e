package org.tessel.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.OpSchema;

/**
 * One use of an op: inputs (an entry is null where an optional input is omitted), attributes and
 * the values it defines. A fused node also holds its body, a graph whose inputs bind to the node's
 * inputs and whose outputs are the node's outputs.
 */
public final class Node {
    private final OpSchema op;
    private String name;
    private final List<Value> inputs;
    private final List<Value> outputs = new ArrayList<>();
    private Attributes attrs;
    private Graph body;
    private Graph owner;
    /** The owner's node order is a linked list (inserting and removing anywhere is O(1)); {@code index} is this node's position as of the owner's last numbering. */
    Node prev, next;
    int index;

    Node(OpSchema op, String name, List<Value> inputs, Attributes attrs, Graph body) {
        this.op = op;
        this.name = name;
        this.inputs = new ArrayList<>(inputs);
        this.attrs = attrs;
        this.body = body;
    }

    public OpSchema op() { return op; }
    public String opName() { return op.qualifiedName(); }
    public String name() { return name; }
    public List<Value> inputs() { return Collections.unmodifiableList(inputs); }
    public Value input(int i) { return i < inputs.size() ? inputs.get(i) : null; }
    public int numInputs() { return inputs.size(); }
    public List<Value> outputs() { return Collections.unmodifiableList(outputs); }
    public Value output(int i) { return outputs.get(i); }
    public Value output() { return outputs.get(0); }
    public Attributes attrs() { return attrs; }
    public Graph body() { return body; }

    public void setAttrs(Attributes a) { this.attrs = a; }
    public void setBody(Graph g) { this.body = g; }
    void rename(String n) { this.name = n; }
    Graph owner() { return owner; }
    void setOwner(Graph g) { this.owner = g; }
    void setInput(int i, Value v) { inputs.set(i, v); }
    void addOutput(Value v) { v.setProducer(this, outputs.size()); outputs.add(v); }

    /** "node 'conv1' (Conv)": how messages name a node. */
    public String describe() { return "node '" + name + "' (" + opName() + ")"; }

    @Override public String toString() { return describe(); }
}
