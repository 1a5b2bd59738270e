package org.tessel.api;

import java.util.List;

/** What an op's reference implementation receives: input values (null where absent), attributes, inferred output types. */
public record EvalContext(String nodeName, List<Tensor> inputs, Attributes attrs, List<TensorType> outputTypes) {
    public int numInputs() { return inputs.size(); }
    public boolean hasInput(int i) { return i < inputs.size() && inputs.get(i) != null; }
    public Tensor input(int i) {
        if (!hasInput(i)) throw new OpException("input " + i + " is required but missing");
        return inputs.get(i);
    }
    public TensorType outputType(int i) { return outputTypes.get(i); }
    public int numOutputs() { return outputTypes.size(); }
}
