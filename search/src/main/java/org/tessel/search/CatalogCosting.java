package org.tessel.search;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;

/** Prices choices with the tactic catalogue and the analytical cost model of one device. */
public final class CatalogCosting implements Costing {
    private final TacticCatalog catalog;
    private final CostModel model;
    private final boolean cudaGraphs;

    public CatalogCosting(TacticCatalog catalog, CostModel model, boolean cudaGraphs) {
        this.catalog = catalog;
        this.model = model;
        this.cudaGraphs = cudaGraphs;
    }

    public CostModel model() { return model; }

    @Override public List<Choice> choices(Node n, int index, List<Layout> layouts) {
        List<Choice> out = new ArrayList<>();
        List<Precision> precisions = touchesFloating(n) ? List.of(Precision.values()) : List.of(Precision.FP32);
        for (Tactic t : catalog.candidates(n, model.device())) {
            for (Precision p : precisions) {
                for (Layout l : layouts) {
                    String why = t.whyNot(n, p, l);
                    // a GPU without the precision's tensor cores (FP8 before sm_89) has no such choice
                    if (why == null && p != Precision.FP32 && !model.device().isCpu() && !model.device().supports(p))
                        why = model.device().name() + " has no " + p.text() + " tensor cores";
                    if (why != null) {
                        out.add(new Choice(index, t.id(), p, l, 0, 0, 0, 0, 0, why));
                        continue;
                    }
                    // the tactic prices itself: fitted per-family factors, the CPU fallback's host round trip, split-K workspace;
                    // where it prices its variants apart, one choice per variant that runs the node
                    List<String> variants = t.pricedVariants(n, p);
                    for (String v : variants.isEmpty() ? List.of("") : variants) {
                        Cost c = t.cost(model, n, p, l, cudaGraphs, v);
                        out.add(new Choice(index, t.id(), p, l, Costing.ps(c.totalUs()), c.computeUs(), c.memoryUs(), c.launchUs(),
                                c.workspaceBytes(), null).withVariant(v));
                    }
                }
            }
        }
        return out;
    }

    @Override public String whyNoChoice(Node n, String tacticId) {
        if (!catalog.has(tacticId)) {
            try {
                catalog.byId(tacticId);
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        }
        if (n == null) return null;
        Tactic t = catalog.byId(tacticId);
        if (!t.appliesTo(n)) {
            String why = t.whyNot(n, Precision.FP32, Layout.ANY);
            return why != null ? why : tacticId + " does not implement " + n.opName();
        }
        if (!t.runsOn(model.device()))
            return tacticId + " is a " + t.backend().name() + " tactic and engines for " + model.device().name() + " run only CPU tactics";
        return null;
    }

    @Override public String variantWhyNot(Node n, String tacticId, String variant, Precision p) {
        if (!catalog.has(tacticId)) return whyNoChoice(null, tacticId);
        Tactic t = catalog.byId(tacticId);
        return t.variantWhyNot(n, variant, p);
    }

    @Override public double predictedUs(Node n, Choice c) {
        return c.supported() ? catalog.byId(c.tacticId()).cost(model, n, c.precision(), c.layout(), cudaGraphs, c.variant()).totalUs() : c.latencyUs();
    }

    /** Nodes that read or write no floating tensor have nothing to compute in another precision. */
    static boolean touchesFloating(Node n) {
        for (Value v : n.inputs()) if (v != null && !v.isConstant() && v.type().dtype().isFloating()) return true;
        for (Value v : n.outputs()) if (v.type().dtype().isFloating()) return true;
        return false;
    }

    @Override public double reformatUs(TensorType t) { return model.reformatUs(t); }

    @Override public double castUs(TensorType t, DType to) { return model.castUs(t, to); }

    @Override public String describe() {
        return model.device().name() + ", analytical cost model, " + (cudaGraphs ? "CUDA graphs" : "plain launches");
    }
}
