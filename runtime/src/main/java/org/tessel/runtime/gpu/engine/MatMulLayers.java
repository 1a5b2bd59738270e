package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.BatchedMatMul;

/**
 * {@code tessel.matmul}: a MatMul node that no cuBLASLt tactic takes (activation x activation, broadcast batch dims,
 * 1-D operands, an unfused MatMul), as Tessel's tiled CUDA-core kernel ({@link BatchedMatMul}) in the node's storage
 * type with f32 math. Constant operands are uploaded as weights.
 */
public final class MatMulLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.MATMUL); }

    @Override public boolean computes(Node n) { return n.opName().equals("MatMul") && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.MATMUL : null; }

    /** Why the kernel cannot run {@code n} (null: it can), decided without a GPU. */
    static String whyNot(Node n) {
        for (Value v : n.inputs())
            if (!v.type().dtype().isFloating() || v.type().dtype() == DType.F64)
                return GpuTactics.MATMUL + " multiplies f32, f16 or bf16 operands (%" + v.name() + " is " + v.type().dtype().text() + ")";
        try {
            BatchedMatMul.Spec s = BatchedMatMul.Spec.of(n.input(0).type().shape().dims(), n.input(1).type().shape().dims());
            if (s.batchCount() > 65535) return GpuTactics.MATMUL + " takes at most 65535 batch entries (got " + s.batchCount() + ")";
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.MATMUL);
        String why = whyNot(n);
        if (why != null) throw GpuEngineException.unsupported(n, why);
        BatchedMatMul.Spec s = BatchedMatMul.Spec.of(n.input(0).type().shape().dims(), n.input(1).type().shape().dims());
        DType t = c.storage();
        DeviceBuffer a = operand(c, n.input(0)), b = operand(c, n.input(1)), y = c.activation(n.output());
        return Operands.layer(c, n, GpuTactics.MATMUL, n.output(), st -> BatchedMatMul.run(c.kernels(), t, s, a, b, y, st));
    }

    private static DeviceBuffer operand(LayerContext c, Value v) { return v.isConstant() ? c.weight(v, Layout.ANY) : c.activation(v); }
}
