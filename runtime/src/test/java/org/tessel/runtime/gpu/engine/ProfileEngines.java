package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.NodeView;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileSet;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;

/**
 * Profile sets for the GPU profile engine's tests, made as {@code tessel build} makes them: per profile
 * the search's plan at the opt shapes and whether the prepared graph depends on the shapes.
 */
final class ProfileEngines {
    private ProfileEngines() {}

    /**
     * Keeps Tessel's own kernels (the emulated device has no cuBLAS or cuDNN); a fusion without one is not fused. Drops the
     * decode GEMV, whose support ends at 8 rows: {@link #solve} plans at opt only, where {@code tessel build}'s
     * ProfileSolver also checks min and max and excludes what fails there.
     */
    static final AlgorithmSelector TESSEL_ONLY = new AlgorithmSelector() {
        @Override public String name() { return "tessel-only"; }

        @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
            List<Algorithm> own = candidates.stream().filter(a -> a.tactic().startsWith("tessel.") && !a.tactic().equals("tessel.gemv") && !GpuTactics.usesNvidiaLibraries(a.tactic())).toList();
            return own.isEmpty() && node.members().size() <= 1 ? candidates : own;
        }
    };

    static SearchOptions tesselOnly(Precision p) {
        return SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p)).withSelectors(List.of(TESSEL_ONLY));
    }

    /** One plan per profile, solved at its opt shapes with {@code strategy} under {@code o}. */
    static ProfileSet solve(ShapeSpecializer src, List<OptimizationProfile> ps, String strategy, SearchOptions o) {
        List<EnginePlan> plans = new ArrayList<>();
        List<String> dependence = new ArrayList<>();
        List<ProfileSet.Memory> memory = new ArrayList<>();
        for (int k = 0; k < ps.size(); k++) {
            Graph opt = src.prepareAt(ps.get(k).at(OptimizationProfile.Point.OPT), Searcher.PIPELINE, "profile " + k);
            SearchProblem problem = Searcher.problem(opt, o);
            plans.add(EnginePlans.complete(problem, Searcher.run(problem, strategy, o)).plan());
            dependence.add(ShapeSpecializer.shapeDependence(opt, src.prepareAt(ps.get(k).at(OptimizationProfile.Point.MAX), Searcher.PIPELINE, "profile " + k)));
            memory.add(new ProfileSet.Memory(0, 0));
        }
        return new ProfileSet(src, Searcher.PIPELINE, ps, plans, memory, dependence);
    }

    static OptimizationProfile profile(int k, String input, Shape min, Shape opt, Shape max) {
        return OptimizationProfile.of(k, Map.of(input, min), Map.of(input, opt), Map.of(input, max));
    }
}
