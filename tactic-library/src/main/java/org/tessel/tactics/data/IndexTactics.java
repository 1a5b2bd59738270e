package org.tessel.tactics.data;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * GPU tactics of the index ops (Range, Trilu, CumSum, CumProd, OneHot, TopK, ScatterElements, ScatterND): simple
 * kernels, a thread per output element (per row for the scans), f32/f16/bf16 data in the storage type, integers as
 * the device's i32, bool as bytes, indices as i32. Channels-first tensors only (the kernels index logical order).
 * TopK ranks every element against its row and the scatters scan the updates each element may receive, so they are
 * priced below a plain copy's memory efficiency.
 */
public final class IndexTactics {
    private IndexTactics() {}

    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    /** The most axes the ScatterElements table and a ScatterND index tuple take (IndexKernels.MAX_RANK). */
    public static final int MAX_RANK = 8;

    private static boolean op(Node n, String name) { return n.body() == null && n.opName().equals(name); }

    /** Why a channels-last operand or output rules the node out; null when every tensor is channels-first. */
    private static String channelsFirstWhyNot(Node n) {
        for (Value v : n.inputs())
            if (v != null && v.type().rank() >= 3 && v.type().layout() == Layout.NHWC) return "indexes channels-first tensors only (input %" + v.name() + " is nhwc)";
        for (Value v : n.outputs())
            if (v.type().rank() >= 3 && v.type().layout() == Layout.NHWC) return "indexes channels-first tensors only (output %" + v.name() + " is nhwc)";
        return null;
    }

    private static String first(String... reasons) {
        for (String r : reasons) if (r != null) return r;
        return null;
    }

    /** Why an integer Range's values leave the device's i32 range; null when they fit (or are not known: computed inputs). */
    static String rangeWhyNot(Node n) {
        if (!n.output().type().dtype().isInteger()) return null;
        Tensor s = n.input(0).constantValue(), d = n.input(2).constantValue();
        if (s == null || d == null) return null;
        long count = n.output().type().numElements(), first = s.getLong(0), last = first + Math.max(0, count - 1) * d.getLong(0);
        return first != (int) first || last != (int) last ? "values from " + first + " to " + last + " leave the i32 range of device integers" : null;
    }

    public static final StreamingTactic RANGE = new StreamingTactic(new StreamingTactic.Config("tessel.range",
            "Tessel range kernel: a Range left unfolded (too large to fold) writes start + i * delta on the GPU, start and delta read from the device",
            "Range", n -> op(n, "Range"), FLOAT, BOTH, (n, p, l) -> rangeWhyNot(n), 1, 0.9, 1, true));

    public static final StreamingTactic TRILU = new StreamingTactic(new StreamingTactic.Config("tessel.trilu",
            "Tessel Trilu: a thread per element keeps the upper or lower triangle of the last two axes (offset k, read on the device), zeroes the rest, any element type",
            "Trilu", n -> op(n, "Trilu"), FLOAT, BOTH, (n, p, l) -> channelsFirstWhyNot(n), 1, 0.8, 1, true));

    public static final StreamingTactic CUMULATIVE = new StreamingTactic(new StreamingTactic.Config("tessel.cumulative",
            "Tessel CumSum / CumProd: a thread per row runs the sum or product along the axis (read on the device; exclusive, reverse) in double or 64-bit integers",
            "CumSum, CumProd", n -> op(n, "CumSum") || op(n, "CumProd"), FLOAT, BOTH,
            (n, p, l) -> channelsFirstWhyNot(n), 0.5, 0.5, 1, true));

    public static final StreamingTactic ONEHOT = new StreamingTactic(new StreamingTactic.Config("tessel.onehot",
            "Tessel OneHot: a thread per output element picks the on or off value (indices i32, or floating ones truncated)",
            "OneHot", n -> op(n, "OneHot"), FLOAT, BOTH,
            (n, p, l) -> n.input(0).type().dtype() == org.tessel.api.DType.BOOL ? "takes integer or floating indices (got bool)" : channelsFirstWhyNot(n), 1, 0.8, 1, true));

    public static final StreamingTactic TOPK = new StreamingTactic(new StreamingTactic.Config("tessel.topk",
            "Tessel TopK: a thread per element ranks it against its row (larger or smaller first, NaN above numbers, ties by index) and writes it where its rank is below K",
            "TopK", n -> op(n, "TopK"), FLOAT, BOTH, (n, p, l) -> channelsFirstWhyNot(n), 0.5, 0.2, 1, true));

    public static final StreamingTactic SCATTER_ELEMENTS = new StreamingTactic(new StreamingTactic.Config("tessel.scatter_elements",
            "Tessel ScatterElements: a thread per output element combines, in order, the updates whose position lands on it (none, add, mul, max, min), indices i32",
            "ScatterElements", n -> op(n, "ScatterElements"), FLOAT, BOTH, (n, p, l) -> {
                int r = n.input(0).type().rank();
                return first(channelsFirstWhyNot(n), r > MAX_RANK ? "takes up to " + MAX_RANK + " axes (got rank " + r + ")" : null);
            }, 0.5, 0.3, 1, true));

    public static final StreamingTactic SCATTER_ND = new StreamingTactic(new StreamingTactic.Config("tessel.scatter_nd",
            "Tessel ScatterND: a thread per output element combines, in order, the update slices whose index tuple points at it (none, add, mul, max, min), indices i32",
            "ScatterND", n -> op(n, "ScatterND"), FLOAT, BOTH, (n, p, l) -> {
                int k = n.input(1).type().shape().dim(-1);
                return first(channelsFirstWhyNot(n), k > MAX_RANK ? "takes index tuples of up to " + MAX_RANK + " coordinates (got " + k + ")" : null);
            }, 0.5, 0.3, 1, true));

    public static List<Tactic> all() { return List.of(RANGE, TRILU, CUMULATIVE, ONEHOT, TOPK, SCATTER_ELEMENTS, SCATTER_ND); }
}
