package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.rules.Rewriter;

/**
 * Turns a group of nodes into one {@code tessel.Fused} node whose body is a copy of the group.
 * The body's inputs are the values the group reads from outside (weights included, in order of
 * first use); its outputs are the group's values used outside or returned by the graph.
 */
public final class FusionGroups {
    private FusionGroups() {}

    /**
     * True when no path leaves the group and re-enters it: fusing a non-convex group would create
     * a cycle.
     */
    public static boolean isConvex(Graph g, List<Node> group) {
        Map<Node, Integer> pos = new IdentityHashMap<>();
        for (int i = 0; i < g.nodes().size(); i++) pos.put(g.nodes().get(i), i);
        return isConvex(g, group, pos);
    }

    /**
     * As {@link #isConvex(Graph, List)}, given each node's position: the walk stops past the group's
     * last member, since nodes after it cannot feed back into the group. That keeps the check local
     * (a chain's span) instead of walking everything downstream.
     */
    public static boolean isConvex(Graph g, List<Node> group, Map<Node, Integer> pos) {
        Set<Node> in = Collections.newSetFromMap(new IdentityHashMap<>());
        in.addAll(group);
        int last = 0;
        for (Node n : group) last = Math.max(last, pos.get(n));
        ArrayDeque<Node> work = new ArrayDeque<>();
        Set<Node> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : group)
            for (Value o : n.outputs())
                for (Node u : g.users(o)) if (!in.contains(u) && pos.get(u) < last && seen.add(u)) work.add(u);
        while (!work.isEmpty()) {
            Node u = work.poll();
            for (Value o : u.outputs())
                for (Node w : g.users(o)) {
                    if (in.contains(w)) return false;
                    if (pos.get(w) < last && seen.add(w)) work.add(w);
                }
        }
        return true;
    }

    /** Replaces the group by one fused node placed at the group's last node; returns it. */
    public static Node fuse(Rewriter rw, FusionCandidate c) {
        Graph g = rw.graph();
        List<Node> group = new ArrayList<>(c.nodes());
        Set<Node> members = Collections.newSetFromMap(new IdentityHashMap<>());
        members.addAll(group);
        Set<Value> produced = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : group) produced.addAll(n.outputs());
        LinkedHashSet<Value> external = new LinkedHashSet<>();
        for (Node n : group) for (Value v : n.inputs()) if (v != null && !produced.contains(v)) external.add(v);
        List<Value> escaping = new ArrayList<>();
        for (Node n : group)
            for (Value o : n.outputs()) {
                boolean outside = g.outputs().contains(o);
                for (Node u : g.users(o)) outside |= !members.contains(u);
                if (outside) escaping.add(o);
            }
        // a dead group (nothing uses its results) still defines its last node's results; dce removes it
        if (escaping.isEmpty()) escaping.addAll(group.get(group.size() - 1).outputs());
        Graph body = new Graph(c.kind());
        Map<Value, Value> map = new IdentityHashMap<>();
        int k = 0;
        for (Value v : external) map.put(v, body.addInput("in" + k++, v.type()));
        for (Node n : group) {
            List<Value> ins = new ArrayList<>();
            for (Value v : n.inputs()) ins.add(v == null ? null : map.get(v));
            List<String> names = n.outputs().stream().map(Value::name).toList();
            Node copy = body.insertNode(body.nodes().size(), n.op(), n.name(), ins, n.attrs(),
                    n.outputs().stream().map(Value::type).toList(), names, n.body() == null ? null : n.body().copy());
            for (int i = 0; i < n.outputs().size(); i++) map.put(n.output(i), copy.output(i));
        }
        for (Value e : escaping) body.addOutput(map.get(e));
        Node anchor = group.get(group.size() - 1);
        String name = group.get(0).name() + "+" + (group.size() - 1);
        Node fused = rw.insertFusedBefore(anchor, TesselOps.FUSED, name,
                Attributes.builder().put("kind", c.kind()).build(), new ArrayList<>(external), body);
        for (int i = 0; i < escaping.size(); i++) rw.replaceValue(escaping.get(i), fused.output(i));
        for (int i = group.size() - 1; i >= 0; i--) rw.erase(group.get(i));
        return fused;
    }
}
