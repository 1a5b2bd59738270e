package org.tessel.search;

import java.util.HashMap;
import java.util.Map;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/** Problems priced with the real catalogue for h100, cached per test JVM (building the zoo takes a while). */
public final class Problems {
    private Problems() {}

    private static final Map<String, SearchProblem> CACHE = new HashMap<>();

    public static synchronized SearchProblem zoo(String model) {
        return CACHE.computeIfAbsent(model, m -> Searcher.problem(Searcher.prepare(Zoo.build(m, ZooOptions.defaults())), SearchOptions.defaults()));
    }

    public static SearchProblem small(long seed) {
        Graph g = SmallGraphs.build(seed);
        return Searcher.problem(Searcher.prepare(g), SearchOptions.defaults());
    }

    public static final String[] TINY = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny"};
}
