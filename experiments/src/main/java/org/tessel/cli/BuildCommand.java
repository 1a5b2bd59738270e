package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineFile;
import org.tessel.runtime.tuning.TimingCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Builds an engine from a model and saves it. With {@code --strategy} or {@code --plan} the engine is
 * built from an engine plan (the search's, or a plan file): on the CPU backend every planned tactic is
 * emulated (reduced precision by rounding), so the plan that a GPU would run is checked end to end here.
 */
@Command(name = "build", description = {"Optimize a model and save an engine; ends with 'engine: FILE, N layers, build S s'.",
        "With --strategy S or --plan F the engine is built from an engine plan (tactic, precision, layout per node): the joint search's "
        + "(exact when it fits, else Timefold), a baseline's (greedy, sequential, rule) or a plan file from `tessel search --plan-out`.",
        "On a machine with a CUDA GPU this builds a GPU engine (FP32 unless --fp16/--tf32); without one, a CPU engine, which executes "
        + "a plan's GPU tactics by emulation (reduced precision by rounding).",
        "A model with QuantizeLinear/DequantizeLinear nodes is built by explicit quantization (a CPU INT8 engine with the model's own scales, "
        + "no calibration; the nodes its Q/DQ marks pinned to INT8): see runtime/INT8.md."})
final class BuildCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Mixin ChoiceOptions choices;
    @Mixin CalibrationOptions calibration;
    @Mixin AccuracyOptions accuracy;
    @Mixin ProfileOptions profiles;
    @Option(names = {"--save-engine", "--saveEngine", "-o"}, required = true, description = "Engine file to write (missing folders are created; trtexec: --saveEngine).") Path out;
    @Option(names = "--strategy", description = "Build the plan this strategy finds: joint, exact, timefold, greedy, sequential, rule, random.") String strategy;
    @Option(names = "--plan", description = "Build exactly this engine plan (JSON, from `tessel search --plan-out`).") Path planFile;
    @Option(names = "--precision", description = "Precision rule PATTERN=P1|P2 on node names or ops, e.g. Softmax=fp32 (repeatable); obeyed or the build fails naming the node.") java.util.List<String> precisionRules = new java.util.ArrayList<>();
    @Option(names = "--bf16", description = "Allow BF16 (with --strategy/--plan).") boolean bf16;
    @Option(names = "--search-seed", defaultValue = "0", description = "Seed of the search (default ${DEFAULT-VALUE}); same seed, same plan.") long searchSeed;
    @Option(names = "--pipeline", description = "Optimization pipeline (default: standard; GPU engines in FP32/TF32 keep NCHW, FP16 takes NHWC).") String pipeline;
    @Option(names = "--fp16", description = "FP16 storage and tensor-core math (GPU engines only).") boolean fp16;
    @Option(names = "--tf32", description = "TF32 tensor-core math in convolutions and GEMMs, f32 storage (GPU engines only).") boolean tf32;
    @Option(names = {"--timing-cache", "--timingCacheFile"}, description = "Timing cache file: tactics are timed on the GPU, cached measurements reused, new ones saved (GPU engines only).") Path timingCache;
    @Option(names = "--target", description = "Target device for the cost model, e.g. h100 (default: for a GPU engine the GPU it is built on, h100-derived on an H100, else h200-measured).") String target;
    @Option(names = "--tuning", description = "How GPU tactics are chosen: fixed (the built-in rule, nothing timed), cost-model (the cost model's pick), "
            + "top-k (time the cost model's best k), all (time every candidate). With --strategy, top-k and all also price the search by measurement: "
            + "each node's best k tactics per precision and layout are timed as one-layer engines (kept in the timing cache). Default: top-k with --timing-cache, else fixed.") String tuning;
    @Option(names = "--top-k", converter = Ranges.AtLeastOne.class, defaultValue = "3", description = "Candidates timed per layer with --tuning top-k (default ${DEFAULT-VALUE}).") int topK;
    @Option(names = "--streams", converter = Ranges.Streams.class, defaultValue = "1", description = "Run independent branches on up to this many CUDA streams (GPU engines; default ${DEFAULT-VALUE}).") int streams;
    @Option(names = "--cpu", description = "Build a CPU engine even where there is a GPU.") boolean cpu;
    @Option(names = "--approximate-gelu", description = "Compute the model's exact (erf) GELUs as the tanh approximation, which cuBLASLt fuses into the GEMM before it "
            + "(|error| <= 4.74e-4 a GELU, as TensorRT's BERT demo does); the engine then computes that graph, not the model's exact one.") boolean approximateGelu;
    @Option(names = "--best", description = "Allow every precision Tessel can build (trtexec's flag): FP16 for a GPU engine; fp32, tf32, fp16 and bf16 with --strategy.") boolean best;
    @Option(names = "--noTF32", description = "No TF32 (trtexec's flag): TF32 is off unless --tf32 (or --best with --strategy) turns it on.") boolean noTf32;
    @Option(names = "--exportLayerInfo", paramLabel = "FILE", description = "Write the built engine's layers and plan as JSON (as `tessel inspect --json` prints them).") Path exportLayerInfo;

    /** The build options of --tuning / --top-k. */
    private GpuEngine.Options options(TimingCache cache) {
        String level = tuning != null ? tuning : cache != null ? "top-k" : "fixed";
        return switch (level) {
            case "fixed" -> GpuEngine.Options.FIXED;
            case "cost-model" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.COST_MODEL, topK, cache);
            case "top-k" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.TOP_K, topK, cache);
            case "all" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.ALL, topK, cache);
            default -> throw new IllegalArgumentException(unknownTuning(level));
        };
    }

    private static final java.util.List<String> TUNING_LEVELS = java.util.List.of("fixed", "cost-model", "top-k", "all");

    private static String unknownTuning(String level) { return "--tuning '" + level + "' is not a level; use " + String.join(", ", TUNING_LEVELS); }

    /** True when the model carries QuantizeLinear/DequantizeLinear nodes: explicit quantization with the model's own scales. */
    private boolean explicitQdq;

    /** True when an ONNX file's main graph has a QuantizeLinear or DequantizeLinear node (read without importing it; unreadable files: false, the import says why). */
    static boolean hasQdqNodes(Path onnx) {
        try (var in = Files.newInputStream(onnx)) {
            var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(in);
            for (var n : m.getGraph().getNodeList())
                if ((n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")) && (n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear"))) return true;
            return false;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    @Override public Integer call() throws Exception {
        if (model.model != null && model.model.endsWith(".onnx") && Files.isRegularFile(Path.of(model.model))) explicitQdq = hasQdqNodes(Path.of(model.model));
        if (explicitQdq) {
            String stray = calibration.calib != null ? "--calib" : calibration.cache != null ? "--calib-cache" : null;
            if (stray != null)
                throw new IllegalArgumentException(model.model + " carries QuantizeLinear/DequantizeLinear nodes (explicit quantization: the model's own scales), so " + stray
                        + " does not apply; build it without " + stray + ", or calibrate the float model (without Q/DQ) instead");
            if (profiles.given()) throw new IllegalArgumentException(model.model + " carries Q/DQ nodes (INT8), which is not built for optimization profiles yet; build without --min-shapes/--opt-shapes/--max-shapes");
            if (accuracy.budget() != null) throw new IllegalArgumentException(model.model + " carries Q/DQ nodes, whose INT8 the model fixes; --accuracy-budget does not apply to it");
            if (strategy == null && planFile == null) strategy = "joint";
        }
        if (explicitQdq && calibration.fp8)
            throw new IllegalArgumentException(model.model + " carries QuantizeLinear/DequantizeLinear nodes (explicit quantization: the model fixes each quantized node's format), so --fp8 does not apply; build it without --fp8");
        org.tessel.cost.Precision quant = explicitQdq ? null : calibration.format(java.util.List.of(), precisionRules);
        boolean int8 = quant != null;
        String q = int8 ? "--" + quant.text() : null, Q = int8 ? quant.text().toUpperCase(java.util.Locale.ROOT) : null;
        if (profiles.given() && (int8 || accuracy.budget() != null)) {
            String flags = int8 && accuracy.budget() != null ? q + " with --accuracy-budget" : int8 ? q : "--accuracy-budget";
            throw new IllegalArgumentException(flags + " is not built for optimization profiles yet (one plan per profile is solved without "
                    + (int8 && accuracy.budget() != null ? "calibration or an accuracy check" : int8 ? "calibration" : "an accuracy check")
                    + "); build without --min-shapes/--opt-shapes/--max-shapes, or without " + (int8 && accuracy.budget() != null ? q + " and --accuracy-budget" : flags));
        }
        calibration.check(quant);
        if (int8 && strategy == null && planFile == null)
            throw new IllegalArgumentException(q + " builds an engine from a plan, where each node's " + Q + " is the search's choice: add --strategy (e.g. joint)");
        if (int8 && planFile != null && (calibration.int8 || calibration.fp8))
            throw new IllegalArgumentException(q + " allows " + Q + " in a search; a --plan file is built as it is (its " + Q + " nodes carry their scales)");
        CalibrationOptions.checkTarget(quant, target);
        if (noTf32 && tf32) throw new IllegalArgumentException("--noTF32 and --tf32 exclude each other");
        if (best && strategy == null && planFile == null && !profiles.given()) {
            if (tf32) throw new IllegalArgumentException("--best and --tf32 exclude each other for a GPU engine of one precision (--best builds FP16)");
            fp16 = true;
        }
        if (tuning != null && !TUNING_LEVELS.contains(tuning)) throw new IllegalArgumentException(unknownTuning(tuning));
        AtomicFiles.checkWritable(out);
        if (timingCache != null) AtomicFiles.checkWritable(timingCache);
        try (Progress _ = Progress.start("build", 0)) {
            int rc = build();
            if (exportLayerInfo != null) {
                Files.writeString(exportLayerInfo, InspectCommand.layerInfoJson(out));
                System.out.println("layer info: " + exportLayerInfo);
            }
            return rc;
        }
    }

    private int build() throws Exception {
        long t0 = System.nanoTime();
        Backend backend = cpu ? new Backend.Cpu("--cpu") : Backend.detect();
        if (explicitQdq && backend.isGpu())
            throw new IllegalArgumentException(model.model + " carries Q/DQ nodes (INT8): explicit quantization builds CPU engines so far (its INT8 nodes may write f32 where the model has no Q/DQ after them, "
                    + "which the GPU's INT8 kernels, requantizing every output, do not); add --cpu, or calibrate the float model for a GPU INT8 engine (--int8 --calib)");
        checkApproximateGelu(approximateGelu, profiles.given(), accuracy.budget() != null);
        if (profiles.given()) return buildProfiles(backend, t0);
        if (accuracy.budget() != null && strategy == null)
            throw new IllegalArgumentException("--accuracy-budget constrains a search: add --strategy (e.g. joint)" + (planFile != null ? "; a --plan file is built as it is" : ""));
        if (strategy != null || planFile != null) return buildPlanned(backend, t0);
        if (!precisionRules.isEmpty() || bf16) throw new IllegalArgumentException((bf16 ? "--bf16" : "--precision") + " applies to engines built from a plan: add --strategy (e.g. joint) or --plan");
        if (choices.given()) throw new IllegalArgumentException(choices.flag() + " steers a search: add --strategy (e.g. joint)");
        if (fp16 && tf32) throw new IllegalArgumentException("--fp16 and --tf32 exclude each other: pick one precision");
        if (!(backend instanceof Backend.Gpu gpu)) {
            if (fp16 || tf32)
                throw new IllegalArgumentException((fp16 ? "--fp16" : "--tf32") + " needs a GPU engine, and this build runs on the CPU backend ("
                        + backend.describe() + "); build without it for a CPU (FP32) engine");
            if (timingCache != null || target != null || tuning != null)
                System.out.println("note: --timing-cache, --target and --tuning apply to GPU engines; this is a CPU engine, so they are not used");
            Graph g = model.load();
            new PassManager().run(g, fixedPipeline(StandardPipelines.resolve(pipeline == null ? "standard" : pipeline)));
            reportApproximateGelu(approximateGelu, g);
            Engine e = Engine.buildCpu(g);
            e.save(out);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("backend: cpu (tactic %s for every layer), activation arena %.2f MiB, file %.2f MiB%n", Engine.CPU_REFERENCE,
                    e.arenaBytes() / 1048576.0, Files.size(out) / 1048576.0);
            System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layers().size(), s);
            return 0;
        }
        if (target != null) System.out.println("note: --target is the cost model's device for `tessel search`; a GPU engine is built for this GPU");
        GpuEngine.Precision precision = fp16 ? GpuEngine.Precision.FP16 : tf32 ? GpuEngine.Precision.TF32 : GpuEngine.Precision.FP32;
        Graph g = model.load();
        long tp = System.nanoTime();
        new PassManager().run(g, fixedPipeline(StandardPipelines.resolve(pipeline == null ? GpuEngine.pipeline(precision, g) : pipeline)));
        reportApproximateGelu(approximateGelu, g);
        double passS = (System.nanoTime() - tp) / 1e9;
        TimingCache cache = null;
        int cachedBefore = 0;
        if (timingCache != null) {
            cache = TimingCache.loadFor(timingCache, GpuEngineFile.timingEnvironment(gpu.context()), System.out::println);
            cachedBefore = cache.size();
        }
        GpuEngine.Options options = options(cache);
        long tb = System.nanoTime();
        try (GpuEngine e = GpuEngine.build(g, precision, gpu.context(), options, streams)) {
            double buildS = (System.nanoTime() - tb) / 1e9;
            e.save(out);
            if (cache != null) {
                cache.save(timingCache);
                System.out.printf("timing cache: %s, %d entries (%d new)%n", timingCache, cache.size(), cache.size() - cachedBefore);
            }
            Map<String, Long> tactics = new java.util.TreeMap<>();
            for (var l : e.layerPlans()) tactics.merge(l.tactic().replaceAll("/.*", ""), 1L, Long::sum);
            System.out.printf("backend: cuda (%s), precision %s, passes %.2f s, layers %.2f s (%d kernel modules compiled in %.2f s), "
                    + "streams %d, weights %.1f MiB, context memory %.1f MiB, file %.1f MiB%n", gpu.context().device().name(), precision, passS, buildS,
                    e.kernelModules(), e.kernelCompileSeconds(), e.streamCount(), e.weightBytes() / 1048576.0, e.contextBytes() / 1048576.0, Files.size(out) / 1048576.0);
            System.out.println("tactics: " + tactics);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layerPlans().size(), s);
        }
        return 0;
    }

    /**
     * Refuses --approximate-gelu where it is not carried through: optimization profiles (each profile's shapes are
     * specialized from the model as it is) and an accuracy budget (its errors are measured against the FP32 plan of the
     * approximated graph, so they would leave the approximation's own error out).
     */
    static void checkApproximateGelu(boolean approximate, boolean profiles, boolean budget) {
        if (!approximate) return;
        if (profiles)
            throw new IllegalArgumentException("--approximate-gelu is not carried into optimization profiles yet (each profile's shapes are specialized from the model as it is); "
                    + "drop --min-shapes/--opt-shapes/--max-shapes, or --approximate-gelu");
        if (budget)
            throw new IllegalArgumentException("--approximate-gelu with --accuracy-budget: the budget's errors are measured against the FP32 plan of the approximated graph, "
                    + "so the approximation's own error would not count against it; drop one of the two");
    }

    /** What --approximate-gelu did to the prepared graph, said in one line (so a model without exact GELUs is not silently unchanged). */
    static void reportApproximateGelu(boolean approximate, Graph prepared) {
        if (!approximate) return;
        long n = prepared.nodes().stream().flatMap(x -> x.body() == null ? java.util.stream.Stream.of(x) : x.body().nodes().stream())
                .filter(x -> x.opName().equals("Gelu") && x.attrs().getString("approximate", "none").equals("tanh")).count();
        System.out.println(n == 0 ? "note: --approximate-gelu: the model has no GELU (exact or decomposed), so nothing was approximated"
                : "approximate-gelu: " + n + " GELU" + (n == 1 ? "" : "s") + " computed in the tanh form");
    }

    /** The pipeline of an engine built without a plan, with --approximate-gelu's pass where it asks for it. */
    private String fixedPipeline(String pipeline) { return approximateGelu ? org.tessel.search.Searcher.withApproximateGelu(pipeline) : pipeline; }

    /** The precisions --fp16/--tf32/--bf16 allow besides FP32. */
    private java.util.Set<org.tessel.cost.Precision> allowed() {
        java.util.Set<org.tessel.cost.Precision> s = java.util.EnumSet.of(org.tessel.cost.Precision.FP32);
        if (best) s.addAll(org.tessel.search.SearchOptions.BUILDABLE);
        if (tf32) s.add(org.tessel.cost.Precision.TF32);
        if (fp16) s.add(org.tessel.cost.Precision.FP16);
        if (bf16) s.add(org.tessel.cost.Precision.BF16);
        if (noTf32) s.remove(org.tessel.cost.Precision.TF32);
        return s;
    }

    /** The GPU engine's I/O precision for this plan (its floating nodes' most common), or a refusal that says what the user can do. */
    static GpuEngine.Precision gpuPrecision(org.tessel.tactics.plan.EnginePlan plan, Graph planned) {
        try {
            return GpuEngine.precisionFor(plan, planned);
        } catch (org.tessel.runtime.gpu.engine.GpuEngineException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    /**
     * An engine for optimization profiles: one plan per profile, solved at its opt shapes and checked
     * at min and max, the source model and the profiles stored beside the first profile's engine at
     * its opt shapes; memory is planned at each profile's max shapes. On a GPU the engine at opt
     * picks each plan's variants (tuned with --tuning/--timing-cache), which every shape then reuses.
     */
    private int buildProfiles(Backend backend, long t0) throws Exception {
        if (planFile != null) throw new IllegalArgumentException("--plan is one plan for one shape; with optimization profiles each profile's plan is solved at its opt shapes (--strategy)");
        if (!backend.isGpu() && (fp16 || tf32 || timingCache != null || tuning != null))
            throw new IllegalArgumentException((fp16 ? "--fp16" : tf32 ? "--tf32" : timingCache != null ? "--timing-cache" : "--tuning")
                    + " applies to GPU engines; this engine with profiles is a CPU engine (use --strategy with --precision rules or --best for reduced precisions)");
        if (backend.isGpu() && streams != 1)
            throw new IllegalArgumentException("--streams: a GPU engine with optimization profiles runs its layers on one stream (every shape of a profile shares one arena); build without --streams");
        java.util.List<org.tessel.runtime.engine.profile.OptimizationProfile> ps = profiles.profiles();
        org.tessel.runtime.engine.profile.ShapeSpecializer src = ProfileOptions.source(model, ps);
        String strat = strategy != null ? strategy : "joint";
        org.tessel.search.Strategies.byName(strat);
        String tgt = target != null ? target : CostTargets.forBackend(backend);
        org.tessel.search.SearchOptions o = org.tessel.search.SearchOptions.defaults().withTarget(tgt).withSeed(searchSeed).withPrecisions(allowed())
                .withPrecisionRules(precisionRules.stream().map(org.tessel.search.PrecisionRule::parse).toList());
        o = choices.apply(o);
        java.util.List<ProfileSolver.Solved> solved = ProfileSolver.solve(src, ps, strat, o);
        java.util.List<org.tessel.tactics.plan.EnginePlan> plans = new java.util.ArrayList<>();
        java.util.List<String> dependence = new java.util.ArrayList<>();
        String pipeline = org.tessel.search.Searcher.PIPELINE;
        for (int k = 0; k < solved.size(); k++) {
            ProfileSolver.Solved s = solved.get(k);
            String dep = s.shapeDependence();
            if (dep == null) dep = src.inferenceMatchesImport(s.profile(), pipeline, "profile " + k);
            dependence.add(dep);
            plans.add(s.plan());
        }
        java.util.List<org.tessel.runtime.engine.profile.ProfileSet.Memory> none = java.util.Collections.nCopies(ps.size(), new org.tessel.runtime.engine.profile.ProfileSet.Memory(0, 0));
        var set = new org.tessel.runtime.engine.profile.ProfileSet(src, pipeline, ps, plans, none, dependence);
        return backend instanceof Backend.Gpu gpu ? buildGpuProfiles(gpu, set, solved, tgt, t0) : buildCpuProfiles(set, solved, tgt, t0);
    }

    private static final org.tessel.runtime.engine.profile.OptimizationProfile.Point MIN = org.tessel.runtime.engine.profile.OptimizationProfile.Point.MIN,
            OPT = org.tessel.runtime.engine.profile.OptimizationProfile.Point.OPT, MAX = org.tessel.runtime.engine.profile.OptimizationProfile.Point.MAX;

    private static void printProfile(int k, ProfileSolver.Solved s, org.tessel.runtime.engine.profile.ProfileSet set, String tgt, String memory) {
        System.out.printf(java.util.Locale.ROOT, "profile %d: %s; strategy %s, predicted %.4f ms at opt on %s (precisions %s); %s%s%n", k, s.profile(),
                s.search().strategy(), s.search().predictedMs(), tgt, s.plan().precisionMix(), memory,
                s.replaced().isEmpty() ? "" : "; replaced " + s.replaced().size() + " choice(s) that fail at min or max");
        String dep = set.shapeDependence(k);
        System.out.println("  new shapes: " + (dep == null ? "shape inference on the prepared graph (it is the same at min, opt and max but for types)" : "imported again (" + dep + ")"));
    }

    /** The CPU profile engine: the engines a run would make at min and max (every planned tactic checked there, memory planned at max), profile 0's at opt saved. */
    private int buildCpuProfiles(org.tessel.runtime.engine.profile.ProfileSet set, java.util.List<ProfileSolver.Solved> solved, String tgt, long t0) throws Exception {
        java.util.List<org.tessel.runtime.engine.profile.ProfileSet.Memory> memory = new java.util.ArrayList<>();
        Engine base = null;
        for (int k = 0; k < solved.size(); k++) {
            var p = set.profiles().get(k);
            var atMax = cpuEngine(set.planIn(k, p.at(MAX)));
            if (!p.at(MIN).equals(p.at(MAX))) cpuEngine(set.planIn(k, p.at(MIN)));
            if (k == 0) base = cpuEngine(set.planIn(k, p.at(OPT)));
            memory.add(new org.tessel.runtime.engine.profile.ProfileSet.Memory(atMax.arenaBytes(), 0));
            printProfile(k, solved.get(k), set, tgt, String.format(java.util.Locale.ROOT, "activation arena at max %.2f MiB", atMax.arenaBytes() / 1048576.0));
        }
        Engine e = org.tessel.runtime.engine.profile.ProfileEngine.attach(base, set.withMemory(memory));
        e.save(out);
        System.out.printf("backend: cpu, %d optimization profile(s), source %s kept for specialising shapes, file %.2f MiB%n", set.profiles().size(), set.sourceName(), Files.size(out) / 1048576.0);
        System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layers().size(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    private static Engine cpuEngine(org.tessel.runtime.engine.profile.ProfileSet.Planned p) {
        return Engine.buildCpu(p.planned().applied().graph(), p.planned().applied().plan());
    }

    /**
     * The GPU profile engine: each profile's engine at opt is built from the search's plan (variants tuned with
     * --tuning/--timing-cache; profile 0's is the file's layers and PTX; a variant that cannot run at the profile's min or
     * max replaced by one that runs over the range, {@link GpuEngine#variantsOverRange}), its built plan becomes the profile's plan,
     * and the engines a run would make at max and min are built from it (every tactic and variant checked there, the
     * arena and workspace at max measured).
     */
    private int buildGpuProfiles(Backend.Gpu gpu, org.tessel.runtime.engine.profile.ProfileSet set, java.util.List<ProfileSolver.Solved> solved, String tgt, long t0) throws Exception {
        TimingCache cache = timingCache != null ? TimingCache.loadFor(timingCache, GpuEngineFile.timingEnvironment(gpu.context()), System.out::println) : null;
        java.util.List<org.tessel.tactics.plan.EnginePlan> built = new java.util.ArrayList<>();
        GpuEngine base = null;
        try {
            for (int k = 0; k < solved.size(); k++) {
                var planned = set.planIn(k, set.profiles().get(k).at(OPT)).planned().applied();
                GpuEngine.Precision precision = gpuPrecision(planned.plan(), planned.graph());
                GpuEngine e = GpuEngine.build(planned.graph(), planned.plan(), precision, gpu.context(), options(cache), 1);
                // a variant tuned at opt must run over the whole profile: one that cannot run at min or max gives way to one that can
                var p = set.profiles().get(k);
                java.util.List<Graph> ends = new java.util.ArrayList<>();
                for (var point : java.util.List.of(org.tessel.runtime.engine.profile.OptimizationProfile.Point.MIN, org.tessel.runtime.engine.profile.OptimizationProfile.Point.MAX))
                    if (!p.at(point).equals(p.at(OPT))) ends.add(set.planIn(k, p.at(point)).planned().applied().graph());
                int profile = k;
                var kept = GpuEngine.variantsOverRange(planned.graph(), e.plan(), ends, line -> System.out.println("profile " + profile + ": " + line));
                if (kept != e.plan()) {
                    e.close();
                    e = GpuEngine.build(planned.graph(), kept, precision, gpu.context(), options(cache), 1);
                }
                built.add(e.plan());
                if (k == 0) base = e;
                else e.close();
            }
            var withVariants = new org.tessel.runtime.engine.profile.ProfileSet(set.source(), set.pipeline(), set.profiles(), built,
                    java.util.Collections.nCopies(set.profiles().size(), new org.tessel.runtime.engine.profile.ProfileSet.Memory(0, 0)),
                    java.util.stream.IntStream.range(0, set.profiles().size()).mapToObj(set::shapeDependence).toList());
            var measured = org.tessel.runtime.gpu.engine.GpuProfileEngine.measured(withVariants, gpu.context(), base.kernelPtx());
            for (int k = 0; k < solved.size(); k++)
                printProfile(k, solved.get(k), measured, tgt, String.format(java.util.Locale.ROOT, "activation arena at max %.2f MiB (shared by every shape of the profile), workspace %.2f MiB",
                        measured.maxMemory(k).arenaBytes() / 1048576.0, measured.maxMemory(k).workspaceBytes() / 1048576.0));
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            org.tessel.runtime.gpu.engine.GpuProfileEngine.save(base, measured, out);
            if (cache != null) cache.save(timingCache);
            System.out.printf("backend: cuda (%s), %d optimization profile(s), profile 0 at opt %s, source %s kept for specialising shapes, weights %.1f MiB, file %.1f MiB%n",
                    gpu.context().device().name(), set.profiles().size(), base.describePrecision(), set.sourceName(), base.weightBytes() / 1048576.0, Files.size(out) / 1048576.0);
            System.out.printf("engine: %s, %d layers, build %.2f s%n", out, base.layerPlans().size(), (System.nanoTime() - t0) / 1e9);
        } finally {
            if (base != null) base.close();
        }
        return 0;
    }

    /**
     * Explicit quantization: the activation Q/DQ pairs that stay nodes. A pair whose tensor no INT8
     * node of the plan writes, and that not only INT8 nodes read through it (a node the Q/DQ marks
     * INT8 fell back, or the search left a reader at FP32), would lose the rounding the model asks
     * for if folded; it is kept, and the plan searched again, until every folded pair is realized by
     * an INT8 node (a kept pair's nodes run as they are, as ONNX Runtime runs them).
     */
    private java.util.Set<String> explicitKeep(Graph model, String tgt) {
        java.util.Set<String> keep = new java.util.TreeSet<>();
        java.util.List<org.tessel.search.PrecisionRule> user = precisionRules.stream().map(org.tessel.search.PrecisionRule::parse).toList();
        for (int round = 0; round < 8; round++) {
            Graph g = model.copy();
            var qdq = org.tessel.runtime.calib.ExplicitQuantization.fold(g, keep);
            Graph prepared = org.tessel.search.Searcher.prepare(g, approximateGelu);
            ExplicitQdq ex = new ExplicitQdq(qdq, prepared, allowed());
            org.tessel.search.SearchOptions o = choices.apply(org.tessel.search.SearchOptions.defaults().withTarget(tgt).withSeed(searchSeed)
                    .withPrecisions(CalibrationOptions.with(allowed(), ex.format())).withPrecisionRules(ex.rules(user)));
            org.tessel.tactics.plan.PlanApplier.Applied applied;
            do {
                o = o.withPrecisionRules(ex.rules(user));
                org.tessel.search.SearchProblem p = org.tessel.search.Searcher.problem(prepared, o);
                applied = org.tessel.search.EnginePlans.complete(p, org.tessel.search.Searcher.run(p, strategy, o));
            } while (ex.refine(applied));
            java.util.Set<String> lost = ex.unrealized(applied);
            if (lost.isEmpty() || !keep.addAll(lost)) break;
        }
        return keep;
    }

    /**
     * For a GPU engine at FP8: the nodes the catalogue would let run at FP8 but no GPU tactic does (the GPU's FP8 kernels are
     * cuBLASLt GEMMs; the CPU engine emulates FP8 everywhere) are kept off FP8 by a rule of their own, each recorded with why.
     */
    static java.util.List<org.tessel.search.PrecisionRule> gpuFp8Rules(java.util.List<org.tessel.search.PrecisionRule> rules, Graph prepared,
                                                                     java.util.Set<org.tessel.cost.Precision> precs, java.util.Map<String, String> fallbacks) {
        java.util.Set<org.tessel.cost.Precision> others = java.util.EnumSet.noneOf(org.tessel.cost.Precision.class);
        others.addAll(precs);
        others.remove(org.tessel.cost.Precision.FP8);
        if (others.isEmpty()) return rules;
        java.util.List<org.tessel.search.PrecisionRule> out = new java.util.ArrayList<>(rules);
        for (org.tessel.ir.Node n : prepared.nodes()) {
            if (!n.output().type().dtype().isFloating() || CalibrationOptions.whyNo(n, org.tessel.cost.Precision.FP8) != null) continue;
            String why = org.tessel.runtime.gpu.engine.GpuEngine.fp8WhyNot(n);
            if (why == null) continue;
            out.add(new org.tessel.search.PrecisionRule(n.name(), others));
            fallbacks.putIfAbsent(n.name(), "the GPU engine: " + why);
        }
        return out;
    }

    /** Search (or read) the plan, apply it, build the engine that runs exactly it, save. */
    private int buildPlanned(Backend backend, long t0) throws Exception {
        if (strategy != null && planFile != null) throw new IllegalArgumentException("--strategy and --plan exclude each other: search a plan, or build a given one");
        Graph g = model.load();
        org.tessel.cost.Precision quant = planFile == null && !explicitQdq ? calibration.format(java.util.List.of(), precisionRules) : null;
        if (explicitQdq) quant = org.tessel.runtime.calib.ExplicitQuantization.format(g);
        // the measured H200 spec has no FP8 rate (nothing timed at FP8 yet): FP8 is priced on the H200's datasheet
        String tgt = target != null ? target : quant == org.tessel.cost.Precision.FP8 ? "h200" : CostTargets.forBackend(backend);
        java.util.Set<String> keep = explicitQdq && planFile == null ? explicitKeep(g, tgt) : java.util.Set.of();
        org.tessel.runtime.calib.ExplicitQuantization.Result qdq = explicitQdq ? org.tessel.runtime.calib.ExplicitQuantization.fold(g, keep) : null;
        Graph prepared = org.tessel.search.Searcher.prepare(g, approximateGelu);
        reportApproximateGelu(approximateGelu, prepared);
        boolean int8 = planFile == null && (explicitQdq || calibration.wanted(java.util.List.of(), precisionRules));
        CalibrationOptions.Scales scales = null;
        java.util.Map<String, String> fallbacks = new java.util.TreeMap<>();
        ExplicitQdq explicit = null;
        if (qdq != null) {
            System.out.println(qdq.format().text() + ": " + qdq.describe());
            if (planFile == null) {
                explicit = new ExplicitQdq(qdq, prepared, allowed());
                scales = explicit.scales();
                for (String w : explicit.warnings()) System.out.println("warning: " + w);
            }
        } else if (int8) {
            scales = calibration.scales(prepared, quant);
            System.out.println(quant.text() + ": " + scales.how());
        }
        TimingCache cache = backend instanceof Backend.Gpu gpu && timingCache != null
                ? TimingCache.loadFor(timingCache, GpuEngineFile.timingEnvironment(gpu.context()), System.out::println) : null;
        org.tessel.tactics.plan.PlanApplier.Applied applied;
        String how;
        if (planFile != null) {
            if (!Files.exists(planFile)) throw new IllegalArgumentException("--plan " + planFile + ": no such file");
            if (Files.isDirectory(planFile)) throw new IllegalArgumentException("--plan " + planFile + " is a folder, not a plan file");
            if (!precisionRules.isEmpty()) throw new IllegalArgumentException("--precision constrains a search; a --plan file is built as it is");
            if (choices.given()) throw new IllegalArgumentException(choices.flag() + " steers a search; a --plan file is built as it is");
            org.tessel.tactics.plan.EnginePlan given = org.tessel.tactics.plan.EnginePlanJson.read(org.tessel.ir.io.TextFiles.read(planFile), planFile.toString());
            applied = org.tessel.tactics.plan.PlanApplier.apply(prepared, given);
            how = "plan " + planFile + " (strategy " + given.strategy() + ")";
        } else {
            org.tessel.search.Strategies.byName(strategy);
            java.util.Set<org.tessel.cost.Precision> precs = int8 ? CalibrationOptions.with(allowed(), quant) : allowed();
            java.util.List<org.tessel.search.PrecisionRule> rules = precisionRules.stream().map(org.tessel.search.PrecisionRule::parse).toList();
            if (explicit != null) {
                rules = explicit.rules(rules);
            } else if (int8) {
                rules = calibration.rules(rules, prepared, fallbacks, quant);
                if (quant == org.tessel.cost.Precision.FP8 && backend instanceof Backend.Gpu) rules = gpuFp8Rules(rules, prepared, precs, fallbacks);
                for (var f : fallbacks.entrySet()) System.out.println(quant.text() + " fallback: " + f.getKey() + ": " + f.getValue());
            }
            org.tessel.search.SearchOptions o = org.tessel.search.SearchOptions.defaults().withTarget(tgt).withSeed(searchSeed).withPrecisions(precs)
                    .withPrecisionRules(rules);
            o = choices.apply(o);
            org.tessel.search.SearchProblem p;
            String level = tuning != null ? tuning : timingCache != null ? "top-k" : "fixed";
            if (backend instanceof Backend.Gpu gpu && (level.equals("top-k") || level.equals("all"))) {
                // measure, then solve: the cost model's best candidates per node and format are timed on this GPU
                org.tessel.runtime.gpu.engine.GpuTuner tuner = new org.tessel.runtime.gpu.engine.GpuTuner(gpu.context(), cache);
                org.tessel.search.TunedCosting costing = new org.tessel.search.TunedCosting(new org.tessel.search.CatalogCosting(org.tessel.tactics.TacticCatalog.global(),
                        new org.tessel.cost.CostModel(org.tessel.cost.DeviceSpec.byName(tgt), o.costParams()), o.cudaGraphs()), tuner, level.equals("all") ? Integer.MAX_VALUE : topK);
                p = org.tessel.search.Searcher.problem(prepared, costing, o);
                System.out.printf(java.util.Locale.ROOT, "measured prices: %d timed on the GPU, %d from the timing cache, %d failed (dropped: those nodes fall back to their other tactics), %.2f s; %d choices, %d reformat types and %d casts priced by measurement%n",
                        tuner.measuredHere(), tuner.fromCache(), tuner.refused(), tuner.seconds(), costing.choicesOverridden(), costing.reformatsTimed(), costing.castsTimed());
                for (String r : tuner.refusals()) System.out.println("  not measured: " + r);
                for (String f : costing.failures()) System.out.println("  dropped: " + f);
            } else {
                p = org.tessel.search.Searcher.problem(prepared, o);
            }
            org.tessel.search.accuracy.AccuracyBudget budget = accuracy.budget();
            org.tessel.search.Plan plan;
            String accuracyLine = "";
            if (budget != null) {
                // solve under the budget, build the plan's engine (CPU, emulated) and check it on held-out inputs; tighten and solve again if over
                // with --int8 (--fp8) each node's INT8 (FP8) error is measured with the calibrated scales, and the checked engine carries them
                org.tessel.accuracy.CalibratedScales int8Scales = scales == null ? null : scales.calibrated();
                org.tessel.search.accuracy.ErrorModel model = accuracy.errorModel(p, o.precisions(), int8Scales);
                if (backend.isGpu()) System.out.println("note: the accuracy check runs the plan on the CPU backend (reduced precision emulated by rounding, INT8 by fake quantization), not on the GPU");
                org.tessel.accuracy.BudgetedSearch.Result r = org.tessel.accuracy.BudgetedSearch.solve(p, strategy, o, model, budget, accuracy.heldOutInputs(p), int8Scales, accuracy.rounds, System.out::println);
                plan = r.plan();
                applied = r.applied();
                accuracyLine = "; " + r.problem().accuracy().describe(plan.assignment()) + ", measured " + org.tessel.accuracy.BudgetedSearch.show(budget, r.measuredError()) + " on held-out inputs"
                        + (int8Scales != null ? " with " + org.tessel.accuracy.CalibratedScales.quantizedNodes(r.applied(), int8Scales.precision()) + " node(s) at "
                        + int8Scales.precision().text().toUpperCase(java.util.Locale.ROOT) : "");
            } else {
                plan = org.tessel.search.Searcher.run(p, strategy, o);
                applied = org.tessel.search.EnginePlans.complete(p, plan);
                // explicit quantization: a node the search put at INT8 whose tensors the model's Q/DQ gives no scale is searched again without INT8
                while (explicit != null && explicit.refine(applied)) {
                    o = o.withPrecisionRules(explicit.rules(precisionRules.stream().map(org.tessel.search.PrecisionRule::parse).toList()));
                    p = org.tessel.search.Searcher.problem(prepared, o);
                    plan = org.tessel.search.Searcher.run(p, strategy, o);
                    applied = org.tessel.search.EnginePlans.complete(p, plan);
                }
            }
            if (explicit != null) {
                fallbacks.putAll(explicit.fallbacks());
                for (var f : fallbacks.entrySet()) System.out.println(explicit.format().text() + " fallback: " + f.getKey() + ": " + f.getValue());
            }
            // the engine is gated by PlanCheck on the planned graph; the search's own feasibility terms (e.g. a fused member
            // whose standalone choice differs from its group's format) say how it priced the plan, so they are reported
            if (!plan.feasible()) System.out.println("note: by the search's constraints the " + strategy + " plan is " + plan.note());
            if (scales != null) {
                applied = new org.tessel.tactics.plan.PlanApplier.Applied(applied.graph(), CalibrationOptions.quantized(applied.plan(), applied.graph(), scales, fallbacks));
                org.tessel.cost.Precision sp = scales.precision();
                String st = sp.text(), SP = st.toUpperCase(java.util.Locale.ROOT);
                int atInt8 = applied.plan().precisionMix().getOrDefault(sp, 0);
                System.out.println(st + ": " + atInt8 + " of " + applied.plan().nodes().size() + " nodes run " + SP + (atInt8 > 0 ? "" : budget != null ? "; under " + budget.text() + " the search chose none (too slow on " + tgt + ", or the budget does not admit the " + SP + " error)" : "; the search found no node faster at " + SP + " on "
                        + tgt + " (its choice), so the engine has none: pin " + SP + " with --precision 'Conv=" + st + "' (and --" + st + "-fallback) to measure " + SP + " anyway"));
            }
            how = String.format(java.util.Locale.ROOT, "strategy %s on %s, predicted %.4f ms (bound %.4f ms)%s%s", plan.strategy(), tgt, plan.predictedMs(), plan.boundMs(),
                    accuracyLine, plan.note().isEmpty() ? "" : "; " + plan.note());
        }
        org.tessel.tactics.plan.EnginePlan plan = applied.plan();
        // the plan is checked against the catalogue and the device before anything is built
        org.tessel.tactics.plan.PlanCheck.check(plan, applied.graph(), org.tessel.tactics.TacticCatalog.global(),
                backend.isGpu() ? org.tessel.cost.DeviceSpec.byName(tgt) : null);
        if (backend instanceof Backend.Gpu gpu) {
            // the GPU builder builds the plan's tactics on the plan's graph, each node at the plan's precision
            GpuEngine.Precision gp = gpuPrecision(plan, applied.graph());
            try (GpuEngine e = GpuEngine.build(applied.graph(), plan, gp, gpu.context(), options(cache), streams)) {
                if (out.getParent() != null) Files.createDirectories(out.getParent());
                e.save(out);
                if (cache != null) cache.save(timingCache);
                System.out.println(how);
                System.out.printf("backend: cuda (%s), precision %s, weights %.1f MiB, context memory %.1f MiB, file %.1f MiB%n", gpu.context().device().name(),
                        e.describePrecision(), e.weightBytes() / 1048576.0, e.contextBytes() / 1048576.0, Files.size(out) / 1048576.0);
                System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layerPlans().size(), (System.nanoTime() - t0) / 1e9);
            }
            return 0;
        }
        Engine e = Engine.buildCpu(applied.graph(), plan);
        e.save(out);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.println(how);
        System.out.printf("backend: cpu, emulating the plan's tactics (precisions %s), %d merges, %d fused groups, %d casts, activation arena %.2f MiB, file %.2f MiB%n",
                plan.precisionMix(), plan.merges().size(), plan.groups().size(), plan.conversions().size(), e.arenaBytes() / 1048576.0, Files.size(out) / 1048576.0);
        System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layers().size(), s);
        return 0;
    }
}
