package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.calib.ActivationCalibration;
import org.tessel.runtime.calib.CalibrationCache;
import org.tessel.runtime.calib.Calibrator;
import org.tessel.search.PrecisionRule;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.QuantizationTable;
import picocli.CommandLine.Option;

/**
 * What `search` and `build` take for INT8 and FP8 (TensorRT's post-training calibration):
 * {@code --int8} or {@code --fp8} (one quantized format per plan: a tensor has one scale), the
 * calibration data ({@code --calib}), the calibrator, the calibration cache and whether a node a
 * precision rule pins to INT8 (or FP8) may fall back when no tactic runs it at that precision.
 *
 * <p>Calibration data ({@code --calib PATH}):
 * <ul>
 * <li>{@code generated[:N]}: N batches (default 32) of seeded inputs, uniform in [-1, 1) (integer inputs in [0, 10));
 * <li>a folder of subfolders (an ONNX test data set's {@code test_data_set_*}, or any): each subfolder is
 *     one batch, its files one per input, named after the input or {@code input_K.pb}, else taken in order;
 * <li>a folder of {@code .npy}/{@code .pb} files: with one model input every file is one batch (any names,
 *     sorted); with several, files are named {@code INPUT.K.npy} (or {@code .pb}), K the batch.
 * </ul>
 * Every tensor must have its input's element type and shape (an error names the file and the input).
 */
final class CalibrationOptions {
    @Option(names = "--int8", description = "Allow INT8 (trtexec's flag): nodes whose tactic runs INT8 may take it, with scales from --calib or --calib-cache.") boolean int8;
    @Option(names = "--fp8", description = "Allow FP8 E4M3 (trtexec's flag; FP8 tensor cores are sm_89+: h100, h200, l4, rtx4090): nodes whose tactic runs FP8 may take it, "
            + "with per-tensor scales (amax/448) from --calib or an fp8 --calib-cache. Not with --int8: a plan has one quantized format.") boolean fp8;
    @Option(names = "--calib", paramLabel = "DIR|generated[:N]", description = "Calibration data: a folder of .npy/.pb tensors (one file per batch; INPUT.K.npy with several inputs), "
            + "a folder of batch folders (ONNX test_data_set_*), or generated[:N] seeded inputs (default N 32).") String calib;
    @Option(names = "--calibrator", defaultValue = "entropy", paramLabel = "entropy|minmax|percentile[:P]|mse",
            description = "How scales are chosen from the activation histograms (TensorRT's calibrators; default ${DEFAULT-VALUE}; percentile default 99.99).") String calibrator;
    @Option(names = "--calib-cache", paramLabel = "FILE", description = "Calibration cache: used when it exists (no calibration run), written after calibrating otherwise.") Path cache;
    @Option(names = {"--int8-fallback", "--fp8-fallback"}, description = "A node a --precision rule pins to int8 (fp8) that no INT8 (FP8) tactic runs computes in another precision "
            + "(listed by `tessel inspect`) instead of failing.") boolean fallback;

    /**
     * The calibrated scales of a prepared graph, the quantized precision they are for, and where they
     * came from; {@code weights}: per weight name, channel scales the plan carries (a Q/DQ model's own;
     * empty when calibrated, the builders then derive them from the weights).
     */
    record Scales(String calibrator, Precision precision, Map<String, Float> scales, String how, Map<String, float[]> weights) {
        Scales(String calibrator, Precision precision, Map<String, Float> scales, String how) { this(calibrator, precision, scales, how, Map.of()); }

        /** The scales as an accuracy budget measures and checks INT8 or FP8 with them. */
        org.tessel.accuracy.CalibratedScales calibrated() { return new org.tessel.accuracy.CalibratedScales(calibrator, precision, scales); }
    }

    /** True when INT8 or FP8 is asked for, by --int8/--fp8 or an int8/fp8 in the given precisions/rules. */
    boolean wanted(List<String> precisionTexts, List<String> rules) { return format(precisionTexts, rules) != null; }

    /**
     * The quantized precision asked for (by --int8/--fp8 or an int8/fp8 in the given precisions or
     * rules), null when none; both is refused, naming where each came from: a plan carries one
     * scale per tensor, so one format.
     */
    Precision format(List<String> precisionTexts, List<String> rules) {
        String i8 = asked("int8", int8, precisionTexts, rules), f8 = asked("fp8", fp8, precisionTexts, rules);
        if (i8 != null && f8 != null)
            throw new IllegalArgumentException(i8 + " and " + f8 + " together: a plan carries one quantized format (one calibrated scale per tensor, amax/127 or amax/448); "
                    + "build INT8 or FP8, not both");
        return i8 != null ? Precision.INT8 : f8 != null ? Precision.FP8 : null;
    }

    private static String asked(String name, boolean flag, List<String> precisionTexts, List<String> rules) {
        if (flag) return "--" + name;
        for (String p : precisionTexts) if (p.trim().equalsIgnoreCase(name)) return "--precisions " + name;
        for (String r : rules) if (r.toLowerCase(Locale.ROOT).matches(".*=.*\\b" + name + "\\b.*")) return "--precision " + r;
        return null;
    }

    /** Refuses FP8 for a target whose spec has no FP8 tensor cores (before sm_89, e.g. the A100), before any work. */
    static void checkTarget(Precision format, String target) {
        if (format == null || target == null) return;
        org.tessel.cost.DeviceSpec d = org.tessel.cost.DeviceSpec.byName(target);
        if (!d.isCpu() && !d.supports(format))
            throw new IllegalArgumentException("--" + format.text() + ": target " + target + " has no " + format.text() + " tensor cores"
                    + (format == Precision.FP8 ? " (FP8 is sm_89 and later: --target h100, h200, l4 or rtx4090)" : ""));
    }

    /** Refuses calibration options that have no INT8 to serve, and INT8 without scales. */
    void check(boolean wanted) { check(wanted ? Precision.INT8 : null); }

    /** Refuses calibration options that have no quantized precision to serve, and INT8/FP8 without scales. */
    void check(Precision format) {
        if (format == null) {
            String stray = calib != null ? "--calib" : cache != null ? "--calib-cache" : fallback ? "--int8-fallback" : null;
            if (stray != null) throw new IllegalArgumentException(stray + " applies to INT8 and FP8: add --int8 or --fp8");
            return;
        }
        Calibrator.parse(calibrator); // a bad --calibrator fails before any work
        if (calib == null && (cache == null || !Files.exists(cache)))
            throw new IllegalArgumentException("--" + format.text() + " needs quantization scales: give calibration data with --calib DIR|generated[:N]"
                    + (cache == null ? " or an existing --calib-cache FILE" : " (--calib-cache " + cache + " does not exist yet)"));
    }

    /**
     * The scales for the prepared graph: from the cache when it exists, else by calibrating on
     * --calib (and writing the cache when one is named).
     */
    Scales scales(Graph prepared) throws IOException { return scales(prepared, Precision.INT8); }

    /** As above, for a quantized precision: a cache must hold that format's scales. */
    Scales scales(Graph prepared, Precision format) throws IOException {
        if (cache != null && Files.exists(cache)) {
            CalibrationCache c = CalibrationCache.read(cache);
            if (c.format() != format)
                throw new IllegalArgumentException("--calib-cache " + cache + " holds " + c.format().text() + " scales (amax/" + (int) c.format().quantizedMax() + "), and --" + format.text()
                        + " needs " + format.text() + " ones: give another cache file (it is written after calibrating) or build " + c.format().text());
            Map<String, Float> s = c.scalesFor(prepared, cache, w -> System.out.println("warning: " + w));
            if (calib != null) System.out.println("note: --calib-cache " + cache + " exists, so its scales are used and --calib is not read (delete the cache to recalibrate)");
            return new Scales(c.calibrator(), format, s, String.format(Locale.ROOT, "calibration cache %s (%s%s, %d tensors)", cache, format == Precision.INT8 ? "" : format.text() + ", ", c.calibrator(), s.size()));
        }
        Calibrator c = Calibrator.parse(calibrator);
        List<List<Tensor>> batches = batches(prepared, calib);
        ActivationCalibration.Result r = ActivationCalibration.calibrate(prepared, batches, c, format, w -> System.out.println("warning: " + w));
        String how = String.format(Locale.ROOT, "calibrated %d tensors over %d batches with %s in %.2f s", r.scales().size(), r.batches(), r.calibrator(), r.seconds());
        if (cache != null) {
            CalibrationCache.of(prepared, r.calibrator(), r.scales(), format).write(cache);
            how += ", cache written to " + cache;
        }
        return new Scales(r.calibrator(), format, r.scales(), how);
    }

    /** The precisions with INT8 added. */
    static Set<Precision> withInt8(Set<Precision> ps) { return with(ps, Precision.INT8); }

    /** The precisions with one more (the quantized one asked for). */
    static Set<Precision> with(Set<Precision> ps, Precision p) {
        Set<Precision> s = EnumSet.copyOf(ps);
        s.add(p);
        return s;
    }

    /**
     * The precision rules to search with. Without --int8-fallback they are the user's. With it, a
     * rule that allows only int8 is split per node it matches: a node some tactic runs at INT8 keeps
     * the rule (by its name), one that no tactic runs at INT8 is left free and recorded with why.
     */
    List<PrecisionRule> rules(List<PrecisionRule> given, Graph prepared, Map<String, String> fallbacks) { return rules(given, prepared, fallbacks, Precision.INT8); }

    /** As above for the quantized precision asked for (INT8 or FP8). */
    List<PrecisionRule> rules(List<PrecisionRule> given, Graph prepared, Map<String, String> fallbacks, Precision format) {
        if (!fallback) {
            // a node pinned to INT8 (FP8) that nothing runs at it fails here, saying why, rather than as a search without choices
            Set<String> inGroup = null;
            for (PrecisionRule r : given) {
                if (!r.allowed().equals(Set.of(format))) continue;
                for (Node n : prepared.nodes()) {
                    // other ops may still run quantized inside a fused group; the search says when they cannot
                    if (!r.matches(n) || !CONTRACTIONS.contains(n.opName())) continue;
                    String why = whyNo(n, format);
                    if (why != null && inGroup == null) inGroup = runnableAt(prepared, format);
                    if (why != null && !inGroup.contains(n.name()))
                        throw new IllegalArgumentException(n.describe() + ": --precision " + r.text() + ": " + why + "; let such nodes run at another precision with --" + format.text() + "-fallback");
                }
            }
            return given;
        }
        List<PrecisionRule> out = new ArrayList<>();
        Set<String> inGroup = null;
        for (PrecisionRule r : given) {
            if (!r.allowed().equals(Set.of(format))) { out.add(r); continue; }
            boolean any = false;
            for (Node n : prepared.nodes()) {
                if (!r.matches(n)) continue;
                any = true;
                String why = whyNo(n, format);
                // no tactic runs it alone (a MatMul: cuBLASLt runs one only inside a fused gemm_bias_act), but a fused group can
                if (why != null && inGroup == null) inGroup = runnableAt(prepared, format);
                if (why != null && inGroup.contains(n.name())) why = null;
                if (why == null) out.add(new PrecisionRule(n.name(), r.allowed()));
                else fallbacks.put(n.name(), "rule '" + r.text() + "': " + why);
            }
            if (!any) out.add(r); // the search says the rule matches nothing
        }
        return out;
    }

    private static final Set<String> CONTRACTIONS = org.tessel.runtime.engine.PrecisionEmulation.TENSOR_CORE_OPS;

    /** Why no catalogue tactic runs {@code n} at INT8 (in any layout), or null when one does. */
    static String whyNoInt8(Node n) { return whyNo(n, Precision.INT8); }

    /**
     * The nodes of {@code prepared} the search can run at {@code format}, alone or inside a fused group (a MatMul runs on
     * cuBLASLt only inside a fused gemm_bias_act): the precisions of each node's choices in a search problem over FP32 and
     * {@code format}.
     */
    static Set<String> runnableAt(Graph prepared, Precision format) {
        org.tessel.search.SearchProblem p = org.tessel.search.Searcher.problem(prepared, org.tessel.search.SearchOptions.defaults()
                .withTarget(format == Precision.FP8 ? "h200" : "h200-measured").withPrecisions(java.util.EnumSet.of(Precision.FP32, format)));
        Set<String> out = new java.util.HashSet<>();
        for (org.tessel.search.SearchProblem.Node n : p.nodes())
            if (n.choices().stream().anyMatch(c -> c.precision() == format)) out.add(n.name());
        return out;
    }

    /** Why no catalogue tactic runs {@code n} at a quantized precision (in any layout), or null when one does. */
    static String whyNo(Node n, Precision format) {
        List<String> reasons = new ArrayList<>();
        for (Tactic t : TacticCatalog.global().all()) {
            if (!t.appliesTo(n)) continue;
            String first = null;
            for (Layout l : List.of(Layout.NHWC, Layout.NCHW, Layout.ANY)) {
                String why = t.whyNot(n, format, l);
                if (why == null) return null;
                if (first == null) first = why;
            }
            reasons.add(t.id() + ": " + first);
        }
        return reasons.isEmpty() ? "no tactic implements " + n.opName() : "no " + format.text().toUpperCase(Locale.ROOT) + " tactic runs it (" + String.join("; ", reasons) + ")";
    }

    /**
     * The plan with the quantization table its INT8 nodes need, for the planned graph, and the
     * fallbacks: of the nodes freed from an int8 rule, those that did not end up at INT8 (alone or in
     * the fused group that holds them).
     */
    static EnginePlan quantized(EnginePlan plan, Graph planned, Scales s, Map<String, String> fallbacks) {
        Map<String, String> fell = new TreeMap<>();
        for (var f : fallbacks.entrySet()) {
            String at = f.getKey();
            for (var g : plan.groups()) if (g.members().contains(at)) at = g.name();
            var p = plan.node(at);
            if (p == null || p.precision() != s.precision()) fell.put(f.getKey(), f.getValue());
        }
        return plan.withQuantization(QuantizationTable.forPlanned(planned, plan, s.precision(), s.calibrator(), s.scales(), s.weights()).withFallbacks(fell));
    }

    private static final Pattern GENERATED = Pattern.compile("generated(?::(\\d+))?");

    /** The calibration batches for a graph's inputs, each one tensor per input in input order. */
    static List<List<Tensor>> batches(Graph g, String spec) throws IOException {
        Matcher m = GENERATED.matcher(spec);
        if (m.matches()) {
            int n = m.group(1) == null ? 32 : Integer.parseInt(m.group(1));
            if (n < 1) throw new IllegalArgumentException("--calib " + spec + ": the calibration set is empty (N must be at least 1)");
            return generated(g, n);
        }
        if (spec.startsWith("generated")) throw new IllegalArgumentException("--calib " + spec + ": expected generated or generated:N (N batches)");
        Path dir = Path.of(spec);
        if (!Files.exists(dir)) throw new IllegalArgumentException("--calib " + dir + ": no such folder");
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("--calib " + dir + ": is a file; give a folder of tensor files (or of batch folders) or generated[:N]");
        List<Path> subdirs, files;
        try (var s = Files.list(dir)) {
            List<Path> all = s.sorted().toList();
            subdirs = all.stream().filter(Files::isDirectory).toList();
            files = all.stream().filter(f -> Files.isRegularFile(f) && (f.toString().endsWith(".npy") || f.toString().endsWith(".pb"))).toList();
        }
        List<List<Tensor>> out = new ArrayList<>();
        if (!subdirs.isEmpty()) {
            if (!files.isEmpty()) throw new IllegalArgumentException("--calib " + dir + ": holds both batch folders and tensor files (" + files.getFirst().getFileName() + "); use one form");
            for (Path d : subdirs) out.add(TensorFiles.inputs(List.of(d), g.inputs(), "--calib"));
        } else if (g.inputs().size() == 1) {
            Value in = g.inputs().getFirst();
            for (Path f : files) out.add(List.of(checked(f, in)));
        } else {
            Map<Integer, Map<Value, Path>> byBatch = new TreeMap<>();
            Map<String, Value> byStem = new LinkedHashMap<>();
            for (Value v : g.inputs()) byStem.put(TensorFiles.fileStem(v.name()), v);
            Pattern named = Pattern.compile("(.+)\\.(\\d+)\\.(npy|pb)");
            for (Path f : files) {
                Matcher fm = named.matcher(f.getFileName().toString());
                Value v = fm.matches() ? byStem.get(fm.group(1)) : null;
                if (v == null)
                    throw new IllegalArgumentException("--calib " + f + ": with " + g.inputs().size() + " inputs each file is named INPUT.K.npy (or .pb), INPUT one of "
                            + byStem.keySet() + " and K the batch; or give one folder per batch");
                byBatch.computeIfAbsent(Integer.parseInt(fm.group(2)), k -> new LinkedHashMap<>()).put(v, f);
            }
            for (var e : byBatch.entrySet()) {
                List<Tensor> batch = new ArrayList<>();
                for (Value v : g.inputs()) {
                    Path f = e.getValue().get(v);
                    if (f == null) throw new IllegalArgumentException("--calib " + dir + ": batch " + e.getKey() + " has no file for input %" + v.name() + " (" + TensorFiles.fileStem(v.name()) + "." + e.getKey() + ".npy)");
                    batch.add(checked(f, v));
                }
                out.add(batch);
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--calib " + dir + ": the calibration set is empty (no .npy or .pb files, no batch folders)");
        return out;
    }

    private static Tensor checked(Path f, Value in) throws IOException {
        Tensor t = TensorFiles.read(f);
        if (t.dtype() != in.type().dtype() || !t.shape().equals(in.type().shape()))
            throw new IllegalArgumentException(f + ": " + t.dtype().text() + t.shape() + " for input %" + in.name() + ", which is " + in.type().dtype().text() + in.type().shape());
        return t;
    }

    /** {@code n} batches of seeded inputs (batch k from seed 1000 + k): floating uniform in [-1, 1), integers in [0, 10), booleans true. */
    static List<List<Tensor>> generated(Graph g, int n) {
        List<List<Tensor>> out = new ArrayList<>();
        for (int b = 0; b < n; b++) out.add(org.tessel.accuracy.AccuracyInputs.seeded(g, 1000 + b, false));
        return out;
    }
}
