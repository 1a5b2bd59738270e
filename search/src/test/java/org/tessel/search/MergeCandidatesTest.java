package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Verifier;
import org.tessel.passes.fusion.SiblingMerge;
import org.tessel.passes.fusion.SiblingMerges;
import org.tessel.search.domain.FusedChoice;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Horizontal merges as search decisions: every merge of the prepared graph is a candidate priced as the
 * wide chain's kernel plus the Split's; the exact search takes one only where that beats the chains run
 * apart (so it never does worse than without merges); the strategies that mirror the fuse pass make none;
 * and every strategy's plan, merges made, applies, checks and computes what the prepared graph does.
 */
class MergeCandidatesTest {
    static final List<String> MODELS = List.of("googlenet-tiny", "bert-tiny");

    @Test void everyMergeIsACandidatePricedAsTheWideKernelPlusTheSplit() {
        for (String model : MODELS) {
            SearchProblem p = Problems.zoo(model);
            List<SiblingMerge> merges = SiblingMerges.enumerate(p.prepared());
            List<SearchProblem.Candidate> cands = p.candidates().stream().filter(SearchProblem.Candidate::isMerge).toList();
            assertFalse(merges.isEmpty(), model);
            assertEquals(merges.size(), cands.size(), model + ": every merge is offered");
            for (int k = 0; k < merges.size(); k++) {
                SearchProblem.Candidate c = cands.get(k);
                SearchProblem.Merge m = c.merge();
                assertEquals(merges.get(k).names(), m.chains());
                List<String> members = new ArrayList<>();
                for (int i : c.members()) members.add(p.node(i).name());
                assertEquals(merges.get(k).nodes().stream().map(org.tessel.ir.Node::name).toList(), members, "members: the chains' nodes, first root first");
                assertEquals(c.fused().keySet(), m.parts().keySet());
                for (var e : c.fused().entrySet()) {
                    SearchProblem.MergeParts parts = m.parts().get(e.getKey());
                    FusedChoice total = e.getValue();
                    assertEquals(parts.wide().latencyPs() + parts.split().latencyPs(), total.latencyPs(), model + " " + e.getKey());
                    // a Split is views, free, of a GEMM merge's equal parts after the batched wide GEMM, or of any merge's parts that lie one
                    // after another (one image's channels in NCHW, one row); else it copies
                    if (parts.split().tacticId().equals("tessel.split.view")) {
                        assertEquals(0, parts.split().latencyPs());
                        // the Split cuts the channels (a conv merge) or the last axis of the roots' shape
                        org.tessel.api.Shape out = merges.get(k).nodes().getFirst().output().type().shape();
                        long before = 1;
                        for (int d = 0; d < (m.kind().equals("conv") ? 1 : out.rank() - 1); d++) before *= out.dim(d);
                        boolean contiguous = before == 1;
                        assertTrue(!m.kind().equals("conv") && org.tessel.tactics.gemm.GemmTactics.runsBatched(parts.wide().tacticId()) || contiguous,
                                model + " " + m.split() + " after " + parts.wide().tacticId());
                        assertTrue(!m.kind().equals("conv") || parts.split().layout() != org.tessel.api.Layout.NHWC, "channels-last parts interleave");
                    } else assertEquals("tessel.split", parts.split().tacticId());
                    assertEquals(e.getKey().precision(), parts.split().precision());
                    assertTrue(parts.wide().tacticId().matches("(cudnn|tessel)\\.conv\\..*|cublaslt\\.gemm.*|cublaslt\\.conv1x1"), parts.wide().tacticId());
                }
            }
        }
    }

    @Test void theExactSearchMergesWhereItPaysAndNeverDoesWorseThanWithoutMerges() {
        for (String model : MODELS) {
            SearchProblem p = Problems.zoo(model);
            Plan with = Searcher.run(p, "exact", SearchOptions.defaults());
            Plan without = Searcher.run(withoutMerges(p), "exact", SearchOptions.defaults());
            long merged = p.candidates().stream().filter(c -> c.isMerge() && with.assignment().isFused(c.index())).count();
            assertTrue(merged > 0, model + ": the optimum merges");
            assertTrue(with.predictedUs() < without.predictedUs(), model + ": " + with.predictedUs() + " us with merges, " + without.predictedUs() + " without");
        }
    }

    @Test void theStrategiesThatMirrorTheFusePassMakeNoMerge() {
        for (String model : MODELS) {
            SearchProblem p = Problems.zoo(model);
            for (String s : List.of("greedy", "sequential", "rule")) {
                Plan plan = Searcher.run(p, s, SearchOptions.defaults());
                assertTrue(p.candidates().stream().noneMatch(c -> c.isMerge() && plan.assignment().isFused(c.index())), model + " " + s);
            }
        }
    }

    @Test void everyStrategysPlanWithMergesAppliesChecksAndKeepsMeaning() {
        for (String model : MODELS) {
            SearchProblem p = Problems.zoo(model);
            Map<String, Tensor> inputs = EnginePlansTest.inputs(p.prepared(), 3);
            Map<String, Tensor> want = new ReferenceInterpreter().run(p.prepared(), inputs);
            int mergedPlans = 0;
            for (String s : List.of("joint", "exact", "timefold", "greedy", "sequential", "rule", "random")) {
                Plan plan = Searcher.run(p, s, SearchOptions.defaults().withRandomSamples(100).withSteps(50, 3000));
                assertTrue(plan.feasible(), model + " " + s + ": " + plan.note());
                PlanApplier.Applied a = EnginePlans.complete(p, plan);
                Verifier.verify(a.graph());
                PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100"));
                long splits = a.plan().nodes().stream().filter(n -> n.tacticId().equals("tessel.split") || n.tacticId().equals("tessel.split.view")).count();
                assertEquals(a.plan().merges().size(), splits, model + " " + s + ": one Split per merge");
                if (!a.plan().merges().isEmpty()) mergedPlans++;
                for (PlannedNode n : a.plan().nodes()) assertTrue(a.graph().hasNodeNamed(n.node()), n.node());
                Map<String, Tensor> got = new ReferenceInterpreter().run(a.graph(), inputs);
                for (var e : want.entrySet()) EnginePlansTest.assertClose(e.getValue(), got.get(e.getKey()), model + " " + s + " output " + e.getKey());
            }
            assertTrue(mergedPlans >= 3, model + ": joint, exact and timefold merge");
        }
    }

    /**
     * A norm before three sibling projections (a decode step's Q/K/V on the GPU target): the merge is offered twice, plain
     * and with the norm fused into the wide GEMV (an rmsnorm_gemm group of the norm and the wide MatMul), the two
     * overlapping; no strategy fuses both, every plan applies and computes what the graph does, and the joint search
     * takes the fused variant (one kernel and the Split's views instead of two kernels).
     */
    @Test void aNormBeforeSiblingProjectionsIsOfferedFusedIntoTheMerge() {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("norm_qkv");
        var x = b.input("x", org.tessel.api.DType.F32, 1, 1, 256);
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        float[] gamma = new float[256];
        for (int i = 0; i < gamma.length; i++) gamma[i] = (float) (1 + 0.2 * r.nextGaussian());
        var n = b.rmsNorm(x, b.constant("gamma", org.tessel.api.Shape.of(256), gamma), -1, 1e-5f);
        List<org.tessel.ir.Value> outs = new ArrayList<>();
        for (int j = 0; j < 3; j++) {
            float[] w = new float[256 * 64];
            for (int i = 0; i < w.length; i++) w[i] = (float) (0.1 * r.nextGaussian());
            outs.add(b.matmul(n, b.constant("w" + j, org.tessel.api.Shape.of(256, 64), w)));
        }
        org.tessel.ir.Graph g = b.output(outs.toArray(org.tessel.ir.Value[]::new)).build();
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured")
                .withPrecisions(java.util.EnumSet.of(org.tessel.cost.Precision.FP32, org.tessel.cost.Precision.FP16)).withRandomSamples(50).withSteps(50, 2000);
        SearchProblem p = Searcher.problem(Searcher.prepare(g), o);
        List<SearchProblem.Candidate> merges = p.candidates().stream().filter(SearchProblem.Candidate::isMerge).toList();
        assertEquals(2, merges.size(), merges.toString());
        SearchProblem.Candidate plain = merges.get(0), withNorm = merges.get(1);
        assertEquals(null, plain.merge().wideKind());
        assertEquals("rmsnorm_gemm", withNorm.merge().wideKind());
        assertEquals("RMSNormalization", p.node(withNorm.members()[withNorm.members().length - 1]).op());
        assertEquals(withNorm.merge().wideGroup().getFirst(), p.node(withNorm.members()[withNorm.members().length - 1]).name());
        assertTrue(plain.overlaps(withNorm));
        Map<String, Tensor> inputs = EnginePlansTest.inputs(p.prepared(), 3);
        Map<String, Tensor> want = new ReferenceInterpreter().run(p.prepared(), inputs);
        for (String s : List.of("joint", "exact", "timefold", "greedy", "sequential", "rule", "random")) {
            Plan plan = Searcher.run(p, s, o);
            assertFalse(plan.assignment().isFused(plain.index()) && plan.assignment().isFused(withNorm.index()), s);
            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            Verifier.verify(a.graph());
            Map<String, Tensor> got = new ReferenceInterpreter().run(a.graph(), inputs);
            for (var e : want.entrySet()) EnginePlansTest.assertClose(e.getValue(), got.get(e.getKey()), s + " output " + e.getKey());
            if (s.equals("joint")) {
                assertTrue(plan.assignment().isFused(withNorm.index()), "joint: " + a.plan().nodes());
                assertEquals(List.of("rmsnorm_gemm"), a.plan().groups().stream().map(gr -> gr.kind()).toList());
                assertEquals(List.of("tessel.gemv", "tessel.split.view"), a.plan().nodes().stream().map(PlannedNode::tacticId).toList());
            }
        }
    }

    /** The same problem without its merge candidates (indices renumbered). */
    static SearchProblem withoutMerges(SearchProblem p) {
        List<SearchProblem.Candidate> cs = new ArrayList<>();
        for (SearchProblem.Candidate c : p.candidates())
            if (!c.isMerge()) cs.add(new SearchProblem.Candidate(cs.size(), c.kind(), c.members(), c.fused(), c.imageGroup()));
        List<SearchProblem.Node> nodes = new ArrayList<>();
        for (SearchProblem.Node n : p.nodes()) {
            // in-group choices only a merge offered go too
            java.util.Set<Format> keep = new java.util.HashSet<>();
            for (SearchProblem.Candidate c : cs) if (c.contains(n.index())) for (Format k : c.fused().keySet()) keep.add(k);
            java.util.function.Predicate<org.tessel.search.domain.Choice> ok = ch -> !ch.inGroup() || keep.stream().anyMatch(k -> k.agrees(ch.format()));
            nodes.add(new SearchProblem.Node(n.index(), n.name(), n.op(), n.choices().stream().filter(ok).toList(), n.searchChoices().stream().filter(ok).toList(), n.stepBaseBytes()));
        }
        return new SearchProblem(p.name(), nodes, cs, p.uses(), p.pins(), p.liveTensors(), p.memoryBudget(), p.prepared());
    }
}
