package org.tessel.runtime.engine;

import java.util.Map;
import org.tessel.ir.Node;
import org.tessel.ir.ops.LoraOps;
import org.tessel.ir.ops.QuantizedMatMulOps;

/**
 * The CPU engine's kernels by op name (ONNX Runtime's kernel registry, one entry per op): ops listed
 * here run their kernel, every other op its reference semantics. Immutable.
 */
final class CpuKernels {
    private CpuKernels() {}

    private static final Map<String, CpuKernel> BY_OP = Map.of(
            QuantizedMatMulOps.WEIGHT_ONLY, new QuantizedMatMulKernels.WeightOnly(),
            QuantizedMatMulOps.W8A8, new QuantizedMatMulKernels.W8A8(),
            LoraOps.DELTA, new LoraKernel());

    /** The kernel bound to {@code n}, or null when its op has none or this node's form is not covered. */
    static CpuKernel.Bound bind(Node n) {
        CpuKernel k = BY_OP.get(n.opName());
        return k == null ? null : k.bind(n);
    }
}
