package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.TensorType;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.RecurrentOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.RecurrentKernel;

/**
 * {@code tessel.recurrent}: ONNX's RNN, GRU and LSTM as Tessel's two-launch kernel ({@link RecurrentKernel}): every
 * direction, the optional inputs (bias, sequence lengths, initial states, peepholes) constant or computed, both
 * layouts, the gate functions with their alpha and beta, clip, linear_before_reset and input_forget; only the outputs
 * something reads are written. A sequence length outside [0, seq] (the reference refuses it) is clamped on the device,
 * which has no way to fail the run.
 */
public final class RecurrentLayers implements TacticImplementation {
    static final Set<String> OPS = Set.of("RNN", "GRU", "LSTM");

    @Override public List<String> tacticIds() { return List.of(GpuTactics.RECURRENT); }

    @Override public boolean computes(Node n) { return OPS.contains(n.opName()) && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.RECURRENT : null; }

    /** The node's kernel form; throws naming the node when the kernel cannot run it. */
    static RecurrentOps.KernelForm form(Node n) {
        List<TensorType> types = new ArrayList<>();
        for (Value v : n.inputs()) types.add(v == null ? null : v.type());
        if (n.input(0).type().dtype() == DType.F64) throw GpuEngineException.unsupported(n, GpuTactics.RECURRENT + " computes f32, f16 or bf16 (X is f64)");
        RecurrentOps.KernelForm f;
        try {
            f = RecurrentOps.kernelForm(n.opName(), types, n.attrs());
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        return f;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.RECURRENT);
        RecurrentOps.KernelForm f = form(n);
        DeviceBuffer[] in = new DeviceBuffer[8];
        for (int i = 0; i < n.numInputs(); i++) if (n.input(i) != null) in[i] = Operands.operand(c, n.input(i));
        DeviceBuffer[] out = new DeviceBuffer[3];
        for (int i = 0; i < n.outputs().size(); i++) {
            Value v = n.output(i);
            if (!c.graph().users(v).isEmpty() || c.graph().outputs().contains(v)) out[i] = c.activation(v);
        }
        DeviceBuffer functions = c.keep(DeviceBuffer.allocate(4L * f.functions().length));
        functions.copyFrom(f.functions());
        var b = new RecurrentKernel.Buffers(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], functions, out[0], out[1], out[2]);
        c.needWorkspace(RecurrentKernel.workspaceBytes(f));
        Supplier<DeviceBuffer> ws = c.workspace();
        DType t = c.storage();
        return Operands.layer(c, n, GpuTactics.RECURRENT, n.output(), st -> RecurrentKernel.run(c.kernels(), t, f, b, ws.get(), st));
    }
}
