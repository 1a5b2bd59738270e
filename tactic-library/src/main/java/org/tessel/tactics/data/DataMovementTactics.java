package org.tessel.tactics.data;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;

/**
 * Tactics that move or reinterpret data: views (no kernel at all), copies, reductions, resizes,
 * layout reformats and casts. They move whatever element type they are given, so every precision
 * is accepted; reductions and resizes compute, so they take floating precisions.
 */
public final class DataMovementTactics {
    private DataMovementTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    private static boolean op(Node n, Set<String> names) { return n.body() == null && names.contains(n.opName()); }

    static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Constant");
    static final Set<String> COPIES = Set.of("Transpose", "Concat", "Slice", "Split", "Pad", "Expand", "Gather", "GatherElements", "Tile",
            "ConstantOfShape", "Reshape", "Flatten", "Squeeze", "Unsqueeze");
    static final Set<String> REDUCTIONS = Set.of("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
            "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "ArgMax", "ArgMin");

    public static final StreamingTactic VIEW = new StreamingTactic(new StreamingTactic.Config("tessel.view",
            "No kernel: the output aliases the input's buffer with new metadata", "Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Shape, Constant",
            n -> op(n, VIEWS), ALL, BOTH, (n, p, l) -> {
                if (n.opName().equals("Dropout") && n.outputs().size() > 1) return "Dropout's mask output needs a kernel";
                if (l == Layout.NHWC && n.numInputs() > 0 && n.input(0) != null && n.input(0).type().rank() >= 3
                        && !n.opName().equals("Identity") && !n.opName().equals("Dropout") && !n.opName().equals("Shape"))
                    return "reshaping an NHWC image is not a view of its buffer (logical order is NCHW); tessel.copy materializes it";
                return null;
            }, 1, 1, 0, true));

    public static final StreamingTactic COPY = new StreamingTactic(new StreamingTactic.Config("tessel.copy",
            "Tessel gather/scatter copy kernel: transpose, concat, slice, split, pad, expand, gather, materialized reshapes",
            "Transpose, Concat, Slice, Split, Pad, Expand, Gather, GatherElements, Tile, ConstantOfShape and reshapes",
            n -> op(n, COPIES), ALL, BOTH, null, 1, 0.7, 1, true));

    public static final StreamingTactic REDUCE = new StreamingTactic(new StreamingTactic.Config("tessel.reduce",
            "Tessel tree reduction over the given axes (sum, mean, max, arg-max...)", "Reduce*, ArgMax, ArgMin",
            n -> op(n, REDUCTIONS), FLOAT, BOTH, null, 0.5, 0.75, 1, true));

    public static final StreamingTactic RESIZE = new StreamingTactic(new StreamingTactic.Config("tessel.resize",
            "Tessel resize: nearest or linear interpolation", "Resize", n -> op(n, Set.of("Resize")), FLOAT, BOTH, null, 0.5, 0.6, 1, false));

    public static final StreamingTactic REFORMAT = new StreamingTactic(new StreamingTactic.Config("tessel.reformat.nchw_nhwc",
            "Tessel tiled transpose between NCHW and NHWC through shared memory", "tessel.Reformat",
            n -> op(n, Set.of("tessel.Reformat")), ALL, BOTH, null, 1, 0.7, 1, true));

    public static final StreamingTactic CAST = new StreamingTactic(new StreamingTactic.Config("tessel.cast",
            "Tessel element-type conversion, vectorized", "Cast, CastLike", n -> op(n, Set.of("Cast", "CastLike")), ALL, BOTH, null, 1, 0.85, 1, true));

    public static final StreamingTactic QUANTIZE = new StreamingTactic(new StreamingTactic.Config("tessel.quantize",
            "Tessel affine (de)quantization to and from int8/uint8", "QuantizeLinear, DequantizeLinear",
            n -> op(n, Set.of("QuantizeLinear", "DequantizeLinear")), ALL, BOTH, null, 0.5, 0.85, 1, true));

    public static List<Tactic> all() { return List.of(VIEW, COPY, REDUCE, RESIZE, REFORMAT, CAST, QUANTIZE); }
}
