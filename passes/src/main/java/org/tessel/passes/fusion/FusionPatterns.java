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
import org.tessel.ir.Value;

/**
 * Finds fusion candidates without applying them (what the search enumerates):
 * <ul>
 * <li>{@code conv_bias_act}: Conv, then any of a per-channel constant Add, a residual Add of the
 * same shape, and one activation, each step the single user of the last;</li>
 * <li>{@code gemm_bias_act}: Gemm or MatMul followed likewise by a bias Add and an activation
 * (GELU included);</li>
 * <li>{@code attention}: MatMul(Q, K) -> scale (Div/Mul by a constant) -> optional mask Add ->
 * Softmax -> MatMul(., V);</li>
 * <li>{@code eltwise}: maximal chains of two or more elementwise ops linked by single-use values.</li>
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
                case "Conv" -> convChain(g, users, pos, n, out);
                case "Gemm", "MatMul" -> {
                    FusionCandidate att = attention(g, users, pos, n);
                    if (att != null) out.add(att);
                    gemmChain(g, users, pos, n, out);
                }
                default -> { }
            }
        }
        eltwiseChains(g, users, pos, out);
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

    private static void convChain(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node conv, List<FusionCandidate> out) {
        List<Node> chain = new ArrayList<>(List.of(conv));
        Value cur = conv.output();
        boolean bias = false, residual = false;
        while (true) {
            Node u = soleUser(g, users, cur);
            if (u == null) break;
            if (!bias && !residual && perChannelConstAdd(u, cur)) bias = true;
            else if (!residual && residualAdd(u, cur)) residual = true;
            else if (ACTIVATIONS.contains(u.opName()) && u.input(0) == cur) { chain.add(u); break; }
            else break;
            chain.add(u);
            cur = u.output();
        }
        if (chain.size() > 1 && FusionGroups.isConvex(g, chain, pos)) out.add(new FusionCandidate("conv_bias_act", chain));
    }

    private static void gemmChain(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node mm, List<FusionCandidate> out) {
        List<Node> chain = new ArrayList<>(List.of(mm));
        Value cur = mm.output();
        boolean bias = false;
        while (true) {
            Node u = soleUser(g, users, cur);
            if (u == null) break;
            if (!bias && lastDimConstAdd(u, cur)) { bias = true; chain.add(u); cur = u.output(); continue; }
            if (ACTIVATIONS.contains(u.opName()) && u.input(0) == cur) chain.add(u);
            break;
        }
        if (chain.size() > 1 && FusionGroups.isConvex(g, chain, pos)) out.add(new FusionCandidate("gemm_bias_act", chain));
    }

    private static FusionCandidate attention(Graph g, Map<Value, List<Node>> users, Map<Node, Integer> pos, Node qk) {
        if (!qk.opName().equals("MatMul")) return null;
        List<Node> chain = new ArrayList<>(List.of(qk));
        Node u = soleUser(g, users, qk.output());
        if (u != null && (u.opName().equals("Div") || u.opName().equals("Mul")) && u.input(1) != null && u.input(1).isConstant()
                && u.input(1).type().numElements() == 1) {
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
        Node pv = soleUser(g, users, u.output());
        if (pv == null || !pv.opName().equals("MatMul") || pv.input(0) != u.output()) return null;
        chain.add(pv);
        return FusionGroups.isConvex(g, chain, pos) ? new FusionCandidate("attention", chain) : null;
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
