package org.tessel.passes.layout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.tessel.api.Attributes;
import org.tessel.api.Layout;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.rules.Rewriter;

/**
 * Gives every image tensor (rank >= 3) a concrete layout. Layout-sensitive ops (and fused nodes
 * containing one) take the layout a decision function picks; elementwise ops, Concat and Split
 * follow their first image input; every other op (Reshape, Gemm, Transpose...) reads and writes
 * channels-first. A {@code tessel.Reformat} is inserted only where a producer's layout differs
 * from what its consumer needs, shared between consumers, and graph outputs are returned
 * channels-first.
 */
public final class LayoutAssigner {
    private final Function<Node, Layout> decide;
    private final boolean everyNode;

    /** @param decide the layout for a layout-sensitive node (e.g. a policy, or the search's choice) */
    public LayoutAssigner(Function<Node, Layout> decide) { this(decide, false); }

    /**
     * @param everyNode when true, {@code decide} is asked for every node (a plan that chose the layout of
     *                  elementwise nodes too); an answer of ANY or null falls back to the default rule
     */
    public LayoutAssigner(Function<Node, Layout> decide, boolean everyNode) {
        this.decide = decide;
        this.everyNode = everyNode;
    }

    public static boolean isImage(Value v) { return v != null && v.type().rank() >= 3 && !v.isConstant(); }

    /** True for nodes whose kernel's data layout is a choice: Conv, pools, BN, LRN, Resize, and fused nodes holding one. */
    public static boolean layoutSensitive(Node n) {
        if (n.body() != null) return n.body().nodes().stream().anyMatch(LayoutAssigner::layoutSensitive);
        return n.op().has(Trait.LAYOUT_SENSITIVE);
    }

    private static boolean followsInput(Node n) {
        if (n.body() != null) return n.body().nodes().stream().allMatch(LayoutAssigner::followsInput);
        String op = n.opName();
        return n.op().has(Trait.ELEMENTWISE) || op.equals("Concat") || op.equals("Split") || op.equals(TesselOps.REFORMAT);
    }

    /** Returns the number of reformats inserted. */
    public int assign(Graph g, Rewriter rw) {
        for (Value v : g.inputs()) if (v.type().rank() >= 3 && v.type().layout() == Layout.ANY) v.setType(v.type().withLayout(Layout.NCHW));
        Map<Value, Map<Layout, Value>> reformatted = new HashMap<>();
        int inserted = 0;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (n.opName().equals(TesselOps.REFORMAT)) continue;
            Layout want;
            Layout planned = everyNode ? decide.apply(n) : null;
            if (planned != null && planned != Layout.ANY) want = planned;
            else if (layoutSensitive(n)) want = decide.apply(n);
            else if (followsInput(n)) want = firstImageLayout(n);
            else want = Layout.NCHW;
            if (want == Layout.ANY) want = Layout.NCHW;
            for (int i = 0; i < n.numInputs(); i++) {
                Value in = n.input(i);
                if (!isImage(in) || layoutOf(in) == want) continue;
                Value r = reformatted.computeIfAbsent(in, k -> new HashMap<>()).get(want);
                if (r == null) {
                    r = rw.insertBefore(n, TesselOps.REFORMAT, "reformat_" + in.name() + "_" + want.text(),
                            Attributes.builder().put("to", want.text()).build(), 1, in).output();
                    reformatted.get(in).put(want, r);
                    inserted++;
                }
                rw.setInput(n, i, r);
            }
            for (Value o : n.outputs()) if (o.type().rank() >= 3) o.setType(o.type().withLayout(want));
            if (n.body() != null) setBodyLayouts(n, want);
        }
        // graph outputs leave channels-first, as users bind them
        List<Value> outs = new ArrayList<>(g.outputs());
        for (Value o : outs) {
            if (o.type().rank() < 3 || layoutOf(o) == Layout.NCHW || o.producer() == null) continue;
            String name = o.name();
            Node last = g.nodes().get(g.nodes().size() - 1);
            Node r = rw.insertBefore(last, TesselOps.REFORMAT, "reformat_out_" + name, Attributes.builder().put("to", "nchw").build(), 1, o);
            // only the graph output moves to the reformat: the nodes inside keep reading o in its own layout (replacing
            // every use made an NHWC MaxPool read the NCHW copy of a Relu's output that was also a graph output)
            List<Value> now = new ArrayList<>(g.outputs());
            now.replaceAll(v -> v == o ? r.output() : v);
            g.setOutputs(now);
            g.renameValue(o, g.uniqueValueName(name + "_nhwc"));
            g.renameValue(r.output(), name);
            inserted++;
        }
        g.sortTopologically();
        return inserted;
    }

    /** Inside a fused body, image values take the node's layout, so the body agrees with its node. */
    private static void setBodyLayouts(Node n, Layout want) {
        Graph body = n.body();
        for (int i = 0; i < body.inputs().size(); i++) {
            Value outer = n.input(i);
            Value inner = body.inputs().get(i);
            if (outer != null) inner.setType(outer.type());
        }
        for (Node bn : body.nodes()) for (Value o : bn.outputs()) if (o.type().rank() >= 3) o.setType(o.type().withLayout(want));
    }

    static Layout layoutOf(Value v) {
        Layout l = v.type().layout();
        return l == Layout.ANY ? Layout.NCHW : l;
    }

    private static Layout firstImageLayout(Node n) {
        for (Value v : n.inputs()) if (isImage(v)) return layoutOf(v);
        return Layout.NCHW;
    }
}
