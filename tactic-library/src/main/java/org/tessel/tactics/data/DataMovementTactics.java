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
 * copies, transposes, concats, splits (as copies, or as views of a batched GEMM's parts), gathers, window copies (Slice, Pad, Expand, Tile), GatherElements, GatherND,
 * fills and build-time constants, reductions (with ArgMax and ArgMin), resizes, layout reformats and
 * casts. The plain copies move whatever element type they are given, so every precision is accepted;
 * the window copies, fills and constants move any element type at the floating precisions (their
 * element bits are the storage type's); reductions and resizes compute, so they take floating precisions.
 */
public final class DataMovementTactics {
    private DataMovementTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    private static final Set<Layout> BOTH = EnumSet.of(Layout.NCHW, Layout.NHWC);

    private static boolean op(Node n, Set<String> names) { return n.body() == null && names.contains(n.opName()); }

    /** The ops the GPU engine builds as a view (or, when the memory planner did not put them in place, a copy). */
    public static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");
    /** Every ONNX Reduce* op: tessel.reduce runs them all on floating data. */
    public static final Set<String> REDUCTIONS = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp");

    /** The reductions tessel.reduce computes on integer data: exactly, in 64 bits, as the reference does. */
    public static final List<String> INTEGER_REDUCTIONS = List.of("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1");

    /** The most axes the GPU's window-copy, GatherElements and GatherND kernels take (DataMoveKernels.MAX_RANK). */
    public static final int MAX_RANK = 8;

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

    /**
     * A Split after a horizontal merge of GEMM chains as views: no kernel. The merged GEMM runs as a strided-batched
     * cuBLASLt matmul ({@link org.tessel.tactics.gemm.GemmTactics#batchedVariant}), one batch per part, so its output
     * holds the parts one after another ([parts][M][N]) and each Split output is a contiguous slice of it. Supported
     * where the Split cuts its input's last axis into equal parts and that input is the output of a gemm_bias_act
     * chain (MatMul or Gemm with constant 2-D weights, then a bias Add and/or an activation; fused or not yet fused),
     * at the floating precisions cuBLASLt's batched matmul takes. Unequal parts keep {@code tessel.split}'s copies.
     */
    public static final Tactic SPLIT_VIEW = new SplitViewTactic();

    private static final class SplitViewTactic extends org.tessel.tactics.BaseTactic {
        SplitViewTactic() {
            super("tessel.split.view", "No kernel: each output of a Split is a slice of its input, where the parts lie one after another: "
                    + "a merged GEMM's output that a strided-batched cuBLASLt matmul writes part after part (equal parts of the last axis), or a Split "
                    + "whose axis has only unit dims before it (a decode step's single row)", org.tessel.tactics.Backend.GPU, FLOAT, BOTH);
        }

        @Override public boolean appliesTo(Node n) { return op(n, Set.of("Split")); }

        @Override protected String appliesToText() { return "Split"; }

        @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
            org.tessel.ir.Value x = n.input(0);
            int r = x.type().rank();
            if (!x.type().dtype().isFloating()) return "slices floating data only (got " + x.type().dtype().text() + ")";
            if (r >= 3 && l == Layout.NHWC) return "slices in logical (channels-first) order only";
            if (n.outputs().size() < 2) return "needs two or more parts";
            String contiguous = contiguousPartsWhyNot(n, p);
            if (contiguous == null) return null;
            long axis = n.attrs().getInt("axis", 0);
            if (r < 2 || (axis < 0 ? axis + r : axis) != r - 1)
                return "views split the last axis of a merged GEMM, or an axis with only unit dims before it (axis " + axis + " of " + x.type().shape() + ")";
            for (org.tessel.ir.Value o : n.outputs())
                if (!o.type().shape().equals(n.output(0).type().shape()))
                    return "a merged GEMM's parts must be equal (%" + o.name() + " is " + o.type().shape() + ", %" + n.output(0).name() + " " + n.output(0).type().shape() + "), and "
                           + contiguous;
            String merged = mergedGemmWhyNot(x.producer());
            return merged == null ? null : merged + "; and " + contiguous;
        }

        @Override public long workspaceBytes(Node n, Precision p) { return 0; }

        @Override public org.tessel.cost.TacticFeatures features(Node n, Precision p, Layout l) { return org.tessel.cost.TacticFeatures.view(); }
    }

    /** Where a part of a contiguous split view may start: the 16-byte vector loads kernels make of their inputs. */
    public static final int VIEW_PART_ALIGN = 16;

    /**
     * Why a Split's parts are not consecutive slices of its input (some dim before the axis above 1), or a part would start
     * off a {@value #VIEW_PART_ALIGN}-byte boundary at {@code p}'s storage size; null when each part is one run of the input.
     */
    public static String contiguousPartsWhyNot(Node n, Precision p) {
        org.tessel.ir.Value x = n.input(0);
        int r = x.type().rank();
        long axis = n.attrs().getInt("axis", 0);
        int a = (int) (axis < 0 ? axis + r : axis);
        if (a < 0 || a >= r) return "axis " + axis + " is outside rank " + r;
        for (int d = 0; d < a; d++)
            if (x.type().shape().dim(d) != 1) return "the parts are not consecutive runs: dim " + d + " of " + x.type().shape() + " before axis " + a + " is not 1";
        // bytes of one element as the engine stores it at p
        long es = (long) org.tessel.cost.Work.bytes(org.tessel.api.TensorType.of(x.type().dtype(), org.tessel.api.Shape.of(1)), p);
        long at = 0;
        for (org.tessel.ir.Value o : n.outputs()) {
            if (at % VIEW_PART_ALIGN != 0) return "part %" + o.name() + " would start at byte " + at + ", off a " + VIEW_PART_ALIGN + "-byte boundary";
            at += o.type().numElements() * es;
        }
        return null;
    }

    /** Why {@code p} is not the end of a GEMM chain cuBLASLt can run batched (a gemm_bias_act, fused or not yet); null when it is. */
    static String mergedGemmWhyNot(Node p) {
        String want = "the input must be a gemm_bias_act chain's output (a MatMul or Gemm with constant 2-D weights, then a bias and/or an activation)";
        if (p == null) return want + ", not a graph input";
        if (p.body() != null) {
            if (!"gemm_bias_act".equals(org.tessel.tactics.NodeFacts.fusedKind(p))) return want + ", not a fused " + org.tessel.tactics.NodeFacts.fusedKind(p);
            if (org.tessel.tactics.NodeFacts.hasResidualAdd(p)) return want + ": " + p.name() + " adds a residual";
            Node mm = org.tessel.tactics.NodeFacts.anchor(p, Set.of("MatMul", "Gemm"));
            return mm != null && org.tessel.tactics.NodeFacts.isConstant(p, mm.input(1)) && mm.input(1).type().rank() == 2 ? null : want;
        }
        Node cur = p;
        boolean tail = false;
        if (org.tessel.passes.fusion.SiblingMerges.ACTIVATIONS.contains(cur.opName()) && cur.input(0) != null && cur.input(0).producer() != null) {
            cur = cur.input(0).producer();
            tail = true;
        }
        if (cur.opName().equals("Add") && cur.numInputs() == 2) {
            org.tessel.ir.Value a = cur.input(0), b = cur.input(1);
            org.tessel.ir.Value in = b != null && b.isConstant() ? a : a != null && a.isConstant() ? b : null;
            if (in == null || in.producer() == null) return want + ": " + cur.name() + " is not a bias Add";
            cur = in.producer();
            tail = true;
        }
        if (!cur.opName().equals("MatMul") && !cur.opName().equals("Gemm")) return want + ", not " + p.opName() + " '" + p.name() + "'";
        if (!tail) return want + ": a lone " + cur.opName() + " runs without cuBLASLt's epilogue, so its merge keeps the copy split";
        return cur.input(1) != null && cur.input(1).isConstant() && cur.input(1).type().rank() == 2 ? null : want + ": " + cur.name() + "'s weights are not a constant matrix";
    }

    public static final StreamingTactic GATHER = new StreamingTactic(new StreamingTactic.Config("tessel.gather",
            "Tessel gather along one axis, indices as i32 (embedding lookups)", "Gather",
            n -> op(n, Set.of("Gather")), ALL, BOTH, (n, p, l) -> {
                if (!n.input(1).type().dtype().isInteger()) return "indices must be integers (got " + n.input(1).type().dtype().text() + ")";
                return n.input(0).type().dtype().isInteger() ? "gathers floating data only (got " + n.input(0).type().dtype().text() + ")" : null;
            }, 1, 0.7, 1, true));

    public static final StreamingTactic REDUCE = new StreamingTactic(new StreamingTactic.Config("tessel.reduce",
            "Tessel reduction (every Reduce* kind): tree reduction over one contiguous run of axes, a per-axis table for any other set",
            "ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp",
            n -> op(n, REDUCTIONS), FLOAT, BOTH, (n, p, l) -> {
                if (PoolTactics.spatialMean(n)) return "a ReduceMean over the spatial axes runs as tessel.pool.global";
                org.tessel.api.DType t = n.input(0).type().dtype();
                boolean extreme = n.opName().equals("ReduceMax") || n.opName().equals("ReduceMin");
                if (t == org.tessel.api.DType.BOOL ? !extreme : t.isInteger() ? !INTEGER_REDUCTIONS.contains(n.opName()) : !t.isFloating())
                    return "reduces floating data; integers in " + String.join(", ", INTEGER_REDUCTIONS) + "; bool in ReduceMax, ReduceMin (got " + t.text() + ")";
                if (t == org.tessel.api.DType.I64 && extreme && n.input(0).type().numElements() == 0 && n.output().type().numElements() > 0)
                    return "an empty " + n.opName() + " of i64 data: its identity does not fit the device's i32 integers";
                if (n.numInputs() > 1 && n.input(1) != null && !n.input(1).isConstant()) return "needs constant axes";
                return n.input(0).type().rank() >= 3 && channelsLast(n) ? "reduces channels-first tensors only (got nhwc)" : null;
            }, 0.5, 0.75, 1, true));

    /** Why the window-copy and GatherElements kernels cannot take {@code n}: a channels-last operand or too many axes; null when they can. */
    private static String windowWhyNot(Node n) {
        String layout = channelsLastWhyNot(n);
        if (layout != null) return layout;
        int r = Math.max(n.input(0).type().rank(), n.output().type().rank());
        return r > MAX_RANK ? "takes up to " + MAX_RANK + " axes (got rank " + r + ")" : null;
    }

    /** Why a kernel indexing logical (channels-first) order cannot take {@code n}: a channels-last operand; null when none is. */
    private static String channelsLastWhyNot(Node n) {
        for (org.tessel.ir.Value v : n.inputs())
            if (v != null && v.type().rank() >= 3 && v.type().layout() == Layout.NHWC) return "moves channels-first tensors only (input %" + v.name() + " is nhwc)";
        if (n.output().type().rank() >= 3 && n.output().type().layout() == Layout.NHWC) return "moves channels-first tensors only (the output is nhwc)";
        return null;
    }

    /** Why an input that decides the copy (starts, pads, ...) is not usable: given and not a constant. */
    private static String constantInputs(Node n, int from, String what) {
        for (int i = from; i < n.numInputs(); i++)
            if (n.input(i) != null && !n.input(i).isConstant()) return "needs constant " + what + " (input " + i + " %" + n.input(i).name() + " is computed)";
        return null;
    }

    /** Why a value of {@code n}'s element type cannot be written as i32 device bits (integers outside i32); null when it can. */
    private static String i32Range(org.tessel.api.Tensor v, org.tessel.api.DType type) {
        if (v == null || !type.isInteger() || v.size() < 1) return null;
        long x = v.getLong(0);
        return x != (int) x ? "value " + x + " is outside the i32 range of device integers" : null;
    }

    public static final StreamingTactic SLICE = new StreamingTactic(new StreamingTactic.Config("tessel.slice",
            "Tessel window copy: every output element read from its strided position in the input, any element type", "Slice",
            n -> op(n, Set.of("Slice")), FLOAT, BOTH, (n, p, l) -> {
                String w = windowWhyNot(n);
                return w != null ? w : constantInputs(n, 1, "starts, ends, axes and steps");
            }, 1, 0.7, 1, true));

    public static final StreamingTactic PAD = new StreamingTactic(new StreamingTactic.Config("tessel.pad",
            "Tessel window copy with constant, reflect, edge or wrap padding (negative pads crop), any element type", "Pad",
            n -> op(n, Set.of("Pad")), FLOAT, BOTH, (n, p, l) -> {
                String w = windowWhyNot(n);
                if (w != null) return w;
                String c = constantInputs(n, 1, "pads, constant_value and axes");
                if (c != null) return c;
                return n.numInputs() > 2 && n.input(2) != null ? i32Range(n.input(2).constantValue(), n.input(0).type().dtype()) : null;
            }, 1, 0.7, 1, true));

    public static final StreamingTactic EXPAND = new StreamingTactic(new StreamingTactic.Config("tessel.expand",
            "Tessel window copy broadcasting the input (stride 0 on broadcast axes), any element type", "Expand",
            n -> op(n, Set.of("Expand")), FLOAT, BOTH, (n, p, l) -> windowWhyNot(n), 1, 0.7, 1, true));

    public static final StreamingTactic TILE = new StreamingTactic(new StreamingTactic.Config("tessel.tile",
            "Tessel window copy repeating the input along every axis (each output coordinate wraps around its input axis), any element type", "Tile",
            n -> op(n, Set.of("Tile")), FLOAT, BOTH, (n, p, l) -> windowWhyNot(n), 1, 0.7, 1, true));

    /**
     * GatherND: a thread per output element reads the data element its index tuple (i32 on the device, constant or computed),
     * batch axes and slice position give. The indices may have any rank (they are read flat); data up to {@link #MAX_RANK} axes.
     */
    public static final StreamingTactic GATHER_ND = new StreamingTactic(new StreamingTactic.Config("tessel.gather_nd",
            "Tessel GatherND: each output element reads data in the slice its index tuple (i32) and batch axes pick, any element type", "GatherND",
            n -> op(n, Set.of("GatherND")), FLOAT, BOTH, (n, p, l) -> {
                String layout = channelsLastWhyNot(n);
                if (layout != null) return layout;
                int r = n.input(0).type().rank();
                return r > MAX_RANK ? "takes data of up to " + MAX_RANK + " axes (got rank " + r + ")" : null;
            }, 1, 0.6, 1, true));

    public static final StreamingTactic GATHER_ELEMENTS = new StreamingTactic(new StreamingTactic.Config("tessel.gather_elements",
            "Tessel GatherElements: each output element reads data at its own position with the axis coordinate from indices (i32)", "GatherElements",
            n -> op(n, Set.of("GatherElements")), FLOAT, BOTH, (n, p, l) -> windowWhyNot(n), 1, 0.6, 1, true));

    public static final StreamingTactic FILL = new StreamingTactic(new StreamingTactic.Config("tessel.fill",
            "Tessel fill kernel: a ConstantOfShape left unfolded (too large to fold) writes its value on the GPU", "ConstantOfShape",
            n -> op(n, Set.of("ConstantOfShape")), FLOAT, BOTH, (n, p, l) -> {
                org.tessel.api.Tensor v = n.attrs().getTensor("value");
                if (v != null && v.size() != 1) return "needs a one-element value (got shape " + v.shape() + ")";
                return i32Range(v, n.output().type().dtype());
            }, 1, 0.9, 1, true));

    public static final StreamingTactic CONSTANT = new StreamingTactic(new StreamingTactic.Config("tessel.constant",
            "A value known when the engine is built (Shape of a static tensor, Constant), uploaded once and copied into the output",
            "Shape, Constant", n -> op(n, Set.of("Shape", "Constant")), FLOAT, BOTH, (n, p, l) -> {
                if (!n.opName().equals("Constant") || !n.output().type().dtype().isInteger()) return null;
                List<Long> values = new java.util.ArrayList<>();
                org.tessel.api.Tensor t = n.attrs().getTensor("value");
                if (t != null) for (int i = 0; i < t.size(); i++) values.add(t.getLong(i));
                if (n.attrs().has("value_int")) values.add(n.attrs().getInt("value_int", 0));
                long[] many = n.attrs().getInts("value_ints");
                if (many != null) for (long v : many) values.add(v);
                for (long v : values) if (v != (int) v) return "value " + v + " is outside the i32 range of device integers";
                return null;
            }, 1, 0.7, 1, true));

    /** ArgMax and ArgMin: the index of the extreme along one axis, i32 on the device. */
    private static StreamingTactic argReduce(String id, String onnxOp) {
        return new StreamingTactic(new StreamingTactic.Config(id, "Tessel " + onnxOp + " along one axis (keepdims, select_last_index; NaN counts as the extreme; integers compared exactly)", onnxOp,
                n -> op(n, Set.of(onnxOp)), FLOAT, BOTH, (n, p, l) -> {
                    int r = n.input(0).type().rank();
                    long a = n.attrs().getInt("axis", 0);
                    if (n.input(0).type().shape().dim((int) (a < 0 ? a + r : a)) == 0) return "needs a non-empty axis";
                    return n.input(0).type().rank() >= 3 && channelsLast(n) ? "searches channels-first tensors only (got nhwc)" : null;
                }, 0.5, 0.75, 1, true));
    }

    public static final StreamingTactic ARGMAX = argReduce("tessel.argmax", "ArgMax");
    public static final StreamingTactic ARGMIN = argReduce("tessel.argmin", "ArgMin");

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

    public static List<Tactic> all() {
        return List.of(VIEW, COPY, TRANSPOSE, CONCAT, SPLIT, SPLIT_VIEW, GATHER, REDUCE, RESIZE, REFORMAT, CAST, SLICE, PAD, EXPAND, TILE, GATHER_ELEMENTS, GATHER_ND, FILL, CONSTANT,
                ARGMAX, ARGMIN);
    }
}
