package org.tessel.tactics;

import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * A GPU tactic that brings its own kernel as CUDA C source ({@link CudaKernel}): how a plugin gives
 * a tactic its GPU half. The catalogue prices and checks it like any tactic; a GPU engine compiles
 * the variant for the node's storage type and layout and launches it with
 * {@link #kernelArguments}. Every precision and layout the tactic supports must have a declared
 * variant (its storage type in that layout); the plugin loader refuses a tactic that claims more.
 */
public interface CudaSourceTactic extends Tactic {
    CudaKernel kernel();

    /** The {@code args} array the kernel receives for this node (shapes, attribute codes), in the layout the kernel reads. */
    long[] kernelArguments(Node n, Precision p);
}
