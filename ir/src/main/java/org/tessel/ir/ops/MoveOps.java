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
 * Ops that copy elements into a new order: Concat, Split, Slice, Transpose, Expand, Tile, Gather,
 * GatherElements, GatherND and Where. Each infers its output shape from attributes and constant inputs as
 * ONNX (opset 21) defines it, and evaluates through the block and strided copies of
 * {@link CopyKernels}, so the reference interpreter moves whole rows with System.arraycopy.
 */
final class MoveOps {
    private MoveOps() {}

    static List<OpSchema> all() {
        return List.of(new Concat(), new Split(), new Slice(), new Transpose(), new Expand(), new Tile(), new Gather(), new GatherElements(),
                new GatherND(), new Where());
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

    /** Tile (opset 13, as numpy.tile with one repeat count per axis): output dimension i is input dimension i times repeats[i]. */
    static final class Tile extends BaseOp {
        Tile() {
            super(def("Tile", "repeats the input along every axis: output dimension i is input dimension i times repeats[i] (numpy.tile)")
                    .inputs(2, 2, "input", "repeats").traits(Trait.DATA_MOVEMENT));
        }

        /** The repeat counts of a Tile of a rank-{@code rank} input: a 1-D i64 tensor of {@code rank} non-negative values; fails naming what is wrong. */
        static long[] repeats(Tensor repeats, int rank) {
            long[] rep = ShapeOps.readInts(repeats, "repeats", false, DType.I64);
            String text = Arrays.toString(rep).replace(" ", "");
            if (rep.length != rank)
                throw new OpException("repeats " + text + " has " + rep.length + " values but the input has rank " + rank + " (one repeat count per axis)");
            for (int i = 0; i < rep.length; i++)
                if (rep[i] < 0) throw new OpException("repeats " + text + " has a negative count " + rep[i] + " for axis " + i);
            return rep;
        }

        /** The shape of {@code in} tiled by {@code repeats}. */
        static Shape shape(Shape in, Tensor repeats) {
            long[] rep = repeats(repeats, in.rank());
            String what = "the input " + in + " tiled by repeats " + Arrays.toString(rep).replace(" ", "");
            long[] dims = new long[rep.length];
            for (int i = 0; i < rep.length; i++) {
                long d = in.dim(i);
                if (d != 0 && rep[i] > Integer.MAX_VALUE) throw new OpException(what + ": axis " + i + " would have " + d + " x " + rep[i] + " entries");
                dims[i] = d * rep[i]; // both below 2^31: no overflow
            }
            return ShapeOps.toShape(dims, what);
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), rep = ctx.input(1);
            ShapeOps.requireDType("repeats", rep.dtype(), DType.I64);
            // checked on the type too, so a computed repeats of the wrong shape is refused for that, not for being computed
            if (rep.rank() != 1 || rep.shape().dim(0) != x.rank())
                throw new OpException("repeats must be a 1-D tensor of " + x.rank() + " values (one per input axis), got shape " + rep.shape());
            return List.of(TensorType.of(x.dtype(), shape(x.shape(), ctx.requireConstant(1, "repeats"))));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Shape in = x.shape();
            // the repeats are read again here: a computed input is fine as long as it agrees with the inferred type
            Shape os = shape(in, ctx.input(1));
            long[] rep = repeats(ctx.input(1), in.rank());
            Tensor out = Tensor.zeros(x.dtype(), os);
            // the output seen as [rep0, d0, rep1, d1, ...]: each repeat axis reads with stride 0, each input axis with its own
            int r = in.rank();
            int[] dims = new int[2 * r], strides = new int[2 * r], inS = in.strides();
            for (int i = 0; i < r; i++) {
                dims[2 * i] = os.dim(i) == 0 ? 0 : (int) rep[i];
                dims[2 * i + 1] = in.dim(i);
                strides[2 * i + 1] = inS[i];
            }
            CopyKernels.copyStrided(CopyKernels.data(x), 0, dims, strides, CopyKernels.data(out), 0);
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

    /**
     * GatherND (opsets 11 to 13; batch_dims from 12): with k = indices.shape[-1] and b = batch_dims, output[i..] for
     * the leading indices.shape[:-1] coordinates is the slice data[batch.., t0, .., tk-1, :], where batch is i's
     * first b coordinates (paired with data's first b axes) and t the index tuple at i (negative counts from the back).
     * The output's shape is indices.shape[:-1] followed by data.shape[b+k:].
     */
    static final class GatherND extends BaseOp {
        GatherND() {
            super(def("GatherND", "slices of data at the index tuples along indices' last axis, the first batch_dims axes of both paired")
                    .inputs(2, 2, "data", "indices")
                    .intAttr("batch_dims", 0, "number of leading axes of data and indices that are batch axes (paired, not indexed)")
                    .traits(Trait.DATA_MOVEMENT));
        }

        /** batch_dims of a GatherND of {@code data} by {@code indices}, checked: in [0, min(ranks)), the batch axes equal. */
        static int batchDims(long b, Shape data, Shape indices) {
            int r = data.rank(), q = indices.rank();
            if (r < 1) throw new OpException("data must have rank >= 1, got a scalar");
            if (q < 1) throw new OpException("indices must have rank >= 1, got a scalar");
            if (b < 0 || b >= Math.min(r, q))
                throw new OpException("attribute batch_dims " + b + " must be in [0, " + (Math.min(r, q) - 1) + "] (less than the ranks of data, " + r
                        + ", and indices, " + q + ")");
            for (int i = 0; i < b; i++)
                if (data.dim(i) != indices.dim(i))
                    throw new OpException("batch axis " + i + " of indices " + indices + " has " + indices.dim(i) + " entries but data " + data
                            + " has " + data.dim(i) + " (the first batch_dims " + b + " axes must be equal)");
            return (int) b;
        }

        /** The output shape: indices.shape[:-1], then data.shape[batch_dims + k:]; fails naming what is wrong. */
        static Shape outputShape(Shape data, Shape indices, long batchDims) {
            int b = batchDims(batchDims, data, indices);
            int r = data.rank(), q = indices.rank(), k = indices.dim(q - 1);
            if (k > r - b)
                throw new OpException("index tuples of length " + k + " (indices shape " + indices + ") exceed data's rank " + r
                        + (b > 0 ? " less batch_dims " + b + " (axes left to index: " + (r - b) + ")" : ""));
            int[] dims = new int[q - 1 + r - b - k];
            for (int i = 0; i < q - 1; i++) dims[i] = indices.dim(i);
            for (int i = b + k; i < r; i++) dims[q - 1 + i - b - k] = data.dim(i);
            return Shape.of(dims);
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), idx = ctx.input(1);
            ShapeOps.requireDType("indices", idx.dtype(), INDEX_TYPES);
            long b = ctx.attrs().getInt("batch_dims", 0);
            Shape s = outputShape(x.shape(), idx.shape(), b);
            Tensor c = ctx.constant(1);
            if (c != null) offsets(x.shape(), c, (int) b);
            return List.of(TensorType.of(x.dtype(), s));
        }

        /** A gather reads the slices it picks: as many data elements as it writes. */
        @Override public long elementsRead(InferenceContext ctx, int input) {
            if (input != 0) return -1;
            TensorType x = ctx.input(0);
            Shape out = outputShape(x.shape(), ctx.input(1).shape(), ctx.attrs().getInt("batch_dims", 0));
            return Math.min(out.numElements(), x.numElements());
        }

        /** For each index tuple (in indices' order), the flat offset in data of the slice it picks. */
        static int[] offsets(Shape data, Tensor indices, int b) {
            Shape is = indices.shape();
            int q = is.rank(), k = is.dim(q - 1), r = data.rank();
            int perBatch = ShapeOps.product(is, b, q - 1), batches = ShapeOps.product(is, 0, b), batchStride = ShapeOps.product(data, b, r);
            int[] ds = data.strides(), out = new int[batches * perBatch];
            long[] v = indices.longs();
            for (int t = 0; t < out.length; t++) {
                int p = t / perBatch * batchStride;
                for (int j = 0; j < k; j++) p += index(v[t * k + j], data.dim(b + j), b + j, at(is, t * k + j)) * ds[b + j];
                out[t] = p;
            }
            return out;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), indices = ctx.input(1);
            int b = batchDims(ctx.attrs().getInt("batch_dims", 0), x.shape(), indices.shape());
            int k = indices.shape().dim(-1), slice = ShapeOps.product(x.shape(), b + k, x.rank());
            int[] off = offsets(x.shape(), indices, b);
            Tensor out = Tensor.zeros(ctx.outputType(0));
            Object src = CopyKernels.data(x), dst = CopyKernels.data(out);
            if (slice == 1) CopyKernels.take(src, off, dst);
            else if (slice > 0) for (int t = 0; t < off.length; t++) System.arraycopy(src, off[t], dst, t * slice, slice);
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
