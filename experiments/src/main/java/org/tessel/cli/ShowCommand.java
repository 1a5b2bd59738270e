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
@Command(name = "show", description = {"Print a model in Tessel's text IR (or --summary: counts per op).",
        "Constants of more than --elide elements print as dense_elided<...> (their data left out, for reading), and the text then says so on its first line; "
        + "--elide -1 prints every constant: text IR that `tessel` loads, as `tessel convert -o FILE.tir` writes it."})
final class ShowCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--summary", description = "Print node counts per op, parameters and MACs instead of the IR.") boolean summary;
    @Option(names = "--elide", converter = Ranges.ElideAbove.class, defaultValue = "16", description = "Elide constants with more elements than this (default ${DEFAULT-VALUE}; -1 prints all).") int elide;

    @Override public Integer call() throws Exception {
        Graph g = model.load();
        if (summary) {
            ModelStats s = ModelStats.of(g);
            System.out.printf("%s: %d nodes, %d inputs, %d outputs, %.2fM parameters, %.3f G MACs%n", g.name(), g.nodes().size(),
                    g.inputs().size(), g.outputs().size(), s.parameters() / 1e6, s.macs() / 1e9);
            for (Map.Entry<String, Integer> e : g.opHistogram().entrySet()) System.out.printf("  %-24s %5d%n", e.getKey(), e.getValue());
            return 0;
        }
        int elided = elide < 0 ? 0 : elided(g, elide);
        if (elided > 0)
            System.out.printf("// %d constants of more than %d elements are elided (dense_elided<...>): this text is for reading and does not load; "
                    + "`tessel show %s --elide -1` prints every constant%n", elided, elide, model.model);
        System.out.print(IrPrinter.print(g, elide < 0 ? IrPrinter.Options.DEFAULT : IrPrinter.Options.elidingAbove(elide)));
        return 0;
    }

    /** Constants, fused bodies' included, that print elided above this many elements. */
    private static int elided(Graph g, int above) {
        int n = 0;
        for (org.tessel.ir.Value c : g.constants()) if (c.constantValue().size() > above) n++;
        for (org.tessel.ir.Node node : g.nodes()) if (node.body() != null) n += elided(node.body(), above);
        return n;
    }
}
