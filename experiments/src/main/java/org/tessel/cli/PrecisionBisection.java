package org.tessel.cli;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.EnginePlans;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Which layers of a reduced-precision plan must compute in FP32 for the outputs to stay within
 * tolerance of the reference interpreter (Polygraphy's {@code debug precision}): the rule plan at
 * the precision gives the layers; a candidate set of FP32 layers is checked by building the plan
 * with those layers switched to FP32 (casts re-derived by {@link PlanApplier}), running it on the
 * CPU backend, which emulates the precisions, and comparing every output. The search bisects the
 * smallest prefix and the smallest suffix of the layers (in schedule order) that pass, keeps the
 * smaller, then drops every layer whose removal still passes, so the result is 1-minimal: each
 * layer in it is needed. It assumes, as Polygraphy's bisection does, that more FP32 layers do not
 * make the error larger.
 */
final class PrecisionBisection {
    private final CompareCommand cmd;
    private final Graph source;
    private final Map<String, Boolean> checked = new HashMap<>();
    private final Map<String, Compare.Stats> lastStats = new HashMap<>();
    private int builds;

    PrecisionBisection(CompareCommand cmd, Graph source) {
        this.cmd = cmd;
        this.source = source;
    }

    private Precision low;
    private PlannedEngines.Searched searched;
    private EnginePlan decisions;
    private Map<String, Node> planned;
    private List<Tensor> inputs;
    private List<Tensor> golden;

    int run() throws Exception {
        low = switch (cmd.bisectPrecision().toLowerCase(Locale.ROOT)) {
            case "fp16" -> Precision.FP16;
            case "bf16" -> Precision.BF16;
            case "tf32" -> Precision.TF32;
            default -> throw new IllegalArgumentException("--bisect-precision '" + cmd.bisectPrecision() + "': give the reduced precision to bisect, fp16, bf16 or tf32");
        };
        inputs = cmd.inputFiles() == null ? OptimizeCommand.randomInputs(source) : TensorFiles.inputs(cmd.inputFiles(), source.inputs(), "--inputs");
        golden = Progress.around("running the reference interpreter", () -> new ReferenceInterpreter().run(source, inputs));
        searched = Progress.around("planning " + low.text(), () -> PlannedEngines.search(source, "rule", EnumSet.of(Precision.FP32, low), List.of(), 0, "h200-measured"));
        decisions = EnginePlans.decisions(searched.problem(), searched.plan());
        PlanApplier.Applied base = PlanApplier.apply(searched.prepared(), decisions);
        planned = new HashMap<>();
        for (Node n : base.graph().nodes()) planned.put(n.name(), n);
        List<String> layers = new ArrayList<>();
        for (PlannedNode p : decisions.nodes()) if (p.precision() == low) layers.add(p.node());
        int n = layers.size();
        System.out.printf(Locale.ROOT, "bisecting %s on %s: %d layers, %d of them at %s in the rule plan; tolerance rtol %s, atol %s%n", low.text(), cmd.modelName(),
                decisions.nodes().size(), n, low.text(), CompareCommand.num(cmd.rtol()), CompareCommand.num(cmd.atol()));
        List<String> result;
        try (Progress bar = Progress.start("bisecting " + low.text(), 2L * Math.max(1, ceilLog2(n)) + 2 + n)) {
            this.bar = bar;
            boolean none = passes(Set.of());
            report("all " + low.text(), Set.of());
            if (none) {
                System.out.println("no layer needs fp32: the " + low.text() + " plan is within tolerance");
                System.out.println("PASS");
                return writePlan(Set.of());
            }
            if (!passes(new LinkedHashSet<>(layers))) {
                report("every layer fp32", new LinkedHashSet<>(layers));
                System.out.println("FAIL: even with every layer in fp32 the engine is outside the tolerance; loosen --rtol/--atol");
                return 1;
            }
            List<String> prefix = layers.subList(0, smallest(layers, true));
            List<String> suffix = layers.subList(n - smallest(layers, false), n);
            List<String> keep = new ArrayList<>(suffix.size() < prefix.size() ? suffix : prefix);
            bar.extra("minimizing " + keep.size() + " layers");
            for (String l : new ArrayList<>(keep)) {
                List<String> without = new ArrayList<>(keep);
                without.remove(l);
                if (passes(new LinkedHashSet<>(without))) keep = without;
            }
            result = keep;
        }
        Set<String> set = new LinkedHashSet<>(result);
        System.out.printf(Locale.ROOT, "layers that must stay fp32 (%d of %d, found with %d engine builds):%n", set.size(), n, builds);
        List<String> members = new ArrayList<>();
        for (String l : set) {
            FusedGroup g = decisions.group(l);
            Node node = planned.get(l);
            System.out.printf(Locale.ROOT, "  %s (%s)%s%n", l, node == null ? "?" : node.opName().equals("tessel.Fused") ? "fused " + (g == null ? "" : g.kind()) : node.opName(),
                    g == null ? "" : ": " + String.join(", ", g.members()));
            if (g == null) members.add(l);
            else members.addAll(g.members());
        }
        report("with them in fp32", set);
        StringBuilder rules = new StringBuilder();
        for (String m : members) rules.append(" --precision '").append(m).append("=fp32'");
        System.out.println("search with them pinned: tessel build " + cmd.modelName() + " --save-engine E --strategy joint --" + low.text() + rules);
        int rc = writePlan(set);
        System.out.println("PASS");
        return rc;
    }

    private Progress bar;

    private static int ceilLog2(int n) { return n <= 1 ? 1 : 32 - Integer.numberOfLeadingZeros(n - 1); }

    /** The length of the smallest prefix (or suffix) of {@code layers} that passes in FP32; the whole list passes. */
    private int smallest(List<String> layers, boolean prefix) {
        int lo = 0, hi = layers.size(); // lo fails (checked: the empty set), hi passes
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            List<String> part = prefix ? layers.subList(0, mid) : layers.subList(layers.size() - mid, layers.size());
            if (passes(new LinkedHashSet<>(part))) hi = mid;
            else lo = mid;
        }
        return hi;
    }

    /** The plan with {@code fp32} layers switched to FP32 (their tactic where it runs FP32, else one that does), applied. */
    private PlanApplier.Applied applied(Set<String> fp32) {
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode p : decisions.nodes()) {
            if (!fp32.contains(p.node())) { ns.add(p); continue; }
            Node node = planned.get(p.node());
            List<Tactic> ok = node == null ? List.of() : TacticCatalog.global().supported(node, Precision.FP32, p.layout());
            String tactic = ok.stream().anyMatch(t -> t.id().equals(p.tacticId())) ? p.tacticId()
                    : ok.stream().filter(t -> t.backend() == org.tessel.tactics.Backend.GPU).map(Tactic::id).findFirst().orElse(Engine.CPU_REFERENCE);
            ns.add(new PlannedNode(p.node(), p.op(), tactic, tactic.equals(p.tacticId()) ? p.variant() : "", Precision.FP32, p.layout(), p.stream(), Double.NaN));
        }
        return PlanApplier.apply(searched.prepared(), decisions.withNodes(ns).withStrategy("bisect-" + low.text()));
    }

    /** Builds and runs the plan with these layers in FP32; true when every output is within tolerance. */
    private boolean passes(Set<String> fp32) {
        String key = new TreeSet<>(fp32).toString();
        Boolean known = checked.get(key);
        if (known != null) return known;
        PlanApplier.Applied a = applied(fp32);
        List<Tensor> out = Engine.buildCpu(a.graph(), a.plan()).createContext().run(inputs);
        builds++;
        if (bar != null) bar.step();
        boolean ok = true;
        for (int i = 0; i < out.size(); i++) {
            Compare.Stats s = Compare.stats(golden.get(i), out.get(i), cmd.rtol(), cmd.atol());
            lastStats.put(key + "\u0000" + i, s);
            ok &= s.pass();
        }
        checked.put(key, ok);
        return ok;
    }

    private void report(String what, Set<String> fp32) {
        String key = new TreeSet<>(fp32).toString();
        passes(fp32);
        for (int i = 0; i < golden.size(); i++) {
            Compare.Stats s = lastStats.get(key + "\u0000" + i);
            System.out.printf(Locale.ROOT, "  %-20s output %%%s: max_abs %s rel_l2 %s cosine %.6f %s%n", what + ":", source.outputs().get(i).name(),
                    CompareCommand.num(s.maxAbs()), CompareCommand.num(s.relL2()), s.cosine(), s.pass() ? "PASS" : "FAIL (" + s.outside() + " of " + s.size() + " outside)");
        }
    }

    private int writePlan(Set<String> fp32) throws java.io.IOException {
        if (cmd.planOut() == null) return 0;
        EnginePlan plan = applied(fp32).plan();
        if (cmd.planOut().getParent() != null) Files.createDirectories(cmd.planOut().getParent());
        Files.writeString(cmd.planOut(), EnginePlanJson.write(plan));
        System.out.println("plan: " + cmd.planOut() + " (build it with: tessel build " + cmd.modelName() + " --save-engine E --plan " + cmd.planOut() + " --cpu)");
        return 0;
    }
}
