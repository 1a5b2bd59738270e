package org.tessel.tactics.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A horizontal merge the plan makes before fusing: sibling chains of the prepared graph (each a Conv,
 * MatMul or Gemm reading one shared value, then its bias Add and activation) run as one wider chain
 * followed by a Split that hands each chain's consumers its slice ({@code SiblingMerges} in passes
 * rewrites it). The wide nodes and the Split are nodes of the planned graph, planned (and fused) like
 * any other; the chains' results keep their names as the Split's outputs.
 *
 * @param kind   {@code conv}, {@code matmul} or {@code gemm}
 * @param chains the chains' node names, each root first, in graph order of their roots
 * @param merged the wide chain's node names, root first (one per position of a chain)
 * @param split  the Split's node name
 */
public record PlannedMerge(String kind, List<List<String>> chains, List<String> merged, String split) {
    public PlannedMerge {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(split, "split");
        List<List<String>> cs = new ArrayList<>();
        for (List<String> c : chains) cs.add(List.copyOf(c));
        chains = List.copyOf(cs);
        merged = List.copyOf(merged);
        if (chains.size() < 2) throw new IllegalArgumentException("a merge needs at least two chains, has " + chains);
        for (List<String> c : chains)
            if (c.size() != merged.size())
                throw new IllegalArgumentException("merge " + (merged.isEmpty() ? split : merged.getFirst()) + ": chain " + c + " has " + c.size()
                        + " nodes, the merged chain " + merged + " " + merged.size());
    }

    /** The merged chain's root: how messages name the merge. */
    public String name() { return merged.isEmpty() ? split : merged.getFirst(); }

    /** Every chain node's name, chain by chain. */
    public List<String> members() {
        List<String> out = new ArrayList<>();
        for (List<String> c : chains) out.addAll(c);
        return out;
    }

    /** The nodes the merge puts in the planned graph: the merged chain, then the Split. */
    public List<String> made() {
        List<String> out = new ArrayList<>(merged);
        out.add(split);
        return out;
    }
}
