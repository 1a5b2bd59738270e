package org.tessel.passes.fusion;

import java.util.List;
import org.tessel.ir.Node;

/**
 * A group of nodes that could run as one kernel: the pattern's kind and the nodes in graph order.
 * Candidates may overlap; the fusion pass or the search picks a non-overlapping subset.
 */
public record FusionCandidate(String kind, List<Node> nodes) {
    public FusionCandidate { nodes = List.copyOf(nodes); }

    public Node root() { return nodes.get(0); }

    public Node last() { return nodes.get(nodes.size() - 1); }

    public boolean overlaps(FusionCandidate o) {
        for (Node n : nodes) if (o.nodes.contains(n)) return true;
        return false;
    }

    @Override public String toString() {
        return kind + "[" + String.join(" -> ", nodes.stream().map(Node::name).toList()) + "]";
    }
}
