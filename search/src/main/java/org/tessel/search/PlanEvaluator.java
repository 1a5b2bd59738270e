package org.tessel.search;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.LiveTensor;
import org.tessel.search.domain.PrecisionPin;
import org.tessel.search.domain.Use;

/**
 * Scores a complete {@link Assignment} from scratch, rule by rule, exactly as the Timefold
 * constraint provider does incrementally (a test holds the two equal on random plans). The
 * baselines and the exact solver use it, and explanations are built from its terms.
 */
public final class PlanEvaluator {
    private final SearchProblem p;

    public PlanEvaluator(SearchProblem p) { this.p = p; }

    /** The score and its split by rule (hard rules in violations or KiB, soft ones in picoseconds). */
    public record Evaluation(HardSoftLongScore score, Map<String, Long> byRule) {
        public boolean feasible() { return score.hardScore() == 0; }

        /** Predicted latency in microseconds (minus the soft score). */
        public double latencyUs() { return -score.softScore() / 1e6; }
    }

    public HardSoftLongScore score(Assignment a) { return evaluate(a).score(); }

    public Evaluation evaluate(Assignment a) {
        Map<String, Long> by = new LinkedHashMap<>();
        for (String r : Rules.HARD) by.put(r, 0L);
        for (String r : Rules.SOFT) by.put(r, 0L);
        int n = p.size();
        boolean[] covered = new boolean[n];
        for (SearchProblem.Candidate c : p.candidates()) {
            if (!a.isFused(c.index())) continue;
            for (int m : c.members()) covered[m] = true;
            Format rf = a.format(c.root());
            FusedChoice fc = a.fusedChoice(c, rf);
            if (fc == null) by.merge(Rules.FUSED_GROUP_HAS_TACTIC, 1L, Long::sum);
            else by.merge(Rules.FUSED_GROUP_LATENCY, fc.latencyPs(), Long::sum);
            for (int k = 1; k < c.members().length; k++)
                if (!a.format(c.members()[k]).agrees(rf)) by.merge(Rules.FUSED_MEMBERS_SHARE_FORMAT, 1L, Long::sum);
            for (SearchProblem.Candidate o : p.candidates())
                if (o.index() > c.index() && a.isFused(o.index()) && c.overlaps(o)) by.merge(Rules.FUSED_NO_OVERLAP, 1L, Long::sum);
        }
        for (int i = 0; i < n; i++) {
            Choice c = a.choice(i);
            if (!c.supported() || c.node() != i) by.merge(Rules.TACTIC_SUPPORTS_CHOICE, 1L, Long::sum);
            if (c.inGroup() && !covered[i]) by.merge(Rules.IN_GROUP_CHOICE_FUSED, 1L, Long::sum);
            if (!covered[i]) by.merge(Rules.NODE_LATENCY, c.latencyPs(), Long::sum);
        }
        for (PrecisionPin pin : p.pins())
            if (!pin.allows(a.choice(pin.node()).precision())) by.merge(Rules.USER_PRECISION, 1L, Long::sum);
        for (Use u : p.uses()) {
            Format from = u.fromGraphInput() ? u.fixedSource() : a.format(u.producer());
            Format to = u.toGraphOutput() ? u.fixedTarget() : a.format(u.consumer());
            if (u.internal()) {
                by.merge(Rules.REFORMAT_ON_EDGE, u.reformatPs(from, to), Long::sum);
                by.merge(Rules.CAST_ON_EDGE, u.castPs(from, to), Long::sum);
            } else {
                by.merge(u.fromGraphInput() ? Rules.INPUT_CONVERSION : Rules.OUTPUT_CONVERSION, u.conversionPs(from, to), Long::sum);
            }
        }
        if (p.memoryBudget().isPresent()) {
            long[] perStep = stepBytes(a);
            long budget = p.memoryBudget().getAsLong();
            for (int s = 0; s < n; s++)
                by.merge(Rules.MEMORY_WITHIN_BUDGET, Rules.excessKiB(perStep[s] - budget), Long::sum);
        }
        if (p.accuracy() != null) by.put(Rules.ACCURACY_WITHIN_BUDGET, p.accuracy().excess(a));
        long hard = 0, soft = 0;
        for (String r : Rules.HARD) hard += by.get(r);
        for (String r : Rules.SOFT) soft += by.get(r);
        return new Evaluation(HardSoftLongScore.of(-hard, -soft), by);
    }

    /**
     * Bytes held while each node runs: live results at their producers' storage types, the graph
     * inputs alive then, and the node's workspace. Values inside fused groups are still counted,
     * so this is an upper bound when fusion is on.
     */
    public long[] stepBytes(Assignment a) {
        long[] perStep = new long[p.size()];
        for (int s = 0; s < p.size(); s++) perStep[s] = p.node(s).stepBaseBytes() + a.choice(s).workspaceBytes();
        for (LiveTensor t : p.liveTensors()) perStep[t.step()] += t.bytes(a.format(t.producer()));
        return perStep;
    }

    /** Peak of {@link #stepBytes}, for reports (0 for an empty graph). */
    public long peakBytes(Assignment a) {
        long peak = 0;
        for (long b : stepBytes(a)) peak = Math.max(peak, b);
        return peak;
    }
}
