package org.tessel.api.select;

import java.util.List;
import java.util.Objects;
import org.tessel.api.Attributes;
import org.tessel.api.TensorType;

/**
 * A read-only view of one node for an {@link AlgorithmSelector}: what a selector may decide on,
 * without Tessel's graph classes. A fused group (a candidate the search may fuse, or a group of the
 * final plan) appears as one node of op {@code tessel.Fused} whose {@code members} are the nodes it
 * computes and whose {@code bodyOps} are their ops.
 *
 * @param name       the node's name (a fused group's: its root's name, '+', the other members' count)
 * @param op         the qualified op name ("Conv", "tessel.Fused", "mydomain.MyOp")
 * @param inputs     input types (null where an optional input is absent)
 * @param outputs    output types
 * @param attributes the node's attributes (a fused node's include its pattern {@code kind})
 * @param members    the names of the graph nodes this node computes: itself, or a group's members root first
 * @param bodyOps    a fused node's body ops in order; empty for a plain node
 */
public record NodeView(String name, String op, List<TensorType> inputs, List<TensorType> outputs, Attributes attributes,
                       List<String> members, List<String> bodyOps) {
    public NodeView {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(op, "op");
        inputs = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(inputs)); // may hold nulls
        outputs = List.copyOf(outputs);
        Objects.requireNonNull(attributes, "attributes");
        members = List.copyOf(members);
        bodyOps = List.copyOf(bodyOps);
    }

    /** True for a fused group. */
    public boolean fused() { return !bodyOps.isEmpty(); }

    /** "node 'conv1' (Conv)", as Tessel's messages name nodes. */
    public String describe() { return "node '" + name + "' (" + op + ")"; }
}
