package org.tessel.passes;

import java.util.LinkedHashMap;
import java.util.Map;

/** Named counters a pass bumps ("nodes-removed", "bn-folded"), reported per pass by the manager. */
public final class PassStatistics {
    private final Map<String, Long> counters = new LinkedHashMap<>();

    public void add(String name, long delta) { counters.merge(name, delta, Long::sum); }
    public void inc(String name) { add(name, 1); }
    public long get(String name) { return counters.getOrDefault(name, 0L); }
    public Map<String, Long> asMap() { return Map.copyOf(counters); }
    public boolean isEmpty() { return counters.isEmpty(); }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder();
        counters.forEach((k, v) -> { if (!sb.isEmpty()) sb.append(", "); sb.append(k).append('=').append(v); });
        return sb.toString();
    }
}
