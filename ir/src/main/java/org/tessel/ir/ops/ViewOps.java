package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * Ops whose output holds the input's elements in the same row-major order: Reshape, Flatten,
 * Squeeze, Unsqueeze, Identity and Dropout (at inference), plus Shape, which only reads the
 * input's type. The reference implementations return views sharing the input's data, which is
 * safe because tensors passed between ops are immutable by convention; this keeps them free for
 * large tensors.
 */
final class ViewOps {
    private ViewOps() {}

    static List<OpSchema> all() {
        return List.of(new Reshape(), new Flatten(), new Squeeze(), new Unsqueeze(), new Identity(), new Dropout(), new ShapeOp());
    }

    /** Base for one-output ops whose result is the input re-shaped to the inferred type. */
    abstract static class View extends BaseOp {
        View(Def def) { super(def); }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            return OpUtil.one(ctx.input(0).reshape(ctx.outputType(0).shape()));
        }
    }

    static final class Reshape extends View {
        Reshape() {
            super(def("Reshape", "the input's elements under a new shape; 0 copies an input dimension, -1 is inferred")
                    .inputs(2, 2, "data", "shape").intAttr("allowzero", 0, "1: a 0 in shape means an empty dimension instead of copying the input's")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            long[] spec = ShapeOps.readInts(ctx.requireConstant(1, "shape"), "shape", false, DType.I64);
            long allowZero = ctx.attrs().getInt("allowzero", 0);
            if (allowZero != 0 && allowZero != 1) throw new OpException("attribute allowzero must be 0 or 1, got " + allowZero);
            return List.of(TensorType.of(x.dtype(), ShapeOps.reshapeTarget(x.shape(), spec, allowZero == 1)));
        }
    }

    static final class Flatten extends View {
        Flatten() {
            super(def("Flatten", "reshapes to 2-D: dimensions before axis form the rows, the rest the columns")
                    .inputs(1, 1, "input").intAttr("axis", 1, "first dimension of the second output dimension; negative counts from the back")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            int r = x.rank();
            long axis = ctx.attrs().getInt("axis", 1);
            long a = axis < 0 ? axis + r : axis;
            if (a < 0 || a > r) throw new OpException("axis " + axis + " is out of range for rank " + r + " (allowed " + (-r) + " to " + r + ")");
            Shape s = x.shape();
            return List.of(TensorType.of(x.dtype(), Shape.of(ShapeOps.product(s, 0, (int) a), ShapeOps.product(s, (int) a, r))));
        }
    }

    static final class Squeeze extends View {
        Squeeze() {
            super(def("Squeeze", "removes the listed size-1 dimensions (all size-1 dimensions when axes is absent)")
                    .inputs(1, 2, "data", "axes").traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            Shape s = x.shape();
            boolean[] drop = new boolean[s.rank()];
            if (ctx.hasInput(1)) {
                long[] axes = ShapeOps.readInts(ctx.requireConstant(1, "axes"), "axes", true, DType.I64);
                for (int a : ShapeOps.normalizeAxes(axes, s.rank(), "axes")) {
                    if (s.dim(a) != 1) throw new OpException("cannot squeeze axis " + a + " of shape " + s + ": its size is " + s.dim(a) + ", not 1");
                    drop[a] = true;
                }
            } else {
                for (int i = 0; i < s.rank(); i++) drop[i] = s.dim(i) == 1;
            }
            List<Integer> dims = new ArrayList<>();
            for (int i = 0; i < s.rank(); i++) if (!drop[i]) dims.add(s.dim(i));
            return List.of(TensorType.of(x.dtype(), Shape.of(dims.stream().mapToInt(Integer::intValue).toArray())));
        }
    }

    static final class Unsqueeze extends View {
        Unsqueeze() {
            super(def("Unsqueeze", "inserts size-1 dimensions at the listed positions of the output")
                    .inputs(2, 2, "data", "axes").traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            long[] axes = ShapeOps.readInts(ctx.requireConstant(1, "axes"), "axes", true, DType.I64);
            int outRank = x.rank() + axes.length;
            boolean[] inserted = new boolean[outRank];
            for (int a : ShapeOps.normalizeAxes(axes, outRank, "axes")) inserted[a] = true;
            int[] dims = new int[outRank];
            for (int i = 0, k = 0; i < outRank; i++) dims[i] = inserted[i] ? 1 : x.shape().dim(k++);
            return List.of(TensorType.of(x.dtype(), Shape.of(dims)));
        }
    }

    static final class Identity extends BaseOp {
        Identity() {
            super(def("Identity", "the input, unchanged").inputs(1, 1, "input")
                    .traits(Trait.DATA_MOVEMENT, Trait.IDENTITY_AT_INFERENCE));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            return List.of(TensorType.of(x.dtype(), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) { return OpUtil.one(ctx.input(0)); }
    }

    static final class Dropout extends BaseOp {
        private static final DType[] FLOATS = {DType.F16, DType.F32, DType.F64, DType.BF16};

        Dropout() {
            super(def("Dropout", "at inference the input unchanged, and an all-true mask")
                    .inputs(1, 3, "data", "ratio", "training_mode").outputs(1, 2)
                    .attr(AttrSpec.optional("seed", AttrValue.Kind.INT, "random seed (unused at inference)"))
                    .traits(Trait.IDENTITY_AT_INFERENCE));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            ShapeOps.requireDType("data", x.dtype(), FLOATS);
            if (ctx.hasInput(1)) {
                TensorType ratio = ctx.input(1);
                ShapeOps.requireDType("ratio", ratio.dtype(), FLOATS);
                if (ratio.rank() != 0) throw new OpException("ratio must be a scalar, got shape " + ratio.shape());
            }
            if (ctx.hasInput(2)) {
                TensorType mode = ctx.input(2);
                ShapeOps.requireDType("training_mode", mode.dtype(), DType.BOOL);
                if (mode.rank() != 0) throw new OpException("training_mode must be a scalar, got shape " + mode.shape());
                Tensor c = ctx.constant(2);
                if (c != null) requireInference(c);
            }
            List<TensorType> out = new ArrayList<>();
            out.add(TensorType.of(x.dtype(), x.shape()));
            if (ctx.numOutputs() > 1) out.add(TensorType.of(DType.BOOL, x.shape()));
            return out;
        }

        private static void requireInference(Tensor mode) {
            if (mode.getBool(0)) throw new OpException("training_mode is true: Tessel runs Dropout only in inference mode (training_mode false or absent)");
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            if (ctx.hasInput(2)) requireInference(ctx.input(2));
            if (ctx.numOutputs() == 1) return List.of(x);
            Tensor mask = Tensor.zeros(DType.BOOL, x.shape());
            Arrays.fill(mask.longs(), 1L);
            return List.of(x, mask);
        }
    }

    /** ONNX "Shape": named ShapeOp here so it does not hide {@link Shape}. */
    static final class ShapeOp extends BaseOp {
        ShapeOp() {
            super(def("Shape", "the input's dimensions [start, end) as a 1-D i64 tensor").inputs(1, 1, "data")
                    .intAttr("start", 0, "first dimension to include; negative counts from the back")
                    .attr(AttrSpec.optional("end", AttrValue.Kind.INT, "dimension after the last to include (default: rank); negative counts from the back")));
        }

        private static long[] dims(Shape s, Attributes attrs) {
            int r = s.rank();
            long start = clampDim(attrs.getInt("start", 0), r);
            long end = clampDim(attrs.getInt("end", r), r);
            long[] all = s.longDims();
            return end <= start ? new long[0] : Arrays.copyOfRange(all, (int) start, (int) end);
        }

        /** ONNX Shape: negative values count from the back, then out-of-range values clamp to [0, rank]. */
        private static long clampDim(long v, int r) {
            if (v < 0) v += r;
            return Math.max(0, Math.min(r, v));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            return List.of(TensorType.of(DType.I64, dims(ctx.input(0).shape(), ctx.attrs()).length));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            long[] d = dims(ctx.input(0).shape(), ctx.attrs());
            return OpUtil.one(Tensor.ofLongs(DType.I64, Shape.of(d.length), d));
        }
    }
}
