package org.tessel.passes;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Verifier;

/**
 * Runs pipelines of named passes. Before anything runs it checks every name, every option and the
 * passes' contracts along the pipeline; after every pass it runs the verifier (cheap checks always,
 * full type re-inference when enabled) and names the pass that broke the graph. Fixpoint groups
 * repeat until nothing changes, up to their iteration cap. Instrumentations see every pass; passes
 * named in {@link #skip} are not run (for bisecting a miscompile).
 */
public final class PassManager {
    /** What one pass did: for reports and the `optimize` command's table. */
    public record PassRun(String pass, long nanos, int nodesBefore, int nodesAfter, boolean changed, PassStatistics stats, int iteration) {}

    /** The result of a pipeline. */
    public record Report(List<PassRun> runs, List<String> warnings) {}

    private final PassRegistry passes;
    private final OpRegistry ops;
    private final List<PassInstrumentation> instrumentations = new ArrayList<>();
    private final Set<String> skipped = new HashSet<>();
    private boolean fullVerify;
    private boolean failOnNonConvergence;
    private Set<GraphProperty> initial = EnumSet.noneOf(GraphProperty.class);

    public PassManager() { this(PassRegistry.global(), OpRegistry.global()); }

    public PassManager(PassRegistry passes, OpRegistry ops) {
        this.passes = passes;
        this.ops = ops;
    }

    public PassManager fullVerify(boolean on) { this.fullVerify = on; return this; }

    /** Test-only: a fixpoint group that reaches its cap is an error rather than a warning. */
    public PassManager failOnNonConvergence(boolean on) { this.failOnNonConvergence = on; return this; }

    public PassManager instrument(PassInstrumentation i) { instrumentations.add(i); return this; }

    public PassManager skip(String... names) {
        for (String n : names) { passes.get(n); skipped.add(n); }
        return this;
    }

    /** Properties the input graph already has (e.g. an engine re-optimized after layout assignment). */
    public PassManager assuming(Set<GraphProperty> props) { this.initial = props.isEmpty() ? EnumSet.noneOf(GraphProperty.class) : EnumSet.copyOf(props); return this; }

    public PassRegistry registry() { return passes; }

    /** Checks names, options and contracts; throws a PassException naming the first problem. */
    public void check(Pipeline p) {
        Set<GraphProperty> state = EnumSet.noneOf(GraphProperty.class);
        state.addAll(initial);
        checkList(p.elements(), state, new ArrayList<>());
    }

    private void checkList(List<Pipeline.Element> els, Set<GraphProperty> state, List<String> before) {
        for (Pipeline.Element e : els) {
            switch (e) {
                case Pipeline.Step s -> {
                    Pass pass = passes.get(s.pass());
                    PassInfo info = pass.info();
                    for (String k : s.options().keySet())
                        if (info.options().stream().noneMatch(o -> o.name().equals(k)))
                            throw new PassException("pass '" + info.name() + "' has no option '" + k + "'; its options: "
                                    + (info.options().isEmpty() ? "none" : info.options().stream().map(PassOption::name).toList()));
                    if (skipped.contains(info.name())) continue;
                    for (GraphProperty r : info.requires()) {
                        if (!state.contains(r)) {
                            List<String> providers = passes.all().stream().filter(x -> x.info().establishes().contains(r)).map(x -> x.info().name()).toList();
                            throw new PassException("pipeline order: pass '" + info.name() + "' requires " + r + ", which no earlier pass establishes"
                                    + (before.isEmpty() ? "" : " (earlier: " + String.join(", ", before) + ")")
                                    + (providers.isEmpty() ? "" : "; run one of " + providers + " before it"));
                        }
                    }
                    state.removeAll(info.invalidates());
                    state.addAll(info.establishes());
                    before.add(info.name());
                }
                case Pipeline.Fixpoint f -> {
                    // the body must be legal on entry and again after one iteration
                    checkList(f.body(), state, before);
                    checkList(f.body(), state, before);
                }
            }
        }
    }

    public Report run(Graph g, String pipeline) { return run(g, Pipeline.parse(pipeline)); }

    public Report run(Graph g, Pipeline p) {
        check(p);
        List<PassRun> runs = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        runList(g, p.elements(), runs, warnings, 0);
        return new Report(runs, warnings);
    }

    private boolean runList(Graph g, List<Pipeline.Element> els, List<PassRun> runs, List<String> warnings, int iteration) {
        boolean any = false;
        for (Pipeline.Element e : els) {
            switch (e) {
                case Pipeline.Step s -> any |= runStep(g, s, runs, iteration);
                case Pipeline.Fixpoint f -> {
                    int it = 0;
                    boolean changed;
                    do {
                        changed = runList(g, f.body(), runs, warnings, ++it);
                        any |= changed;
                    } while (changed && it < f.maxIterations());
                    if (changed) {
                        String w = "fixpoint(" + new Pipeline(f.body()) + ") still changed the graph after " + f.maxIterations() + " iterations";
                        if (failOnNonConvergence) throw new PassException(w);
                        warnings.add(w);
                    }
                }
            }
        }
        return any;
    }

    private boolean runStep(Graph g, Pipeline.Step s, List<PassRun> runs, int iteration) {
        Pass pass = passes.get(s.pass());
        PassInfo info = pass.info();
        if (skipped.contains(info.name())) return false;
        for (PassInstrumentation i : instrumentations) i.beforePass(info, g);
        PassStatistics stats = new PassStatistics();
        int before = g.nodes().size();
        long t0 = System.nanoTime();
        boolean changed;
        try {
            changed = pass.run(g, new PassContext(ops, s.options(), stats));
        } catch (IrException | PassException | org.tessel.api.OpException ex) {
            throw new PassException("pass '" + info.name() + "' failed: " + ex.getMessage(), ex);
        }
        long dt = System.nanoTime() - t0;
        List<String> problems = Verifier.check(g, fullVerify ? Verifier.Level.FULL : Verifier.Level.CHEAP);
        if (!problems.isEmpty())
            throw new PassException("pass '" + info.name() + "' broke the graph '" + g.name() + "':\n  - " + String.join("\n  - ", problems.subList(0, Math.min(10, problems.size()))));
        PassRun run = new PassRun(info.name(), dt, before, g.nodes().size(), changed, stats, iteration);
        runs.add(run);
        for (PassInstrumentation i : instrumentations) i.afterPass(info, g, run);
        return changed;
    }
}
