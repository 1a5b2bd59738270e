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

    @Override public Integer call() {
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

    private static String arity(OpSchema op) {
        String in = op.minInputs() == op.maxInputs() ? "" + op.minInputs() : op.minInputs() + ".." + (op.maxInputs() == Integer.MAX_VALUE ? "n" : op.maxInputs());
        String out = op.minOutputs() == op.maxOutputs() ? "" + op.minOutputs() : op.minOutputs() + ".." + op.maxOutputs();
        return in + "->" + out;
    }
}
