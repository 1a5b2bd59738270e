package org.tessel.tactics;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;

/**
 * A fused node for a group of nodes that is not fused yet: what a search asks tactics and the cost
 * model about when it weighs a fusion candidate. The node lives in a scratch graph of its own
 * (the original graph is not touched); its body copies the group, its inputs are the values the
 * group reads from outside (constants stay constants), its outputs the group's values used outside
 * or returned by the graph. This is the same construction the fusion pass applies.
 */
public final class FusionPreview {
    private FusionPreview() {}

    /** The fused node the group would become; {@code kind} is the pattern ("conv_bias_act", "eltwise"...). */
    public static Node of(Graph g, String kind, List<Node> members) {
        if (members.isEmpty()) throw new IllegalArgumentException("a fusion group needs at least one node");
        List<Node> group = new ArrayList<>(members);
        group.sort((a, b) -> Integer.compare(g.indexOf(a), g.indexOf(b)));
        for (Node n : group) if (g.indexOf(n) < 0) throw new IllegalArgumentException(n.describe() + " is not in graph '" + g.name() + "'");
        Set<Node> in = Collections.newSetFromMap(new IdentityHashMap<>());
        in.addAll(group);
        Set<Value> produced = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : group) produced.addAll(n.outputs());
        LinkedHashSet<Value> external = new LinkedHashSet<>();
        for (Node n : group) for (Value v : n.inputs()) if (v != null && !produced.contains(v)) external.add(v);
        List<Value> escaping = escaping(g, group, in);

        Graph body = new Graph(kind);
        Map<Value, Value> map = new IdentityHashMap<>();
        int k = 0;
        for (Value v : external) map.put(v, body.addInput("in" + k++, v.type()));
        for (Node n : group) {
            List<Value> ins = new ArrayList<>();
            for (Value v : n.inputs()) ins.add(v == null ? null : map.get(v));
            Node copy = body.insertNode(body.nodes().size(), n.op(), n.name(), ins, n.attrs(), n.outputs().stream().map(Value::type).toList(),
                    n.outputs().stream().map(Value::name).toList(), n.body() == null ? null : n.body().copy());
            for (int i = 0; i < n.outputs().size(); i++) map.put(n.output(i), copy.output(i));
        }
        for (Value e : escaping) body.addOutput(map.get(e));

        Graph scratch = new Graph("preview:" + kind);
        List<Value> outerIns = new ArrayList<>();
        for (Value v : external)
            outerIns.add(v.isConstant() ? scratch.addConstantFrom(v) : scratch.addInput(v.name(), v.type()));
        Node fused = scratch.insertNode(0, OpRegistry.global().get(TesselOps.FUSED), group.get(0).name() + "+" + (group.size() - 1),
                outerIns, Attributes.builder().put("kind", kind).build(), escaping.stream().map(Value::type).toList(),
                escaping.stream().map(Value::name).toList(), body);
        scratch.setOutputs(fused.outputs());
        return fused;
    }

    /** The group's values that a node outside it uses or the graph returns; the last node's results when nothing escapes. */
    public static List<Value> escaping(Graph g, List<Node> group, Set<Node> members) {
        Map<Value, List<Node>> users = g.users();
        List<Value> out = new ArrayList<>();
        for (Node n : group)
            for (Value o : n.outputs()) {
                boolean outside = g.outputs().contains(o);
                for (Node u : users.getOrDefault(o, List.of())) outside |= !members.contains(u);
                if (outside) out.add(o);
            }
        if (out.isEmpty()) out.addAll(group.get(group.size() - 1).outputs());
        return out;
    }
}
