package org.tessel.passes.streams;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Puts independent branches on different streams. Walking nodes in order, a node continues the
 * stream of a producer whose stream it would extend (that producer is the stream's latest node),
 * preferring the heaviest such producer; otherwise it starts on the least-loaded stream. Work is
 * estimated by MACs plus bytes written. A cross-stream edge becomes an event unless the consumer's
 * stream already waited for an event at or after that producer on its stream (vector clocks).
 */
public final class StreamAssigner {
    private final int maxStreams;

    public StreamAssigner(int maxStreams) {
        if (maxStreams < 1) throw new IllegalArgumentException("need at least one stream, got " + maxStreams);
        this.maxStreams = maxStreams;
    }

    public StreamAssignment assign(Graph g) {
        List<Node> nodes = g.nodes();
        Map<Node, Integer> index = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) index.put(nodes.get(i), i);
        Map<Node, Integer> streamOf = new LinkedHashMap<>();
        int[] lastOnStream = new int[maxStreams];
        java.util.Arrays.fill(lastOnStream, -1);
        double[] load = new double[maxStreams];
        int used = 0;
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            int chosen = -1;
            double bestWork = -1;
            for (Value in : n.inputs()) {
                Node p = in == null ? null : in.producer();
                if (p == null || !streamOf.containsKey(p)) continue;
                int s = streamOf.get(p);
                if (lastOnStream[s] == index.get(p) && work(p) > bestWork) { bestWork = work(p); chosen = s; }
            }
            if (chosen < 0) {
                if (used < maxStreams && i > 0 && hasRunningSibling(n, streamOf, lastOnStream, index)) chosen = used;
                else {
                    chosen = 0;
                    for (int s = 1; s < Math.max(used, 1); s++) if (load[s] < load[chosen]) chosen = s;
                }
            }
            used = Math.max(used, chosen + 1);
            streamOf.put(n, chosen);
            lastOnStream[chosen] = i;
            load[chosen] += work(n);
        }
        return new StreamAssignment(streamOf, events(nodes, streamOf, index, Math.max(used, 1)), Math.max(used, 1));
    }

    /** True when every stream in use is busy with work this node does not depend on. */
    private static boolean hasRunningSibling(Node n, Map<Node, Integer> streamOf, int[] lastOnStream, Map<Node, Integer> index) {
        for (Value in : n.inputs()) {
            Node p = in == null ? null : in.producer();
            if (p != null && streamOf.containsKey(p) && lastOnStream[streamOf.get(p)] == index.get(p)) return false;
        }
        return true;
    }

    private static List<StreamAssignment.Event> events(List<Node> nodes, Map<Node, Integer> streamOf, Map<Node, Integer> index, int streams) {
        // synced[s][t]: index of the latest node on stream t that stream s has already waited for
        int[][] synced = new int[streams][streams];
        for (int[] row : synced) java.util.Arrays.fill(row, -1);
        List<StreamAssignment.Event> out = new ArrayList<>();
        for (Node n : nodes) {
            int s = streamOf.get(n);
            for (Value in : n.inputs()) {
                Node p = in == null ? null : in.producer();
                if (p == null) continue;
                int t = streamOf.get(p);
                int pi = index.get(p);
                if (t == s || synced[s][t] >= pi) continue;
                out.add(new StreamAssignment.Event(p, n));
                synced[s][t] = pi;
            }
        }
        return out;
    }

    private static double work(Node n) {
        double bytes = 0;
        for (Value o : n.outputs()) bytes += o.type().bytes();
        long macs = 0;
        try {
            List<org.tessel.api.TensorType> ins = n.inputs().stream().map(v -> v == null ? null : v.type()).toList();
            List<org.tessel.api.Tensor> consts = n.inputs().stream().map(v -> v == null ? null : v.constantValue()).toList();
            macs = n.op().macs(new org.tessel.api.InferenceContext(n.name(), ins, consts, n.attrs(), n.outputs().size()),
                    n.outputs().stream().map(Value::type).toList());
        } catch (RuntimeException e) {
            macs = 0;
        }
        return macs + bytes;
    }
}
