package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.NetworkBuilder.attrs;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * The NN ops checked against deliberately naive references written here (nested loops over
 * multi-indices, double accumulation) on random small shapes, against hand-computed values, and
 * for their error messages.
 */
class NnOpsTest {
    // ---- helpers -----------------------------------------------------------------------------

    /** Builds a one-node graph whose inputs are constants (null = omitted), runs it, returns all outputs. */
    static List<Tensor> eval(String op, Attributes a, int numOutputs, Tensor... ins) {
        NetworkBuilder b = new NetworkBuilder("t");
        Value[] vs = new Value[ins.length];
        for (int i = 0; i < ins.length; i++) vs[i] = ins[i] == null ? null : b.constant("c" + i, ins[i]);
        Node n = b.node(op, null, a, numOutputs, vs);
        Graph g = b.output(n.outputs().toArray(Value[]::new)).build();
        return new ReferenceInterpreter().run(g, List.of());
    }

    static Tensor eval1(String op, Attributes a, Tensor... ins) { return eval(op, a, 1, ins).getFirst(); }

    static String error(String op, Attributes a, Tensor... ins) {
        IrException e = assertThrows(IrException.class, () -> eval(op, a, 1, ins));
        return e.getMessage();
    }

    static void assertMessage(String msg, String... parts) {
        for (String p : parts) assertTrue(msg.contains(p), () -> "message <" + msg + "> should contain <" + p + ">");
    }

    static Tensor f32(int[] dims, double... v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return Tensor.ofFloats(Shape.of(dims), f);
    }

    static int[] d(int... v) { return v; }

    static Tensor random(SplittableRandom r, DType t, int... dims) {
        Tensor x = Tensor.zeros(t, Shape.of(dims));
        for (int i = 0; i < x.size(); i++) x.setDouble(i, r.nextDouble(-1, 1));
        return x;
    }

    static Tensor i64(long... v) { return Tensor.ofLongs(DType.I64, Shape.of(v.length), v); }

    static void assertClose(double[] want, Tensor got, double tol) {
        assertEquals(want.length, got.size(), "element count");
        for (int i = 0; i < want.length; i++) {
            double w = want[i], g = got.getDouble(i);
            int at = i;
            assertTrue(Math.abs(w - g) <= tol * Math.max(1, Math.abs(w)), () -> "element " + at + ": want " + w + ", got " + g);
        }
    }

    /** All multi-indices of dims in row-major order. */
    static List<int[]> indices(int[] dims) {
        List<int[]> out = new ArrayList<>();
        long n = 1;
        for (int x : dims) n *= x;
        int[] cur = new int[dims.length];
        for (long k = 0; k < n; k++) {
            out.add(cur.clone());
            for (int a = dims.length - 1; a >= 0; a--) {
                if (++cur[a] < dims[a]) break;
                cur[a] = 0;
            }
        }
        return out;
    }

    static int flat(int[] strides, int... idx) {
        int f = 0;
        for (int i = 0; i < idx.length; i++) f += idx[i] * strides[i];
        return f;
    }

    static int[] spatial(Shape s) {
        int[] v = new int[s.rank() - 2];
        for (int i = 0; i < v.length; i++) v[i] = s.dim(i + 2);
        return v;
    }

    static int[] join(int a, int b, int[] rest) {
        int[] o = new int[rest.length + 2];
        o[0] = a;
        o[1] = b;
        System.arraycopy(rest, 0, o, 2, rest.length);
        return o;
    }

    static int[] randomInts(SplittableRandom r, int n, int lo, int hi) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(lo, hi + 1);
        return v;
    }

    static int[] concat(int[] a, int[] b) {
        int[] o = new int[a.length + b.length];
        System.arraycopy(a, 0, o, 0, a.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    // ---- naive references --------------------------------------------------------------------

    static double[] naiveConv(Tensor x, Tensor w, Tensor b, int group, int[] s, int[] dl, int[] pb, int[] outDims) {
        int n = x.shape().dim(0), c = x.shape().dim(1), m = w.shape().dim(0);
        int cg = c / group, mg = m / group;
        int[] in = spatial(x.shape()), k = spatial(w.shape()), xs = x.shape().strides(), ws = w.shape().strides();
        double[] y = new double[n * m * indices(outDims).size()];
        int at = 0;
        for (int bn = 0; bn < n; bn++)
            for (int om = 0; om < m; om++)
                for (int[] o : indices(outDims)) {
                    double acc = b == null ? 0 : b.getDouble(om);
                    int g = om / mg;
                    for (int ic = 0; ic < cg; ic++)
                        for (int[] kk : indices(k)) {
                            boolean inside = true;
                            int xi = bn * xs[0] + (g * cg + ic) * xs[1], wi = om * ws[0] + ic * ws[1];
                            for (int a = 0; a < k.length; a++) {
                                int i = o[a] * s[a] - pb[a] + kk[a] * dl[a];
                                if (i < 0 || i >= in[a]) inside = false;
                                xi += i * xs[a + 2];
                                wi += kk[a] * ws[a + 2];
                            }
                            if (inside) acc += x.getDouble(xi) * w.getDouble(wi);
                        }
                    y[at++] = acc;
                }
        return y;
    }

    static double[] naiveConvTranspose(Tensor x, Tensor w, Tensor b, int group, int[] s, int[] dl, int[] pb, int[] outDims) {
        int n = x.shape().dim(0), c = x.shape().dim(1), mg = w.shape().dim(1), m = mg * group, cg = c / group;
        int[] in = spatial(x.shape()), k = spatial(w.shape()), xs = x.shape().strides(), ws = w.shape().strides();
        int[] ys = Shape.of(join(n, m, outDims)).strides();
        double[] y = new double[n * m * indices(outDims).size()];
        for (int bn = 0; bn < n; bn++)
            for (int om = 0; om < m; om++) {
                for (int[] o : indices(outDims)) y[flat(ys, join(bn, om, o))] = b == null ? 0 : b.getDouble(om);
            }
        for (int bn = 0; bn < n; bn++)
            for (int ic = 0; ic < c; ic++)
                for (int[] i : indices(in))
                    for (int om = 0; om < mg; om++)
                        for (int[] kk : indices(k)) {
                            int g = ic / cg;
                            int[] o = new int[in.length];
                            boolean inside = true;
                            for (int a = 0; a < in.length; a++) {
                                o[a] = i[a] * s[a] + kk[a] * dl[a] - pb[a];
                                if (o[a] < 0 || o[a] >= outDims[a]) inside = false;
                            }
                            if (!inside) continue;
                            double xv = x.getDouble(flat(xs, join(bn, ic, i))), wv = w.getDouble(flat(ws, join(ic, om, kk)));
                            y[flat(ys, join(bn, g * mg + om, o))] += xv * wv;
                        }
        return y;
    }

    /** Max or average pooling; avg divisor counts taps in [0,in) or, with includePad, in [-pb, in+pe). */
    static double[] naivePool(Tensor x, boolean max, boolean includePad, int[] k, int[] s, int[] dl, int[] pb, int[] pe, int[] outDims) {
        int[] in = spatial(x.shape()), xs = x.shape().strides();
        int planes = x.shape().dim(0) * x.shape().dim(1);
        double[] y = new double[planes * indices(outDims).size()];
        int at = 0;
        for (int p = 0; p < planes; p++)
            for (int[] o : indices(outDims)) {
                double best = Double.NEGATIVE_INFINITY, sum = 0;
                int inside = 0, counted = 0;
                for (int[] kk : indices(k)) {
                    boolean in1 = true, inPad = true;
                    int xi = p * xs[1];
                    for (int a = 0; a < k.length; a++) {
                        int i = o[a] * s[a] - pb[a] + kk[a] * dl[a];
                        if (i < 0 || i >= in[a]) in1 = false;
                        if (i < -pb[a] || i >= in[a] + pe[a]) inPad = false;
                        xi += i * xs[a + 2];
                    }
                    if (inPad) counted++;
                    if (!in1) continue;
                    double v = x.getDouble(xi);
                    best = Math.max(best, v);
                    sum += v;
                    inside++;
                }
                y[at++] = max ? best : sum / (includePad ? counted : inside);
            }
        return y;
    }

    static int poolOut(int in, int k, int s, int dl, int pb, int pe, boolean ceil) {
        int dk = (k - 1) * dl + 1, span = in + pb + pe - dk;
        int o = (ceil ? (span + s - 1) / s : span / s) + 1;
        if (ceil && (o - 1) * s >= in + pb) o--;
        return o;
    }

    static double[] naiveMatMul(Tensor a, Tensor b, int batches, int m, int k, int n, int[] ia, int[] ib) {
        double[] y = new double[batches * m * n];
        for (int bt = 0; bt < batches; bt++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int q = 0; q < k; q++) acc += a.getDouble(ia[bt] * m * k + i * k + q) * b.getDouble(ib[bt] * k * n + q * n + j);
                    y[(bt * m + i) * n + j] = acc;
                }
        return y;
    }

    // ---- Conv --------------------------------------------------------------------------------

    @Test
    void convMatchesNaiveOnRandomShapes() {
        SplittableRandom r = new SplittableRandom(1);
        int done = 0;
        while (done < 60) {
            int rank = 1 + done % 3;
            int group = r.nextInt(1, 4), cg = r.nextInt(1, 4), mg = r.nextInt(1, 4);
            if (done % 7 == 0) { cg = 1; mg = 1; group = r.nextInt(2, 6); } // depthwise
            int[] k = randomInts(r, rank, 1, 3), s = randomInts(r, rank, 1, 3), dl = randomInts(r, rank, 1, 2);
            int[] in = randomInts(r, rank, 1, rank == 3 ? 5 : 8), pb = randomInts(r, rank, 0, 2), pe = randomInts(r, rank, 0, 2);
            int[] out = new int[rank];
            boolean ok = true;
            for (int a = 0; a < rank; a++) {
                int span = in[a] + pb[a] + pe[a] - ((k[a] - 1) * dl[a] + 1);
                if (span < 0) ok = false;
                out[a] = span / s[a] + 1;
            }
            if (!ok) continue;
            int n = r.nextInt(1, 3);
            Tensor x = random(r, DType.F32, join(n, group * cg, in)), w = random(r, DType.F32, join(group * mg, cg, k));
            Tensor b = r.nextBoolean() ? random(r, DType.F32, group * mg) : null;
            Attributes a = attrs("group", group, "strides", s, "dilations", dl, "pads", concat(pb, pe));
            Tensor y = b == null ? eval1("Conv", a, x, w) : eval1("Conv", a, x, w, b);
            assertArrayEquals(join(n, group * mg, out), y.shape().dims());
            assertClose(naiveConv(x, w, b, group, s, dl, pb, out), y, 1e-5);
            done++;
        }
    }

    @Test
    void convLargeEnoughToCrossGemmBlocks() {
        SplittableRandom r = new SplittableRandom(2);
        // K = 20*9 = 180 > one K block, P = 900 > one N block, M = 7 leaves a 3-row tail
        Tensor x = random(r, DType.F32, 1, 20, 30, 30), w = random(r, DType.F32, 7, 20, 3, 3), b = random(r, DType.F32, 7);
        Tensor y = eval1("Conv", attrs("pads", d(1, 1, 1, 1)), x, w, b);
        assertClose(naiveConv(x, w, b, 1, d(1, 1), d(1, 1), d(1, 1), d(30, 30)), y, 1e-4);
        // the pointwise path (input used as the GEMM's B directly)
        Tensor w1 = random(r, DType.F32, 6, 20, 1, 1);
        Tensor y1 = eval1("Conv", Attributes.empty(), x, w1);
        assertClose(naiveConv(x, w1, null, 1, d(1, 1), d(1, 1), d(0, 0), d(30, 30)), y1, 1e-4);
        // 3-D with 800 output positions: the second panel starts inside a depth slice
        Tensor x3 = random(r, DType.F32, 1, 2, 9, 10, 8), w3 = random(r, DType.F32, 3, 2, 2, 3, 3);
        Tensor y3 = eval1("Conv", attrs("pads", d(1, 1, 1, 1, 1, 1)), x3, w3);
        assertArrayEquals(d(1, 3, 10, 10, 8), y3.shape().dims());
        assertClose(naiveConv(x3, w3, null, 1, d(1, 1, 1), d(1, 1, 1), d(1, 1, 1), d(10, 10, 8)), y3, 1e-4);
    }

    @Test
    void convF16AndF64() {
        SplittableRandom r = new SplittableRandom(3);
        Tensor x = random(r, DType.F16, 1, 4, 6, 6), w = random(r, DType.F16, 6, 2, 3, 3);
        Tensor y = eval1("Conv", attrs("group", 2, "strides", d(2, 1), "pads", d(1, 0, 0, 1)), x, w);
        assertEquals(DType.F16, y.dtype());
        assertArrayEquals(d(1, 6, 3, 5), y.shape().dims());
        assertClose(naiveConv(x, w, null, 2, d(2, 1), d(1, 1), d(1, 0), d(3, 5)), y, 2e-3);
        for (int i = 0; i < y.size(); i++) assertEquals(Tensor.round(DType.F16, y.floats()[i]), y.floats()[i], "f16 result is representable");

        Tensor xd = random(r, DType.F64, 2, 3, 5, 4, 3), wd = random(r, DType.F64, 3, 3, 2, 2, 2), bd = random(r, DType.F64, 3);
        Tensor yd = eval1("Conv", attrs("pads", d(1, 0, 1, 0, 1, 1), "dilations", d(1, 2, 1)), xd, wd, bd);
        assertEquals(DType.F64, yd.dtype());
        assertClose(naiveConv(xd, wd, bd, 1, d(1, 1, 1), d(1, 2, 1), d(1, 0, 1), d(5, 3, 4)), yd, 1e-12);
    }

    @Test
    void convAutoPad() {
        SplittableRandom r = new SplittableRandom(4);
        Tensor x = random(r, DType.F32, 1, 1, 5, 6), w = random(r, DType.F32, 1, 1, 3, 4);
        // SAME_UPPER, stride 2: out = ceil(in/2) = [3,3]; total pads H: (3-1)*2+3-5 = 2 -> 1,1; W: (3-1)*2+4-6 = 2 -> 1,1
        Tensor up = eval1("Conv", attrs("auto_pad", "SAME_UPPER", "strides", d(2, 2)), x, w);
        assertArrayEquals(d(1, 1, 3, 3), up.shape().dims());
        assertClose(naiveConv(x, w, null, 1, d(2, 2), d(1, 1), d(1, 1), d(3, 3)), up, 1e-5);
        // stride 1: total H = 2 (1,1), W = 3: UPPER puts the odd pixel at the end (1,2), LOWER at the start (2,1)
        Tensor u1 = eval1("Conv", attrs("auto_pad", "SAME_UPPER"), x, w);
        assertClose(naiveConv(x, w, null, 1, d(1, 1), d(1, 1), d(1, 1), d(5, 6)), u1, 1e-5);
        Tensor l1 = eval1("Conv", attrs("auto_pad", "SAME_LOWER"), x, w);
        assertClose(naiveConv(x, w, null, 1, d(1, 1), d(1, 1), d(1, 2), d(5, 6)), l1, 1e-5);
        Tensor valid = eval1("Conv", attrs("auto_pad", "VALID", "pads", d(5, 5, 5, 5)), x, w);
        assertArrayEquals(d(1, 1, 3, 3), valid.shape().dims());
    }

    @Test
    void convHandComputed() {
        // 3x3 input 0..8, 2x2 kernel of ones, no padding: sums of 2x2 blocks
        Tensor x = f32(d(1, 1, 3, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8), w = f32(d(1, 1, 2, 2), 1, 1, 1, 1);
        Tensor y = eval1("Conv", Attributes.empty(), x, w, f32(d(1), 10));
        assertArrayEquals(new float[] {18, 22, 30, 34}, y.floats());
    }

    @Test
    void convErrors() {
        Tensor x = Tensor.zeros(DType.F32, Shape.of(1, 3, 5, 5));
        assertMessage(error("Conv", Attributes.empty(), x, Tensor.zeros(DType.F32, Shape.of(4, 2, 3, 3))),
                "X [1,3,5,5] has 3 channels", "W [4,2,3,3]", "expects 2");
        assertMessage(error("Conv", attrs("group", 3), Tensor.zeros(DType.F32, Shape.of(1, 4, 5, 5)), Tensor.zeros(DType.F32, Shape.of(6, 1, 3, 3))),
                "group 3 does not divide the 4 input channels");
        assertMessage(error("Conv", attrs("group", 2), Tensor.zeros(DType.F32, Shape.of(1, 4, 5, 5)), Tensor.zeros(DType.F32, Shape.of(5, 2, 3, 3))),
                "group 2 does not divide the 5 output channels");
        assertMessage(error("Conv", attrs("auto_pad", "SAME"), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 3, 3))),
                "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got 'SAME'");
        assertMessage(error("Conv", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(3, 5)), Tensor.zeros(DType.F32, Shape.of(4, 3))),
                "input X must have rank 3 to 5", "[3,5]");
        assertMessage(error("Conv", Attributes.empty(), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 7, 7))), "kernel (7) is larger than the padded input (5)");
        assertMessage(error("Conv", Attributes.empty(), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 0, 3))), "the kernel) must be at least 1");
        assertMessage(error("Conv", attrs("strides", d(1)), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 3, 3))), "'strides' must have 2 values");
        assertMessage(error("Conv", attrs("kernel_shape", d(2, 2)), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 3, 3))), "does not match the spatial dims of W");
        assertMessage(error("Conv", Attributes.empty(), x, Tensor.zeros(DType.F32, Shape.of(4, 3, 3, 3)), Tensor.zeros(DType.F32, Shape.of(3))),
                "input B must have shape [4]");
        assertMessage(error("Conv", Attributes.empty(), Tensor.zeros(DType.I32, Shape.of(1, 3, 5, 5)), Tensor.zeros(DType.I32, Shape.of(4, 3, 3, 3))),
                "input X has element type i32");
        assertMessage(error("Conv", Attributes.empty(), x, Tensor.zeros(DType.F16, Shape.of(4, 3, 3, 3))), "input W has element type f16 but X is f32");
    }

    // ---- ConvTranspose -----------------------------------------------------------------------

    @Test
    void convTransposeMatchesNaiveOnRandomShapes() {
        SplittableRandom r = new SplittableRandom(5);
        for (int t = 0; t < 40; t++) {
            int rank = 1 + t % 3;
            int group = r.nextInt(1, 3), cg = r.nextInt(1, 4), mg = r.nextInt(1, 4);
            int[] k = randomInts(r, rank, 1, 3), s = randomInts(r, rank, 1, 3), dl = randomInts(r, rank, 1, 2);
            int[] in = randomInts(r, rank, 1, rank == 3 ? 4 : 6), pb = new int[rank], pe = new int[rank], op = new int[rank], out = new int[rank];
            for (int a = 0; a < rank; a++) {
                op[a] = r.nextInt(0, s[a]);
                int natural = s[a] * (in[a] - 1) + op[a] + (k[a] - 1) * dl[a] + 1;
                pb[a] = r.nextInt(0, Math.min(2, natural - 1) + 1);
                pe[a] = r.nextInt(0, Math.min(2, natural - 1 - pb[a]) + 1);
                out[a] = natural - pb[a] - pe[a];
            }
            int n = r.nextInt(1, 3);
            Tensor x = random(r, DType.F32, join(n, group * cg, in)), w = random(r, DType.F32, join(group * cg, mg, k));
            Tensor b = r.nextBoolean() ? random(r, DType.F32, group * mg) : null;
            Attributes a = attrs("group", group, "strides", s, "dilations", dl, "pads", concat(pb, pe), "output_padding", op);
            Tensor y = b == null ? eval1("ConvTranspose", a, x, w) : eval1("ConvTranspose", a, x, w, b);
            assertArrayEquals(join(n, group * mg, out), y.shape().dims());
            assertClose(naiveConvTranspose(x, w, b, group, s, dl, pb, out), y, 1e-5);
        }
    }

    @Test
    void convTransposeOutputShapeAndAutoPad() {
        SplittableRandom r = new SplittableRandom(6);
        Tensor x = random(r, DType.F32, 1, 1, 3, 3), w = random(r, DType.F32, 1, 2, 3, 3);
        // natural size 3*(3-1)+3 = 9 by 2*(3-1)+3 = 7; output_shape [10,8] gives total pads -1: the extra row/column at the end
        Tensor y = eval1("ConvTranspose", attrs("strides", d(3, 2), "output_shape", d(10, 8)), x, w);
        assertArrayEquals(d(1, 2, 10, 8), y.shape().dims());
        assertClose(naiveConvTranspose(x, w, null, 1, d(3, 2), d(1, 1), d(0, 0), d(10, 8)), y, 1e-5);
        // SAME_UPPER: out = in * stride = 6, total = 2*2+3-6 = 1 -> begin 0
        Tensor up = eval1("ConvTranspose", attrs("strides", d(2, 2), "auto_pad", "SAME_UPPER"), x, w);
        assertArrayEquals(d(1, 2, 6, 6), up.shape().dims());
        assertClose(naiveConvTranspose(x, w, null, 1, d(2, 2), d(1, 1), d(0, 0), d(6, 6)), up, 1e-5);
        Tensor low = eval1("ConvTranspose", attrs("strides", d(2, 2), "auto_pad", "SAME_LOWER"), x, w);
        assertClose(naiveConvTranspose(x, w, null, 1, d(2, 2), d(1, 1), d(1, 1), d(6, 6)), low, 1e-5);
        // hand-computed: 1-D, x = [1,2], w = [1,10], stride 2 -> [1,10,2,20]
        Tensor h = eval1("ConvTranspose", attrs("strides", d(2)), f32(d(1, 1, 2), 1, 2), f32(d(1, 1, 2), 1, 10));
        assertArrayEquals(new float[] {1, 10, 2, 20}, h.floats());
    }

    @Test
    void convTransposeErrors() {
        assertMessage(error("ConvTranspose", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(1, 3, 4, 4)), Tensor.zeros(DType.F32, Shape.of(2, 3, 3, 3))),
                "X [1,3,4,4] has 3 channels", "W [2,3,3,3] expects 2");
        assertMessage(error("ConvTranspose", attrs("group", 2), Tensor.zeros(DType.F32, Shape.of(1, 3, 4, 4)), Tensor.zeros(DType.F32, Shape.of(3, 1, 3, 3))),
                "group 2 does not divide the 3 input channels");
        assertMessage(error("ConvTranspose", attrs("auto_pad", "bogus"), Tensor.zeros(DType.F32, Shape.of(1, 3, 4, 4)), Tensor.zeros(DType.F32, Shape.of(3, 1, 3, 3))),
                "got 'bogus'");
    }

    // ---- pools -------------------------------------------------------------------------------

    @Test
    void poolsMatchNaiveOnRandomShapes() {
        SplittableRandom r = new SplittableRandom(7);
        int done = 0;
        while (done < 60) {
            int rank = 1 + done % 3;
            int[] k = randomInts(r, rank, 1, 3), s = randomInts(r, rank, 1, 3), dl = randomInts(r, rank, 1, 2);
            int[] in = randomInts(r, rank, 1, rank == 3 ? 5 : 8), pb = new int[rank], pe = new int[rank], out = new int[rank];
            boolean ceil = r.nextBoolean(), includePad = r.nextBoolean(), ok = true;
            for (int a = 0; a < rank; a++) {
                pb[a] = r.nextInt(0, k[a]);
                pe[a] = r.nextInt(0, k[a]);
                if (in[a] + pb[a] + pe[a] < (k[a] - 1) * dl[a] + 1) ok = false;
                else out[a] = poolOut(in[a], k[a], s[a], dl[a], pb[a], pe[a], ceil);
            }
            if (!ok) continue;
            // a window lying wholly in the padding has no defined maximum; skip those draws
            Tensor x = random(r, DType.F32, join(2, 2, in));
            Attributes a = attrs("kernel_shape", k, "strides", s, "dilations", dl, "pads", concat(pb, pe), "ceil_mode", ceil ? 1 : 0);
            double[] mx = naivePool(x, true, false, k, s, dl, pb, pe, out);
            boolean defined = true;
            for (double v : mx) if (v == Double.NEGATIVE_INFINITY) defined = false;
            if (!defined) continue;
            List<Tensor> m = eval("MaxPool", a, 2, x);
            assertArrayEquals(join(2, 2, out), m.get(0).shape().dims());
            assertClose(mx, m.get(0), 0);
            for (int i = 0; i < m.get(0).size(); i++) assertEquals(m.get(0).getDouble(i), x.getDouble((int) m.get(1).getLong(i)), "value at index");
            Tensor avg = eval1("AveragePool", a.with("count_include_pad", org.tessel.api.AttrValue.of(includePad ? 1L : 0L)), x);
            assertClose(naivePool(x, false, includePad, k, s, dl, pb, pe, out), avg, 1e-6);
            done++;
        }
    }

    @Test
    void poolsHandComputed() {
        Tensor x = f32(d(1, 1, 4, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
        List<Tensor> m = eval("MaxPool", attrs("kernel_shape", d(2, 2), "strides", d(2, 2)), 2, x);
        assertArrayEquals(new float[] {6, 8, 14, 16}, m.get(0).floats());
        assertArrayEquals(new long[] {5, 7, 13, 15}, m.get(1).longs());
        // column-major indices: (h, w) -> h + w * H
        List<Tensor> cm = eval("MaxPool", attrs("kernel_shape", d(2, 2), "strides", d(2, 2), "storage_order", 1), 2, x);
        assertArrayEquals(new long[] {5, 13, 7, 15}, cm.get(1).longs());
        // ceil_mode on 4x4 with 3x3/2: out 2x2 (floor would give 1x1)
        Tensor c = eval1("MaxPool", attrs("kernel_shape", d(3, 3), "strides", d(2, 2), "ceil_mode", 1), x);
        assertArrayEquals(new float[] {11, 12, 15, 16}, c.floats());
        // count_include_pad: corner window of 3x3 with pad 1 sees 1,2,5,6
        Tensor a0 = eval1("AveragePool", attrs("kernel_shape", d(3, 3), "pads", d(1, 1, 1, 1)), x);
        assertEquals(3.5f, a0.floats()[0]);
        Tensor a1 = eval1("AveragePool", attrs("kernel_shape", d(3, 3), "pads", d(1, 1, 1, 1), "count_include_pad", 1), x);
        assertEquals(14f / 9, a1.floats()[0], 1e-6);
        Tensor g = eval1("GlobalAveragePool", Attributes.empty(), x);
        assertArrayEquals(d(1, 1, 1, 1), g.shape().dims());
        assertEquals(8.5f, g.floats()[0]);
        Tensor g3 = eval1("GlobalAveragePool", Attributes.empty(), f32(d(1, 2, 1, 1, 2), 1, 2, 3, 5));
        assertArrayEquals(new float[] {1.5f, 4}, g3.floats());
        Tensor u8 = eval1("MaxPool", attrs("kernel_shape", d(2)), Tensor.ofLongs(DType.U8, Shape.of(1, 1, 3), 7, 255, 3));
        assertArrayEquals(new long[] {255, 255}, u8.longs());
    }

    @Test
    void poolErrors() {
        Tensor x = Tensor.zeros(DType.F32, Shape.of(1, 1, 4, 4));
        assertMessage(error("MaxPool", attrs("kernel_shape", d(2)), x), "'kernel_shape' must have 2 values");
        assertMessage(error("AveragePool", attrs("kernel_shape", d(2, 2), "auto_pad", "SAME"), x), "got 'SAME'");
        assertMessage(error("AveragePool", attrs("kernel_shape", d(2, 2)), Tensor.zeros(DType.U8, Shape.of(1, 1, 4, 4))), "input X has element type u8");
        assertMessage(error("MaxPool", attrs("kernel_shape", d(2, 2), "pads", d(1, 1)), x), "'pads' must have 4 values");
    }

    // ---- Gemm and MatMul ---------------------------------------------------------------------

    @Test
    void gemmMatchesNaive() {
        SplittableRandom r = new SplittableRandom(8);
        for (int t = 0; t < 40; t++) {
            int m = r.nextInt(1, 9), k = r.nextInt(1, 150), n = r.nextInt(1, 9);
            if (t % 10 == 0) { k = 300; n = 600; } // crosses the kernel's panel blocks
            boolean ta = r.nextBoolean(), tb = r.nextBoolean();
            float alpha = (float) r.nextDouble(-2, 2), beta = (float) r.nextDouble(-2, 2);
            Tensor a = random(r, DType.F32, ta ? d(k, m) : d(m, k)), b = random(r, DType.F32, tb ? d(n, k) : d(k, n));
            int[][] cShapes = {{}, {n}, {1, n}, {m, 1}, {m, n}, {1}};
            int[] cs = cShapes[t % cShapes.length];
            Tensor c = t % 7 == 0 ? null : random(r, DType.F32, cs);
            Attributes at = attrs("alpha", alpha, "beta", beta, "transA", ta ? 1 : 0, "transB", tb ? 1 : 0);
            Tensor y = c == null ? eval1("Gemm", at, a, b) : eval1("Gemm", at, a, b, c);
            int[] cIdx = c == null ? null : OpUtil.broadcastIndex(c.shape(), Shape.of(m, n));
            double[] want = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int q = 0; q < k; q++) acc += a.getDouble(ta ? q * m + i : i * k + q) * b.getDouble(tb ? j * k + q : q * n + j);
                    want[i * n + j] = alpha * acc + (c == null ? 0 : beta * c.getDouble(cIdx[i * n + j]));
                }
            assertClose(want, y, 1e-4);
        }
    }

    @Test
    void gemmIntegersAndErrors() {
        Tensor a = Tensor.ofLongs(DType.I32, Shape.of(1, 2), 2_000_000_000L, 3), b = Tensor.ofLongs(DType.I32, Shape.of(2, 1), 2, 1);
        // 4e9 + 3 wraps in i32
        assertEquals((long) (int) (4_000_000_003L), eval1("Gemm", Attributes.empty(), a, b).longs()[0]);
        Tensor c = Tensor.ofLongs(DType.I64, Shape.of(2), 10, 20);
        Tensor y = eval1("Gemm", attrs("transA", 1), Tensor.ofLongs(DType.I64, Shape.of(1, 2), 1, 2), Tensor.ofLongs(DType.I64, Shape.of(1, 2), 3, 4), c);
        assertArrayEquals(new long[] {13, 24, 16, 28}, y.longs());
        assertMessage(error("Gemm", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 3)), Tensor.zeros(DType.F32, Shape.of(4, 5))),
                "A [2,3] has 3 columns but B [4,5] has 4 rows");
        assertMessage(error("Gemm", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 3)), Tensor.zeros(DType.F32, Shape.of(3, 5)), Tensor.zeros(DType.F32, Shape.of(3, 5))),
                "input C of shape [3,5] cannot be broadcast to [2,5]");
        assertMessage(error("Gemm", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 3, 1)), Tensor.zeros(DType.F32, Shape.of(3, 5))), "input A must have rank 2");
        assertMessage(error("Gemm", attrs("transA", 2), Tensor.zeros(DType.F32, Shape.of(2, 3)), Tensor.zeros(DType.F32, Shape.of(3, 5))), "'transA' must be 0 or 1");
    }

    @Test
    void matMulMatchesNaiveWithBroadcasting() {
        SplittableRandom r = new SplittableRandom(9);
        int[][][] cases = {
            {{3, 4}, {4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{4}, {4, 3}}, {{2, 3, 4}, {4}}, {{4}, {4}},
            {{3, 2, 4}, {4, 6}}, {{1, 5, 7}, {3, 7, 2}}, {{6, 130}, {130, 520}}, {{2, 3, 5, 4}, {1, 3, 4, 2}},
        };
        for (int[][] c : cases) {
            Tensor a = random(r, DType.F32, c[0]), b = random(r, DType.F32, c[1]);
            Tensor y = eval1("MatMul", Attributes.empty(), a, b);
            MatMulOp.Dims dm = MatMulOp.dims(a.shape(), b.shape());
            int batches = (int) dm.batch().numElements();
            double[] want = naiveMatMul(a, b, batches, dm.m(), dm.k(), dm.n(),
                    OpUtil.broadcastIndex(dm.batchA(), dm.batch()), OpUtil.broadcastIndex(dm.batchB(), dm.batch()));
            assertClose(want, y, 1e-4);
        }
        assertArrayEquals(d(2, 5, 3, 2), eval1("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 1, 3, 4)), Tensor.zeros(DType.F32, Shape.of(5, 4, 2))).shape().dims());
        assertArrayEquals(d(3), eval1("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(4)), Tensor.zeros(DType.F32, Shape.of(4, 3))).shape().dims());
        assertArrayEquals(d(2, 3), eval1("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 3, 4)), Tensor.zeros(DType.F32, Shape.of(4))).shape().dims());
        assertArrayEquals(d(), eval1("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(4)), Tensor.zeros(DType.F32, Shape.of(4))).shape().dims());
    }

    @Test
    void matMulIntegersBf16AndErrors() {
        Tensor a = Tensor.ofLongs(DType.I64, Shape.of(2, 2), 1, 2, 3, 4), b = Tensor.ofLongs(DType.I64, Shape.of(2, 2), 5, 6, 7, 8);
        assertArrayEquals(new long[] {19, 22, 43, 50}, eval1("MatMul", Attributes.empty(), a, b).longs());
        Tensor big = Tensor.ofLongs(DType.I32, Shape.of(1, 1), 70_000), big2 = Tensor.ofLongs(DType.I32, Shape.of(1, 1), 70_000);
        assertEquals((long) (int) (70_000L * 70_000L), eval1("MatMul", Attributes.empty(), big, big2).longs()[0]);
        Tensor h = eval1("MatMul", Attributes.empty(), Tensor.ofFloats(DType.BF16, Shape.of(1, 3), new float[] {1, 1, 1}),
                Tensor.ofFloats(DType.BF16, Shape.of(3, 1), new float[] {1f / 3, 1f / 3, 1f / 3}));
        assertEquals(DType.BF16, h.dtype());
        assertEquals(Tensor.roundBf16(h.floats()[0]), h.floats()[0]);
        assertEquals(1.0, h.floats()[0], 1e-2);
        assertMessage(error("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 3)), Tensor.zeros(DType.F32, Shape.of(4, 5))),
                "inner dimensions differ", "A [2,3] has 3 columns", "B [4,5] has 4 rows");
        assertMessage(error("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 2, 3)), Tensor.zeros(DType.F32, Shape.of(3, 3, 4))),
                "batch dimensions of A [2,2,3] and B [3,3,4] cannot be broadcast");
        assertMessage(error("MatMul", Attributes.empty(), Tensor.zeros(DType.U8, Shape.of(2, 2)), Tensor.zeros(DType.U8, Shape.of(2, 2))), "input A has element type u8");
        assertMessage(error("MatMul", Attributes.empty(), Tensor.zeros(DType.F32, Shape.of(2, 2)), Tensor.zeros(DType.F64, Shape.of(2, 2))), "input B has element type f64 but A is f32");
    }

    // ---- normalization -----------------------------------------------------------------------

    @Test
    void batchNormHandComputed() {
        Tensor x = f32(d(1, 2, 1, 2), 1, 2, 3, 4);
        Tensor y = eval1("BatchNormalization", attrs("epsilon", 0f), x, f32(d(2), 1, 2), f32(d(2), 0, 1), f32(d(2), 1, 3), f32(d(2), 4, 1));
        assertArrayEquals(new float[] {0, 0.5f, 1, 3}, y.floats());
        Tensor y2 = eval1("BatchNormalization", Attributes.empty(), f32(d(2, 1), 1, 3), f32(d(1), 1), f32(d(1), 0), f32(d(1), 0), f32(d(1), 1));
        assertEquals(1 / Math.sqrt(1 + 1e-5), y2.floats()[0], 1e-6);
    }

    @Test
    void batchNormErrors() {
        Tensor x = Tensor.zeros(DType.F32, Shape.of(1, 2, 3, 3)), p = Tensor.zeros(DType.F32, Shape.of(2));
        assertMessage(error("BatchNormalization", attrs("training_mode", 1), x, p, p, p, p), "training_mode=1 is not supported");
        assertMessage(error("BatchNormalization", Attributes.empty(), x, p, Tensor.zeros(DType.F32, Shape.of(3)), p, p), "input B must have shape [2]");
        IrException e = assertThrows(IrException.class, () -> eval("BatchNormalization", Attributes.empty(), 3, x, p, p, p, p));
        assertMessage(e.getMessage(), "exist only in training mode");
    }

    @Test
    void lrnHandComputed() {
        Tensor x = f32(d(1, 3, 1, 1), 1, 2, 3);
        // alpha/size = 1, beta = 1, bias = 1: y = x / (1 + sum of squares over the channel window)
        Tensor y = eval1("LRN", attrs("size", 3, "alpha", 3f, "beta", 1f), x);
        assertClose(new double[] {1.0 / 6, 2.0 / 15, 3.0 / 14}, y, 1e-6);
        // size 2: window is [c, c+1]
        Tensor y2 = eval1("LRN", attrs("size", 2, "alpha", 2f, "beta", 1f, "bias", 0f), x);
        assertClose(new double[] {1.0 / 5, 2.0 / 13, 3.0 / 9}, y2, 1e-6);
        Tensor y3 = eval1("LRN", attrs("size", 1, "alpha", 1f, "beta", 0.5f, "bias", 0f), x);
        assertClose(new double[] {1, 1, 1}, y3, 1e-6);
        assertMessage(error("LRN", attrs("size", 0), x), "'size' must be at least 1");
    }

    // ---- Pad ---------------------------------------------------------------------------------

    @Test
    void padModesHandComputed() {
        Tensor x = f32(d(3, 2), 1.0, 1.2, 2.3, 3.4, 4.5, 5.7);
        Tensor pads = i64(0, 2, 0, 0);
        assertArrayEquals(new float[] {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f},
                eval1("Pad", attrs("mode", "reflect"), x, pads).floats());
        assertArrayEquals(new float[] {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f},
                eval1("Pad", attrs("mode", "edge"), x, pads).floats());
        assertArrayEquals(new float[] {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f},
                eval1("Pad", attrs("mode", "wrap"), x, pads).floats());
        Tensor c = eval1("Pad", Attributes.empty(), x, i64(1, 0, 0, 1), Tensor.scalar(DType.F32, 9));
        assertArrayEquals(d(4, 3), c.shape().dims());
        assertArrayEquals(new float[] {9, 9, 9, 1.0f, 1.2f, 9, 2.3f, 3.4f, 9, 4.5f, 5.7f, 9}, c.floats());
        // wrap across more than one period, reflect past the far edge: 1-D [1,2,3]
        Tensor v = f32(d(3), 1, 2, 3);
        assertArrayEquals(new float[] {3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}, eval1("Pad", attrs("mode", "wrap"), v, i64(4, 4)).floats());
        assertArrayEquals(new float[] {1, 2, 3, 2, 1, 2, 3, 2, 1, 2}, eval1("Pad", attrs("mode", "reflect"), v, i64(4, 3)).floats());
        // negative pads crop; axes pick the axis
        assertArrayEquals(new float[] {2, 3, 0, 0}, eval1("Pad", Attributes.empty(), v, i64(-1, 2)).floats());
        Tensor ax = eval1("Pad", attrs("mode", "edge"), x, i64(1, 0), null, i64(-1));
        assertArrayEquals(d(3, 3), ax.shape().dims());
        assertArrayEquals(new float[] {1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 5.7f}, ax.floats());
        Tensor ints = eval1("Pad", Attributes.empty(), Tensor.ofLongs(DType.I64, Shape.of(2), Long.MAX_VALUE, 5), i64(1, 0), Tensor.ofLongs(DType.I64, Shape.scalar(), -7));
        assertArrayEquals(new long[] {-7, Long.MAX_VALUE, 5}, ints.longs());
    }

    @Test
    void padErrors() {
        Tensor x = f32(d(3, 2), 1, 2, 3, 4, 5, 6);
        assertMessage(error("Pad", Attributes.empty(), x, i64(1, 1)), "input pads must have 4 values");
        assertMessage(error("Pad", attrs("mode", "mirror"), x, i64(0, 0, 0, 0)), "'mode' must be constant, reflect, edge or wrap");
        assertMessage(error("Pad", Attributes.empty(), x, i64(-4, 0, 0, 0)), "crop axis 0 of size 3 below zero");
        assertMessage(error("Pad", Attributes.empty(), x, i64(0, 0), null, i64(1, -1)), "names axis 1 twice");
        // pads computed at run time cannot give a static shape
        NetworkBuilder b = new NetworkBuilder("t");
        Value in = b.input("x", DType.F32, 3, 2), p = b.input("p", DType.I64, 4);
        IrException e = assertThrows(IrException.class, () -> b.op("Pad", Attributes.empty(), in, p));
        assertMessage(e.getMessage(), "pads (input 1) must be a constant");
    }

    // ---- Resize ------------------------------------------------------------------------------

    static Tensor scales(float... s) { return Tensor.ofFloats(Shape.of(s.length), s); }

    @Test
    void resizeHandComputed() {
        Tensor x = f32(d(1, 1, 2, 2), 1, 2, 3, 4);
        Tensor near = eval1("Resize", attrs("mode", "nearest"), x, null, scales(1, 1, 2, 3));
        assertArrayEquals(new float[] {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, near.floats());
        Tensor lin = eval1("Resize", attrs("mode", "linear"), x, null, scales(1, 1, 2, 2));
        assertArrayEquals(new float[] {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4}, lin.floats());
        Tensor x24 = f32(d(1, 1, 2, 4), 1, 2, 3, 4, 5, 6, 7, 8);
        Tensor ac = eval1("Resize", attrs("mode", "linear", "coordinate_transformation_mode", "align_corners"), x24, null, scales(1, 1, 0.6f, 0.6f));
        assertArrayEquals(d(1, 1, 1, 2), ac.shape().dims());
        assertClose(new double[] {1, 3.142857}, ac, 1e-6);
        Tensor down = eval1("Resize", attrs("mode", "linear"), x24, null, scales(1, 1, 0.6f, 0.6f));
        assertClose(new double[] {2.6666665, 4.3333331}, down, 1e-6);
        // sizes with keep_aspect_ratio_policy: not_larger takes the smaller scale (3.5) for both axes
        Tensor nl = eval1("Resize", attrs("axes", d(2, 3), "keep_aspect_ratio_policy", "not_larger"), x, null, null, i64(7, 8));
        assertArrayEquals(d(1, 1, 7, 7), nl.shape().dims());
        Tensor ns = eval1("Resize", attrs("axes", d(2, 3), "keep_aspect_ratio_policy", "not_smaller"), x, null, null, i64(7, 8));
        assertArrayEquals(d(1, 1, 8, 8), ns.shape().dims());
        // nearest_mode variants on 1-D [10,20,30,40] -> 3 with asymmetric coordinates x = o * 4/3
        Tensor v = f32(d(4), 10, 20, 30, 40);
        Attributes asym = attrs("coordinate_transformation_mode", "asymmetric");
        assertArrayEquals(new float[] {10, 20, 30}, eval1("Resize", asym.with("nearest_mode", org.tessel.api.AttrValue.of("floor")), v, null, null, i64(3)).floats());
        assertArrayEquals(new float[] {10, 30, 40}, eval1("Resize", asym.with("nearest_mode", org.tessel.api.AttrValue.of("ceil")), v, null, null, i64(3)).floats());
        assertArrayEquals(new float[] {10, 20, 40}, eval1("Resize", asym, v, null, null, i64(3)).floats());
        // tf_crop_and_resize: the second half of the roi lies outside [0,1] -> extrapolation value
        Tensor crop = eval1("Resize", attrs("mode", "linear", "coordinate_transformation_mode", "tf_crop_and_resize", "extrapolation_value", 5f),
                v, scales(0.5f, 2.5f), null, i64(3));
        assertClose(new double[] {25, 5, 5}, crop, 1e-6);
    }

    @Test
    void resizeLinearMatchesNaiveBilinear() {
        SplittableRandom r = new SplittableRandom(10);
        for (int t = 0; t < 20; t++) {
            int h = r.nextInt(1, 7), w = r.nextInt(1, 7), oh = r.nextInt(1, 12), ow = r.nextInt(1, 12);
            Tensor x = random(r, DType.F32, 2, 1, h, w);
            Tensor y = eval1("Resize", attrs("mode", "linear"), x, null, null, i64(2, 1, oh, ow));
            double sh = (double) oh / h, sw = (double) ow / w;
            double[] want = new double[2 * oh * ow];
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double yi = Math.clamp((i + 0.5) / sh - 0.5, 0, h - 1), xj = Math.clamp((j + 0.5) / sw - 0.5, 0, w - 1);
                        int y0 = (int) Math.floor(yi), x0 = (int) Math.floor(xj), y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
                        double fy = yi - y0, fx = xj - x0;
                        int base = n * h * w;
                        want[(n * oh + i) * ow + j] = (1 - fy) * ((1 - fx) * x.getDouble(base + y0 * w + x0) + fx * x.getDouble(base + y0 * w + x1))
                                + fy * ((1 - fx) * x.getDouble(base + y1 * w + x0) + fx * x.getDouble(base + y1 * w + x1));
                    }
            assertClose(want, y, 1e-5);
        }
    }

    @Test
    void resizeCubicAndAntialias() {
        // cubic reproduces a linear ramp away from the edges, for any A
        Tensor ramp = f32(d(10), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        Tensor y = eval1("Resize", attrs("mode", "cubic", "coordinate_transformation_mode", "asymmetric", "cubic_coeff_a", -0.5f), ramp, null, scales(2));
        for (int o = 4; o < 14; o++) assertEquals(o / 2.0, y.floats()[o], 1e-5, "output " + o);
        // a constant stays constant under every kernel, including widened antialias ones
        Tensor c = Tensor.full(DType.F32, Shape.of(1, 1, 8, 8), 3);
        for (String mode : new String[] {"linear", "cubic"}) {
            Tensor a = eval1("Resize", attrs("mode", mode, "antialias", 1), c, null, scales(1, 1, 0.3f, 0.5f));
            assertArrayEquals(d(1, 1, 2, 4), a.shape().dims());
            for (float f : a.floats()) assertEquals(3f, f, 1e-6);
            Tensor e = eval1("Resize", attrs("mode", mode, "exclude_outside", 1), c, null, scales(1, 1, 1.7f, 2.5f));
            for (float f : e.floats()) assertEquals(3f, f, 1e-6);
        }
        // antialias linear downsampling by 2 averages a triangle of width 4: [0,1,2,3,4,5,6,7] -> interior means
        Tensor aa = eval1("Resize", attrs("mode", "linear", "antialias", 1), f32(d(8), 0, 1, 2, 3, 4, 5, 6, 7), null, scales(0.5f));
        assertEquals(2.5, aa.floats()[1], 1e-6);
        assertEquals(4.5, aa.floats()[2], 1e-6);
    }

    @Test
    void resizeIntegersAndErrors() {
        Tensor u8 = Tensor.ofLongs(DType.U8, Shape.of(1, 1, 1, 2), 0, 255);
        Tensor y = eval1("Resize", attrs("mode", "linear", "coordinate_transformation_mode", "align_corners"), u8, null, null, i64(1, 1, 1, 3));
        assertArrayEquals(new long[] {0, 127, 255}, y.longs()); // 127.5 truncated, as numpy's astype does
        Tensor x = f32(d(1, 1, 2, 2), 1, 2, 3, 4);
        assertMessage(error("Resize", Attributes.empty(), x, null, scales(2, 2)), "input scales must be a 1-D float tensor of 4 values");
        assertMessage(error("Resize", Attributes.empty(), x), "exactly one of the inputs scales and sizes");
        assertMessage(error("Resize", attrs("mode", "lanczos"), x, null, scales(1, 1, 2, 2)), "'mode' must be nearest, linear or cubic");
        assertMessage(error("Resize", attrs("antialias", 1), x, null, scales(1, 1, 2, 2)), "antialias=1 applies to linear and cubic modes only");
        assertMessage(error("Resize", attrs("coordinate_transformation_mode", "corners"), x, null, scales(1, 1, 2, 2)), "got 'corners'");
        assertMessage(error("Resize", attrs("coordinate_transformation_mode", "tf_crop_and_resize"), x, null, scales(1, 1, 2, 2)), "needs the roi input");
        NetworkBuilder b = new NetworkBuilder("t");
        Value in = b.input("x", DType.F32, 1, 1, 2, 2), s = b.input("s", DType.F32, 4);
        IrException e = assertThrows(IrException.class, () -> b.op("Resize", Attributes.empty(), in, null, s));
        assertMessage(e.getMessage(), "scales (input 2) must be a constant");
    }

    // ---- registration, traits, costs ---------------------------------------------------------

    static final List<String> OPS = List.of("Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "MaxPool", "AveragePool",
            "GlobalAveragePool", "LRN", "Pad", "Resize");

    @Test
    void everyOpIsRegistered() {
        OpRegistry reg = OpRegistry.global();
        for (String name : OPS) assertTrue(reg.find(name).isPresent(), name + " is registered");
        for (String name : List.of("Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "LRN", "Resize"))
            assertTrue(reg.get(name).has(Trait.LAYOUT_SENSITIVE), name + " is layout sensitive");
        for (String name : List.of("Gemm", "MatMul", "Pad")) assertTrue(!reg.get(name).has(Trait.LAYOUT_SENSITIVE), name + " is not layout sensitive");
    }

    static long macs(String op, Attributes a, TensorType... ins) {
        OpSchema s = OpRegistry.global().get(op);
        List<TensorType> types = List.of(ins);
        List<Tensor> consts = new ArrayList<>();
        for (int i = 0; i < ins.length; i++) consts.add(null);
        InferenceContext ctx = new InferenceContext("n", types, consts, a, 1);
        return s.macs(ctx, s.inferTypes(ctx));
    }

    @Test
    void macCounts() {
        assertEquals(64L * 56 * 56 * 64 * 9, macs("Conv", attrs("pads", d(1, 1, 1, 1)), TensorType.of(DType.F32, 1, 64, 56, 56), TensorType.of(DType.F32, 64, 64, 3, 3)));
        assertEquals(32L * 112 * 112 * 9, macs("Conv", attrs("pads", d(1, 1, 1, 1), "group", 32), TensorType.of(DType.F32, 1, 32, 112, 112), TensorType.of(DType.F32, 32, 1, 3, 3)));
        assertEquals(16L * 4 * 4 * 8 * 9, macs("ConvTranspose", Attributes.empty(), TensorType.of(DType.F32, 1, 16, 4, 4), TensorType.of(DType.F32, 16, 8, 3, 3)));
        assertEquals(1000L * 2048, macs("Gemm", attrs("transB", 1), TensorType.of(DType.F32, 1, 2048), TensorType.of(DType.F32, 1000, 2048)));
        assertEquals(2L * 12 * 128 * 128 * 64, macs("MatMul", Attributes.empty(), TensorType.of(DType.F32, 2, 12, 128, 64), TensorType.of(DType.F32, 2, 12, 64, 128)));
    }
}
