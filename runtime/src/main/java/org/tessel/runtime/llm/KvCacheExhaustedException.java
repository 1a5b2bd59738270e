package org.tessel.runtime.llm;

/** The paged KV cache has too few free blocks for a sequence; nothing was taken. */
public final class KvCacheExhaustedException extends RuntimeException {
    private final String sequence;

    public KvCacheExhaustedException(String sequence, String message) {
        super(message);
        this.sequence = sequence;
    }

    /** The sequence (request) that was refused. */
    public String sequence() { return sequence; }
}
