package org.tessel.api;

import java.util.List;

/**
 * What an op sees when inferring its output types: the input types (null where an optional input
 * is absent), the values of inputs that are constants (null otherwise), the attributes and the
 * number of outputs the node declares.
 */
public record InferenceContext(String nodeName, List<TensorType> inputTypes, List<Tensor> constantInputs,
                               Attributes attrs, int numOutputs) {
    public int numInputs() { return inputTypes.size(); }

    /** True when input i is present (not past the end, not an omitted optional input). */
    public boolean hasInput(int i) { return i < inputTypes.size() && inputTypes.get(i) != null; }

    public TensorType input(int i) {
        if (!hasInput(i)) throw new OpException("input " + i + " is required but missing");
        return inputTypes.get(i);
    }

    /** The constant value of input i, or null when it is not a constant or is absent. */
    public Tensor constant(int i) { return i < constantInputs.size() ? constantInputs.get(i) : null; }

    /** The constant value of input i; fails with a message when the value is only known at run time. */
    public Tensor requireConstant(int i, String what) {
        Tensor t = constant(i);
        if (t == null) throw new OpException(what + " (input " + i + ") must be a constant: Tessel works with static shapes");
        return t;
    }
}
