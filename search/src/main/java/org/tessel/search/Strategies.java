package org.tessel.search;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.tessel.search.baselines.ExactSearch;
import org.tessel.search.baselines.GreedySearch;
import org.tessel.search.baselines.RandomSearch;
import org.tessel.search.baselines.SequentialSearch;
import org.tessel.search.solver.TimefoldSearch;

/** The strategies by name, as the command line and experiment configs spell them. */
public final class Strategies {
    private Strategies() {}

    private static final Map<String, Supplier<SearchStrategy>> BY_NAME = new LinkedHashMap<>();

    static {
        BY_NAME.put("joint", JointSearch::new);
        BY_NAME.put("timefold", TimefoldSearch::new);
        BY_NAME.put("greedy", GreedySearch::new);
        BY_NAME.put("sequential", SequentialSearch::new);
        BY_NAME.put("random", RandomSearch::new);
        BY_NAME.put("exact", ExactSearch::new);
        BY_NAME.put("rule", org.tessel.search.baselines.RuleSearch::new);
    }

    public static List<String> names() { return List.copyOf(BY_NAME.keySet()); }

    public static SearchStrategy byName(String name) {
        Supplier<SearchStrategy> s = BY_NAME.get(name);
        if (s == null) throw new IllegalArgumentException("unknown strategy '" + name + "'" + Suggest.hint(name, BY_NAME.keySet()) + "; known: " + String.join(", ", BY_NAME.keySet()));
        return s.get();
    }
}
