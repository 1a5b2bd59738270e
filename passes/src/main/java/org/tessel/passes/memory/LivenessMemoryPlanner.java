package org.tessel.passes.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Plans activation memory ("dynamic tensor memory"): computes each node result's live range over
 * the node order, lets an op write over an input that dies at it (elementwise ops of equal size)
 * and lets views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share their input's buffer, then
 * places the buffers in one arena greedily by size: each buffer, largest first, goes to the
 * lowest offset that no time-overlapping buffer occupies. Graph inputs and constants are bound
 * outside the arena; graph outputs live to the end.
 *
 * <p>Slices: a node the caller names as slicing its input (a Split the engine plan runs as views, its
 * outputs consecutive parts of input 0) has each output share the input's buffer at the part's offset,
 * so the buffer stays live while any part is; a view of a part shares it too, at the same offset, even
 * where the other parts are still live (a view writes nothing). Only the caller knows which Splits its
 * kernels leave in place, so by default nothing is sliced.
 *
 * <p>It scales to graphs of millions of nodes: a buffer's reuse check is O(1) (its last use is
 * kept up to date), and placement finds the placed buffers that overlap a new one in time through
 * an index ({@link PlacedIndex}) in O(log n + overlaps), not by scanning every placed buffer.
 */
public final class LivenessMemoryPlanner {
    /** Ops whose output may be the same memory as input 0 (a view, no data movement). */
    private static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");

    private final long alignment;
    private final boolean inPlace;

    public LivenessMemoryPlanner() { this(256, true); }

    public LivenessMemoryPlanner(long alignment, boolean inPlace) {
        this.alignment = alignment;
        this.inPlace = inPlace;
    }

    private static final class Buffer {
        final int id;
        long bytes;
        int first, last;
        long offset = -1;
        Buffer(int id, long bytes, int first) { this.id = id; this.bytes = bytes; this.first = first; this.last = first; }
    }

    public MemoryPlan plan(Graph g) { return plan(g, n -> false); }

    /** The plan where each node {@code slices} accepts has its outputs placed as consecutive parts of its input 0 (see above). */
    public MemoryPlan plan(Graph g, java.util.function.Predicate<Node> slices) {
        List<Node> nodes = g.nodes();
        int end = nodes.size();
        Map<Value, Integer> lastUse = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) for (Value v : nodes.get(i).inputs()) if (v != null) lastUse.put(v, i);
        for (Value o : g.outputs()) lastUse.put(o, end);
        Map<Value, Buffer> bufOf = new IdentityHashMap<>();
        // values that are a part of their buffer: their offset in it (whole-buffer values have none)
        Map<Value, Long> partAt = new IdentityHashMap<>();
        List<Buffer> buffers = new ArrayList<>();
        int reuses = 0;
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            Buffer sliced = inPlace && slices.test(n) ? sliceable(n, i, bufOf) : null;
            long at = sliced == null ? 0 : partAt.getOrDefault(n.input(0), 0L);
            for (int k = 0; k < n.outputs().size(); k++) {
                Value out = n.output(k);
                long bytes = align(out.type().bytes());
                Buffer shared = sliced != null ? sliced : k == 0 && inPlace ? reusable(n, i, bytes, bufOf, partAt) : null;
                if (sliced != null) {
                    partAt.put(out, at);
                    at += out.type().bytes();
                } else if (shared != null && isView(n) && partAt.containsKey(n.input(0))) partAt.put(out, partAt.get(n.input(0)));
                if (shared != null) {
                    reuses++;
                    bufOf.put(out, shared);
                } else {
                    Buffer b = new Buffer(buffers.size(), bytes, i);
                    buffers.add(b);
                    bufOf.put(out, b);
                }
                Buffer b = bufOf.get(out);
                b.last = Math.max(b.last, lastUse.getOrDefault(out, i));
            }
        }
        long bound = lowerBound(buffers, end);
        place(buffers, end);
        long arena = 0;
        for (Buffer b : buffers) arena = Math.max(arena, b.offset + b.bytes);
        Map<Value, MemoryPlan.Allocation> alloc = new LinkedHashMap<>();
        for (Node n : nodes)
            for (Value v : n.outputs()) {
                Buffer b = bufOf.get(v);
                Long at = partAt.get(v);
                alloc.put(v, at == null ? new MemoryPlan.Allocation(b.offset, align(v.type().bytes()), b.id, b.first, b.last)
                        : new MemoryPlan.Allocation(b.offset + at, v.type().bytes(), b.id, b.first, b.last));
            }
        return new MemoryPlan(alloc, arena, bound, buffers.size(), reuses);
    }

    /**
     * The buffer of node {@code n}'s input 0 when its outputs can be consecutive parts of it: the input dies here and the
     * outputs cover it exactly; null otherwise (the node then gets buffers of its own).
     */
    private static Buffer sliceable(Node n, int step, Map<Value, Buffer> bufOf) {
        Value in = n.input(0);
        Buffer b = in == null ? null : bufOf.get(in);
        if (b == null || b.last > step) return null;
        long total = 0;
        for (Value o : n.outputs()) total += o.type().bytes();
        return total == in.type().bytes() ? b : null;
    }

    /**
     * A node whose output is its input's bytes as they lie: the view ops, and a layout reformat between two layouts that
     * store the tensor in the same order (one channel, or one pixel: {@link org.tessel.api.Layout#sameOrderBothWays}).
     */
    public static boolean isView(Node n) {
        return VIEWS.contains(n.opName()) || n.opName().equals("tessel.Reformat") && n.input(0) != null && org.tessel.api.Layout.sameOrderBothWays(n.input(0).type().shape());
    }

    /** The buffer of an input this node may overwrite or view, or null. */
    private Buffer reusable(Node n, int step, long bytes, Map<Value, Buffer> bufOf, Map<Value, Long> partAt) {
        boolean view = isView(n);
        boolean elementwise = n.op().has(Trait.ELEMENTWISE) && n.body() == null;
        if (!view && !elementwise) return null;
        // a view of a part reads it where it lies, while the buffer lives on for the other parts
        if (view && n.input(0) != null && partAt.containsKey(n.input(0)) && n.input(0).type().bytes() == n.output().type().bytes()) return bufOf.get(n.input(0));
        for (int i = 0; i < (view ? 1 : n.numInputs()); i++) {
            Value in = n.input(i);
            Buffer b = in == null ? null : bufOf.get(in);
            if (b == null || b.bytes != bytes || partAt.containsKey(in)) continue;
            // the buffer must not be needed after this step by any value it holds: b.last is the latest of their last uses
            boolean dies = b.last <= step;
            if (dies && (view || in.type().sameLogicalType(n.output().type()) || in.type().bytes() == n.output().type().bytes())) return b;
        }
        return null;
    }

    private static long lowerBound(List<Buffer> buffers, int end) {
        long[] delta = new long[end + 2];
        for (Buffer b : buffers) { delta[b.first] += b.bytes; delta[b.last + 1] -= b.bytes; }
        long cur = 0, best = 0;
        for (long d : delta) { cur += d; best = Math.max(best, cur); }
        return best;
    }

    /** Greedy by size: largest first, lowest offset free of every time-overlapping placed buffer. */
    private static void place(List<Buffer> buffers, int end) {
        List<Buffer> order = new ArrayList<>(buffers);
        order.sort(Comparator.comparingLong((Buffer b) -> -b.bytes).thenComparingInt(b -> b.first));
        PlacedIndex placed = new PlacedIndex(end + 1);
        for (Buffer b : order) {
            List<Buffer> overlapping = placed.overlapping(b.first, b.last);
            overlapping.sort(Comparator.comparingLong(p -> p.offset));
            long offset = 0;
            for (Buffer p : overlapping) {
                if (p.offset - offset >= b.bytes) break;
                offset = Math.max(offset, p.offset + p.bytes);
            }
            b.offset = offset;
            placed.add(b);
        }
    }

    /**
     * Placed buffers by live range [first, last] over steps 0..steps-1, answering "which overlap
     * [a, b]?" in O(log n + answer): those that contain step a (a segment tree over the steps, each
     * range stored at the O(log n) tree nodes that cover it, found by walking from the root to leaf
     * a), and those that start in (a, b] (by start step).
     */
    private static final class PlacedIndex {
        private final int size;
        private final List<List<Buffer>> covering;
        private final java.util.TreeMap<Integer, List<Buffer>> byStart = new java.util.TreeMap<>();

        PlacedIndex(int steps) {
            int s = 1;
            while (s < steps) s <<= 1;
            size = s;
            covering = new ArrayList<>(java.util.Collections.nCopies(2 * s, null));
        }

        void add(Buffer b) {
            byStart.computeIfAbsent(b.first, k -> new ArrayList<>()).add(b);
            // the canonical cover of [first, last] in the implicit tree over [0, size)
            for (int lo = b.first + size, hi = b.last + size + 1; lo < hi; lo >>= 1, hi >>= 1) {
                if ((lo & 1) == 1) store(lo++, b);
                if ((hi & 1) == 1) store(--hi, b);
            }
        }

        private void store(int node, Buffer b) {
            if (covering.get(node) == null) covering.set(node, new ArrayList<>(2));
            covering.get(node).add(b);
        }

        List<Buffer> overlapping(int a, int b) {
            List<Buffer> out = new ArrayList<>();
            for (int node = a + size; node >= 1; node >>= 1) if (covering.get(node) != null) out.addAll(covering.get(node));
            for (List<Buffer> l : byStart.subMap(a, false, b, true).values()) out.addAll(l);
            return out;
        }
    }

    private long align(long bytes) { return (bytes + alignment - 1) / alignment * alignment; }
}
