package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.passes.streams.StreamAssignment;

/**
 * An activation memory plan that stays correct when layers run on several streams. The liveness
 * planner reuses memory by position in the node order, which concurrent streams do not follow: a
 * layer on stream 1 may still read a buffer while a later layer on stream 0 overwrites it. Here two
 * buffers may share memory only when every reader of one is ordered before the writer of the
 * other: "ordered" is the happens-before relation of the streams' own order plus the assignment's
 * events, computed with vector clocks. Views share their input's buffer (one group, one offset), as
 * in the sequential plan; graph outputs are never reused. Placement is greedy by size, lowest
 * offset that overlaps no conflicting group. Sizes are the graph's (f32) bytes, like the liveness
 * planner's, so the engine scales both the same way.
 */
final class ConcurrentMemoryPlanner {
    private ConcurrentMemoryPlanner() {}

    static final long ALIGNMENT = 256;

    /** Happens-before over the node order under a stream assignment. */
    static final class Order {
        private final Map<Node, Integer> index = new IdentityHashMap<>();
        private final Map<Node, int[]> clock = new IdentityHashMap<>();
        private final StreamAssignment streams;

        Order(Graph g, StreamAssignment sa) {
            this.streams = sa;
            List<Node> nodes = g.nodes();
            int k = sa.streamsUsed();
            int[][] last = new int[k][];
            Map<Node, List<Node>> waits = new IdentityHashMap<>();
            for (StreamAssignment.Event e : sa.events()) waits.computeIfAbsent(e.before(), x -> new ArrayList<>()).add(e.after());
            for (int i = 0; i < nodes.size(); i++) {
                Node n = nodes.get(i);
                index.put(n, i);
                int s = sa.stream(n);
                int[] c = new int[k];
                java.util.Arrays.fill(c, -1);
                if (last[s] != null) max(c, last[s]);
                for (Node p : waits.getOrDefault(n, List.of())) max(c, clock.get(p));
                int[] own = c.clone();
                own[s] = i; // the clock AFTER n: everything before it on the streams, and n itself
                clock.put(n, own);
                last[s] = own;
                // the clock BEFORE n (what n waits for) is own with own[s] lowered to the previous node on s
            }
        }

        private static void max(int[] a, int[] b) { for (int i = 0; i < a.length; i++) a[i] = Math.max(a[i], b[i]); }

        /** True when {@code a} has finished before {@code b} starts, on every execution. */
        boolean before(Node a, Node b) {
            if (a == b) return false;
            int ia = index.get(a), ib = index.get(b);
            if (ia >= ib) return false;
            int sa = streams.stream(a), sb = streams.stream(b);
            int[] cb = clock.get(b);
            // b's clock at its own stream is b itself; anything earlier on b's stream precedes b in stream order
            return sa == sb ? ia < ib : cb[sa] >= ia;
        }
    }

    static MemoryPlan plan(Graph g, StreamAssignment sa, long lowerBound) {
        Order order = new Order(g, sa);
        // groups of values that share memory: a view's output joins its input's group (when the input is a node result)
        Map<Value, Group> groupOf = new IdentityHashMap<>();
        List<Group> groups = new ArrayList<>();
        Set<Value> outputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        outputs.addAll(g.outputs());
        for (Node n : g.nodes()) {
            for (Value out : n.outputs()) {
                if (out == null) continue;
                Value in = LivenessMemoryPlanner.isView(n) && n.numInputs() > 0 ? n.input(0) : null;
                Group grp = in != null && out == n.output() && groupOf.containsKey(in) && groupOf.get(in).bytes >= out.type().bytes() ? groupOf.get(in) : null;
                if (grp == null) {
                    grp = new Group(n, out.type().bytes());
                    groups.add(grp);
                }
                grp.values.add(out);
                groupOf.put(out, grp);
                if (outputs.contains(out)) grp.pinned = true;
            }
        }
        for (Node n : g.nodes())
            for (Value in : n.inputs()) {
                Group grp = in == null ? null : groupOf.get(in);
                if (grp != null) grp.readers.add(n);
            }
        for (Group grp : groups) if (grp.readers.isEmpty()) grp.readers.add(grp.producer);
        // greedy by size (ties by first appearance: the sort is stable), lowest offset clear of every placed conflicting group
        List<Group> bySize = new ArrayList<>(groups);
        bySize.sort(Comparator.comparingLong((Group x) -> -x.bytes));
        List<Group> placed = new ArrayList<>();
        long arena = 0;
        for (Group grp : bySize) {
            List<long[]> busy = new ArrayList<>();
            for (Group o : placed) if (conflict(grp, o, order)) busy.add(new long[] {o.offset, o.offset + align(o.bytes)});
            busy.sort(Comparator.comparingLong(x -> x[0]));
            long at = 0;
            for (long[] b : busy) {
                if (at + align(grp.bytes) <= b[0]) break;
                at = Math.max(at, b[1]);
            }
            grp.offset = at;
            placed.add(grp);
            arena = Math.max(arena, at + align(grp.bytes));
        }
        Map<Value, MemoryPlan.Allocation> allocations = new LinkedHashMap<>();
        for (int i = 0; i < groups.size(); i++) {
            Group grp = groups.get(i);
            for (Value v : grp.values) allocations.put(v, new MemoryPlan.Allocation(grp.offset, v.type().bytes(), i, -1, -1));
        }
        int shared = 0;
        for (Group grp : groups) shared += grp.values.size() - 1;
        return new MemoryPlan(allocations, arena, lowerBound, groups.size(), shared);
    }

    private static long align(long bytes) { return (Math.max(bytes, 1) + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

    /** Two groups may share memory only when all readers of one finish before the other's producer starts. */
    private static boolean conflict(Group a, Group b, Order order) {
        if (a.pinned || b.pinned) return true;
        return !(allBefore(a.readers, b.producer, order) || allBefore(b.readers, a.producer, order));
    }

    private static boolean allBefore(List<Node> readers, Node writer, Order order) {
        for (Node r : readers) if (!order.before(r, writer)) return false;
        return true;
    }

    private static final class Group {
        final Node producer;
        final long bytes;
        final List<Value> values = new ArrayList<>();
        final List<Node> readers = new ArrayList<>();
        boolean pinned;
        long offset;

        Group(Node producer, long bytes) { this.producer = producer; this.bytes = bytes; }
    }
}
