package org.tessel.runtime.engine;

import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;

/**
 * A kernel the CPU engine runs for one op in place of the op's reference semantics, giving the same
 * values (tests hold each to its reference bit for bit). Registered by op name in {@link CpuKernels}.
 */
interface CpuKernel {
    /**
     * The kernel bound to one node, its constant inputs already repacked (done once, when the layer
     * is made); null when this node's form is not one the kernel covers (then the reference runs).
     */
    Bound bind(Node n);

    /** A kernel bound to a node: runs it on the node's inputs (constants included, in input order). */
    interface Bound {
        List<Tensor> run(List<Tensor> inputs);
    }
}
