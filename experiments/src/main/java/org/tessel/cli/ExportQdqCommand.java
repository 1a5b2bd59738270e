package org.tessel.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.runtime.calib.QdqGraphs;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.PlanApplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Writes a calibrated model as ONNX with explicit quantization (QuantizeLinear/DequantizeLinear
 * pairs), placed where an INT8 plan quantizes: the plan the search finds with INT8 allowed (or a
 * plan file's), so ONNX Runtime, TensorRT's explicit-quantization path or Netron see what Tessel's
 * INT8 engine computes.
 */
@Command(name = "export-qdq", description = {"Write a calibrated model as ONNX with QuantizeLinear/DequantizeLinear pairs: activations per tensor "
        + "(the calibration's scales), weights per output channel, in front of (and after) every node the INT8 plan runs at INT8.",
        "The plan is the search's with FP32 and INT8 allowed (--strategy, default joint), or --plan FILE (from `tessel search --int8 --plan-out`)."})
final class ExportQdqCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Mixin CalibrationOptions calibration;
    @Option(names = {"-o", "--output"}, required = true, description = "The ONNX file to write.") Path out;
    @Option(names = "--strategy", defaultValue = "joint", description = "The search strategy whose INT8 plan places the pairs (default ${DEFAULT-VALUE}).") String strategy;
    @Option(names = "--plan", description = "Place the pairs by this plan file instead (it must carry its scales: `tessel search --int8 --plan-out`).") Path planFile;
    @Option(names = "--precision", description = "Precision rule PATTERN=P1|P2 for the search, e.g. 'Conv=int8' (repeatable).") java.util.List<String> precisionRules = new java.util.ArrayList<>();
    @Option(names = "--target", defaultValue = "h200-measured", description = "Target device the search prices for (default ${DEFAULT-VALUE}).") String target;

    @Override public Integer call() throws Exception {
        if (!out.toString().endsWith(".onnx")) throw new IllegalArgumentException("-o " + out + ": export-qdq writes ONNX; name the file .onnx");
        AtomicFiles.checkWritable(out);
        if (model.model != null && model.model.endsWith(".onnx") && java.nio.file.Files.isRegularFile(Path.of(model.model)) && BuildCommand.hasQdqNodes(Path.of(model.model)))
            throw new IllegalArgumentException(model.model + " already carries QuantizeLinear/DequantizeLinear nodes (explicit quantization at its own scales): export-qdq "
                    + "writes a calibrated float model's plan as Q/DQ; `tessel build " + model.model + "` runs this one as it is");
        Graph g = model.load();
        Graph prepared = Searcher.prepare(g);
        PlanApplier.Applied applied;
        if (planFile != null) {
            if (calibration.calib != null || calibration.cache != null) throw new IllegalArgumentException("--plan carries its scales; --calib and --calib-cache do not apply");
            EnginePlan given = EnginePlanJson.read(org.tessel.ir.io.TextFiles.read(planFile), planFile.toString());
            if (given.quantization().scales().isEmpty()) throw new IllegalArgumentException("--plan " + planFile + ": the plan has no INT8 nodes (no quantization scales); make it with `tessel search --int8 --plan-out`");
            applied = PlanApplier.apply(prepared, given);
        } else {
            // --fp8 (or an fp8 rule) exports float8e4m3fn pairs; the default is INT8
            org.tessel.cost.Precision quant = calibration.format(java.util.List.of(), precisionRules);
            if (quant == null) quant = org.tessel.cost.Precision.INT8;
            calibration.check(quant);
            // the measured H200 spec has no FP8 rate: FP8 is priced on the H200's datasheet unless --target says otherwise
            String tgt = quant == org.tessel.cost.Precision.FP8 && target.equals("h200-measured") ? "h200" : target;
            CalibrationOptions.checkTarget(quant, tgt);
            CalibrationOptions.Scales scales = calibration.scales(prepared, quant);
            System.out.println(quant.text() + ": " + scales.how());
            Map<String, String> fallbacks = new TreeMap<>();
            java.util.List<PrecisionRule> rules = calibration.rules(precisionRules.stream().map(PrecisionRule::parse).toList(), prepared, fallbacks, quant);
            SearchOptions o = SearchOptions.defaults().withTarget(tgt).withPrecisions(CalibrationOptions.with(java.util.EnumSet.of(org.tessel.cost.Precision.FP32), quant))
                    .withPrecisionRules(rules);
            SearchProblem p = Searcher.problem(prepared, o);
            Plan plan = Searcher.run(p, strategy, o);
            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            applied = new PlanApplier.Applied(a.graph(), CalibrationOptions.quantized(a.plan(), a.graph(), scales, fallbacks));
        }
        org.tessel.tactics.plan.PlanCheck.check(applied.plan(), applied.graph(), org.tessel.tactics.TacticCatalog.global(), null);
        QdqGraphs.Result r = QdqGraphs.insert(prepared, applied.graph(), applied.plan());
        AtomicFiles.writeBytes(out, OnnxExporter.toPortableModel(r.graph()).toByteArray());
        System.out.printf(Locale.ROOT, "plan: %s, precisions %s%n", applied.plan().strategy(), applied.plan().precisionMix());
        System.out.printf(Locale.ROOT, "qdq: %s, %d activation Q/DQ pairs, %d weights quantized %s, %d nodes%n", out, r.activationPairs(), r.weights(),
                applied.plan().quantization().format() == org.tessel.cost.Precision.FP8 ? "per tensor (float8e4m3fn)" : "per channel", r.graph().nodes().size());
        return 0;
    }
}
