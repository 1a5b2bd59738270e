package org.tessel.tactics.gemm;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;

/**
 * {@code tessel.matmul}: Tessel's tiled CUDA-core kernel for an unfused MatMul of any two float operands (activation x
 * activation, broadcast batch dims up to four, 1-D operands), f32 math in the node's storage type. The product the
 * cuBLASLt tactics do not take; priced as a GEMM without tensor cores on 16x16 tiles.
 */
public final class MatMulTactic extends BaseTactic {
    /** Batch dims the kernel decomposes (the runtime's BatchedMatMul.MAX_BATCH_DIMS). */
    static final int MAX_BATCH_DIMS = 4;
    /** A grid's z extent: one batch entry per z. */
    static final long MAX_BATCH = 65535;

    public MatMulTactic() {
        super("tessel.matmul", "Tessel tiled MatMul (16x16 tiles in shared memory, f32 math, batch broadcasting): activation x activation and unfused products",
                Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), Set.of());
    }

    @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals("MatMul"); }

    @Override protected String appliesToText() { return "MatMul"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        for (Value v : n.inputs())
            if (!v.type().dtype().isFloating() || v.type().dtype() == DType.F64)
                return "multiplies f32, f16 or bf16 operands (%" + v.name() + " is " + v.type().dtype().text() + ")";
        int[] d = n.output().type().shape().dims();
        // 1-D operands are promoted to matrices, so the batch dims are what either operand has beyond two
        int batchDims = Math.max(Math.max(n.input(0).type().rank(), 2), Math.max(n.input(1).type().rank(), 2)) - 2;
        if (batchDims > MAX_BATCH_DIMS) return "takes up to " + MAX_BATCH_DIMS + " batch dims (got " + batchDims + ")";
        long batch = 1;
        for (int i = 0; i < batchDims; i++) batch *= d[i];
        return batch > MAX_BATCH ? "takes at most " + MAX_BATCH + " batch entries (got " + batch + ")" : null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // CUDA cores, 16x16 tiles through shared memory: a modest fraction of the FP32 peak, no split-K
        return new TacticFeatures(0.3, false, 16, 16, 16, 1, 0.5, 1, 1);
    }
}
