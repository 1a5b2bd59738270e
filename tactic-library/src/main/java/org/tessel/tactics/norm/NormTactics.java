package org.tessel.tactics.norm;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * Normalization and softmax kernels, the GPU engine's own: per-row (or per-channel) reductions
 * that read their input once.
 */
public final class NormTactics {
    private NormTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

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

    public static final StreamingTactic LAYERNORM = new StreamingTactic(new StreamingTactic.Config("tessel.layernorm",
            "Tessel layer norm over the last axis: a warp per row read once into registers (rows of up to 1024), else a CTA per row; mean, then centered variance", "LayerNormalization",
            n -> op(n, "LayerNormalization"), FLOAT, BOTH, (n, p, l) -> {
                int rank = n.input(0).type().rank();
                return axis(n) == rank - 1 ? null : "normalizes the last axis only (got axis " + axis(n) + " of rank " + rank + ")";
                // an H100 timed BERT-base b32's [32,128,768] FP16 layer norm at 7.7-8.2 us with the warp-per-row kernel (16.5 us
                // with a CTA per row): 12.6 MB moved, about 0.5 of the bandwidth with the launch, 0.6 without
            }, 0.4, 0.6, 1, false));

    public static final StreamingTactic RMSNORM = new StreamingTactic(new StreamingTactic.Config("tessel.rmsnorm",
            "Tessel RMS norm over the last axis: the layer-norm kernels without mean or shift; a warp per row read once into registers (rows of up to 2048), else a CTA per row",
            "RMSNormalization", n -> op(n, "RMSNormalization"), FLOAT, BOTH, (n, p, l) -> {
                int rank = n.input(0).type().rank();
                return axis(n) == rank - 1 ? null : "normalizes the last axis only (got axis " + axis(n) + " of rank " + rank + ")";
            }, 0.4, 0.6, 1, false));

    public static final StreamingTactic BATCHNORM = new StreamingTactic(new StreamingTactic.Config("tessel.batchnorm",
            "Tessel inference batch norm: per-channel scale and shift", "BatchNormalization",
            n -> op(n, "BatchNormalization"), FLOAT, BOTH,
            (n, p, l) -> n.outputs().size() > 1 ? "produces only Y; the running-statistics outputs need training mode" : null, 0.5, 0.85, 1, false));

    public static final StreamingTactic SOFTMAX = new StreamingTactic(new StreamingTactic.Config("tessel.softmax",
            "Tessel softmax over the last axis, one CTA per row", "Softmax",
            n -> op(n, "Softmax"), FLOAT, BOTH, (n, p, l) -> {
                var s = n.input(0).type().shape();
                return axis(n) == s.rank() - 1 ? null : "normalizes the last axis only (got axis " + axis(n) + " of rank " + s.rank() + ")";
            }, 0.4, 0.85, 1, false));

    public static final StreamingTactic LRN = new StreamingTactic(new StreamingTactic.Config("tessel.lrn",
            "Tessel local response normalization across channels, NCHW or NHWC", "LRN", n -> op(n, "LRN"), FLOAT, BOTH,
            (n, p, l) -> n.input(0).type().rank() >= 3 ? null : "needs [N, C, spatial...] (got rank " + n.input(0).type().rank() + ")", 0.4, 0.6, 1, false));

    /** LogSoftmax and Hardmax along any one axis (opset 13), on channels-first tensors. */
    private static StreamingTactic alongAxis(String id, String summary, String onnxOp) {
        return new StreamingTactic(new StreamingTactic.Config(id, summary, onnxOp, n -> op(n, onnxOp), FLOAT, BOTH, (n, p, l) -> {
            if (n.input(0).type().shape().dim(axis(n)) == 0) return "needs a non-empty axis";
            return n.input(0).type().rank() >= 3 && n.input(0).type().layout() == Layout.NHWC ? "normalizes channels-first tensors only (got nhwc)" : null;
        }, 0.4, 0.8, 1, false));
    }

    public static final StreamingTactic LOGSOFTMAX = alongAxis("tessel.logsoftmax",
            "Tessel log-softmax along any axis: one CTA per row when the axis is last, else one thread per row", "LogSoftmax");

    public static final StreamingTactic HARDMAX = alongAxis("tessel.hardmax", "Tessel hardmax along any axis: 1 at the first maximum, one thread per row", "Hardmax");

    public static List<Tactic> all() { return List.of(LAYERNORM, RMSNORM, BATCHNORM, SOFTMAX, LRN, LOGSOFTMAX, HARDMAX); }
}
