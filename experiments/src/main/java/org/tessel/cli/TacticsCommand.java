package org.tessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.tessel.api.Layout;
import org.tessel.cost.Calibration;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.CalibrationNodes;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.runtime.gpu.engine.GpuTactics;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Lists the tactic catalogue; for a model, the candidate tactics of every node with their
 * predicted time on a target device (or the reason they cannot run it); with --calibrate, fits
 * the cost model to a table of measured kernel times.
 */
@Command(name = "tactics", description = {"List the tactics (kernel implementations) per op kind.",
        "With MODEL: each node's candidate tactics and predicted time on --target, best first; ends with 'sum of per-node best: X us'.",
        "With --calibrate FILE: fit the cost model to measured times and report Spearman rho, Kendall tau and MAPE before and after."})
final class TacticsCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "An .onnx file, a .tir text-IR file, or zoo:NAME (see `tessel zoo`).") String model;
    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, description = "Batch size (zoo models; ONNX inputs whose first dimension is symbolic or set).") Integer batch;
    @Option(names = "--seq", converter = Ranges.AtLeastOne.class, description = "Sequence length for text models.") Integer seq;
    @Option(names = "--layers", converter = Ranges.AtLeastOne.class, description = "Number of encoder layers (zoo BERT, ViT and CRNN).") Integer layers;
    @Option(names = "--target", defaultValue = "h100", description = "Device: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).", completionCandidates = Targets.class) String target;
    @Option(names = "--device-spec", description = "A device spec properties file (overrides --target); see cost-model's devices/h200-measured.properties.") Path deviceSpec;
    @Option(names = "--precision", split = ",", defaultValue = "fp16", description = "Precisions to price, e.g. fp32,fp16 (default ${DEFAULT-VALUE}).") List<String> precisions;
    @Option(names = "--pipeline", defaultValue = "standard", description = "Pipeline run before pricing (standard fuses; cleanup does not) (default ${DEFAULT-VALUE}).") String pipeline;
    @Option(names = "--cuda-graphs", description = "Price launches inside a CUDA graph.") boolean cudaGraphs;
    @Option(names = "--why-not", description = "Also list the tactics that cannot run a node, with the reason.") boolean whyNot;
    @Option(names = "--calibrate", description = "A CSV of measured kernels (op,tactic,shape,precision,layout,measured_us[,predicted_us]) to fit the model to.") Path calibrate;
    @Option(names = "--write-params", description = "With --calibrate: write the fitted parameters to this file (for --params).") Path writeParams;
    @Option(names = "--json", description = "Without MODEL: print the catalogue as JSON (id, backend, precisions, layouts, declared variants and whether the search prices them, summary, provider, and whether the GPU engine implements it).") boolean json;
    @Option(names = "--params", description = "Cost-model parameters: a file written by --write-params, or 'h200-fitted' (default: the uncalibrated model).") String params;

    static final class Targets extends ArrayList<String> { Targets() { super(DeviceSpec.names()); } }

    @Override public Integer call() throws Exception {
        TacticCatalog catalog = TacticCatalog.global();
        DeviceSpec device = deviceSpec != null ? DeviceSpec.load(deviceSpec) : DeviceSpec.byName(target);
        CostModel.Params ps = params == null ? CostModel.Params.defaults()
                : params.equals("h200-fitted") ? CostModel.Params.h200Fitted() : CostModel.Params.load(Path.of(params));
        CostModel costModel = new CostModel(device, ps);
        if (calibrate != null) return calibrate(catalog, costModel);
        if (model == null) return json ? listJson(catalog) : list(catalog);
        List<Precision> precs = new ArrayList<>();
        for (String p : precisions)
            precs.add(Precision.fromText(p).orElseThrow(() -> new IllegalArgumentException("--precision: unknown precision '" + p + "' (fp32, tf32, fp16, bf16, int8, fp8)")));
        ModelOptions mo = new ModelOptions();
        mo.model = model;
        mo.batch = batch;
        mo.seq = seq;
        mo.layers = layers;
        mo.seed = 42;
        Graph g = mo.load();
        new PassManager().run(g, StandardPipelines.resolve(pipeline));
        System.out.println(device.summary());
        System.out.printf("%s after pipeline '%s': %d nodes; precision %s; %s%n", g.name(), pipeline, g.nodes().size(),
                precs.stream().map(Precision::text).collect(Collectors.joining(",")), cudaGraphs ? "CUDA graphs" : "stream launches");
        double total = 0;
        for (Node n : g.nodes()) total += node(catalog, costModel, device, n, precs);
        System.out.printf("sum of per-node best: %.2f us (no reformat or cast costs between nodes)%n", total);
        return 0;
    }

    private record Priced(Tactic tactic, Precision precision, Layout layout, Cost cost) {}

    /** Prints one node's candidates; returns its best predicted time. */
    private double node(TacticCatalog catalog, CostModel costModel, DeviceSpec device, Node n, List<Precision> precs) {
        String kind = NodeFacts.fusedKind(n);
        System.out.printf("%n%s  %s  -> %s%n", n.name(), kind != null ? "fused " + kind + " " + n.body().nodes().stream().map(Node::opName).toList() : n.opName(),
                n.outputs().stream().map(v -> v.type().toString()).collect(Collectors.joining(", ")));
        List<Layout> layouts = NodeFacts.layoutMatters(n) ? List.of(Layout.NCHW, Layout.NHWC) : List.of(Layout.ANY);
        List<Priced> ok = new ArrayList<>();
        Map<String, String> reasons = new LinkedHashMap<>();
        for (Tactic t : catalog.candidates(n, device))
            for (Precision p : precs)
                for (Layout l : layouts) {
                    String why = t.whyNot(n, p, l);
                    if (why == null) ok.add(new Priced(t, p, l, t.cost(costModel, n, p, l, cudaGraphs)));
                    else reasons.putIfAbsent(t.id() + " " + p.text() + (l == Layout.ANY ? "" : " " + l.text()), why);
                }
        ok.sort(Comparator.comparingDouble(x -> x.cost().totalUs()));
        for (int i = 0; i < ok.size(); i++) {
            Priced x = ok.get(i);
            System.out.printf(Locale.ROOT, "  %s %-34s %-5s %-5s %10.3f us  (compute %.3f, memory %.3f, launch %.3f%s)%n", i == 0 ? "*" : " ", x.tactic().id(),
                    x.precision().text(), x.layout() == Layout.ANY ? "-" : x.layout().text(), x.cost().totalUs(), x.cost().computeUs(), x.cost().memoryUs(),
                    x.cost().launchUs(), x.cost().workspaceBytes() > 0 ? String.format(Locale.ROOT, ", workspace %.1f KiB", x.cost().workspaceBytes() / 1024.0) : "");
        }
        if (ok.isEmpty()) System.out.println("  no tactic runs this node at " + precs.stream().map(Precision::text).collect(Collectors.joining(",")));
        if (whyNot) reasons.forEach((k, v) -> System.out.printf("    %-44s %s%n", k, v));
        return ok.isEmpty() ? 0 : ok.get(0).cost().totalUs();
    }

    private int list(TacticCatalog catalog) {
        System.out.printf("%-34s %-4s %-25s %-13s %s%n", "tactic", "on", "precisions", "layouts", "what it is");
        for (Tactic t : catalog.all())
            System.out.printf("%-34s %-4s %-25s %-13s %s%s%n", t.id(), t.backend(), t.precisions().stream().sorted().map(Precision::text).collect(Collectors.joining(",")),
                    t.layouts().isEmpty() ? "-" : t.layouts().stream().map(Layout::text).sorted().collect(Collectors.joining(",")), t.summary(),
                    catalog.providerOf(t.id()).equals(org.tessel.tactics.BuiltinTactics.PROVIDER_NAME) ? "" : "  [" + catalog.providerOf(t.id()) + "]");
        System.out.println(catalog.all().size() + " tactics");
        return 0;
    }

    /**
     * One tactic in {@code tessel tactics --json}; {@code variants}: those it declares ({@link Tactic#planVariants}), empty where its builder knows them;
     * {@code variantsPriced}: whether the search prices them apart and its plan names one ({@link Tactic#pricesVariants}), else the builder picks.
     */
    record TacticJson(String id, String backend, List<String> precisions, List<String> layouts, List<String> variants, boolean variantsPriced, String summary, String provider,
                      boolean gpuImplementation) {}

    /** The catalogue as JSON records, in catalogue order; gpuImplementation says whether the GPU engine builds the tactic ({@link GpuTactics}). */
    static List<TacticJson> catalogueJson(TacticCatalog catalog) {
        List<TacticJson> out = new ArrayList<>();
        for (Tactic t : catalog.all())
            out.add(new TacticJson(t.id(), t.backend().name().toLowerCase(Locale.ROOT), t.precisions().stream().sorted().map(Precision::text).toList(),
                    t.layouts().stream().map(Layout::text).sorted().toList(), t.planVariants(), t.pricesVariants(), t.summary(), catalog.providerOf(t.id()), GpuTactics.implemented(t.id())));
        return out;
    }

    private int listJson(TacticCatalog catalog) throws Exception {
        System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(java.util.Map.of("tactics", catalogueJson(catalog))));
        return 0;
    }

    private int calibrate(TacticCatalog catalog, CostModel costModel) {
        List<Calibration.Row> rows = Calibration.readCsv(calibrate);
        Calibration.Report r = Calibration.fit(rows, costModel, CalibrationNodes.predictor(catalog, cudaGraphs));
        System.out.println(costModel.device().summary());
        System.out.printf(Locale.ROOT, "%d rows from %s, %s%n", r.rows(), calibrate, cudaGraphs ? "timed in CUDA graphs" : "timed with stream launches");
        System.out.printf(Locale.ROOT, "Spearman rho  %.4f -> %.4f%nKendall tau-b %.4f -> %.4f%nMAPE          %.2f%% -> %.2f%%%n",
                r.spearmanBefore(), r.spearmanAfter(), r.kendallBefore(), r.kendallAfter(), r.mapeBefore(), r.mapeAfter());
        System.out.println("fitted: " + r.fitted());
        if (writeParams != null) {
            r.fitted().store(writeParams, String.format(Locale.ROOT, "fitted by `tessel tactics --calibrate %s` on %s: %d rows, Spearman %.4f -> %.4f, MAPE %.2f%% -> %.2f%%",
                    calibrate.getFileName(), costModel.device().name(), r.rows(), r.spearmanBefore(), r.spearmanAfter(), r.mapeBefore(), r.mapeAfter()));
            System.out.println("wrote " + writeParams);
        }
        return 0;
    }
}
