package org.tessel.tactics.data;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.pool.PoolTactics;

/**
 * Tactics that move or reinterpret data, as the GPU engine runs them: views (no kernel at all),
 * copies, transposes, concats, splits, gathers, reductions, resizes, layout reformats and casts. They move
 * whatever element type they are given, so every precision is accepted; reductions and resizes
 * compute, so they take floating precisions.
 */
public final class DataMovementTactics {
    private DataMovementTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    private static boolean op(Node n, Set<String> names) { return n.body() == null && names.contains(n.opName()); }

    /** The ops the GPU engine builds as a view (or, when the memory planner did not put them in place, a copy). */
    public static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");
    static final Set<String> REDUCTIONS = Set.of("ReduceMean", "ReduceSum", "ReduceMax");

    private static boolean channelsLast(Node n) { return n.input(0).type().layout() == Layout.NHWC; }

    public static final StreamingTactic VIEW = new StreamingTactic(new StreamingTactic.Config("tessel.view",
            "No kernel: the output aliases the input's buffer with new metadata", "Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout",
            n -> op(n, VIEWS), ALL, BOTH, (n, p, l) -> {
                if (n.opName().equals("Dropout") && n.outputs().size() > 1) return "Dropout's mask output needs a kernel";
                if (l == Layout.NHWC && n.numInputs() > 0 && n.input(0) != null && n.input(0).type().rank() >= 3
                        && !n.opName().equals("Identity") && !n.opName().equals("Dropout"))
                    return "reshaping an NHWC image is not a view of its buffer (logical order is NCHW)";
                return null;
            }, 1, 1, 0, true));

    public static final StreamingTactic COPY = new StreamingTactic(new StreamingTactic.Config("tessel.copy",
            "Device-to-device copy of a view op's buffer, where the memory planner did not place the output over its input",
            "Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout",
            n -> op(n, VIEWS), ALL, BOTH, (n, p, l) -> n.opName().equals("Dropout") && n.outputs().size() > 1 ? "Dropout's mask output needs a kernel" : null,
            1, 0.7, 1, true));

    public static final StreamingTactic TRANSPOSE = new StreamingTactic(new StreamingTactic.Config("tessel.transpose",
            "Tessel permutation copy of a channels-first or plain tensor", "Transpose",
            n -> op(n, Set.of("Transpose")), ALL, BOTH, (n, p, l) -> channelsLast(n) || n.output().type().layout() == Layout.NHWC
                    ? "does not transpose a channels-last value" : null, 1, 0.7, 1, true));

    public static final StreamingTactic CONCAT = new StreamingTactic(new StreamingTactic.Config("tessel.concat",
            "Tessel concat: one strided copy per input into its slice of the output, either layout", "Concat",
            n -> op(n, Set.of("Concat")), ALL, BOTH, null, 1, 0.7, 1, true));

    /**
     * Split: one kernel copies up to {@link #SPLIT_PARTS_PER_LAUNCH} consecutive outputs from their slices of the
     * input (the inverse of the concat's copies), either layout; the sizes are the outputs' shapes. It follows a
     * horizontal merge (sibling convolutions or GEMMs run as one), handing each chain its slice.
     */
    public static final Tactic SPLIT = new SplitTactic();

    /** Outputs one launch of Tessel's split kernel writes. */
    public static final int SPLIT_PARTS_PER_LAUNCH = 4;

    private static final class SplitTactic extends org.tessel.tactics.BaseTactic {
        SplitTactic() {
            super("tessel.split", "Tessel split: one kernel copies each output's slice of the input (up to " + SPLIT_PARTS_PER_LAUNCH
                    + " outputs per launch), either layout", org.tessel.tactics.Backend.GPU, ALL, BOTH);
        }

        @Override public boolean appliesTo(Node n) { return op(n, Set.of("Split")); }

        @Override protected String appliesToText() { return "Split"; }

        @Override protected boolean precisionNeutral(Node n) { return !org.tessel.tactics.NodeFacts.floating(n); }

        @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
            for (org.tessel.ir.Value o : n.outputs()) if (o.type().rank() != n.input(0).type().rank()) return "outputs must keep the input's rank";
            return null;
        }

        @Override public long workspaceBytes(Node n, Precision p) { return 0; }

        @Override public org.tessel.cost.TacticFeatures features(Node n, Precision p, Layout l) {
            int launches = (n.outputs().size() + SPLIT_PARTS_PER_LAUNCH - 1) / SPLIT_PARTS_PER_LAUNCH;
            return org.tessel.cost.TacticFeatures.streaming(1, 0.7, launches);
        }
    }

    public static final StreamingTactic GATHER = new StreamingTactic(new StreamingTactic.Config("tessel.gather",
            "Tessel gather along one axis, indices as i32 (embedding lookups)", "Gather",
            n -> op(n, Set.of("Gather")), ALL, BOTH, (n, p, l) -> {
                if (!n.input(1).type().dtype().isInteger()) return "indices must be integers (got " + n.input(1).type().dtype().text() + ")";
                return n.input(0).type().dtype().isInteger() ? "gathers floating data only (got " + n.input(0).type().dtype().text() + ")" : null;
            }, 1, 0.7, 1, true));

    public static final StreamingTactic REDUCE = new StreamingTactic(new StreamingTactic.Config("tessel.reduce",
            "Tessel tree reduction (sum, mean, max) over one contiguous run of axes", "ReduceMean, ReduceSum, ReduceMax",
            n -> op(n, REDUCTIONS), FLOAT, BOTH, (n, p, l) -> {
                if (PoolTactics.spatialMean(n)) return "a ReduceMean over the spatial axes runs as tessel.pool.global";
                return n.input(0).type().rank() >= 3 && channelsLast(n) ? "reduces channels-first tensors only (got nhwc)" : null;
            }, 0.5, 0.75, 1, true));

    public static final StreamingTactic RESIZE = new StreamingTactic(new StreamingTactic.Config("tessel.resize",
            "Tessel resize of H and W: nearest or linear interpolation", "Resize", n -> op(n, Set.of("Resize")), FLOAT, BOTH, (n, p, l) -> {
                if (n.input(0).type().rank() != 4) return "rank-4 tensors only (got rank " + n.input(0).type().rank() + ")";
                String mode = n.attrs().getString("mode", "nearest");
                if (!mode.equals("nearest") && !mode.equals("linear")) return "modes nearest and linear only (got " + mode + ")";
                if (n.attrs().getInt("antialias", 0) != 0) return "no antialias";
                return n.attrs().getInt("exclude_outside", 0) != 0 ? "no exclude_outside" : null;
            }, 0.5, 0.6, 1, false));

    public static final StreamingTactic REFORMAT = new StreamingTactic(new StreamingTactic.Config("tessel.reformat.nchw_nhwc",
            "Tessel tiled transpose between NCHW and NHWC through shared memory (variants /to_nhwc, /to_nchw)", "tessel.Reformat",
            n -> op(n, Set.of("tessel.Reformat")), ALL, BOTH, null, 1, 0.7, 1, true));

    public static final StreamingTactic CAST = new StreamingTactic(new StreamingTactic.Config("tessel.cast",
            "Tessel element-type conversion, generated like an elementwise op", "Cast, CastLike", n -> op(n, Set.of("Cast", "CastLike")), ALL, BOTH,
            (n, p, l) -> org.tessel.tactics.eltwise.EltwiseTactics.castWhyNot(n), 1, 0.85, 1, true));

    public static List<Tactic> all() { return List.of(VIEW, COPY, TRANSPOSE, CONCAT, SPLIT, GATHER, REDUCE, RESIZE, REFORMAT, CAST); }
}
