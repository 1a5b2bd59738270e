package org.tessel.runtime.llm;

import java.util.ArrayList;
import java.util.List;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.passes.lora.LoraAdapter;

/**
 * What drives a decoder step by step, on CPU engines ({@link DecoderRunner}) or GPU engines ({@link GpuDecoderRunner}),
 * as {@link BatchScheduler} and {@link SpeculativeDecoder} use it: a step of rows over the runner's own kind of
 * {@link KvCache} with every fed token's logits (a speculative verify step checks several proposals at once), the
 * LoRA adapters it serves, and the time spent building engines, which serving clocks leave out.
 *
 * @param <C> the runner's cache
 */
public interface DecoderSteps<C extends KvCache> {
    String model();
    DecoderConfig config();
    /** Nanoseconds spent building engines so far. */
    long buildNanos();
    /** Engines built so far (one per step shape). */
    int enginesBuilt();
    /** The LoRA adapters the runner serves, in id order (id = index + 1); empty for the base model only. */
    List<LoraAdapter> adapters();
    /** The id of a LoRA adapter the runner serves (0 for null, the base model); an unknown one is refused naming it. */
    int adapterId(String adapter);
    /** A KV cache for this model with {@code blocks} blocks of {@code blockSize} tokens. */
    C newCache(int blockSize, int blocks);

    /**
     * Runs one step: reserves each row's new tokens in the cache (the caller checks {@code canReserve} first: an
     * exhausted cache throws before any work), runs the batch, stores the new keys and values, and returns each row's
     * logits for every token it fed ([tokens][vocab]).
     */
    List<float[][]> stepAllLogits(List<DecoderRunner.Row> rows, C cache);

    /**
     * Whether {@link #step} and {@link #stepGreedy} run rows of different lengths (decode tokens beside prompt chunks) as
     * one engine run with no padding between them (a packed step, {@link GpuDecoderRunner#packSteps}); when false a
     * scheduler runs one-token rows and chunks as two calls, since a padded step would pad every decode row to the chunk.
     */
    default boolean packsSteps() { return false; }

    /** As {@link #stepAllLogits}, returning each row's logits for its last token only. */
    default List<float[]> step(List<DecoderRunner.Row> rows, C cache) {
        List<float[]> last = new ArrayList<>();
        for (float[][] all : stepAllLogits(rows, cache)) last.add(all[all.length - 1]);
        return last;
    }

    /**
     * As {@link #step}, returning each row's greedy next token ({@link Sampler#greedy}: the arg-max of its last logits,
     * the lowest id on a tie). A runner on a GPU picks it on the device and downloads one int a row.
     */
    default long[] stepGreedy(List<DecoderRunner.Row> rows, C cache) {
        List<float[]> last = step(rows, cache);
        long[] next = new long[last.size()];
        for (int i = 0; i < next.length; i++) next[i] = Sampler.greedy().next(last.get(i));
        return next;
    }

    /**
     * Greedy decoding of {@code steps} tokens for rows that each feed one token (their last): each step feeds every row
     * the token the step before picked. Returns each row's tokens, [rows][steps]. A runner on a GPU runs the steps ahead
     * of the host, the tokens fed back on the device ({@link GpuDecoderRunner#decodeGreedy}); this one steps one at a time.
     */
    default long[][] decodeGreedy(List<DecoderRunner.Row> rows, int steps, C cache) {
        long[][] out = new long[rows.size()][steps];
        List<DecoderRunner.Row> cur = rows;
        for (int k = 0; k < steps; k++) {
            long[] next = stepGreedy(cur, cache);
            List<DecoderRunner.Row> fed = new ArrayList<>();
            for (int r = 0; r < next.length; r++) {
                out[r][k] = next[r];
                fed.add(cur.get(r).withTokens(new long[] {next[r]}));
            }
            cur = fed;
        }
        return out;
    }
}
