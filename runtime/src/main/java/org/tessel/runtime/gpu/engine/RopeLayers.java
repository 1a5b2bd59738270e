package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.Rope;

/**
 * {@code tessel.rope}: a tessel.RotaryEmbedding (x * cos + rotate_half(x) * sin, what recognize-composites makes of a
 * decoder's Split/Neg/Concat/Mul/Add) as one kernel ({@link Rope}), x, cos and sin in the layer's storage type. The fixed
 * rule runs it too: it is the only tactic of the op.
 */
public final class RopeLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.ROPE); }

    @Override public boolean computes(Node n) { return n.body() == null && n.opName().equals(RotaryEmbeddingOps.HALF_ROTATION); }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.ROPE : null; }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.ROPE);
        if (c.storage() != DType.F32 && c.storage() != DType.F16 && c.storage() != DType.BF16)
            throw GpuEngineException.unsupported(n, GpuTactics.ROPE + " runs at FP32, TF32, FP16 or BF16, not " + c.precision());
        Value x = n.input(0), cos = n.input(1), sin = n.input(2);
        String why = Rope.whyNot(x.type().shape(), cos.type().shape());
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.ROPE + " " + why);
        DeviceBuffer xb = c.activation(x), cb = Operands.operand(c, cos), sb = Operands.operand(c, sin), yb = c.activation(n.output());
        DType t = c.storage();
        var xs = x.type().shape();
        var cs = cos.type().shape();
        return Operands.layer(c, n, GpuTactics.ROPE, n.output(), st -> Rope.launch(c.kernels(), t, xs, cs, xb, cb, sb, yb, st));
    }
}
