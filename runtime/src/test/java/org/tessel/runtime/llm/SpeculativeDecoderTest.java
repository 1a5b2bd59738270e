package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.Zoo;

/** Greedy speculative decoding gives exactly the target's greedy tokens, whatever the draft. */
class SpeculativeDecoderTest {
    private static final long SEED = 9;

    static long[] targetAlone(DecoderRunner target, long[] prompt, int n) {
        return new BatchScheduler(target, target.newCache(8, 32), BatchScheduler.Policy.IN_FLIGHT, 1, 64)
                .run(List.of(new Request("alone", prompt, n, 0, Sampler.greedy()))).outcomes().getFirst().output();
    }

    /** Drafts: the target itself (every proposal accepted), its first layer only (the same weights, cut short), and another family. */
    @ParameterizedTest
    @CsvSource({"llama-tiny,llama-tiny,0,4", "llama-tiny,llama-tiny,1,3", "llama-tiny,gpt2-tiny,0,4", "gpt2-tiny,gpt2-tiny,1,1"})
    void outputIsTheTargetsGreedyOutput(String targetModel, String draftModel, int draftLayers, int k) {
        DecoderRunner target = new DecoderRunner(targetModel, Zoo.decoder(targetModel, 0), SEED);
        DecoderRunner draft = new DecoderRunner(draftModel, Zoo.decoder(draftModel, draftLayers), SEED);
        long[] prompt = {7, 300, 12, 45, 99};
        int n = 17;
        var r = new SpeculativeDecoder(target, draft, k).generate(prompt, n, 4);
        assertArrayEquals(targetAlone(target, prompt, n), r.output(), targetModel + " with draft " + draftModel + "/" + draftLayers);
        assertTrue(r.accepted() <= r.proposed());
        if (draftModel.equals(targetModel) && draftLayers == 0) {
            assertEquals(1.0, r.acceptanceRate(), "a draft equal to the target is always right");
            assertTrue(r.targetSteps() < n, "fewer target steps than tokens: " + r.targetSteps());
        }
    }

    /** The greedy next token after {@code seq} with no cache: the whole sequence fed to a fresh cache. */
    static long fresh(DecoderRunner r, List<Long> seq) {
        long[] ids = seq.stream().mapToLong(Long::longValue).toArray();
        return Sampler.greedy().next(r.step(List.of(new DecoderRunner.Row("fresh", ids)), r.newCache(4, 64)).getFirst());
    }

    /**
     * The rounds, proposals and acceptances of a speculative decoder recomputed with no KV cache (every prediction from
     * the whole sequence), against {@link SpeculativeDecoder}'s, whose caches truncate rejected proposals and let the draft
     * lag after a fully accepted round: a cache that kept a rejected token or lost a position would change the draft's
     * proposals, hence the acceptance count, even where the output (the target's) stays right. Drafts that are rejected
     * often: the target's first layer and another family.
     */
    @ParameterizedTest
    @CsvSource({"llama-tiny,1,4", "gpt2-tiny,0,3", "llama-tiny,1,2"})
    void proposalsAndAcceptancesAreThoseOfAFullRecompute(String draftModel, int draftLayers, int k) {
        DecoderRunner target = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED);
        DecoderRunner draft = new DecoderRunner(draftModel, Zoo.decoder(draftModel, draftLayers), SEED);
        long[] prompt = {7, 300, 12, 45, 99, 3};
        int n = 24;
        var r = new SpeculativeDecoder(target, draft, k).generate(prompt, n, 4);
        java.util.List<Long> known = new java.util.ArrayList<>();
        for (long t : prompt) known.add(t);
        known.add(fresh(target, known));
        long proposed = 0, accepted = 0;
        int rounds = 0;
        while (known.size() - prompt.length < n) {
            java.util.List<Long> proposals = new java.util.ArrayList<>();
            for (int i = 0; i < k; i++) {
                java.util.List<Long> ctx = new java.util.ArrayList<>(known);
                ctx.addAll(proposals);
                proposals.add(fresh(draft, ctx));
            }
            int j = 0;
            while (j < k) {
                java.util.List<Long> ctx = new java.util.ArrayList<>(known);
                ctx.addAll(proposals.subList(0, j));
                if (fresh(target, ctx) != proposals.get(j)) break;
                j++;
            }
            proposed += k;
            accepted += j;
            for (int i = 0; i < j; i++) known.add(proposals.get(i));
            known.add(fresh(target, known));
            rounds++;
        }
        long[] want = known.subList(prompt.length, prompt.length + n).stream().mapToLong(Long::longValue).toArray();
        String what = "draft " + draftModel + "/" + draftLayers + ", k " + k;
        assertArrayEquals(want, r.output(), what);
        assertTrue(accepted < proposed, what + ": some proposals rejected (" + accepted + " of " + proposed + ")");
        assertEquals(proposed, r.proposed(), what + ": proposals");
        assertEquals(accepted, r.accepted(), what + ": accepted");
        assertEquals(rounds + 1, r.targetSteps(), what + ": target steps (the prefill and one a round)");
    }

    @Test
    void draftsWithAnotherVocabularyAreRefused() {
        DecoderRunner target = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), SEED);
        DecoderRunner other = new DecoderRunner("gpt2", Zoo.decoder("gpt2", 1), SEED);
        var e = assertThrows(IllegalArgumentException.class, () -> new SpeculativeDecoder(target, other, 2));
        assertTrue(e.getMessage().contains("draft gpt2 has a vocabulary of 50257 tokens and target llama-tiny one of 512"), e.getMessage());
    }
}
