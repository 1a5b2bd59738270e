package org.tessel.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.text.IrPrinter;
import org.tessel.ir.zoo.ModelStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Prints a model as text IR, or a summary of it. */
@Command(name = "show", description = "Print a model in Tessel's text IR (or --summary: counts per op).")
final class ShowCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--summary", description = "Print node counts per op, parameters and MACs instead of the IR.") boolean summary;
    @Option(names = "--elide", defaultValue = "16", description = "Elide constants with more elements than this (default ${DEFAULT-VALUE}; -1 prints all).") int elide;

    @Override public Integer call() throws Exception {
        Graph g = model.load();
        if (summary) {
            ModelStats s = ModelStats.of(g);
            System.out.printf("%s: %d nodes, %d inputs, %d outputs, %.2fM parameters, %.3f G MACs%n", g.name(), g.nodes().size(),
                    g.inputs().size(), g.outputs().size(), s.parameters() / 1e6, s.macs() / 1e9);
            for (Map.Entry<String, Integer> e : g.opHistogram().entrySet()) System.out.printf("  %-24s %5d%n", e.getKey(), e.getValue());
            return 0;
        }
        System.out.print(IrPrinter.print(g, elide < 0 ? IrPrinter.Options.DEFAULT : IrPrinter.Options.elidingAbove(elide)));
        return 0;
    }
}
