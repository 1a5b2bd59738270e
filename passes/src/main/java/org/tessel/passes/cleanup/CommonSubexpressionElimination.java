package org.tessel.passes.cleanup;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.tessel.api.Attributes;
import org.tessel.api.Tensor;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;

/**
 * Pass that merges pure nodes computing the same op with the same attributes on the same inputs
 * (inputs of commutative ops in either order), and constants with identical data.
 */
public final class CommonSubexpressionElimination implements Pass {
    static final PassOption MAX_CONST = new PassOption("max-constant-elements", "1048576", "Largest constant compared by content");
    private static final PassInfo INFO = PassInfo.named("cse", "Merge identical pure nodes and identical constants")
            .statistic("nodes-merged", "Nodes replaced by an identical earlier node")
            .statistic("constants-merged", "Constants replaced by an identical one").options(MAX_CONST).build();

    @Override public PassInfo info() { return INFO; }

    private record Key(String op, Attributes attrs, List<Value> inputs) {
        @Override public boolean equals(Object o) {
            if (!(o instanceof Key k) || !k.op.equals(op) || !k.attrs.equals(attrs) || k.inputs.size() != inputs.size()) return false;
            for (int i = 0; i < inputs.size(); i++) if (k.inputs.get(i) != inputs.get(i)) return false;
            return true;
        }
        @Override public int hashCode() {
            int h = Objects.hash(op, attrs);
            for (Value v : inputs) h = 31 * h + System.identityHashCode(v);
            return h;
        }
    }

    @Override public boolean run(Graph g, PassContext ctx) {
        boolean changed = mergeConstants(g, ctx);
        Map<Key, Node> seen = new HashMap<>();
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.op().has(Trait.PURE) || n.body() != null) continue;
            List<Value> ins = new ArrayList<>(n.inputs());
            if (n.op().has(Trait.COMMUTATIVE) && ins.size() == 2 && ins.get(0) != null && ins.get(1) != null
                    && ins.get(0).name().compareTo(ins.get(1).name()) > 0) {
                Value t = ins.get(0); ins.set(0, ins.get(1)); ins.set(1, t);
            }
            Key k = new Key(n.opName(), n.attrs(), ins);
            Node prev = seen.get(k);
            if (prev == null || prev.outputs().size() != n.outputs().size()) { seen.putIfAbsent(k, n); continue; }
            // two graph outputs stay two values: the graph's interface keeps every output and its name
            boolean clash = false;
            for (int i = 0; i < n.outputs().size(); i++) clash |= g.outputs().contains(n.output(i)) && g.outputs().contains(prev.output(i));
            if (clash) continue;
            List<String> names = n.outputs().stream().map(Value::name).toList();
            List<Boolean> wasOutput = n.outputs().stream().map(v -> g.outputs().contains(v)).toList();
            for (int i = 0; i < n.outputs().size(); i++) g.replaceAllUses(n.output(i), prev.output(i));
            g.removeNode(n);
            for (int i = 0; i < names.size(); i++) if (wasOutput.get(i)) g.renameValue(prev.output(i), names.get(i));
            ctx.stats().inc("nodes-merged");
            changed = true;
        }
        return changed;
    }

    private boolean mergeConstants(Graph g, PassContext ctx) {
        int max = ctx.intOption(MAX_CONST);
        Map<Integer, List<Value>> byHash = new HashMap<>();
        boolean changed = false;
        for (Value c : new ArrayList<>(g.constants())) {
            // by the declared type, and never a deferred constant (a model's weights, made on first use: comparing them would
            // make them, and a quantized one's scales would quantize its whole weight, at every plan of every step bucket)
            if (c.type().numElements() > max || c.isDeferred()) continue;
            Tensor t = c.constantValue();
            List<Value> bucket = byHash.computeIfAbsent(t.contentHash(), h -> new ArrayList<>());
            Value same = null;
            for (Value o : bucket) if (o.type().equals(c.type()) && o.constantValue().dataEquals(t)) { same = o; break; }
            if (same == null) { bucket.add(c); continue; }
            if (g.outputs().contains(c)) continue;
            g.replaceAllUses(c, same);
            g.removeConstant(c);
            ctx.stats().inc("constants-merged");
            changed = true;
        }
        return changed;
    }
}
