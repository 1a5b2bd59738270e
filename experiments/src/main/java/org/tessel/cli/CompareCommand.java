package org.tessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineFile;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs an engine, the reference interpreter and ONNX Runtime on the same inputs and compares their
 * outputs (max-abs, relative L2, cosine; pass/fail by numpy's allclose rule), optionally every
 * intermediate tensor the engine keeps, or bisects which layers of a reduced-precision plan must
 * stay in FP32 for the tolerance to hold.
 */
@Command(name = "compare", description = {"Run the engine, the reference interpreter and ONNX Runtime on the same inputs; per output max_abs, rel_l2 and cosine, "
        + "each runner against the reference interpreter (and the engine against ONNX Runtime). Exit 0 when every comparison is within "
        + "|a - b| <= atol + rtol * |b|, else 1. Ends with 'PASS' or 'FAIL: ...'.",
        "MODEL (an .onnx, .tir or zoo:NAME) is built as `tessel build --cpu` would (with --fp16/--bf16/--tf32: the rule plan, its precisions emulated). "
        + "An ENGINE file runs as it is; ONNX Runtime then needs the source model (--model).",
        "--all-tensors also compares every tensor the engine keeps between layers with the reference's (and ONNX Runtime's) tensor of the same name.",
        "--bisect-precision P finds the layers of the P (fp16, bf16, tf32) plan that must stay in FP32 for the outputs to be within tolerance, as Polygraphy's `debug precision`."})
final class CompareCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--model", paramLabel = "MODEL", description = "The engine's source model (.onnx, .tir, zoo:NAME), for the reference interpreter and ONNX Runtime.") String sourceModel;
    @Option(names = "--inputs", split = ",", paramLabel = "FILE_OR_DIR", description = "Input tensors (.npy, .pb, or folders of them), by name or by order; default: seeded random inputs.") List<Path> inputFiles;
    @Option(names = "--rtol", defaultValue = "1e-3", description = "Relative tolerance (default ${DEFAULT-VALUE}).") double rtol;
    @Option(names = "--atol", defaultValue = "1e-4", description = "Absolute tolerance (default ${DEFAULT-VALUE}).") double atol;
    @Option(names = "--all-tensors", description = "Also compare every intermediate tensor the engine keeps (by name).") boolean allTensors;
    @Option(names = "--no-onnxruntime", description = "Leave ONNX Runtime out.") boolean noOrt;
    @Option(names = "--fp16", description = "Build the engine from the rule plan at FP16 (emulated).") boolean fp16;
    @Option(names = "--bf16", description = "Build the engine from the rule plan at BF16 (emulated).") boolean bf16;
    @Option(names = "--tf32", description = "Build the engine from the rule plan at TF32 (emulated).") boolean tf32;
    @Option(names = "--strategy", description = "Search strategy of the engine's plan (default: rule when a precision flag is given).") String strategy;
    @Option(names = "--precision", description = "Precision rule PATTERN=P1|P2 for the engine's plan (repeatable), as in `tessel build`.") List<String> precisionRules = new ArrayList<>();
    @Option(names = "--bisect-precision", paramLabel = "P", description = "Find the layers that must stay FP32 in a P plan (fp16, bf16 or tf32) for the tolerance.") String bisect;
    @Option(names = "--plan-out", paramLabel = "FILE", description = "With --bisect-precision: write the plan that passes (for `tessel build --plan FILE`).") Path planOut;
    @Option(names = "--json", description = "Print the comparison as JSON.") boolean json;

    private static final String ENGINE = "engine", REFERENCE = "reference", ORT = "onnxruntime";

    /** The precisions the engine's layers run at (for the rounding hint of a FAIL). */
    private final Set<Precision> enginePrecisions = EnumSet.noneOf(Precision.class);

    /**
     * When the engine's loosest precision rounds by more than {@code rtol} on its own (a BF16 engine compared at the
     * default 1e-3), a line saying so and what to pass; empty otherwise (the failure is not the precision's rounding).
     */
    static java.util.Optional<String> roundingHint(Set<Precision> precisions, double rtol) {
        Precision loosest = precisions.stream().filter(p -> p != Precision.FP32).max(java.util.Comparator.comparingDouble(Precision::relativeError)).orElse(null);
        if (loosest == null || loosest.relativeError() <= rtol) return java.util.Optional.empty();
        double suggest = Math.pow(10, Math.ceil(Math.log10(2 * loosest.relativeError())));
        return java.util.Optional.of(String.format(Locale.ROOT, "note: the engine runs layers at %s, whose rounding alone is about %s relative, more than rtol %s; "
                + "to compare at %s's precision pass --rtol %s (or more)", loosest.text(), num(loosest.relativeError()), num(rtol), loosest.text(), num(suggest)));
    }

    /** One comparison of two runners' values of one tensor. */
    record Pair(String a, String b, Compare.Stats stats) {}

    /** The comparisons of one tensor (an output, or with --all-tensors an intermediate). */
    record Row(String name, String type, List<Pair> pairs) {
        boolean pass() { return pairs.stream().allMatch(p -> p.stats().pass()); }
    }

    @Override public Integer call() throws Exception {
        if (!(rtol >= 0) || !(atol >= 0)) throw new IllegalArgumentException("--rtol and --atol must be >= 0, got " + rtol + " and " + atol);
        Path arg = Path.of(model.name());
        boolean isEngine = !model.model.startsWith("zoo:") && Files.isRegularFile(arg) && EngineFile.isEngineFile(arg);
        if (!isEngine && sourceModel != null) throw new IllegalArgumentException("--model names an engine's source model; " + model.model + " is a model itself");
        if (planOut != null && bisect == null) throw new IllegalArgumentException("--plan-out writes the plan --bisect-precision finds; add --bisect-precision");
        if (bisect != null) {
            if (isEngine) throw new IllegalArgumentException("--bisect-precision builds engines from the model; give the MODEL, not an engine file");
            if (fp16 || bf16 || tf32 || strategy != null || !precisionRules.isEmpty())
                throw new IllegalArgumentException("--bisect-precision builds the rule plan at its precision itself; leave out --fp16/--bf16/--tf32/--strategy/--precision");
            if (allTensors) throw new IllegalArgumentException("--bisect-precision compares outputs only; leave out --all-tensors");
        }

        Graph source;
        Engine engine = null;
        Path gpuEngine = null;
        String engineWhat;
        String ortModelWhat = null;
        byte[] ortModel = null;
        if (isEngine) {
            String backend = EngineFile.backendOf(arg);
            if (backend.equals(org.tessel.runtime.gpu.engine.GpuEngineFile.BACKEND)) {
                if (allTensors) throw new IllegalArgumentException("--all-tensors reads the tensors a CPU engine keeps; " + arg + " is a GPU engine (its tensors stay on the GPU)");
                gpuEngine = arg;
                source = null;
                engineWhat = "GPU engine " + arg;
            } else {
                engine = Engine.load(arg, EngineHeader.Machine.cpu());
                engineWhat = "engine " + arg + " (" + engine.layers().size() + " layers, precisions " + (engine.plan() == null ? "{FP32}" : engine.plan().precisionMix()) + ")";
            }
            if (sourceModel != null) {
                ModelOptions m = model.withModel(sourceModel);
                source = Progress.around("loading " + sourceModel, m::load);
                if (!noOrt) { ortModel = onnxBytes(m, source); ortModelWhat = describeOrtModel(m); }
            } else source = null;
        } else {
            source = Progress.around("loading " + model.model, model::load);
            if (!noOrt) { ortModel = onnxBytes(model, source); ortModelWhat = describeOrtModel(model); }
            if (bisect != null) return new PrecisionBisection(this, source).run();
            Graph src = source;
            engine = Progress.around("building the engine", () -> build(src));
            engineWhat = "engine built from " + model.model + " (cpu, " + engine.layers().size() + " layers, precisions "
                    + (engine.plan() == null ? "{FP32}" : engine.plan().precisionMix()) + ")";
        }
        if (engine != null && engine.plan() != null) enginePrecisions.addAll(engine.plan().precisionMix().keySet());
        Graph engineGraph = engine != null ? engine.graph() : null;
        Graph inputsOf = engineGraph != null ? engineGraph : source;
        GpuEngine gpu = null;
        Backend.Gpu gpuBackend = null;
        if (gpuEngine != null) {
            Backend b = Backend.detect();
            if (!(b instanceof Backend.Gpu g))
                throw new IllegalArgumentException(arg + " is a GPU engine, and this machine has no usable GPU (" + b.describe() + "); compare a CPU engine (`tessel build ... --cpu`) or the model here");
            gpuBackend = g;
            gpu = GpuEngine.load(gpuEngine, g.context());
            inputsOf = gpu.graph();
            engineWhat += " (" + gpu.layerPlans().size() + " layers, precision " + gpu.describePrecision() + ")";
            for (GpuEngine.Precision p : gpu.precisionMix().keySet()) enginePrecisions.add(Precision.valueOf(p.name()));
        }
        try {
            List<Tensor> inputs = inputFiles == null ? OptimizeCommand.randomInputs(inputsOf) : TensorFiles.inputs(inputFiles, inputsOf.inputs(), "--inputs");
            Map<String, Tensor> named = new LinkedHashMap<>();
            for (int i = 0; i < inputs.size(); i++) named.put(inputsOf.inputs().get(i).name(), inputs.get(i));
            if (source != null) checkSameInputsAndOutputs(inputsOf, source);
            Graph outputsOf = source != null ? source : inputsOf;
            List<String> outputNames = outputsOf.outputs().stream().map(Value::name).toList();

            // the engine, with the tensors it keeps between layers when asked
            Map<String, Tensor> engineTensors = new LinkedHashMap<>();
            Map<String, String> bodyNames = new LinkedHashMap<>();
            List<Tensor> engineOut;
            if (gpu != null) {
                GpuEngine ge = gpu;
                try (GpuExecutionContext ctx = ge.createExecutionContext()) {
                    engineOut = Progress.around("running the GPU engine on " + gpuBackend.context().device().name(), () -> ctx.run(inputs));
                }
            } else {
                ExecutionContext ctx = engine.createContext();
                if (allTensors) ctx.observing((layer, outs) -> keep(layer, outs, engineTensors, bodyNames));
                engineOut = Progress.around("running the engine", () -> ctx.run(inputs));
            }
            // the reference interpreter: on the source model, else on the engine's own graph (fused bodies run as they are)
            Graph refGraph = source != null ? source : engineGraph;
            Map<String, Tensor> refTensors = new LinkedHashMap<>();
            Set<String> wanted = new java.util.HashSet<>(engineTensors.keySet());
            wanted.addAll(bodyNames.values());
            List<Tensor> refOut = Progress.around("running the reference interpreter", () -> new ReferenceInterpreter().withListener((n, outs, ns) -> {
                for (int k = 0; k < outs.size(); k++) if (wanted.contains(n.output(k).name())) refTensors.put(n.output(k).name(), outs.get(k));
            }).run(refGraph, inputs));
            // ONNX Runtime
            Map<String, Tensor> ortTensors = null;
            String ortNote;
            if (noOrt) ortNote = "left out (--no-onnxruntime)";
            else if (ortModel == null) ortNote = "skipped: an engine file does not hold its ONNX model; give it with --model MODEL.onnx";
            else {
                Map<String, DType> extra = new LinkedHashMap<>();
                for (String name : refTensors.keySet()) extra.put(name, refTensors.get(name).dtype());
                byte[] bytes = ortModel;
                String what = ortModelWhat;
                ortTensors = Progress.around("running onnxruntime", () -> {
                    try (OrtRunner ort = OrtRunner.open(bytes, extra, what)) {
                        List<String> want = new ArrayList<>(outputNames);
                        want.addAll(ort.extra);
                        return ort.run(named, want);
                    }
                });
                ortNote = "onnxruntime " + OrtRunner.version() + " (CPU) on " + ortModelWhat;
            }

            List<Row> outputs = new ArrayList<>();
            for (int i = 0; i < outputNames.size(); i++) {
                String name = outputNames.get(i);
                Map<String, Tensor> by = new LinkedHashMap<>();
                by.put(ENGINE, engineOut.get(i));
                by.put(REFERENCE, refOut.get(i));
                if (ortTensors != null) {
                    Tensor o = ortTensors.get(name);
                    if (o == null) throw new IllegalArgumentException("onnxruntime gave no output '" + name + "' (its outputs: " + ortTensors.keySet() + ")");
                    by.put(ORT, o);
                }
                outputs.add(row(name, refOut.get(i), by));
            }
            List<Row> tensors = new ArrayList<>();
            if (allTensors)
                for (var e : engineTensors.entrySet()) {
                    String name = refTensors.containsKey(e.getKey()) ? e.getKey() : bodyNames.get(e.getKey());
                    Tensor ref = name == null ? null : refTensors.get(name);
                    if (ref == null || outputNames.contains(name)) continue;
                    Map<String, Tensor> by = new LinkedHashMap<>();
                    by.put(ENGINE, e.getValue());
                    by.put(REFERENCE, ref);
                    if (ortTensors != null && ortTensors.containsKey(name)) by.put(ORT, ortTensors.get(name));
                    tensors.add(row(name, ref, by));
                }
            String inputsWhat = inputFiles == null ? "seeded random (seed 42)" : "from " + inputFiles;
            String refWhat = source != null ? "reference interpreter on " + (sourceModel != null ? sourceModel : model.model) : "reference interpreter on the engine's graph (no --model)";
            long failed = outputs.stream().filter(r -> !r.pass()).count() + tensors.stream().filter(r -> !r.pass()).count();
            int skippedTensors = allTensors ? engineTensors.size() - tensors.size() : 0;
            if (json) System.out.print(json(engineWhat, refWhat, ortNote, inputsWhat, outputs, tensors, skippedTensors, failed));
            else {
                System.out.printf(Locale.ROOT, "%s%n%s%nonnxruntime: %s%ninputs: %s; tolerance rtol %s, atol %s%n", engineWhat, refWhat, ortNote, inputsWhat, num(rtol), num(atol));
                for (Row r : outputs) printRow("output", r);
                if (allTensors) {
                    System.out.printf(Locale.ROOT, "intermediate tensors: %d compared by name (%d the engine keeps under names the reference does not have)%n", tensors.size(), skippedTensors);
                    for (Row r : tensors) printRow("tensor", r);
                    tensors.stream().filter(r -> !r.pass()).findFirst().ifPresent(r -> System.out.println("first tensor outside tolerance (in engine order): %" + r.name()));
                }
                System.out.println(failed == 0 ? "PASS" : "FAIL: " + failed + " tensor(s) outside tolerance");
                if (failed > 0) roundingHint(enginePrecisions, rtol).ifPresent(System.out::println);
                if (failed > 0 && gpu != null && gpu.plan() != null && enginePrecisions.stream().anyMatch(p -> p != Precision.FP32))
                    planEmulation(gpu.graph(), gpu.plan(), inputs, refOut, engineOut, outputNames);
            }
            return failed == 0 ? 0 : 1;
        } finally {
            if (gpu != null) gpu.close();
        }
    }

    /**
     * After a reduced-precision GPU engine failed: its own plan emulated on the CPU (the same tactics, precisions and casts,
     * each op rounded to its type) on the same inputs, each output's distance from the reference and from the GPU engine,
     * and what that says: when the emulation is as far from the reference and the GPU engine is close to the emulation, the
     * difference is the plan's rounding (pin layers to FP32, `--bisect-precision` finds which), not a GPU kernel's error.
     */
    static boolean planEmulation(Graph planned, org.tessel.tactics.plan.EnginePlan plan, List<Tensor> inputs, List<Tensor> refOut, List<Tensor> engineOut, List<String> names) {
        List<Tensor> emulated;
        try {
            Engine cpu = Engine.buildCpu(planned.copy(), plan);
            emulated = cpu.createContext().run(inputs);
        } catch (RuntimeException e) {
            System.out.println("note: the engine's plan could not be emulated on the CPU to tell rounding from a kernel's error: " + e.getMessage());
            return false;
        }
        boolean rounding = true;
        for (int i = 0; i < names.size() && i < emulated.size(); i++) {
            Compare.Stats emu = Compare.stats(refOut.get(i), emulated.get(i), 0, 0), eng = Compare.stats(refOut.get(i), engineOut.get(i), 0, 0),
                    between = Compare.stats(emulated.get(i), engineOut.get(i), 0, 0);
            System.out.printf(Locale.ROOT, "  %%%s: engine vs reference rel_l2 %s; its plan emulated on the CPU vs reference rel_l2 %s; engine vs the emulation rel_l2 %s%n",
                    names.get(i), num(eng.relL2()), num(emu.relL2()), num(between.relL2()));
            // the GPU's error is the size its plan's rounding makes on its own (the two round in different places, so not equal)
            rounding &= emu.problem() == null && eng.problem() == null && eng.relL2() <= 1.5 * emu.relL2() + 1e-6;
        }
        System.out.println(rounding
                ? "note: the engine is no further from the reference than its own plan emulated on the CPU (each op rounded to its precision): the difference is the plan's rounding, not a GPU kernel's error; --bisect-precision finds the layers to keep in FP32"
                : "note: the engine is further from the reference than its own plan's rounding (emulated on the CPU): look for a GPU kernel's error");
        return rounding;
    }

    /**
     * Keeps a layer's outputs under their names, and for a fused layer (whose outputs the fusion
     * renamed) the name of each output in its body, which is the name the unfused model uses. A
     * reformat's output holds its input's values, so it is not kept twice.
     */
    private static void keep(Node layer, List<Tensor> outs, Map<String, Tensor> into, Map<String, String> bodyNames) {
        if (layer.opName().equals(TesselOps.REFORMAT)) return;
        for (int k = 0; k < outs.size(); k++) {
            into.put(layer.output(k).name(), outs.get(k));
            if (layer.body() != null) {
                Value bo = layer.body().outputs().get(k);
                if (bo.producer() != null) bodyNames.put(layer.output(k).name(), bo.name());
            }
        }
    }

    private Row row(String name, Tensor ref, Map<String, Tensor> by) {
        List<Pair> pairs = new ArrayList<>();
        for (var e : by.entrySet()) if (!e.getKey().equals(REFERENCE)) pairs.add(new Pair(e.getKey(), REFERENCE, Compare.stats(ref, e.getValue(), rtol, atol)));
        if (by.containsKey(ORT)) pairs.add(new Pair(ENGINE, ORT, Compare.stats(by.get(ORT), by.get(ENGINE), rtol, atol)));
        return new Row(name, ref.dtype().text() + ref.shape(), pairs);
    }

    private void printRow(String kind, Row r) {
        System.out.printf(Locale.ROOT, "%s %%%s %s%n", kind, r.name(), r.type());
        for (Pair p : r.pairs()) {
            Compare.Stats s = p.stats();
            String what = p.a() + " vs " + p.b();
            if (s.problem() != null) System.out.printf(Locale.ROOT, "  %-26s FAIL: %s%n", what, s.problem());
            else System.out.printf(Locale.ROOT, "  %-26s max_abs %-10s rel_l2 %-10s cosine %-9s %s%n", what, num(s.maxAbs()), num(s.relL2()),
                    String.format(Locale.ROOT, "%.6f", s.cosine()), s.pass() ? "PASS" : "FAIL (" + s.outside() + " of " + s.size() + " elements outside)");
        }
    }

    /** Three significant digits, without trailing zeros ("0.001", "1.19e-07"). */
    static String num(double v) {
        if (Double.isNaN(v)) return "nan";
        if (v == 0) return "0";
        String s = String.format(Locale.ROOT, "%.3g", v);
        return s.contains("e") || !s.contains(".") ? s : s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    private String json(String engineWhat, String refWhat, String ortNote, String inputsWhat, List<Row> outputs, List<Row> tensors, int skipped, long failed) throws Exception {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("engine", engineWhat).put("reference", refWhat).put("onnxruntime", ortNote).put("inputs", inputsWhat).put("rtol", rtol).put("atol", atol);
        rows(root.putArray("outputs"), outputs);
        if (allTensors) {
            rows(root.putArray("tensors"), tensors);
            root.put("tensors_without_reference", skipped);
        }
        root.put("failed", failed).put("pass", failed == 0);
        return m.writeValueAsString(root) + "\n";
    }

    private static void rows(ArrayNode into, List<Row> rows) {
        for (Row r : rows) {
            ObjectNode o = into.addObject().put("name", r.name()).put("type", r.type()).put("pass", r.pass());
            ArrayNode ps = o.putArray("comparisons");
            for (Pair p : r.pairs()) {
                ObjectNode c = ps.addObject().put("a", p.a()).put("b", p.b());
                Compare.Stats s = p.stats();
                if (s.problem() != null) c.put("problem", s.problem());
                else { number(c, "max_abs", s.maxAbs()); number(c, "rel_l2", s.relL2()); number(c, "cosine", s.cosine()); c.put("outside", s.outside()).put("elements", s.size()); }
                c.put("pass", s.pass());
            }
        }
    }

    private static void number(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) o.put(key, v);
        else o.put(key, Double.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");
    }

    /** The engine's inputs and outputs and the source model's must be the same (name, type), else the comparison means nothing. */
    private static void checkSameInputsAndOutputs(Graph engine, Graph source) {
        if (engine == source) return;
        List<String> eo = engine.outputs().stream().map(v -> "%" + v.name() + ": " + v.type().dtype().text() + v.type().shape()).toList();
        List<String> so = source.outputs().stream().map(v -> "%" + v.name() + ": " + v.type().dtype().text() + v.type().shape()).toList();
        for (int i = 0; i < Math.max(engine.inputs().size(), source.inputs().size()); i++) {
            Value e = i < engine.inputs().size() ? engine.inputs().get(i) : null, s = i < source.inputs().size() ? source.inputs().get(i) : null;
            if (e == null || s == null || !e.name().equals(s.name()) || e.type().dtype() != s.type().dtype() || !e.type().shape().equals(s.type().shape()))
                throw new IllegalArgumentException("the engine's input " + (e == null ? "(none)" : "%" + e.name() + ": " + e.type().dtype().text() + e.type().shape())
                        + " and the model's input " + (s == null ? "(none)" : "%" + s.name() + ": " + s.type().dtype().text() + s.type().shape())
                        + " differ; give the model the engine was built from" + (e != null && s != null && e.type().rank() == s.type().rank() ? " (with its --batch/--dim)" : ""));
        }
        if (!eo.equals(so)) throw new IllegalArgumentException("the engine's outputs " + eo + " and the model's outputs " + so + " differ; give the model the engine was built from");
    }

    /** The ONNX model ONNX Runtime runs: the file itself for an .onnx model, else Tessel's portable export of the graph. */
    private static byte[] onnxBytes(ModelOptions m, Graph g) throws java.io.IOException {
        // external data read in: ONNX Runtime gets the model as bytes, with no folder to resolve it from
        if (!m.model.startsWith("zoo:") && !m.model.endsWith(".tir")) return org.tessel.ir.onnx.OnnxImporter.readModel(Path.of(m.model)).toByteArray();
        return OnnxExporter.toPortableModel(g).toByteArray();
    }

    private static String describeOrtModel(ModelOptions m) {
        return !m.model.startsWith("zoo:") && !m.model.endsWith(".tir") ? m.model : m.model + " as exported to ONNX by Tessel";
    }

    /** The precisions a precision flag allows besides FP32, or null for the plain (standard pipeline, FP32) build. */
    private Set<Precision> allowed() {
        if (!fp16 && !bf16 && !tf32 && strategy == null && precisionRules.isEmpty()) return null;
        Set<Precision> s = EnumSet.of(Precision.FP32);
        if (fp16) s.add(Precision.FP16);
        if (bf16) s.add(Precision.BF16);
        if (tf32) s.add(Precision.TF32);
        return s;
    }

    /** The engine for MODEL: as `tessel build --cpu` builds it, or from the plan the precision flags ask for. */
    private Engine build(Graph source) {
        Set<Precision> allowed = allowed();
        if (allowed == null) {
            Graph g = source.copy();
            new PassManager().run(g, StandardPipelines.STANDARD);
            return Engine.buildCpu(g);
        }
        var applied = PlannedEngines.plan(source, strategy == null ? "rule" : strategy, allowed, precisionRules, 0, "h200-measured");
        return Engine.buildCpu(applied.graph(), applied.plan());
    }

    double rtol() { return rtol; }
    double atol() { return atol; }
    String bisectPrecision() { return bisect; }
    Path planOut() { return planOut; }
    boolean jsonOutput() { return json; }
    List<Path> inputFiles() { return inputFiles; }
    String modelName() { return model.model; }
}
