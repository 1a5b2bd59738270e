package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Shape;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.Value;

/**
 * Finds fusion candidates without applying them (what the search enumerates):
 * <ul>
 * <li>{@code conv_bias_act}: Conv, then any of a per-channel constant Add, a residual Add of the
 * same shape, and one activation, each step the single user of the last;</li>
 * <li>{@code conv_pool}: Conv, then at most one per-channel constant Add and at most one Relu, then a MaxPool (one
 * output, no indices), each the single user of the last: a kernel that keeps the convolution's tiles on chip and writes
 * only the pooled output (a CNN's stem: ResNet's 7x7/2 conv and 3x3/2 max pool);</li>
 * <li>{@code gemm_bias_act}: Gemm or MatMul followed likewise by a bias Add and an activation
 * (GELU included);</li>
 * <li>{@code attention}: MatMul(Q, K) -> scale (Div/Mul by a constant) -> optional mask Add ->
 * Softmax -> MatMul(., V);</li>
 * <li>{@code eltwise}: maximal chains of two or more elementwise ops linked by single-use values;</li>
 * <li>{@code eltwise_gemm}: a MatMul whose A is computed by elementwise ops (the maximal tree of single-use elementwise
 * nodes producing it, a decoder's SiLU(gate) * up before down_proj), with the MatMul's bias and residual Adds as
 * {@code gemm_bias_act} takes them (no activation): a GEMV evaluates the tree as it loads A, so A is never written;</li>
 * <li>{@code rmsnorm_gemm}: an RMSNormalization whose only user is a MatMul, the MatMul, and its bias and residual Adds
 * likewise: a GEMV normalizes A in the pass its dot products make over it;</li>
 * <li>{@code rope_attention}: a {@code tessel.PagedAttention} with the single-use {@code tessel.RotaryEmbedding} producers
 * of its q and new-k inputs (either or both), so the attention kernel rotates q as it loads it and the new key before it
 * stores it.</li>
 * <li>a {@code tessel.WeightOnlyMatMul} (quantized weights, decode) anchors gemm_bias_act (its Adds only: no kernel takes
 * an activation there), eltwise_gemm and rmsnorm_gemm as a MatMul does; the weight-only GEMV takes them the same way.</li>
 * </ul>
 */
public final class FusionPatterns {
    public static final Set<String> ACTIVATIONS = Set.of("Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "PRelu");

    private FusionPatterns() {}

    public static List<FusionCandidate> enumerate(Graph g) {
        Map<Value, List<Node>> users = g.users();
        Map<Node, Integer> pos = new java.util.IdentityHashMap<>();
        for (int i = 0; i < g.nodes().size(); i++) pos.put(g.nodes().get(i), i);
        return enumerate(g, users, pos);
    }

    private static List<FusionCandidate> enumerate(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos) {
        List<FusionCandidate> out = new ArrayList<>();
        for (Node n : g.nodes()) {
            switch (n.opName()) {
                case "Conv" -> {
                    biasActChain(g, users, pos, n, "conv_bias_act", FusionPatterns::perChannelConstAdd, out);
                    convPool(g, users, pos, n, out);
                }
                case "Gemm", "MatMul" -> {
                    FusionCandidate att = attention(g, users, pos, n);
                    if (att != null) out.add(att);
                    biasActChain(g, users, pos, n, "gemm_bias_act", FusionPatterns::lastDimConstAdd, out);
                    if (n.opName().equals("MatMul")) eltwiseGemm(g, users, pos, n, out);
                    if (n.opName().equals("MatMul")) rmsNormGemm(g, users, pos, n, out);
                }
                case QuantizedMatMulOps.WEIGHT_ONLY -> {
                    // a decode GEMV of quantized weights: its Adds, its A's elementwise tree or norm, as a MatMul's (no activation: no kernel takes one)
                    List<Node> chain = new ArrayList<>(List.of(n));
                    addsAfter(g, users, n, chain);
                    if (chain.size() > 1 && FusionGroups.isConvex(g, chain, pos)) out.add(new FusionCandidate("gemm_bias_act", chain));
                    eltwiseGemm(g, users, pos, n, out);
                    rmsNormGemm(g, users, pos, n, out);
                }
                default -> { }
            }
        }
        eltwiseChains(g, users, pos, out);
        ropeAttention(g, users, pos, out);
        return out;
    }

    /** The single node using v, when v has exactly one use and is not a graph output. */
    static Node soleUser(Graph g, Map<Value, List<Node>> users, Value v) {
        List<Node> us = users.getOrDefault(v, List.of());
        if (us.size() != 1 || g.outputs().contains(v)) return null;
        Node u = us.get(0);
        // the same value feeding two inputs of one node counts as two uses
        int count = 0;
        for (Value in : u.inputs()) if (in == v) count++;
        return count == 1 ? u : null;
    }

    private static boolean perChannelConstAdd(Node add, Value x) {
        if (!add.opName().equals("Add")) return false;
        Value other = add.input(0) == x ? add.input(1) : add.input(0);
        if (other == null || !other.isConstant()) return false;
        Shape c = other.type().shape(), o = x.type().shape();
        if (c.rank() > o.rank() || !add.output().type().shape().equals(o)) return false;
        int off = o.rank() - c.rank();
        for (int i = 0; i < c.rank(); i++) if (c.dim(i) != 1 && off + i != 1) return false;
        return true;
    }

    private static boolean lastDimConstAdd(Node add, Value x) {
        if (!add.opName().equals("Add")) return false;
        Value other = add.input(0) == x ? add.input(1) : add.input(0);
        if (other == null || !other.isConstant() || !add.output().type().shape().equals(x.type().shape())) return false;
        Shape c = other.type().shape();
        for (int i = 0; i < c.rank() - 1; i++) if (c.dim(i) != 1) return false;
        return true;
    }

    private static boolean residualAdd(Node add, Value x) {
        if (!add.opName().equals("Add")) return false;
        Value other = add.input(0) == x ? add.input(1) : add.input(0);
        return other != null && !other.isConstant() && other != x && other.type().shape().equals(x.type().shape())
                && add.output().type().shape().equals(x.type().shape());
    }

    /**
     * Root (Conv, Gemm or MatMul), then at most one bias Add (per-channel for convs, per-last-axis
     * for GEMMs), at most one residual Add, and one activation, each the single user of the last.
     */
    private static void biasActChain(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node root, String kind,
                                     java.util.function.BiPredicate<Node, Value> isBias, List<FusionCandidate> out) {
        List<Node> chain = new ArrayList<>(List.of(root));
        Value cur = root.output();
        boolean bias = false, residual = false;
        while (true) {
            Node u = soleUser(g, users, cur);
            if (u == null) break;
            if (!bias && !residual && isBias.test(u, cur)) bias = true;
            else if (!residual && residualAdd(u, cur)) residual = true;
            else if (ACTIVATIONS.contains(u.opName()) && u.input(0) == cur) { chain.add(u); break; }
            else break;
            chain.add(u);
            cur = u.output();
        }
        if (chain.size() > 1 && FusionGroups.isConvex(g, chain, pos)) out.add(new FusionCandidate(kind, chain));
    }

    /** The kind of a Conv, its bias Add and Relu, and the MaxPool after them. */
    public static final String CONV_POOL = "conv_pool";

    /** Conv, at most one per-channel constant Add, at most one Relu, then a one-output MaxPool, each the single user of the last. */
    private static void convPool(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node conv, List<FusionCandidate> out) {
        List<Node> chain = new ArrayList<>(List.of(conv));
        Value cur = conv.output();
        boolean bias = false, relu = false;
        while (true) {
            Node u = soleUser(g, users, cur);
            if (u == null) return;
            if (u.opName().equals("MaxPool") && u.input(0) == cur) {
                if (u.outputs().size() != 1) return;
                chain.add(u);
                break;
            }
            if (!bias && !relu && perChannelConstAdd(u, cur)) bias = true;
            else if (!relu && u.opName().equals("Relu") && u.input(0) == cur) relu = true;
            else return;
            chain.add(u);
            cur = u.output();
        }
        if (FusionGroups.isConvex(g, chain, pos)) out.add(new FusionCandidate(CONV_POOL, chain));
    }

    /**
     * The elementwise prologue of a MatMul: every elementwise node whose result reaches A through single-use values
     * only (a tree: SiLU(gate) * up reads gate twice, each read a leaf), then the MatMul, then at most one bias Add and
     * one residual Add, each the single user of the last. Which trees a kernel can evaluate (inputs of A's shape, scalar
     * constants) is the tactic's question, answered naming the node.
     */
    private static void eltwiseGemm(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node mm, List<FusionCandidate> out) {
        List<Node> group = new ArrayList<>();
        java.util.ArrayDeque<Value> work = new java.util.ArrayDeque<>(List.of(mm.input(0)));
        while (!work.isEmpty()) {
            Value v = work.poll();
            Node p = v.producer();
            if (p == null || !isEltwise(p) || soleUser(g, users, v) == null || group.contains(p)) continue;
            group.add(p);
            for (Value in : p.inputs()) if (in != null && !in.isConstant()) work.add(in);
        }
        if (group.isEmpty()) return;
        group.add(mm);
        addsAfter(g, users, mm, group);
        group.sort(java.util.Comparator.comparingInt(pos::get));
        if (FusionGroups.isConvex(g, group, pos)) out.add(new FusionCandidate("eltwise_gemm", group));
    }

    /** Appends to {@code group} the MatMul's tail as gemm_bias_act takes it without an activation: at most one bias Add, then at most one residual Add, each the single user of the last. */
    private static void addsAfter(Graph g, Map<Value, List<Node>> users, Node mm, List<Node> group) {
        Value cur = mm.output();
        boolean bias = false, residual = false;
        while (true) {
            Node u = soleUser(g, users, cur);
            if (u == null) break;
            if (!bias && !residual && lastDimConstAdd(u, cur)) bias = true;
            else if (!residual && residualAdd(u, cur)) residual = true;
            else break;
            group.add(u);
            cur = u.output();
        }
    }

    /**
     * A MatMul whose A is an RMSNormalization's result used by it alone (the norm before a decoder's projection), then
     * the MatMul's bias and residual Adds: a GEMV sums x^2 in the pass over x its dot products make and scales each sum
     * by the row's reciprocal RMS, the norm's scale folded into the weights. Which norms it computes that way (last
     * axis, a constant scale) is the tactic's question, answered naming the node.
     */
    private static void rmsNormGemm(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node mm, List<FusionCandidate> out) {
        Node norm = mm.input(0).producer();
        if (norm == null || !norm.opName().equals("RMSNormalization") || norm.body() != null || soleUser(g, users, norm.output()) != mm) return;
        List<Node> group = new ArrayList<>(List.of(norm, mm));
        addsAfter(g, users, mm, group);
        if (FusionGroups.isConvex(g, group, pos)) out.add(new FusionCandidate("rmsnorm_gemm", group));
    }

    /**
     * Scaled dot-product attention: MatMul(Q, K) -> scale -> optional mask Add -> Softmax (last axis)
     * -> optional NaN guard Where(IsNaN(p), c, p) -> MatMul(., V). The scale may instead be split
     * into scalar Muls on Q and K (PyTorch's SDPA export). Single-use Reshape/Transpose chains that
     * split and merge the heads join the group too, so a fused kernel reads the projections as they
     * are.
     */
    private static FusionCandidate attention(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node qk) {
        if (!qk.opName().equals("MatMul")) return null;
        List<Node> chain = new ArrayList<>(List.of(qk));
        Node u = soleUser(g, users, qk.output());
        if (u != null && isScalarScale(u)) {
            chain.add(u);
            u = soleUser(g, users, u.output());
        }
        if (u != null && u.opName().equals("Add")) {
            chain.add(u);
            u = soleUser(g, users, u.output());
        }
        if (u == null || !u.opName().equals("Softmax")) return null;
        long axis = u.attrs().getInt("axis", -1);
        if (axis != -1 && axis != u.output().type().rank() - 1) return null;
        chain.add(u);
        Value probs = u.output();
        Node guard = nanGuard(g, users, probs);
        if (guard != null) {
            chain.add(guard.input(0).producer());
            chain.add(guard);
            probs = guard.output();
        }
        Node pv = soleUser(g, users, probs);
        if (pv == null || !pv.opName().equals("MatMul") || pv.input(0) != probs) return null;
        chain.add(pv);
        // split scale: Q * s and K * s feeding the first MatMul
        for (int i = 0; i < 2; i++) {
            Value in = qk.input(i);
            Node m = in == null ? null : in.producer();
            if (m != null && isScalarScale(m) && soleUser(g, users, in) == qk) chain.add(m);
        }
        List<Node> heads = new ArrayList<>();
        for (Node n : List.copyOf(chain)) {
            if (n != qk && !(isScalarScale(n) && chain.contains(n) && soleUser(g, users, n.output()) == qk)) continue;
            for (int i = 0; i < 2; i++) if (n.input(i) != null && !n.input(i).isConstant()) movementChain(g, users, n.input(i), heads);
        }
        movementChain(g, users, pv.input(1), heads);
        Node t = soleUser(g, users, pv.output());
        if (t != null && t.opName().equals("Transpose")) {
            Node r = soleUser(g, users, t.output());
            if (r != null && r.opName().equals("Reshape")) { chain.add(t); chain.add(r); }
        }
        chain.sort(java.util.Comparator.comparingInt(pos::get));
        List<Node> group = new ArrayList<>(heads);
        for (Node n : chain) if (!group.contains(n)) group.add(n);
        group.sort(java.util.Comparator.comparingInt(pos::get));
        if (!heads.isEmpty() && FusionGroups.isConvex(g, group, pos)) return new FusionCandidate("attention", group);
        return FusionGroups.isConvex(g, chain, pos) ? new FusionCandidate("attention", chain) : null;
    }

    private static boolean isScalarScale(Node n) {
        return (n.opName().equals("Div") || n.opName().equals("Mul")) && n.input(1) != null && n.input(1).isConstant()
                && n.input(1).type().numElements() == 1;
    }

    /** Where(IsNaN(p), c, p) with p's only other user the IsNaN: the guard exporters put after Softmax. */
    private static Node nanGuard(Graph g, Map<Value, List<Node>> users, Value p) {
        List<Node> us = users.getOrDefault(p, List.of());
        if (us.size() != 2 || g.outputs().contains(p)) return null;
        Node isNan = us.stream().filter(n -> n.opName().equals("IsNaN")).findFirst().orElse(null);
        Node where = us.stream().filter(n -> n.opName().equals("Where")).findFirst().orElse(null);
        if (isNan == null || where == null || where.input(0) != isNan.output() || where.input(2) != p
                || where.input(1) == null || !where.input(1).isConstant() || soleUser(g, users, isNan.output()) != where) return null;
        return where;
    }

    /** Adds the single-use Reshape/Transpose chain (at most four ops) producing v to heads. */
    private static void movementChain(Graph g, Map<Value, List<Node>> users, Value v, List<Node> heads) {
        Value cur = v;
        for (int depth = 0; depth < 4 && cur != null; depth++) {
            Node p = cur.producer();
            if (p == null || !(p.opName().equals("Transpose") || p.opName().equals("Reshape")) || soleUser(g, users, cur) == null) return;
            if (!heads.contains(p)) heads.add(p);
            cur = p.input(0);
        }
    }

    /**
     * Each paged attention whose q (input 0) or new keys (input 1), or both, are the single-use outputs of a rotary
     * embedding: the ropes and the attention, in graph order. Whether the attention kernel takes the group (decode only,
     * the ropes' form) is its tactic's support rule, not the pattern's.
     */
    private static void ropeAttention(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, List<FusionCandidate> out) {
        for (Node att : g.nodes()) {
            if (att.body() != null || !att.opName().equals(org.tessel.ir.ops.PagedAttentionOp.NAME)) continue;
            List<Node> group = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Value in = att.input(i);
                Node rope = in == null ? null : in.producer();
                if (rope != null && rope.body() == null && rope.opName().equals(org.tessel.ir.ops.RotaryEmbeddingOps.HALF_ROTATION) && rope.output() == in
                        && soleUser(g, users, in) == att && !group.contains(rope)) group.add(rope);
            }
            if (group.isEmpty()) continue;
            group.add(att);
            group.sort(java.util.Comparator.comparingInt(pos::get));
            if (FusionGroups.isConvex(g, group, pos)) out.add(new FusionCandidate("rope_attention", group));
        }
    }

    private static void eltwiseChains(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, List<FusionCandidate> out) {
        Set<Node> taken = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (taken.contains(n) || !isEltwise(n)) continue;
            // start only at a chain head: its first non-constant input is not a fusable single-use elementwise result
            Value first = firstActivation(n);
            if (first != null && first.producer() != null && isEltwise(first.producer()) && soleUser(g, users, first) == n) continue;
            List<Node> chain = new ArrayList<>(List.of(n));
            Value cur = n.output();
            while (true) {
                Node u = soleUser(g, users, cur);
                if (u == null || !isEltwise(u) || !u.output().type().shape().equals(cur.type().shape())) break;
                chain.add(u);
                cur = u.output();
            }
            if (chain.size() >= 2 && FusionGroups.isConvex(g, chain, pos)) {
                taken.addAll(chain);
                out.add(new FusionCandidate("eltwise", chain));
            }
        }
    }

    private static Value firstActivation(Node n) {
        for (Value v : n.inputs()) if (v != null && !v.isConstant()) return v;
        return null;
    }

    static boolean isEltwise(Node n) {
        return n.body() == null && n.op().has(Trait.ELEMENTWISE) && n.outputs().size() == 1 && n.output().type().dtype().isFloating();
    }
}
