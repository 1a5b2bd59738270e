package org.tessel.search.baselines;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.tessel.search.Assignment;
import org.tessel.search.Format;
import org.tessel.search.SearchProblem;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.Use;

/**
 * What the baselines share: the fusion set the standard fuse pass would take (by kind priority,
 * skipping overlaps), the "units" a plan decides (a lone node or a fused group) and their cost at
 * a format given the formats already decided upstream.
 */
final class Units {
    /** The fuse pass's priority order. */
    static final List<String> KIND_PRIORITY = List.of("attention", "conv_bias_act", "gemm_bias_act", "eltwise");

    private final SearchProblem p;
    final boolean[] fused;
    /** For each node, the fused candidate it belongs to, or -1. */
    final int[] groupOf;

    Units(SearchProblem p, boolean[] fused) {
        this.p = p;
        this.fused = fused.clone();
        this.groupOf = new int[p.size()];
        java.util.Arrays.fill(groupOf, -1);
        for (SearchProblem.Candidate c : p.candidates())
            if (fused[c.index()]) for (int m : c.members()) groupOf[m] = c.index();
    }

    /** Fuse every candidate the fuse pass would: by kind priority, then graph order, no overlaps; no horizontal merge (the fuse pass makes none). */
    static boolean[] byPriority(SearchProblem p) {
        boolean[] f = new boolean[p.candidates().size()];
        List<SearchProblem.Candidate> taken = new ArrayList<>();
        for (String kind : KIND_PRIORITY)
            for (SearchProblem.Candidate c : p.candidates())
                if (c.kind().equals(kind) && taken.stream().noneMatch(c::overlaps)) {
                    taken.add(c);
                    f[c.index()] = true;
                }
        for (SearchProblem.Candidate c : p.candidates())
            if (!c.isMerge() && !KIND_PRIORITY.contains(c.kind()) && taken.stream().noneMatch(c::overlaps)) {
                taken.add(c);
                f[c.index()] = true;
            }
        return f;
    }

    /** The unit a node decides with: its fused group's index, or -1 when alone. */
    int group(int node) { return groupOf[node]; }

    boolean isRootOrAlone(int node) {
        int g = groupOf[node];
        return g < 0 || p.candidates().get(g).root() == node;
    }

    /**
     * The formats a unit can take: a lone node's standalone search formats, or the root formats (in-group ones
     * included) every member can agree with and a fused tactic runs at. A fused tactic on the host (the reference
     * interpreter) counts only when a member has no device tactic either: the fuse pass fuses what a kernel runs, so
     * a group only the host can run (a GEMM with a Sigmoid epilogue) is unfused and its nodes run on their own kernels.
     */
    List<Format> formats(int node) {
        int g = groupOf[node];
        Set<Format> fs = new LinkedHashSet<>();
        for (Choice c : g >= 0 ? p.node(node).searchChoices() : aloneChoices(node)) fs.add(c.format());
        if (g < 0) return new ArrayList<>(fs);
        SearchProblem.Candidate c = p.candidates().get(g);
        boolean onDevice = true;
        for (int m : c.members()) onDevice &= p.node(m).searchChoices().stream().anyMatch(x -> x.standalone() && !RuleSearch.onHost(x.tacticId()));
        List<Format> out = new ArrayList<>();
        for (Format f : fs) {
            if (c.fusedChoice(f) == null || onDevice && RuleSearch.onHost(c.fusedChoice(f).tacticId())) continue;
            boolean all = true;
            for (int m : c.members()) all &= agreeing(m, f) != null;
            if (all) out.add(f);
        }
        return out;
    }

    /**
     * The search choices a node outside any group can take: its standalone ones; for a node a precision pin
     * leaves only in-group choices, those (a plan then honours the pin only by fusing it, and says so when it cannot).
     */
    List<Choice> aloneChoices(int node) {
        List<Choice> cs = p.node(node).searchChoices().stream().filter(Choice::standalone).toList();
        return cs.isEmpty() ? p.node(node).searchChoices() : cs;
    }

    /** The fastest of {@link #aloneChoices} at format f, or null. */
    Choice aloneAt(int node, Format f) {
        Choice best = null;
        for (Choice c : aloneChoices(node)) if (c.format().equals(f) && (best == null || c.latencyPs() < best.latencyPs())) best = c;
        return best;
    }

    /** The fastest search choice of a group member whose format agrees with f (an in-group choice, too), or null. */
    Choice agreeing(int node, Format f) {
        Choice best = null;
        for (Choice c : p.node(node).searchChoices())
            if (c.format().agrees(f) && (best == null || c.latencyPs() < best.latencyPs())) best = c;
        return best;
    }

    /**
     * Cost of a unit at format f, or Long.MAX_VALUE when it cannot take it: the node's fastest
     * choice (or the group's fused tactic) plus conversions on uses from decided producers, from
     * graph inputs and to graph outputs. {@code decided[i]} is null for nodes not decided yet.
     */
    long cost(int node, Format f, Choice[] decided) {
        int g = groupOf[node];
        long cost;
        int[] members;
        if (g < 0) {
            Choice c = aloneAt(node, f);
            if (c == null) return Long.MAX_VALUE;
            cost = c.latencyPs();
            members = new int[] {node};
        } else {
            SearchProblem.Candidate cand = p.candidates().get(g);
            FusedChoice fc = cand.fusedChoice(f);
            if (fc == null) return Long.MAX_VALUE;
            cost = fc.latencyPs();
            members = cand.members();
            for (int m : members) if (agreeing(m, f) == null) return Long.MAX_VALUE;
        }
        for (int m : members) {
            Format mf = g < 0 ? f : agreeing(m, f).format();
            for (Use u : p.usesIn(m)) {
                if (u.fromGraphInput()) cost += u.conversionPs(u.fixedSource(), mf);
                else if (groupOf[u.producer()] != g || g < 0) {
                    Choice pc = decided[u.producer()];
                    if (pc != null) cost += u.conversionPs(pc.format(), mf);
                }
            }
            for (Use u : p.usesOut(m)) if (u.toGraphOutput()) cost += u.conversionPs(mf, u.fixedTarget());
        }
        return cost;
    }

    /** Sets the unit's choices at format f: the node's fastest, or every member's fastest agreeing one. */
    void assign(int node, Format f, Choice[] decided) {
        int g = groupOf[node];
        if (g < 0) decided[node] = aloneAt(node, f);
        else for (int m : p.candidates().get(g).members()) decided[m] = agreeing(m, f);
    }

    /** Drops a group whose members cannot agree on any format the fused tactic runs at. */
    void unfuse(int g) {
        fused[g] = false;
        for (int m : p.candidates().get(g).members()) groupOf[m] = -1;
    }

    Assignment assignment(Choice[] decided) { return new Assignment(decided, fused); }
}
