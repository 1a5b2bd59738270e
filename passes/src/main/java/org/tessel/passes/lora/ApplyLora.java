package org.tessel.passes.lora;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.LoraOps;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassException;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.quant.QuantizeWeights;

/**
 * Pass that serves several LoRA adapters over one base model at once: every adapted linear layer
 * y = x·W becomes y = x·W + {@code tessel.LoraDelta}(x, the adapters' A and B stacked, their
 * alpha/r, adapter_ids), and the graph gets the input {@code adapter_ids} i64 [batch]: row b runs
 * adapter {@code adapter_ids[b]} (1-based in the order the adapters are given; 0 runs the base
 * model alone). The projection keeps its node and output names (the Add takes them; the base
 * product becomes NAME.base), so later passes and the runtime find it as before.
 *
 * <p>A linear layer is a MatMul by a constant weight (or its Transpose) or an already quantized
 * {@code tessel.WeightOnlyMatMul} / {@code tessel.W8A8MatMul}; an adapter names it by the node's
 * name. {@code targets} (';'-separated module names matched at the end of a node name, with the
 * aliases q, k, v, o, gate, up, down and mlp for both decoder families) limits which layers may be
 * adapted; empty means every layer some adapter carries. An adapter whose layer is not a linear
 * layer of the graph, is outside the targets, or whose A/B do not fit the layer's K and N is
 * refused, naming the adapter's file, the layer and the shapes.
 *
 * <p>With no adapters the pass leaves the graph alone. It refuses a graph that already has
 * {@code adapter_ids} (applied twice).
 */
public final class ApplyLora implements Pass {
    public static final PassOption ADAPTERS = new PassOption("adapters", "", "';'-separated NAME=FOLDER adapters (PEFT folders), ids 1, 2, ... in this order");
    public static final PassOption TARGETS = new PassOption("targets", "", "';'-separated module names (or q, k, v, o, gate, up, down, mlp) adapters may adapt; empty: any they carry");
    public static final String ADAPTER_IDS = "adapter_ids";
    private static final PassInfo INFO = PassInfo.named("lora", "Add the low-rank terms of several LoRA adapters, chosen per batch row by the adapter_ids input (tessel.LoraDelta)")
            .options(ADAPTERS, TARGETS).notIdempotent()
            .statistic("layers-adapted", "Linear layers given a tessel.LoraDelta")
            .statistic("adapters", "Adapters stacked in each adapted layer")
            .build();

    /** What the short target names stand for in Llama (x_proj) and GPT-2 (c_attn, c_proj, c_fc) decoders. */
    static final Map<String, List<String>> ALIASES = Map.of(
            "q", List.of("q_proj", "attn.c_attn"), "k", List.of("k_proj", "attn.c_attn"), "v", List.of("v_proj", "attn.c_attn"),
            "o", List.of("o_proj", "attn.c_proj"), "gate", List.of("gate_proj"), "up", List.of("up_proj"), "down", List.of("down_proj"),
            "mlp", List.of("gate_proj", "up_proj", "down_proj", "mlp.c_fc", "mlp.c_proj"));

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        List<LoraAdapter> adapters = new ArrayList<>();
        for (String spec : split(ctx.option(ADAPTERS))) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) throw new PassException("lora option adapters: '" + spec + "' is not NAME=FOLDER");
            try {
                adapters.add(LoraAdapter.load(spec.substring(0, eq).trim(), Path.of(spec.substring(eq + 1).trim())));
            } catch (IllegalArgumentException e) {
                throw new PassException(e.getMessage());
            }
        }
        if (adapters.isEmpty()) return false;
        int layers = apply(g, adapters, split(ctx.option(TARGETS)), ctx.registry());
        ctx.stats().add("layers-adapted", layers);
        ctx.stats().add("adapters", adapters.size());
        return layers > 0;
    }

    static List<String> split(String s) {
        List<String> r = new ArrayList<>();
        for (String p : s.split(";")) if (!p.isBlank()) r.add(p.trim());
        return r;
    }

    /** The module-name suffixes the targets stand for (aliases expanded); empty for none given. */
    public static Set<String> expandTargets(List<String> targets) {
        Set<String> r = new LinkedHashSet<>();
        for (String t : targets) r.addAll(ALIASES.getOrDefault(t, List.of(t)));
        return r;
    }

    /** The graph's linear layers by node name, in graph order, that {@code suffixes} select (all when empty). */
    public static Map<String, Node> targetNodes(Graph g, Set<String> suffixes) {
        Map<String, Node> r = new LinkedHashMap<>();
        for (Node n : g.nodes())
            if (isLinear(n) && (suffixes.isEmpty() || suffixes.stream().anyMatch(s -> n.name().equals(s) || n.name().endsWith("." + s)))) r.put(n.name(), n);
        return r;
    }

    static boolean isLinear(Node n) {
        if (n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY) || n.opName().equals(QuantizedMatMulOps.W8A8)) return true;
        QuantizeWeights.Match m = QuantizeWeights.match(n);
        return m != null && n.opName().equals("MatMul") && m.a().type().rank() >= 2;
    }

    /**
     * Adds the adapters' terms to the layers they adapt and the {@code adapter_ids} input; returns the
     * number of layers adapted. Adapter i (0-based) gets id i + 1.
     */
    public static int apply(Graph g, List<LoraAdapter> adapters, List<String> targets, OpRegistry ops) {
        if (adapters.isEmpty()) return 0;
        if (g.value(ADAPTER_IDS) != null) throw new PassException("graph " + g.name() + " already has an input " + ADAPTER_IDS + " (lora applied twice?)");
        Set<String> names = new java.util.HashSet<>();
        for (LoraAdapter a : adapters) if (!names.add(a.name())) throw new PassException("adapter name " + a.name() + " is given twice");
        Set<String> suffixes = expandTargets(targets);
        Map<String, Node> targeted = targetNodes(g, suffixes), linear = targetNodes(g, Set.of());
        // every adapter layer must be a targeted linear layer whose K and N its A and B fit
        Map<String, Node> adapted = new LinkedHashMap<>();
        for (LoraAdapter a : adapters)
            for (LoraAdapter.Layer l : a.layers().values()) {
                String where = "adapter " + a.name() + " (" + a.source() + "): layer " + l.module();
                Node n = targeted.get(l.module());
                if (n == null && linear.containsKey(l.module()))
                    throw new PassException(where + " is not among the targets " + targets + " (" + suffixes + ")");
                if (n == null)
                    throw new PassException(where + " is not a linear layer of " + g.name() + " (its linear layers are named like "
                            + String.join(", ", linear.keySet().stream().limit(3).toList()) + ")");
                int k = n.input(0).type().shape().dim(-1), out = n.output().type().shape().dim(-1);
                if (l.k() != k) throw new PassException(where + ": lora_A is " + l.a().shape() + " = [r, K], the layer takes K=" + k + " (input " + n.input(0).type() + ")");
                if (l.n() != out) throw new PassException(where + ": lora_B is " + l.b().shape() + " = [N, r], the layer gives N=" + out + " (output " + n.output().type() + ")");
                adapted.put(n.name(), n);
            }
        int batch = -1;
        for (Node n : adapted.values()) {
            int b = n.input(0).type().shape().dim(0);
            if (batch >= 0 && b != batch) throw new PassException(n.describe() + ": batch " + b + " differs from the other adapted layers' " + batch);
            batch = b;
        }
        Value ids = g.addInput(ADAPTER_IDS, TensorType.of(DType.I64, Shape.of(batch)));
        // keep graph order so the graph stays topologically sorted (adapted is in adapter order)
        for (Node n : linear.values()) if (adapted.containsKey(n.name())) rewrite(g, n, adapters, ids, ops);
        return adapted.size();
    }

    /** base -> base + LoraDelta(x, stacks, scales, ids); the Add takes the base node's name and output name. */
    private static void rewrite(Graph g, Node n, List<LoraAdapter> adapters, Value ids, OpRegistry ops) {
        String module = n.name(), outName = n.output().name();
        int s = adapters.size(), k = n.input(0).type().shape().dim(-1), out = n.output().type().shape().dim(-1), rank = 0;
        for (LoraAdapter a : adapters) if (a.layers().containsKey(module)) rank = Math.max(rank, a.rank());
        float[] as = new float[s * rank * k], bs = new float[s * out * rank], scales = new float[s];
        for (int i = 0; i < s; i++) {
            LoraAdapter.Layer l = adapters.get(i).layers().get(module);
            if (l == null) continue; // this adapter leaves the layer alone: zero A and B, an exact zero term
            scales[i] = adapters.get(i).scale();
            float[] a = l.a().floats(), b = l.b().floats();
            int r = l.rank();
            System.arraycopy(a, 0, as, i * rank * k, r * k);
            for (int j = 0; j < out; j++) System.arraycopy(b, j * r, bs, (i * out + j) * rank, r);
        }
        Value la = g.addConstant(g.uniqueValueName(module + ".lora_a"), Tensor.ofFloats(Shape.of(s, rank, k), as));
        Value lb = g.addConstant(g.uniqueValueName(module + ".lora_b"), Tensor.ofFloats(Shape.of(s, out, rank), bs));
        Value sc = g.addConstant(g.uniqueValueName(module + ".lora_scales"), Tensor.ofFloats(Shape.of(s), scales));
        List<Node> users = new ArrayList<>(g.users(n.output()));
        boolean isOutput = g.outputs().contains(n.output());
        g.renameNode(n, g.uniqueNodeName(module + ".base"));
        g.renameValue(n.output(), g.uniqueValueName(outName + ".base"));
        OpSchema delta = ops.get(TesselOps.DOMAIN, "LoraDelta"), add = ops.get("", "Add");
        String deltaName = g.uniqueNodeName(module + ".lora");
        List<Value> dIns = List.of(n.input(0), la, lb, sc, ids);
        Node d = g.insertNodeBefore(n, delta, deltaName, dIns, Attributes.empty(), Graph.inferTypes(delta, deltaName, dIns, Attributes.empty(), 1), null, null);
        List<Value> addIns = List.of(n.output(), d.output());
        Node next = g.indexOf(n) + 1 < g.size() ? g.nodes().get(g.indexOf(n) + 1) : null;
        Node sum = g.insertNodeBefore(next, add, module, addIns, Attributes.empty(), Graph.inferTypes(add, module, addIns, Attributes.empty(), 1), List.of(outName), null);
        for (Node u : users)
            for (int i = 0; i < u.inputs().size(); i++) if (u.input(i) == n.output()) g.setNodeInput(u, i, sum.output());
        if (isOutput) {
            List<Value> outs = new ArrayList<>(g.outputs());
            outs.replaceAll(v -> v == n.output() ? sum.output() : v);
            g.setOutputs(outs);
        }
    }
}
