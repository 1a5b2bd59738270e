package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.search.Explainer;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.Strategies;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Searches a model's engine plan with one strategy and reports latency, bound, gap and effort. */
@Command(name = "search", description = {"Search the engine plan of a model (tactic, precision, layout and fusion per node) with one strategy.",
        "Prints the predicted latency, the lower bound and gap, solve time and evaluated moves; last a line 'predicted_ms=... bound_ms=... gap=...%%'.",
        "MODEL may also be a bare zoo name (resnet50)."})
final class SearchCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Mixin ChoiceOptions choices;
    @Mixin CalibrationOptions calibration;
    @Mixin AccuracyOptions accuracy;
    @Mixin ProfileOptions profiles;
    @Option(names = "--target", defaultValue = "h100", description = "Target device: h100, h200, a100, l4, rtx4090 (datasheets), h200-measured (measured on the project's H200), h100-derived (its compute, the H100's bandwidth); default ${DEFAULT-VALUE}.") String target;
    @Option(names = "--strategy", defaultValue = "joint", description = "joint (exact when it fits, else timefold), exact, timefold, greedy, sequential, rule or random (default ${DEFAULT-VALUE}).") String strategy;
    @Option(names = "--approximate-gelu", description = "Compute the model's exact (erf) GELUs as the tanh approximation, which cuBLASLt fuses into the GEMM before it "
            + "(|error| <= 4.74e-4 a GELU); the plan is then the approximated graph's.") boolean approximateGelu;
    @Option(names = "--search-seed", defaultValue = "0", description = "Seed of the search (default ${DEFAULT-VALUE}); the same seed gives the same plan.") long searchSeed;
    @Option(names = "--time-limit", converter = Ranges.Seconds.class, defaultValue = "10", description = "Wall-clock safety limit in seconds (default ${DEFAULT-VALUE}).") double timeLimit;
    @Option(names = "--moves", converter = Ranges.AtLeastOneLong.class, description = "Moves the Timefold search may evaluate (default 40000).") Long moves;
    @Option(names = "--unimproved-steps", converter = Ranges.AtLeastOneLong.class, description = "Timefold stops after this many steps without improvement (default 1000).") Long unimproved;
    @Option(names = "--random-samples", converter = Ranges.AtLeastOne.class, description = "Plans the random strategy draws (default 2000).") Integer samples;
    @Option(names = "--precision", description = "Precision rule PATTERN=P1|P2 on node names or ops, e.g. Softmax=fp32 (repeatable).") List<String> precision = new ArrayList<>();
    @Option(names = "--memory-budget-mib", converter = Ranges.MiB.class, description = "Activations plus workspace may not exceed this many MiB at any step.") Double budgetMiB;
    @Option(names = "--cuda-graphs", description = "Price kernel launches as under CUDA graphs.") boolean cudaGraphs;
    @Option(names = {"--timing-cache", "--timingCacheFile"}, description = "Timing cache file: its measured times replace the cost model's prediction where a (node, tactic, precision, layout) was timed; "
            + "with --tuning, the measured search of a GPU build with that --tuning and cache replayed instead.") Path timingCache;
    @Option(names = "--tuning", description = "With --timing-cache: replay a GPU build's measured search (`build --tuning top-k|all --timing-cache C`) without a GPU: "
            + "the same questions (each node's best --top-k tactics per precision and layout, or all), answered from the cache where a build recorded them, the model pricing the rest, "
            + "so the same cache and options give the build's plan.") String tuning;
    @Option(names = "--top-k", converter = Ranges.AtLeastOne.class, defaultValue = "3", description = "With --tuning top-k: candidates per node and format, as the build's --top-k (default ${DEFAULT-VALUE}).") int topK;
    @Option(names = "--precisions", split = ",", description = "Precisions nodes may compute in (default fp32,tf32,fp16,bf16; fp32 is always allowed).") List<String> precisions;
    @Option(names = "--plan-out", description = "Write the engine plan (JSON) here: the plan `tessel build --plan` builds.") Path planOut;
    @Option(names = "--show-plan", description = "Print the engine plan: per node the tactic, precision, layout, stream and predicted time.") boolean showPlan;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw the search's convergence: the best plan's predicted latency over the solve (Timefold; "
            + "joint when it runs Timefold), with the lower bound.") Path plot;
    @Option(names = "--explain", description = "Per node: the choice, the runner-up and the score terms that decided it, and Timefold's constraint matches.") boolean explain;

    @Override public Integer call() throws Exception {
        if (!model.name().startsWith("zoo:") && !Files.exists(Path.of(model.model)) && Zoo.names().contains(model.model)) model.model = "zoo:" + model.model;
        Strategies.byName(strategy);
        if (planOut != null) org.tessel.ir.io.AtomicFiles.checkWritable(planOut);
        Plots.checkPath(plot, "--plot");
        org.tessel.cost.Precision quant = calibration.format(precisions == null ? List.of() : precisions, precision);
        boolean int8 = quant != null;
        calibration.check(quant);
        CalibrationOptions.checkTarget(quant, target);
        org.tessel.search.accuracy.AccuracyBudget budget = accuracy.budget();
        SearchOptions o = SearchOptions.defaults().withTarget(target).withSeed(searchSeed)
                .withTimeLimit(Duration.ofMillis(Math.max(1, Math.round(timeLimit * 1000)))).withCudaGraphs(cudaGraphs)
                .withPrecisionRules(precision.stream().map(PrecisionRule::parse).toList());
        o = choices.apply(o);
        if (precisions != null) o = o.withPrecisions(Precisions.parse(precisions, "--precisions", int8));
        if (int8) o = o.withPrecisions(CalibrationOptions.with(o.precisions(), quant));
        if (moves != null || unimproved != null) o = o.withSteps(unimproved != null ? unimproved : o.unimprovedSteps(), moves != null ? moves : o.maxMoves());
        if (samples != null) o = o.withRandomSamples(samples);
        if (budgetMiB != null) o = o.withMemoryBudget(OptionalLong.of(Math.round(budgetMiB * 1048576)));
        if (profiles.given() && (int8 || budget != null)) {
            String q = int8 ? "--" + quant.text() : null;
            String flags = int8 && budget != null ? q + " with --accuracy-budget" : int8 ? q : "--accuracy-budget";
            throw new IllegalArgumentException(flags + " is not built for optimization profiles yet; search without --min-shapes/--opt-shapes/--max-shapes, or without "
                    + (int8 && budget != null ? q + " and --accuracy-budget" : flags));
        }
        BuildCommand.checkApproximateGelu(approximateGelu, profiles.given(), budget != null);
        if (profiles.given()) return searchProfiles(o);
        Graph g = model.load();
        Graph prepared = Searcher.prepare(g, approximateGelu);
        BuildCommand.reportApproximateGelu(approximateGelu, prepared);
        CalibrationOptions.Scales scales = null;
        Map<String, String> fallbacks = new java.util.TreeMap<>();
        if (int8) {
            scales = calibration.scales(prepared, quant);
            System.out.println(quant.text() + ": " + scales.how());
            o = o.withPrecisionRules(calibration.rules(o.precisionRules(), prepared, fallbacks, quant));
            for (var f : fallbacks.entrySet()) System.out.println(quant.text() + " fallback: " + f.getKey() + ": " + f.getValue());
        }
        long t0 = System.nanoTime();
        SearchProblem p;
        if (tuning != null) {
            if (!tuning.equals("top-k") && !tuning.equals("all"))
                throw new IllegalArgumentException("--tuning '" + tuning + "': a search replays a measuring build's top-k or all (fixed and cost-model time nothing)");
            if (timingCache == null) throw new IllegalArgumentException("--tuning " + tuning + " replays a GPU build's measurements: give its --timing-cache (a search has no GPU to time on)");
            org.tessel.runtime.tuning.TimingCache cache = org.tessel.runtime.tuning.TimingCache.read(timingCache);
            org.tessel.runtime.gpu.engine.CachedTuner tuner = new org.tessel.runtime.gpu.engine.CachedTuner(cache, timingCache.toString());
            int k = tuning.equals("all") ? Integer.MAX_VALUE : topK;
            org.tessel.search.TunedCosting costing = new org.tessel.search.TunedCosting(new org.tessel.search.CatalogCosting(org.tessel.tactics.TacticCatalog.global(),
                    new org.tessel.cost.CostModel(org.tessel.cost.DeviceSpec.byName(target), o.costParams()), cudaGraphs), tuner, k);
            p = Searcher.problem(prepared, costing, o);
            System.out.printf(Locale.ROOT, "timing cache %s (%s, %d entries), a measuring build's search replayed (--tuning %s): %d answers from the cache, %d questions it holds "
                    + "no answer to (the model prices them); %d choices, %d reformat types and %d casts priced by measurement%n", timingCache, cache.environment().gpu(), cache.size(),
                    tuning.equals("all") ? "all" : "top-k --top-k " + topK, tuner.answered(), tuner.unanswered(), costing.choicesOverridden(), costing.reformatsTimed(), costing.castsTimed());
        } else if (timingCache != null) {
            org.tessel.runtime.tuning.TimingCache cache = org.tessel.runtime.tuning.TimingCache.read(timingCache);
            TimingCaches.Loaded loaded = TimingCaches.measured(cache);
            org.tessel.search.MeasuredCosting costing = new org.tessel.search.MeasuredCosting(new org.tessel.search.CatalogCosting(org.tessel.tactics.TacticCatalog.global(),
                    new org.tessel.cost.CostModel(org.tessel.cost.DeviceSpec.byName(target), o.costParams()), cudaGraphs), loaded.costs());
            p = Searcher.problem(prepared, costing, o);
            System.out.printf(Locale.ROOT, "timing cache %s (%s): %d rows, %d measured prices (%d rows without a catalogue tactic); %d used, pricing %d choices%n",
                    timingCache, cache.environment().gpu(), loaded.rows(), loaded.costs().size(), loaded.skipped(), costing.measurementsUsed(), costing.choicesOverridden());
            if (cache.legacyRows() > 0)
                System.out.printf(Locale.ROOT, "timing cache %s: %d rows name the stem's forms by their old ids (tessel.stem.*); read as tessel.conv.stem/FORM%n", timingCache, cache.legacyRows());
            if (!loaded.unknownTactics().isEmpty())
                System.out.printf(Locale.ROOT, "timing cache %s: not priced, no catalogue tactic: %s%n", timingCache, loaded.unknownTactics());
        } else p = Searcher.problem(prepared, o);
        System.out.printf(Locale.ROOT, "%s: %d nodes, %d fusion candidates, %d uses; target %s; priced in %.2f s%n", g.name(), p.size(),
                p.candidates().size(), p.uses().size(), target, (System.nanoTime() - t0) / 1e9);
        if (budget != null) p = p.withAccuracy(accuracy.errorModel(p, o.precisions(), scales == null ? null : scales.calibrated()), budget);
        SearchProblem problem = p;
        SearchOptions options = o;
        Plan plan = Progress.timed("search (" + strategy + ")", o.timeLimit().toMillis(), () -> Searcher.run(problem, strategy, options));
        System.out.printf(Locale.ROOT, "strategy %s, seed %d%n", plan.strategy(), plan.seed());
        System.out.printf(Locale.ROOT, "predicted latency: %.4f ms%s%n", plan.predictedMs(), plan.provenOptimal() ? " (proven optimal)" : "");
        System.out.printf(Locale.ROOT, "lower bound:       %.4f ms (gap %.2f%%)%n", plan.boundMs(), plan.gapPct());
        if (p.accuracy() != null) System.out.println("accuracy:          " + p.accuracy().describe(plan.assignment()) + ", additive model of measured per-node errors");
        System.out.printf(Locale.ROOT, "solve time:        %.3f s, %d evaluated moves (%.0f/s)%n", plan.solveSeconds(), plan.evaluatedMoves(), plan.movesPerSecond());
        long merges = p.candidates().stream().filter(SearchProblem.Candidate::isMerge).count();
        long merged = p.candidates().stream().filter(c -> c.isMerge() && plan.assignment().isFused(c.index())).count();
        System.out.printf(Locale.ROOT, "fused groups:      %d of %d candidates (horizontal merges: %d of %d)%n", plan.fusedGroups(), plan.candidates(), merged, merges);
        Map<String, Integer> mix = new TreeMap<>();
        for (int i = 0; i < p.size(); i++) mix.merge(plan.assignment().format(i).toString(), 1, Integer::sum);
        System.out.println("formats:           " + mix);
        System.out.println("score by rule:     " + plan.evaluation().byRule());
        if (!plan.note().isEmpty()) System.out.println("note: " + plan.note());
        if (explain) {
            Explainer ex = new Explainer(p);
            System.out.println("-- per node: chosen, runner-up (everything else fixed) and the score delta by term, in us");
            for (Explainer.NodeExplanation e : ex.explain(plan.assignment())) System.out.println(e.render());
            System.out.println("-- Timefold constraint matches per node (soft terms in ps)");
            ex.justifications(plan.assignment()).forEach((node, terms) -> System.out.println(node + ": " + String.join("; ", terms)));
        }
        if (showPlan || planOut != null) {
            org.tessel.tactics.plan.PlanApplier.Applied applied = org.tessel.search.EnginePlans.complete(p, plan);
            org.tessel.tactics.plan.EnginePlan ep = scales == null ? applied.plan() : CalibrationOptions.quantized(applied.plan(), applied.graph(), scales, fallbacks);
            if (showPlan) System.out.print(ep.render());
            if (planOut != null) {
                org.tessel.ir.io.AtomicFiles.writeString(planOut, org.tessel.tactics.plan.EnginePlanJson.write(ep));
                System.out.println("plan: " + planOut + " (" + ep.nodes().size() + " nodes, " + ep.merges().size() + " merges, " + ep.groups().size() + " fused groups, " + ep.conversions().size() + " casts)");
            }
        }
        if (plot != null) {
            if (plan.convergence().isEmpty())
                System.out.println("note: --plot: the " + plan.strategy() + " strategy found its plan at once (" + (plan.note().isEmpty() ? "no improvements over time" : plan.note())
                        + "); convergence is drawn for timefold, or joint when the graph is too wide for the exact solver");
            else {
                double[][] line = {plan.convergence().stream().mapToDouble(v -> v[0]).toArray(), plan.convergence().stream().mapToDouble(v -> v[1]).toArray()};
                double end = Math.max(plan.solveSeconds(), line[0][line[0].length - 1]);
                Map<String, double[][]> series = new java.util.LinkedHashMap<>();
                series.put("best plan (" + plan.strategy() + ")", line);
                series.put("lower bound", new double[][] {{line[0][0], end}, {plan.boundMs(), plan.boundMs()}});
                Plots.lines("search convergence: " + plan.model() + " on " + plan.target(), "solve time (s)", "predicted latency (ms)", false, series, plot);
                System.out.println("plot: " + plot + " (" + plan.convergence().size() + " improvements)");
            }
        }
        System.out.println(plan.summaryLine());
        return plan.feasible() ? 0 : 1;
    }

    /** One plan per optimization profile, solved at its opt shapes and checked at min and max (what `tessel build` with profiles builds). */
    private int searchProfiles(SearchOptions o) throws Exception {
        String flag = timingCache != null ? "--timing-cache" : plot != null ? "--plot" : explain ? "--explain" : null;
        if (flag != null) throw new IllegalArgumentException(flag + " works on one shape; with optimization profiles give --shapes (or --batch/--dim) instead of profiles");
        List<org.tessel.runtime.engine.profile.OptimizationProfile> ps = profiles.profiles();
        if (planOut != null && ps.size() > 1)
            throw new IllegalArgumentException("--plan-out writes one plan; " + ps.size() + " profiles have " + ps.size() + " (build the engine with them: `tessel build ... --cpu`)");
        var src = ProfileOptions.source(model, ps);
        boolean feasible = true;
        for (int k = 0; k < ps.size(); k++) {
            ProfileSolver.Solved s = ProfileSolver.solve(src, List.of(ps.get(k)), strategy, o).getFirst();
            Plan plan = s.search();
            feasible &= plan.feasible();
            System.out.printf(Locale.ROOT, "profile %d: %s%n  strategy %s at opt on %s: predicted %.4f ms, bound %.4f ms (gap %.2f%%); valid at min and max%s%n", k, ps.get(k),
                    plan.strategy(), target, plan.predictedMs(), plan.boundMs(), plan.gapPct(), s.replaced().isEmpty() ? "" : " after replacing " + s.replaced().size() + " choice(s):");
            for (String r : s.replaced()) System.out.println("    " + r);
            if (showPlan) System.out.print(s.plan().render());
            if (planOut != null) {
                org.tessel.ir.io.AtomicFiles.writeString(planOut, org.tessel.tactics.plan.EnginePlanJson.write(s.plan()));
                System.out.println("plan: " + planOut + " (solved at the opt shapes)");
            }
        }
        return feasible ? 0 : 1;
    }
}
