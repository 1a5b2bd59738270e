package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.passes.rules.Rewriter;

/**
 * Horizontal merges: finds sibling chains on one value ({@link #enumerate}, what the search offers as
 * merge-or-not decisions), checks chains a plan names ({@link #of}) and rewrites one merge
 * ({@link #apply}): the roots' weights (and biases) concatenated along the output channels or columns
 * into one wider Conv, MatMul or Gemm (a {@code tessel.WeightOnlyMatMul}'s codes, scales and zero points stacked as rows, its format shared), the chains' bias Add and activation once on the wide result, and a
 * Split that hands each chain's consumers its own slice. Each output element is computed from the same
 * weights in the same order as before, so the merged graph gives the same results.
 */
public final class SiblingMerges {
    private SiblingMerges() {}

    /** The activations a merged chain may end in: elementwise, with at most constant extra inputs (PRelu's per-channel slope would need merging too). */
    public static final Set<String> ACTIVATIONS = Set.of("Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu");

    /** What the rewrite made: the wide chain (root first) and the Split after it. */
    public record Merged(List<Node> wide, Node split) {}

    /** Every maximal merge in the graph: per value, the chains of each geometry and tail that read it, two or more. */
    public static List<SiblingMerge> enumerate(Graph g) {
        Map<Value, List<Node>> users = g.users();
        List<Value> values = new ArrayList<>(g.inputs());
        for (Node n : g.nodes()) values.addAll(n.outputs());
        List<SiblingMerge> out = new ArrayList<>();
        for (Value v : values) {
            Map<Key, List<List<Node>>> groups = new LinkedHashMap<>();
            for (Node n : users.getOrDefault(v, List.of())) {
                if (n.input(0) != v) continue;
                List<Node> chain = chain(g, users, n);
                if (chain == null) continue;
                List<List<Node>> same = groups.computeIfAbsent(key(chain), k -> new ArrayList<>());
                if (same.stream().noneMatch(c -> c.getFirst() == n)) same.add(chain);
            }
            for (Map.Entry<Key, List<List<Node>>> e : groups.entrySet())
                if (e.getValue().size() >= 2) out.add(new SiblingMerge(e.getKey().kind(), v, sorted(g, e.getValue())));
        }
        return out;
    }

    /**
     * The merge of exactly these chains (each root first), or an {@link IllegalArgumentException} saying why
     * they cannot merge: a chain that is not the one its root heads, roots reading different values, or a
     * different geometry or tail.
     */
    public static SiblingMerge of(Graph g, List<List<Node>> chains) {
        if (chains.size() < 2) throw new IllegalArgumentException("a merge needs at least two chains, got " + chains.size());
        Map<Value, List<Node>> users = g.users();
        Key first = null;
        Value input = null;
        for (List<Node> c : chains) {
            if (c.isEmpty()) throw new IllegalArgumentException("an empty chain");
            Node root = c.getFirst();
            List<Node> want = chain(g, users, root);
            if (want == null) throw new IllegalArgumentException(root.describe() + " heads no mergeable chain (a Conv, a MatMul with constant [K, N] weights or a Gemm with constant weights)");
            if (!want.equals(c))
                throw new IllegalArgumentException(root.describe() + " heads the chain " + want.stream().map(Node::name).toList() + ", not " + c.stream().map(Node::name).toList());
            Key k = key(c);
            if (first == null) { first = k; input = root.input(0); }
            else if (root.input(0) != input)
                throw new IllegalArgumentException(root.describe() + " reads %" + root.input(0).name() + ", the first chain's root reads %" + input.name());
            else if (!k.equals(first))
                throw new IllegalArgumentException(root.describe() + " differs from the first chain's root in geometry or tail (" + k + " vs " + first + ")");
        }
        for (int a = 0; a < chains.size(); a++)
            for (int b = a + 1; b < chains.size(); b++)
                if (chains.get(a).getFirst() == chains.get(b).getFirst()) throw new IllegalArgumentException(chains.get(a).getFirst().describe() + " is named twice");
        return new SiblingMerge(first.kind(), input, sorted(g, chains));
    }

    /** The name the wide node made for chain node {@code n} gets. */
    public static String wideName(String n) { return n + "_merged"; }

    /** The name the Split of a merge whose first root is {@code root} gets. */
    public static String splitName(String root) { return root + "_split"; }

    /**
     * Rewrites the merge: the wide chain and the Split go right before the earliest root, every chain's
     * consumers read their slice of the Split (which takes the name of the chain's result), and the chains
     * are erased. The wide nodes are named after the first chain's ({@link #wideName}), the Split after its
     * root ({@link #splitName}), made unique where taken.
     */
    public static Merged apply(Rewriter rw, SiblingMerge m) {
        Graph g = rw.graph();
        List<List<Node>> chains = m.chains();
        for (List<Node> c : chains)
            for (Node n : c) if (!g.contains(n)) throw new IllegalArgumentException(n.describe() + " is not in graph '" + g.name() + "' (merged away already?)");
        List<Node> first = chains.getFirst();
        Node anchor = first.getFirst();
        for (List<Node> c : chains) if (g.indexOf(c.getFirst()) < g.indexOf(anchor)) anchor = c.getFirst();
        long[] sizes = new long[chains.size()];
        List<Node> wide = new ArrayList<>();
        Node root = first.getFirst();
        String rn = root.name();
        Node wideRoot = switch (m.kind()) {
            case "conv" -> {
                Value wv = concatenated(rw, g.uniqueValueName(wideName(rn) + "_w"), chains.stream().map(c -> c.getFirst().input(1)).toList(), true, sizes);
                Tensor b = concatBias(chains.stream().map(c -> c.getFirst().input(2)).toList(), sizes, wv.type().dtype());
                Value bv = b == null ? null : rw.constant(g.uniqueValueName(wideName(rn) + "_b"), b);
                yield bv == null ? rw.insertBefore(anchor, "Conv", wideName(rn), root.attrs(), 1, m.input(), wv)
                        : rw.insertBefore(anchor, "Conv", wideName(rn), root.attrs(), 1, m.input(), wv, bv);
            }
            case "matmul" -> {
                Value wv = concatenated(rw, g.uniqueValueName(wideName(rn) + "_w"), chains.stream().map(c -> c.getFirst().input(1)).toList(), false, sizes);
                yield rw.insertBefore(anchor, "MatMul", wideName(rn), Attributes.empty(), 1, m.input(), wv);
            }
            case "weight_only" -> {
                // codes, scales and zero points are all [N, ...] rows: stacked, they quantize the wide weight exactly as the parts did
                Value wv = concatenated(rw, g.uniqueValueName(wideName(rn) + "_w"), chains.stream().map(c -> c.getFirst().input(1)).toList(), true, sizes);
                Value sv = concatenated(rw, g.uniqueValueName(wideName(rn) + "_s"), chains.stream().map(c -> c.getFirst().input(2)).toList(), true, new long[sizes.length]);
                Value zv = root.input(3) == null ? null
                        : concatenated(rw, g.uniqueValueName(wideName(rn) + "_z"), chains.stream().map(c -> c.getFirst().input(3)).toList(), true, new long[sizes.length]);
                yield zv == null ? rw.insertBefore(anchor, root.opName(), wideName(rn), root.attrs(), 1, m.input(), wv, sv)
                        : rw.insertBefore(anchor, root.opName(), wideName(rn), root.attrs(), 1, m.input(), wv, sv, zv);
            }
            case "gemm" -> {
                Value wv = concatenated(rw, g.uniqueValueName(wideName(rn) + "_w"), chains.stream().map(c -> c.getFirst().input(1)).toList(),
                        root.attrs().getInt("transB", 0) != 0, sizes);
                Tensor c = concatBias(chains.stream().map(ch -> ch.getFirst().input(2)).toList(), sizes, wv.type().dtype());
                yield c == null ? rw.insertBefore(anchor, "Gemm", wideName(rn), root.attrs(), 1, m.input(), wv)
                        : rw.insertBefore(anchor, "Gemm", wideName(rn), root.attrs(), 1, m.input(), wv, rw.constant(g.uniqueValueName(wideName(rn) + "_c"), c));
            }
            default -> throw new IllegalArgumentException("unknown merge kind '" + m.kind() + "'");
        };
        wide.add(wideRoot);
        Value cur = wideRoot.output();
        boolean bias = hasBias(first);
        for (int k = 1; k < first.size(); k++) {
            Node t = first.get(k);
            Node made;
            if (bias && k == 1) {
                List<Value> biases = new ArrayList<>();
                for (List<Node> c : chains) biases.add(otherInput(c.get(k), c.get(k - 1).output()));
                Tensor b = concatLastAxis(biases.stream().map(Value::constantValue).toList());
                made = rw.insertBefore(anchor, "Add", wideName(t.name()), Attributes.empty(), 1, cur, rw.constant(g.uniqueValueName(wideName(t.name()) + "_b"), b));
            } else {
                Value[] ins = new Value[t.numInputs()];
                ins[0] = cur;
                for (int i = 1; i < ins.length; i++) ins[i] = t.input(i);
                made = rw.insertBefore(anchor, t.opName(), wideName(t.name()), t.attrs(), 1, ins);
            }
            wide.add(made);
            cur = made.output();
        }
        int axis = m.kind().equals("matmul") || m.kind().equals("weight_only") ? cur.type().rank() - 1 : 1;
        Value sv = rw.constant(g.uniqueValueName(splitName(rn) + "_sizes"), Tensor.ofLongs(DType.I64, Shape.of(sizes.length), sizes.clone()));
        Node split = rw.insertBefore(anchor, "Split", splitName(rn), Attributes.builder().put("axis", (long) axis).build(), sizes.length, cur, sv);
        for (int j = 0; j < chains.size(); j++) {
            List<Node> c = chains.get(j);
            Node tail = c.getLast();
            String result = tail.output().name();
            rw.replace(tail, split.output(j));
            for (int k = c.size() - 2; k >= 0; k--) rw.erase(c.get(k));
            if (!split.output(j).name().equals(result) && g.value(result) == null) g.renameValue(split.output(j), result);
        }
        return new Merged(wide, split);
    }

    // ---- chains and keys

    /** The chain a merge takes from root: the root, for a MatMul a constant bias Add on the last axis, then an activation; each the single user of the last. */
    static List<Node> chain(Graph g, Map<Value, List<Node>> users, Node root) {
        String kind = rootKind(root);
        if (kind == null) return null;
        List<Node> chain = new ArrayList<>(List.of(root));
        Value cur = root.output();
        Node u = FusionPatterns.soleUser(g, users, cur);
        if ((kind.equals("matmul") || kind.equals("weight_only")) && u != null && isBiasAdd(u, cur)) {
            chain.add(u);
            cur = u.output();
            u = FusionPatterns.soleUser(g, users, cur);
        }
        if (u != null && isActivation(u, cur)) chain.add(u);
        return chain;
    }

    /** conv, matmul, weight_only (a tessel.WeightOnlyMatMul) or gemm for a root a merge can widen, else null. */
    static String rootKind(Node n) {
        if (n.body() != null || n.input(0) == null || n.input(1) == null || !n.input(1).isConstant() || n.outputs().size() != 1) return null;
        switch (n.opName()) {
            case QuantizedMatMulOps.WEIGHT_ONLY -> {
                for (int i = 2; i < n.numInputs(); i++) if (n.input(i) != null && !n.input(i).isConstant()) return null;
                return n.input(0).type().rank() >= 2 ? "weight_only" : null;
            }
            case "Conv" -> {
                if (n.attrs().getInt("group", 1) != 1 || n.input(1).type().rank() < 3) return null;
                return n.input(2) == null || n.input(2).isConstant() ? "conv" : null;
            }
            case "MatMul" -> {
                return n.input(1).type().rank() == 2 && n.input(0).type().rank() >= 2 ? "matmul" : null;
            }
            case "Gemm" -> {
                if (n.input(1).type().rank() != 2) return null;
                Value c = n.input(2);
                if (c == null) return "gemm";
                int cols = n.output().type().shape().dim(1);
                Shape s = c.type().shape();
                boolean perColumn = s.rank() == 1 && s.dim(0) == cols || s.rank() == 2 && s.dim(0) == 1 && s.dim(1) == cols;
                return c.isConstant() && perColumn ? "gemm" : null;
            }
            default -> { return null; }
        }
    }

    /** An Add of x and a constant that only varies along the last axis, with x's shape. */
    static boolean isBiasAdd(Node add, Value x) {
        if (!add.opName().equals("Add") || add.numInputs() != 2) return false;
        Value c = otherInput(add, x);
        if (c == null || !c.isConstant() || !add.output().type().shape().equals(x.type().shape())) return false;
        Shape s = c.type().shape(), o = x.type().shape();
        if (s.rank() == 0 || s.rank() > o.rank() || s.dim(-1) != o.dim(-1)) return false;
        for (int i = 0; i < s.rank() - 1; i++) if (s.dim(i) != 1) return false;
        return c.type().dtype() == x.type().dtype();
    }

    private static Value otherInput(Node add, Value x) {
        if (add.input(0) == x) return add.input(1);
        if (add.input(1) == x) return add.input(0);
        return null;
    }

    /** An activation applied to x, its other inputs (Clip's bounds) constants. */
    static boolean isActivation(Node n, Value x) {
        if (!ACTIVATIONS.contains(n.opName()) || n.body() != null || n.input(0) != x || n.outputs().size() != 1) return false;
        for (int i = 1; i < n.numInputs(); i++) if (n.input(i) != null && !n.input(i).isConstant()) return false;
        return true;
    }

    /** Whether a chain has a bias Add (a MatMul chain's second node; no activation is an Add). */
    static boolean hasBias(List<Node> chain) {
        String root = chain.getFirst().opName();
        return (root.equals("MatMul") || root.equals(QuantizedMatMulOps.WEIGHT_ONLY)) && chain.size() > 1 && chain.get(1).opName().equals("Add");
    }

    /** What chains must share to merge: the root's kind and geometry and the tail's shape. */
    private record Key(String kind, Object geometry, Object tail) {}

    /** A constant compared by content. */
    private record Content(Tensor t) {
        @Override public boolean equals(Object o) { return o instanceof Content c && (t == null ? c.t == null : c.t != null && t.dataEquals(c.t)); }
        @Override public int hashCode() { return t == null ? 0 : t.contentHash(); }
    }

    private record ActivationKey(String op, Attributes attrs, List<Content> constants) {}

    private static Key key(List<Node> chain) {
        Node root = chain.getFirst();
        String kind = rootKind(root);
        Value w = root.input(1);
        Object geometry = switch (kind) {
            case "conv" -> List.of(root.attrs(), dimsFrom(w.type().shape(), 1), w.type().dtype());
            case "matmul" -> List.of(w.type().shape().dim(0), w.type().dtype(), root.input(0).type().rank());
            // same K, format (bits, group size, zero points or not) and stored types: the wide node is one WeightOnlyMatMul
            case "weight_only" -> List.of(root.input(0).type().shape().dim(-1), root.attrs().getInt("bits", 0), root.attrs().getInt("group_size", 0), w.type().dtype(),
                    root.input(2).type().dtype(), root.input(3) != null, root.input(0).type().rank());
            default -> List.of(root.attrs(), w.type().shape().dim(root.attrs().getInt("transB", 0) != 0 ? 1 : 0), w.type().dtype());
        };
        boolean bias = hasBias(chain);
        Node act = chain.size() > (bias ? 2 : 1) ? chain.getLast() : null;
        ActivationKey a = null;
        if (act != null) {
            List<Content> cs = new ArrayList<>();
            for (int i = 1; i < act.numInputs(); i++) cs.add(new Content(act.input(i) == null ? null : act.input(i).constantValue()));
            a = new ActivationKey(act.opName(), act.attrs(), cs);
        }
        return new Key(kind, geometry, java.util.Arrays.asList(bias, a));
    }

    private static List<Integer> dimsFrom(Shape s, int from) {
        List<Integer> out = new ArrayList<>();
        for (int i = from; i < s.rank(); i++) out.add(s.dim(i));
        return out;
    }

    private static List<List<Node>> sorted(Graph g, List<List<Node>> chains) {
        Map<Node, Integer> pos = new IdentityHashMap<>();
        for (int i = 0; i < g.nodes().size(); i++) pos.put(g.nodes().get(i), i);
        List<List<Node>> out = new ArrayList<>(chains);
        out.sort(Comparator.comparingInt(c -> pos.get(c.getFirst())));
        return out;
    }

    // ---- weights

    /**
     * The roots' constant weights stacked along the first axis ({@code rows}) or side by side along the last, as a constant
     * made on first use: pricing a merge (the search builds every candidate) needs its shape, not its data. {@code sizes}
     * gets each part's extent along that axis now.
     */
    private static Value concatenated(Rewriter rw, String name, List<Value> parts, boolean rows, long[] sizes) {
        TensorType t0 = parts.getFirst().type();
        int axis = rows ? 0 : t0.rank() - 1;
        int[] dims = t0.shape().dims();
        long total = 0;
        for (int i = 0; i < parts.size(); i++) {
            sizes[i] = parts.get(i).type().shape().dim(axis);
            total += sizes[i];
        }
        dims[axis] = Math.toIntExact(total);
        List<Value> ps = List.copyOf(parts);
        return rw.deferredConstant(name, TensorType.of(t0.dtype(), Shape.of(dims)), () -> merged(ps.stream().map(Value::constantValue).toList(), rows));
    }

    /** A merge of source tensors: the parts after the first (the first is the map's key), the axis, the merged tensor. */
    private record MergedWeights(List<Tensor> rest, boolean rows, Tensor out) {}

    /**
     * Merged weights by their first part (identity; weakly held: an entry lives while that tensor does): graphs of one
     * model in several shapes (a decoder's step buckets, each its own graph over the same weight tensors) share one
     * merged tensor, made once, not once a graph (llama-1b's merged Q/K/V and gate/up weights are 2.5 GB in f32).
     */
    private static final Map<Tensor, List<MergedWeights>> MERGED = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    private static Tensor merged(List<Tensor> ts, boolean rows) {
        List<Tensor> rest = ts.subList(1, ts.size());
        synchronized (MERGED) {
            List<MergedWeights> ms = MERGED.computeIfAbsent(ts.getFirst(), t -> new ArrayList<>());
            for (MergedWeights m : ms) {
                if (m.rows() != rows || m.rest().size() != rest.size()) continue;
                boolean same = true;
                for (int i = 0; i < rest.size() && same; i++) same = m.rest().get(i) == rest.get(i);
                if (same) return m.out();
            }
            Tensor out = rows ? concatRows(ts, new long[ts.size()]) : concatColumns(ts, new long[ts.size()]);
            ms.add(new MergedWeights(List.copyOf(rest), rows, out));
            return out;
        }
    }

    /** Tensors [m_i, ...] stacked along the first axis; sizes[i] = m_i. */
    static Tensor concatRows(List<Tensor> ts, long[] sizes) {
        Shape s0 = ts.getFirst().shape();
        int per = (int) (s0.numElements() / s0.dim(0));
        int total = 0;
        for (Tensor t : ts) total += t.shape().dim(0);
        Tensor out = Tensor.zeros(ts.getFirst().dtype(), s0.withDim(0, total));
        int at = 0;
        for (int k = 0; k < ts.size(); k++) {
            Tensor t = ts.get(k);
            int m = t.shape().dim(0);
            sizes[k] = m;
            for (int i = 0; i < m * per; i++) out.setDouble(at * per + i, t.getDouble(i));
            at += m;
        }
        return out;
    }

    /** Matrices [K, n_i] side by side into [K, sum n_i]; sizes[i] = n_i. */
    static Tensor concatColumns(List<Tensor> ts, long[] sizes) {
        int k = ts.getFirst().shape().dim(0);
        int total = 0;
        for (Tensor t : ts) total += t.shape().dim(1);
        if (ts.stream().allMatch(t -> t.dtype() == DType.F32)) { // row by row, as floats (a decoder's merged projections hold tens of millions)
            float[] dst = new float[Math.multiplyExact(k, total)];
            int at = 0;
            for (int j = 0; j < ts.size(); j++) {
                int n = ts.get(j).shape().dim(1);
                sizes[j] = n;
                float[] src = ts.get(j).floats();
                for (int r = 0; r < k; r++) System.arraycopy(src, r * n, dst, r * total + at, n);
                at += n;
            }
            return Tensor.ofFloats(Shape.of(k, total), dst);
        }
        Tensor out = Tensor.zeros(ts.getFirst().dtype(), Shape.of(k, total));
        int at = 0;
        for (int j = 0; j < ts.size(); j++) {
            Tensor t = ts.get(j);
            int n = t.shape().dim(1);
            sizes[j] = n;
            for (int r = 0; r < k; r++) for (int c = 0; c < n; c++) out.setDouble(r * total + at + c, t.getDouble(r * n + c));
            at += n;
        }
        return out;
    }

    /** Per-channel (or per-column) biases, zeros where a chain has none, into one vector; null when no chain has one. */
    static Tensor concatBias(List<Value> biases, long[] sizes, DType dtype) {
        if (biases.stream().allMatch(b -> b == null)) return null;
        int total = 0;
        for (long s : sizes) total += (int) s;
        Tensor out = Tensor.zeros(dtype, Shape.of(total));
        int at = 0;
        for (int j = 0; j < biases.size(); j++) {
            Value b = biases.get(j);
            if (b != null) for (int i = 0; i < sizes[j]; i++) out.setDouble(at + i, b.constantValue().getDouble(i));
            at += (int) sizes[j];
        }
        return out;
    }

    /** Bias constants varying along their last axis only, into one vector of their last axes. */
    static Tensor concatLastAxis(List<Tensor> ts) {
        int total = 0;
        for (Tensor t : ts) total += t.shape().dim(-1);
        Tensor out = Tensor.zeros(ts.getFirst().dtype(), Shape.of(total));
        int at = 0;
        for (Tensor t : ts) {
            int n = t.shape().dim(-1);
            for (int i = 0; i < n; i++) out.setDouble(at + i, t.getDouble(i));
            at += n;
        }
        return out;
    }
}
