package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
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
 * Ops that copy elements into a new order: Concat, Split, Slice, Transpose, Expand, Gather,
 * GatherElements and Where. Each infers its output shape from attributes and constant inputs as
 * ONNX (opset 21) defines it, and evaluates through the block and strided copies of
 * {@link CopyKernels}, so the reference interpreter moves whole rows with System.arraycopy.
 */
final class MoveOps {
    private MoveOps() {}

    static List<OpSchema> all() {
        return List.of(new Concat(), new Split(), new Slice(), new Transpose(), new Expand(), new Gather(), new GatherElements(), new Where());
    }

    private static final DType[] INDEX_TYPES = {DType.I32, DType.I64};

    static final class Concat extends BaseOp {
        Concat() {
            super(def("Concat", "joins the inputs along axis; all other dimensions must match")
                    .inputs(1, Integer.MAX_VALUE, "inputs")
                    .requiredAttr("axis", AttrValue.Kind.INT, "axis to join along; negative counts from the back")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType first = ctx.input(0);
            int r = first.rank();
            if (r == 0) throw new OpException("inputs must have rank >= 1, input 0 is a scalar");
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), r, "axis");
            long total = 0;
            for (int i = 0; i < ctx.numInputs(); i++) {
                TensorType t = ctx.input(i);
                OpUtil.requireSameDType("input " + i + " and input 0", t.dtype(), first.dtype());
                boolean ok = t.rank() == r;
                for (int d = 0; ok && d < r; d++) ok = d == axis || t.shape().dim(d) == first.shape().dim(d);
                if (!ok) throw new OpException("input " + i + " has shape " + t.shape() + ", which does not match input 0's shape "
                        + first.shape() + " in every dimension but axis " + axis);
                total += t.shape().dim(axis);
            }
            if (total > Integer.MAX_VALUE) throw new OpException("concatenated axis " + axis + " would have " + total + " elements");
            return List.of(TensorType.of(first.dtype(), first.shape().withDim(axis, (int) total)));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            TensorType ot = ctx.outputType(0);
            Tensor out = Tensor.zeros(ot);
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), ot.rank(), "axis");
            int outer = ShapeOps.product(ot.shape(), 0, axis);
            int inner = ShapeOps.product(ot.shape(), axis + 1, ot.rank());
            int outBlock = ot.shape().dim(axis) * inner;
            Object dst = CopyKernels.data(out);
            int offset = 0;
            for (int i = 0; i < ctx.numInputs(); i++) {
                Tensor in = ctx.input(i);
                int block = in.shape().dim(axis) * inner;
                Object src = CopyKernels.data(in);
                if (block > 0) for (int o = 0; o < outer; o++) System.arraycopy(src, o * block, dst, o * outBlock + offset, block);
                offset += block;
            }
            return OpUtil.one(out);
        }
    }

    static final class Split extends BaseOp {
        Split() {
            super(def("Split", "cuts the input along axis into parts sized by split, or num_outputs (nearly) equal parts")
                    .inputs(1, 2, "input", "split").outputs(1, Integer.MAX_VALUE)
                    .intAttr("axis", 0, "axis to split; negative counts from the back")
                    .attr(AttrSpec.optional("num_outputs", AttrValue.Kind.INT,
                            "number of equal parts (the last one smaller when the axis does not divide evenly)"))
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            if (x.rank() == 0) throw new OpException("input must have rank >= 1, got a scalar");
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
            long[] sizes = sizes(ctx, x.shape().dim(axis));
            List<TensorType> out = new ArrayList<>();
            for (long s : sizes) out.add(TensorType.of(x.dtype(), x.shape().withDim(axis, (int) s)));
            return out;
        }

        private static long[] sizes(InferenceContext ctx, int dim) {
            int n = ctx.numOutputs();
            boolean hasNum = ctx.attrs().has("num_outputs");
            if (ctx.hasInput(1)) {
                if (hasNum) throw new OpException("give either the split input or the num_outputs attribute, not both");
                long[] split = ShapeOps.readInts(ctx.requireConstant(1, "split"), "split", false, DType.I64);
                String text = Arrays.toString(split).replace(" ", "");
                if (split.length != n) throw new OpException("split " + text + " has " + split.length + " sizes but the node has " + n + " outputs");
                long sum = 0;
                for (long s : split) {
                    if (s < 0) throw new OpException("split " + text + " has a negative size " + s);
                    sum += s;
                }
                if (sum != dim) throw new OpException("split " + text + " sums to " + sum + " but the axis has size " + dim);
                return split;
            }
            long[] sizes = new long[n];
            if (hasNum) {
                long num = ctx.attrs().getInt("num_outputs", n);
                if (num < 1) throw new OpException("attribute num_outputs must be >= 1, got " + num);
                if (num != n) throw new OpException("attribute num_outputs is " + num + " but the node has " + n + " outputs");
                // ONNX (opset 18): parts of ceil(dim / n); the last takes what is left and may be smaller.
                long part = (dim + num - 1) / num;
                long last = dim - part * (num - 1);
                if (last < 0) throw new OpException("an axis of size " + dim + " cannot be split into " + num
                        + " parts of " + part + " with a smaller last part (" + last + " would be left)");
                Arrays.fill(sizes, part);
                sizes[n - 1] = last;
                return sizes;
            }
            if (dim % n != 0) throw new OpException("an axis of size " + dim + " cannot be split evenly into " + n
                    + " outputs; give the split input or the num_outputs attribute");
            Arrays.fill(sizes, dim / n);
            return sizes;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Shape s = x.shape();
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), s.rank(), "axis");
            int outer = ShapeOps.product(s, 0, axis);
            int inner = ShapeOps.product(s, axis + 1, s.rank());
            int inBlock = s.dim(axis) * inner;
            Object src = CopyKernels.data(x);
            List<Tensor> outs = new ArrayList<>();
            int offset = 0;
            for (int i = 0; i < ctx.numOutputs(); i++) {
                Tensor out = Tensor.zeros(ctx.outputType(i));
                int block = out.shape().dim(axis) * inner;
                Object dst = CopyKernels.data(out);
                if (block > 0) for (int o = 0; o < outer; o++) System.arraycopy(src, o * inBlock + offset, dst, o * block, block);
                offset += block;
                outs.add(out);
            }
            return outs;
        }
    }

    /** The per-axis window a Slice reads: first index, step and element count of every input axis. */
    record SlicePlan(int[] start, int[] step, int[] count) {
        Shape shape() { return Shape.of(count); }

        static SlicePlan of(Shape s, long[] starts, long[] ends, long[] axes, long[] steps) {
            int r = s.rank();
            int n = starts.length;
            if (ends.length != n) throw new OpException("starts has " + n + " values but ends has " + ends.length);
            if (axes != null && axes.length != n) throw new OpException("starts has " + n + " values but axes has " + axes.length);
            if (steps != null && steps.length != n) throw new OpException("starts has " + n + " values but steps has " + steps.length);
            int[] ax = axes == null ? null : ShapeOps.normalizeAxes(axes, r, "axes");
            if (ax == null && n > r) throw new OpException("starts has " + n + " values but the input has rank " + r);
            int[] start = new int[r], step = new int[r], count = s.dims();
            Arrays.fill(step, 1);
            for (int i = 0; i < n; i++) {
                int a = ax == null ? i : ax[i];
                long st = steps == null ? 1 : steps[i];
                if (st == 0) throw new OpException("steps must not be 0 (axis " + a + ")");
                long d = s.dim(a);
                long b = starts[i], e = ends[i];
                // Negative starts/ends count from the back; then ONNX clamps them to the range the
                // step direction can address. The INT64 sentinels survive this without overflow.
                if (b < 0) b += d;
                if (e < 0) e += d;
                long c;
                if (st > 0) {
                    b = Math.clamp(b, 0, d);
                    e = Math.clamp(e, 0, d);
                    c = e > b ? (e - b - 1) / st + 1 : 0;
                } else {
                    b = Math.clamp(b, 0, Math.max(d - 1, 0));
                    e = Math.clamp(e, -1, d - 1);
                    c = b > e ? (b - e - 1) / -st + 1 : 0;
                    if (d == 0) c = 0;
                }
                start[a] = (int) b;
                // A step larger than the axis only matters for the first element; keep it in int range.
                step[a] = c <= 1 ? 1 : (int) st;
                count[a] = (int) c;
            }
            return new SlicePlan(start, step, count);
        }
    }

    static final class Slice extends BaseOp {
        Slice() {
            super(def("Slice", "takes elements start, start+step, ... before end along the given axes")
                    .inputs(3, 5, "data", "starts", "ends", "axes", "steps").traits(Trait.DATA_MOVEMENT));
        }

        static SlicePlan plan(Shape s, Tensor starts, Tensor ends, Tensor axes, Tensor steps) {
            return SlicePlan.of(s,
                    ShapeOps.readInts(starts, "starts", false, INDEX_TYPES),
                    ShapeOps.readInts(ends, "ends", false, INDEX_TYPES),
                    axes == null ? null : ShapeOps.readInts(axes, "axes", false, INDEX_TYPES),
                    steps == null ? null : ShapeOps.readInts(steps, "steps", false, INDEX_TYPES));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            SlicePlan p = plan(x.shape(), ctx.requireConstant(1, "starts"), ctx.requireConstant(2, "ends"),
                    ctx.hasInput(3) ? ctx.requireConstant(3, "axes") : null,
                    ctx.hasInput(4) ? ctx.requireConstant(4, "steps") : null);
            return List.of(TensorType.of(x.dtype(), p.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            SlicePlan p = plan(x.shape(), ctx.input(1), ctx.input(2),
                    ctx.hasInput(3) ? ctx.input(3) : null, ctx.hasInput(4) ? ctx.input(4) : null);
            Tensor out = Tensor.zeros(x.dtype(), p.shape());
            int[] inStrides = x.shape().strides();
            int[] strides = new int[inStrides.length];
            int offset = 0;
            for (int a = 0; a < strides.length; a++) {
                offset += p.start()[a] * inStrides[a];
                strides[a] = p.step()[a] * inStrides[a];
            }
            CopyKernels.copyStrided(CopyKernels.data(x), offset, p.count(), strides, CopyKernels.data(out), 0);
            return OpUtil.one(out);
        }
    }

    static final class Transpose extends BaseOp {
        Transpose() {
            super(def("Transpose", "permutes the dimensions: output dimension i is input dimension perm[i]")
                    .inputs(1, 1, "data").intsAttr("perm", "the permutation; default reverses the dimensions")
                    .traits(Trait.DATA_MOVEMENT));
        }

        private static int[] perm(long[] given, int r) {
            int[] p = new int[r];
            if (given == null) {
                for (int i = 0; i < r; i++) p[i] = r - 1 - i;
                return p;
            }
            String text = Arrays.toString(given).replace(" ", "");
            if (given.length != r) throw new OpException("perm " + text + " has " + given.length + " entries but the input has rank " + r);
            boolean[] seen = new boolean[r];
            for (int i = 0; i < r; i++) {
                long v = given[i];
                if (v < 0 || v >= r || seen[(int) v]) throw new OpException("perm " + text + " is not a permutation of 0.." + (r - 1));
                seen[(int) v] = true;
                p[i] = (int) v;
            }
            return p;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            int[] p = perm(ctx.attrs().getInts("perm"), x.rank());
            int[] dims = new int[p.length];
            for (int i = 0; i < p.length; i++) dims[i] = x.shape().dim(p[i]);
            return List.of(TensorType.of(x.dtype(), Shape.of(dims)));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            int[] p = perm(ctx.attrs().getInts("perm"), x.rank());
            int[] inStrides = x.shape().strides();
            int[] dims = new int[p.length], strides = new int[p.length];
            for (int i = 0; i < p.length; i++) {
                dims[i] = x.shape().dim(p[i]);
                strides[i] = inStrides[p[i]];
            }
            Tensor out = Tensor.zeros(x.dtype(), Shape.of(dims));
            CopyKernels.copyStrided(CopyKernels.data(x), 0, dims, strides, CopyKernels.data(out), 0);
            return OpUtil.one(out);
        }
    }

    static final class Expand extends BaseOp {
        Expand() {
            super(def("Expand", "broadcasts the input against a shape (numpy rules, in both directions)")
                    .inputs(2, 2, "input", "shape").traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            long[] spec = ShapeOps.readInts(ctx.requireConstant(1, "shape"), "shape", false, DType.I64);
            Shape target = ShapeOps.toShape(spec, "shape " + Arrays.toString(spec).replace(" ", ""));
            return List.of(TensorType.of(x.dtype(), OpUtil.broadcast(x.shape(), target)));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Shape os = ctx.outputType(0).shape();
            Tensor out = Tensor.zeros(x.dtype(), os);
            CopyKernels.copyStrided(CopyKernels.data(x), 0, os.dims(), broadcastStrides(x.shape(), os), CopyKernels.data(out), 0);
            return OpUtil.one(out);
        }
    }

    /** Strides that read a tensor of shape {@code in} as if broadcast to {@code out} (0 on broadcast dimensions). */
    static int[] broadcastStrides(Shape in, Shape out) {
        int r = out.rank(), off = r - in.rank();
        int[] s = new int[r];
        int[] inS = in.strides();
        for (int i = 0; i < in.rank(); i++) s[off + i] = in.dim(i) == 1 ? 0 : inS[i];
        return s;
    }

    /** Normalizes index v (negative counts from the back) into [0, size), or fails naming it. */
    private static int index(long v, int size, int axis, String where) {
        long k = v < 0 ? v + size : v;
        if (k < 0 || k >= size)
            throw new OpException("index " + v + " " + where + " is out of range for axis " + axis + " of size " + size
                    + " (allowed " + (-size) + " to " + (size - 1) + ")");
        return (int) k;
    }

    /** "at indices[1,2]": the position of flat element i in a tensor of shape s, for messages. */
    private static String at(Shape s, int i) {
        int[] pos = new int[s.rank()];
        for (int d = s.rank() - 1; d >= 0; d--) {
            pos[d] = i % s.dim(d);
            i /= s.dim(d);
        }
        return "at indices" + Arrays.toString(pos).replace(" ", "");
    }

    static final class Gather extends BaseOp {
        Gather() {
            super(def("Gather", "picks entries of data along axis by indices; the indices' shape replaces that axis")
                    .inputs(2, 2, "data", "indices").intAttr("axis", 0, "axis to gather along; negative counts from the back")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), idx = ctx.input(1);
            if (x.rank() == 0) throw new OpException("data must have rank >= 1, got a scalar");
            ShapeOps.requireDType("indices", idx.dtype(), INDEX_TYPES);
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
            Tensor c = ctx.constant(1);
            if (c != null) normalized(c, x.shape().dim(axis), axis);
            int[] xd = x.shape().dims(), id = idx.shape().dims();
            int[] dims = new int[xd.length - 1 + id.length];
            System.arraycopy(xd, 0, dims, 0, axis);
            System.arraycopy(id, 0, dims, axis, id.length);
            System.arraycopy(xd, axis + 1, dims, axis + id.length, xd.length - axis - 1);
            return List.of(TensorType.of(x.dtype(), Shape.of(dims)));
        }

        /** A gather reads the data entries it picks (an embedding lookup reads its rows, not the table): as many as it writes. */
        @Override public long elementsRead(InferenceContext ctx, int input) {
            if (input != 0) return -1;
            TensorType x = ctx.input(0), idx = ctx.input(1);
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
            long picked = idx.numElements();
            for (int d = 0; d < x.rank(); d++) if (d != axis) picked *= x.shape().dim(d);
            return Math.min(picked, x.numElements());
        }

        private static int[] normalized(Tensor indices, int size, int axis) {
            long[] v = indices.longs();
            int[] out = new int[v.length];
            for (int i = 0; i < v.length; i++) out[i] = index(v[i], size, axis, at(indices.shape(), i));
            return out;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Shape s = x.shape();
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), s.rank(), "axis");
            int[] idx = normalized(ctx.input(1), s.dim(axis), axis);
            Tensor out = Tensor.zeros(ctx.outputType(0));
            int outer = ShapeOps.product(s, 0, axis);
            int inner = ShapeOps.product(s, axis + 1, s.rank());
            int inBlock = s.dim(axis) * inner, outBlock = idx.length * inner;
            Object src = CopyKernels.data(x), dst = CopyKernels.data(out);
            if (inner == 1) {
                // one element per index: a take over precomputed positions beats per-element arraycopy
                int[] pos = new int[outer * idx.length];
                for (int o = 0, k = 0; o < outer; o++) for (int j : idx) pos[k++] = o * inBlock + j;
                CopyKernels.take(src, pos, dst);
            } else if (inner > 0) {
                for (int o = 0; o < outer; o++)
                    for (int j = 0; j < idx.length; j++)
                        System.arraycopy(src, o * inBlock + idx[j] * inner, dst, o * outBlock + j * inner, inner);
            }
            return OpUtil.one(out);
        }
    }

    static final class GatherElements extends BaseOp {
        GatherElements() {
            super(def("GatherElements", "out[i..] = data[i.. with the axis coordinate replaced by indices[i..]]")
                    .inputs(2, 2, "data", "indices").intAttr("axis", 0, "axis the indices address; negative counts from the back")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), idx = ctx.input(1);
            if (x.rank() == 0) throw new OpException("data must have rank >= 1, got a scalar");
            ShapeOps.requireDType("indices", idx.dtype(), INDEX_TYPES);
            if (idx.rank() != x.rank())
                throw new OpException("indices must have the same rank as data (" + x.rank() + "), got shape " + idx.shape());
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
            for (int d = 0; d < x.rank(); d++)
                if (d != axis && idx.shape().dim(d) > x.shape().dim(d))
                    throw new OpException("indices shape " + idx.shape() + " exceeds data shape " + x.shape() + " in dimension " + d
                            + " (only axis " + axis + " may differ freely)");
            Tensor c = ctx.constant(1);
            if (c != null) sourceIndex(x.shape(), c, axis);
            return List.of(TensorType.of(x.dtype(), idx.shape()));
        }

        /** For each element of indices, the flat position in data it reads. */
        private static int[] sourceIndex(Shape data, Tensor indices, int axis) {
            Shape is = indices.shape();
            int r = is.rank();
            int[] ds = data.strides();
            long[] v = indices.longs();
            int[] pos = new int[v.length];
            int[] counter = new int[r];
            int base = 0;   // flat data position of the current index tuple, axis coordinate excluded
            int size = data.dim(axis);
            for (int i = 0; i < v.length; i++) {
                pos[i] = base + index(v[i], size, axis, at(is, i)) * ds[axis];
                for (int d = r - 1; d >= 0; d--) {
                    counter[d]++;
                    if (d != axis) base += ds[d];
                    if (counter[d] < is.dim(d)) break;
                    if (d != axis) base -= ds[d] * counter[d];
                    counter[d] = 0;
                }
            }
            return pos;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), indices = ctx.input(1);
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
            Tensor out = Tensor.zeros(ctx.outputType(0));
            CopyKernels.take(CopyKernels.data(x), sourceIndex(x.shape(), indices, axis), CopyKernels.data(out));
            return OpUtil.one(out);
        }
    }

    static final class Where extends BaseOp {
        Where() {
            super(def("Where", "X where condition is true, else Y, with broadcasting")
                    .inputs(3, 3, "condition", "X", "Y").traits(Trait.ELEMENTWISE));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType c = ctx.input(0), x = ctx.input(1), y = ctx.input(2);
            ShapeOps.requireDType("condition", c.dtype(), DType.BOOL);
            OpUtil.requireSameDType("X and Y", x.dtype(), y.dtype());
            return List.of(TensorType.of(x.dtype(), OpUtil.broadcast(c.shape(), x.shape(), y.shape())));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor c = ctx.input(0), x = ctx.input(1), y = ctx.input(2);
            Tensor out = Tensor.zeros(ctx.outputType(0));
            Shape os = out.shape();
            CopyKernels.select(c.longs(), indexFor(c, os), CopyKernels.data(x), indexFor(x, os), CopyKernels.data(y), indexFor(y, os),
                    CopyKernels.data(out), out.size());
            return OpUtil.one(out);
        }

        private static int[] indexFor(Tensor t, Shape out) {
            return t.shape().equals(out) ? null : OpUtil.broadcastIndex(t.shape(), out);
        }
    }
}
