package org.tessel.passes.canonical;

import java.util.List;
import java.util.Set;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.rules.Patterns;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/** Rules that canonicalize data movement: merge consecutive transposes and reshapes, drop no-ops. */
public final class CanonicalizeRules {
    private CanonicalizeRules() {}

    /** Ops that only reinterpret the shape (row-major order unchanged). */
    static final Set<String> RESHAPES = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze");

    /** Config of {@link MergeTransposes}: whether an identity result is removed. */
    public record TransposeConfig(boolean dropIdentity) {}

    /** Rule that composes Transpose(Transpose(x)) into one Transpose (or x when the result is the identity). */
    public static final class MergeTransposes implements RewriteRule {
        private final TransposeConfig config;

        public MergeTransposes(TransposeConfig config) { this.config = config; }

        @Override public String name() { return "merge-transposes"; }
        @Override public Set<String> rootOps() { return Set.of("Transpose"); }

        @Override public boolean matchAndRewrite(Node t2, Rewriter rw) {
            int rank = t2.output().type().rank();
            long[] p2 = perm(t2, rank);
            Node t1 = Patterns.producer(t2, 0, "Transpose");
            if (t1 != null && Patterns.singleUse(rw.graph(), t1.output())) {
                long[] p1 = perm(t1, rank);
                long[] q = new long[rank];
                for (int k = 0; k < rank; k++) q[k] = p1[(int) p2[k]];
                Value src = t1.input(0);
                if (isIdentity(q) && config.dropIdentity()) return replaceKeepingName(rw, t2, src, t1);
                Node merged = rw.insertBefore(t2, "Transpose", t2.name(), Attributes.builder().put("perm", q).build(), 1, src);
                rw.replace(t2, merged.output());
                rw.erase(t1);
                return true;
            }
            if (config.dropIdentity() && isIdentity(p2)) return replaceKeepingName(rw, t2, t2.input(0), null);
            return false;
        }

        private static long[] perm(Node t, int rank) {
            long[] p = t.attrs().getInts("perm");
            if (p != null) return p;
            long[] r = new long[rank];
            for (int i = 0; i < rank; i++) r[i] = rank - 1 - i;
            return r;
        }

        private static boolean isIdentity(long[] p) {
            for (int i = 0; i < p.length; i++) if (p[i] != i) return false;
            return true;
        }
    }

    /** Rule that merges a chain of reshape-like ops into one Reshape, or removes it when the shape is unchanged. */
    public static final class MergeReshapes implements RewriteRule {
        @Override public String name() { return "merge-reshapes"; }
        @Override public Set<String> rootOps() { return RESHAPES; }

        @Override public boolean matchAndRewrite(Node r2, Rewriter rw) {
            Value in = r2.input(0);
            Node r1 = in.producer();
            boolean chain = r1 != null && RESHAPES.contains(r1.opName()) && Patterns.singleUse(rw.graph(), r1.output());
            Value src = chain ? r1.input(0) : in;
            Shape target = r2.output().type().shape();
            if (src.type().shape().equals(target)) return replaceKeepingName(rw, r2, src, chain ? r1 : null);
            if (!chain) return false;
            long[] dims = target.longDims();
            Value shape = rw.constant(r2.name() + "_shape", Tensor.ofLongs(DType.I64, Shape.of(dims.length), dims));
            Node merged = rw.insertBefore(r2, "Reshape", r2.name(), Attributes.empty(), 1, src, shape);
            rw.replace(r2, merged.output());
            rw.erase(r1);
            return true;
        }
    }

    /** Rule that writes a two-input Sum (older exporters' residual add) as Add, so fusion patterns see it. */
    public static final class SumToAdd implements RewriteRule {
        @Override public String name() { return "sum-to-add"; }
        @Override public Set<String> rootOps() { return Set.of("Sum"); }

        @Override public boolean matchAndRewrite(Node sum, Rewriter rw) {
            if (sum.numInputs() != 2) return false;
            Node add = rw.insertBefore(sum, "Add", sum.name(), Attributes.empty(), 1, sum.input(0), sum.input(1));
            rw.replace(sum, add.output());
            return true;
        }
    }

    /** Replaces node n by value v, unless that would turn a graph output into a graph input. */
    static boolean replaceKeepingName(Rewriter rw, Node n, Value v, Node alsoErase) {
        Graph g = rw.graph();
        if (g.outputs().contains(n.output()) && (v.isInput() || v.isConstant() || g.outputs().contains(v))) return false;
        rw.replace(n, v);
        if (alsoErase != null && Patterns.unused(g, alsoErase.output())) rw.erase(alsoErase);
        return true;
    }

    public static final RewriteRule MERGE_TRANSPOSES = new MergeTransposes(new TransposeConfig(true));
    public static final RewriteRule MERGE_RESHAPES = new MergeReshapes();
    public static final RewriteRule SUM_TO_ADD = new SumToAdd();
    public static final List<RewriteRule> ALL = List.of(MERGE_TRANSPOSES, MERGE_RESHAPES, SUM_TO_ADD);

    static AttrValue ints(long... v) { return AttrValue.of(v); }
}
