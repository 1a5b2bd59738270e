package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.Rewriter;

/**
 * Pass for horizontal fusion: sibling Convs (same input, same kernel geometry, constant weights)
 * or sibling MatMuls with constant [K, N] weights that read the same input are merged into one
 * wider op followed by a Split — Inception's 1x1 branches, BERT's Q/K/V projections.
 */
public final class MergeSiblings implements Pass {
    static final PassOption MIN = new PassOption("min-siblings", "2", "Merge only groups of at least this many siblings");
    private static final PassInfo INFO = PassInfo.named("merge-siblings", "Merge sibling Convs/MatMuls on one input into one wider op plus a Split")
            .statistic("siblings-merged", "Convs/MatMuls merged into a wider one")
            .options(MIN).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        int min = ctx.intOption(MIN);
        Rewriter rw = new Rewriter(g, ctx.registry(), ctx.stats());
        boolean changed = false;
        // values made by one merge (a Split's outputs) may have siblings of their own: sweep until none
        for (int round = 0; round < 16; round++) {
            boolean merged = sweep(g, rw, min, ctx);
            changed |= merged;
            if (!merged) break;
        }
        return changed;
    }

    private boolean sweep(Graph g, Rewriter rw, int min, PassContext ctx) {
        boolean changed = false;
        Map<Value, List<Node>> users = g.users();
        // positions before any merge: inserting and removing nodes keeps the original nodes' relative order,
        // and asking the graph after each merge would renumber it every time
        Map<Node, Integer> pos = new java.util.IdentityHashMap<>();
        for (Node n : g.nodes()) pos.put(n, pos.size());
        for (Map.Entry<Value, List<Node>> e : users.entrySet()) {
            Map<Object, List<Node>> groups = new LinkedHashMap<>();
            for (Node n : e.getValue()) {
                if (!g.contains(n)) continue; // merged away with an earlier group
                Object key = key(n, e.getKey());
                if (key != null) groups.computeIfAbsent(key, k -> new ArrayList<>()).add(n);
            }
            for (List<Node> group : groups.values()) {
                if (group.size() < min) continue;
                if (group.get(0).opName().equals("Conv")) mergeConvs(rw, group, pos);
                else mergeMatMuls(rw, group, pos);
                ctx.stats().add("siblings-merged", group.size());
                changed = true;
            }
        }
        return changed;
    }

    private record ConvKey(Attributes attrs, List<Integer> kernel, DType dtype) {}

    private record MatMulKey(int k, DType dtype) {}

    /** What must agree for two siblings to merge; null when n is not a candidate. */
    private static Object key(Node n, Value in) {
        if (n.input(0) != in || n.input(1) == null || !n.input(1).isConstant()) return null;
        if (n.opName().equals("Conv")) {
            if (n.attrs().getInt("group", 1) != 1) return null;
            if (n.input(2) != null && !n.input(2).isConstant()) return null;
            Shape w = n.input(1).type().shape();
            List<Integer> kernel = new ArrayList<>();
            for (int i = 1; i < w.rank(); i++) kernel.add(w.dim(i));
            return new ConvKey(n.attrs(), kernel, n.input(1).type().dtype());
        }
        if (n.opName().equals("MatMul") && n.input(1).type().rank() == 2 && in.type().rank() >= 2)
            return new MatMulKey(n.input(1).type().shape().dim(0), n.input(1).type().dtype());
        return null;
    }

    private static void mergeConvs(Rewriter rw, List<Node> group, Map<Node, Integer> pos) {
        Node first = group.get(0);
        DType dt = first.input(1).type().dtype();
        Shape w0 = first.input(1).type().shape();
        int per = (int) (w0.numElements() / w0.dim(0));
        int total = 0;
        for (Node n : group) total += n.input(1).type().shape().dim(0);
        Tensor w = Tensor.zeros(dt, w0.withDim(0, total));
        Tensor b = Tensor.zeros(dt, Shape.of(total));
        long[] sizes = new long[group.size()];
        int at = 0;
        for (int k = 0; k < group.size(); k++) {
            Node n = group.get(k);
            Tensor wk = n.input(1).constantValue();
            int m = wk.shape().dim(0);
            sizes[k] = m;
            for (int i = 0; i < m * per; i++) w.setDouble(at * per + i, wk.getDouble(i));
            if (n.input(2) != null) for (int i = 0; i < m; i++) b.setDouble(at + i, n.input(2).constantValue().getDouble(i));
            at += m;
        }
        Value wv = rw.constant(first.name() + "_merged_w", w), bv = rw.constant(first.name() + "_merged_b", b);
        Node anchor = earliest(group, pos);
        Node conv = rw.insertBefore(anchor, "Conv", first.name() + "_merged", first.attrs(), 1, first.input(0), wv, bv);
        split(rw, anchor, conv.output(), 1, sizes, group);
    }

    private static void mergeMatMuls(Rewriter rw, List<Node> group, Map<Node, Integer> pos) {
        Node first = group.get(0);
        DType dt = first.input(1).type().dtype();
        int k = first.input(1).type().shape().dim(0);
        int total = 0;
        for (Node n : group) total += n.input(1).type().shape().dim(1);
        Tensor w = Tensor.zeros(dt, Shape.of(k, total));
        long[] sizes = new long[group.size()];
        int at = 0;
        for (int j = 0; j < group.size(); j++) {
            Tensor wj = group.get(j).input(1).constantValue();
            int nj = wj.shape().dim(1);
            sizes[j] = nj;
            for (int r = 0; r < k; r++) for (int c = 0; c < nj; c++) w.setDouble(r * total + at + c, wj.getDouble(r * nj + c));
            at += nj;
        }
        Node anchor = earliest(group, pos);
        Node mm = rw.insertBefore(anchor, "MatMul", first.name() + "_merged", Attributes.empty(), 1, first.input(0), rw.constant(first.name() + "_merged_w", w));
        split(rw, anchor, mm.output(), mm.output().type().rank() - 1, sizes, group);
    }

    private static void split(Rewriter rw, Node anchor, Value wide, int axis, long[] sizes, List<Node> group) {
        Value sv = rw.constant(group.get(0).name() + "_split_sizes", Tensor.ofLongs(DType.I64, Shape.of(sizes.length), sizes.clone()));
        Node split = rw.insertBefore(anchor, "Split", group.get(0).name() + "_split", Attributes.builder().put("axis", (long) axis).build(), sizes.length, wide, sv);
        for (int j = 0; j < group.size(); j++) rw.replace(group.get(j), split.output(j));
    }

    private static Node earliest(List<Node> group, Map<Node, Integer> pos) {
        Node best = group.get(0);
        for (Node n : group) if (pos.get(n) < pos.get(best)) best = n;
        return Objects.requireNonNull(best);
    }
}
