package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.List;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * A horizontal merge: two or more sibling chains that read one value, which {@link SiblingMerges#apply}
 * turns into one wider chain followed by a Split. Each chain is a root (a Conv, a MatMul with constant
 * [K, N] weights, or a Gemm with constant weights) reading {@code input}, then, each the single user of
 * the last, a constant bias Add (MatMul chains only) and an activation; every chain has the same shape of
 * tail (the same activation with the same attributes), the roots the same geometry.
 *
 * @param kind   {@code conv}, {@code matmul}, {@code weight_only} (a {@code tessel.WeightOnlyMatMul}) or {@code gemm}
 * @param input  the value every root reads as its first input
 * @param chains the sibling chains, each root first, in graph order of their roots
 */
public record SiblingMerge(String kind, Value input, List<List<Node>> chains) {
    public SiblingMerge {
        if (chains.size() < 2) throw new IllegalArgumentException("a sibling merge needs at least two chains, got " + chains.size());
        List<List<Node>> cs = new ArrayList<>();
        for (List<Node> c : chains) cs.add(List.copyOf(c));
        chains = List.copyOf(cs);
    }

    /** Every node of every chain, chain by chain, the first chain's root first. */
    public List<Node> nodes() {
        List<Node> out = new ArrayList<>();
        for (List<Node> c : chains) out.addAll(c);
        return out;
    }

    /** The nodes' names, chain by chain. */
    public List<List<String>> names() {
        List<List<String>> out = new ArrayList<>();
        for (List<Node> c : chains) out.add(c.stream().map(Node::name).toList());
        return out;
    }

    /** The number of nodes in each chain. */
    public int chainLength() { return chains.getFirst().size(); }

    @Override public String toString() { return kind + " merge of " + names() + " on %" + input.name(); }
}
