package org.tessel.cli;

import java.util.concurrent.Callable;
import org.tessel.ir.zoo.ModelCard;
import org.tessel.ir.zoo.ModelStats;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists the built-in zoo with parameter counts and FLOPs. */
@Command(name = "zoo", description = "List the built-in models with parameters, MACs and FLOPs per batch.")
final class ZooCommand implements Callable<Integer> {
    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, defaultValue = "1", description = "Batch size for the counts (default ${DEFAULT-VALUE}).") int batch;

    @Option(names = "--verbose", description = "Also print inputs, outputs and the published reference figures.") boolean verbose;

    @Override public Integer call() {
        System.out.printf("%-22s %12s %12s %12s %7s  %s%n", "model", "params", "MACs", "FLOPs", "nodes", "reference (params / MACs)");
        for (String name : Zoo.names()) {
            ZooOptions d = ZooOptions.defaults();
            ModelStats s;
            try {
                s = ModelStats.of(Zoo.build(name, new ZooOptions(batch, d.sequenceLength(), d.layers(), d.seed())));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("zoo:" + name + " at --batch " + batch + ": " + UserErrors.describe(e), e);
            }
            ModelCard card = Zoo.describe(name);
            String ref = card.reference() == null ? "-" : String.format("%.3f M / %s", card.reference().parameters() / 1e6,
                    card.reference().macs().isPresent() ? String.format("%.3f G", card.reference().macs().getAsLong() / 1e9) : "-");
            System.out.printf("%-22s %11.3fM %11.3fG %11.3fG %7d  %s%n", name, s.parameters() / 1e6, s.macs() / 1e9, s.flops() / 1e9, s.nodes(), ref);
            if (verbose) System.out.println("    " + card.toString().replace("\n", "\n    "));
        }
        return 0;
    }
}
