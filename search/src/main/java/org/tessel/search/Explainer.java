package org.tessel.search;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import ai.timefold.solver.core.api.score.stream.ConstraintJustification;
import ai.timefold.solver.core.api.solver.SolutionManager;
import ai.timefold.solver.core.api.solver.SolverFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.Use;
import org.tessel.search.solver.ScoreTerm;
import org.tessel.search.solver.TimefoldSearch;

/**
 * Why each node got its choice: the chosen tactic, precision and layout against the runner-up
 * (the best other choice with everything else fixed), the score delta split into terms (the
 * node's latency with its compute, memory and launch parts, conversions on its inputs and
 * outputs). A fused group is explained at its root against running its members unfused.
 * {@link #justifications} gives Timefold's own constraint matches per node for the same plan.
 */
public final class Explainer {
    private final SearchProblem p;

    public Explainer(SearchProblem p) { this.p = p; }

    /** One node's explanation; {@code terms} are runner-up minus chosen, in picoseconds (positive: the runner-up costs more). */
    public record NodeExplanation(int node, String name, String op, String chosen, String runnerUp, long deltaPs, Map<String, Long> terms) {
        public String render() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "%-28s %-18s %s", name, op, chosen));
            if (runnerUp != null) {
                sb.append(String.format(Locale.ROOT, "%n%-28s %-18s runner-up %s: %+.3f us", "", "", runnerUp, deltaPs / 1e6));
                List<String> parts = new ArrayList<>();
                terms.forEach((k, v) -> { if (v != 0) parts.add(String.format(Locale.ROOT, "%s %+.3f", k, v / 1e6)); });
                if (!parts.isEmpty()) sb.append(" (").append(String.join(", ", parts)).append(")");
            }
            return sb.toString();
        }
    }

    public List<NodeExplanation> explain(Assignment a) {
        List<NodeExplanation> out = new ArrayList<>();
        int[] groupOf = new int[p.size()];
        java.util.Arrays.fill(groupOf, -1);
        for (SearchProblem.Candidate c : p.candidates()) if (a.isFused(c.index())) for (int m : c.members()) groupOf[m] = c.index();
        for (int i = 0; i < p.size(); i++) {
            SearchProblem.Node n = p.node(i);
            int g = groupOf[i];
            if (g >= 0) {
                SearchProblem.Candidate c = p.candidates().get(g);
                if (c.root() != i) {
                    out.add(new NodeExplanation(i, n.name(), n.op(), "fused into " + c.kind() + " at " + p.node(c.root()).name() + " (" + a.format(i) + ")", null, 0, Map.of()));
                    continue;
                }
                FusedChoice fc = a.fusedChoice(c, a.format(i));
                long alone = 0;
                for (int m : c.members()) alone += a.choice(m).latencyPs();
                long fusedPs = fc == null ? 0 : fc.latencyPs();
                Map<String, Long> terms = new LinkedHashMap<>();
                terms.put("latency", alone - fusedPs);
                out.add(new NodeExplanation(i, n.name(), n.op(),
                        c.kind() + " group of " + c.members().length + " fused by " + (fc == null ? "?" : fc.tacticId() + " " + fc.format() + String.format(Locale.ROOT, " %.3fus", fc.latencyUs())),
                        "the same " + c.members().length + " nodes unfused", alone - fusedPs, terms));
                continue;
            }
            Choice chosen = a.choice(i);
            Map<String, Long> mine = terms(a, i, chosen);
            long mineTotal = total(mine);
            Choice runner = null;
            Map<String, Long> runnerTerms = null;
            long runnerTotal = Long.MAX_VALUE;
            for (Choice c : n.searchChoices()) {
                if (c.equals(chosen) || c.inGroup()) continue; // an in-group choice is no alternative for a node outside a group
                Map<String, Long> t = terms(a, i, c);
                long tt = total(t);
                if (tt < runnerTotal) { runnerTotal = tt; runner = c; runnerTerms = t; }
            }
            if (runner == null) {
                out.add(new NodeExplanation(i, n.name(), n.op(), chosen.toString(), null, 0, Map.of()));
                continue;
            }
            Map<String, Long> delta = new LinkedHashMap<>();
            for (String k : mine.keySet()) delta.put(k, runnerTerms.get(k) - mine.get(k));
            delta.put("compute", Costing.ps(runner.computeUs()) - Costing.ps(chosen.computeUs()));
            delta.put("memory", Costing.ps(runner.memoryUs()) - Costing.ps(chosen.memoryUs()));
            delta.put("launch", Costing.ps(runner.launchUs()) - Costing.ps(chosen.launchUs()));
            out.add(new NodeExplanation(i, n.name(), n.op(), chosen.toString(), runner.toString(), runnerTotal - mineTotal, delta));
        }
        return out;
    }

    /** The score terms node i would pay with choice c, everything else as in a (latency and conversions on its uses). */
    Map<String, Long> terms(Assignment a, int i, Choice c) {
        Map<String, Long> t = new LinkedHashMap<>();
        t.put("latency", c.latencyPs());
        t.put("reformat in", 0L);
        t.put("cast in", 0L);
        t.put("reformat out", 0L);
        t.put("cast out", 0L);
        t.put("boundary", 0L);
        Format f = c.format();
        for (Use u : p.usesIn(i)) {
            if (u.fromGraphInput()) t.merge("boundary", u.conversionPs(u.fixedSource(), f), Long::sum);
            else if (u.producer() != i) {
                Format from = a.format(u.producer());
                t.merge("reformat in", u.reformatPs(from, f), Long::sum);
                t.merge("cast in", u.castPs(from, f), Long::sum);
            }
        }
        for (Use u : p.usesOut(i)) {
            if (u.toGraphOutput()) t.merge("boundary", u.conversionPs(f, u.fixedTarget()), Long::sum);
            else if (u.consumer() != i) {
                Format to = a.format(u.consumer());
                t.merge("reformat out", u.reformatPs(f, to), Long::sum);
                t.merge("cast out", u.castPs(f, to), Long::sum);
            }
        }
        return t;
    }

    private static long total(Map<String, Long> t) {
        long s = 0;
        for (long v : t.values()) s += v;
        return s;
    }

    /**
     * Timefold's constraint matches for the plan, grouped by the node each is charged to:
     * rule name and detail with the amount (picoseconds for soft rules).
     */
    public Map<String, List<String>> justifications(Assignment a) {
        EnginePlan s = p.solution(a);
        SolutionManager<EnginePlan, HardSoftLongScore> sm = SolutionManager.create(SolverFactory.create(TimefoldSearch.config(SearchOptions.defaults())));
        var explanation = sm.explain(s);
        Map<String, List<String>> byNode = new LinkedHashMap<>();
        for (var e : explanation.getConstraintMatchTotalMap().values())
            for (var m : e.getConstraintMatchSet()) {
                ConstraintJustification j = m.getJustification();
                if (j instanceof ScoreTerm t)
                    byNode.computeIfAbsent(t.node(), k -> new ArrayList<>()).add(e.getConstraintRef().constraintName() + ": " + t.detail() + " = " + t.amount());
            }
        return byNode;
    }
}
