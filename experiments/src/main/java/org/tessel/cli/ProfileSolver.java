package org.tessel.cli;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.NodeView;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.OptimizationProfile.Point;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Solves one plan per optimization profile: the search runs at the profile's opt shapes, then the
 * plan is applied at min and max, and every planned tactic is asked (the catalogue's support check)
 * whether it can run its node there. A choice that fails at an extreme is excluded (a selector
 * removes exactly that node's tactic at that precision and layout) and the profile solved again, a
 * few times at most; what still fails is refused, naming the profile, the node, the shape and why.
 */
final class ProfileSolver {
    private ProfileSolver() {}

    /** Rounds of re-solving after excluding choices that fail at min or max. */
    static final int MAX_ROUNDS = 4;

    /** A plan for one profile, with the search's plan and the choices it had to give up. */
    record Solved(OptimizationProfile profile, EnginePlan plan, Plan search, List<String> replaced, String shapeDependence) {}

    /** A planned choice that cannot run its node at some shape of the profile. */
    record Failure(List<String> members, String tactic, String precision, String layout, String node, String shapes, String why) {
        String describe() { return "node '" + node + "': " + tactic + " " + precision + "/" + layout + " cannot run at " + shapes + ": " + why; }
    }

    static List<Solved> solve(ShapeSpecializer src, List<OptimizationProfile> profiles, String strategy, SearchOptions o) {
        List<Solved> out = new ArrayList<>();
        for (int k = 0; k < profiles.size(); k++) out.add(solve(src, profiles.get(k), k, strategy, o));
        return out;
    }

    private static Solved solve(ShapeSpecializer src, OptimizationProfile profile, int k, String strategy, SearchOptions o) {
        String where = "profile " + k;
        Graph prepared = src.prepareAt(profile.at(Point.OPT), Searcher.PIPELINE, where + " opt shapes");
        List<Failure> excluded = new ArrayList<>();
        List<Graph> extremes = new ArrayList<>();
        List<String> extremeNames = new ArrayList<>();
        for (Point p : List.of(Point.MIN, Point.MAX)) {
            if (profile.at(p).equals(profile.at(Point.OPT))) continue;
            extremes.add(src.prepareAt(profile.at(p), Searcher.PIPELINE, where + " " + p.name().toLowerCase(Locale.ROOT) + " shapes"));
            extremeNames.add(p.name().toLowerCase(Locale.ROOT) + " " + OptimizationProfile.text(profile.at(p)));
        }
        for (int round = 0; round < MAX_ROUNDS; round++) {
            SearchOptions so = o;
            if (!excluded.isEmpty()) {
                List<AlgorithmSelector> sel = new ArrayList<>(o.selectors());
                sel.add(new Exclusions(List.copyOf(excluded)));
                so = o.withSelectors(sel);
            }
            SearchProblem problem = Searcher.problem(prepared, so);
            Plan plan = Searcher.run(problem, strategy, so);
            EnginePlan ep = EnginePlans.complete(problem, plan).plan();
            List<Failure> failures = new ArrayList<>();
            for (int i = 0; i < extremes.size(); i++) {
                Graph planned;
                try {
                    planned = PlanApplier.apply(extremes.get(i), ep).graph();
                } catch (PlanException e) {
                    throw new IllegalArgumentException(where + ": the plan solved at opt does not apply at " + extremeNames.get(i) + ": " + e.getMessage()
                            + " (the graph's structure changes with the shape; make the profile narrower)", e);
                }
                failures.addAll(unsupported(ep, planned, extremeNames.get(i)));
            }
            if (failures.isEmpty()) {
                String dependence = null;
                for (int i = 0; i < extremes.size() && dependence == null; i++) {
                    String d = ShapeSpecializer.shapeDependence(prepared, extremes.get(i));
                    if (d != null) dependence = "at opt and at " + extremeNames.get(i) + ": " + d;
                }
                return new Solved(profile, ep, plan, excluded.stream().map(Failure::describe).toList(), dependence);
            }
            for (Failure f : failures) System.out.println(where + ": " + f.describe() + "; solving again without it");
            excluded.addAll(failures);
        }
        throw new IllegalArgumentException(where + ": after " + MAX_ROUNDS + " rounds the plan still has choices that cannot run over the whole range; "
                + excluded.getLast().describe() + "; make the profile narrower or --force another tactic for the node");
    }

    /** The planned nodes whose tactic cannot run at this (planned) graph's shapes. */
    static List<Failure> unsupported(EnginePlan plan, Graph planned, String shapes) {
        List<Failure> out = new ArrayList<>();
        var byName = plan.byName();
        for (Node n : planned.nodes()) {
            PlannedNode p = byName.get(n.name());
            if (p == null) continue;
            Tactic t = TacticCatalog.global().byId(p.tacticId());
            String why = !t.appliesTo(n) ? "the tactic does not implement the node at this shape" : t.whyNot(n, p.precision(), p.layout());
            if (why == null) continue;
            List<String> members = List.of(n.name());
            for (FusedGroup g : plan.groups()) if (g.name().equals(n.name())) members = g.members();
            out.add(new Failure(members, p.tacticId(), p.precision().text(), p.layout().text(), n.name(), shapes, why));
        }
        return out;
    }

    /** Removes the excluded choices from the search's candidates: that tactic at that precision and layout for exactly those members. */
    private record Exclusions(List<Failure> failures) implements AlgorithmSelector {
        @Override public String name() { return "profile-range"; }

        @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
            Set<String> out = new LinkedHashSet<>();
            for (Failure f : failures) if (f.members().equals(node.members())) out.add(f.tactic() + " " + f.precision() + " " + f.layout());
            if (out.isEmpty()) return candidates;
            return candidates.stream().filter(a -> !out.contains(a.tactic() + " " + a.precision() + " " + a.layout().text())).toList();
        }
    }
}
