package org.tessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tessel.plugins.Plugins;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Tessel's command line: {@code ./tessel VERB ...}. Each verb is a small class in this package;
 * errors a user can cause (bad model file, unknown model name) print one clear line and exit 2,
 * never a stack trace (set TESSEL_DEBUG=1 to see one). Plugins named by {@code TESSEL_PLUGINS} and
 * {@code --plugins} (every verb takes it) are loaded before the verb runs and installed for it.
 */
@Command(name = "tessel", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "tessel 0.1.0",
        description = "Build fast inference engines from ONNX models: import, optimize, search, run.",
        subcommands = {ZooCommand.class, OpsCommand.class, ShowCommand.class, ConvertCommand.class, OptimizeCommand.class, PassesCommand.class,
                TacticsCommand.class, SearchCommand.class, CalibrateCommand.class, ExperimentCommand.class, BuildCommand.class, RunCommand.class, EvaluateCommand.class, InspectCommand.class,
                CheckCommand.class, ConformanceCommand.class, ExportQdqCommand.class, CompareCommand.class, PluginsCommand.class, CacheCommand.class, GenerateCommand.class,
                ServeBenchCommand.class, CommandLine.HelpCommand.class})
public final class Tessel implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /** Read from the parse result of whichever command it was given on (see {@link #execute(Map, String...)}); the field only declares it. */
    @Option(names = "--plugins", paramLabel = "PATH", scope = CommandLine.ScopeType.INHERIT, description = "Plugin jars or folders of jars, separated by '${sys:path.separator}' (repeatable; "
            + "TESSEL_PLUGINS adds more): their ops, tactics and algorithm selectors join Tessel's for this run; `tessel plugins` lists them.")
    List<String> pluginPaths = new ArrayList<>();

    private static Plugins current = Plugins.none();

    /** The plugins of the command running now (none outside a command). */
    static Plugins plugins() { return current; }

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    public static int execute(String... args) { return execute(System.getenv(), args); }

    /** As {@link #execute(String...)} with {@code env} as the environment (TESSEL_PLUGINS, TESSEL_DEBUG): tests pass their own. */
    static int execute(Map<String, String> env, String... args) {
        CommandLine cl = new CommandLine(new Tessel());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (env.get("TESSEL_DEBUG") != null) ex.printStackTrace();
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
        cl.setExecutionStrategy(parsed -> {
            List<CommandLine> chain = parsed.asCommandLineList();
            CommandLine last = chain.getLast();
            Plugins loaded;
            try {
                List<Path> entries = new ArrayList<>(Plugins.parsePath(env.get(Plugins.ENV), Plugins.ENV));
                for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand())
                    for (String p : r.matchedOptionValue("--plugins", List.<String>of())) entries.addAll(Plugins.parsePath(p, "--plugins"));
                loaded = Plugins.load(entries);
            } catch (RuntimeException e) {
                throw new CommandLine.ExecutionException(last, e.getMessage(), e);
            }
            Plugins before = current;
            try (loaded; Plugins.Installation _ = loaded.install()) {
                current = loaded;
                return new CommandLine.RunLast().execute(parsed);
            } finally {
                current = before;
            }
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
