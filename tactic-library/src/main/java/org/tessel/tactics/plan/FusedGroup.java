package org.tessel.tactics.plan;

import java.util.List;
import java.util.Objects;

/**
 * Nodes of the prepared (unfused) graph that the plan runs as one {@code tessel.Fused} node.
 *
 * @param name    the fused node's name in the planned graph: the root member's name, "+", the number of other members
 *                ({@code conv1+2}), as {@code FusionGroups.fuse} names it
 * @param kind    the fused kind ({@code conv_bias_act}, {@code gemm_bias_act}, {@code attention}, {@code eltwise}, ...)
 * @param members member node names of the prepared graph, root first
 */
public record FusedGroup(String name, String kind, List<String> members) {
    public FusedGroup {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        members = List.copyOf(members);
        if (members.size() < 2) throw new IllegalArgumentException("fused group '" + name + "' needs at least two members, has " + members);
    }

    /** The name {@code FusionGroups.fuse} gives the fused node of these members. */
    public static String nameOf(List<String> members) { return members.getFirst() + "+" + (members.size() - 1); }

    public static FusedGroup of(String kind, List<String> members) { return new FusedGroup(nameOf(members), kind, members); }

    public String root() { return members.getFirst(); }
}
