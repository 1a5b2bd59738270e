package org.tessel.runtime.llm;

/**
 * A paged KV cache as its runner's callers see it ({@link BatchScheduler}, {@link SpeculativeDecoder}): sequences of
 * cached tokens in blocks of one {@link KvBlockAllocator}, each sequence's length, and cutting a sequence back (rejected
 * speculative tokens). The keys and values themselves are the runner's business: {@link PagedKvCache} holds them in
 * host arrays, {@link GpuPagedKvCache} in device pools, which {@link #close} frees.
 */
public interface KvCache extends AutoCloseable {
    KvBlockAllocator allocator();
    int blockSize();
    int numBlocks();
    boolean contains(String seq);
    /** Tokens cached for {@code seq}. */
    int length(String seq);
    /** Keeps the first {@code length} tokens of {@code seq}, releasing the blocks past them. */
    void truncate(String seq, int length);
    void free(String seq);
    /** Frees what the cache holds outside the Java heap (nothing, for host caches); no exception. */
    @Override void close();
}
