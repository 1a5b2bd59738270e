package org.tessel.tactics.pool;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/** Pooling kernels: windowed (cuDNN) and global (a per-channel reduction). */
public final class PoolTactics {
    private PoolTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    private static boolean op(Node n, String... names) {
        if (n.body() != null) return false;
        for (String s : names) if (n.opName().equals(s)) return true;
        return false;
    }

    public static final StreamingTactic POOL = new StreamingTactic(new StreamingTactic.Config("cudnn.pool",
            "cudnnPoolingForward: max or average over 2-D/3-D windows", "MaxPool, AveragePool",
            n -> op(n, "MaxPool", "AveragePool"), FLOAT, BOTH, (n, p, l) -> {
                int spatial = n.input(0).type().rank() - 2;
                if (spatial < 2 || spatial > 3) return "2-D and 3-D pooling only (got " + spatial + "-D)";
                if (n.outputs().size() > 1) return "does not return MaxPool's indices output";
                long[] dil = n.attrs().getInts("dilations");
                if (dil != null) for (long d : dil) if (d != 1) return "no dilated pooling (dilations " + java.util.Arrays.toString(dil) + ")";
                return null;
            }, 0.5, 0.75, 1, false));

    public static final StreamingTactic GLOBAL = new StreamingTactic(new StreamingTactic.Config("tessel.pool.global",
            "Tessel global average pool: one reduction per channel", "GlobalAveragePool",
            n -> op(n, "GlobalAveragePool"), FLOAT, BOTH, null, 0.5, 0.8, 1, false));

    public static List<Tactic> all() { return List.of(POOL, GLOBAL); }
}
