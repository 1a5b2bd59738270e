package org.tessel.passes.streams;

import java.util.List;
import java.util.Map;
import org.tessel.ir.Node;

/**
 * Nodes mapped to streams, with the events that order work across streams: for each event, the
 * producer's stream records it after {@code after} runs and the consumer's stream waits on it
 * before {@code before} starts.
 */
public record StreamAssignment(Map<Node, Integer> streamOf, List<Event> events, int streamsUsed) {
    public record Event(Node after, Node before) {}

    public int stream(Node n) { return streamOf.get(n); }
}
