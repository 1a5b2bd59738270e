package org.tessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineFile;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.tactics.plan.Conversion;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlannedNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Shows what an engine file holds: its header (backend, architecture, libraries) and the plan it
 * was built from, layer by layer (node, op, tactic and variant, precision, layout, stream, predicted
 * time), optionally with each layer's measured time. It reads any engine file on any machine;
 * measuring needs the engine's backend, and without it the plan is still printed.
 */
@Command(name = "inspect", description = {"Print an engine file's header and its plan per layer: node, op, tactic, precision, layout, stream, predicted time.",
        "With --profile N: also each layer's mean measured time over N runs on random inputs (CPU engines here; GPU engines on a GPU)."})
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ENGINE", description = "An engine file made by `tessel build`.") Path file;
    @Option(names = "--loadEngine", paramLabel = "FILE", description = "The engine file (trtexec's name for ENGINE).") Path loadEngine;
    @Option(names = "--json", description = "Print JSON: the header, the whole plan (as `tessel build --plan` reads it) and the layers with measured times.") boolean json;
    @Option(names = "--profile", converter = Ranges.Runs.class, paramLabel = "N", description = "Measure every layer over N runs on random inputs (after one warm-up run).") Integer profile;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "With --profile: draw the slowest layers' measured times as a bar chart (PNG).") Path plot;
    @Option(names = "--exportLayerInfo", paramLabel = "FILE", description = "Also write the JSON (as --json prints it) to this file (trtexec's name).") Path exportLayerInfo;

    /** One layer as shown: the stored layer plan, its planned node (null in a file from before plans) and its measured mean time (NaN when not measured). */
    record Row(LayerPlan layer, String op, PlannedNode planned, double measuredUs) {}

    @Override public Integer call() throws Exception {
        file = RunCommand.engineFile(file, loadEngine);
        Plots.checkPath(plot, "--plot");
        if (plot != null && profile == null) throw new IllegalArgumentException("--plot draws measured layer times: add --profile N");
        Engine e = Engine.read(file);
        double[] measured = new double[e.layers().size()];
        java.util.Arrays.fill(measured, Double.NaN);
        String note = null;
        if (profile != null) note = measure(e, measured);
        List<Row> rows = new ArrayList<>();
        EnginePlan plan = e.plan();
        for (int i = 0; i < e.layers().size(); i++)
            rows.add(new Row(e.layers().get(i), e.graph().nodes().get(i).opName(), plan == null ? null : plan.nodes().get(i), measured[i]));
        if (json) System.out.print(json(e, rows, note));
        else System.out.print(text(e, rows, note));
        if (exportLayerInfo != null) {
            Files.writeString(exportLayerInfo, json(e, rows, note));
            if (!json) System.out.println("layer info: " + exportLayerInfo);
        }
        if (plot != null) {
            if (note != null) throw new IllegalArgumentException("--plot: no measured times to draw (" + note + ")");
            Plots.layerTimes("layer times of " + file.getFileName() + " (" + e.header().backend() + ", mean of " + profile + " runs)",
                    rows.stream().map(r -> r.layer().node() + " " + r.op()).toList(), measured, 40, plot);
            if (!json) System.out.println("plot: " + plot);
        }
        return 0;
    }

    /** Fills {@code us} with each layer's mean time; returns a note when the layers could not be measured here, else null. */
    private String measure(Engine e, double[] us) {
        String backend = e.header().backend();
        if (backend.equals("cpu")) {
            List<Tensor> inputs = OptimizeCommand.randomInputs(e.graph());
            ExecutionContext ctx = e.createContext();
            ctx.run(inputs); // warm-up, not profiled
            ctx.profiling(true);
            for (int i = 0; i < profile; i++) ctx.run(inputs);
            List<ExecutionContext.LayerTime> ts = ctx.layerTimes();
            for (int i = 0; i < ts.size(); i++) us[i] = ts.get(i).meanMs() * 1000;
            return null;
        }
        if (!backend.equals(GpuEngineFile.BACKEND)) return "measuring needs the " + backend + " backend, which this Tessel does not have";
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu))
            return "measuring a " + backend + " engine needs its GPU (" + e.header().gpuArch() + "), and this machine has none (" + b.describe() + "); the plan is shown without measured times";
        try (GpuEngine g = GpuEngine.load(file, gpu.context()); GpuExecutionContext ctx = g.createExecutionContext()) {
            List<GpuExecutionContext.LayerTime> ts = ctx.profileLayers(1, profile);
            for (int i = 0; i < ts.size() && i < us.length; i++) us[i] = ts.get(i).medianMs() * 1000;
        }
        return null;
    }

    private String text(Engine e, List<Row> rows, String note) {
        StringBuilder sb = new StringBuilder();
        var h = e.header();
        sb.append(String.format(Locale.ROOT, "engine %s: backend %s, GPU architecture %s, format %d, libraries %s%n", file, h.backend(), h.gpuArch(), h.formatVersion(),
                new java.util.TreeMap<>(h.libraries())));
        sb.append(String.format(Locale.ROOT, "graph %s: %d layers, activation arena %.2f MiB%n", e.graph().name(), rows.size(), e.arenaBytes() / 1048576.0));
        if (org.tessel.runtime.engine.profile.ProfileSet.in(e.kernels())) {
            var pe = org.tessel.runtime.engine.profile.ProfileSet.read(e.kernels(), file.toString());
            boolean gpu = e.header().backend().equals(GpuEngineFile.BACKEND);
            sb.append(String.format(Locale.ROOT, "optimization profiles: %d over %s (the layers below are profile 0's at its opt shapes; `tessel run --shapes` specialises others)%n",
                    pe.profiles().size(), pe.sourceName()));
            for (int k = 0; k < pe.profiles().size(); k++)
                sb.append(String.format(Locale.ROOT, "  profile %d: %s; plan %s, predicted %s ms at opt; activation arena at max %.2f MiB%s; new shapes %s%n", k, pe.profiles().get(k),
                        pe.plan(k).strategy(), ms(pe.plan(k).predictedUs()), pe.maxMemory(k).arenaBytes() / 1048576.0,
                        gpu ? String.format(Locale.ROOT, " (shared by every shape of the profile), workspace %.2f MiB", pe.maxMemory(k).workspaceBytes() / 1048576.0) : "",
                        pe.shapeDependence(k) == null ? "by shape inference" : "imported again"));
        }
        EnginePlan plan = e.plan();
        if (plan == null) sb.append("plan: none stored (the file predates stored plans); its layers:\n");
        else sb.append(String.format(Locale.ROOT, "plan: model %s, strategy %s, target %s, seed %d, predicted %s ms, bound %s ms, precisions %s%n", plan.model(), plan.strategy(),
                plan.target(), plan.seed(), ms(plan.predictedUs()), ms(plan.boundUs()), plan.precisionMix()));
        int w = 4, tw = 6, ow = 2;
        for (Row r : rows) { w = Math.max(w, r.layer().node().length()); tw = Math.max(tw, r.layer().tactic().length()); ow = Math.max(ow, r.op().length()); }
        String fmt = "%-" + w + "s  %-" + ow + "s  %-" + tw + "s  %-5s  %-4s  %6s  %10s  %10s%n";
        sb.append(String.format(Locale.ROOT, fmt, "node", "op", "tactic", "prec", "lay", "stream", "pred_us", "meas_us"));
        for (Row r : rows) {
            LayerPlan l = r.layer();
            PlannedNode p = r.planned();
            sb.append(String.format(Locale.ROOT, fmt, l.node(), r.op(), l.tactic(), l.precision(), l.layout().equals(Layout.ANY.text()) ? "-" : l.layout(),
                    p == null ? "-" : String.valueOf(p.stream()), p == null ? "-" : us(p.predictedUs()), us(r.measuredUs())));
        }
        if (plan != null) {
            for (FusedGroup g : plan.groups()) sb.append("group ").append(g.name()).append(" (").append(g.kind()).append("): ").append(String.join(", ", g.members())).append('\n');
            for (Conversion c : plan.conversions()) sb.append("conversion ").append(c).append('\n');
            var q = plan.quantization();
            if (!q.scales().isEmpty()) {
                sb.append(String.format(Locale.ROOT, "%s: %d nodes, %d tensor scales (calibrator %s)%n", q.format().text(), plan.precisionMix().getOrDefault(q.format(), 0),
                        q.scales().size(), q.calibrator()));
                for (var s : q.scales().entrySet()) sb.append(String.format(Locale.ROOT, "scale %%%s %s%n", s.getKey(), s.getValue()));
            }
            for (var f : q.fallbacks().entrySet()) sb.append(q.format().text()).append(" fallback ").append(f.getKey()).append(": ").append(f.getValue()).append('\n');
        }
        if (profile != null && note == null) {
            double sum = rows.stream().mapToDouble(Row::measuredUs).sum();
            sb.append(String.format(Locale.ROOT, "measured: %d runs, sum of layer means %.3f ms%n", profile, sum / 1000));
        }
        if (note != null) sb.append("note: ").append(note).append('\n');
        return sb.toString();
    }

    /** The JSON `inspect --json` prints for an engine file, without measured times. */
    static String layerInfoJson(Path engineFile) throws Exception {
        InspectCommand c = new InspectCommand();
        c.file = engineFile;
        Engine e = Engine.read(engineFile);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < e.layers().size(); i++)
            rows.add(new Row(e.layers().get(i), e.graph().nodes().get(i).opName(), e.plan() == null ? null : e.plan().nodes().get(i), Double.NaN));
        return c.json(e, rows, null);
    }

    private String json(Engine e, List<Row> rows, String note) throws Exception {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("file", file.toString());
        var h = e.header();
        ObjectNode header = root.putObject("header");
        header.put("format_version", h.formatVersion());
        header.put("backend", h.backend());
        header.put("gpu_arch", h.gpuArch());
        ObjectNode libs = header.putObject("libraries");
        new java.util.TreeMap<>(h.libraries()).forEach(libs::put);
        root.put("graph", e.graph().name());
        root.put("arena_bytes", e.arenaBytes());
        if (e.plan() == null) root.putNull("plan");
        else root.set("plan", m.readTree(EnginePlanJson.write(e.plan())));
        if (profile == null) root.putNull("profiled_runs");
        else root.put("profiled_runs", note == null ? profile : 0);
        if (note == null) root.putNull("measure_note");
        else root.put("measure_note", note);
        ArrayNode layers = root.putArray("layers");
        for (Row r : rows) {
            ObjectNode o = layers.addObject();
            o.put("node", r.layer().node());
            o.put("op", r.op());
            o.put("tactic", r.layer().tactic());
            o.put("precision", r.layer().precision());
            o.put("layout", r.layer().layout());
            if (r.planned() == null) o.putNull("stream");
            else o.put("stream", r.planned().stream());
            num(o, "predicted_us", r.planned() == null ? Double.NaN : r.planned().predictedUs());
            num(o, "measured_us", r.measuredUs());
        }
        return m.writeValueAsString(root) + "\n";
    }

    private static void num(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) o.put(key, v);
        else o.putNull(key);
    }

    private static String us(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3f", v) : "-"; }

    private static String ms(double us) { return Double.isFinite(us) ? String.format(Locale.ROOT, "%.4f", us / 1000) : "?"; }
}
