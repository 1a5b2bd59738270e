package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.Softmax;

/**
 * The softmax family's other members along any one axis, as the reference defines them (opset 13): {@code tessel.logsoftmax}
 * (LogSoftmax), {@code tessel.hardmax} (Hardmax: 1 at the first maximum), {@code tessel.argmax} / {@code tessel.argmin}
 * (ArgMax / ArgMin with keepdims and select_last_index; the i64 result lives as i32 on the device, as every integer
 * does). The tensor is seen as [outer, axis, inner] ({@link #axisPlan}, no GPU needed); floating, channels-first data
 * (ArgMax and ArgMin also take integers, compared exactly).
 */
public final class AxisLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.LOGSOFTMAX, GpuTactics.HARDMAX, GpuTactics.ARGMAX, GpuTactics.ARGMIN); }

    static String idOf(Node n) {
        if (n.body() != null) return null;
        return switch (n.opName()) {
            case "LogSoftmax" -> GpuTactics.LOGSOFTMAX;
            case "Hardmax" -> GpuTactics.HARDMAX;
            case "ArgMax" -> GpuTactics.ARGMAX;
            case "ArgMin" -> GpuTactics.ARGMIN;
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    /** The node's tensor as [outer, len, inner] around its axis (default -1 for the softmax family, 0 for ArgMax/ArgMin). */
    record AxisPlan(long outer, long len, long inner) {}

    /** Checks a LogSoftmax / Hardmax / ArgMax / ArgMin node (no GPU needed); throws naming the node when the kernels do not cover it. */
    static AxisPlan axisPlan(Node n) {
        if (idOf(n) == null) throw GpuEngineException.unsupported(n, "op " + n.opName() + " is not LogSoftmax, Hardmax, ArgMax or ArgMin");
        Value x = n.input(0);
        boolean arg = n.opName().startsWith("Arg"); // the IR gives LogSoftmax and Hardmax floating data, ArgMax and ArgMin floating or integer data
        if (x.type().rank() >= 3 && x.type().layout() == Layout.NHWC) throw GpuEngineException.unsupported(n, n.opName() + " of a channels-last value (supported: channels-first)");
        int[] d = x.type().shape().dims();
        int axis = Operands.axis(n, n.attrs().getInt("axis", arg ? 0 : -1), d.length);
        if (d[axis] == 0) throw GpuEngineException.unsupported(n, n.opName() + " along the empty axis " + axis + " of " + x.type().shape());
        return new AxisPlan(Operands.prod(d, 0, axis), d[axis], Operands.prod(d, axis + 1, d.length));
    }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, idOf(n) == null ? "(none)" : idOf(n));
        AxisPlan p = axisPlan(n);
        Value x = n.input(0), y = n.output();
        DeviceBuffer xb = Operands.operand(e, x), yb = e.activation(y);
        DType t = e.storage();
        boolean last = n.attrs().getInt("select_last_index", 0) != 0;
        return switch (id) {
            case GpuTactics.LOGSOFTMAX -> Operands.layer(e, n, id, y, s -> Softmax.logSoftmax(e.kernels(), t, xb, yb, p.outer(), p.len(), p.inner(), s));
            case GpuTactics.HARDMAX -> Operands.layer(e, n, id, y, s -> Softmax.hardmax(e.kernels(), t, xb, yb, p.outer(), p.len(), p.inner(), s));
            default -> Operands.layer(e, n, id, y,
                    s -> Softmax.argReduce(e.kernels(), t, xb, yb, p.outer(), p.len(), p.inner(), id.equals(GpuTactics.ARGMIN), last, x.type().dtype().isInteger(), s));
        };
    }
}
