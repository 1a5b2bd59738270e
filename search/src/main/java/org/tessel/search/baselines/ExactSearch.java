package org.tessel.search.baselines;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.search.Assignment;
import org.tessel.search.Format;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.accuracy.AccuracyConstraint;
import org.tessel.search.accuracy.UnreachableBudgetException;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.Use;

/**
 * The exact solver: dynamic programming by variable elimination (min-sum bucket elimination)
 * over the graph. Each node's state is a format plus the fusion candidate it runs in (or none);
 * node costs are unary factors, conversions on uses pairwise ones, and fusion consistency
 * (members in a fused group with the root, sharing its format) pairwise hard factors. The cost is
 * exponential only in the induced width, so chains, residual networks and the tiny zoo models
 * solve exactly; a graph whose elimination needs a table over {@link #MAX_TABLE} entries is
 * refused with its width. A memory budget is not a sum of local terms: the unconstrained optimum
 * is returned when it fits the budget (then it is optimal), otherwise the solver refuses. An accuracy
 * budget is met by Lagrangian relaxation ({@link #lagrangian}).
 */
public final class ExactSearch implements SearchStrategy {
    /** The largest intermediate table the elimination may build (entries of 8 bytes). */
    public static final long MAX_TABLE = 20_000_000L;
    private static final long INF = Long.MAX_VALUE / 4;

    @Override public String name() { return "exact"; }

    @Override public String summary() { return "proven optimum by dynamic programming over the graph (variable elimination); small-width graphs only"; }

    /** A node's state: a format and the candidate it is fused in (-1: alone), with its own choice. */
    record State(Format format, int group, Choice choice, long unary) {}

    private record Factor(int[] vars, long[] table) {}

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        AccuracyConstraint acc = p.accuracy();
        Solved free = solveWeighted(p, 0);
        if (acc == null || acc.errorUnits(free.assignment()) <= acc.budgetUnits()) return new Result(checked(p, free.assignment()), free.work(), true, false, null);
        return lagrangian(p, acc, free);
    }

    private record Solved(Assignment assignment, long work) {}

    /**
     * Under an accuracy budget the error sum couples every node, which the elimination cannot carry as a
     * factor; so the budget is relaxed into the objective (Lagrangian relaxation): minimize latency +
     * lambda * error, with lambda bisected (in log space) to the smallest that keeps the budget. Each
     * solve's plan is optimal for its lambda; a feasible one is kept when it is the fastest feasible so
     * far, and every solve gives the dual bound latency + lambda * (error - budget) on the constrained
     * optimum. The plan is proven optimal only when the bound meets it; otherwise the gap is the
     * relaxation's (optima inside the convex hull of the latency/error trade-off are out of its reach).
     * So every solve that ended over the budget is also repaired ({@link org.tessel.search.accuracy.AccuracyRepair}:
     * units raised to FP32, cheapest per unit of error first) and kept when faster than the best solve
     * within it: with few nodes of large error (INT8) the multipliers jump past the plans between.
     */
    private Result lagrangian(SearchProblem p, AccuracyConstraint acc, Solved free) {
        PlanEvaluator ev = new PlanEvaluator(p);
        long work = free.work();
        int solves = 1;
        double lo = 0, hi = 1;
        Assignment best = null;
        long bestPs = Long.MAX_VALUE;
        double bound = latencyPs(ev, free.assignment()); // lambda = 0: the unconstrained optimum
        List<Assignment> over = new ArrayList<>(List.of(free.assignment())); // solves over the budget: repaired at the end
        Solved s;
        while (true) {
            s = solveWeighted(p, hi);
            work += s.work();
            solves++;
            long units = acc.errorUnits(s.assignment());
            bound = Math.max(bound, latencyPs(ev, s.assignment()) + hi * (units - acc.budgetUnits()));
            if (units <= acc.budgetUnits()) break;
            over.add(s.assignment());
            lo = hi;
            if (hi >= MAX_LAMBDA)
                throw new UnreachableBudgetException(String.format(java.util.Locale.ROOT, "exact: accuracy budget %s cannot be met on '%s': the plan of least predicted error still has %.3g (allowed %s)",
                        acc.budget().text(), p.name(), units * AccuracyConstraint.UNIT, acc.budget().allowedError()));
            hi *= 8;
        }
        best = s.assignment();
        bestPs = latencyPs(ev, best);
        for (int k = 0; k < BISECTIONS && hi / Math.max(lo, 1e-9) > 1.01; k++) {
            double mid = lo == 0 ? hi / 8 : Math.sqrt(lo * hi);
            s = solveWeighted(p, mid);
            work += s.work();
            solves++;
            long units = acc.errorUnits(s.assignment());
            long ps = latencyPs(ev, s.assignment());
            bound = Math.max(bound, ps + mid * (units - acc.budgetUnits()));
            if (units <= acc.budgetUnits()) {
                hi = mid;
                if (ps < bestPs) { best = s.assignment(); bestPs = ps; }
            } else {
                lo = mid;
                over.add(s.assignment());
            }
        }
        // plans inside the convex hull of the trade-off are out of the multipliers' reach; a solve just over the budget,
        // repaired (units raised to FP32, cheapest first), often reaches one (few nodes with large errors: INT8)
        int repairedBetter = 0;
        for (Assignment a : over) {
            Assignment r;
            try {
                r = org.tessel.search.accuracy.AccuracyRepair.repair(p, a, "exact").assignment();
            } catch (org.tessel.search.accuracy.UnreachableBudgetException e) {
                continue;
            }
            if (acc.errorUnits(r) > acc.budgetUnits() || !ev.evaluate(r).feasible()) continue;
            long ps = latencyPs(ev, r);
            if (ps < bestPs) { best = r; bestPs = ps; repairedBetter++; }
        }
        checked(p, best);
        double gapPct = bound > 0 ? (bestPs - bound) / bound * 100 : 0;
        boolean optimal = bestPs <= Math.ceil(bound);
        String note = String.format(java.util.Locale.ROOT, "accuracy budget %s by Lagrangian relaxation: lambda %.4g ps per 1e-6 of error, %d solves; %s; dual bound %.4f us (relaxation gap %.2f%%)",
                acc.budget().text(), hi, solves, acc.describe(best), Math.max(0, bound) / 1e6, Math.max(0, gapPct))
                + (repairedBetter > 0 ? "; the plan is an over-budget solve repaired (units raised to fp32), faster than every solve within the budget" : "");
        return new Result(best, work, optimal, false, note);
    }

    /** Largest lambda (ps of latency per unit of error) tried: past it, error outweighs any latency of a real graph. */
    private static final double MAX_LAMBDA = 1e13;
    /** Bisection steps on lambda once a feasible one is known. */
    private static final int BISECTIONS = 14;
    /** The most one node's weighted error may add to the objective, so sums stay below INF. */
    private static final long PENALTY_CAP = 1_000_000_000_000_000L;

    private static long latencyPs(PlanEvaluator ev, Assignment a) { return -ev.evaluate(a).score().softScore(); }

    /** The optimum of latency + lambda * error units (lambda 0: latency alone). */
    private Solved solveWeighted(SearchProblem p, double lambda) {
        int n = p.size();
        AccuracyConstraint acc = p.accuracy();
        List<List<State>> states = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<State> ss = states(p, i);
            if (acc != null) {
                int node = i;
                List<State> measured = ss.stream().filter(st -> acc.units(node, st.format().precision()) < AccuracyConstraint.UNMEASURED).toList();
                if (!measured.isEmpty()) ss = measured;
            }
            states.add(ss);
        }
        List<Factor> factors = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] t = new long[states.get(i).size()];
            for (int s = 0; s < t.length; s++) {
                State st = states.get(i).get(s);
                long penalty = acc == null || lambda == 0 ? 0 : (long) Math.min(PENALTY_CAP, Math.ceil(lambda * acc.units(i, st.format().precision())));
                t[s] = st.unary() + penalty;
            }
            factors.add(new Factor(new int[] {i}, t));
        }
        for (Use u : p.uses()) {
            if (u.internal()) {
                if (u.producer() == u.consumer()) continue;
                factors.add(pairwise(states, u.producer(), u.consumer(), (a, b) -> u.conversionPs(a.format(), b.format())));
            } else {
                int v = u.fromGraphInput() ? u.consumer() : u.producer();
                long[] t = new long[states.get(v).size()];
                for (int s = 0; s < t.length; s++)
                    t[s] = u.fromGraphInput() ? u.conversionPs(u.fixedSource(), states.get(v).get(s).format()) : u.conversionPs(states.get(v).get(s).format(), u.fixedTarget());
                factors.add(new Factor(new int[] {v}, t));
            }
        }
        for (SearchProblem.Candidate c : p.candidates()) {
            int root = c.root(), ci = c.index();
            for (int k = 1; k < c.members().length; k++)
                factors.add(pairwise(states, root, c.members()[k], (a, b) -> {
                    boolean ra = a.group() == ci, mb = b.group() == ci;
                    if (ra != mb) return INF;
                    return ra && !b.format().agrees(a.format()) ? INF : 0;
                }));
        }
        long[] work = {0};
        int[] best = eliminate(n, states, factors, work);
        Choice[] cs = new Choice[n];
        boolean[] fused = new boolean[p.candidates().size()];
        for (int i = 0; i < n; i++) {
            State s = states.get(i).get(best[i]);
            cs[i] = s.choice();
            if (s.group() >= 0 && p.candidates().get(s.group()).root() == i) fused[s.group()] = true;
        }
        return new Solved(new Assignment(cs, fused), work[0]);
    }

    /** The plan, or a refusal when it breaks a hard rule the elimination cannot see (the memory budget). */
    private static Assignment checked(SearchProblem p, Assignment a) {
        PlanEvaluator ev = new PlanEvaluator(p);
        var e = ev.evaluate(a);
        if (!e.feasible()) {
            if (p.memoryBudget().isPresent() && e.byRule().get(org.tessel.search.Rules.MEMORY_WITHIN_BUDGET) > 0)
                throw new IllegalArgumentException("exact: the fastest plan of '" + p.name() + "' needs " + ev.peakBytes(a) + " bytes, over the memory budget of "
                        + p.memoryBudget().getAsLong() + "; the exact solver cannot search under a binding budget (use --strategy timefold)");
            throw new IllegalStateException("exact: no feasible plan for '" + p.name() + "' (" + e.byRule() + ")");
        }
        return a;
    }

    /**
     * States of a node: per format, alone (fastest choice; not at an in-group choice's format, which only a
     * fused group runs) and in each candidate holding it that can run at a format agreeing with it.
     */
    static List<State> states(SearchProblem p, int i) {
        Map<Format, Choice> fastest = new HashMap<>();
        for (Choice c : p.node(i).searchChoices()) fastest.merge(c.format(), c, (a, b) -> a.latencyPs() <= b.latencyPs() ? a : b);
        List<State> out = new ArrayList<>();
        Set<Format> formats = new LinkedHashSet<>();
        for (Choice c : p.node(i).searchChoices()) formats.add(c.format());
        for (Format f : formats) {
            Choice c = fastest.get(f);
            if (!c.inGroup()) out.add(new State(f, -1, c, c.latencyPs()));
            for (SearchProblem.Candidate cand : p.candidatesOf(i)) {
                if (cand.root() == i) {
                    FusedChoice fc = cand.fusedChoice(f);
                    if (fc != null) out.add(new State(f, cand.index(), c, fc.latencyPs()));
                } else {
                    out.add(new State(f, cand.index(), c, 0));
                }
            }
        }
        return out;
    }

    private interface PairCost { long cost(State a, State b); }

    private static Factor pairwise(List<List<State>> states, int a, int b, PairCost cost) {
        List<State> sa = states.get(a), sb = states.get(b);
        int lo = Math.min(a, b), hi = Math.max(a, b);
        List<State> sl = states.get(lo), sh = states.get(hi);
        long[] t = new long[sl.size() * sh.size()];
        for (int x = 0; x < sl.size(); x++)
            for (int y = 0; y < sh.size(); y++)
                t[x * sh.size() + y] = lo == a ? cost.cost(sl.get(x), sh.get(y)) : cost.cost(sh.get(y), sl.get(x));
        if (sa.isEmpty() || sb.isEmpty()) throw new IllegalStateException("empty state list");
        return new Factor(new int[] {lo, hi}, t);
    }

    /** Min-sum variable elimination in a min-degree order; returns the optimal state index per node. */
    static int[] eliminate(int n, List<List<State>> states, List<Factor> factors, long[] work) {
        int[] size = new int[n];
        for (int i = 0; i < n; i++) size[i] = states.get(i).size();
        List<Factor> live = new ArrayList<>(factors);
        boolean[] gone = new boolean[n];
        int[] order = new int[n];
        List<int[]> scopes = new ArrayList<>();
        List<int[]> argmins = new ArrayList<>();
        for (int step = 0; step < n; step++) {
            // neighbours of each remaining variable through live factors
            List<BitSet> nb = new ArrayList<>();
            for (int i = 0; i < n; i++) nb.add(new BitSet());
            for (Factor f : live) for (int v : f.vars()) for (int w : f.vars()) if (v != w) nb.get(v).set(w);
            int pick = -1;
            double pickCost = Double.MAX_VALUE;
            for (int v = 0; v < n; v++) {
                if (gone[v]) continue;
                double c = size[v];
                for (int w = nb.get(v).nextSetBit(0); w >= 0; w = nb.get(v).nextSetBit(w + 1)) c *= size[w];
                if (c < pickCost) { pickCost = c; pick = v; }
            }
            if (pickCost > MAX_TABLE)
                throw new IllegalArgumentException("exact: graph too wide for dynamic programming: eliminating node " + pick + " needs a table of "
                        + String.format(java.util.Locale.ROOT, "%.3g", pickCost) + " entries (limit " + MAX_TABLE + "); use --strategy timefold");
            int v = pick;
            List<Factor> bucket = new ArrayList<>();
            List<Factor> rest = new ArrayList<>();
            for (Factor f : live) (contains(f.vars(), v) ? bucket : rest).add(f);
            int[] scope = nb.get(v).stream().toArray();
            int[] all = new int[scope.length + 1];
            System.arraycopy(scope, 0, all, 0, scope.length);
            all[scope.length] = v;
            long outSize = 1;
            for (int w : scope) outSize *= size[w];
            long[] table = new long[(int) outSize];
            int[] arg = new int[(int) outSize];
            Arrays.fill(table, INF);
            // strides of each bucket factor over "all" (v is the fastest-moving digit)
            int[][] strides = new int[bucket.size()][all.length];
            for (int k = 0; k < bucket.size(); k++) {
                int[] fv = bucket.get(k).vars();
                int stride = 1;
                for (int j = fv.length - 1; j >= 0; j--) {
                    int pos = indexOf(all, fv[j]);
                    strides[k][pos] = stride;
                    stride *= size[fv[j]];
                }
            }
            int[] digit = new int[all.length];
            long[] idx = new long[bucket.size()];
            for (long outIdx = 0; outIdx < outSize; outIdx++) {
                for (int s = 0; s < size[v]; s++) {
                    long sum = 0;
                    for (int k = 0; k < bucket.size() && sum < INF; k++) sum += bucket.get(k).table()[(int) (idx[k] + (long) s * strides[k][all.length - 1])];
                    work[0]++;
                    if (sum < table[(int) outIdx]) { table[(int) outIdx] = Math.min(sum, INF); arg[(int) outIdx] = s; }
                }
                // advance the odometer over scope (last scope digit fastest)
                for (int j = scope.length - 1; j >= 0; j--) {
                    digit[j]++;
                    for (int k = 0; k < bucket.size(); k++) idx[k] += strides[k][j];
                    if (digit[j] < size[scope[j]]) break;
                    for (int k = 0; k < bucket.size(); k++) idx[k] -= (long) strides[k][j] * size[scope[j]];
                    digit[j] = 0;
                }
            }
            rest.add(new Factor(scope, table));
            live = rest;
            gone[v] = true;
            order[step] = v;
            scopes.add(scope);
            argmins.add(arg);
        }
        long total = 0;
        for (Factor f : live) total += f.table()[0];
        if (total >= INF) throw new IllegalStateException("exact: no consistent plan (every assignment breaks fusion consistency)");
        int[] best = new int[n];
        for (int step = n - 1; step >= 0; step--) {
            int[] scope = scopes.get(step);
            long outIdx = 0;
            for (int w : scope) outIdx = outIdx * size[w] + best[w];
            best[order[step]] = argmins.get(step)[(int) outIdx];
        }
        return best;
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }
}
