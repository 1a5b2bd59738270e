package org.tessel.search.baselines;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import org.tessel.search.Assignment;
import org.tessel.search.Format;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.domain.Choice;

/**
 * Random search: draws plans (a random non-overlapping fusion set, a random feasible format per
 * unit and a random tactic at it), scores each with the evaluator and keeps the best. The
 * sample count, not the clock, ends it, so a seed fixes the answer.
 */
public final class RandomSearch implements SearchStrategy {
    @Override public String name() { return "random"; }

    @Override public String summary() { return "best of N random feasible plans (N = random-samples)"; }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        SplittableRandom r = new SplittableRandom(o.seed());
        PlanEvaluator ev = new PlanEvaluator(p);
        long deadline = System.nanoTime() + o.timeLimit().toNanos();
        Assignment best = null;
        HardSoftLongScore bestScore = null;
        int drawn = 0;
        boolean timedOut = false;
        for (; drawn < o.randomSamples(); drawn++) {
            if (System.nanoTime() > deadline) { timedOut = true; break; }
            Assignment a = draw(p, r);
            HardSoftLongScore s = ev.score(a);
            if (bestScore == null || s.compareTo(bestScore) > 0) { best = a; bestScore = s; }
        }
        if (best == null) best = draw(p, r);
        return new Result(best, drawn, false, timedOut, null);
    }

    static Assignment draw(SearchProblem p, SplittableRandom r) {
        boolean[] fused = new boolean[p.candidates().size()];
        List<SearchProblem.Candidate> order = new ArrayList<>(p.candidates());
        for (int i = order.size() - 1; i > 0; i--) java.util.Collections.swap(order, i, r.nextInt(i + 1));
        List<SearchProblem.Candidate> taken = new ArrayList<>();
        for (SearchProblem.Candidate c : order)
            if (r.nextBoolean() && taken.stream().noneMatch(c::overlaps)) { taken.add(c); fused[c.index()] = true; }
        Units u = new Units(p, fused);
        Choice[] cs = new Choice[p.size()];
        for (int i = 0; i < p.size(); i++) {
            if (cs[i] != null || !u.isRootOrAlone(i)) continue;
            List<Format> fs = u.formats(i);
            if (fs.isEmpty()) { u.unfuse(u.group(i)); fs = u.formats(i); }
            Format f = fs.get(r.nextInt(fs.size()));
            if (u.group(i) >= 0) u.assign(i, f, cs);
            else {
                List<Choice> at = u.aloneChoices(i).stream().filter(c -> c.format().equals(f)).toList();
                cs[i] = at.get(r.nextInt(at.size()));
            }
        }
        return u.assignment(cs);
    }
}
