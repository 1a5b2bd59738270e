package org.tessel.tactics.recurrent;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpException;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.RecurrentOps;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;

/**
 * {@code tessel.recurrent}: ONNX's RNN, GRU and LSTM as Tessel's two-launch kernel (the runtime's RecurrentKernel):
 * the input projection of every time step as one 16x16-tiled product into f32 workspace, then one thread block per
 * (batch row, direction) walking the steps with its state in shared memory, or, past a block's 48 KiB (hidden sizes
 * over {@link #maxSharedHidden}), in its own slice of the workspace. Every form the reference runs: both directions,
 * sequence lengths, initial states, peepholes, layouts, gate functions, clip, linear_before_reset, input_forget.
 *
 * <p>Priced as a CUDA-core kernel whose arithmetic splits in two: the projection at a tiled product's share of the
 * FP32 peak, and the recurrence, a chain of dependent steps that occupies only batch x directions SMs, each at a
 * modest share of its own peak (a block's matrix-vector product per step reads R through L2 and waits at barriers),
 * half that share when the state lives in global memory.
 */
public final class RecurrentTactic extends BaseTactic {
    /** The one kernel of the family. */
    public static final RecurrentTactic BLOCK_PER_SEQUENCE = new RecurrentTactic();

    /** The runtime's RecurrentKernel.MAX_SHARED_BYTES: the state of one block (h, c, a scratch row and the gate rows, f32). */
    static final int MAX_SHARED_BYTES = 48 * 1024;
    /** SMs of the devices priced (H100 and H200 SXM both have 132): the recurrence uses batch x directions of them. */
    static final int SMS = 132;
    /** Share of the FP32 peak the tiled projection reaches (as tessel.matmul's 16x16 tiles). */
    static final double PROJECTION_EFFICIENCY = 0.3;
    /**
     * Share of one SM's FP32 peak a recurrence block reaches: a warp per gate row reads R coalesced from L2 and sums with
     * shuffles, two or three barriers a step (an estimate from the instruction counts, not a measurement).
     */
    static final double RECURRENCE_SM_EFFICIENCY = 0.15;
    /** The recurrence's share when its state is in global memory (L1/L2 round trips at every barrier; an estimate). */
    static final double GLOBAL_STATE_FACTOR = 0.5;
    static final Set<String> OPS = Set.of("RNN", "GRU", "LSTM");

    private RecurrentTactic() {
        super("tessel.recurrent", "Tessel RNN/GRU/LSTM: the input projection as one tiled product, then one block per (batch row, direction) walking the steps, state in shared memory (in workspace past 48 KiB)",
                Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), Set.of());
    }

    @Override public boolean appliesTo(Node n) { return n.body() == null && OPS.contains(n.opName()); }

    @Override protected String appliesToText() { return "RNN, GRU, LSTM"; }

    /** The largest hidden size whose state fits a block's shared memory for an op of {@code gates} gate blocks. */
    public static int maxSharedHidden(int gates) { return MAX_SHARED_BYTES / (4 * (3 + gates)); }

    private static RecurrentOps.KernelForm checkedForm(Node n) {
        List<TensorType> types = new ArrayList<>();
        for (Value v : n.inputs()) types.add(v == null ? null : v.type());
        return RecurrentOps.kernelForm(n.opName(), types, n.attrs());
    }

    /** The node's kernel form, or null when the op refuses it (the reason then comes from {@link #shapeWhyNot}). */
    private static RecurrentOps.KernelForm form(Node n) {
        try {
            return checkedForm(n);
        } catch (OpException e) {
            return null;
        }
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        if (n.input(0).type().dtype() == DType.F64) return "computes f32, f16 or bf16 (X is f64)";
        RecurrentOps.KernelForm f;
        try {
            f = checkedForm(n);
        } catch (OpException e) {
            return e.getMessage();
        }
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) {
        RecurrentOps.KernelForm f = form(n);
        if (f == null) return 0;
        long projection = 4L * f.dirs() * f.seq() * f.batch() * f.gates() * f.hidden();
        return f.hidden() > maxSharedHidden(f.gates()) ? projection + 4L * f.dirs() * f.batch() * (3 + f.gates()) * f.hidden() : projection;
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        RecurrentOps.KernelForm f = form(n);
        double efficiency = PROJECTION_EFFICIENCY;
        if (f != null && f.hidden() > 0) {
            // the arithmetic's two parts, each at its own rate; together the time-weighted share
            double projection = (double) f.input(), recurrence = f.hidden();
            double blocks = Math.min(1.0, (double) f.batch() * f.dirs() / SMS);
            double sm = RECURRENCE_SM_EFFICIENCY * (f.hidden() > maxSharedHidden(f.gates()) ? GLOBAL_STATE_FACTOR : 1.0);
            double recurrenceEfficiency = Math.max(1e-4, blocks * sm);
            efficiency = (projection + recurrence) / (projection / PROJECTION_EFFICIENCY + recurrence / recurrenceEfficiency);
        }
        return TacticFeatures.streaming(efficiency, 0.5, 2);
    }
}
