package org.tessel.ir;

import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * An SSA value: a graph input, a constant (weights), or a result of a node. Defined exactly once;
 * compared by identity. Its name is unique within its graph and appears as {@code %name} in the
 * text form.
 */
public final class Value {
    public enum Kind { INPUT, CONSTANT, RESULT }

    private String name;
    private TensorType type;
    private final Kind kind;
    private final Tensor constant;
    private Node producer;
    private int outputIndex;

    Value(String name, TensorType type, Kind kind, Tensor constant) {
        this.name = name;
        this.type = type;
        this.kind = kind;
        this.constant = constant;
    }

    public String name() { return name; }
    public TensorType type() { return type; }
    public Kind kind() { return kind; }
    public boolean isConstant() { return kind == Kind.CONSTANT; }
    public boolean isInput() { return kind == Kind.INPUT; }

    /** The constant's data, or null for non-constants. */
    public Tensor constantValue() { return constant; }

    /** The node defining this value, or null for inputs and constants. */
    public Node producer() { return producer; }

    /** Which output of its producer this value is. */
    public int outputIndex() { return outputIndex; }

    void setProducer(Node n, int index) { this.producer = n; this.outputIndex = index; }
    void rename(String newName) { this.name = newName; }

    /** Changes the recorded type (layout assignment, precision); the verifier checks it against inference. */
    public void setType(TensorType t) { this.type = t; }

    @Override public String toString() { return "%" + name + ": " + type; }
}
