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
