package org.tessel.runtime.llm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host memory for the KV blocks of idle sequences (a multi-turn session between turns), so their device blocks can
 * serve others and come back later without recomputing the context: {@link #offload} copies a sequence's blocks (every
 * layer's K and V) into host slots and frees them; {@link #prefetch} takes new device blocks for it, copies the slots
 * back into them and rewrites its block table (the tokens' positions are unchanged, only their blocks). The host
 * memory is a fixed budget cut into slots of one block of every layer; a sequence that does not fit is not offloaded.
 *
 * <p>Subclasses move the bytes: {@link CpuKvOffload} for {@link PagedKvCache} (a host pool standing for pinned memory),
 * {@link GpuKvOffload} for {@link GpuPagedKvCache} (pinned host memory, asynchronous copies on a stream of their own, so
 * a prefetch runs while other sequences' steps do). Not thread-safe: one scheduler owns it.
 */
public abstract class KvOffload implements AutoCloseable {
    private final KvBlockAllocator blocks;
    private final long blockBytes, budgetBytes;
    private final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();
    private final Map<String, Stored> stored = new LinkedHashMap<>();
    private final Map<String, List<Integer>> inFlight = new LinkedHashMap<>();
    private long bytesOut, bytesIn;

    private record Stored(int tokens, List<Integer> slots) {}

    /** {@code blockBytes}: bytes of one block over every layer's K and V pool. */
    protected KvOffload(KvBlockAllocator blocks, long blockBytes, long budgetBytes) {
        if (budgetBytes <= 0)
            throw new IllegalArgumentException("KV offload needs a host memory budget for the offloaded blocks, got " + budgetBytes + " bytes (give one, e.g. --host-kv-mb)");
        long slots = budgetBytes / blockBytes;
        if (slots < 1)
            throw new IllegalArgumentException("a host KV budget of " + budgetBytes + " bytes holds no block (one block of every layer's K and V is " + blockBytes + " bytes)");
        if (slots > Integer.MAX_VALUE) throw new IllegalArgumentException("a host KV budget of " + budgetBytes + " bytes is more than " + Integer.MAX_VALUE + " slots");
        this.blocks = blocks;
        this.blockBytes = blockBytes;
        this.budgetBytes = slots * blockBytes;
        for (int i = 0; i < slots; i++) freeSlots.add(i);
    }

    public KvBlockAllocator allocator() { return blocks; }
    /** Host bytes in use (whole slots). */
    public long hostBudgetBytes() { return budgetBytes; }
    public long hostUsedBytes() { return budgetBytes - (long) freeSlots.size() * blockBytes; }
    /** Bytes of one block of every layer's K and V. */
    public long blockBytes() { return blockBytes; }
    /** Bytes copied to the host so far, and back to the device. */
    public long bytesOffloaded() { return bytesOut; }
    public long bytesPrefetched() { return bytesIn; }

    /** Whether the host holds the sequence's KV. */
    public boolean holds(String seq) { return stored.containsKey(seq); }

    /** Tokens of the sequence the host holds (0 when none). */
    public int tokens(String seq) { Stored s = stored.get(seq); return s == null ? 0 : s.tokens(); }

    /** Whether the sequence's blocks fit the free host slots. */
    public boolean canHold(String seq) { return blocks.contains(seq) && blocks.blockTable(seq).size() <= freeSlots.size(); }

    /** Copies the sequence's blocks into host slots and frees them on the device; returns the bytes moved. */
    public long offload(String seq) {
        if (stored.containsKey(seq)) throw new IllegalStateException("sequence " + seq + " is offloaded already");
        List<Integer> table = new ArrayList<>(blocks.blockTable(seq));
        if (table.size() > freeSlots.size())
            throw new IllegalStateException("sequence " + seq + " needs " + table.size() + " host KV slots, " + freeSlots.size() + " are free (check canHold first)");
        int tokens = blocks.length(seq);
        List<Integer> slots = new ArrayList<>();
        for (int b : table) {
            int slot = freeSlots.poll();
            slots.add(slot);
            copyOut(b, slot * blockBytes);
        }
        finishOut(); // the device blocks may serve others only once their bytes are out
        blocks.free(seq);
        stored.put(seq, new Stored(tokens, slots));
        long moved = table.size() * blockBytes;
        bytesOut += moved;
        return moved;
    }

    /**
     * Takes device blocks for the sequence's offloaded tokens, starts copying them back and rewrites its block table
     * (the caller checks there are free blocks: an exhausted cache throws before anything moves); the copy may still
     * run until {@link #awaitPrefetch}, before which no step may use the sequence. Returns the bytes moved.
     */
    public long prefetch(String seq) {
        Stored s = stored.get(seq);
        if (s == null) throw new IllegalStateException("sequence " + seq + " is not offloaded");
        if (blocks.contains(seq)) throw new IllegalStateException("sequence " + seq + " is offloaded and also holds device blocks");
        blocks.reserve(seq, s.tokens());
        stored.remove(seq);
        List<Integer> table = blocks.blockTable(seq);
        for (int i = 0; i < s.slots().size(); i++) copyIn(s.slots().get(i) * blockBytes, table.get(i));
        blocks.advance(seq, s.tokens());
        inFlight.put(seq, s.slots());
        long moved = s.slots().size() * blockBytes;
        bytesIn += moved;
        return moved;
    }

    /** Waits for the sequence's prefetch to land; its host slots are free again. */
    public void awaitPrefetch(String seq) {
        List<Integer> slots = inFlight.remove(seq);
        if (slots == null) return;
        finishIn();
        freeSlots.addAll(slots);
    }

    /** Forgets the sequence's host copy (it finished, or will be recomputed). */
    public void drop(String seq) {
        Stored s = stored.remove(seq);
        if (s != null) freeSlots.addAll(s.slots());
    }

    /** Starts copying device block {@code block} (every layer's K and V) to host bytes at {@code hostOffset}. */
    protected abstract void copyOut(int block, long hostOffset);
    /** Waits until every started copy out has landed. */
    protected abstract void finishOut();
    /** Starts copying host bytes at {@code hostOffset} into device block {@code block}. */
    protected abstract void copyIn(long hostOffset, int block);
    /** Waits until every started copy in has landed. */
    protected abstract void finishIn();

    @Override public void close() {}
}
