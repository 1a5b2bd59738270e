package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.passes.streams.StreamAssigner;
import org.tessel.passes.streams.StreamAssignment;

class MemoryAndStreamsTest {
    /** x -> a -> b -> c -> d, each f32[256] (1 KiB): a chain needs two live buffers at a time. */
    private static Graph chain(boolean elementwise) {
        NetworkBuilder b = new NetworkBuilder("chain");
        Value x = b.input("x", DType.F32, 256);
        Value v = x;
        for (int i = 0; i < 4; i++) v = elementwise ? b.relu(v) : b.softmax(v, 0);
        return b.output(v).build();
    }

    @Test void chainOfNonInPlaceOpsUsesTwoBuffers() {
        MemoryPlan p = new LivenessMemoryPlanner().plan(chain(false));
        assertEquals(2048, p.lowerBoundBytes());
        assertEquals(2048, p.arenaBytes());
        assertNoOverlap(chain(false), p);
    }

    @Test void elementwiseChainRunsInPlace() {
        MemoryPlan p = new LivenessMemoryPlanner().plan(chain(true));
        assertEquals(1024, p.arenaBytes());
        assertEquals(3, p.inPlaceReuses());
        MemoryPlan off = new LivenessMemoryPlanner(256, false).plan(chain(true));
        assertEquals(2048, off.arenaBytes(), "must not reuse when in-place is off");
    }

    @Test void inPlaceMustNotFireWhenTheInputIsStillNeeded() {
        NetworkBuilder b = new NetworkBuilder("fork");
        Value x = b.input("x", DType.F32, 256);
        Value a = b.softmax(x, 0);
        Value r = b.relu(a);          // a is still used below: relu must not overwrite it
        Value s = b.add(r, a);
        Graph g = b.output(s).build();
        MemoryPlan p = new LivenessMemoryPlanner().plan(g);
        assertNotEquals(p.of(a).offset(), p.of(r).offset());
        assertNoOverlap(g, p);
    }

    /** x[4,96] -> softmax a -> Split into q, k, v [4,32] -> q reshaped then softmaxed, k and v softmaxed; {@code aAgain}: a read again at the end. */
    private static Graph qkv(boolean aAgain) {
        NetworkBuilder b = new NetworkBuilder("qkv");
        Value x = b.input("x", DType.F32, 4, 96);
        Value a = b.softmax(x, 1);
        List<Value> parts = b.split(a, -1, 32, 32, 32);
        Value q = b.softmax(b.reshape(parts.get(0), 4, 2, 16), 2);
        Value k = b.softmax(parts.get(1), 1), v = b.softmax(parts.get(2), 1);
        return aAgain ? b.output(q, k, v, b.softmax(a, 1)).build() : b.output(q, k, v).build();
    }

    private static Node split(Graph g) { return g.nodes().stream().filter(n -> n.opName().equals("Split")).findFirst().orElseThrow(); }

    @Test void aSlicedSplitsPartsLieInItsInputsBufferWhichLivesWhileAnyPartDoes() {
        Graph g = qkv(false);
        Node split = split(g);
        MemoryPlan p = new LivenessMemoryPlanner().plan(g, n -> n == split);
        MemoryPlan.Allocation a = p.of(split.input(0));
        for (int j = 0; j < 3; j++) {
            MemoryPlan.Allocation part = p.of(split.output(j));
            assertEquals(a.buffer(), part.buffer(), "part " + j);
            assertEquals(a.offset() + j * 512L, part.offset(), "part " + j + ": 4x32 f32 after the ones before it");
            assertEquals(512, part.bytes());
        }
        // the view of q reads it where it lies, though k and v are still to be read
        Value reshaped = g.users().get(split.output(0)).getFirst().output();
        assertEquals(p.of(split.output(0)).offset(), p.of(reshaped).offset());
        assertEquals(a.buffer(), p.of(reshaped).buffer());
        // the buffer lives until v's softmax, the last reader of a part
        int vRead = g.nodes().indexOf(g.users().get(split.output(2)).getFirst());
        assertEquals(vRead, a.lastStep());
        assertEquals(4, p.inPlaceReuses(), "three parts and the view");
        assertNoOverlap(g, p);
        // by default nothing is sliced: each part has a buffer of its own
        MemoryPlan plain = new LivenessMemoryPlanner().plan(g);
        for (int j = 0; j < 3; j++) assertNotEquals(plain.of(split.input(0)).buffer(), plain.of(split.output(j)).buffer(), "part " + j);
    }

    @Test void aSplitWhoseInputIsStillNeededIsNotSliced() {
        Graph g = qkv(true);
        Node split = split(g);
        MemoryPlan p = new LivenessMemoryPlanner().plan(g, n -> n == split);
        for (int j = 0; j < 3; j++) assertNotEquals(p.of(split.input(0)).buffer(), p.of(split.output(j)).buffer(), "part " + j);
        assertNoOverlap(g, p);
    }

    /** No two values whose live ranges overlap may share bytes unless they share a buffer. */
    static void assertNoOverlap(Graph g, MemoryPlan p) {
        var all = List.copyOf(p.allocations().entrySet());
        for (int i = 0; i < all.size(); i++)
            for (int j = i + 1; j < all.size(); j++) {
                var a = all.get(i).getValue();
                var c = all.get(j).getValue();
                if (a.buffer() == c.buffer()) continue;
                boolean time = a.firstStep() <= c.lastStep() && c.firstStep() <= a.lastStep();
                boolean space = a.offset() < c.offset() + c.bytes() && c.offset() < a.offset() + a.bytes();
                assertFalse(time && space, all.get(i).getKey() + " overlaps " + all.get(j).getKey());
            }
        assertTrue(p.arenaBytes() >= p.lowerBoundBytes());
    }

    /**
     * The planner finds overlapping buffers through an index; this is the placement it must equal:
     * every buffer, largest first (then by first step, then id), at the lowest offset clear of every
     * placed buffer whose live steps overlap its own, found by scanning them all.
     */
    @Test void indexedPlacementEqualsTheScanOfEveryPlacedBuffer() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(13);
        for (int trial = 0; trial < 300; trial++) {
            List<Integer> program = new java.util.ArrayList<>();
            int len = 1 + r.nextInt(trial < 250 ? 40 : 400);
            for (int i = 0; i < len; i++) program.add(r.nextInt(1 << 20));
            Graph g = RandomGraphs.build(program);
            MemoryPlan p = new LivenessMemoryPlanner().plan(g);
            // per buffer: bytes, first, last step and the offset the planner chose
            java.util.TreeMap<Integer, long[]> buffers = new java.util.TreeMap<>();
            for (MemoryPlan.Allocation a : p.allocations().values())
                buffers.putIfAbsent(a.buffer(), new long[] {a.bytes(), a.firstStep(), a.lastStep(), a.offset()});
            List<Integer> order = new java.util.ArrayList<>(buffers.keySet());
            order.sort(java.util.Comparator.comparingLong((Integer id) -> -buffers.get(id)[0]).thenComparingLong(id -> buffers.get(id)[1]).thenComparingInt(id -> id));
            List<long[]> placed = new java.util.ArrayList<>();
            long arena = 0;
            for (int id : order) {
                long[] b = buffers.get(id);
                List<long[]> overlapping = new java.util.ArrayList<>();
                for (long[] q : placed) if (q[1] <= b[2] && b[1] <= q[2]) overlapping.add(q);
                overlapping.sort(java.util.Comparator.comparingLong(q -> q[4]));
                long offset = 0;
                for (long[] q : overlapping) {
                    if (q[4] - offset >= b[0]) break;
                    offset = Math.max(offset, q[4] + q[0]);
                }
                assertEquals(offset, b[3], "buffer " + id + " of " + program);
                placed.add(new long[] {b[0], b[1], b[2], id, offset});
                arena = Math.max(arena, offset + b[0]);
            }
            assertEquals(arena, p.arenaBytes());
        }
    }

    /** An in-place chain reuses one buffer through every step, and a value still read later keeps its own. */
    @Test void inPlaceReuseFollowsTheBuffersLastUseThroughALongChain() {
        NetworkBuilder b = new NetworkBuilder("long");
        Value x = b.input("x", DType.F32, 256);
        Value head = b.softmax(x, 0);
        Value v = head;
        for (int i = 0; i < 1000; i++) v = b.relu(v);
        Graph g = b.output(b.add(v, head)).build();
        MemoryPlan p = new LivenessMemoryPlanner().plan(g);
        assertEquals(1000, p.inPlaceReuses(), "the relus run in the first relu's buffer, the add in theirs");
        assertEquals(2 * 1024, p.arenaBytes(), "head stays live to the end, beside the one buffer of the chain");
    }

    @Test void branchesGoToSeparateStreamsWithEventsAtTheJoin() {
        NetworkBuilder b = new NetworkBuilder("branches");
        Value x = b.input("x", DType.F32, 1, 8);
        Value p1 = b.softmax(b.relu(x), 1);
        Value p2 = b.softmax(b.sigmoid(x), 1);
        Value p3 = b.softmax(b.tanh(x), 1);
        Graph g = b.output(b.concat(1, p1, p2, p3)).build();
        StreamAssignment a = new StreamAssigner(4).assign(g);
        assertEquals(3, a.streamsUsed());
        Node concat = g.nodes().get(g.nodes().size() - 1);
        assertEquals(2, a.events().stream().filter(e -> e.before() == concat).count(), a.events().toString());
        StreamAssignment one = new StreamAssigner(1).assign(g);
        assertEquals(1, one.streamsUsed());
        assertTrue(one.events().isEmpty());
    }

    @Test void chainStaysOnOneStream() {
        StreamAssignment a = new StreamAssigner(4).assign(chain(false));
        assertEquals(1, a.streamsUsed());
        assertTrue(a.events().isEmpty());
    }
}
