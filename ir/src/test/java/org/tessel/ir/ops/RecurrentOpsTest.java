package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.tessel.ir.ops.NnOpsTest.assertClose;
import static org.tessel.ir.ops.NnOpsTest.assertMessage;
import static org.tessel.ir.ops.NnOpsTest.random;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * RNN, GRU and LSTM: a one-step LSTM and GRU against the gate formulas written out here,
 * properties tying directions, sequence lengths and layouts together, and the errors.
 */
class RecurrentOpsTest {
    static final String[] OPS = {"RNN", "GRU", "LSTM"};

    static int gates(String op) { return switch (op) { case "RNN" -> 1; case "GRU" -> 3; default -> 4; }; }

    static List<Tensor> run(String name, String op, Attributes a, int outs, Tensor... ins) {
        NetworkBuilder b = new NetworkBuilder("t");
        Value[] vs = new Value[ins.length];
        for (int i = 0; i < ins.length; i++) vs[i] = ins[i] == null ? null : b.constant("c" + i, ins[i]);
        Node n = b.node(op, name, a, outs, vs);
        Graph g = b.output(n.outputs().toArray(Value[]::new)).build();
        return new ReferenceInterpreter().run(g, List.of());
    }

    static double sig(double v) { return 1 / (1 + Math.exp(-v)); }

    /** Row j of a [rows, cols] block at offset off, dotted with v. */
    static double dot(Tensor m, int off, int row, int cols, double[] v) {
        double s = 0;
        for (int k = 0; k < cols; k++) s += m.getDouble(off + row * cols + k) * v[k];
        return s;
    }

    static double[] vec(Tensor t, int from, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = t.getDouble(from + i);
        return v;
    }

    @Test void oneLstmStepIsTheGateFormulaWithPeepholes() {
        SplittableRandom r = new SplittableRandom(7);
        int in = 3, h = 2, batch = 2;
        Tensor x = random(r, DType.F32, 1, batch, in), w = random(r, DType.F32, 1, 4 * h, in), rr = random(r, DType.F32, 1, 4 * h, h);
        Tensor b = random(r, DType.F32, 1, 8 * h), h0 = random(r, DType.F32, 1, batch, h), c0 = random(r, DType.F32, 1, batch, h), p = random(r, DType.F32, 1, 3 * h);
        List<Tensor> out = run("lstm", "LSTM", Attributes.builder().put("hidden_size", (long) h).build(), 3, x, w, rr, b, null, h0, c0, p);
        double[] wantH = new double[batch * h], wantC = new double[batch * h];
        for (int n = 0; n < batch; n++) {
            double[] xv = vec(x, n * in, in), hv = vec(h0, n * h, h), cv = vec(c0, n * h, h);
            for (int j = 0; j < h; j++) {
                // gate blocks of W, R and B in the order i, o, f, c; P in the order i, o, f
                double[] pre = new double[4];
                for (int gi = 0; gi < 4; gi++)
                    pre[gi] = dot(w, 0, gi * h + j, in, xv) + dot(rr, 0, gi * h + j, h, hv) + b.getDouble(gi * h + j) + b.getDouble(4 * h + gi * h + j);
                double i = sig(pre[0] + p.getDouble(j) * cv[j]);
                double f = sig(pre[2] + p.getDouble(2 * h + j) * cv[j]);
                double c = Math.tanh(pre[3]);
                double ct = f * cv[j] + i * c;
                double o = sig(pre[1] + p.getDouble(h + j) * ct);
                wantC[n * h + j] = ct;
                wantH[n * h + j] = o * Math.tanh(ct);
            }
        }
        assertEquals(Shape.of(1, 1, batch, h), out.get(0).shape());
        assertClose(wantH, out.get(0), 1e-6);
        assertClose(wantH, out.get(1), 1e-6);
        assertClose(wantC, out.get(2), 1e-6);
    }

    @Test void oneGruStepIsTheGateFormulaInBothResetForms() {
        SplittableRandom r = new SplittableRandom(11);
        int in = 3, h = 2;
        Tensor x = random(r, DType.F32, 1, 1, in), w = random(r, DType.F32, 1, 3 * h, in), rr = random(r, DType.F32, 1, 3 * h, h);
        Tensor b = random(r, DType.F32, 1, 6 * h), h0 = random(r, DType.F32, 1, 1, h);
        double[] xv = vec(x, 0, in), hv = vec(h0, 0, h);
        for (long lbr : new long[] {0, 1}) {
            Tensor y = run("gru", "GRU", Attributes.builder().put("linear_before_reset", lbr).build(), 2, x, w, rr, b, null, h0).get(1);
            double[] want = new double[h];
            double[] reset = new double[h];
            for (int j = 0; j < h; j++) reset[j] = sig(dot(w, 0, h + j, in, xv) + dot(rr, 0, h + j, h, hv) + b.getDouble(h + j) + b.getDouble(4 * h + j)) * hv[j];
            for (int j = 0; j < h; j++) {
                double z = sig(dot(w, 0, j, in, xv) + dot(rr, 0, j, h, hv) + b.getDouble(j) + b.getDouble(3 * h + j));
                double rt = sig(dot(w, 0, h + j, in, xv) + dot(rr, 0, h + j, h, hv) + b.getDouble(h + j) + b.getDouble(4 * h + j));
                double wx = dot(w, 0, 2 * h + j, in, xv) + b.getDouble(2 * h + j), rb = b.getDouble(5 * h + j);
                double cand = Math.tanh(lbr == 0 ? wx + dot(rr, 0, 2 * h + j, h, reset) + rb : wx + rt * (dot(rr, 0, 2 * h + j, h, hv) + rb));
                want[j] = (1 - z) * cand + z * hv[j];
            }
            assertClose(want, y, 1e-6);
        }
    }

    /** Random inputs for one op: X [seq, batch, in] (layout 0), W, R, B, sequence_lens, initial_h (initial_c, P). */
    static Tensor[] inputs(String op, int dirs, int seq, int batch, int in, int h, long seed, boolean lens) {
        SplittableRandom r = new SplittableRandom(seed);
        int g = gates(op);
        Tensor[] t = new Tensor[op.equals("LSTM") ? 8 : 6];
        t[0] = random(r, DType.F32, seq, batch, in);
        t[1] = random(r, DType.F32, dirs, g * h, in);
        t[2] = random(r, DType.F32, dirs, g * h, h);
        t[3] = random(r, DType.F32, dirs, 2 * g * h);
        if (lens) {
            long[] l = new long[batch];
            for (int i = 0; i < batch; i++) l[i] = r.nextInt(seq + 1);
            t[4] = Tensor.ofLongs(DType.I32, Shape.of(batch), l);
        }
        t[5] = random(r, DType.F32, dirs, batch, h);
        if (op.equals("LSTM")) {
            t[6] = random(r, DType.F32, dirs, batch, h);
            t[7] = random(r, DType.F32, dirs, 3 * h);
        }
        return t;
    }

    /** Direction d's slice [d] of a [dirs, ...] tensor as a [1, ...] tensor. */
    static Tensor dirSlice(Tensor t, int d, int dirs) {
        if (t == null) return null;
        int[] dims = t.shape().dims();
        int per = t.size() / dirs;
        dims[0] = 1;
        Tensor out = Tensor.zeros(t.dtype(), Shape.of(dims));
        for (int i = 0; i < per; i++) out.setDouble(i, t.getDouble(d * per + i));
        return out;
    }

    static Attributes attrs(String direction, int extra) {
        Attributes.Builder a = Attributes.builder().put("direction", direction);
        if (extra == 1) a.put("clip", 0.7f);
        return a.build();
    }

    @Property(tries = 60)
    void bidirectionalIsForwardThenReverseStacked(@ForAll @IntRange(min = 0, max = 2) int kind, @ForAll @IntRange(min = 1, max = 4) int seq,
                                                  @ForAll @IntRange(min = 1, max = 3) int batch, @ForAll @IntRange(min = 1, max = 3) int h,
                                                  @ForAll boolean lens, @ForAll @IntRange(min = 0, max = 1) int clip, @ForAll long seed) {
        String op = OPS[kind];
        int outs = op.equals("LSTM") ? 3 : 2;
        Tensor[] t = inputs(op, 2, seq, batch, 3, h, seed, lens);
        List<Tensor> both = run("bi", op, attrs("bidirectional", clip), outs, t);
        for (int d = 0; d < 2; d++) {
            Tensor[] one = t.clone();
            for (int i : new int[] {1, 2, 3, 5, 6, 7}) if (i < one.length) one[i] = dirSlice(t[i], d, 2);
            List<Tensor> single = run("uni", op, attrs(d == 0 ? "forward" : "reverse", clip), outs, one);
            // Y [seq, dirs, batch, h]: direction d's rows; the states [dirs, batch, h]
            int per = batch * h;
            for (int s = 0; s < seq; s++)
                for (int i = 0; i < per; i++)
                    assertEquals(single.get(0).getDouble(s * per + i), both.get(0).getDouble((s * 2 + d) * per + i), 0, "Y step " + s + " direction " + d);
            for (int o = 1; o < outs; o++)
                for (int i = 0; i < per; i++) assertEquals(single.get(o).getDouble(i), both.get(o).getDouble(d * per + i), 0, "output " + o + " direction " + d);
        }
    }

    @Property(tries = 60)
    void sequenceLensZeroPadsAndEachRowIsItsOwnShorterSequence(@ForAll @IntRange(min = 0, max = 2) int kind, @ForAll @IntRange(min = 1, max = 4) int seq,
                                                               @ForAll @IntRange(min = 1, max = 3) int batch, @ForAll boolean reverse, @ForAll long seed) {
        String op = OPS[kind];
        int outs = op.equals("LSTM") ? 3 : 2, h = 2, in = 3;
        Tensor[] t = inputs(op, 1, seq, batch, in, h, seed, true);
        String dir = reverse ? "reverse" : "forward";
        List<Tensor> all = run("all", op, attrs(dir, 0), outs, t);
        for (int b = 0; b < batch; b++) {
            int len = (int) t[4].getLong(b);
            for (int s = len; s < seq; s++)
                for (int j = 0; j < h; j++) assertEquals(0.0, all.get(0).getDouble((s * batch + b) * h + j), "Y past row " + b + "'s length " + len);
            if (len == 0) {
                for (int j = 0; j < h; j++) assertEquals(t[5].getDouble(b * h + j), all.get(1).getDouble(b * h + j), 1e-7, "Y_h of an empty row is initial_h");
                continue;
            }
            // row b alone, cut to its length, without sequence_lens
            Tensor[] row = t.clone();
            Tensor x = Tensor.zeros(DType.F32, Shape.of(len, 1, in));
            for (int s = 0; s < len; s++) for (int k = 0; k < in; k++) x.setDouble(s * in + k, t[0].getDouble((s * batch + b) * in + k));
            row[0] = x;
            row[4] = null;
            row[5] = slice(t[5], b, batch, h);
            if (op.equals("LSTM")) row[6] = slice(t[6], b, batch, h);
            List<Tensor> alone = run("row", op, attrs(dir, 0), outs, row);
            for (int s = 0; s < len; s++)
                for (int j = 0; j < h; j++) assertEquals(alone.get(0).getDouble(s * h + j), all.get(0).getDouble((s * batch + b) * h + j), 0, "Y row " + b + " step " + s);
            for (int o = 1; o < outs; o++)
                for (int j = 0; j < h; j++) assertEquals(alone.get(o).getDouble(j), all.get(o).getDouble(b * h + j), 0, "output " + o + " row " + b);
        }
    }

    /** Row b of a [1, batch, h] state as [1, 1, h]. */
    static Tensor slice(Tensor t, int b, int batch, int h) {
        Tensor out = Tensor.zeros(DType.F32, Shape.of(1, 1, h));
        for (int j = 0; j < h; j++) out.setDouble(j, t.getDouble(b * h + j));
        return out;
    }

    @Property(tries = 40)
    void batchFirstLayoutIsTheTransposedProblem(@ForAll @IntRange(min = 0, max = 2) int kind, @ForAll @IntRange(min = 1, max = 3) int seq,
                                                @ForAll @IntRange(min = 1, max = 3) int batch, @ForAll boolean bidirectional, @ForAll long seed) {
        String op = OPS[kind];
        int outs = op.equals("LSTM") ? 3 : 2, h = 2, in = 3, dirs = bidirectional ? 2 : 1;
        Tensor[] t = inputs(op, dirs, seq, batch, in, h, seed, true);
        String dir = bidirectional ? "bidirectional" : "forward";
        List<Tensor> l0 = run("l0", op, attrs(dir, 0), outs, t);
        Tensor[] t1 = t.clone();
        t1[0] = transpose(t[0], 1, 0, 2);
        t1[5] = transpose(t[5], 1, 0, 2);
        if (op.equals("LSTM")) t1[6] = transpose(t[6], 1, 0, 2);
        List<Tensor> l1 = run("l1", op, Attributes.builder().put("direction", dir).put("layout", 1L).build(), outs, t1);
        Tensor y = transpose(l0.get(0), 2, 0, 1, 3);
        assertEquals(y.shape(), l1.get(0).shape());
        assertEquals(Arrays.toString(y.floats()), Arrays.toString(l1.get(0).floats()));
        for (int o = 1; o < outs; o++) assertEquals(Arrays.toString(transpose(l0.get(o), 1, 0, 2).floats()), Arrays.toString(l1.get(o).floats()));
    }

    static Tensor transpose(Tensor t, int... perm) {
        NetworkBuilder b = new NetworkBuilder("tr");
        Graph g = b.output(b.transpose(b.constant("x", t), perm)).build();
        return new ReferenceInterpreter().run(g, List.of()).getFirst();
    }

    @Test void activationsAlphaAndBetaAreUsedInOrder() {
        // RNN with Affine(alpha=2, beta=0.5): H = 2 (W x + R h0) + 0.5 on one step
        Tensor x = NnOpsTest.f32(new int[] {1, 1, 1}, 0.25), w = NnOpsTest.f32(new int[] {1, 1, 1}, 2), r = NnOpsTest.f32(new int[] {1, 1, 1}, 3);
        Tensor h0 = NnOpsTest.f32(new int[] {1, 1, 1}, 0.1);
        Attributes a = Attributes.builder().put("activations", new org.tessel.api.AttrValue.Strs(List.of("Affine")))
                .put("activation_alpha", new float[] {2f}).put("activation_beta", new float[] {0.5f}).build();
        assertClose(new double[] {2 * (0.5 + 0.3) + 0.5}, run("rnn", "RNN", a, 1, x, w, r, null, null, h0).getFirst(), 1e-6);
        Attributes lc = Attributes.builder().put("activations", new org.tessel.api.AttrValue.Strs(List.of("leakyrelu"))).build();
        Tensor neg = NnOpsTest.f32(new int[] {1, 1, 1}, -1);
        assertClose(new double[] {0.01 * (-2 + 0.3)}, run("rnn", "RNN", lc, 1, neg, w, r, null, null, h0).getFirst(), 1e-6);
    }

    @Test void errorsNameTheNodeAndWhatIsExpected() {
        Tensor[] t = inputs("LSTM", 1, 2, 1, 3, 2, 1, false);
        Tensor[] bad = t.clone();
        bad[1] = random(new SplittableRandom(1), DType.F32, 1, 6, 3);
        String m = assertThrows(IrException.class, () -> run("enc_lstm", "LSTM", Attributes.empty(), 1, bad)).getMessage();
        assertMessage(m, "enc_lstm", "input W must have shape [num_directions, 4*hidden_size, input_size] = [1,8,3]", "[1,6,3]");
        Attributes act = Attributes.builder().put("activations", new org.tessel.api.AttrValue.Strs(List.of("Sigmoid", "Gelu", "Tanh"))).build();
        m = assertThrows(IrException.class, () -> run("enc_lstm", "LSTM", act, 1, t)).getMessage();
        assertMessage(m, "enc_lstm", "attribute 'activations'", "'Gelu' is not an activation function");
        Attributes two = Attributes.builder().put("activations", new org.tessel.api.AttrValue.Strs(List.of("Sigmoid", "Tanh"))).build();
        m = assertThrows(IrException.class, () -> run("enc_lstm", "LSTM", two, 1, t)).getMessage();
        assertMessage(m, "enc_lstm", "attribute 'activations' must list 3 functions");
        m = assertThrows(IrException.class, () -> run("enc_lstm", "LSTM", Attributes.builder().put("direction", "both").build(), 1, t)).getMessage();
        assertMessage(m, "enc_lstm", "attribute 'direction' must be forward, reverse or bidirectional");
        m = assertThrows(IrException.class, () -> run("enc_lstm", "LSTM", Attributes.builder().put("hidden_size", 3L).build(), 1, t)).getMessage();
        assertMessage(m, "enc_lstm", "input W must have shape", "[1,12,3]");
        Tensor[] gru = inputs("GRU", 1, 2, 1, 3, 2, 1, false);
        m = assertThrows(IrException.class, () -> run("g", "GRU", Attributes.empty(), 3, gru)).getMessage();
        assertMessage(m, "'g'", "1 to 2 outputs, asked for 3");
    }
}
