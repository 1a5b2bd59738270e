package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Verifier;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.fusion.SiblingMerge;
import org.tessel.passes.fusion.SiblingMerges;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlannedMerge;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Merged Q/K/V GEMMs with a free Split: where the sibling GEMMs' parts are equal, the merge's Split runs as views
 * ({@code tessel.split.view}, priced zero) of the wide GEMM in its batched form ({@code batched_P}, priced as the one
 * wide GEMM), so the joint search merges BERT-base's Q, K and V projections on an H100 at FP16; where the parts differ
 * (grouped-query attention's wider Q) the Split still copies.
 */
class BatchedMergeTest {
    static final SearchOptions H100_FP16 = SearchOptions.defaults().withTarget("h100-derived").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));

    static SearchProblem bertBase(int batch) {
        return Searcher.problem(Searcher.prepare(Zoo.build("bert-base", ZooOptions.defaults().withBatch(batch))), H100_FP16);
    }

    @Test void theJointSearchMergesBertBasesQkvAtBatch32And1() {
        for (int batch : new int[] {32, 1}) {
            SearchProblem p = bertBase(batch);
            List<SearchProblem.Candidate> merges = p.candidates().stream().filter(SearchProblem.Candidate::isMerge).toList();
            assertEquals(12, merges.size(), "b" + batch + ": one Q/K/V merge per encoder layer");
            for (SearchProblem.Candidate c : merges) {
                SearchProblem.MergeParts fp16 = c.merge().parts().entrySet().stream().filter(e -> e.getKey().precision() == Precision.FP16)
                        .map(java.util.Map.Entry::getValue).findFirst().orElse(null);
                assertNotNull(fp16, "b" + batch + " " + c.merge().merged().getFirst() + ": priced at fp16 (" + c.merge().parts().keySet() + ")");
                assertEquals(DataMovementTactics.SPLIT_VIEW.id(), fp16.split().tacticId(), "the Split of equal parts after a cuBLASLt GEMM is views");
                assertEquals(0, fp16.split().latencyPs(), "views cost nothing");
                assertTrue(GemmTactics.runsBatched(fp16.wide().tacticId()), fp16.wide().tacticId());
            }
            Plan plan = Searcher.run(p, "joint", H100_FP16);
            long merged = merges.stream().filter(c -> plan.assignment().isFused(c.index())).count();
            assertEquals(12, merged, "b" + batch + ": horizontal merges of 12");

            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            Verifier.verify(a.graph());
            PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100-derived"));
            assertEquals(12, a.plan().merges().size());
            for (PlannedMerge m : a.plan().merges()) {
                PlannedNode split = a.plan().node(m.split());
                assertEquals(DataMovementTactics.SPLIT_VIEW.id(), split.tacticId(), m.name());
                assertEquals(Precision.FP16, split.precision(), m.name());
                Node s = node(a.graph(), m.split());
                PlannedNode wide = a.plan().node(s.input(0).producer().name());
                assertEquals(GemmTactics.batchedVariant(3), wide.variant(), "the wide GEMM of " + m.name() + " runs batched: " + wide);
                assertTrue(GemmTactics.runsBatched(wide.tacticId()), wide.tactic());
            }
        }
    }

    @Test void unequalPartsKeepTheCopySplit() {
        Graph merged = Searcher.prepare(Zoo.build("bert-tiny", ZooOptions.defaults()));
        SiblingMerge qkv = SiblingMerges.enumerate(merged).getFirst();
        var rw = new org.tessel.passes.rules.Rewriter(merged, org.tessel.api.OpRegistry.global(), new org.tessel.passes.PassStatistics());
        Node split = SiblingMerges.apply(rw, qkv).split();
        assertNull(DataMovementTactics.SPLIT_VIEW.whyNot(split, Precision.FP16, org.tessel.api.Layout.NCHW), "equal parts after a merged GEMM chain are views");
        assertNotNull(DataMovementTactics.SPLIT_VIEW.whyNot(split, Precision.INT8, org.tessel.api.Layout.NCHW), "no batched INT8 GEMM: no views at INT8");
        // the same wide output cut as grouped-query attention's would be: a Q part twice as wide as the other
        Node unequal = unequalSplit(merged, split);
        String why = DataMovementTactics.SPLIT_VIEW.whyNot(unequal, Precision.FP16, org.tessel.api.Layout.NCHW);
        assertNotNull(why);
        assertTrue(why.contains("parts must be equal") && why.contains("not consecutive runs: dim 1"), why);
        assertNull(DataMovementTactics.SPLIT.whyNot(unequal, Precision.FP16, org.tessel.api.Layout.NCHW), "the copy split takes it");
        // a Split of a graph input (no GEMM before it) is no view either
        Node first = merged.nodes().getFirst();
        assertNotNull(DataMovementTactics.SPLIT_VIEW.whyNot(first, Precision.FP16, org.tessel.api.Layout.NCHW));
    }

    /** A Split of {@code split}'s input into two parts, the first twice the second, added to the graph. */
    private static Node unequalSplit(Graph g, Node split) {
        org.tessel.ir.Value x = split.input(0);
        int n = x.type().shape().dim(-1);
        var rw = new org.tessel.passes.rules.Rewriter(g, org.tessel.api.OpRegistry.global(), new org.tessel.passes.PassStatistics());
        org.tessel.ir.Value sizes = rw.constant(g.uniqueValueName("unequal_sizes"),
                org.tessel.api.Tensor.ofLongs(org.tessel.api.DType.I64, org.tessel.api.Shape.of(2), new long[] {n / 3 * 2, n - n / 3 * 2}));
        return rw.insertBefore(split, "Split", "unequal_split", org.tessel.api.Attributes.builder().put("axis", (long) -1).build(), 2, x, sizes);
    }

    private static Node node(Graph g, String name) {
        for (Node n : g.nodes()) if (n.name().equals(name)) return n;
        throw new AssertionError("no node " + name + " in " + g.name());
    }

    /**
     * GPT-2's c_attn is one GEMM whose output the graph splits into Q, K and V: its parts lie interleaved in each row, so
     * that Split is no set of views (a GPU run refused such a plan: "tessel.split.view reads the 3 parts a GEMM in its
     * batched form writes"); only a merge's Split, whose wide GEMM the plan runs batched, is offered the views.
     */
    @Test void aGraphsOwnSplitIsNeverOfferedTheViews() {
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("gpt2-tiny", ZooOptions.defaults())),
                SearchOptions.defaults().withTarget("h100-derived").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16)));
        int splits = 0;
        for (SearchProblem.Node n : p.nodes()) {
            if (!n.op().equals("Split")) continue;
            splits++;
            assertTrue(n.choices().stream().noneMatch(c -> c.tacticId().equals(DataMovementTactics.SPLIT_VIEW.id())), n.name() + ": " + n.choices());
        }
        assertTrue(splits >= 2, "gpt2-tiny splits c_attn in each layer");
    }
}
