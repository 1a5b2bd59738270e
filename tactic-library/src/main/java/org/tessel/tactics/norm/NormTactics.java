package org.tessel.tactics.norm;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * Normalization and softmax kernels: per-row reductions that read their input once (twice for
 * the generic cuDNN softmax, which does not keep the row in registers).
 */
public final class NormTactics {
    private NormTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);
    /** Longest row a CTA keeps in registers (layer norm), and a warp (softmax). */
    public static final long LAYERNORM_MAX_ROW = 8192, SOFTMAX_WARP_MAX_ROW = 1024;

    private static boolean op(Node n, String... names) {
        if (n.body() != null) return false;
        for (String s : names) if (n.opName().equals(s)) return true;
        return false;
    }

    private static int axis(Node n) {
        int rank = n.input(0).type().rank();
        long a = n.attrs().getInt("axis", -1);
        return (int) (a < 0 ? a + rank : a);
    }

    private static long rowFrom(Shape s, int axis) {
        long e = 1;
        for (int i = axis; i < s.rank(); i++) e *= s.dim(i);
        return e;
    }

    public static final StreamingTactic LAYERNORM = new StreamingTactic(new StreamingTactic.Config("tessel.layernorm",
            "Tessel layer norm: one CTA per row, row in registers, Welford statistics", "LayerNormalization",
            n -> op(n, "LayerNormalization"), FLOAT, BOTH, (n, p, l) -> {
                long row = rowFrom(n.input(0).type().shape(), axis(n));
                return row > LAYERNORM_MAX_ROW ? "a row of " + row + " elements exceeds " + LAYERNORM_MAX_ROW + " (one CTA per row holds it in registers)" : null;
            }, 0.4, 0.8, 1, false));

    public static final StreamingTactic BATCHNORM = new StreamingTactic(new StreamingTactic.Config("tessel.batchnorm",
            "Tessel inference batch norm: per-channel scale and shift", "BatchNormalization",
            n -> op(n, "BatchNormalization"), FLOAT, BOTH,
            (n, p, l) -> n.outputs().size() > 1 ? "produces only Y; the running-statistics outputs need training mode" : null, 0.5, 0.85, 1, false));

    public static final StreamingTactic SOFTMAX_WARP = new StreamingTactic(new StreamingTactic.Config("tessel.softmax.warp",
            "Tessel softmax over the last axis, one warp per row held in registers", "Softmax, LogSoftmax",
            n -> op(n, "Softmax", "LogSoftmax"), FLOAT, BOTH, (n, p, l) -> {
                var s = n.input(0).type().shape();
                if (axis(n) != s.rank() - 1) return "normalizes the last axis only (got axis " + axis(n) + " of rank " + s.rank() + ")";
                return s.dim(-1) > SOFTMAX_WARP_MAX_ROW ? "one warp holds at most " + SOFTMAX_WARP_MAX_ROW + " elements per row (got " + s.dim(-1) + ")" : null;
            }, 0.4, 0.85, 1, false));

    public static final StreamingTactic SOFTMAX_CUDNN = new StreamingTactic(new StreamingTactic.Config("cudnn.softmax",
            "cudnnSoftmaxForward (accurate / log mode), any axis; reads the input twice", "Softmax, LogSoftmax",
            n -> op(n, "Softmax", "LogSoftmax"), FLOAT, BOTH, null, 0.3, 0.45, 1, false));

    public static final StreamingTactic LRN = new StreamingTactic(new StreamingTactic.Config("cudnn.lrn",
            "cudnnLRNCrossChannelForward", "LRN", n -> op(n, "LRN"), EnumSet.of(Precision.FP32, Precision.FP16), EnumSet.of(Layout.NCHW),
            null, 0.4, 0.6, 1, false));

    public static List<Tactic> all() { return List.of(LAYERNORM, BATCHNORM, SOFTMAX_WARP, SOFTMAX_CUDNN, LRN); }
}
