package org.tessel.runtime.llm;

import java.util.ArrayList;
import java.util.List;

/**
 * Greedy speculative decoding (Leviathan et al. 2023, Chen et al. 2023): a cheap draft model
 * proposes {@code k} tokens one by one, the target checks all of them in one step (its logits at
 * each proposed position), the longest prefix the target agrees with is kept, and the target's own
 * token at the first disagreement (or after the last proposal) is added. Rejected tokens are cut
 * from both paged caches ({@link KvCache#truncate}). Under greedy decoding the output is
 * exactly the target's own greedy output; only the number of target steps changes.
 *
 * <p>Target and draft are any {@link DecoderSteps}: CPU runners ({@link DecoderRunner}), GPU runners
 * ({@link GpuDecoderRunner}, the verify step one multi-token step over the device cache), or one of each.
 *
 * <p>Both models must share a vocabulary. Invariant between rounds: each cache holds every known
 * token but the last (the draft's may lag one behind after a fully accepted round and catches up in
 * its next step).
 */
public final class SpeculativeDecoder {
    private final DecoderSteps<?> target, draft;
    private final int k;

    /**
     * Generated tokens, target steps taken, and draft tokens proposed and accepted; the time, and of it the draft's
     * steps (its prompt, catching up, proposing) and the target's (its prompt, checking), engine building left out.
     */
    public record Result(long[] output, int targetSteps, int draftSteps, long proposed, long accepted, double seconds, double draftSeconds, double targetSeconds) {
        /** Accepted draft tokens over proposed ones. */
        public double acceptanceRate() { return proposed == 0 ? 0 : (double) accepted / proposed; }
    }

    public SpeculativeDecoder(DecoderSteps<?> target, DecoderSteps<?> draft, int k) {
        if (k < 1) throw new IllegalArgumentException("the draft must propose at least 1 token per round, got " + k);
        if (target.config().vocab() != draft.config().vocab())
            throw new IllegalArgumentException("draft " + draft.model() + " has a vocabulary of " + draft.config().vocab() + " tokens and target " + target.model()
                    + " one of " + target.config().vocab() + ": speculative decoding needs the same tokens");
        this.target = target;
        this.draft = draft;
        this.k = k;
    }

    /** Generates {@code maxNew} tokens greedily after {@code prompt}; caches sized for prompt + maxNew + k. */
    public Result generate(long[] prompt, int maxNew, int blockSize) {
        int max = Math.min(target.config().maxPositions(), draft.config().maxPositions());
        if (prompt.length == 0) throw new IllegalArgumentException("request speculative: the prompt has no tokens");
        if (prompt.length + maxNew > max)
            throw new IllegalArgumentException("request speculative: prompt " + prompt.length + " + max new tokens " + maxNew + " = " + (prompt.length + maxNew)
                    + " exceeds the " + max + " positions of " + target.model() + " and draft " + draft.model());
        int blocks = (prompt.length + maxNew + k + blockSize) / blockSize + 1;
        try (Bound<?> tc = Bound.of(target, blockSize, blocks); Bound<?> dc = Bound.of(draft, blockSize, blocks)) {
            return generate(prompt, maxNew, max, tc, dc);
        }
    }

    /** A runner and a cache of its own kind, stepping one sequence. */
    private record Bound<C extends KvCache>(DecoderSteps<C> runner, C cache, long[] nanos) implements AutoCloseable {
        static <C extends KvCache> Bound<C> of(DecoderSteps<C> runner, int blockSize, int blocks) { return new Bound<>(runner, runner.newCache(blockSize, blocks), new long[1]); }

        /** Runs {@code work}, adding its time less any engine building to this runner's time. */
        <T> T timed(java.util.function.Supplier<T> work) {
            long t0 = System.nanoTime(), b0 = runner.buildNanos();
            T out = work.get();
            nanos[0] += System.nanoTime() - t0 - (runner.buildNanos() - b0);
            return out;
        }

        double seconds() { return nanos[0] / 1e9; }

        float[][] step(String seq, long[] tokens) { return timed(() -> runner.stepAllLogits(List.of(new DecoderRunner.Row(seq, tokens)), cache).getFirst()); }
        float[] last(String seq, long[] tokens) { float[][] all = step(seq, tokens); return all[all.length - 1]; }

        /**
         * {@code count} greedy tokens after feeding {@code tokens}, each fed back but the last: with one token fed, all of them
         * by {@link DecoderSteps#decodeGreedy} (a GPU runner runs the steps ahead of the host, one round trip for the round);
         * with more (the draft catching up), the first from their last logits, the others by decodeGreedy.
         */
        long[] propose(String seq, long[] tokens, int count) { return timed(() -> proposeUntimed(seq, tokens, count)); }

        private long[] proposeUntimed(String seq, long[] tokens, int count) {
            List<DecoderRunner.Row> rows = List.of(new DecoderRunner.Row(seq, tokens));
            if (tokens.length == 1) return runner.decodeGreedy(rows, count, cache)[0];
            long[] out = new long[count];
            out[0] = Sampler.greedy().next(runner.step(rows, cache).getFirst());
            if (count > 1) System.arraycopy(runner.decodeGreedy(List.of(new DecoderRunner.Row(seq, new long[] {out[0]})), count - 1, cache)[0], 0, out, 1, count - 1);
            return out;
        }
        boolean contains(String seq) { return cache.contains(seq); }
        int length(String seq) { return cache.length(seq); }
        void truncate(String seq, int length) { cache.truncate(seq, length); }
        @Override public void close() { cache.close(); }
    }

    private Result generate(long[] prompt, int maxNew, int max, Bound<?> tc, Bound<?> dc) {
        String seq = "speculative";
        long t0 = System.nanoTime(), build0 = target.buildNanos() + draft.buildNanos();
        List<Long> known = new ArrayList<>();
        for (long t : prompt) known.add(t);
        // prefill: the target's first token; the draft's cache filled with the prompt but its last token
        float[] first = tc.last(seq, prompt);
        int targetSteps = 1, draftSteps = 0;
        if (prompt.length > 1) { dc.step(seq, java.util.Arrays.copyOf(prompt, prompt.length - 1)); draftSteps++; }
        // the target's cache holds the whole prompt; from here on it holds all known tokens but the last
        known.add((long) Sampler.greedy().next(first));
        tc.truncate(seq, prompt.length);
        long proposed = 0, accepted = 0;
        while (known.size() - prompt.length < maxNew) {
            int n = known.size();
            int room = Math.min(k, max - n); // proposals must leave the target a position to check them at
            if (room < 1) break;
            // draft proposes room tokens, catching up on any known token its cache lacks first, then feeding each proposal
            // but the last back (decodeGreedy: on a GPU, ahead of the host)
            int have = dc.contains(seq) ? dc.length(seq) : 0;
            long[] feed = known.subList(have, known.size()).stream().mapToLong(Long::longValue).toArray();
            List<Long> proposals = new ArrayList<>();
            for (long t : dc.propose(seq, feed, room)) proposals.add(t);
            draftSteps += room;
            // target checks [last known, proposals...] in one step
            long[] check = new long[room + 1];
            check[0] = known.get(n - 1);
            for (int i = 0; i < room; i++) check[i + 1] = proposals.get(i);
            float[][] logits = tc.step(seq, check);
            targetSteps++;
            int j = 0;
            while (j < room && Sampler.greedy().next(logits[j]) == proposals.get(j)) j++;
            proposed += room;
            accepted += j;
            for (int i = 0; i < j; i++) known.add(proposals.get(i));
            known.add((long) Sampler.greedy().next(logits[j]));
            // caches keep every known token but the last: cut the rejected proposals
            tc.truncate(seq, known.size() - 1);
            if (dc.length(seq) > known.size() - 1) dc.truncate(seq, known.size() - 1);
        }
        long[] out = known.subList(prompt.length, Math.min(known.size(), prompt.length + maxNew)).stream().mapToLong(Long::longValue).toArray();
        double seconds = (System.nanoTime() - t0 - (target.buildNanos() + draft.buildNanos() - build0)) / 1e9;
        return new Result(out, targetSteps, draftSteps, proposed, accepted, seconds, dc.seconds(), tc.seconds());
    }
}
