package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ONNX's recurrent ops RNN, GRU and LSTM (opset 14's form, which opsets 7 to 22 share apart from
 * opset 14's {@code layout} attribute and opset 22's bf16), registered through the same
 * OpProvider SPI a plugin uses.
 *
 * <p>Shared form: inputs X, W, R and the optional B, sequence_lens, initial_h (LSTM: also
 * initial_c and P); outputs Y, Y_h (LSTM: also Y_c), any of them unused. With {@code layout} 0,
 * X is [seq, batch, input], Y [seq, num_directions, batch, hidden] and the states
 * [num_directions, batch, hidden]; with layout 1, X is [batch, seq, input], Y [batch, seq,
 * num_directions, hidden] and the states [batch, num_directions, hidden]. W is [num_directions,
 * gates*hidden, input], R [num_directions, gates*hidden, hidden], B [num_directions,
 * 2*gates*hidden] (W's biases then R's), with gates 1 (RNN), 3 (GRU, order z r h) or 4 (LSTM,
 * order i o f c); LSTM's peepholes P are [num_directions, 3*hidden] (order i o f).
 *
 * <p>Semantics (ONNX's operator text): RNN {@code Ht = f(Xt W^T + Ht-1 R^T + Wb + Rb)}, f Tanh;
 * GRU {@code zt = f(..z), rt = f(..r), ht = g(Xt Wh^T + (rt . Ht-1) Rh^T + Rbh + Wbh)} (with
 * linear_before_reset: {@code g(Xt Wh^T + rt . (Ht-1 Rh^T + Rbh) + Wbh)}),
 * {@code Ht = (1 - zt) . ht + zt . Ht-1}, f Sigmoid, g Tanh; LSTM {@code it = f(.. + Pi . Ct-1),
 * ft = f(.. + Pf . Ct-1), ct = g(..), Ct = ft . Ct-1 + it . ct, ot = f(.. + Po . Ct),
 * Ht = ot . h(Ct)}, f Sigmoid, g and h Tanh; with input_forget, {@code ft = 1 - it} (as ONNX
 * Runtime). {@code clip} bounds every gate's input to the activation to [-clip, clip]. The
 * reverse direction runs each batch row from its last valid step back to step 0; a
 * bidirectional op runs both, forward first in Y's direction axis. Steps at or past a row's
 * sequence length leave Y zero and the state as it was. {@code activations} lists the gate
 * functions per direction (1, 2 or 3 names, twice when bidirectional; names as ONNX writes them,
 * case ignored); {@code activation_alpha}/{@code activation_beta} are consumed in that order by
 * the functions that take them, missing ones defaulting to the function's ONNX default (as ONNX
 * Runtime). Computation is in double, outputs rounded once to the element type.
 */
public final class RecurrentOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() { return List.of(new Rnn(Kind.RNN), new Rnn(Kind.GRU), new Rnn(Kind.LSTM)); }

    /** The three ops' differences. */
    public enum Kind {
        RNN("RNN", 1, 1, List.of("Tanh")),
        GRU("GRU", 3, 2, List.of("Sigmoid", "Tanh")),
        LSTM("LSTM", 4, 3, List.of("Sigmoid", "Tanh", "Tanh"));

        final String op;
        /** Gate blocks in W and R. */
        final int gates;
        /** Activation functions per direction. */
        final int functions;
        final List<String> defaults;

        Kind(String op, int gates, int functions, List<String> defaults) {
            this.op = op; this.gates = gates; this.functions = functions; this.defaults = defaults;
        }

        int maxInputs() { return this == LSTM ? 8 : 6; }
        int maxOutputs() { return this == LSTM ? 3 : 2; }
        String gateNames() { return switch (this) { case RNN -> "i"; case GRU -> "zrh"; case LSTM -> "iofc"; }; }
    }

    static final Set<DType> INDEX = EnumSet.of(DType.I32, DType.I64);

    /**
     * One recurrent node as a kernel takes it, checked as type inference checks it: the op's gate count, the sizes,
     * {@code layout}, whether the single direction runs in reverse, GRU's {@code linear_before_reset}, LSTM's
     * {@code input_forget}, {@code clip} (0: none) and the gate functions as {@code dirs} x 3 triples (code, alpha,
     * beta; a kind's unused slots are Tanh), the code being the function's place in ONNX's list: Relu 0, Tanh 1,
     * Sigmoid 2, Affine 3, LeakyRelu 4, ThresholdedRelu 5, ScaledTanh 6, HardSigmoid 7, Elu 8, Softsign 9, Softplus 10.
     */
    public record KernelForm(int gates, int seq, int batch, int input, int hidden, int dirs, int layout, boolean reverse,
                             boolean linearBeforeReset, boolean inputForget, float clip, float[] functions) {}

    /**
     * The kernel form of a node of op {@code op} (RNN, GRU or LSTM) with input types {@code in} (null for an absent
     * optional input) and attributes {@code a}; throws the op's own errors for a form it refuses.
     */
    public static KernelForm kernelForm(String op, List<TensorType> in, Attributes a) {
        Kind k = switch (op) {
            case "RNN" -> Kind.RNN;
            case "GRU" -> Kind.GRU;
            case "LSTM" -> Kind.LSTM;
            default -> throw new OpException(op + " is not a recurrent op (RNN, GRU, LSTM)");
        };
        Rnn r = new Rnn(k);
        Rnn.Dims d = r.check(in, a);
        Activation[][] act = r.activations(a, d.dirs());
        float[] fns = new float[d.dirs() * 9];
        for (int dir = 0; dir < d.dirs(); dir++)
            for (int f = 0; f < 3; f++) {
                Activation x = f < act[dir].length ? act[dir][f] : new Activation(Fn.TANH, 0, 0);
                fns[dir * 9 + f * 3] = x.fn().ordinal();
                fns[dir * 9 + f * 3 + 1] = (float) x.alpha();
                fns[dir * 9 + f * 3 + 2] = (float) x.beta();
            }
        return new KernelForm(k.gates, d.seq(), d.batch(), d.input(), d.hidden(), d.dirs(), d.layout(),
                a.getString("direction", "forward").equals("reverse"), k == Kind.GRU && a.getInt("linear_before_reset", 0) != 0,
                k == Kind.LSTM && a.getInt("input_forget", 0) == 1, a.has("clip") ? a.getFloat("clip", 0) : 0f, fns);
    }

    /** One of RNN, GRU, LSTM. */
    static final class Rnn extends BaseOp {
        final Kind kind;

        Rnn(Kind k) {
            super(define(k));
            this.kind = k;
        }

        private static Def define(Kind k) {
            String summary = switch (k) {
                case RNN -> "simple recurrent layer: Ht = f(Xt W^T + Ht-1 R^T + b), forward, reverse or bidirectional";
                case GRU -> "gated recurrent unit layer (gates z r h), forward, reverse or bidirectional";
                case LSTM -> "long short-term memory layer (gates i o f c, optional peepholes), forward, reverse or bidirectional";
            };
            Def d = def(k.op, summary);
            if (k == Kind.LSTM) d.inputs(3, 8, "X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P").outputs(1, 3);
            else d.inputs(3, 6, "X", "W", "R", "B", "sequence_lens", "initial_h").outputs(1, 2);
            d.floatsAttr("activation_alpha", "alpha of the activation functions that take one, in their order")
                    .floatsAttr("activation_beta", "beta of the activation functions that take one, in their order")
                    .attr(AttrSpec.optional("activations", AttrValue.Kind.STRINGS, "activation functions per direction (" + String.join(", ", k.defaults) + " by default)"))
                    .attr(AttrSpec.optional("clip", AttrValue.Kind.FLOAT, "bound on the activations' inputs, [-clip, clip] (none by default)"))
                    .stringAttr("direction", "forward", "forward, reverse or bidirectional")
                    .attr(AttrSpec.optional("hidden_size", AttrValue.Kind.INT, "hidden state width (R's last dimension when absent)"));
            if (k == Kind.LSTM) d.intAttr("input_forget", 0, "couple the input and forget gates (ft = 1 - it) if 1");
            if (k == Kind.GRU) d.intAttr("linear_before_reset", 0, "apply R's linear transformation before multiplying by the reset gate if 1");
            d.intAttr("layout", 0, "0: X [seq, batch, input] and Y [seq, dirs, batch, hidden]; 1: batch first");
            return d;
        }

        /** The checked sizes of one use. */
        record Dims(int seq, int batch, int input, int hidden, int dirs, int layout) {}

        static int directions(Attributes a) {
            String d = a.getString("direction", "forward");
            return switch (d) {
                case "forward", "reverse" -> 1;
                case "bidirectional" -> 2;
                default -> throw new OpException("attribute 'direction' must be forward, reverse or bidirectional, got '" + d + "'");
            };
        }

        Dims check(List<TensorType> in, Attributes a) {
            int dirs = directions(a);
            long layout = a.getInt("layout", 0);
            if (layout != 0 && layout != 1) throw new OpException("attribute 'layout' must be 0 or 1, got " + layout);
            TensorType x = in.get(0), w = in.get(1), r = in.get(2);
            DTypeSets.require("input X", x.dtype(), DTypeSets.FLOATS);
            OpUtil.requireRank("input X ([" + (layout == 0 ? "seq, batch" : "batch, seq") + ", input])", x.shape(), 3);
            int seq = x.shape().dim(layout == 0 ? 0 : 1), batch = x.shape().dim(layout == 0 ? 1 : 0), input = x.shape().dim(2);
            OpUtil.requireRank("input R ([num_directions, " + kind.gates + "*hidden_size, hidden_size])", r.shape(), 3);
            int hidden = r.shape().dim(2);
            if (a.has("hidden_size")) {
                long h = a.getInt("hidden_size", 0);
                if (h < 1) throw new OpException("attribute 'hidden_size' must be positive, got " + h);
                hidden = Math.toIntExact(h);
            }
            int g = kind.gates;
            expect("W", w, x.dtype(), Shape.of(dirs, g * hidden, input), "[num_directions, " + g + "*hidden_size, input_size]");
            expect("R", r, x.dtype(), Shape.of(dirs, g * hidden, hidden), "[num_directions, " + g + "*hidden_size, hidden_size]");
            if (has(in, 3)) expect("B", in.get(3), x.dtype(), Shape.of(dirs, 2 * g * hidden), "[num_directions, " + 2 * g + "*hidden_size]");
            if (has(in, 4)) {
                TensorType sl = in.get(4);
                DTypeSets.require("input sequence_lens", sl.dtype(), INDEX);
                if (!sl.shape().equals(Shape.of(batch)))
                    throw new OpException("input sequence_lens must have shape [batch_size] = " + Shape.of(batch) + ", got " + sl.shape());
            }
            Shape state = layout == 0 ? Shape.of(dirs, batch, hidden) : Shape.of(batch, dirs, hidden);
            String stateText = layout == 0 ? "[num_directions, batch_size, hidden_size]" : "[batch_size, num_directions, hidden_size]";
            if (has(in, 5)) expect("initial_h", in.get(5), x.dtype(), state, stateText);
            if (kind == Kind.LSTM) {
                if (has(in, 6)) expect("initial_c", in.get(6), x.dtype(), state, stateText);
                if (has(in, 7)) expect("P", in.get(7), x.dtype(), Shape.of(dirs, 3 * hidden), "[num_directions, 3*hidden_size]");
                long f = a.getInt("input_forget", 0);
                if (f != 0 && f != 1) throw new OpException("attribute 'input_forget' must be 0 or 1, got " + f);
            }
            if (a.has("clip") && !(a.getFloat("clip", 0) > 0))
                throw new OpException("attribute 'clip' must be positive, got " + a.getFloat("clip", 0));
            activations(a, dirs);
            return new Dims(seq, batch, input, hidden, dirs, (int) layout);
        }

        private static boolean has(List<TensorType> in, int i) { return i < in.size() && in.get(i) != null; }

        private static void expect(String what, TensorType t, DType dtype, Shape want, String form) {
            OpUtil.requireSameDType("inputs X and " + what, dtype, t.dtype());
            if (!t.shape().equals(want))
                throw new OpException("input " + what + " must have shape " + form + " = " + want + ", got " + t.shape());
        }

        /** The activation functions, per direction: dirs x kind.functions. */
        Activation[][] activations(Attributes a, int dirs) {
            List<String> names = a.getStrings("activations");
            int k = kind.functions;
            if (names == null) {
                names = new ArrayList<>();
                for (int d = 0; d < dirs; d++) names.addAll(kind.defaults);
            } else if (names.size() != k * dirs) {
                throw new OpException("attribute 'activations' must list " + k * dirs + " functions (" + k + " per direction: "
                        + String.join(", ", kind.defaults) + " by default), got " + names.size() + " " + names);
            }
            float[] alphas = a.getFloats("activation_alpha"), betas = a.getFloats("activation_beta");
            int ai = 0, bi = 0;
            Activation[][] out = new Activation[dirs][k];
            for (int i = 0; i < names.size(); i++) {
                Fn f = Fn.of(names.get(i));
                double alpha = f.defaultAlpha, beta = f.defaultBeta;
                if (f.usesAlpha && alphas != null && ai < alphas.length) alpha = alphas[ai++];
                if (f.usesBeta && betas != null && bi < betas.length) beta = betas[bi++];
                out[i / k][i % k] = new Activation(f, alpha, beta);
            }
            if (alphas != null && ai < alphas.length)
                throw new OpException("attribute 'activation_alpha' has " + alphas.length + " values, but the activations " + names + " take " + ai);
            if (betas != null && bi < betas.length)
                throw new OpException("attribute 'activation_beta' has " + betas.length + " values, but the activations " + names + " take " + bi);
            return out;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            Dims d = check(ctx.inputTypes(), ctx.attrs());
            if (ctx.numOutputs() > kind.maxOutputs())
                throw new OpException(kind.op + " has at most " + kind.maxOutputs() + " outputs, the node has " + ctx.numOutputs());
            DType t = ctx.input(0).dtype();
            List<TensorType> out = new ArrayList<>();
            for (int i = 0; i < ctx.numOutputs(); i++) {
                Shape s = i == 0 ? (d.layout() == 0 ? Shape.of(d.seq(), d.dirs(), d.batch(), d.hidden()) : Shape.of(d.batch(), d.seq(), d.dirs(), d.hidden()))
                        : (d.layout() == 0 ? Shape.of(d.dirs(), d.batch(), d.hidden()) : Shape.of(d.batch(), d.dirs(), d.hidden()));
                out.add(TensorType.of(t, s));
            }
            return out;
        }

        @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
            Dims d = check(ctx.inputTypes(), ctx.attrs());
            return (long) d.seq() * d.batch() * d.dirs() * kind.gates * d.hidden() * (long) (d.input() + d.hidden());
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            List<TensorType> types = new ArrayList<>();
            for (int i = 0; i < ctx.numInputs(); i++) types.add(ctx.hasInput(i) ? ctx.input(i).type() : null);
            Dims d = check(types, ctx.attrs());
            Attributes a = ctx.attrs();
            Activation[][] act = activations(a, d.dirs());
            double clip = a.has("clip") ? a.getFloat("clip", 0) : Double.POSITIVE_INFINITY;
            boolean reverseOnly = a.getString("direction", "forward").equals("reverse");
            boolean coupled = kind == Kind.LSTM && a.getInt("input_forget", 0) == 1;
            boolean linearBeforeReset = kind == Kind.GRU && a.getInt("linear_before_reset", 0) != 0;
            int seq = d.seq(), batch = d.batch(), in = d.input(), h = d.hidden(), g = kind.gates, dirs = d.dirs();
            boolean bf = d.layout() == 1;
            double[] x = values(ctx.input(0)), w = values(ctx.input(1)), r = values(ctx.input(2));
            double[] bias = ctx.hasInput(3) ? values(ctx.input(3)) : null;
            Tensor lens = ctx.hasInput(4) ? ctx.input(4) : null;
            double[] h0 = ctx.hasInput(5) ? values(ctx.input(5)) : null;
            double[] c0 = kind == Kind.LSTM && ctx.hasInput(6) ? values(ctx.input(6)) : null;
            double[] p = kind == Kind.LSTM && ctx.hasInput(7) ? values(ctx.input(7)) : null;
            int[] len = new int[batch];
            for (int b = 0; b < batch; b++) {
                long l = lens == null ? seq : lens.getLong(b);
                if (l < 0 || l > seq) throw new OpException("input sequence_lens[" + b + "] = " + l + " is outside [0, " + seq + "] (X's sequence length)");
                len[b] = (int) l;
            }
            DType t = ctx.input(0).dtype();
            Tensor y = Tensor.zeros(t, bf ? Shape.of(batch, seq, dirs, h) : Shape.of(seq, dirs, batch, h));
            Tensor yh = Tensor.zeros(t, bf ? Shape.of(batch, dirs, h) : Shape.of(dirs, batch, h));
            Tensor yc = Tensor.zeros(t, yh.shape());
            double[] gates = new double[g * h], rec = new double[g * h];
            for (int dir = 0; dir < dirs; dir++) {
                boolean reverse = reverseOnly || dir == 1;
                Activation[] fn = act[dir];
                int wOff = dir * g * h * in, rOff = dir * g * h * h, bOff = dir * 2 * g * h, pOff = dir * 3 * h;
                for (int b = 0; b < batch; b++) {
                    double[] hs = new double[h], cs = new double[h];
                    int stateAt = bf ? (b * dirs + dir) * h : (dir * batch + b) * h;
                    if (h0 != null) System.arraycopy(h0, stateAt, hs, 0, h);
                    if (c0 != null) System.arraycopy(c0, stateAt, cs, 0, h);
                    for (int s = 0; s < len[b]; s++) {
                        int step = reverse ? len[b] - 1 - s : s;
                        int xAt = (bf ? b * seq + step : step * batch + b) * in;
                        // gates = W x + Wb + Rb; rec = R h (kept apart for GRU's reset gate)
                        for (int j = 0; j < g * h; j++) {
                            double acc = 0, racc = 0;
                            int wr = wOff + j * in, rr = rOff + j * h;
                            for (int k = 0; k < in; k++) acc += w[wr + k] * x[xAt + k];
                            for (int k = 0; k < h; k++) racc += r[rr + k] * hs[k];
                            if (bias != null) { acc += bias[bOff + j]; racc += bias[bOff + g * h + j]; }
                            gates[j] = acc;
                            rec[j] = racc;
                        }
                        double[] next = new double[h];
                        switch (kind) {
                            case RNN -> {
                                for (int j = 0; j < h; j++) next[j] = fn[0].apply(clip(gates[j] + rec[j], clip));
                            }
                            case GRU -> {
                                double[] rh = new double[h];
                                if (!linearBeforeReset) {
                                    // (rt . Ht-1) Rh^T + Rbh: the reset gate first, then R's h block
                                    double[] reset = new double[h];
                                    for (int j = 0; j < h; j++) reset[j] = fn[0].apply(clip(gates[h + j] + rec[h + j], clip)) * hs[j];
                                    for (int j = 0; j < h; j++) {
                                        double acc = bias == null ? 0 : bias[bOff + g * h + 2 * h + j];
                                        int rr = rOff + (2 * h + j) * h;
                                        for (int k = 0; k < h; k++) acc += r[rr + k] * reset[k];
                                        rh[j] = acc;
                                    }
                                }
                                for (int j = 0; j < h; j++) {
                                    double z = fn[0].apply(clip(gates[j] + rec[j], clip));
                                    double rt = fn[0].apply(clip(gates[h + j] + rec[h + j], clip));
                                    double pre = gates[2 * h + j] + (linearBeforeReset ? rt * rec[2 * h + j] : rh[j]);
                                    double cand = fn[1].apply(clip(pre, clip));
                                    next[j] = (1 - z) * cand + z * hs[j];
                                }
                            }
                            case LSTM -> {
                                double[] cn = new double[h];
                                for (int j = 0; j < h; j++) {
                                    double pi = p == null ? 0 : p[pOff + j], po = p == null ? 0 : p[pOff + h + j], pf = p == null ? 0 : p[pOff + 2 * h + j];
                                    double i = fn[0].apply(clip(gates[j] + rec[j] + pi * cs[j], clip));
                                    double f = coupled ? 1 - i : fn[0].apply(clip(gates[2 * h + j] + rec[2 * h + j] + pf * cs[j], clip));
                                    double c = fn[1].apply(clip(gates[3 * h + j] + rec[3 * h + j], clip));
                                    cn[j] = f * cs[j] + i * c;
                                    double o = fn[0].apply(clip(gates[h + j] + rec[h + j] + po * cn[j], clip));
                                    next[j] = o * fn[2].apply(cn[j]);
                                }
                                cs = cn;
                            }
                        }
                        hs = next;
                        int yAt = bf ? ((b * seq + step) * dirs + dir) * h : ((step * dirs + dir) * batch + b) * h;
                        for (int j = 0; j < h; j++) Kernels.store(y, yAt + j, hs[j]);
                    }
                    for (int j = 0; j < h; j++) {
                        Kernels.store(yh, stateAt + j, hs[j]);
                        Kernels.store(yc, stateAt + j, cs[j]);
                    }
                }
            }
            List<Tensor> out = new ArrayList<>(List.of(y, yh, yc));
            return List.copyOf(out.subList(0, ctx.numOutputs()));
        }

        private static double[] values(Tensor t) {
            double[] v = new double[t.size()];
            for (int i = 0; i < v.length; i++) v[i] = t.getDouble(i);
            return v;
        }

        private static double clip(double v, double c) { return v < -c ? -c : v > c ? c : v; }
    }

    /** An activation function with its alpha and beta. */
    record Activation(Fn fn, double alpha, double beta) {
        double apply(double v) { return fn.apply(v, alpha, beta); }
    }

    /** The activation functions ONNX's recurrent ops define, with their default alpha and beta. */
    enum Fn {
        RELU("Relu", false, false, 0, 0),
        TANH("Tanh", false, false, 0, 0),
        SIGMOID("Sigmoid", false, false, 0, 0),
        AFFINE("Affine", true, true, 1, 0),
        LEAKY_RELU("LeakyRelu", true, false, 0.01, 0),
        THRESHOLDED_RELU("ThresholdedRelu", true, false, 1, 0),
        SCALED_TANH("ScaledTanh", true, true, 1, 1),
        HARD_SIGMOID("HardSigmoid", true, true, 0.2, 0.5),
        ELU("Elu", true, false, 1, 0),
        SOFTSIGN("Softsign", false, false, 0, 0),
        SOFTPLUS("Softplus", false, false, 0, 0);

        final String onnx;
        final boolean usesAlpha, usesBeta;
        final double defaultAlpha, defaultBeta;

        Fn(String onnx, boolean usesAlpha, boolean usesBeta, double defaultAlpha, double defaultBeta) {
            this.onnx = onnx; this.usesAlpha = usesAlpha; this.usesBeta = usesBeta; this.defaultAlpha = defaultAlpha; this.defaultBeta = defaultBeta;
        }

        static Fn of(String name) {
            for (Fn f : values()) if (f.onnx.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) return f;
            List<String> known = new ArrayList<>();
            for (Fn f : values()) known.add(f.onnx);
            throw new OpException("attribute 'activations': '" + name + "' is not an activation function of ONNX's recurrent ops (" + String.join(", ", known) + ")");
        }

        double apply(double v, double a, double b) {
            return switch (this) {
                case RELU -> Math.max(v, 0);
                case TANH -> Math.tanh(v);
                case SIGMOID -> 1 / (1 + Math.exp(-v));
                case AFFINE -> a * v + b;
                case LEAKY_RELU -> v >= 0 ? v : a * v;
                case THRESHOLDED_RELU -> v >= a ? v : 0;   // the recurrent ops' text: "x if x >= alpha"
                case SCALED_TANH -> a * Math.tanh(b * v);
                case HARD_SIGMOID -> Math.max(0, Math.min(1, a * v + b));
                case ELU -> v >= 0 ? v : a * (Math.exp(v) - 1);
                case SOFTSIGN -> v / (1 + Math.abs(v));
                case SOFTPLUS -> v > 30 ? v : Math.log1p(Math.exp(v));
            };
        }
    }
}
