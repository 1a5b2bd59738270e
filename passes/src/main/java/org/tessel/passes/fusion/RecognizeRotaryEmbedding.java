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
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rule that recognises rotary position embeddings as decoders and transformers' exports write them,
 * {@code x * cos + rotate_half(x) * sin} with {@code rotate_half(x) = Concat(-x2, x1)} over the last axis, and replaces
 * the five or six ops by one {@code tessel.RotaryEmbedding}. The halves may come from one Split into two equal parts
 * (Tessel's zoo) or from two Slices of the last axis (Hugging Face's export); the Muls and the Add in either operand
 * order. cos and sin must have one shape, broadcast onto x and have its last dimension. A Concat in the other order,
 * the Neg on the first half, or halves of another axis are a different function and are left alone.
 */
public final class RecognizeRotaryEmbedding implements RewriteRule {
    @Override public String name() { return "recognize-rotary-embedding"; }
    @Override public Set<String> rootOps() { return Set.of("Add"); }

    @Override public boolean matchAndRewrite(Node add, Rewriter rw) {
        Node m0 = producer(add.input(0), "Mul"), m1 = producer(add.input(1), "Mul");
        if (m0 == null || m1 == null || m0 == m1) return false;
        return tryMatch(add, m0, m1, rw) || tryMatch(add, m1, m0, rw);
    }

    /** {@code cosMul} = x * cos, {@code sinMul} = Concat(-x2, x1) * sin, in either operand order. */
    private static boolean tryMatch(Node add, Node cosMul, Node sinMul, Rewriter rw) {
        Graph g = rw.graph();
        for (int ri = 0; ri < 2; ri++) {
            Node concat = producer(sinMul.input(ri), "Concat");
            if (concat == null || concat.numInputs() != 2) continue;
            Node neg = producer(concat.input(0), "Neg");
            if (neg == null) continue;
            Half second = half(neg.input(0)), first = half(concat.input(1));
            if (second == null || first == null || second.which() != 1 || first.which() != 0 || second.source() != first.source()) continue;
            Value x = first.source();
            int rank = x.type().rank(), d = x.type().shape().dim(-1);
            long axis = concat.attrs().getInt("axis", 0);
            if (axis != -1 && axis != rank - 1) continue;
            int xi = cosMul.input(0) == x ? 0 : cosMul.input(1) == x ? 1 : -1;
            if (xi < 0) continue;
            Value cos = cosMul.input(1 - xi), sin = sinMul.input(1 - ri);
            Shape cs = cos.type().shape();
            if (!cs.equals(sin.type().shape()) || cs.rank() < 1 || cs.dim(-1) != d || !broadcastsOnto(cs, x.type().shape())) continue;
            if (!cos.type().dtype().equals(x.type().dtype()) || !sin.type().dtype().equals(x.type().dtype())) continue;
            if (!add.output().type().shape().equals(x.type().shape())) continue;
            List<Node> inner = List.of(neg, concat, sinMul, cosMul);
            boolean private_ = true;
            for (Node n : inner) private_ &= CompositeRules.soleUser(g, n.output(), n == neg ? "Concat" : n == concat ? "Mul" : "Add") != null;
            if (!private_) continue;
            Node rope = rw.insertBefore(add, RotaryEmbeddingOps.HALF_ROTATION, add.name() + "_rope", Attributes.empty(), 1, x, cos, sin);
            rw.replace(add, rope.output());
            for (Node n : List.of(cosMul, sinMul, concat, neg)) rw.erase(n);
            // the Split or Slices go when nothing else reads them
            List<Node> halves = new ArrayList<>();
            for (Node h : new Node[] {second.node(), first.node()}) if (!halves.contains(h)) halves.add(h);
            for (Node h : halves)
                if (g.contains(h) && h.outputs().stream().allMatch(v -> g.useCount(v) == 0 && !g.outputs().contains(v))) rw.erase(h);
            return true;
        }
        return false;
    }

    private static Node producer(Value v, String op) {
        return v != null && v.producer() != null && v.producer().opName().equals(op) ? v.producer() : null;
    }

    private static boolean broadcastsOnto(Shape from, Shape to) {
        int off = to.rank() - from.rank();
        if (off < 0) return false;
        for (int i = 0; i < from.rank(); i++) if (from.dim(i) != 1 && from.dim(i) != to.dim(off + i)) return false;
        return true;
    }

    /** Value {@code v} is half {@code which} (0 first, 1 second) of {@code source}'s last axis, made by {@code node}. */
    private record Half(Value source, int which, Node node) {}

    /** The half of the last axis {@code v} is, through a Split into two equal parts or a Slice of step 1; else null. */
    private static Half half(Value v) {
        Node p = v == null ? null : v.producer();
        if (p == null || p.numInputs() == 0 || p.input(0) == null) return null;
        Value src = p.input(0);
        int rank = src.type().rank();
        if (rank < 1) return null;
        int d = src.type().shape().dim(-1);
        if (d % 2 != 0) return null;
        if (p.opName().equals("Split")) {
            long axis = p.attrs().getInt("axis", 0);
            if (axis != -1 && axis != rank - 1 || p.outputs().size() != 2) return null;
            for (Value out : p.outputs()) if (out.type().shape().dim(-1) != d / 2) return null;
            return new Half(src, p.outputs().indexOf(v), p);
        }
        if (!p.opName().equals("Slice") || p.numInputs() < 3) return null;
        for (int i = 1; i < p.numInputs(); i++) if (p.input(i) != null && !p.input(i).isConstant()) return null;
        Tensor starts = p.input(1).constantValue(), ends = p.input(2).constantValue();
        Tensor axes = p.numInputs() > 3 && p.input(3) != null ? p.input(3).constantValue() : null;
        Tensor steps = p.numInputs() > 4 && p.input(4) != null ? p.input(4).constantValue() : null;
        if (starts.size() != 1 || ends.size() != 1 || axes != null && axes.size() != 1 || steps != null && (steps.size() != 1 || steps.getLong(0) != 1)) return null;
        long axis = axes == null ? 0 : axes.getLong(0);
        if (axis != -1 && axis != rank - 1) return null;
        long s = clamp(starts.getLong(0), d), e = clamp(ends.getLong(0), d);
        if (s == 0 && e == d / 2) return new Half(src, 0, p);
        if (s == d / 2 && e == d) return new Half(src, 1, p);
        return null;
    }

    private static long clamp(long i, int d) {
        long j = i < 0 ? i + d : i;
        return Math.max(0, Math.min(d, j));
    }
}
