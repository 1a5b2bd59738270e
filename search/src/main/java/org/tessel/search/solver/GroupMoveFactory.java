package org.tessel.search.solver;

import ai.timefold.solver.core.api.score.director.ScoreDirector;
import ai.timefold.solver.core.impl.heuristic.selector.move.factory.MoveIteratorFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.tessel.search.Format;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.NodeDecision;
import org.tessel.search.domain.Use;

/**
 * Generates the compound moves of the joint search:
 * <ul>
 * <li><b>group</b>: fuse or unfuse one candidate at a format, setting every member to its fastest
 * choice agreeing with that format and unfusing candidates it overlaps;</li>
 * <li><b>region</b>: move a connected region of nodes (mostly 1 to 8, at times up to all; whole fused groups included) to
 * one format, each at its fastest choice there, so a chain changes precision or layout without
 * paying a cast or reformat at every intermediate step.</li>
 * </ul>
 */
public final class GroupMoveFactory implements MoveIteratorFactory<EnginePlan, CompoundChangeMove> {
    private static final int MAX_REGION = 8;

    /** The working solution's structure, rebuilt when the solver's working solution changes. */
    private record Index(EnginePlan solution, NodeDecision[] nodes, List<List<Integer>> neighbours, List<List<FusionDecision>> fusionsOf) {}

    private Index index;

    private Index index(ScoreDirector<EnginePlan> sd) {
        EnginePlan s = sd.getWorkingSolution();
        if (index != null && index.solution() == s) return index;
        NodeDecision[] nodes = new NodeDecision[s.nodes().size()];
        for (NodeDecision d : s.nodes()) nodes[d.index()] = d;
        List<List<Integer>> nb = new ArrayList<>();
        List<List<FusionDecision>> fo = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++) { nb.add(new ArrayList<>()); fo.add(new ArrayList<>()); }
        for (Use u : s.uses())
            if (u.internal() && u.producer() != u.consumer()) { nb.get(u.producer()).add(u.consumer()); nb.get(u.consumer()).add(u.producer()); }
        for (FusionDecision f : s.fusions()) for (int m : f.members()) fo.get(m).add(f);
        index = new Index(s, nodes, nb, fo);
        return index;
    }

    @Override public long getSize(ScoreDirector<EnginePlan> sd) {
        EnginePlan s = sd.getWorkingSolution();
        return (long) s.nodes().size() * 8 + (long) s.fusions().size() * 8;
    }

    @Override public Iterator<CompoundChangeMove> createOriginalMoveIterator(ScoreDirector<EnginePlan> sd) {
        Index ix = index(sd);
        List<CompoundChangeMove> all = new ArrayList<>();
        for (FusionDecision f : ix.solution().fusions())
            for (Format fmt : f.fusedChoices().keySet())
                for (boolean fuse : new boolean[] {true, false}) {
                    CompoundChangeMove m = group(ix, f, fmt, fuse);
                    if (m != null) all.add(m);
                }
        return all.iterator();
    }

    @Override public Iterator<CompoundChangeMove> createRandomMoveIterator(ScoreDirector<EnginePlan> sd, Random random) {
        Index ix = index(sd);
        List<FusionDecision> fusions = ix.solution().fusions();
        return new Iterator<>() {
            @Override public boolean hasNext() { return true; }

            @Override public CompoundChangeMove next() {
                for (int attempt = 0; attempt < 64; attempt++) {
                    CompoundChangeMove m;
                    if (!fusions.isEmpty() && random.nextBoolean()) {
                        FusionDecision f = fusions.get(random.nextInt(fusions.size()));
                        List<Format> fmts = new ArrayList<>(f.fusedChoices().keySet());
                        NodeDecision root = ix.nodes()[f.root()];
                        // half the time keep the root's format: a pure fuse/unfuse
                        Format fmt = random.nextBoolean() && root.choice() != null ? root.format() : fmts.get(random.nextInt(fmts.size()));
                        m = group(ix, f, fmt, !f.isFused() || random.nextInt(4) == 0 ? !f.isFused() : true);
                    } else {
                        m = region(ix, random);
                    }
                    if (m != null) return m;
                }
                // nothing applicable found: a no-op the solver will skip as not doable
                return new CompoundChangeMove("none", List.of(), List.of(), List.of(), List.of());
            }
        };
    }

    /** Fuse (or unfuse) candidate f with its members at a format agreeing with fmt; null when a member cannot. */
    static CompoundChangeMove group(Index ix, FusionDecision f, Format fmt, boolean fuse) {
        List<NodeDecision> ns = new ArrayList<>();
        List<Choice> cs = new ArrayList<>();
        for (int m : f.members()) {
            NodeDecision d = ix.nodes()[m];
            // fused, a member may take an in-group choice (the group's tactic runs it); unfused, it needs its own tactic
            Choice c = fastestAgreeing(d, fmt, m == f.root(), fuse);
            if (c == null) return null;
            ns.add(d);
            cs.add(c);
        }
        List<FusionDecision> fs = new ArrayList<>(List.of(f));
        List<Boolean> vals = new ArrayList<>(List.of(fuse));
        if (fuse)
            for (int m : f.members())
                for (FusionDecision o : ix.fusionsOf().get(m))
                    if (o != f && o.isFused() && !fs.contains(o)) { fs.add(o); vals.add(false); }
        return new CompoundChangeMove(fuse ? "fuse" : "unfuse", ns, cs, fs, vals);
    }

    /** A connected region around a random node moved to one of that node's formats. */
    static CompoundChangeMove region(Index ix, Random random) {
        NodeDecision start = ix.nodes()[random.nextInt(ix.nodes().length)];
        List<Format> fmts = new ArrayList<>(new LinkedHashSet<>(start.getChoices().stream().map(Choice::format).toList()));
        Format fmt = fmts.get(random.nextInt(fmts.size()));
        // mostly small regions; now and then up to the whole graph (half of those times all of it), to leave a plateau where
        // every intermediate step would pay a cast or reformat: MobileNetV2-tiny's search stopped on an FP16 plan 5% above
        // the optimum, an all-FP32 one, at half its seeds when the whole-graph move was as rare as any other size
        int want = random.nextInt(16) > 0 ? 1 + random.nextInt(MAX_REGION) : random.nextBoolean() ? ix.nodes().length : 1 + random.nextInt(ix.nodes().length);
        Map<Integer, Choice> region = new LinkedHashMap<>();
        Set<Integer> seen = new LinkedHashSet<>();
        ArrayDeque<Integer> queue = new ArrayDeque<>(List.of(start.index()));
        while (!queue.isEmpty() && region.size() < want) {
            int i = queue.poll();
            if (!seen.add(i)) continue;
            // a node in a fused group moves with its whole group, or not at all
            List<Integer> unit = new ArrayList<>(List.of(i));
            for (FusionDecision f : ix.fusionsOf().get(i)) if (f.isFused()) for (int m : f.members()) if (!unit.contains(m)) unit.add(m);
            boolean grouped = unit.size() > 1;
            Map<Integer, Choice> picks = new LinkedHashMap<>();
            for (int m : unit) {
                Choice c = fastestAgreeing(ix.nodes()[m], fmt, false, grouped);
                if (c == null) { picks = null; break; }
                picks.put(m, c);
            }
            if (picks == null) continue;
            region.putAll(picks);
            List<Integer> next = new ArrayList<>(ix.neighbours().get(i));
            java.util.Collections.shuffle(next, random);
            queue.addAll(next);
        }
        if (region.isEmpty()) return null;
        List<NodeDecision> ns = new ArrayList<>();
        List<Choice> cs = new ArrayList<>();
        region.forEach((i, c) -> { ns.add(ix.nodes()[i]); cs.add(c); });
        return new CompoundChangeMove("region", ns, cs, List.of(), List.of());
    }

    /** The fastest choice of a node whose format agrees with fmt (equals it, when exact); in-group choices only when {@code inGroup}. */
    static Choice fastestAgreeing(NodeDecision d, Format fmt, boolean exact, boolean inGroup) {
        Choice best = null;
        for (Choice c : d.getChoices())
            if ((inGroup || !c.inGroup()) && (exact ? c.format().equals(fmt) : c.format().agrees(fmt)) && (best == null || c.latencyPs() < best.latencyPs())) best = c;
        return best;
    }
}
