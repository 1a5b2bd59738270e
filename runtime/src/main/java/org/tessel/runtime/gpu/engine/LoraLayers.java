package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.ir.Node;
import org.tessel.ir.ops.LoraOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.LoraBgmv;

/**
 * {@code tessel.LoraDelta}: several LoRA adapters at once as Tessel's BGMV kernel ({@link LoraBgmv}), in f32. The
 * stacked A and scales are uploaded as they are and B transposed once to [adapter][rank][N]; adapter_ids is an
 * integer activation (i32 on the device). An id outside [0, adapters] gives zeros on the device, which has no way
 * to fail the run (the reference refuses it).
 */
public final class LoraLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.LORA); }

    @Override public boolean computes(Node n) { return n.opName().equals(LoraOps.DELTA) && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.LORA : null; }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.LORA);
        if (c.storage() != DType.F32) throw GpuEngineException.unsupported(n, GpuTactics.LORA + " computes f32; the engine stores " + c.storage().text());
        for (int i = 1; i <= 3; i++)
            if (!n.input(i).isConstant()) throw GpuEngineException.unsupported(n, GpuTactics.LORA + " needs the stacked adapters and scales as constants (" + n.op().inputNames().get(i) + " is computed)");
        LoraOps.Dims d;
        try {
            d = LoraOps.check(n.input(0).type(), n.input(1).type(), n.input(2).type(), n.input(3).type(), n.input(4).type());
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        String why = LoraBgmv.whyNot(d.rank());
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.LORA + ": " + why);
        DeviceBuffer x = c.activation(n.input(0)), ids = Operands.operand(c, n.input(4)), y = c.activation(n.output());
        DeviceBuffer a = c.keep(DeviceBuffer.ofFloats(n.input(1).constantValue().floats()));
        DeviceBuffer bt = c.keep(DeviceBuffer.ofFloats(LoraBgmv.transposeB(n.input(2).constantValue().floats(), d.slots(), d.n(), d.rank())));
        DeviceBuffer s = c.keep(DeviceBuffer.ofFloats(n.input(3).constantValue().floats()));
        return Operands.layer(c, n, GpuTactics.LORA, n.output(),
                st -> LoraBgmv.launch(c.kernels(), d.batch(), d.tokens(), d.k(), d.n(), d.rank(), d.slots(), x, a, bt, s, ids, y, st));
    }
}
