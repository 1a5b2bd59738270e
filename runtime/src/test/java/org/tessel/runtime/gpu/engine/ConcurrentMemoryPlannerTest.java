package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.passes.streams.StreamAssigner;
import org.tessel.passes.streams.StreamAssignment;

/**
 * The multi-stream memory plan checked by simulation, independently of how it was made: many
 * random executions that respect only what the streams guarantee (each stream's order and the
 * assignment's events) run the layers in some order, and at every step no two live values may
 * overlap in memory unless they are one buffer (a view of the other).
 */
class ConcurrentMemoryPlannerTest {
    @ParameterizedTest
    @CsvSource({"googlenet, 4", "googlenet, 2", "resnet50, 4", "mobilenetv2, 3", "bert-tiny, 4", "vit-tiny, 4"})
    void noTwoLiveValuesOverlapInAnyExecutionTheStreamsAllow(String model, int streams) {
        Graph g = Zoo.build(model);
        new PassManager().run(g, StandardPipelines.STANDARD);
        StreamAssignment sa = new StreamAssigner(streams).assign(g);
        MemoryPlan sequential = new LivenessMemoryPlanner().plan(g);
        MemoryPlan plan = ConcurrentMemoryPlanner.plan(g, sa, sequential.lowerBoundBytes());
        List<Node> nodes = g.nodes();
        // the orderings the streams guarantee: stream order and events
        Map<Node, List<Node>> preds = streamOrder(nodes, sa);
        SplittableRandom r = new SplittableRandom(11);
        int executions = 300;
        for (int run = 0; run < executions; run++) {
            List<Node> order = run == 0 ? nodes : randomLinearExtension(nodes, preds, r);
            check(g, plan, order, model + " run " + run);
        }
        assertTrue(plan.arenaBytes() >= sequential.lowerBoundBytes(), "the arena cannot beat the sequential lower bound");
        System.out.printf("%s, %d streams (%d used, %d events): arena %.2f MiB, sequential plan %.2f MiB, bound %.2f MiB%n", model, streams,
                sa.streamsUsed(), sa.events().size(), plan.arenaBytes() / 1048576.0, sequential.arenaBytes() / 1048576.0, sequential.lowerBoundBytes() / 1048576.0);
    }

    /** The checker is not blind: the sequential liveness plan is unsafe once GoogLeNet's branches run concurrently. */
    @org.junit.jupiter.api.Test
    void theSequentialPlanRacesUnderConcurrency() {
        Graph g = Zoo.build("googlenet");
        new PassManager().run(g, StandardPipelines.STANDARD);
        StreamAssignment sa = new StreamAssigner(4).assign(g);
        MemoryPlan sequential = new LivenessMemoryPlanner(256, false).plan(g);
        Map<Node, List<Node>> preds = streamOrder(g.nodes(), sa);
        SplittableRandom r = new SplittableRandom(5);
        int caught = 0;
        for (int run = 0; run < 100; run++) {
            try {
                check(g, sequential, randomLinearExtension(g.nodes(), preds, r), "sequential plan");
            } catch (AssertionError expected) {
                caught++;
            }
        }
        assertTrue(caught > 0, "100 concurrent executions never overlapped live values of the sequential plan");
    }

    @ParameterizedTest
    @CsvSource({"googlenet", "resnet50"})
    void oneStreamNeedsNoMoreThanNoReuseAtAll(String model) {
        Graph g = Zoo.build(model);
        new PassManager().run(g, StandardPipelines.STANDARD);
        StreamAssignment one = new StreamAssigner(1).assign(g);
        MemoryPlan plan = ConcurrentMemoryPlanner.plan(g, one, 0);
        long total = 0;
        for (Node n : g.nodes()) total += n.output().type().bytes();
        assertTrue(plan.arenaBytes() < total / 4, "one stream is sequential: memory must be reused (arena " + plan.arenaBytes() + " of " + total + ")");
        check(g, plan, g.nodes(), model + " sequential");
        assertEquals(1, one.streamsUsed());
    }

    /** What the streams guarantee runs before each node: the previous node on its stream and the assignment's events. */
    private static Map<Node, List<Node>> streamOrder(List<Node> nodes, StreamAssignment sa) {
        Map<Node, List<Node>> preds = new IdentityHashMap<>();
        Map<Integer, Node> lastOnStream = new HashMap<>();
        for (Node n : nodes) {
            List<Node> p = new ArrayList<>();
            Node prev = lastOnStream.put(sa.stream(n), n);
            if (prev != null) p.add(prev);
            preds.put(n, p);
        }
        for (StreamAssignment.Event e : sa.events()) preds.get(e.before()).add(e.after());
        return preds;
    }

    private static List<Node> randomLinearExtension(List<Node> nodes, Map<Node, List<Node>> preds, SplittableRandom r) {
        Map<Node, Integer> waiting = new IdentityHashMap<>();
        Map<Node, List<Node>> succs = new IdentityHashMap<>();
        for (Node n : nodes) {
            waiting.put(n, preds.get(n).size());
            for (Node p : preds.get(n)) succs.computeIfAbsent(p, k -> new ArrayList<>()).add(n);
        }
        List<Node> ready = new ArrayList<>();
        for (Node n : nodes) if (waiting.get(n) == 0) ready.add(n);
        List<Node> out = new ArrayList<>();
        while (!ready.isEmpty()) {
            Node n = ready.remove(r.nextInt(ready.size()));
            out.add(n);
            for (Node s : succs.getOrDefault(n, List.of())) if (waiting.merge(s, -1, Integer::sum) == 0) ready.add(s);
        }
        assertEquals(nodes.size(), out.size(), "the stream order and events must form a DAG");
        return out;
    }

    /** Runs layers in {@code order}; a value is live from its producer until its last reader (graph outputs: to the end). */
    private static void check(Graph g, MemoryPlan plan, List<Node> order, String what) {
        Map<Value, Integer> readersLeft = new IdentityHashMap<>();
        for (Node n : g.nodes()) for (Value in : n.inputs()) if (in != null && plan.of(in) != null) readersLeft.merge(in, 1, Integer::sum);
        java.util.Set<Value> outputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        outputs.addAll(g.outputs());
        List<Value> live = new ArrayList<>();
        for (Node n : order) {
            for (Value out : n.outputs()) {
                MemoryPlan.Allocation a = plan.of(out);
                if (a == null) continue;
                for (Value l : live) {
                    MemoryPlan.Allocation b = plan.of(l);
                    boolean overlap = a.offset() < b.offset() + b.bytes() && b.offset() < a.offset() + a.bytes();
                    boolean sameBuffer = a.buffer() == b.buffer();
                    if (overlap && !sameBuffer)
                        fail(what + ": %" + out.name() + " (written by " + n.name() + ") overlaps %" + l.name() + " which is still to be read");
                }
                live.add(out);
            }
            for (Value in : n.inputs()) {
                if (in == null || !readersLeft.containsKey(in)) continue;
                if (readersLeft.merge(in, -1, Integer::sum) == 0 && !outputs.contains(in)) live.remove(in);
            }
            live.removeIf(v -> !readersLeft.containsKey(v) && !outputs.contains(v));
        }
    }
}
