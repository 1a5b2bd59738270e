package org.tessel.accuracy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.text.IrPrinter;
import org.tessel.runtime.engine.PrecisionEmulation;
import org.tessel.search.Assignment;
import org.tessel.search.EnginePlans;
import org.tessel.search.Format;
import org.tessel.search.Plan;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.SearchProblem;
import org.tessel.search.accuracy.ErrorModel;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Per-node sensitivity, measured: for each node of the search problem and each reduced precision
 * it can take, the error of the CPU engine whose plan is the all-FP32 plan (every node alone at its
 * fastest FP32 tactic, nothing fused) with only that node changed to its fastest tactic at that
 * precision, against the FP32 engine, on the given inputs. So what is measured is the emulated
 * arithmetic the engine really does.
 *
 * <p>A node that no standalone tactic runs at a precision (a MatMul whose reduced precision only a
 * fused GEMM or attention kernel provides: an in-group choice) is measured inside the smallest fusion
 * candidate holding it that runs there, fused at that precision: the group's error, less the
 * standalone errors of its other members, is shared equally among its in-group-only members
 * (never below 0; an unbounded group error, an overflow, is every such member's). Precisions a node cannot take at all are not measured (the search cannot choose
 * them either). INT8 is measured only with calibrated scales ({@link CalibratedScales}): the engine with the
 * node at INT8 carries the quantization table the built engine will (fake quantization of the node's
 * activations with their calibrated scales, weights per channel), and the scales are part of the
 * fingerprint; without scales INT8 is not measured, so under a budget no node takes it. A node the
 * emulation leaves exactly as at FP32 at some precision (TF32 on an op that does not run on tensor
 * cores, a node without floating tensors) is recorded as 0 without an engine (never at INT8, whose
 * quantization is not a rounding the emulation table describes).
 */
public final class Sensitivity {
    private Sensitivity() {}

    /** Bumped when what is measured, or how, changes: older cache files are then measured again. */
    static final int METHOD_VERSION = 2;

    /** A measured model with what it took: engines built, node-precisions known to be exact without one ({@link #unchanged}). */
    public record Measured(ErrorModel model, int engines, int exactWithoutEngine, double seconds, boolean classifier) {}

    /**
     * The cache key of a measurement: the prepared graph (structure and a content hash of every
     * constant), the inputs' digest, the precisions and the method version.
     */
    public static String fingerprint(SearchProblem p, Set<Precision> precisions, AccuracyInputs inputs) { return fingerprint(p, precisions, inputs, null); }

    /**
     * The cache key with INT8 or FP8: when a quantized precision is among the precisions, the
     * calibration's fingerprint (every scale) is part of it, so other scales are measured again;
     * without scales for it the precision is not measured, which the key says too.
     */
    public static String fingerprint(SearchProblem p, Set<Precision> precisions, AccuracyInputs inputs, CalibratedScales scales) {
        MessageDigest md = AccuracyInputs.sha256();
        md.update(IrPrinter.print(p.prepared(), IrPrinter.Options.elidingAbove(16)).getBytes(StandardCharsets.UTF_8));
        md.update(("|" + inputs.digest() + "|" + new java.util.TreeSet<>(precisions) + "|v" + METHOD_VERSION).getBytes(StandardCharsets.UTF_8));
        for (Precision q : precisions)
            if (q.quantized()) md.update(("|" + q.text() + " " + (scales == null || scales.precision() != q ? "unmeasured" : scales.fingerprint())).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(md.digest()).substring(0, 32);
    }

    /** The all-FP32 plan, nothing fused: each node's fastest standalone FP32 choice. */
    static Assignment fp32(SearchProblem p) {
        Choice[] cs = new Choice[p.size()];
        for (int i = 0; i < p.size(); i++) {
            Choice best = null;
            for (Choice c : p.node(i).choices())
                if (c.standalone() && c.precision() == Precision.FP32 && (best == null || c.latencyPs() < best.latencyPs())) best = c;
            if (best == null) throw new IllegalStateException("node '" + p.node(i).name() + "' (" + p.node(i).op() + ") has no standalone FP32 tactic to measure against");
            cs[i] = best;
        }
        return new Assignment(cs, new boolean[p.candidates().size()]);
    }

    /** The applied plan of an assignment (the engine's graph and plan). */
    static PlanApplier.Applied applied(SearchProblem p, Assignment a, String what) {
        PlanEvaluator.Evaluation e = new PlanEvaluator(p).evaluate(a);
        Plan plan = new Plan(p.name(), what, "cpu", 0, p.size(), p.candidates().size(), 0, a, e, e.latencyUs(), 0, 0, 0, 0, false, false, "");
        return EnginePlans.complete(p, plan);
    }

    public static Measured measure(SearchProblem p, Set<Precision> precisions, AccuracyInputs inputs, Consumer<String> progress) {
        return measure(p, precisions, inputs, null, progress);
    }

    /** As {@link #measure(SearchProblem, Set, AccuracyInputs, Consumer)}, INT8 measured with these calibrated scales (null: INT8 unmeasured). */
    public static Measured measure(SearchProblem p, Set<Precision> precisions, AccuracyInputs inputs, CalibratedScales scales, Consumer<String> progress) {
        long t0 = System.nanoTime();
        Assignment base = fp32(p);
        ErrorMeter meter = new ErrorMeter(applied(p, base, "fp32"), inputs);
        boolean classifier = meter.hasClassifier();
        // INT8 or FP8 without calibrated scales for it is unmeasured, so under a budget no node takes it
        List<Precision> reduced = precisions.stream().filter(q -> q != Precision.FP32 && (!q.quantized() || scales != null && scales.precision() == q)).sorted().toList();
        java.util.function.UnaryOperator<PlanApplier.Applied> quantized = scales == null ? a -> a : scales::quantize;
        Map<String, Map<Precision, ErrorModel.NodeError>> nodes = new LinkedHashMap<>();
        for (int i = 0; i < p.size(); i++) nodes.put(p.node(i).name(), new EnumMap<>(Precision.class));
        PlanEvaluator ev = new PlanEvaluator(p);
        Map<String, Node> graph = new java.util.HashMap<>();
        for (Node n : p.prepared().nodes()) graph.put(n.name(), n);
        int skipped = 0;
        for (Precision q : reduced) {
            List<Integer> inGroupOnly = new ArrayList<>();
            for (int i = 0; i < p.size(); i++) {
                Choice alone = fastest(p, i, q, base.choice(i).layout(), true);
                // INT8 and FP8 convolutions run NHWC: the node alone in another layout than its FP32 neighbours (the reformats around it are exact)
                if (alone == null && q.quantized()) alone = fastest(p, i, q, null, true);
                if (alone == null) {
                    if (fastest(p, i, q, null, false) != null) inGroupOnly.add(i);
                    continue;
                }
                Assignment a = base.withChoice(i, alone);
                if (!ev.evaluate(a).feasible()) continue;
                if (!q.quantized() && unchanged(graph.get(p.node(i).name()), q)) { // the emulation computes exactly as at FP32: nothing to measure
                    nodes.get(p.node(i).name()).put(q, new ErrorModel.NodeError(0, classifier ? 0 : Double.NaN));
                    skipped++;
                    continue;
                }
                nodes.get(p.node(i).name()).put(q, meter.measure(quantized.apply(applied(p, a, "sensitivity"))));
                progress.accept(p.node(i).name() + " at " + q.text());
            }
            // in-group-only nodes: measured inside the smallest candidate that runs at q, in schedule order
            boolean[] done = new boolean[p.size()];
            for (int i : inGroupOnly) {
                if (done[i]) continue;
                SearchProblem.Candidate best = null;
                org.tessel.api.Layout bestLayout = null;
                for (SearchProblem.Candidate c : p.candidatesOf(i)) {
                    org.tessel.api.Layout l = groupLayout(c, base.choice(c.root()).layout(), q);
                    if (l != null && (best == null || c.members().length < best.members().length)) { best = c; bestLayout = l; }
                }
                if (best == null) continue;
                Assignment a = inGroup(p, base, best, new Format(q, bestLayout));
                if (a == null || !ev.evaluate(a).feasible()) continue;
                ErrorModel.NodeError group = meter.measure(quantized.apply(applied(p, a, "sensitivity")));
                double rel = group.relL2(), top1 = group.top1Disagreement();
                List<Integer> share = new ArrayList<>();
                for (int m : best.members()) {
                    ErrorModel.NodeError own = nodes.get(p.node(m).name()).get(q);
                    if (own != null) { // an unbounded group error stays unbounded (inf - inf would be NaN)
                        if (Double.isFinite(own.relL2())) rel -= own.relL2();
                        if (Double.isFinite(own.top1Disagreement())) top1 -= own.top1Disagreement();
                    }
                    else if (inGroupOnly.contains(m) && !done[m]) share.add(m);
                }
                for (int m : share) {
                    nodes.get(p.node(m).name()).put(q, new ErrorModel.NodeError(Math.max(0, rel) / share.size(), Double.isNaN(top1) ? Double.NaN : Math.max(0, top1) / share.size()));
                    done[m] = true;
                }
                progress.accept(p.node(i).name() + " at " + q.text() + " (in fused " + best.kind() + ")");
            }
        }
        ErrorModel model = new ErrorModel(fingerprint(p, precisions, inputs, scales), nodes, 1);
        return new Measured(model, meter.engines(), skipped, (System.nanoTime() - t0) / 1e9, classifier);
    }

    /**
     * Whether the CPU engine computes node n at precision q exactly as at FP32, so its error is 0 without
     * an engine: no rounding of its inputs nor of its outputs (TF32 on an op that does not run on tensor
     * cores), or no floating tensor to round.
     */
    static boolean unchanged(Node n, Precision q) {
        if (n == null) return false;
        boolean floating = false;
        for (var v : n.inputs()) floating |= v.type().dtype().isFloating();
        for (var v : n.outputs()) floating |= v.type().dtype().isFloating();
        return !floating || (PrecisionEmulation.inputs(n, q) == PrecisionEmulation.Rounding.NONE && PrecisionEmulation.outputs(q) == PrecisionEmulation.Rounding.NONE);
    }

    /** The fastest choice of node i at precision q (and layout, when given), standalone only or any. */
    private static Choice fastest(SearchProblem p, int i, Precision q, org.tessel.api.Layout layout, boolean standalone) {
        Choice best = null;
        for (Choice c : p.node(i).choices()) {
            if (c.precision() != q || !c.supported() || (standalone && !c.standalone())) continue;
            if (layout != null && c.layout() != layout && c.layout() != org.tessel.api.Layout.ANY && layout != org.tessel.api.Layout.ANY) continue;
            if (best == null || c.latencyPs() < best.latencyPs()) best = c;
        }
        return best;
    }

    /** The layout candidate c runs fused at precision q in: the root's FP32 layout when it can, else (INT8 and FP8 only, whose convolutions run NHWC) any; null when none. */
    private static org.tessel.api.Layout groupLayout(SearchProblem.Candidate c, org.tessel.api.Layout fp32, Precision q) {
        if (c.fusedChoice(new Format(q, fp32)) != null) return fp32;
        if (!q.quantized()) return null;
        for (org.tessel.api.Layout l : org.tessel.api.Layout.values()) if (c.fusedChoice(new Format(q, l)) != null) return l;
        return null;
    }

    /** The base plan with candidate c fused in format root (members at agreeing choices), or null when a member cannot agree. */
    private static Assignment inGroup(SearchProblem p, Assignment base, SearchProblem.Candidate c, Format root) {
        Choice[] cs = base.choices().clone();
        for (int m : c.members()) {
            Choice best = null;
            for (Choice ch : p.node(m).choices())
                if (ch.supported() && ch.format().agrees(root) && (best == null || ch.latencyPs() < best.latencyPs())) best = ch;
            if (best == null) return null;
            cs[m] = best;
        }
        boolean[] fused = base.fused().clone();
        fused[c.index()] = true;
        return new Assignment(cs, fused);
    }

    /** Nodes with a measurement at some reduced precision. */
    public static long measuredNodes(ErrorModel m) {
        return m.nodes().values().stream().filter(byP -> byP.keySet().stream().anyMatch(q -> q != Precision.FP32)).count();
    }
}
