package org.tessel.passes.decompose;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.EinsumOp;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rule that writes a floating-point Einsum out as ReduceSum, Transpose, Reshape and MatMul, operand by operand from
 * the left: an index only the current operand has and nothing later needs is summed first (ReduceSum); two operands
 * are contracted as one batched MatMul [batch, M, K] x [batch, K, N] (batch: indices both have and a later operand or
 * the output needs; K: indices both have that nothing later needs; M and N: the rest of each), then the result is
 * transposed into the output's order. Einsums it leaves alone, which the GPU then refuses for want of a tactic:
 * integer ones, a repeated index within one term (a diagonal), and '...' axes that broadcast (size 1 against n).
 */
public final class DecomposeEinsum implements RewriteRule {
    @Override public String name() { return "decompose-einsum"; }
    @Override public Set<String> rootOps() { return Set.of("Einsum"); }

    /** Why the Einsum cannot be decomposed, or null. */
    public static String whyNot(Node n) {
        if (!n.output().type().dtype().isFloating()) return "an integer Einsum (the GPU's MatMul and ReduceSum decomposition is for floats)";
        List<Shape> shapes = new ArrayList<>();
        for (Value v : n.inputs()) shapes.add(v.type().shape());
        EinsumOp.Spec s = EinsumOp.spec(n.attrs().getString("equation", ""), shapes);
        for (int k = 0; k < s.inputs().size(); k++) {
            int[] l = s.inputs().get(k);
            for (int i = 0; i < l.length; i++) {
                for (int j = i + 1; j < l.length; j++)
                    if (l[i] == l[j]) return "index '" + EinsumOp.Spec.name(l[i]) + "' repeats in term " + k + " (a diagonal)";
                if (shapes.get(k).dim(i) != s.sizes()[l[i]]) return "its '...' axes broadcast (input " + k + " of shape " + shapes.get(k) + ")";
            }
        }
        return null;
    }

    @Override public boolean matchAndRewrite(Node n, Rewriter rw) {
        if (whyNot(n) != null) return false;
        List<Shape> shapes = new ArrayList<>();
        for (Value v : n.inputs()) shapes.add(v.type().shape());
        EinsumOp.Spec s = EinsumOp.spec(n.attrs().getString("equation", ""), shapes);
        DecomposeAttention.Emit e = new DecomposeAttention.Emit(rw, n);
        int ops = n.numInputs();
        Value cur = n.input(0);
        List<Integer> curLabels = labels(s.inputs().get(0));
        for (int k = 0; k < ops; k++) {
            // indices needed after this step: the output's and those of the operands not yet taken
            List<Integer> later = labels(s.output());
            for (int j = k + 1; j < ops; j++) for (int l : s.inputs().get(j)) if (!later.contains(l)) later.add(l);
            if (k == 0) {
                Reduced r = sumOut(e, cur, curLabels, later, List.of());
                cur = r.value(); curLabels = r.labels();
                continue;
            }
            Value b = n.input(k);
            List<Integer> bLabels = labels(s.inputs().get(k));
            Reduced rb = sumOut(e, b, bLabels, later, curLabels);
            Reduced ra = sumOut(e, cur, curLabels, later, rb.labels());
            cur = contract(e, s, ra, rb, later);
            curLabels = new ArrayList<>();
            for (int l : ra.labels()) if (rb.labels().contains(l) && later.contains(l)) curLabels.add(l);
            for (int l : ra.labels()) if (!rb.labels().contains(l)) curLabels.add(l);
            for (int l : rb.labels()) if (!ra.labels().contains(l)) curLabels.add(l);
        }
        // into the output's order
        long[] perm = new long[s.output().length];
        boolean identity = true;
        for (int i = 0; i < perm.length; i++) { perm[i] = curLabels.indexOf(s.output()[i]); identity &= perm[i] == i; }
        Value out = identity ? cur : e.transpose(cur, perm);
        if (out == n.input(0) || out.isConstant()) out = e.reshape(out, s.outputShape().dims()); // a fresh value for the output
        rw.replace(n, out);
        rw.count("einsum-decomposed");
        return true;
    }

    private static List<Integer> labels(int[] l) {
        List<Integer> out = new ArrayList<>();
        for (int x : l) out.add(x);
        return out;
    }

    private record Reduced(Value value, List<Integer> labels) {}

    /** Sums x's indices that neither {@code later} nor {@code other} has. */
    private static Reduced sumOut(DecomposeAttention.Emit e, Value x, List<Integer> labels, List<Integer> later, List<Integer> other) {
        List<Long> axes = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < labels.size(); i++) {
            int l = labels.get(i);
            if (later.contains(l) || other.contains(l)) kept.add(l);
            else axes.add((long) i);
        }
        if (axes.isEmpty()) return new Reduced(x, labels);
        long[] ax = axes.stream().mapToLong(Long::longValue).toArray();
        Value r = e.op("ReduceSum", Attributes.builder().put("keepdims", 0L).build(), x, e.constant("axes", Tensor.ofLongs(DType.I64, Shape.of(ax.length), ax)));
        return new Reduced(r, kept);
    }

    /** a and b contracted as [batch, M, K] x [batch, K, N]; the result's axes: batch, a's own, b's own. */
    private static Value contract(DecomposeAttention.Emit e, EinsumOp.Spec s, Reduced a, Reduced b, List<Integer> later) {
        List<Integer> batch = new ArrayList<>(), sum = new ArrayList<>(), m = new ArrayList<>(), nn = new ArrayList<>();
        for (int l : a.labels()) {
            if (b.labels().contains(l)) (later.contains(l) ? batch : sum).add(l);
            else m.add(l);
        }
        for (int l : b.labels()) if (!a.labels().contains(l)) nn.add(l);
        Value at = arrange(e, a, cat(batch, m, sum)), bt = arrange(e, b, cat(batch, sum, nn));
        int bs = size(s, batch), ms = size(s, m), ks = size(s, sum), ns = size(s, nn);
        Value prod = e.op("MatMul", Attributes.empty(), e.reshape(at, bs, ms, ks), e.reshape(bt, bs, ks, ns));
        int[] dims = new int[batch.size() + m.size() + nn.size()];
        int i = 0;
        for (List<Integer> part : List.of(batch, m, nn)) for (int l : part) dims[i++] = s.sizes()[l];
        return e.reshape(prod, dims);
    }

    private static List<Integer> cat(List<Integer> x, List<Integer> y, List<Integer> z) {
        List<Integer> out = new ArrayList<>(x);
        out.addAll(y);
        out.addAll(z);
        return out;
    }

    private static int size(EinsumOp.Spec s, List<Integer> labels) {
        int p = 1;
        for (int l : labels) p *= s.sizes()[l];
        return p;
    }

    /** x transposed so its axes are {@code order}. */
    private static Value arrange(DecomposeAttention.Emit e, Reduced x, List<Integer> order) {
        long[] perm = new long[order.size()];
        boolean identity = true;
        for (int i = 0; i < perm.length; i++) { perm[i] = x.labels().indexOf(order.get(i)); identity &= perm[i] == i; }
        return identity ? x.value() : e.transpose(x.value(), perm);
    }
}
