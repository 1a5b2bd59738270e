package org.tessel.tactics.pool;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/** Pooling kernels, the GPU engine's own: windowed max and average (Pool2d) and global (a per-channel reduction). */
public final class PoolTactics {
    private PoolTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    private static boolean op(Node n, String... names) {
        if (n.body() != null) return false;
        for (String s : names) if (n.opName().equals(s)) return true;
        return false;
    }

    /** The GPU engine's pooling kernel (Pool2d): 2-D windows with explicit pads, MaxPool's indices output unused. */
    private static String windowWhyNot(Node n) {
        int spatial = n.input(0).type().rank() - 2;
        if (spatial != 2) return "2-D pooling only (got " + spatial + "-D)";
        if (!n.attrs().getString("auto_pad", "NOTSET").equals("NOTSET")) return "needs explicit pads (auto_pad " + n.attrs().getString("auto_pad", "") + "; the standard pipeline makes them explicit)";
        return null;
    }

    public static final StreamingTactic MAX = new StreamingTactic(new StreamingTactic.Config("tessel.pool.max",
            "Tessel max pooling over 2-D windows (f16 NHWC with C % 8 == 0: eight channels per thread, variant /nhwc8)", "MaxPool",
            n -> op(n, "MaxPool"), FLOAT, BOTH, (n, p, l) -> {
                if (n.outputs().size() > 1) return "does not return MaxPool's indices output";
                return windowWhyNot(n);
            }, 0.5, 0.75, 1, false));

    public static final StreamingTactic AVG = new StreamingTactic(new StreamingTactic.Config("tessel.pool.avg",
            "Tessel average pooling over 2-D windows", "AveragePool",
            n -> op(n, "AveragePool"), FLOAT, BOTH, (n, p, l) -> windowWhyNot(n), 0.5, 0.75, 1, false));

    /** True for a ReduceMean over exactly the spatial axes {2, 3} of a rank-4 tensor: the engine runs it as a global average pool. */
    public static boolean spatialMean(Node n) {
        if (n.body() != null || !n.opName().equals("ReduceMean") || n.input(0).type().rank() != 4) return false;
        long[] axes = n.attrs().getInts("axes", null);
        if (axes == null && n.numInputs() > 1 && n.input(1) != null && n.input(1).constantValue() != null) {
            var c = n.input(1).constantValue();
            axes = new long[c.size()];
            for (int i = 0; i < axes.length; i++) axes[i] = c.getLong(i);
        }
        if (axes == null) return false;
        java.util.TreeSet<Long> set = new java.util.TreeSet<>();
        for (long a : axes) set.add(a < 0 ? a + 4 : a);
        return set.equals(new java.util.TreeSet<>(List.of(2L, 3L)));
    }

    public static final StreamingTactic GLOBAL = new StreamingTactic(new StreamingTactic.Config("tessel.pool.global",
            "Tessel global average pool: a block per plane (NCHW) or per 32 channels (NHWC) over a slice of the positions, the slices added by a second kernel where the planes alone would leave SMs idle (also ReduceMean over H and W)", "GlobalAveragePool, ReduceMean over {2, 3}",
            n -> op(n, "GlobalAveragePool") || spatialMean(n), FLOAT, BOTH,
            (n, p, l) -> n.input(0).type().rank() == 4 ? null : "2-D pooling only (got a rank-" + n.input(0).type().rank() + " input)", 0.5, 0.8, 1, false));

    public static List<Tactic> all() { return List.of(MAX, AVG, GLOBAL); }
}
