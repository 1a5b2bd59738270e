package org.tessel.plugins;

import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.api.PluginException;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.Tactic;

/**
 * A plugin's tactic as the catalogue holds it: its id and description read once at load (an id
 * that is not dotted lower-case words is refused then), every question about a node guarded, so a
 * tactic that throws while the search asks whether it runs a node or what it costs fails in one
 * line naming the plugin, the tactic and the node.
 */
class GuardedTactic implements Tactic {
    private final Tactic t;
    private final String plugin;
    private final String id, summary;
    private final Backend backend;
    private final Set<Precision> precisions;
    private final Set<Layout> layouts;
    private final List<String> variants;

    GuardedTactic(Tactic t, String plugin) {
        this.t = t;
        this.plugin = plugin;
        String w = "plugin " + plugin + ": tactic " + t.getClass().getName();
        this.id = Guard.call(() -> w + " threw in id()", t::id);
        if (id == null || !id.matches("[a-z0-9_]+(\\.[a-z0-9_]+)+"))
            throw new PluginException(w + ": tactic id '" + id + "' must be dotted lower_case words (e.g. myvendor.relu.fast)");
        String wi = "plugin " + plugin + ": tactic '" + id + "'";
        this.backend = Guard.call(() -> wi + " threw in backend()", t::backend);
        if (backend == null) throw new PluginException(wi + ": backend() is null");
        this.summary = String.valueOf(Guard.call(() -> wi + " threw in summary()", t::summary));
        this.precisions = Set.copyOf(Guard.call(() -> wi + " threw in precisions()", t::precisions));
        this.layouts = Set.copyOf(Guard.call(() -> wi + " threw in layouts()", t::layouts));
        this.variants = List.copyOf(Guard.call(() -> wi + " threw in planVariants()", t::planVariants));
    }

    String plugin() { return plugin; }

    /** The guard for a plugin's tactic: a {@link GuardedCudaTactic} for one with a CUDA kernel. */
    static GuardedTactic of(Tactic t, String plugin) {
        return t instanceof org.tessel.tactics.CudaSourceTactic c ? new GuardedCudaTactic(c, plugin) : new GuardedTactic(t, plugin);
    }

    private String doing(String what, Node n) { return "plugin " + plugin + ": tactic '" + id + "' threw while " + what + " " + n.describe(); }

    @Override public String id() { return id; }
    @Override public Backend backend() { return backend; }
    @Override public String summary() { return summary; }
    @Override public Set<Precision> precisions() { return precisions; }
    @Override public Set<Layout> layouts() { return layouts; }
    @Override public List<String> planVariants() { return variants; }

    @Override public boolean appliesTo(Node n) { return Guard.call(() -> doing("asked whether it implements", n), () -> t.appliesTo(n)); }

    @Override public String whyNot(Node n, Precision p, Layout l) {
        return Guard.call(() -> doing("checking " + p.text() + "/" + l.text() + " on", n), () -> t.whyNot(n, p, l));
    }

    @Override public boolean supports(Node n, Precision p, Layout l) { return whyNot(n, p, l) == null; }

    @Override public long workspaceBytes(Node n, Precision p) {
        long w = Guard.call(() -> doing("sizing its workspace for", n), () -> t.workspaceBytes(n, p));
        if (w < 0) throw new PluginException("plugin " + plugin + ": tactic '" + id + "' asks for " + w + " workspace bytes on " + n.describe());
        return w;
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) { return Guard.call(() -> doing("describing its cost features on", n), () -> t.features(n, p, l)); }

    @Override public boolean runsOn(DeviceSpec device) { return Guard.call(() -> "plugin " + plugin + ": tactic '" + id + "' threw in runsOn(" + device.name() + ")", () -> t.runsOn(device)); }

    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        Cost c = Guard.call(() -> doing("pricing", n), () -> t.cost(model, n, p, l, cudaGraphs));
        if (c == null || !(c.totalUs() >= 0) || Double.isInfinite(c.totalUs()))
            throw new PluginException("plugin " + plugin + ": tactic '" + id + "' priced " + n.describe() + " at " + (c == null ? "null" : c.totalUs() + " us")
                    + "; a price is a finite, non-negative time");
        return c;
    }

    @Override public boolean pricesVariants() { return Guard.call(() -> "plugin " + plugin + ": tactic '" + id + "' threw in pricesVariants()", t::pricesVariants); }

    @Override public List<String> pricedVariants(Node n, Precision p) {
        List<String> v = Guard.call(() -> doing("listing the variants it prices for", n), () -> t.pricedVariants(n, p));
        if (v == null || !variants.containsAll(v))
            throw new PluginException("plugin " + plugin + ": tactic '" + id + "' prices variants " + v + " for " + n.describe() + ", not among its plan variants " + variants);
        return List.copyOf(v);
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l, String variant) {
        return Guard.call(() -> doing("describing the cost features of variant '" + variant + "' on", n), () -> t.features(n, p, l, variant));
    }

    @Override public String variantWhyNot(Node n, String variant, Precision p) {
        return Guard.call(() -> n == null ? "plugin " + plugin + ": tactic '" + id + "' threw in variantWhyNot" : doing("checking variant '" + variant + "' on", n), () -> t.variantWhyNot(n, variant, p));
    }

    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs, String variant) {
        if (variant.isEmpty()) return cost(model, n, p, l, cudaGraphs);
        Cost c = Guard.call(() -> doing("pricing variant '" + variant + "' on", n), () -> t.cost(model, n, p, l, cudaGraphs, variant));
        if (c == null || !(c.totalUs() >= 0) || Double.isInfinite(c.totalUs()))
            throw new PluginException("plugin " + plugin + ": tactic '" + id + "' priced variant '" + variant + "' of " + n.describe() + " at " + (c == null ? "null" : c.totalUs() + " us")
                    + "; a price is a finite, non-negative time");
        return c;
    }

    @Override public String toString() { return id; }
}
