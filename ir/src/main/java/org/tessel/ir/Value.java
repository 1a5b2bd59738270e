package org.tessel.ir;

import java.util.function.Supplier;
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
    private volatile Tensor constant;
    /** For a deferred constant: makes its data on first use (then dropped); null otherwise. */
    private Supplier<Tensor> maker;
    private final boolean deferred;
    private Node producer;
    private int outputIndex;

    Value(String name, TensorType type, Kind kind, Tensor constant) {
        this.name = name;
        this.type = type;
        this.kind = kind;
        this.constant = constant;
        this.deferred = false;
    }

    /** A deferred constant: its data is made by {@code maker} on first use. */
    Value(String name, TensorType type, Supplier<Tensor> maker) {
        this.name = name;
        this.type = type;
        this.kind = Kind.CONSTANT;
        this.maker = maker;
        this.deferred = true;
    }

    public String name() { return name; }
    public TensorType type() { return type; }
    public Kind kind() { return kind; }
    public boolean isConstant() { return kind == Kind.CONSTANT; }
    public boolean isInput() { return kind == Kind.INPUT; }

    /**
     * The constant's data, or null for non-constants. A deferred constant's data is made here on
     * first use and kept; a maker that returns data of another type fails, naming the constant.
     */
    public Tensor constantValue() {
        if (deferred && constant == null) materialize();
        return constant;
    }

    private synchronized void materialize() {
        if (constant != null) return;
        Tensor t = maker.get();
        if (t == null || !t.type().sameLogicalType(type))
            throw new IrException("deferred constant %" + name + " is typed " + type + " but its maker produced " + (t == null ? "nothing" : t.type().toString()));
        constant = t;
        maker = null;
    }

    /**
     * Whether this constant's data is made on first use (a large model's weights), so building,
     * verifying and counting its graph never holds them.
     */
    public boolean isDeferred() { return deferred; }

    /** Whether this constant's data is in memory: always for a constant given with its data, for a deferred one once read. */
    public boolean isMade() { return isConstant() && constant != null; }

    /**
     * The data type inference and cost hints may read: a constant's data when it was given with
     * it, else null (a deferred constant's weights never decide a shape, and reading them would
     * make them).
     */
    public Tensor inferenceValue() { return deferred ? null : constant; }

    /**
     * The maker of a deferred constant whose data was not made yet, else null. A copy of the graph shares it: the maker is
     * made to remember what it made, so whichever of this value and its copies is read first makes the data and the others
     * take the same tensor (a billion-parameter decoder's weights are drawn once, not once per copy a pipeline makes).
     */
    synchronized Supplier<Tensor> pendingMaker() {
        if (constant != null) return null;
        if (!(maker instanceof Shared)) maker = new Shared(maker);
        return maker;
    }

    /** A maker that makes its tensor once, for every value sharing it. */
    private static final class Shared implements Supplier<Tensor> {
        private Supplier<Tensor> inner;
        private Tensor made;

        Shared(Supplier<Tensor> inner) { this.inner = inner; }

        @Override public synchronized Tensor get() {
            if (made == null) {
                made = inner.get();
                inner = null;
            }
            return made;
        }
    }

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
