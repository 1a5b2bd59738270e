package org.tessel.passes.memory;

import java.util.Map;
import org.tessel.ir.Value;

/**
 * Where every activation lives in one arena. Values that share a buffer (in-place ops, views)
 * have the same offset. {@code lowerBoundBytes} is the largest total of buffers live at one
 * step: no placement of these buffers can use less.
 */
public record MemoryPlan(Map<Value, Allocation> allocations, long arenaBytes, long lowerBoundBytes, int buffers, int inPlaceReuses) {
    /** One value's slot: byte offset and size in the arena, its buffer, and its live steps [first, last]. */
    public record Allocation(long offset, long bytes, int buffer, int firstStep, int lastStep) {}

    public double ratioToBound() { return lowerBoundBytes == 0 ? 1.0 : (double) arenaBytes / lowerBoundBytes; }

    public Allocation of(Value v) { return allocations.get(v); }
}
