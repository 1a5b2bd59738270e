package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.NetworkBuilder.attrs;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/** Hand-checked values and error messages for the shape and data-movement ops of {@link TensorOps}. */
class TensorOpsTest {
    static final long I64_MAX = Long.MAX_VALUE, I64_MIN = Long.MIN_VALUE;

    // ---- helpers -----------------------------------------------------------------------------

    /** Builds a one-node graph whose inputs are constants (null = omitted), runs it, returns all outputs. */
    static List<Tensor> eval(String op, Attributes a, int numOutputs, Tensor... ins) {
        Graph g = graph(op, a, numOutputs, ins);
        return new ReferenceInterpreter().run(g, List.of());
    }

    static Tensor eval1(String op, Attributes a, Tensor... ins) { return eval(op, a, 1, ins).getFirst(); }

    static Graph graph(String op, Attributes a, int numOutputs, Tensor... ins) {
        NetworkBuilder b = new NetworkBuilder("t");
        Value[] vs = new Value[ins.length];
        for (int i = 0; i < ins.length; i++) vs[i] = ins[i] == null ? null : b.constant("c" + i, ins[i]);
        Node n = b.node(op, null, a, numOutputs, vs);
        return b.output(n.outputs().toArray(Value[]::new)).build();
    }

    /** The message of the failure building such a node. */
    static String error(String op, Attributes a, int numOutputs, Tensor... ins) {
        IrException e = assertThrows(IrException.class, () -> eval(op, a, numOutputs, ins));
        return e.getMessage();
    }

    static void assertMessage(String msg, String... parts) {
        for (String p : parts) assertTrue(msg.contains(p), () -> "message <" + msg + "> should contain <" + p + ">");
    }

    static Attributes none() { return Attributes.empty(); }

    static Tensor f32(int[] dims, float... v) { return Tensor.ofFloats(Shape.of(dims), v); }

    static int[] dims(int... d) { return d; }

    /** f32 tensor 0, 1, 2, ... of the given shape. */
    static Tensor iota(int... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return Tensor.ofFloats(s, v);
    }

    static Tensor i64(long... v) { return Tensor.ofLongs(DType.I64, Shape.of(v.length), v.clone()); }

    static Tensor i64(int[] dims, long... v) { return Tensor.ofLongs(DType.I64, Shape.of(dims), v.clone()); }

    static Tensor bool(int[] dims, long... v) { return Tensor.ofLongs(DType.BOOL, Shape.of(dims), v.clone()); }

    static void assertTensor(Tensor t, int[] dims, float... want) {
        assertEquals(Shape.of(dims), t.shape(), "shape");
        float[] got = new float[t.size()];
        for (int i = 0; i < got.length; i++) got[i] = t.getFloat(i);
        assertArrayEquals(want, got);
    }

    static void assertLongs(Tensor t, DType dtype, int[] dims, long... want) {
        assertEquals(dtype, t.dtype());
        assertEquals(Shape.of(dims), t.shape(), "shape");
        assertArrayEquals(want, t.longs());
    }

    // ---- registration ------------------------------------------------------------------------

    static final List<String> OPS = List.of("Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
            "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Where", "Constant", "ConstantOfShape", "Shape", "Identity", "Dropout",
            "Range", "Trilu", "CumSum", "CumProd", "OneHot", "TopK", "ScatterElements", "ScatterND", "TRT.EfficientNMS_TRT");
    static final Set<String> MOVEMENT = Set.of("Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
            "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Identity", "Trilu", "ScatterElements", "ScatterND");

    @Test void everyOpIsRegisteredWithItsTraits() {
        OpRegistry r = OpRegistry.global();
        for (String name : OPS) {
            OpSchema op = r.find(name).orElseThrow(() -> new AssertionError(name + " is not registered"));
            assertEquals("tessel-builtin", r.providerOf(name));
            assertEquals(MOVEMENT.contains(name), op.has(Trait.DATA_MOVEMENT), name + " DATA_MOVEMENT");
            assertEquals(name.equals("Identity") || name.equals("Dropout"), op.has(Trait.IDENTITY_AT_INFERENCE), name + " IDENTITY_AT_INFERENCE");
            assertEquals(name.equals("Where"), op.has(Trait.ELEMENTWISE), name + " ELEMENTWISE");
            assertTrue(op.has(Trait.PURE), name + " PURE");
        }
        assertEquals(OPS.size(), new TensorOps().ops().size());
    }

    // ---- Concat ------------------------------------------------------------------------------

    @Test void concatAlongEachAxis() {
        Tensor a = iota(2, 2), b = f32(dims(2, 1), 10, 11);
        assertTensor(eval1("Concat", attrs("axis", 1), a, b), dims(2, 3), 0, 1, 10, 2, 3, 11);
        assertTensor(eval1("Concat", attrs("axis", -1), a, b, b), dims(2, 4), 0, 1, 10, 10, 2, 3, 11, 11);
        Tensor c = f32(dims(1, 2), 7, 8);
        assertTensor(eval1("Concat", attrs("axis", -2), a, c), dims(3, 2), 0, 1, 2, 3, 7, 8);
        Tensor x = Tensor.ofLongs(DType.I8, Shape.of(2), 1, -2), y = Tensor.ofLongs(DType.I8, Shape.of(0));
        assertLongs(eval1("Concat", attrs("axis", 0), x, y, x), DType.I8, dims(4), 1, -2, 1, -2);
    }

    @Test void concatErrors() {
        assertMessage(error("Concat", attrs("axis", 0), 1, iota(2, 2), iota(2, 3)),
                "node 'concat'", "input 1 has shape [2,3]", "input 0's shape [2,2]", "axis 0");
        assertMessage(error("Concat", attrs("axis", 2), 1, iota(2, 2), iota(2, 2)), "axis 2 is out of range for rank 2");
        assertMessage(error("Concat", attrs("axis", 0), 1, iota(2), i64(1, 2)), "input 1 and input 0: element types differ (i64 vs f32)");
    }

    // ---- Split -------------------------------------------------------------------------------

    @Test void splitBySizesInput() {
        List<Tensor> out = eval("Split", attrs("axis", 1), 2, iota(2, 3), i64(2, 1));
        assertTensor(out.get(0), dims(2, 2), 0, 1, 3, 4);
        assertTensor(out.get(1), dims(2, 1), 2, 5);
        List<Tensor> z = eval("Split", attrs("axis", -1), 3, iota(1, 3), i64(0, 3, 0));
        assertTensor(z.get(0), dims(1, 0));
        assertTensor(z.get(1), dims(1, 3), 0, 1, 2);
        assertTensor(z.get(2), dims(1, 0));
    }

    @Test void splitNumOutputsLastChunkSmaller() {
        List<Tensor> out = eval("Split", attrs("num_outputs", 3), 3, iota(7));
        assertTensor(out.get(0), dims(3), 0, 1, 2);
        assertTensor(out.get(1), dims(3), 3, 4, 5);
        assertTensor(out.get(2), dims(1), 6);
        List<Tensor> four = eval("Split", attrs("num_outputs", 3), 3, iota(4));
        assertEquals(List.of(Shape.of(2), Shape.of(2), Shape.of(0)), four.stream().map(Tensor::shape).toList());
    }

    @Test void splitEquallyByOutputCount() {
        List<Tensor> out = eval("Split", none(), 2, iota(4, 1));
        assertTensor(out.get(0), dims(2, 1), 0, 1);
        assertTensor(out.get(1), dims(2, 1), 2, 3);
    }

    @Test void splitErrors() {
        assertMessage(error("Split", none(), 2, iota(5)), "size 5 cannot be split evenly into 2 outputs");
        assertMessage(error("Split", none(), 2, iota(5), i64(2, 2)), "split [2,2] sums to 4 but the axis has size 5");
        assertMessage(error("Split", none(), 3, iota(5), i64(2, 3)), "split [2,3] has 2 sizes but the node has 3 outputs");
        assertMessage(error("Split", attrs("num_outputs", 2), 2, iota(5), i64(2, 3)), "either the split input or the num_outputs attribute");
        assertMessage(error("Split", attrs("num_outputs", 4), 4, iota(5)), "cannot be split into 4 parts of 2");
        assertMessage(error("Split", attrs("num_outputs", 3), 2, iota(6)), "num_outputs is 3 but the node has 2 outputs");
    }

    // ---- Slice -------------------------------------------------------------------------------

    @Test void sliceBasicAndDefaults() {
        Tensor x = iota(3, 4);
        // rows 1..2, columns 0..3 step 2 (spec-style example)
        assertTensor(eval1("Slice", none(), x, i64(1, 0), i64(3, 4), i64(0, 1), i64(1, 2)), dims(2, 2), 4, 6, 8, 10);
        // axes and steps omitted: the leading axes, step 1
        assertTensor(eval1("Slice", none(), x, i64(1), i64(2)), dims(1, 4), 4, 5, 6, 7);
        // negative axis and negative start
        assertTensor(eval1("Slice", none(), x, i64(-2), i64(I64_MAX), i64(-1)), dims(3, 2), 2, 3, 6, 7, 10, 11);
        // i32 index inputs are allowed too
        Tensor s = Tensor.ofLongs(DType.I32, Shape.of(1), 1), e = Tensor.ofLongs(DType.I32, Shape.of(1), 3);
        assertTensor(eval1("Slice", none(), iota(4), s, e), dims(2), 1, 2);
    }

    @Test void sliceNegativeStepsAndClamping() {
        Tensor x = iota(5);
        // full reversal with the INT64 sentinels
        assertTensor(eval1("Slice", none(), x, i64(-1), i64(I64_MIN), i64(0), i64(-1)), dims(5), 4, 3, 2, 1, 0);
        // start beyond the end clamps to dim-1 for negative steps; end -1 would be dim-1, so use -6 (clamps to -1)
        assertTensor(eval1("Slice", none(), x, i64(100), i64(-6), i64(0), i64(-2)), dims(3), 4, 2, 0);
        // end beyond the dim clamps; start beyond the dim gives an empty result
        assertTensor(eval1("Slice", none(), x, i64(2), i64(1000)), dims(3), 2, 3, 4);
        assertTensor(eval1("Slice", none(), x, i64(1000), i64(1001)), dims(0));
        // reversed window start 3 down to (exclusive) 0
        assertTensor(eval1("Slice", none(), x, i64(3), i64(0), i64(0), i64(-1)), dims(3), 3, 2, 1);
        // huge step takes just the first element
        assertTensor(eval1("Slice", none(), x, i64(1), i64(I64_MAX), i64(0), i64(I64_MAX)), dims(1), 1);
        // 2-D: reverse rows, take every other column backwards
        assertTensor(eval1("Slice", none(), iota(2, 4), i64(I64_MAX, -1), i64(I64_MIN, I64_MIN), i64(0, 1), i64(-1, -2)),
                dims(2, 2), 7, 5, 3, 1);
    }

    @Test void sliceErrors() {
        assertMessage(error("Slice", none(), 1, iota(4), i64(0), i64(2), i64(0), i64(0)), "steps must not be 0");
        assertMessage(error("Slice", none(), 1, iota(4, 4), i64(0, 0), i64(2, 2), i64(1, -1)), "name axis 1 more than once");
        assertMessage(error("Slice", none(), 1, iota(4), i64(0, 0), i64(2)), "starts has 2 values but ends has 1");
        assertMessage(error("Slice", none(), 1, iota(4), i64(0), i64(2), i64(1)), "axes 1 is out of range for rank 1");
        Tensor f = Tensor.ofFloats(Shape.of(1), 0f);
        assertMessage(error("Slice", none(), 1, iota(4), f, i64(2)), "starts must be of type [i32,i64], got f32");
    }

    /** Slice against a per-element reference on random shapes and parameters. */
    @Test void sliceMatchesNaiveIndexing() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            int r = 1 + rnd.nextInt(4);
            int[] d = new int[r];
            for (int i = 0; i < r; i++) d[i] = 1 + rnd.nextInt(5);
            Tensor x = iota(d);
            long[] st = new long[r], en = new long[r], ax = new long[r], sp = new long[r];
            for (int i = 0; i < r; i++) {
                ax[i] = i - (rnd.nextBoolean() ? r : 0);
                st[i] = rnd.nextInt(-7, 8);
                en[i] = rnd.nextInt(-7, 8);
                sp[i] = rnd.nextBoolean() ? rnd.nextInt(1, 4) : -rnd.nextInt(1, 4);
            }
            Tensor got = eval1("Slice", none(), x, i64(st), i64(en), i64(ax), i64(sp));
            // naive: per axis list the selected indices with the spec's clamping
            List<int[]> picks = new ArrayList<>();
            for (int i = 0; i < r; i++) {
                int n = d[i];
                long s = st[i] < 0 ? st[i] + n : st[i], e = en[i] < 0 ? en[i] + n : en[i];
                List<Integer> p = new ArrayList<>();
                if (sp[i] > 0) {
                    s = Math.max(0, Math.min(n, s));
                    e = Math.max(0, Math.min(n, e));
                    for (long k = s; k < e; k += sp[i]) p.add((int) k);
                } else {
                    s = Math.max(0, Math.min(n - 1, s));
                    e = Math.max(-1, Math.min(n - 1, e));
                    for (long k = s; k > e; k += sp[i]) p.add((int) k);
                }
                picks.add(p.stream().mapToInt(Integer::intValue).toArray());
            }
            int[] od = picks.stream().mapToInt(p -> p.length).toArray();
            assertEquals(Shape.of(od), got.shape());
            int[] strides = Shape.of(d).strides();
            int[] c = new int[r];
            for (int k = 0; k < got.size(); k++) {
                int src = 0;
                for (int i = 0; i < r; i++) src += picks.get(i)[c[i]] * strides[i];
                assertEquals(src, got.getFloat(k), 0f);
                for (int i = r - 1; i >= 0 && ++c[i] == od[i]; i--) c[i] = 0;
            }
        }
    }

    // ---- Reshape, Flatten, Squeeze, Unsqueeze ---------------------------------------------------

    @Test void reshapeZeroAndMinusOne() {
        Tensor x = iota(2, 3, 4);
        assertTensor(eval1("Reshape", none(), x, i64(0, -1)), dims(2, 12), x.floats());
        assertTensor(eval1("Reshape", none(), x, i64(-1, 0, 2)), dims(4, 3, 2), x.floats());
        assertEquals(Shape.of(4, 6), eval1("Reshape", none(), x, i64(4, -1)).shape());
        // allowzero=1: a 0 is an empty dimension, and it works for empty inputs
        assertEquals(Shape.of(0, 3), eval1("Reshape", attrs("allowzero", 1), iota(3, 0), i64(0, 3)).shape());
        assertEquals(Shape.of(3, 0), eval1("Reshape", none(), iota(3, 0), i64(0, 0)).shape());
        assertEquals(Shape.of(), eval1("Reshape", none(), iota(1, 1), Tensor.ofLongs(DType.I64, Shape.of(0))).shape());
    }

    @Test void reshapeErrors() {
        assertMessage(error("Reshape", none(), 1, iota(2, 3), i64(4, 2)), "cannot reshape [2,3] (6 elements) to [4,2] (8 elements)");
        assertMessage(error("Reshape", none(), 1, iota(2, 3), i64(4, -1)), "cannot reshape [2,3] (6 elements) to [4,-1]");
        assertMessage(error("Reshape", none(), 1, iota(2, 3), i64(-1, -1)), "more than one -1");
        assertMessage(error("Reshape", none(), 1, iota(6), i64(-2, 3)), "invalid dimension -2");
        assertMessage(error("Reshape", attrs("allowzero", 1), 1, iota(0, 3), i64(0, -1)), "both 0 and -1");
        assertMessage(error("Reshape", none(), 1, iota(6), i64(1, 0)), "0 at index 1", "rank 1");
        Tensor i32 = Tensor.ofLongs(DType.I32, Shape.of(1), 6);
        assertMessage(error("Reshape", none(), 1, iota(6), i32), "shape must be of type [i64], got i32");
    }

    @Test void reshapeNeedsConstantShape() {
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.input("x", DType.F32, 6);
        Value s = b.input("s", DType.I64, 2);
        IrException e = assertThrows(IrException.class, () -> b.op("Reshape", none(), x, s));
        assertMessage(e.getMessage(), "node 'reshape' (Reshape)", "shape (input 1) must be a constant");
    }

    @Test void flattenAxes() {
        Tensor x = iota(2, 3, 4);
        assertEquals(Shape.of(1, 24), eval1("Flatten", attrs("axis", 0), x).shape());
        assertEquals(Shape.of(2, 12), eval1("Flatten", none(), x).shape());
        assertEquals(Shape.of(6, 4), eval1("Flatten", attrs("axis", -1), x).shape());
        assertEquals(Shape.of(24, 1), eval1("Flatten", attrs("axis", 3), x).shape());
        assertTensor(eval1("Flatten", attrs("axis", -3), x), dims(1, 24), x.floats());
        assertMessage(error("Flatten", attrs("axis", 4), 1, x), "axis 4 is out of range for rank 3 (allowed -3 to 3)");
    }

    @Test void squeezeAndUnsqueeze() {
        Tensor x = iota(1, 3, 1, 2);
        assertEquals(Shape.of(3, 2), eval1("Squeeze", none(), x).shape());
        assertEquals(Shape.of(1, 3, 2), eval1("Squeeze", none(), x, i64(-2)).shape());
        assertTensor(eval1("Squeeze", none(), x, i64(0, 2)), dims(3, 2), 0, 1, 2, 3, 4, 5);
        assertMessage(error("Squeeze", none(), 1, x, i64(1)), "cannot squeeze axis 1 of shape [1,3,1,2]: its size is 3");

        Tensor y = iota(2, 3);
        assertEquals(Shape.of(1, 2, 3, 1), eval1("Unsqueeze", none(), y, i64(0, -1)).shape());
        assertEquals(Shape.of(2, 1, 1, 3), eval1("Unsqueeze", none(), y, i64(2, 1)).shape());
        assertEquals(Shape.of(1), eval1("Unsqueeze", none(), Tensor.scalar(DType.F32, 5), Tensor.scalar(DType.I64, 0)).shape());
        assertTensor(eval1("Unsqueeze", none(), y, i64(1)), dims(2, 1, 3), 0, 1, 2, 3, 4, 5);
        assertMessage(error("Unsqueeze", none(), 1, y, i64(1, -3)), "name axis 1 more than once");
        assertMessage(error("Unsqueeze", none(), 1, y, i64(3)), "axes 3 is out of range for rank 3");
    }

    // ---- Transpose, Expand ---------------------------------------------------------------------

    @Test void transposeDefaultAndPerm() {
        assertTensor(eval1("Transpose", none(), iota(2, 3)), dims(3, 2), 0, 3, 1, 4, 2, 5);
        // [2,3,2] perm (1,0,2): blocks of the last axis stay contiguous
        assertTensor(eval1("Transpose", attrs("perm", new long[] {1, 0, 2}), iota(2, 3, 2)), dims(3, 2, 2),
                0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11);
        // [2,3,2] perm (2,0,1)
        assertTensor(eval1("Transpose", attrs("perm", new long[] {2, 0, 1}), iota(2, 3, 2)), dims(2, 2, 3),
                0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11);
        Tensor b = Tensor.ofLongs(DType.BOOL, Shape.of(2, 2), 1, 0, 0, 0);
        assertLongs(eval1("Transpose", none(), b), DType.BOOL, dims(2, 2), 1, 0, 0, 0);
        Tensor h = Tensor.ofFloats(DType.F16, Shape.of(1, 2), new float[] {1.5f, -2f});
        assertEquals(DType.F16, eval1("Transpose", none(), h).dtype());
    }

    /** Transpose against per-index reference on all permutations of a 4-D tensor. */
    @Test void transposeMatchesNaiveIndexing() {
        int[] d = {2, 3, 4, 5};
        Tensor x = iota(d);
        int[] xs = x.shape().strides();
        for (int[] p : permutations(4)) {
            Tensor y = eval1("Transpose", attrs("perm", p), x);
            int[] c = new int[4];
            for (int k = 0; k < y.size(); k++) {
                int src = 0;
                for (int i = 0; i < 4; i++) src += c[i] * xs[p[i]];
                assertEquals(src, y.getFloat(k), 0f);
                for (int i = 3; i >= 0 && ++c[i] == d[p[i]]; i--) c[i] = 0;
            }
        }
        assertMessage(error("Transpose", attrs("perm", new long[] {0, 0}), 1, iota(2, 2)), "perm [0,0] is not a permutation of 0..1");
        assertMessage(error("Transpose", attrs("perm", new long[] {0}), 1, iota(2, 2)), "perm [0] has 1 entries but the input has rank 2");
    }

    static List<int[]> permutations(int n) {
        List<int[]> out = new ArrayList<>();
        permute(new int[n], new boolean[n], 0, out);
        return out;
    }

    private static void permute(int[] p, boolean[] used, int k, List<int[]> out) {
        if (k == p.length) { out.add(p.clone()); return; }
        for (int i = 0; i < p.length; i++) if (!used[i]) { used[i] = true; p[k] = i; permute(p, used, k + 1, out); used[i] = false; }
    }

    @Test void expandBroadcastsBothWays() {
        Tensor x = f32(dims(3, 1), 1, 2, 3);
        assertTensor(eval1("Expand", none(), x, i64(2, 1, 2)), dims(2, 3, 2), 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
        // the shape may be smaller than the input's: bidirectional broadcast keeps [3,1] -> [3,4]
        assertTensor(eval1("Expand", none(), x, i64(4)), dims(3, 4), 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        assertTensor(eval1("Expand", none(), x, i64(1, 1)), dims(3, 1), 1, 2, 3);
        assertLongs(eval1("Expand", none(), i64(7), i64(3)), DType.I64, dims(3), 7, 7, 7);
        assertMessage(error("Expand", none(), 1, x, i64(2, 2)), "cannot be broadcast");
        assertMessage(error("Expand", none(), 1, x, i64(-1)), "negative dimension -1");
    }

    // ---- Tile (numpy.tile with one repeat per axis) ---------------------------------------------

    @Test void tileRepeatsEveryAxisAsNumpyTile() {
        // np.tile([[1, 2], [3, 4]], (2, 3))
        Tensor x = f32(dims(2, 2), 1, 2, 3, 4);
        assertTensor(eval1("Tile", none(), x, i64(2, 3)), dims(4, 6),
                1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4);
        assertTensor(eval1("Tile", none(), f32(dims(3), 1, 2, 3), i64(2)), dims(6), 1, 2, 3, 1, 2, 3);
        // np.tile(np.arange(4).reshape(2, 1, 2), (1, 2, 2))
        assertTensor(eval1("Tile", none(), iota(2, 1, 2), i64(1, 2, 2)), dims(2, 2, 4), 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3);
        // ones keep the input; a zero empties its axis; a scalar takes no repeats
        assertTensor(eval1("Tile", none(), iota(2, 3), i64(1, 1)), dims(2, 3), 0, 1, 2, 3, 4, 5);
        assertTensor(eval1("Tile", none(), iota(2, 3), i64(0, 4)), dims(0, 12));
        assertTensor(eval1("Tile", none(), iota(0, 2), i64(3, 2)), dims(0, 4));
        assertTensor(eval1("Tile", none(), Tensor.scalar(DType.F32, 5), Tensor.ofLongs(DType.I64, Shape.of(0))), dims(), 5);
    }

    @Test void tileMovesEveryElementType() {
        assertLongs(eval1("Tile", none(), i64(dims(2, 1), 7, -8), i64(1, 3)), DType.I64, dims(2, 3), 7, 7, 7, -8, -8, -8);
        assertLongs(eval1("Tile", none(), Tensor.ofLongs(DType.I32, Shape.of(2), 1, 2), i64(2)), DType.I32, dims(4), 1, 2, 1, 2);
        assertLongs(eval1("Tile", none(), bool(dims(2), 1, 0), i64(2)), DType.BOOL, dims(4), 1, 0, 1, 0);
        Tensor h = eval1("Tile", none(), Tensor.ofFloats(DType.F16, Shape.of(2), new float[] {0.5f, -1.25f}), i64(2));
        assertEquals(DType.F16, h.dtype());
        assertArrayEquals(new float[] {0.5f, -1.25f, 0.5f, -1.25f}, h.floats());
        Tensor d = eval1("Tile", none(), Tensor.ofDoubles(Shape.of(1, 2), 0.1, 0.2), i64(2, 1));
        assertArrayEquals(new double[] {0.1, 0.2, 0.1, 0.2}, d.doubles());
    }

    @Test void tileAgreesWithNumpyOnRandomShapes() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 50; trial++) {
            int rank = r.nextInt(5);
            int[] d = new int[rank];
            long[] rep = new long[rank];
            for (int i = 0; i < rank; i++) { d[i] = r.nextInt(4); rep[i] = r.nextInt(4); }
            Tensor x = iota(d);
            Tensor y = eval1("Tile", none(), x, Tensor.ofLongs(DType.I64, Shape.of(rank), rep));
            // numpy: out[o] = x[o mod d] per axis
            int[] os = y.shape().dims();
            for (int i = 0; i < rank; i++) assertEquals(d[i] * rep[i], os[i], "axis " + i);
            int[] xs = x.shape().strides();
            for (int o = 0; o < y.size(); o++) {
                int rem = o, src = 0;
                for (int a = rank - 1; a >= 0; a--) {
                    src += (rem % os[a]) % d[a] * xs[a];
                    rem /= os[a];
                }
                assertEquals(x.getFloat(src), y.getFloat(o), "element " + o);
            }
        }
    }

    @Test void tileRefusesBadRepeatsNamingTheNode() {
        Tensor x = iota(2, 3);
        assertMessage(error("Tile", none(), 1, x, i64(2)), "node 'tile' (Tile)", "repeats must be a 1-D tensor of 2 values (one per input axis), got shape [1]");
        assertMessage(error("Tile", none(), 1, x, i64(dims(1, 2), 1, 1)), "node 'tile'", "got shape [1,2]");
        assertMessage(error("Tile", none(), 1, x, i64(-1, 2)), "node 'tile'", "repeats [-1,2] has a negative count -1 for axis 0");
        assertMessage(error("Tile", none(), 1, x, Tensor.ofLongs(DType.I32, Shape.of(2), 1, 1)), "node 'tile'", "repeats must be of type [i64], got i32");
        assertMessage(error("Tile", none(), 1, x, i64(1, I64_MAX)), "node 'tile'", "axis 1 would have 3 x " + I64_MAX + " entries");
        assertMessage(error("Tile", none(), 1, x, i64(1 << 20, 1 << 20)), "node 'tile'", "too many elements");
        // a computed repeats: shapes are static, so shape inference needs its value
        NetworkBuilder b = new NetworkBuilder("t");
        Value in = b.input("x", DType.F32, 2, 3), rep = b.input("rep", DType.I64, 2);
        IrException e = assertThrows(IrException.class, () -> b.op("Tile", none(), in, rep));
        assertMessage(e.getMessage(), "node 'tile' (Tile)", "repeats (input 1) must be a constant: Tessel works with static shapes");
    }

    @Test void tileEvaluatesTheRepeatsItIsGiven() {
        // the reference reads repeats from its input (a fused body's repeats is a body input, say): the same values
        // give the node's type, other values are refused naming the node
        Graph g = graph("Tile", none(), 1, iota(2), i64(3));
        Node n = g.nodes().getFirst();
        ReferenceInterpreter ref = new ReferenceInterpreter();
        assertTensor(ref.evaluate(n, List.of(f32(dims(2), 4, 5), i64(3))).getFirst(), dims(6), 4, 5, 4, 5, 4, 5);
        IrException e = assertThrows(IrException.class, () -> ref.evaluate(n, List.of(f32(dims(2), 4, 5), i64(2))));
        assertMessage(e.getMessage(), "node 'tile'", "produced f32[4]");
        e = assertThrows(IrException.class, () -> ref.evaluate(n, List.of(f32(dims(2), 4, 5), i64(-3))));
        assertMessage(e.getMessage(), "node 'tile'", "negative count -3");
    }

    // ---- Gather, GatherElements ------------------------------------------------------------------

    @Test void gatherAxis0WithMatrixIndices() {
        Tensor data = f32(dims(3, 2), 1f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f);
        Tensor idx = i64(dims(2, 2), 0, 1, 1, 2);
        assertTensor(eval1("Gather", none(), data, idx), dims(2, 2, 2), 1f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f);
    }

    @Test void gatherAxis1NegativeAndScalarIndices() {
        Tensor data = iota(2, 3);
        Tensor idx = Tensor.ofLongs(DType.I32, Shape.of(1, 2), -1, 0);
        assertTensor(eval1("Gather", attrs("axis", 1), data, idx), dims(2, 1, 2), 2, 0, 5, 3);
        assertTensor(eval1("Gather", attrs("axis", -1), data, Tensor.scalar(DType.I64, -2)), dims(2), 1, 4);
        assertTensor(eval1("Gather", none(), data, Tensor.scalar(DType.I64, 1)), dims(3), 3, 4, 5);
        Tensor words = i64(dims(2, 2), 10, 11, 20, 21);
        assertLongs(eval1("Gather", none(), words, i64(1, 1, 0)), DType.I64, dims(3, 2), 20, 21, 20, 21, 10, 11);
    }

    @Test void gatherOutOfRange() {
        assertMessage(error("Gather", none(), 1, iota(3, 2), i64(dims(2, 2), 0, 1, 3, 0)),
                "index 3 at indices[1,0] is out of range for axis 0 of size 3 (allowed -3 to 2)");
        assertMessage(error("Gather", attrs("axis", 1), 1, iota(3, 2), i64(-3)), "index -3", "axis 1 of size 2");
        assertMessage(error("Gather", none(), 1, iota(3), Tensor.ofFloats(Shape.of(1), 0f)), "indices must be of type [i32,i64], got f32");
        // indices known only at run time are checked when the node runs
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.constant("x", iota(3));
        Value i = b.input("i", DType.I64, 1);
        Graph g = b.output(b.op("Gather", none(), x, i)).build();
        IrException e = assertThrows(IrException.class,
                () -> new ReferenceInterpreter().run(g, List.of(i64(5))));
        assertMessage(e.getMessage(), "node 'gather'", "index 5 at indices[0] is out of range for axis 0 of size 3");
    }

    @Test void gatherElements() {
        Tensor data = f32(dims(2, 2), 1, 2, 3, 4);
        assertTensor(eval1("GatherElements", attrs("axis", 1), data, i64(dims(2, 2), 0, 0, 1, 0)), dims(2, 2), 1, 1, 4, 3);
        Tensor d3 = iota(3, 3);
        assertTensor(eval1("GatherElements", none(), d3, i64(dims(2, 3), -1, -2, 0, -3, 2, 0)), dims(2, 3), 6, 4, 2, 0, 7, 2);
        // indices may be smaller than data in the other dimensions
        assertTensor(eval1("GatherElements", attrs("axis", -1), d3, i64(dims(1, 2), 2, 2)), dims(1, 2), 2, 2);
        assertMessage(error("GatherElements", attrs("axis", 1), 1, data, i64(dims(2, 1), 0, 2)),
                "index 2 at indices[1,0] is out of range for axis 1 of size 2");
        assertMessage(error("GatherElements", none(), 1, data, i64(0, 1)), "indices must have the same rank as data (2), got shape [2]");
        assertMessage(error("GatherElements", none(), 1, data, i64(dims(1, 3), 0, 0, 0)), "exceeds data shape [2,2] in dimension 1");
    }

    // ---- GatherND (the ONNX spec's examples, batch_dims, negative indices) ------------------------------

    static Attributes batchDims(long b) { return attrs("batch_dims", b); }

    @Test void gatherNdAsTheOnnxExamples() {
        Tensor d2 = Tensor.ofLongs(DType.I32, Shape.of(2, 2), 0, 1, 2, 3);
        assertLongs(eval1("GatherND", none(), d2, i64(dims(2, 2), 0, 0, 1, 1)), DType.I32, dims(2), 0, 3);
        assertLongs(eval1("GatherND", none(), d2, i64(dims(2, 1), 1, 0)), DType.I32, dims(2, 2), 2, 3, 0, 1);
        Tensor d3 = iota(2, 2, 2);
        assertTensor(eval1("GatherND", none(), d3, i64(dims(2, 2), 0, 1, 1, 0)), dims(2, 2), 2, 3, 4, 5);
        assertTensor(eval1("GatherND", none(), d3, i64(dims(2, 1, 2), 0, 1, 1, 0)), dims(2, 1, 2), 2, 3, 4, 5);
        assertTensor(eval1("GatherND", batchDims(1), d3, i64(dims(2, 1), 1, 0)), dims(2, 2), 2, 3, 4, 5);
    }

    @Test void gatherNdBatchDimsNegativeAndI32Indices() {
        // data[b][i][j] = 6b + 2i + j; one index per batch row picks a row of 2
        Tensor d = iota(2, 3, 2);
        assertTensor(eval1("GatherND", batchDims(1), d, i64(dims(2, 2, 1), 2, 0, 1, -1)), dims(2, 2, 2), 4, 5, 0, 1, 8, 9, 10, 11);
        // two batch axes: one element each
        assertTensor(eval1("GatherND", batchDims(2), iota(2, 2, 3), Tensor.ofLongs(DType.I32, Shape.of(2, 2, 1), 2, 0, 1, -2)), dims(2, 2), 2, 3, 7, 10);
        // negative coordinates count from the back of their axis
        assertTensor(eval1("GatherND", none(), iota(2, 2), i64(dims(1, 2), -1, -2)), dims(1), 2);
        // a full tuple of every axis picks scalars; an empty tuple picks the whole data
        assertTensor(eval1("GatherND", none(), iota(2, 3), Tensor.ofLongs(DType.I32, Shape.of(3, 2), 1, 2, 0, -3, 1, 0)), dims(3), 5, 0, 3);
        assertTensor(eval1("GatherND", none(), iota(3), Tensor.ofLongs(DType.I64, Shape.of(2, 0))), dims(2, 3), 0, 1, 2, 0, 1, 2);
        // no tuples: an empty output
        assertTensor(eval1("GatherND", none(), iota(3, 2), Tensor.ofLongs(DType.I64, Shape.of(0, 1))), dims(0, 2));
        assertLongs(eval1("GatherND", none(), i64(dims(2, 2), 5, 6, 7, 8), i64(dims(1, 1), 1)), DType.I64, dims(1, 2), 7, 8);
    }

    @Test void gatherNdRefusesBadInputsNamingTheNode() {
        Tensor d = iota(2, 2);
        assertMessage(error("GatherND", none(), 1, d, i64(dims(1, 2), 0, 2)), "node 'gathernd' (GatherND)",
                "index 2 at indices[0,1] is out of range for axis 1 of size 2 (allowed -2 to 1)");
        assertMessage(error("GatherND", none(), 1, d, i64(dims(1, 2), -3, 0)), "node 'gathernd'", "index -3 at indices[0,0] is out of range for axis 0 of size 2");
        assertMessage(error("GatherND", batchDims(2), 1, d, i64(dims(2, 1), 0, 0)), "node 'gathernd'",
                "attribute batch_dims 2 must be in [0, 1] (less than the ranks of data, 2, and indices, 2)");
        assertMessage(error("GatherND", batchDims(-1), 1, d, i64(dims(2, 1), 0, 0)), "node 'gathernd'", "attribute batch_dims -1 must be in [0, 1]");
        assertMessage(error("GatherND", batchDims(1), 1, d, i64(dims(3, 1), 0, 0, 0)), "node 'gathernd'",
                "batch axis 0 of indices [3,1] has 3 entries but data [2,2] has 2");
        assertMessage(error("GatherND", none(), 1, d, i64(dims(1, 3), 0, 0, 0)), "node 'gathernd'", "index tuples of length 3 (indices shape [1,3]) exceed data's rank 2");
        assertMessage(error("GatherND", batchDims(1), 1, d, i64(dims(2, 2), 0, 0, 0, 0)), "index tuples of length 2", "exceed data's rank 2 less batch_dims 1");
        assertMessage(error("GatherND", none(), 1, d, Tensor.scalar(DType.I64, 0)), "node 'gathernd'", "indices must have rank >= 1, got a scalar");
        assertMessage(error("GatherND", none(), 1, Tensor.scalar(DType.F32, 1), i64(0)), "data must have rank >= 1, got a scalar");
        assertMessage(error("GatherND", none(), 1, d, Tensor.ofFloats(Shape.of(1, 1), 0f)), "indices must be of type [i32,i64], got f32");
        // indices known only at run time are checked when the node runs
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.constant("x", iota(3, 2));
        Value i = b.input("i", DType.I64, 2, 1);
        Graph g = b.output(b.op("GatherND", none(), x, i)).build();
        assertTensor(new ReferenceInterpreter().run(g, List.of(i64(dims(2, 1), 2, -3))).getFirst(), dims(2, 2), 4, 5, 0, 1);
        IrException e = assertThrows(IrException.class, () -> new ReferenceInterpreter().run(g, List.of(i64(dims(2, 1), 0, 3))));
        assertMessage(e.getMessage(), "node 'gathernd'", "index 3 at indices[1,0] is out of range for axis 0 of size 3");
    }

    // ---- Where -----------------------------------------------------------------------------------

    @Test void whereBroadcasts() {
        Tensor c = bool(dims(2, 1), 1, 0);
        Tensor x = f32(dims(2, 2), 1, 2, 3, 4);
        Tensor y = Tensor.scalar(DType.F32, -1);
        assertTensor(eval1("Where", none(), c, x, y), dims(2, 2), 1, 2, -1, -1);
        Tensor c2 = bool(dims(2), 0, 1);
        assertLongs(eval1("Where", none(), c2, i64(dims(2), 5, 6), i64(dims(2, 1), 7, 8)), DType.I64, dims(2, 2), 7, 6, 8, 6);
        assertMessage(error("Where", none(), 1, x, x, x), "condition must be of type [bool], got f32");
        assertMessage(error("Where", none(), 1, c, x, i64(1)), "X and Y: element types differ");
        assertMessage(error("Where", none(), 1, c, x, iota(3)), "cannot be broadcast");
    }

    // ---- Constant, ConstantOfShape, Shape --------------------------------------------------------

    @Test void constantForms() {
        assertTensor(eval1("Constant", attrs("value_floats", new float[] {1.5f, 2f})), dims(2), 1.5f, 2f);
        assertTensor(eval1("Constant", attrs("value_float", 0.25f)), dims(), 0.25f);
        assertLongs(eval1("Constant", attrs("value_int", 7L)), DType.I64, dims(), 7);
        assertLongs(eval1("Constant", attrs("value_ints", new long[] {3, -4})), DType.I64, dims(2), 3, -4);
        Tensor t = Tensor.ofLongs(DType.U8, Shape.of(1, 2), 200, 3);
        assertTrue(t.dataEquals(eval1("Constant", attrs("value", t))));
        assertMessage(error("Constant", none(), 1), "needs exactly one of the attributes", "got none");
        assertMessage(error("Constant", attrs("value_int", 1L, "value_float", 1f), 1), "got [value_float, value_int]");
        assertMessage(error("Constant", attrs("value_string", "hi"), 1), "value_string holds strings");
    }

    @Test void constantOfShape() {
        assertTensor(eval1("ConstantOfShape", none(), i64(2, 2)), dims(2, 2), 0, 0, 0, 0);
        Tensor big = Tensor.ofLongs(DType.I64, Shape.of(1), (1L << 60) + 1);
        assertLongs(eval1("ConstantOfShape", attrs("value", big), i64(3)), DType.I64, dims(3), (1L << 60) + 1, (1L << 60) + 1, (1L << 60) + 1);
        Tensor half = Tensor.ofFloats(DType.F16, Shape.of(1), new float[] {0.5f});
        Tensor h = eval1("ConstantOfShape", attrs("value", half), i64(1, 2));
        assertEquals(DType.F16, h.dtype());
        assertTensor(h, dims(1, 2), 0.5f, 0.5f);
        // an empty shape gives a scalar; a 0 dimension an empty tensor
        assertEquals(Shape.scalar(), eval1("ConstantOfShape", none(), Tensor.ofLongs(DType.I64, Shape.of(0))).shape());
        assertEquals(Shape.of(0), eval1("ConstantOfShape", none(), i64(0)).shape());
        assertMessage(error("ConstantOfShape", attrs("value", iota(2)), 1, i64(3)), "exactly one element, got shape [2]");
        assertMessage(error("ConstantOfShape", none(), 1, i64(-3)), "negative dimension -3");
    }

    @Test void shapeWithStartAndEnd() {
        Tensor x = iota(2, 3, 4);
        assertLongs(eval1("Shape", none(), x), DType.I64, dims(3), 2, 3, 4);
        assertLongs(eval1("Shape", attrs("start", 1), x), DType.I64, dims(2), 3, 4);
        assertLongs(eval1("Shape", attrs("end", -1), x), DType.I64, dims(2), 2, 3);
        assertLongs(eval1("Shape", attrs("start", -2, "end", 100), x), DType.I64, dims(2), 3, 4);
        assertLongs(eval1("Shape", attrs("start", -10, "end", 1), x), DType.I64, dims(1), 2);
        assertLongs(eval1("Shape", attrs("start", 2, "end", 1), x), DType.I64, dims(0));
        assertLongs(eval1("Shape", none(), Tensor.scalar(DType.F32, 1)), DType.I64, dims(0));
    }

    // ---- Identity, Dropout -----------------------------------------------------------------------

    @Test void identityAndDropout() {
        Tensor x = iota(2, 2);
        assertTensor(eval1("Identity", none(), x), dims(2, 2), 0, 1, 2, 3);
        assertLongs(eval1("Identity", none(), i64(4)), DType.I64, dims(1), 4);
        List<Tensor> d = eval("Dropout", none(), 2, x, Tensor.scalar(DType.F32, 0.3), bool(dims(), 0));
        assertTensor(d.get(0), dims(2, 2), 0, 1, 2, 3);
        assertLongs(d.get(1), DType.BOOL, dims(2, 2), 1, 1, 1, 1);
        assertTensor(eval1("Dropout", attrs("seed", 3L), x), dims(2, 2), 0, 1, 2, 3);
        assertMessage(error("Dropout", none(), 1, x, null, bool(dims(), 1)), "training_mode is true");
        assertMessage(error("Dropout", none(), 1, i64(1)), "data must be of type [f16,f32,f64,bf16], got i64");
        assertMessage(error("Dropout", none(), 1, x, Tensor.scalar(DType.I64, 0)), "ratio must be of type");
    }

    @Test void dropoutTrainingModeCheckedAtRunTime() {
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.input("x", DType.F32, 2);
        Value m = b.input("m", DType.BOOL);
        Graph g = b.output(b.op("Dropout", none(), x, null, m)).build();
        Tensor in = iota(2);
        assertTensor(new ReferenceInterpreter().run(g, List.of(in, bool(dims(), 0))).getFirst(), dims(2), 0, 1);
        IrException e = assertThrows(IrException.class, () -> new ReferenceInterpreter().run(g, List.of(in, bool(dims(), 1))));
        assertMessage(e.getMessage(), "node 'dropout'", "training_mode is true");
    }

    // ---- ShapeOps helpers ------------------------------------------------------------------------

    @Test void shapeOpsHelpers() {
        assertEquals(Shape.of(2, 12), ShapeOps.reshapeTarget(Shape.of(2, 3, 4), new long[] {0, -1}, false));
        assertEquals(Shape.of(0, 12), ShapeOps.reshapeTarget(Shape.of(0, 12), new long[] {0, 12}, true));
        OpException e = assertThrows(OpException.class, () -> ShapeOps.reshapeTarget(Shape.of(2, 3), new long[] {5}, false));
        assertMessage(e.getMessage(), "cannot reshape [2,3] (6 elements) to [5] (5 elements)");
        assertArrayEquals(new int[] {2, 0, 1}, ShapeOps.normalizeAxes(new long[] {-1, 0, -2}, 3, "axes"));
        assertMessage(assertThrows(OpException.class, () -> ShapeOps.normalizeAxes(new long[] {3}, 3, "axes")).getMessage(),
                "axes 3 is out of range for rank 3 (allowed -3 to 2)");
        assertMessage(assertThrows(OpException.class, () -> ShapeOps.normalizeAxes(new long[] {0, -3}, 3, "axes")).getMessage(),
                "name axis 0 more than once");
    }
}
