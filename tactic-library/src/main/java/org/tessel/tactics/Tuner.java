package org.tessel.tactics;

import java.util.OptionalDouble;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * The search's window onto real hardware: the measured time of one node (a node of the search's graph, or a
 * fusion candidate's fused node) run by one catalogue tactic at one precision and layout. A backend implements
 * it (the GPU runtime builds and times a one-layer engine); the search calls it for the candidates its cost
 * model ranks best, so the plan is chosen on measured prices. No CUDA here: the search stays device-free.
 */
public interface Tuner {
    /**
     * Microseconds per run of {@code n} with {@code tacticId} at {@code p} and {@code l}; empty when this tuner cannot
     * measure it (the tactic refuses the node, the precision is one its backend lacks). Never NaN or negative.
     */
    OptionalDouble timeUs(Node n, String tacticId, Precision p, Layout l);

    /**
     * Microseconds to change a tensor of type {@code t} (its element type the storage type) between NCHW and NHWC on this
     * backend; empty when this tuner does not measure it (the cost model's estimate is then used).
     */
    default OptionalDouble reformatUs(org.tessel.api.TensorType t) { return OptionalDouble.empty(); }

    /** One line saying where the measurements come from (device, cache). */
    String describe();
}
