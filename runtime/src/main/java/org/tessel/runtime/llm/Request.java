package org.tessel.runtime.llm;

/**
 * A generation request: token ids in (the zoo decoders have no tokenizer), at most
 * {@code maxNewTokens} ids out, arriving {@code arrivalSeconds} after the run starts, with its own
 * sampler, through LoRA adapter {@code adapter} (null: the base model; see {@link DecoderRunner#withAdapters}).
 */
public record Request(String id, long[] prompt, int maxNewTokens, double arrivalSeconds, Sampler sampler, String adapter) {
    public Request {
        if (prompt.length == 0) throw new IllegalArgumentException("request " + id + ": the prompt has no tokens");
        if (maxNewTokens < 1) throw new IllegalArgumentException("request " + id + ": max new tokens must be at least 1, got " + maxNewTokens);
        if (arrivalSeconds < 0) throw new IllegalArgumentException("request " + id + ": arrival time " + arrivalSeconds + " s is negative");
    }

    /** A request to the base model. */
    public Request(String id, long[] prompt, int maxNewTokens, double arrivalSeconds, Sampler sampler) {
        this(id, prompt, maxNewTokens, arrivalSeconds, sampler, null);
    }
}
