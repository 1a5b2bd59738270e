package org.tessel.search.solver;

import static org.tessel.search.Fixtures.FP16_NCHW;
import static org.tessel.search.Fixtures.FP16_NHWC;
import static org.tessel.search.Fixtures.FP32_NCHW;
import static org.tessel.search.Fixtures.choice;
import static org.tessel.search.Fixtures.choiceWithWorkspace;
import static org.tessel.search.Fixtures.edge;
import static org.tessel.search.Fixtures.fromInput;
import static org.tessel.search.Fixtures.fused;
import static org.tessel.search.Fixtures.fusion;
import static org.tessel.search.Fixtures.node;
import static org.tessel.search.Fixtures.toOutput;
import static org.tessel.search.Fixtures.unsupported;

import ai.timefold.solver.test.api.score.stream.ConstraintVerifier;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.LiveTensor;
import org.tessel.search.domain.MemoryBudget;
import org.tessel.search.domain.Membership;
import org.tessel.search.domain.NodeDecision;
import org.tessel.search.domain.PrecisionPin;

/** Each constraint on its own, with the exact penalty, and a case where it must not fire. */
class EnginePlanConstraintProviderTest {
    private final ConstraintVerifier<EnginePlanConstraintProvider, EnginePlan> verifier =
            ConstraintVerifier.build(new EnginePlanConstraintProvider(), EnginePlan.class, NodeDecision.class, FusionDecision.class);

    // ---- hard

    @Test void unsupportedChoiceIsPenalized() {
        verifier.verifyThat(EnginePlanConstraintProvider::tacticSupportsChoice)
                .given(node(0, "conv", unsupported(0, FP16_NHWC, "channels not a multiple of 8")), node(1, "relu", choice(1, "ok", FP32_NCHW, 5)))
                .penalizesBy(1);
    }

    @Test void choiceMadeForAnotherNodeIsPenalized() {
        verifier.verifyThat(EnginePlanConstraintProvider::tacticSupportsChoice)
                .given(node(0, "conv", choice(3, "ok", FP32_NCHW, 5)))
                .penalizesBy(1);
    }

    @Test void supportedChoicesPass() {
        verifier.verifyThat(EnginePlanConstraintProvider::tacticSupportsChoice)
                .given(node(0, "conv", choice(0, "ok", FP16_NHWC, 5)))
                .penalizesBy(0);
    }

    @Test void pinnedPrecisionIsEnforced() {
        verifier.verifyThat(EnginePlanConstraintProvider::userPrecisionRespected)
                .given(node(0, "softmax", choice(0, "k", FP16_NCHW, 5)), node(1, "matmul", choice(1, "k", FP16_NCHW, 5)),
                        new PrecisionPin(0, "Softmax=fp32", Set.of(Precision.FP32)), new PrecisionPin(1, "*=fp16|fp32", Set.of(Precision.FP16, Precision.FP32)))
                .penalizesBy(1);
    }

    @Test void overlappingFusedCandidatesArePenalizedOncePerPair() {
        var fmt = Map.of(FP32_NCHW, fused(FP32_NCHW, 10));
        verifier.verifyThat(EnginePlanConstraintProvider::fusedCandidatesDoNotOverlap)
                .given(fusion(0, new int[] {0, 1}, true, fmt), fusion(1, new int[] {1, 2}, true, fmt), fusion(2, new int[] {2, 3}, true, fmt),
                        fusion(3, new int[] {0, 3}, false, fmt))
                .penalizesBy(2);
    }

    @Test void inGroupChoiceIsPenalizedOnlyOutsideAFusedGroup() {
        var fmt = Map.of(FP16_NCHW, fused(FP16_NCHW, 10));
        NodeDecision matmul = node(0, "matmul", org.tessel.search.domain.Choice.inGroup(0, FP16_NCHW));
        NodeDecision add = node(1, "add", choice(1, "a", FP16_NCHW, 5));
        NodeDecision lone = node(2, "clip", org.tessel.search.domain.Choice.inGroup(2, FP16_NCHW));
        verifier.verifyThat(EnginePlanConstraintProvider::inGroupChoiceIsFused)
                .given(matmul, add, lone, fusion(0, new int[] {0, 1}, true, fmt))
                .penalizesBy(1);
        verifier.verifyThat(EnginePlanConstraintProvider::inGroupChoiceIsFused)
                .given(matmul, add, lone, fusion(0, new int[] {0, 1}, false, fmt))
                .penalizesBy(2);
    }

    @Test void membersDisagreeingWithTheRootArePenalizedOnlyWhenFused() {
        var fmt = Map.of(FP32_NCHW, fused(FP32_NCHW, 10));
        NodeDecision conv = node(0, "conv", choice(0, "c", FP32_NCHW, 5));
        NodeDecision add = node(1, "add", choice(1, "a", FP16_NCHW, 5));
        NodeDecision relu = node(2, "relu", choice(2, "r", FP32_NCHW, 5));
        verifier.verifyThat(EnginePlanConstraintProvider::fusedMembersShareRootFormat)
                .given(conv, add, relu, fusion(0, new int[] {0, 1, 2}, true, fmt), new Membership(0, 1, 0), new Membership(0, 2, 0))
                .penalizesBy(1);
        verifier.verifyThat(EnginePlanConstraintProvider::fusedMembersShareRootFormat)
                .given(conv, add, relu, fusion(0, new int[] {0, 1, 2}, false, fmt), new Membership(0, 1, 0), new Membership(0, 2, 0))
                .penalizesBy(0);
    }

    @Test void fusedGroupWithoutATacticAtTheRootFormatIsPenalized() {
        var onlyFp32 = Map.of(FP32_NCHW, fused(FP32_NCHW, 10));
        verifier.verifyThat(EnginePlanConstraintProvider::fusedGroupHasTactic)
                .given(node(0, "conv", choice(0, "c", FP16_NHWC, 5)), fusion(0, new int[] {0, 1}, true, onlyFp32))
                .penalizesBy(1);
        verifier.verifyThat(EnginePlanConstraintProvider::fusedGroupHasTactic)
                .given(node(0, "conv", choice(0, "c", FP32_NCHW, 5)), fusion(0, new int[] {0, 1}, true, onlyFp32))
                .penalizesBy(0);
    }

    @Test void memoryOverBudgetIsPenalizedInKiBPerStep() {
        // step 0: conv's output (4096 elements, fp32: 16384 B) + 2000 B workspace; step 1: conv's output again + relu's (fp16: 8192 B)
        NodeDecision conv = node(0, "conv", choiceWithWorkspace(0, FP32_NCHW, 5, 2000));
        NodeDecision relu = node(1, "relu", choiceWithWorkspace(1, FP16_NCHW, 5, 0));
        verifier.verifyThat(EnginePlanConstraintProvider::memoryWithinBudget)
                .given(conv, relu, new LiveTensor(0, 0, 4096, true, 0), new LiveTensor(1, 0, 4096, true, 0), new LiveTensor(1, 1, 4096, true, 0),
                        new MemoryBudget(20_000))
                // step 0: 18384 <= 20000; step 1: 24576 - 20000 = 4576 B -> 5 KiB
                .penalizesBy(5);
        verifier.verifyThat(EnginePlanConstraintProvider::memoryWithinBudget)
                .given(conv, relu, new LiveTensor(0, 0, 4096, true, 0), new LiveTensor(1, 0, 4096, true, 0), new LiveTensor(1, 1, 4096, true, 0),
                        new MemoryBudget(30_000))
                .penalizesBy(0);
    }

    // ---- soft

    @Test void nodesOutsideFusedGroupsPayTheirLatency() {
        var fmt = Map.of(FP32_NCHW, fused(FP32_NCHW, 10));
        verifier.verifyThat(EnginePlanConstraintProvider::nodeLatency)
                .given(node(0, "conv", choice(0, "c", FP32_NCHW, 700)), node(1, "relu", choice(1, "r", FP32_NCHW, 50)),
                        node(2, "pool", choice(2, "p", FP32_NCHW, 30)), fusion(0, new int[] {0, 1}, true, fmt), fusion(1, new int[] {1, 2}, false, fmt))
                .penalizesBy(30);
    }

    @Test void fusedGroupPaysItsFusedTacticAtTheRootFormat() {
        var fmts = Map.of(FP32_NCHW, fused(FP32_NCHW, 600), FP16_NHWC, fused(FP16_NHWC, 250));
        verifier.verifyThat(EnginePlanConstraintProvider::fusedGroupLatency)
                .given(node(0, "conv", choice(0, "c", FP16_NHWC, 700)), fusion(0, new int[] {0, 1}, true, fmts))
                .penalizesBy(250);
        verifier.verifyThat(EnginePlanConstraintProvider::fusedGroupLatency)
                .given(node(0, "conv", choice(0, "c", FP16_NHWC, 700)), fusion(0, new int[] {0, 1}, false, fmts))
                .penalizesBy(0);
    }

    @Test void layoutChangeOnAnEdgeCostsAReformatAtTheProducersStorage() {
        // producer fp16 (storage index 1) -> reformat costs 2000
        verifier.verifyThat(EnginePlanConstraintProvider::reformatOnEdge)
                .given(node(0, "a", choice(0, "k", FP16_NHWC, 5)), node(1, "b", choice(1, "k", FP32_NCHW, 5)), node(2, "c", choice(2, "k", FP16_NHWC, 5)),
                        edge(0, 0, 1), edge(1, 0, 2))
                .penalizesBy(2000);
    }

    @Test void precisionChangeOnAnEdgeCostsACast() {
        // fp16 -> fp32: cast[1][0] = 100 * (4 + 0 + 1) = 500
        verifier.verifyThat(EnginePlanConstraintProvider::castOnEdge)
                .given(node(0, "a", choice(0, "k", FP16_NHWC, 5)), node(1, "b", choice(1, "k", FP32_NCHW, 5)), node(2, "c", choice(2, "k", FP16_NCHW, 5)),
                        edge(0, 0, 1), edge(1, 0, 2))
                .penalizesBy(500);
    }

    @Test void graphInputsConvertToTheConsumersFormat() {
        // f32 nchw input -> fp16 nhwc consumer: reformat 1000 + cast[0][1] 200
        verifier.verifyThat(EnginePlanConstraintProvider::conversionFromGraphInput)
                .given(node(0, "a", choice(0, "k", FP16_NHWC, 5)), node(1, "b", choice(1, "k", FP32_NCHW, 5)), fromInput(0, 0), fromInput(1, 1))
                .penalizesBy(1200);
    }

    @Test void graphOutputsLeaveInTheirDeclaredFormat() {
        // fp16 nhwc producer -> f32 nchw output: reformat 2000 + cast[1][0] 500
        verifier.verifyThat(EnginePlanConstraintProvider::conversionToGraphOutput)
                .given(node(0, "a", choice(0, "k", FP16_NHWC, 5)), node(1, "b", choice(1, "k", FP32_NCHW, 5)), toOutput(0, 0), toOutput(1, 1))
                .penalizesBy(2500);
    }
}
