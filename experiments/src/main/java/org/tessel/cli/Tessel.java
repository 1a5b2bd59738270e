package org.tessel.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Tessel's command line: {@code ./tessel VERB ...}. Each verb is a small class in this package;
 * errors a user can cause (bad model file, unknown model name) print one clear line and exit 2,
 * never a stack trace (set TESSEL_DEBUG=1 to see one).
 */
@Command(name = "tessel", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "tessel 0.1.0",
        description = "Build fast inference engines from ONNX models: import, optimize, search, run.",
        subcommands = {ZooCommand.class, OpsCommand.class, ShowCommand.class, ConvertCommand.class, OptimizeCommand.class, PassesCommand.class,
                TacticsCommand.class, SearchCommand.class, CalibrateCommand.class, ExperimentCommand.class, BuildCommand.class, RunCommand.class, InspectCommand.class,
                CheckCommand.class, ConformanceCommand.class, CompareCommand.class, CommandLine.HelpCommand.class})
public final class Tessel implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Tessel());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (System.getenv("TESSEL_DEBUG") != null) ex.printStackTrace();
            cmd.getErr().println("tessel " + cmd.getCommandName() + ": " + UserErrors.describe(ex));
            return 2;
        });
        // a bad flag or flag value is one line naming it (picocli's own message), not the whole usage text
        cl.setParameterExceptionHandler((ex, argv) -> {
            CommandLine cmd = ex.getCommandLine();
            String name = cmd.getCommandSpec().qualifiedName();
            String hint = ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()
                    ? " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)" : "";
            cmd.getErr().println(name + ": " + ex.getMessage() + hint + "; see '" + name + " --help'");
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) {
            // picocli hands only exceptions to the handler above; these errors would end in a stack trace
            if (System.getenv("TESSEL_DEBUG") != null) e.printStackTrace();
            System.err.println("tessel: " + UserErrors.describe(e));
            return 2;
        }
    }
}
