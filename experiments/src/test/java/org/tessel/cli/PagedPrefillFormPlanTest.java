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
 * The paged prefill kernel's form is the plan's variant of {@code tessel.attention.paged}, a choice of the search: it
 * prices both forms of every prefill chunk's attention and names the cheaper that runs it (the tensor-core form at FP16,
 * the tiled one at BF16, where mma cannot run), and none in a decode step (one kernel, no forms); {@code --prefill-form}
 * forces one on the search ({@link DecoderModels#pagedPlanner}), refusing a form the chunk cannot run; the flag is
 * checked before any GPU work; the catalogue declares the forms, {@link PagedAttentionTactic#formWhyNot} says where each
 * cannot run, and {@link PlanCheck} refuses a form the tactic does not have.
 */
class PagedPrefillFormPlanTest {
    static final DecoderConfig C = Zoo.decoder("llama-tiny", 0);

    static List<PlannedNode> attentions(PlanApplier.Applied a) {
        return a.plan().nodes().stream().filter(p -> p.tacticId().equals(PagedAttentionTactic.PAGED.id())).toList();
    }

    @Test void theSearchNamesTheCheaperFormForPrefillChunksAndAFlagForcesOne() {
        // 4 chunks of 128 tokens, the most llama-tiny takes: the attention's arithmetic outweighs its bytes
        PagedDecoderShape chunk = new PagedDecoderShape(4, 128, 8, 16, 40);
        List<PlannedNode> chosen = attentions(DecoderModels.pagedPlanner("h100", Precision.FP16).plan(Zoo.buildPagedDecoder("llama-tiny", C, chunk, 42)));
        assertEquals(C.layers(), chosen.size(), chosen.toString());
        for (PlannedNode p : chosen) assertEquals("tessel.attention.paged/mma", p.tactic(), "FP16: the search's cheaper form: " + p);
        for (PlannedNode p : attentions(DecoderModels.pagedPlanner("h100", Precision.BF16).plan(Zoo.buildPagedDecoder("llama-tiny", C, chunk, 42))))
            assertEquals("tessel.attention.paged/tiled", p.tactic(), "BF16: the only form that runs it: " + p);
        // a chunk of 8 tokens over 16: its bytes and launches price it, the forms alike, and the first (mma) is named
        for (PlannedNode p : attentions(DecoderModels.pagedPlanner("h100", Precision.FP16).plan(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 8, 4, 4, 16), 42))))
            assertEquals("tessel.attention.paged/mma", p.tactic(), "a tie names the first form: " + p);
        // forced: the tiled form at FP16, where it is the dearer one; its prediction is its own
        List<PlannedNode> tiled = attentions(DecoderModels.pagedPlanner("h100", Precision.FP16, "tiled").plan(Zoo.buildPagedDecoder("llama-tiny", C, chunk, 42)));
        for (int i = 0; i < tiled.size(); i++) {
            assertEquals("tessel.attention.paged/tiled", tiled.get(i).tactic(), tiled.get(i).node());
            assertTrue(tiled.get(i).predictedUs() > chosen.get(i).predictedUs(), tiled.get(i) + " against " + chosen.get(i));
        }
        Graph decode = Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 1, 4, 4, 16), 42);
        for (PlannedNode p : attentions(DecoderModels.pagedPlanner("h100", Precision.FP16, "mma").plan(decode)))
            assertEquals("", p.variant(), "a decode step has no forms: " + p);
        // a form the chunk cannot run is refused naming the node and why, not dropped
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DecoderModels.pagedPlanner("h100", Precision.BF16, "mma").plan(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(2, 8, 4, 4, 16), 42)));
        assertTrue(e.getMessage().startsWith("--prefill-form mma: node 'model.layers.0.self_attn.paged_attention'"), e.getMessage());
        assertTrue(e.getMessage().endsWith("cannot be obeyed: the mma prefill computes at FP16 (mma.sync on f16), the plan runs it at bf16"), e.getMessage());
    }

    @Test void thePrefillFormFlagIsCheckedBeforeAnyGpuWork() {
        assertEquals("--prefill-form takes mma or tiled, got 'flash'",
                assertThrows(IllegalArgumentException.class, () -> DecoderModels.checkPrefillForm("flash", "zoo:llama-tiny", true, false, null)).getMessage());
        assertEquals("--prefill-form picks the GPU runner's prefill kernel: add --gpu",
                assertThrows(IllegalArgumentException.class, () -> DecoderModels.checkPrefillForm("mma", "zoo:llama-tiny", false, false, null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DecoderModels.checkPrefillForm("mma", "zoo:llama-tiny", true, true, null)).getMessage().contains("drop --bf16"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DecoderModels.checkPrefillForm("mma", "zoo:llama-tiny", true, false, "fp8")).getMessage().contains("not --kv-cache fp8"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DecoderModels.checkPrefillForm("tiled", "m.onnx", true, false, null)).getMessage().contains("is an ONNX decoder"));
        assertEquals("tiled", DecoderModels.checkPrefillForm("tiled", "zoo:llama-tiny", true, true, "fp8"));
        assertNull(DecoderModels.checkPrefillForm(null, "zoo:llama-tiny", false, false, null));
        // the command refuses it before looking for a GPU
        CliRun r = CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "2", "--prefill-form", "mma");
        assertEquals("tessel serve-bench: --prefill-form picks the GPU runner's prefill kernel: add --gpu", r.err().strip());
        CliRun g = CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1,2", "--max-new-tokens", "2", "--gpu", "--bf16", "--prefill-form", "mma");
        assertTrue(g.err().strip().startsWith("tessel generate: --prefill-form mma attends on f16 tensor cores: drop --bf16"), g.err());
    }

    @Test void theCatalogueSaysWhereEachFormRuns() {
        assertEquals(List.of("mma", "tiled"), PagedAttentionTactic.PAGED.planVariants());
        Node prefill = attention(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 8, 4, 4, 16), 1));
        Node decode = attention(Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 1, 4, 4, 16), 1));
        assertNull(PagedAttentionTactic.formWhyNot(prefill, "mma", Precision.FP16));
        assertNull(PagedAttentionTactic.formWhyNot(prefill, "tiled", Precision.BF16));
        assertTrue(PagedAttentionTactic.formWhyNot(prefill, "mma", Precision.BF16).contains("computes at FP16"));
        assertTrue(PagedAttentionTactic.formWhyNot(decode, "tiled", Precision.FP16).contains("is a decode step"));
        assertTrue(PagedAttentionTactic.formWhyNot(prefill, "flash", Precision.FP16).contains("names no prefill form (its forms: mma, tiled)"));
    }

    @Test void aPlanNamingAFormTheTacticLacksIsRefused() {
        Graph g = Zoo.buildPagedDecoder("llama-tiny", C, new PagedDecoderShape(1, 8, 4, 4, 16), 3);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h100", Precision.FP16).plan(g);
        List<PlannedNode> nodes = a.plan().nodes().stream().map(p -> p.tacticId().equals(PagedAttentionTactic.PAGED.id()) ? p.withTactic(p.tacticId(), "flash") : p).toList();
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan().withNodes(nodes), a.graph(), TacticCatalog.global(), null));
        assertTrue(e.getMessage().contains("has no variant 'flash' (its variants: mma, tiled)"), e.getMessage());
    }

    static Node attention(Graph g) {
        return g.nodes().stream().filter(n -> n.opName().equals(PagedAttentionTactic.OP)).findFirst().orElseThrow();
    }
}
