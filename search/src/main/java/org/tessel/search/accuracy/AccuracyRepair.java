package org.tessel.search.accuracy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.tessel.cost.Precision;
import org.tessel.search.Assignment;
import org.tessel.search.Format;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.Rules;
import org.tessel.search.SearchProblem;
import org.tessel.search.domain.Choice;

/**
 * Brings a plan over its accuracy budget back within it by raising units (a fused group, or a node
 * outside any group) to FP32, cheapest first: units are ranked by the latency each adds per unit of
 * error it removes, raised in that order until the budget holds, and then every raise that the
 * budget no longer needs (a later, larger one covered it) is undone, last first. A group that cannot
 * run fused at FP32 is unfused, its members raised alone. A raise that would break another hard rule
 * is skipped. When raising every erring unit is faster than the partial repair (precision boundaries
 * cost casts and reformats), that plan is taken instead. How greedy, sequential, random and rule plans respect a budget, and the safety net
 * for a Timefold run that ends over it.
 */
public final class AccuracyRepair {
    private AccuracyRepair() {}

    /** The repaired plan and what was done ({@code raised} 0 and {@code note} null when nothing was needed). */
    public record Repaired(Assignment assignment, int raised, String note) {}

    /** A unit of the plan: its nodes and the fused candidate running them (-1: one node alone). */
    private record Unit(int[] nodes, int candidate) {}

    private record Raise(Unit unit, Assignment result, double psPerUnit) {}

    public static Repaired repair(SearchProblem p, Assignment a, String strategy) {
        AccuracyConstraint acc = p.accuracy();
        if (acc == null || acc.excess(a) == 0) return new Repaired(a, 0, null);
        PlanEvaluator ev = new PlanEvaluator(p);
        long hardBefore = otherHard(ev, a);
        long psBefore = latencyPs(ev, a);
        List<Raise> ranked = new ArrayList<>();
        for (Unit u : units(p, a)) {
            long units = 0;
            for (int m : u.nodes()) units += acc.units(m, a.choice(m).precision());
            if (units == 0) continue;
            Assignment r = raise(p, a, u);
            if (r == null || otherHard(ev, r) > hardBefore) continue;
            long removed = acc.errorUnits(a) - acc.errorUnits(r);
            if (removed <= 0) continue;
            ranked.add(new Raise(u, r, Math.max(0, latencyPs(ev, r) - psBefore) / (double) removed));
        }
        ranked.sort(Comparator.comparingDouble(Raise::psPerUnit));
        Assignment cur = a;
        List<Unit> applied = new ArrayList<>();
        for (Raise r : ranked) {
            if (acc.excess(cur) == 0) break;
            Assignment next = raise(p, cur, r.unit());
            if (next == null || otherHard(ev, next) > hardBefore) continue;
            cur = next;
            applied.add(r.unit());
        }
        if (acc.excess(cur) > 0)
            throw new UnreachableBudgetException(String.format(Locale.ROOT, "%s: accuracy budget %s cannot be met on '%s': with every unit it could raise at FP32 the plan is still %s",
                    strategy, acc.budget().text(), p.name(), acc.describe(cur)));
        // undo raises the budget no longer needs, last (dearest) first
        int undone = 0;
        for (int k = applied.size() - 1; k >= 0; k--) {
            Assignment back = restore(cur, a, applied.get(k));
            if (acc.excess(back) == 0 && otherHard(ev, back) <= hardBefore) {
                cur = back;
                undone++;
            }
        }
        int raised = applied.size() - undone;
        // raising some units can cost more than raising them all (casts and reformats at every precision boundary, groups
        // unfused): the plan with every erring unit at FP32 is the fallback whenever it is faster
        Assignment all = a;
        int allRaised = 0;
        for (Unit u : units(p, a)) {
            long units = 0;
            for (int m : u.nodes()) units += acc.units(m, a.choice(m).precision());
            if (units == 0) continue;
            Assignment next = raise(p, all, u);
            if (next == null || otherHard(ev, next) > hardBefore) continue;
            all = next;
            allRaised++;
        }
        if (acc.excess(all) == 0 && latencyPs(ev, all) < latencyPs(ev, cur)) {
            cur = all;
            raised = allRaised;
        }
        String note = String.format(Locale.ROOT, "accuracy budget %s: raised %d unit%s to fp32 (+%.4f us), %s", acc.budget().text(), raised, raised == 1 ? "" : "s",
                (latencyPs(ev, cur) - psBefore) / 1e6, acc.describe(cur));
        return new Repaired(cur, raised, note);
    }

    private static long latencyPs(PlanEvaluator ev, Assignment a) { return -ev.evaluate(a).score().softScore(); }

    /** Hard violations other than the accuracy budget's. */
    private static long otherHard(PlanEvaluator ev, Assignment a) {
        PlanEvaluator.Evaluation e = ev.evaluate(a);
        return -e.score().hardScore() - e.byRule().getOrDefault(Rules.ACCURACY_WITHIN_BUDGET, 0L);
    }

    private static List<Unit> units(SearchProblem p, Assignment a) {
        boolean[] covered = new boolean[p.size()];
        List<Unit> out = new ArrayList<>();
        for (SearchProblem.Candidate c : p.candidates()) {
            if (!a.isFused(c.index())) continue;
            out.add(new Unit(c.members(), c.index()));
            for (int m : c.members()) covered[m] = true;
        }
        for (int i = 0; i < p.size(); i++) if (!covered[i]) out.add(new Unit(new int[] {i}, -1));
        return out;
    }

    /** The plan with this unit at FP32: fused where its tactic runs FP32 at the root's layout, else its members alone; null when impossible. */
    private static Assignment raise(SearchProblem p, Assignment a, Unit u) {
        Choice[] cs = a.choices().clone();
        boolean[] fused = a.fused().clone();
        if (u.candidate() >= 0) {
            SearchProblem.Candidate c = p.candidates().get(u.candidate());
            Format root = new Format(Precision.FP32, a.format(c.root()).layout());
            if (c.fusedChoice(root) != null) {
                Choice[] trial = cs.clone();
                boolean all = true;
                for (int m : c.members()) {
                    Choice best = null;
                    for (Choice ch : p.node(m).searchChoices())
                        if (ch.supported() && ch.format().agrees(root) && (best == null || ch.latencyPs() < best.latencyPs())) best = ch;
                    if (best == null) { all = false; break; }
                    trial[m] = best;
                }
                if (all) return new Assignment(trial, fused);
            }
            fused[u.candidate()] = false;
        }
        for (int m : u.nodes()) {
            Choice keep = cs[m];
            Choice best = null;
            for (Choice ch : p.node(m).searchChoices()) {
                if (!ch.standalone() || ch.precision() != Precision.FP32) continue;
                boolean sameLayout = ch.layout() == keep.layout(), bestSame = best != null && best.layout() == keep.layout();
                if (best == null || (sameLayout && !bestSame) || (sameLayout == bestSame && ch.latencyPs() < best.latencyPs())) best = ch;
            }
            if (best == null) return null;
            cs[m] = best;
        }
        return new Assignment(cs, fused);
    }

    /** {@code cur} with this unit's nodes and candidate as they were in {@code original}. */
    private static Assignment restore(Assignment cur, Assignment original, Unit u) {
        Choice[] cs = cur.choices().clone();
        boolean[] fused = cur.fused().clone();
        for (int m : u.nodes()) cs[m] = original.choice(m);
        if (u.candidate() >= 0) fused[u.candidate()] = original.isFused(u.candidate());
        return new Assignment(cs, fused);
    }
}
