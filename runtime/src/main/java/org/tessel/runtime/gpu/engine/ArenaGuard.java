package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongUnaryOperator;
import org.tessel.ir.Value;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;

/**
 * The arena of a guarded engine ({@link GpuEngine#buildGuarded}): a test facility for kernels that may write outside
 * their outputs (a plugin's CUDA C, a new Tessel kernel). Every buffer of the memory plan gets a slot of its own (no
 * reuse between buffers, so a stray write cannot land in another live tensor) followed by a guard of
 * {@link #GUARD_F32_BYTES} filled with {@link #PATTERN}, from the end of its largest value's data; the execution context runs the layers one at a time and
 * checks every guard after each, so the first layer that wrote past its outputs is named with the tensor whose guard
 * it hit. Reads out of bounds are not detected (they read the pattern). Integer and bool values and graph inputs live
 * outside the arena and are not guarded.
 */
final class ArenaGuard {
    /** Guard bytes after each slot, in the memory plan's f32 units (scaled to the arena's element width like the offsets). */
    static final long GUARD_F32_BYTES = 1024;
    static final byte PATTERN = (byte) 0xA5;
    private static final long ALIGN = 256;

    /** A guard: [offset, offset + bytes) in f32 units, after the slot holding {@code values}. */
    record Gap(long offset, long bytes, List<Value> values) {}

    private final MemoryPlan plan;
    private final List<Gap> gaps;

    private ArenaGuard(MemoryPlan plan, List<Gap> gaps) {
        this.plan = plan;
        this.gaps = gaps;
    }

    /** Lays {@code base}'s buffers out one after another, each followed by a guard; values sharing a buffer (views, in place) keep sharing it. */
    static ArenaGuard of(MemoryPlan base) {
        Map<Integer, List<Map.Entry<Value, MemoryPlan.Allocation>>> byBuffer = new TreeMap<>();
        List<Map.Entry<Value, MemoryPlan.Allocation>> entries = new ArrayList<>(base.allocations().entrySet());
        entries.sort(Comparator.comparingInt((Map.Entry<Value, MemoryPlan.Allocation> e) -> e.getValue().buffer()).thenComparing(e -> e.getKey().name()));
        for (var e : entries) byBuffer.computeIfAbsent(e.getValue().buffer(), k -> new ArrayList<>()).add(e);
        Map<Value, MemoryPlan.Allocation> placed = new LinkedHashMap<>();
        List<Gap> gaps = new ArrayList<>();
        long at = GUARD_F32_BYTES; // a guard before the first slot too
        gaps.add(new Gap(0, GUARD_F32_BYTES, List.of()));
        for (var slot : byBuffer.values()) {
            long base0 = Long.MAX_VALUE, end = 0;
            for (var e : slot) base0 = Math.min(base0, e.getValue().offset());
            // the guard starts where the largest value's data ends, not at the planner's aligned size, so a write one
            // element past the end is caught
            for (var e : slot) end = Math.max(end, e.getValue().offset() + e.getKey().type().bytes());
            List<Value> values = new ArrayList<>();
            for (var e : slot) {
                MemoryPlan.Allocation a = e.getValue();
                placed.put(e.getKey(), new MemoryPlan.Allocation(at + a.offset() - base0, a.bytes(), a.buffer(), a.firstStep(), a.lastStep()));
                values.add(e.getKey());
            }
            long gapStart = at + (end - base0);
            long next = align(gapStart + GUARD_F32_BYTES);
            gaps.add(new Gap(gapStart, next - gapStart, List.copyOf(values)));
            at = next;
        }
        MemoryPlan guarded = new MemoryPlan(placed, at, base.lowerBoundBytes(), base.buffers(), 0);
        return new ArenaGuard(guarded, List.copyOf(gaps));
    }

    private static long align(long x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

    MemoryPlan plan() { return plan; }

    List<Gap> gaps() { return gaps; }

    /** Fills every guard of {@code arena} with the pattern ({@code scale}: f32 units to the arena's bytes). */
    void arm(DeviceBuffer arena, LongUnaryOperator scale) {
        for (Gap g : gaps) arena.slice(scale.applyAsLong(g.offset()), scale.applyAsLong(g.bytes())).fill(PATTERN);
    }

    /**
     * Checks every guard after {@code layer} ran (its stream synchronized); throws naming the layer, the tensor whose
     * guard changed and the bytes past its end that it wrote. The guards are re-armed first, so the error is the layer's alone.
     */
    void check(DeviceBuffer arena, LongUnaryOperator scale, LayerPlan layer) {
        Map<Gap, int[]> hit = new HashMap<>();
        for (Gap g : gaps) {
            long off = scale.applyAsLong(g.offset()), len = scale.applyAsLong(g.bytes());
            byte[] b = new byte[Math.toIntExact(len)];
            arena.slice(off, len).copyTo(b);
            int first = -1, last = -1;
            for (int i = 0; i < b.length; i++)
                if (b[i] != PATTERN) {
                    if (first < 0) first = i;
                    last = i;
                }
            if (first >= 0) {
                hit.put(g, new int[] {first, last});
                arena.slice(off, len).fill(PATTERN);
            }
        }
        if (hit.isEmpty()) return;
        Gap g = gaps.stream().filter(hit::containsKey).findFirst().orElseThrow();
        int[] r = hit.get(g);
        String where = g.values().isEmpty() ? "the guard before the first tensor of the arena"
                : "the guard after %" + g.values().get(0).name() + (g.values().size() > 1 ? " (and the " + (g.values().size() - 1) + " values sharing its buffer)" : "");
        throw new GpuEngineException("layer " + layer.node() + " (" + layer.tactic() + ") wrote outside its outputs: " + where + " changed at bytes "
                + r[0] + ".." + r[1] + " past the end of its slot" + (hit.size() > 1 ? " (" + hit.size() + " guards changed)" : ""));
    }
}
