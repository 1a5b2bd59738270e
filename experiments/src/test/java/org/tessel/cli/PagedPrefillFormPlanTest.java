package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.attention.PagedAttentionTactic;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The paged prefill kernel's form is the plan's variant of {@code tessel.attention.paged}: the GPU decoder's planner
 * ({@link DecoderModels#pagedPlanner}) names the tensor-core form ({@code mma}) for every prefill chunk's attention at
 * FP16 and nothing at BF16 (the tiled form runs) or in a decode step (one kernel, no forms); the catalogue declares
 * the forms, {@link PagedAttentionTactic#formWhyNot} says where each cannot run, and {@link PlanCheck} refuses a form
 * the tactic does not have.
 */
class PagedPrefillFormPlanTest {
    static final DecoderConfig C = Zoo.decoder("llama-tiny", 0);

    static List<PlannedNode> attentions(PlanApplier.Applied a) {
        return a.plan().nodes().stream().filter(p -> p.tacticId().equals(PagedAttentionTactic.PAGED.id())).toList();
    }

    @Test void thePlannerNamesTheTensorCoreFormForPrefillChunksAtFp16() {
        Graph prefill = Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 8, 4, 4, 16), 42);
        List<PlannedNode> fp16 = attentions(DecoderModels.pagedPlanner("h100", Precision.FP16).plan(prefill));
        assertEquals(C.layers(), fp16.size(), fp16.toString());
        for (PlannedNode p : fp16) assertEquals("tessel.attention.paged/mma", p.tactic(), p.node());
        List<PlannedNode> bf16 = attentions(DecoderModels.pagedPlanner("h100", Precision.BF16).plan(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 8, 4, 4, 16), 42)));
        assertEquals(C.layers(), bf16.size());
        for (PlannedNode p : bf16) assertEquals("", p.variant(), "BF16 keeps the tiled form: " + p);
        Graph decode = Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 1, 4, 4, 16), 42);
        List<PlannedNode> steps = attentions(DecoderModels.pagedPlanner("h100", Precision.FP16).plan(decode));
        assertEquals(C.layers(), steps.size());
        for (PlannedNode p : steps) assertEquals("", p.variant(), "a decode step has no forms: " + p);
    }

    @Test void theCatalogueSaysWhereEachFormRuns() {
        assertEquals(List.of("tiled", "mma"), PagedAttentionTactic.PAGED.planVariants());
        Node prefill = attention(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 8, 4, 4, 16), 1));
        Node decode = attention(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 1, 4, 4, 16), 1));
        assertNull(PagedAttentionTactic.formWhyNot(prefill, "mma", Precision.FP16));
        assertNull(PagedAttentionTactic.formWhyNot(prefill, "tiled", Precision.BF16));
        assertTrue(PagedAttentionTactic.formWhyNot(prefill, "mma", Precision.BF16).contains("computes at FP16"));
        assertTrue(PagedAttentionTactic.formWhyNot(decode, "tiled", Precision.FP16).contains("is a decode step"));
        assertTrue(PagedAttentionTactic.formWhyNot(prefill, "flash", Precision.FP16).contains("names no prefill form (its forms: tiled, mma)"));
    }

    @Test void aPlanNamingAFormTheTacticLacksIsRefused() {
        Graph g = Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 8, 4, 4, 16), 3);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h100", Precision.FP16).plan(g);
        List<PlannedNode> nodes = a.plan().nodes().stream().map(p -> p.tacticId().equals(PagedAttentionTactic.PAGED.id()) ? p.withTactic(p.tacticId(), "flash") : p).toList();
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan().withNodes(nodes), a.graph(), TacticCatalog.global(), null));
        assertTrue(e.getMessage().contains("has no variant 'flash' (its variants: tiled, mma)"), e.getMessage());
    }

    static Node attention(Graph g) {
        return g.nodes().stream().filter(n -> n.opName().equals(PagedAttentionTactic.OP)).findFirst().orElseThrow();
    }
}
