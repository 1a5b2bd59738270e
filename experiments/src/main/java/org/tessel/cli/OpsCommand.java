package org.tessel.cli;

import java.util.Comparator;
import java.util.concurrent.Callable;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists the registered ops, built-in and from plugins. */
@Command(name = "ops", description = "List the ops Tessel knows (built-in and plugin-provided).")
final class OpsCommand implements Callable<Integer> {
    @Option(names = "--verbose", description = "Also print attributes and traits.") boolean verbose;
    @Option(names = "--gpu", description = "GPU coverage: per op, whether a GPU tactic of the catalogue supports it (asked on real nodes), and the ratio of ops with one to the ops the reference runs.") boolean gpu;
    @Option(names = "--node-cases", paramLabel = "DIR", description = "With --gpu: also probe the nodes of ONNX's node test cases in DIR (e.g. ../shared/onnx-node).") java.nio.file.Path nodeCases;
    @Option(names = "--json", description = "With --gpu: print the coverage as JSON.") boolean json;

    @Override public Integer call() throws Exception {
        if (!gpu && (nodeCases != null || json)) throw new IllegalArgumentException((json ? "--json" : "--node-cases") + " goes with --gpu");
        if (gpu) return gpuCoverage();
        OpRegistry reg = OpRegistry.global();
        var ops = reg.all().stream().sorted(Comparator.comparing(OpSchema::qualifiedName)).toList();
        for (OpSchema op : ops) {
            System.out.printf("%-22s %-10s %s%n", op.qualifiedName(), arity(op), op.summary());
            if (verbose) {
                if (!op.attributes().isEmpty())
                    System.out.println("    attributes: " + op.attributes().stream().map(a -> a.name() + ":" + a.kind().name().toLowerCase()).toList());
                System.out.println("    traits: " + op.traits() + "   provider: " + reg.providerOf(op.qualifiedName()));
            }
        }
        System.out.println(ops.size() + " ops");
        return 0;
    }

    private int gpuCoverage() throws Exception {
        GpuCoverage.Report r = GpuCoverage.measure(nodeCases);
        if (json) {
            System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(GpuCoverage.json(r)));
            return 0;
        }
        System.out.println("probe nodes from: " + String.join("; ", r.sources()));
        System.out.printf("%-26s %-10s %6s  %s%n", "op", "gpu", "probes", "GPU tactics");
        for (GpuCoverage.Row row : r.rows())
            System.out.printf("%-26s %-10s %6d  %s%n", row.op(), switch (row.status()) { case GPU -> "yes"; case DECOMPOSED -> "decomposed"; case CPU_ONLY -> "no"; case UNPROBED -> "unprobed"; },
                    row.probes(), row.status() == GpuCoverage.Status.DECOMPOSED
                            ? row.decomposed() + " of " + row.graphs() + " graphs prepare into " + String.join(", ", row.into()) + " (" + String.join(", ", row.tactics()) + ")"
                            : String.join(", ", row.tactics()));
        System.out.println("control flow (apart: they hold subgraphs, which the importer refuses):");
        for (GpuCoverage.Row row : r.controlFlow())
            System.out.printf("  %-24s %s%n", row.op(), row.probes() == 0 && row.tactics().isEmpty() ? "not registered; neither the reference nor the GPU runs it" : row.status().name());
        System.out.printf("ops with a GPU tactic or a decomposition the GPU runs / ops the reference runs: %s (%.1f%%); %d decomposed, %d without either, %d unprobed%s%n", r.ratio(),
                100.0 * (r.count(GpuCoverage.Status.GPU) + r.count(GpuCoverage.Status.DECOMPOSED)) / r.rows().size(), r.count(GpuCoverage.Status.DECOMPOSED),
                r.count(GpuCoverage.Status.CPU_ONLY), r.count(GpuCoverage.Status.UNPROBED),
                nodeCases == null ? " (give --node-cases DIR to probe ONNX's node test cases too)" : "");
        return 0;
    }

    private static String arity(OpSchema op) {
        String in = op.minInputs() == op.maxInputs() ? "" + op.minInputs() : op.minInputs() + ".." + (op.maxInputs() == Integer.MAX_VALUE ? "n" : op.maxInputs());
        String out = op.minOutputs() == op.maxOutputs() ? "" + op.minOutputs() : op.minOutputs() + ".." + op.maxOutputs();
        return in + "->" + out;
    }
}
