package org.tessel.cli;

import java.util.concurrent.Callable;
import org.tessel.passes.Pass;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.PassRegistry;
import org.tessel.passes.StandardPipelines;
import picocli.CommandLine.Command;

/** Lists the registered passes with their options and contracts. */
@Command(name = "passes", description = "List the optimization passes, their options and contracts, and the standard pipelines.")
final class PassesCommand implements Callable<Integer> {
    @Override public Integer call() {
        for (Pass p : PassRegistry.global().all()) {
            PassInfo i = p.info();
            System.out.printf("%-22s %s%n", i.name(), i.summary());
            for (PassOption o : i.options()) System.out.printf("    %s=%s  %s%n", o.name(), o.defaultValue(), o.help());
            for (var st : i.statistics()) System.out.printf("    statistic %s: %s%n", st.name(), st.help());
            if (!i.requires().isEmpty() || !i.establishes().isEmpty() || !i.invalidates().isEmpty())
                System.out.printf("    requires %s, establishes %s, invalidates %s%n", i.requires(), i.establishes(), i.invalidates());
        }
        System.out.println("standard: " + StandardPipelines.STANDARD);
        System.out.println("cleanup:  " + StandardPipelines.CLEANUP);
        return 0;
    }
}
