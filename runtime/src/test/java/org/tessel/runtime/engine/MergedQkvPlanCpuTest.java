package org.tessel.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedMerge;

/**
 * The CPU backend runs a plan whose Q/K/V merges split as views ({@code tessel.split.view}, the wide GEMM's
 * {@code batched_3} variant) as it runs any plan: the Split as a Split. Its outputs equal those of the plan without
 * merges (BERT-tiny, FP32 on h100-derived, so the two differ only in the merges).
 */
class MergedQkvPlanCpuTest {
    static final SearchOptions FP32 = SearchOptions.defaults().withTarget("h100-derived").withPrecisions(EnumSet.of(Precision.FP32));

    @Test void theMergedPlanRunsLikeTheUnmergedOne() {
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults());
        SearchProblem p = Searcher.problem(Searcher.prepare(g), FP32);
        Plan joint = Searcher.run(p, "joint", FP32), greedy = Searcher.run(p, "greedy", FP32);
        PlanApplier.Applied merged = EnginePlans.complete(p, joint), unmerged = EnginePlans.complete(p, greedy);
        assertFalse(merged.plan().merges().isEmpty(), "the joint plan merges Q/K/V\n" + merged.plan().render());
        assertTrue(unmerged.plan().merges().isEmpty(), "the greedy plan merges nothing");
        for (PlannedMerge m : merged.plan().merges()) {
            assertEquals("tessel.split.view", merged.plan().node(m.split()).tacticId(), m.name());
            String wide = merged.graph().nodes().stream().filter(n -> n.name().equals(m.split())).findFirst().orElseThrow().input(0).producer().name();
            assertEquals("batched_" + m.chains().size(), merged.plan().node(wide).variant(), wide);
        }
        List<Tensor> in = inputs(g, 11);
        List<Tensor> a = Engine.buildCpu(merged.graph(), merged.plan()).createContext().run(in);
        List<Tensor> b = Engine.buildCpu(unmerged.graph(), unmerged.plan()).createContext().run(in);
        assertEquals(b.size(), a.size());
        for (int k = 0; k < a.size(); k++) {
            double diff = 0, norm = 0;
            for (int i = 0; i < a.get(k).size(); i++) {
                double d = a.get(k).getDouble(i) - b.get(k).getDouble(i);
                diff += d * d;
                norm += b.get(k).getDouble(i) * b.get(k).getDouble(i);
            }
            assertTrue(Math.sqrt(diff) <= 1e-5 * Math.max(1e-6, Math.sqrt(norm)), "output " + k + ": relative L2 " + Math.sqrt(diff / Math.max(1e-30, norm)));
        }
    }

    /** Token ids small enough for any vocabulary, masks of 0 and 1, floats in [-2, 2]. */
    static List<Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> out = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            boolean mask = v.name().contains("mask");
            for (int i = 0; i < t.size(); i++) t.setDouble(i, v.type().dtype().isFloating() ? r.nextDouble(-2, 2) : mask ? (r.nextInt(4) > 0 ? 1 : 0) : r.nextInt(8));
            out.add(t);
        }
        return out;
    }
}
