package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.rules.Patterns;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rules that recognise decomposed composites, as exporters write them, and replace them by the
 * single op: LayerNormalization, RMSNormalization and (erf-form) GELU; and rotary embeddings ({@link RecognizeRotaryEmbedding}).
 */
public final class CompositeRules {
    private CompositeRules() {}

    /** Config of {@link RecognizeLayerNorm}: the tolerance for the epsilon constant being a scalar. */
    public record LayerNormConfig(boolean requireAffine) {}

    /**
     * Rule that recognises mean/variance normalisation over the last axis:
     * d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(d*d or d^2) + eps) [* gamma] [+ beta].
     */
    public static final class RecognizeLayerNorm implements RewriteRule {
        private final LayerNormConfig config;

        public RecognizeLayerNorm(LayerNormConfig config) { this.config = config; }

        @Override public String name() { return "recognize-layernorm"; }
        @Override public Set<String> rootOps() { return Set.of("Div"); }

        @Override public boolean matchAndRewrite(Node div, Rewriter rw) {
            Graph g = rw.graph();
            Node sub = Patterns.producer(div, 0, "Sub");
            Node sqrt = Patterns.producer(div, 1, "Sqrt");
            if (sub == null || sqrt == null) return false;
            Node mean = Patterns.producer(sub, 1, "ReduceMean");
            if (mean == null || mean.input(0) != sub.input(0) || !lastAxis(mean)) return false;
            Value x = sub.input(0);
            Node addEps = Patterns.producer(sqrt, 0, "Add");
            if (addEps == null || !Patterns.isConstant(addEps.input(1)) || addEps.input(1).type().numElements() != 1) return false;
            Node var = Patterns.producer(addEps, 0, "ReduceMean");
            if (var == null || !lastAxis(var)) return false;
            Node sq = var.input(0).producer();
            if (sq == null) return false;
            boolean square = sq.opName().equals("Mul") && sq.input(0) == sub.output() && sq.input(1) == sub.output()
                    || sq.opName().equals("Pow") && sq.input(0) == sub.output() && Patterns.isConstant(sq.input(1))
                    && sq.input(1).type().numElements() == 1 && sq.input(1).constantValue().getDouble(0) == 2.0;
            if (!square) return false;
            List<Node> inner = List.of(mean, sub, sq, var, addEps, sqrt);
            for (Node n : inner) if (n != sub && !Patterns.singleUse(g, n.output())) return false;
            // sub's result feeds the square (once or twice) and the division only
            for (Node u : g.users(sub.output())) if (u != sq && u != div) return false;
            int c = x.type().shape().dim(-1);
            Node end = div;
            Value gamma = null, beta = null;
            Node mulG = soleUser(g, div.output(), "Mul");
            if (mulG != null && perLastAxis(other(mulG, div.output()), c)) { gamma = other(mulG, div.output()); end = mulG; }
            Node addB = gamma == null ? null : soleUser(g, mulG.output(), "Add");
            if (addB != null && perLastAxis(other(addB, mulG.output()), c)) { beta = other(addB, mulG.output()); end = addB; }
            if (config.requireAffine() && (gamma == null || beta == null)) return false;
            float eps = (float) addEps.input(1).constantValue().getDouble(0);
            var dt = x.type().dtype();
            Value gv = gamma != null ? flat(rw, gamma, c) : rw.constant(div.name() + "_gamma", Tensor.full(dt, Shape.of(c), 1));
            Value bv = beta != null ? flat(rw, beta, c) : rw.constant(div.name() + "_beta", Tensor.zeros(dt, Shape.of(c)));
            Node ln = rw.insertBefore(end, "LayerNormalization", div.name() + "_layernorm",
                    Attributes.builder().put("axis", -1L).put("epsilon", eps).build(), 1, x, gv, bv);
            List<Node> erase = new ArrayList<>(List.of(end));
            if (end != div) { if (addB != null && end == addB) erase.add(mulG); erase.add(div); }
            rw.replace(end, ln.output());
            for (Node n : erase) if (n != end) rw.erase(n);
            for (int i = inner.size() - 1; i >= 0; i--) if (g.contains(inner.get(i))) rw.erase(inner.get(i));
            return true;
        }

        private static Value flat(Rewriter rw, Value v, int c) {
            if (v.type().rank() == 1) return v;
            return rw.constant(v.name() + "_flat", v.constantValue().reshape(Shape.of(c)));
        }
    }

    /** Whether reduce (a Reduce* node) keeps dimensions and reduces the last axis only, named by a constant axes input. */
    static boolean lastAxis(Node reduce) {
        if (reduce.attrs().getInt("keepdims", 1) != 1 || reduce.input(1) == null || !reduce.input(1).isConstant()) return false;
        Tensor axes = reduce.input(1).constantValue();
        int rank = reduce.input(0).type().rank();
        return axes.size() == 1 && (axes.getLong(0) == -1 || axes.getLong(0) == rank - 1);
    }

    /**
     * Rule that recognises root-mean-square normalisation over the last axis:
     * x / Sqrt(ReduceMean(x*x or x^2) + eps), or x * Reciprocal(Sqrt(...)) (also 1 / Sqrt(...)), then [* gamma], gamma a
     * constant of the last axis's length, either operand order. The HF export's casts are taken in too: x = Cast(x0 to
     * f32), the normalized value Cast back to x0's type, then gamma (RMSNormalization of x0 then computes the statistics
     * in f32, stash_type 1). The squares, mean, sum, root and reciprocal must have no other users. Rooted at the
     * normalizing Div or Mul, so a LayerNorm (whose centered value is divided the same way) is recognised first.
     */
    public static final class RecognizeRmsNorm implements RewriteRule {
        @Override public String name() { return "recognize-rmsnorm"; }
        @Override public Set<String> rootOps() { return Set.of("Div", "Mul"); }

        @Override public boolean matchAndRewrite(Node norm, Rewriter rw) {
            Graph g = rw.graph();
            Value x;
            Node sqrt, recip = null;
            if (norm.opName().equals("Div")) {
                sqrt = Patterns.producer(norm, 1, "Sqrt");
                x = norm.input(0);
            } else {
                int r = reciprocalOperand(norm);
                if (r < 0) return false;
                recip = norm.input(r).producer();
                sqrt = Patterns.producer(recip, recip.opName().equals("Div") ? 1 : 0, "Sqrt");
                x = norm.input(1 - r);
            }
            if (sqrt == null || x.isConstant()) return false;
            Node addEps = Patterns.producer(sqrt, 0, "Add");
            if (addEps == null) return false;
            int e = scalarOperand(addEps);
            if (e < 0) return false;
            Node mean = addEps.input(1 - e).producer();
            if (mean == null || !mean.opName().equals("ReduceMean") || !lastAxis(mean)) return false;
            Node sq = mean.input(0).producer();
            if (sq == null || !squares(sq, x)) return false;
            List<Node> inner = new ArrayList<>(List.of(sq, mean, addEps, sqrt));
            if (recip != null) inner.add(recip);
            for (Node n : inner) if (!Patterns.singleUse(g, n.output())) return false;
            if (!x.type().sameLogicalType(norm.output().type())) return false;
            // the HF export: x = Cast(x0 to f32) read by the squares and the normalization only, the result Cast back
            Value in = x;
            Node after = norm, castIn = null, castOut = null;
            Node c0 = x.producer();
            if (c0 != null && c0.opName().equals("Cast") && !g.outputs().contains(x)
                    && g.users(x).stream().allMatch(u -> u == sq || u == norm)) {
                Node c1 = soleUser(g, norm.output(), "Cast");
                var from = c0.input(0).type().dtype();
                if (c1 != null && from.isFloating() && from != x.type().dtype() && c1.output().type().dtype() == from) {
                    castIn = c0; castOut = c1; in = c0.input(0); after = c1;
                }
            }
            int c = x.type().shape().dim(-1);
            Node end = after, mulG = soleUser(g, after.output(), "Mul");
            Value gamma = null;
            if (mulG != null) {
                Value o = other(mulG, after.output());
                if (o != after.output() && perLastAxis(o, c) && o.type().rank() <= x.type().rank()) {
                    gamma = o;
                    end = mulG;
                }
            }
            // RMSNormalization(in, gamma) has in's shape and type: so must the result it replaces
            if (!in.type().sameLogicalType(end.output().type())) return false;
            if (gamma == null) gamma = rw.constant(norm.name() + "_scale", Tensor.full(in.type().dtype(), Shape.of(c), 1));
            float eps = (float) addEps.input(e).constantValue().getDouble(0);
            Node rms = rw.insertBefore(end, "RMSNormalization", end.name(),
                    Attributes.builder().put("axis", -1L).put("epsilon", eps).build(), 1, in, gamma);
            List<Node> erase = new ArrayList<>();
            if (castIn != null) erase.add(castIn);
            erase.addAll(inner);
            erase.add(norm);
            if (castOut != null) erase.add(castOut);
            if (end != after) erase.add(end);
            rw.replace(end, rms.output());
            for (int i = erase.size() - 1; i >= 0; i--) if (erase.get(i) != end && g.contains(erase.get(i))) rw.erase(erase.get(i));
            return true;
        }

        /** Whether sq is x*x or x^2. */
        private static boolean squares(Node sq, Value x) {
            return sq.opName().equals("Mul") && sq.input(0) == x && sq.input(1) == x
                    || sq.opName().equals("Pow") && sq.input(0) == x && scalarConst(sq.input(1), 2, 0);
        }

        /** Which operand of the Mul is Reciprocal(...) or 1 / (...), else -1. */
        private static int reciprocalOperand(Node mul) {
            for (int i = 0; i < 2; i++) {
                Node p = mul.input(i).producer();
                if (p == null) continue;
                if (p.opName().equals("Reciprocal") || p.opName().equals("Div") && scalarConst(p.input(0), 1, 0)) return i;
            }
            return -1;
        }

        /** Which operand of the Add is a one-element constant, else -1. */
        private static int scalarOperand(Node add) {
            for (int i = 0; i < 2; i++) if (Patterns.isConstant(add.input(i)) && add.input(i).type().numElements() == 1) return i;
            return -1;
        }
    }

    static Node soleUser(Graph g, Value v, String op) {
        List<Node> us = g.users(v);
        if (us.size() != 1 || g.outputs().contains(v) || !us.get(0).opName().equals(op)) return null;
        return us.get(0);
    }

    static Value other(Node binary, Value v) { return binary.input(0) == v ? binary.input(1) : binary.input(0); }

    static boolean perLastAxis(Value v, int c) {
        if (v == null || !v.isConstant() || v.type().numElements() != c) return false;
        Shape s = v.type().shape();
        return s.rank() >= 1 && s.dim(-1) == c;
    }

    static boolean scalarConst(Value v, double expect, double tol) {
        return v != null && v.isConstant() && v.type().numElements() == 1 && Math.abs(v.constantValue().getDouble(0) - expect) <= tol;
    }

    /** Rule that recognises 0.5 * x * (1 + erf(x / sqrt(2))) in its usual association orders. */
    public static final class RecognizeGelu implements RewriteRule {
        @Override public String name() { return "recognize-gelu"; }
        @Override public Set<String> rootOps() { return Set.of("Erf"); }

        @Override public boolean matchAndRewrite(Node erf, Rewriter rw) {
            Graph g = rw.graph();
            Node scale = erf.input(0).producer();
            if (scale == null || !Patterns.singleUse(g, scale.output())) return false;
            Value x;
            if (scale.opName().equals("Div") && scalarConst(scale.input(1), Math.sqrt(2), 1e-3)) x = scale.input(0);
            else if (scale.opName().equals("Mul") && scalarConst(other(scale, scale.input(0)), Math.sqrt(0.5), 1e-3)
                    && !scale.input(0).isConstant()) x = scale.input(0);
            else if (scale.opName().equals("Mul") && scalarConst(scale.input(0), Math.sqrt(0.5), 1e-3)) x = scale.input(1);
            else return false;
            Node plus = soleUser(g, erf.output(), "Add");
            if (plus == null || !scalarConst(other(plus, erf.output()), 1, 0)) return false;
            Node m1 = soleUser(g, plus.output(), "Mul");
            if (m1 == null) return false;
            Value o1 = other(m1, plus.output());
            List<Node> erase = new ArrayList<>(List.of(scale, erf, plus, m1));
            Node end;
            if (o1 == x || scalarConst(o1, 0.5, 0)) {
                Node m2 = soleUser(g, m1.output(), "Mul");
                if (m2 == null) return false;
                Value o2 = other(m2, m1.output());
                boolean ok = o1 == x ? scalarConst(o2, 0.5, 0) : o2 == x;
                if (!ok) return false;
                erase.add(m2);
                end = m2;
            } else {
                Node half = o1.producer();
                if (half == null || !half.opName().equals("Mul") || !Patterns.singleUse(g, o1)) return false;
                boolean ok = half.input(0) == x && scalarConst(half.input(1), 0.5, 0) || half.input(1) == x && scalarConst(half.input(0), 0.5, 0);
                if (!ok) return false;
                erase.add(0, half);
                end = m1;
            }
            if (!x.type().sameLogicalType(end.output().type())) return false;
            Node gelu = rw.insertBefore(end, "Gelu", erf.name() + "_gelu", Attributes.empty(), 1, x);
            rw.replace(end, gelu.output());
            for (int i = erase.size() - 1; i >= 0; i--) if (erase.get(i) != end && g.contains(erase.get(i))) rw.erase(erase.get(i));
            return true;
        }
    }

    public static final RewriteRule LAYERNORM = new RecognizeLayerNorm(new LayerNormConfig(false));
    public static final RewriteRule RMSNORM = new RecognizeRmsNorm();
    public static final RewriteRule GELU = new RecognizeGelu();
    public static final RewriteRule ROTARY_EMBEDDING = new RecognizeRotaryEmbedding();
    /** LayerNorm before RMSNorm: both root at the normalizing Div, and a LayerNorm is an RMSNorm of the centered value. */
    public static final List<RewriteRule> ALL = List.of(LAYERNORM, RMSNORM, GELU, ROTARY_EMBEDDING);
}
