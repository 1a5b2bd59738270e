package org.tessel.search.baselines;

import java.util.List;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.layout.AssignLayouts;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.domain.Choice;

/**
 * The fixed rule Tessel's GPU builder used before the search drove it, as a strategy, so its
 * engines can be built and measured beside the search's: one precision for every floating node
 * (the fastest the options allow: FP16, else BF16, else TF32, else FP32), channels-first for
 * FP32/TF32 graphs without grouped convolutions and the {@code assign-layouts} auto policy
 * otherwise, every fusion candidate the fuse pass would take, and per node the tactic the rule
 * preferred ({@link #PREFERRED}, else the cost model's fastest at that format).
 */
public final class RuleSearch implements SearchStrategy {
    /**
     * Catalogue tactics added after the fixed rule, which the rule strategy never picks, so its plans stay the rule's:
     * {@code cublaslt.conv1x1}, {@code cublaslt.conv.im2col} and {@code tessel.conv.mma} (the rule ran every convolution on
     * cuDNN's fused call), and {@code tessel.conv.stem_pool} (the rule never fused a pool).
     */
    private static final java.util.Set<String> AFTER_THE_RULE = java.util.Set.of("cublaslt.conv1x1", "cublaslt.conv.im2col", "tessel.conv.mma", "tessel.conv.stem_pool");

    /** A choice the fixed rule never made for an op: a tactic added after it, or the GEMV on a plain Gemm (the rule ran cuBLASLt's there). */
    public static boolean afterTheRule(String op, Choice c) {
        return AFTER_THE_RULE.contains(c.tacticId()) || c.tacticId().equals("tessel.gemv") && op.equals("Gemm");
    }

    /** Tactics the fixed rule ran, most preferred first. */
    static final List<String> PREFERRED = List.of(
            "tessel.conv.stem", "tessel.conv.depthwise_nhwc", "cudnn.conv.fused_bias_act", "tessel.conv.int8_dp4a", "tessel.deconv.direct", "tessel.recurrent", "tessel.lora.bgmv", "cublaslt.gemm.bias", "cublaslt.gemm", "tessel.matmul", "tessel.gemv.weight_only", "tessel.gemm.weight_only", "tessel.gemm.w8a8",
            "tessel.attention.mma", "tessel.attention.bshd", "tessel.attention.paged", "tessel.eltwise.fused", "tessel.eltwise", "tessel.layernorm", "tessel.rmsnorm", "tessel.softmax",
            "tessel.pool.max", "tessel.pool.avg", "tessel.pool.global", "tessel.view", "tessel.copy", "tessel.reduce", "tessel.resize",
            "tessel.batchnorm", "tessel.lrn", "tessel.transpose", "tessel.concat", "tessel.gather", "tessel.cast", "tessel.reformat.nchw_nhwc",
            "tessel.slice", "tessel.pad", "tessel.expand", "tessel.gather_elements", "tessel.fill", "tessel.constant", "tessel.logsoftmax", "tessel.hardmax",
            "tessel.argmax", "tessel.argmin");

    @Override public String name() { return "rule"; }

    @Override public String summary() { return "the fixed rule: one precision, one layout policy, pattern fusion, preferred tactics (for comparison)"; }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        Precision precision = rulePrecision(o);
        Layout layout = ruleLayout(p.prepared(), precision);
        boolean[] fused = Units.byPriority(p);
        Choice[] cs = new Choice[p.size()];
        long priced = 0;
        for (SearchProblem.Node n : p.nodes()) {
            Layout want = layoutFor(n, layout);
            Choice best = null;
            int rank = Integer.MAX_VALUE;
            for (Choice c : n.choices()) {
                priced++;
                if (!c.standalone() || c.precision() != precision || c.layout() != want || afterTheRule(n.op(), c)) continue;
                int r = PREFERRED.indexOf(c.tacticId());
                if (r < 0) r = PREFERRED.size();
                if (best == null || r < rank || r == rank && c.latencyPs() < best.latencyPs()) { best = c; rank = r; }
            }
            if (best == null) // a node that cannot compute at the rule's precision (integer data) stays at FP32
                for (Choice c : n.choices()) if (c.standalone() && c.precision() == Precision.FP32 && c.layout() == want && (best == null || c.latencyPs() < best.latencyPs())) best = c;
            if (best == null) // a node whose choices a forced choice or a selector narrowed takes what it was left, preferred tactic first
                best = atFormat(n, null);
            if (best == null)
                throw new IllegalArgumentException("the rule strategy has no choice for node '" + n.name() + "' (" + n.op() + ") at " + precision.text() + "/" + layout.text()
                        + " or fp32; its choices: " + n.choices());
            cs[n.index()] = best;
        }
        // a group runs at the rule's precision where its fused tactic can: a root no standalone kernel runs at that
        // precision (a Reshape heading attention, a GEMM chain's MatMul) takes its in-group choice there, as the fixed
        // pipeline ran its fused node at the engine's precision; members then take a choice agreeing with the root's
        // format (in-group ones too: the fused tactic runs them); a group whose root format has no fused tactic stays unfused
        for (SearchProblem.Candidate c : p.candidates()) {
            if (!fused[c.index()]) continue;
            Choice root = cs[c.root()];
            if (root.precision() != precision) {
                SearchProblem.Node rn = p.node(c.root());
                Layout want = layoutFor(rn, layout);
                for (Choice ch : rn.choices())
                    if (ch.inGroup() && ch.precision() == precision && ch.layout() == want && c.fusedChoice(ch.format(), true) != null) root = ch;
            }
            org.tessel.search.Format rf = root.format();
            if (c.fusedChoice(rf, true) == null || onHost(c.fusedChoice(rf, true).tacticId())) { fused[c.index()] = false; continue; }
            cs[c.root()] = root;
            for (int m : c.members()) {
                if (cs[m].format().agrees(rf)) continue;
                Choice at = atFormat(p.node(m), rf);
                if (at != null) cs[m] = at;
            }
        }
        return new Result(new org.tessel.search.Assignment(cs, fused, true), priced, false, false,
                "rule: " + precision.text() + ", layout " + layout.text());
    }

    /**
     * A host tactic (the reference interpreter): the fixed rule fused only groups a GPU kernel runs, so a group only the
     * host can run (an attention group whose body the attention kernels do not take) stays unfused, its nodes on their
     * own GPU tactics.
     */
    static boolean onHost(String tacticId) {
        org.tessel.tactics.TacticCatalog cat = org.tessel.tactics.TacticCatalog.global();
        return cat.has(tacticId) && cat.byId(tacticId).backend() == org.tessel.tactics.Backend.CPU;
    }

    /** The node's preferred (else fastest) choice whose format agrees with {@code f} (an in-group one too; null: any format), or null. */
    private static Choice atFormat(SearchProblem.Node n, org.tessel.search.Format f) {
        Choice best = null;
        int rank = Integer.MAX_VALUE;
        for (Choice c : n.choices()) {
            if (!c.supported() || (f == null ? !c.standalone() : !c.format().agrees(f))) continue; // any format: alone, so no in-group choice
            int r = PREFERRED.indexOf(c.tacticId());
            if (r < 0) r = PREFERRED.size();
            if (best == null || r < rank || r == rank && c.latencyPs() < best.latencyPs()) { best = c; rank = r; }
        }
        return best;
    }

    /** The rule's layout where the node offers it; nodes the layout pass keeps channels-first (Reshape, Gemm...) offer only NCHW, and nodes without image tensors only ANY. */
    private static Layout layoutFor(SearchProblem.Node n, Layout rule) {
        boolean nchw = false, any = false;
        for (Choice c : n.choices()) {
            if (afterTheRule(n.op(), c)) continue;
            if (c.layout() == rule) return rule;
            nchw |= c.layout() == Layout.NCHW;
            any |= c.layout() == Layout.ANY;
        }
        return nchw ? Layout.NCHW : any ? Layout.ANY : rule;
    }

    /** FP16, else BF16, else TF32, else FP32: the fastest precision the options allow, as `--fp16` / `--tf32` picked it. */
    static Precision rulePrecision(SearchOptions o) {
        for (Precision p : List.of(Precision.FP16, Precision.BF16, Precision.TF32)) if (o.precisions().contains(p)) return p;
        return Precision.FP32;
    }

    /** NCHW for FP32/TF32 unless grouped convolutions (Tessel's NHWC depthwise kernel) are present; else the auto policy. */
    static Layout ruleLayout(Graph g, Precision p) {
        if (g == null) return Layout.NCHW;
        boolean reduced = p == Precision.FP16 || p == Precision.BF16;
        if (!reduced && !hasGroupedConv(g)) return Layout.NCHW;
        return AssignLayouts.auto(g);
    }

    static boolean hasGroupedConv(Graph g) {
        for (Node n : g.nodes()) {
            if (n.opName().equals("Conv") && n.attrs().getInt("group", 1) > 1) return true;
            if (n.body() != null && hasGroupedConv(n.body())) return true;
        }
        return false;
    }
}
