package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.OpProvider;
import org.tessel.api.OpRegistry;
import org.tessel.api.PluginApi;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.TacticProvider;
import org.tessel.tactics.plan.EnginePlan;

/**
 * `--plugins` and TESSEL_PLUGINS: jars compiled here against Tessel's classes (not on the test's
 * class path) bring an op, a tactic and a selector that `tessel plugins` lists and that models,
 * searches and engines use; every way a plugin can be wrong (API version, ids claimed twice, a
 * provider that does not load or throws, code that throws while inferring or pricing) is one line
 * naming the jar (and the node), exit 2, and leaves the globals as they were.
 */
class PluginLoadingTest {
    @TempDir Path dir;

    static final String SQUARE = """
            package org.acme;

            import java.util.List;
            import java.util.Set;
            import org.tessel.api.*;

            public final class AcmeOps implements OpProvider {
                public String providerName() { return "acme"; }
                public List<OpSchema> ops() { return List.of(new Square()); }

                static final class Square implements OpSchema {
                    public String name() { return "Square"; }
                    public String domain() { return "acme"; }
                    public String summary() { return "x * x, elementwise"; }
                    public int minInputs() { return 1; }
                    public int maxInputs() { return 1; }
                    public List<AttrSpec> attributes() { return List.of(AttrSpec.optional("fail", AttrValue.Kind.STRING, "test hook: where to throw")); }
                    public Set<Trait> traits() { return Set.of(Trait.ELEMENTWISE, Trait.PURE); }
                    public List<TensorType> inferTypes(InferenceContext ctx) {
                        if (ctx.attrs().getString("fail", "").equals("infer")) { String s = null; s.length(); }
                        return List.of(TensorType.of(ctx.input(0).dtype(), ctx.input(0).shape()));
                    }
                    public List<Tensor> evaluate(EvalContext ctx) {
                        if (ctx.attrs().getString("fail", "").equals("eval")) throw new ArithmeticException("squares are hard");
                        Tensor x = ctx.input(0), y = Tensor.zeros(ctx.outputType(0));
                        for (int i = 0; i < x.size(); i++) y.setDouble(i, x.getDouble(i) * x.getDouble(i));
                        return List.of(y);
                    }
                }
            }
            """;

    static final String TACTICS = """
            package org.acme;

            import java.util.EnumSet;
            import java.util.List;
            import org.tessel.api.Layout;
            import org.tessel.cost.Precision;
            import org.tessel.cost.TacticFeatures;
            import org.tessel.ir.Node;
            import org.tessel.tactics.*;

            public final class AcmeTactics implements TacticProvider {
                public String providerName() { return "acme-kernels"; }
                public List<Tactic> tactics() { return List.of(new Fast()); }

                static final class Fast extends BaseTactic {
                    Fast() { super("acme.square.fast", "Acme's Square kernel", Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16), EnumSet.of(Layout.NCHW, Layout.NHWC)); }
                    public boolean appliesTo(Node n) { return n.opName().equals("acme.Square"); }
                    protected String appliesToText() { return "acme.Square"; }
                    public long workspaceBytes(Node n, Precision p) { return 0; }
                    public TacticFeatures features(Node n, Precision p, Layout l) {
                        if (n.attrs().getString("fail", "").equals("features")) throw new IllegalStateException("no features for you");
                        return TacticFeatures.streaming(0.5, 0.9, 1);
                    }
                }
            }
            """;

    static final String SELECTOR = """
            package org.acme;

            import java.util.List;
            import java.util.Map;
            import org.tessel.api.select.*;

            /** Keeps the choices of one tactic where a node has any (option tactic=ID), records the plan in a system property. */
            public final class OnlySelector implements AlgorithmSelector {
                private final String tactic;
                public OnlySelector() { this("acme.square.fast"); }
                private OnlySelector(String tactic) { this.tactic = tactic; }
                public String name() { return "only"; }
                public String summary() { return "keeps one tactic's choices where a node has some"; }
                public AlgorithmSelector configure(Map<String, String> options) {
                    for (String k : options.keySet()) if (!k.equals("tactic")) throw new IllegalArgumentException("unknown option '" + k + "' (tactic=ID)");
                    return options.isEmpty() ? this : new OnlySelector(options.get("tactic"));
                }
                public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
                    if (node.name().equals("boom")) throw new IllegalStateException("selector exploded");
                    List<Algorithm> mine = candidates.stream().filter(a -> a.tactic().equals(tactic)).toList();
                    return mine.isEmpty() ? candidates : mine;
                }
                public void reportAlgorithms(List<ChosenAlgorithm> choices) {
                    StringBuilder sb = new StringBuilder();
                    for (ChosenAlgorithm c : choices) sb.append(c.node().name()).append('=').append(c.algorithm().tactic()).append(';');
                    System.setProperty("acme.report", sb.toString());
                }
            }
            """;

    Path acme() throws Exception {
        return PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).source("org.acme.AcmeTactics", TACTICS).source("org.acme.OnlySelector", SELECTOR)
                .service(OpProvider.class, "org.acme.AcmeOps").service(TacticProvider.class, "org.acme.AcmeTactics")
                .service(AlgorithmSelector.class, "org.acme.OnlySelector").manifest("Implementation-Version", "2.3.4").jar("acme");
    }

    Path model(String fail) throws Exception {
        Path m = dir.resolve("square" + (fail == null ? "" : "-" + fail) + ".tir");
        Files.writeString(m, """
                graph @square(%x: f32[4,64]) {
                  %y = acme.Square(%x) ATTRS : f32[4,64] loc("sq")
                  %z = Relu(%y) : f32[4,64]
                  return %z
                }
                """.replace("ATTRS", fail == null ? "" : "{fail=\"" + fail + "\"}"));
        return m;
    }

    static void assertOneLine(CliRun r, String... parts) {
        assertEquals(2, r.code(), r.out() + r.err());
        for (String p : parts) assertTrue(r.err().contains(p), "'" + p + "' in: " + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertTrue(OpRegistry.global() == OpRegistry.classPath() && TacticCatalog.global() == TacticCatalog.classPath(), "the globals are restored");
    }

    @Test void aPluginsOpTacticAndSelectorAreListedAndUsed() throws Exception {
        Path jar = acme();
        CliRun list = CliRun.of("plugins", "--plugins", jar.toString());
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains("acme.jar  version 2.3.4  plugin API " + PluginApi.VERSION), list.out());
        assertTrue(list.out().contains("ops:       acme.Square") && list.out().contains("tactics:   acme.square.fast") && list.out().contains("selectors: only"), list.out());
        assertTrue(list.out().strip().endsWith("1 plugin jar: 1 ops, 1 tactics, 1 selectors (plugin API " + PluginApi.VERSION + ")"), list.out());
        // the environment variable, and the JSON form
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Tessel.execute(Map.of("TESSEL_PLUGINS", jar.toString()), "plugins", "--json");
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code);
        String json = out.toString(StandardCharsets.UTF_8);
        assertTrue(json.contains("\"version\" : \"2.3.4\"") && json.contains("\"ops\" : [ \"acme.Square\" ]") && json.contains("\"selectors\" : [ \"only\" ]"), json);
        CliRun none = CliRun.of("plugins");
        assertTrue(none.out().contains("no plugins loaded") && none.out().contains("0 plugin jars"), none.out());
        assertTrue(CliRun.of("ops", "--plugins", jar.toString()).out().contains("acme.Square"));
        assertTrue(CliRun.of("tactics", "--plugins", jar.toString()).out().contains("acme.square.fast"));

        // a model with the plugin's op: unknown without the plugin, checked, searched and built with it
        Path m = model(null);
        CliRun without = CliRun.of("check", m.toString());
        assertEquals(2, without.code());
        assertTrue(without.err().contains("unknown op 'acme.Square'"), without.err());
        CliRun check = CliRun.of("check", m.toString(), "--plugins", jar.toString());
        assertEquals(0, check.code(), check.err());
        Path engine = dir.resolve("sq.engine");
        System.clearProperty("acme.report");
        CliRun build = CliRun.of("build", m.toString(), "--cpu", "--strategy", "joint", "--save-engine", engine.toString(), "--plugins", jar.toString(),
                "--selector", "only");
        assertEquals(0, build.code(), build.err());
        assertTrue(System.getProperty("acme.report", "").contains("sq=acme.square.fast;"), "the selector was told the plan: " + System.getProperty("acme.report"));
        // the engine names the plugin's tactic and runs with the plugin loaded
        CliRun run = CliRun.of("run", engine.toString(), "--plugins", jar.toString(), "--iterations", "2");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("p50_ms="), run.out());
        try (var loaded = org.tessel.plugins.Plugins.load(List.of(jar)); var _ = loaded.install()) {
            Engine built = Engine.load(engine, EngineHeader.Machine.cpu());
            EnginePlan plan = built.plan();
            assertEquals("acme.square.fast", plan.node("sq").tacticId(), plan.render());
            // a GPU build of this plan is refused before any GPU work: this plugin tactic is priced but brings no kernel
            // (a CudaSourceTactic's kernel would be compiled and launched by the GPU builder)
            var e = org.junit.jupiter.api.Assertions.assertThrows(org.tessel.runtime.gpu.engine.GpuEngineException.class,
                    () -> org.tessel.runtime.gpu.engine.GpuEngine.checkPlan(built.graph(), plan, org.tessel.runtime.gpu.engine.GpuEngine.precisionFor(plan, built.graph())));
            assertTrue(e.getMessage().contains("node 'sq' (acme.Square)") && e.getMessage().contains("no GPU kernel"), e.getMessage());
        }
        CliRun runWithout = CliRun.of("run", engine.toString(), "--iterations", "2");
        assertEquals(2, runWithout.code());
        assertTrue(runWithout.err().contains("acme"), runWithout.err());
        // a selector's options, and a forced plugin tactic
        CliRun opt = CliRun.of("search", m.toString(), "--plugins", jar.toString(), "--selector", "only:tactic=cpu.reference", "--show-plan");
        assertEquals(0, opt.code(), opt.err());
        assertTrue(opt.out().lines().anyMatch(l -> (l.startsWith("sq ") || l.startsWith("sq+1 ")) && l.contains("cpu.reference")), opt.out());
        CliRun badOpt = CliRun.of("search", m.toString(), "--plugins", jar.toString(), "--selector", "only:speed=11");
        assertOneLine(badOpt, "--selector 'only:speed=11'", "unknown option 'speed'");
        CliRun forced = CliRun.of("search", m.toString(), "--plugins", jar.toString(), "--force", "sq=acme.square.fast:fp16", "--show-plan");
        assertEquals(0, forced.code(), forced.err());
        assertTrue(forced.out().lines().anyMatch(l -> l.startsWith("sq ") && l.contains("acme.square.fast") && l.contains("fp16")), forced.out());
        assertOneLine(CliRun.of("search", m.toString(), "--selector", "only"), "--selector: no selector named 'only'", "--plugins");
    }

    @Test void experimentConfigsNameSelectors() throws Exception {
        Path jar = acme();
        Path cfg = dir.resolve("sel.yaml");
        Files.writeString(cfg, "name: sel\nmodels: [resnet50-tiny]\nstrategies: [greedy]\nselectors: [\"only:tactic=cpu.reference\"]\n");
        System.clearProperty("acme.report");
        CliRun r = CliRun.of("experiment", cfg.toString(), "--plugins", jar.toString(), "--out", dir.resolve("sel-results").toString());
        assertEquals(0, r.code(), r.err());
        String report = System.getProperty("acme.report", "");
        assertTrue(report.contains("=cpu.reference;") && !report.contains("=cudnn."), "the config's selector kept cpu.reference everywhere: " + report);
        Files.writeString(cfg, "name: sel\nmodels: [resnet50-tiny]\nstrategies: [greedy]\nselectors: [\"nope\"]\n");
        assertOneLine(CliRun.of("experiment", cfg.toString(), "--out", dir.resolve("sel-results").toString()), "sel.yaml: key 'selectors'", "no selector named 'nope'");
        Files.writeString(cfg, "name: sel\nmodels: [resnet50-tiny]\nstrategies: [greedy]\nselectors: [\":x=1\"]\n");
        assertOneLine(CliRun.of("experiment", cfg.toString()), "sel.yaml: key 'selectors': ':x=1' names no selector");
    }

    @Test void twoPluginsClaimingOneIdNameBothJars() throws Exception {
        Path a = acme();
        Path b = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).service(OpProvider.class, "org.acme.AcmeOps").jar("acme-copy");
        assertOneLine(CliRun.of("plugins", "--plugins", a + java.io.File.pathSeparator + b), "op 'acme.Square' is claimed by two plugins", "acme.jar (provider org.acme.AcmeOps)",
                "acme-copy.jar (provider org.acme.AcmeOps)");
        Path t = PluginJars.in(dir).source("org.acme.AcmeTactics", TACTICS).service(TacticProvider.class, "org.acme.AcmeTactics").jar("tactics-copy");
        assertOneLine(CliRun.of("plugins", "--plugins", a.toString(), "--plugins", t.toString()), "tactic 'acme.square.fast' is claimed by two plugins", "acme.jar", "tactics-copy.jar");
        // a plugin cannot take an id from Tessel's class path
        Path relu = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE.replace("\"Square\"", "\"Relu\"").replace("public String domain() { return \"acme\"; }", "public String domain() { return \"\"; }"))
                .service(OpProvider.class, "org.acme.AcmeOps").jar("relu");
        assertOneLine(CliRun.of("ops", "--plugins", relu.toString()), "op 'Relu' of plugin relu.jar", "already defined by Tessel's class path (tessel-builtin)");
        // the same jar twice (flag and environment) is loaded once
        assertEquals(0, Tessel.execute(Map.of("TESSEL_PLUGINS", a.toString()), "plugins", "--plugins", a.toString()));
    }

    @Test void aJarBuiltForAnotherApiVersionIsRefusedWithBothVersions() throws Exception {
        int major = Integer.parseInt(PluginApi.VERSION.substring(0, PluginApi.VERSION.indexOf('.')));
        Path next = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).service(OpProvider.class, "org.acme.AcmeOps")
                .manifest(PluginApi.MANIFEST_ATTRIBUTE, (major + 1) + ".0").jar("next");
        assertOneLine(CliRun.of("plugins", "--plugins", next.toString()), "plugin next.jar", "built against plugin API " + (major + 1) + ".0",
                "this Tessel implements " + PluginApi.VERSION);
        Path newer = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).service(OpProvider.class, "org.acme.AcmeOps")
                .manifest(PluginApi.MANIFEST_ATTRIBUTE, major + ".99").jar("newer");
        assertOneLine(CliRun.of("plugins", "--plugins", newer.toString()), "plugin newer.jar", major + ".99, newer than the " + PluginApi.VERSION);
        Path undeclared = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).service(OpProvider.class, "org.acme.AcmeOps")
                .manifest(PluginApi.MANIFEST_ATTRIBUTE, null).jar("undeclared");
        assertOneLine(CliRun.of("plugins", "--plugins", undeclared.toString()), "plugin undeclared.jar", "declares no Tessel-Plugin-Api");
        // declared right but compiled against an API class this Tessel lacks: caught when it links
        Path linked = PluginJars.in(dir)
                .source("org.tessel.api.FutureSchema", "package org.tessel.api; public interface FutureSchema extends OpSchema { default int shiny() { return 1; } }")
                .source("org.acme.AcmeOps", SQUARE.replace("implements OpSchema", "implements FutureSchema")).service(OpProvider.class, "org.acme.AcmeOps")
                .leaveOut("org.tessel.api.FutureSchema").jar("linked");
        assertOneLine(CliRun.of("plugins", "--plugins", linked.toString()), "plugin linked.jar", "NoClassDefFoundError", "org/tessel/api/FutureSchema",
                "does not link against this Tessel's plugin API " + PluginApi.VERSION);
    }

    @Test void providersThatDoNotLoadOrThrowAreNamed() throws Exception {
        Path missing = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE).service(OpProvider.class, "org.acme.Nowhere").jar("missing");
        assertOneLine(CliRun.of("plugins", "--plugins", missing.toString()), "plugin missing.jar", "META-INF/services/org.tessel.api.OpProvider lists org.acme.Nowhere");
        Path throwing = PluginJars.in(dir).source("org.acme.AcmeOps", SQUARE.replace("public String providerName()",
                "public AcmeOps() { throw new IllegalStateException(\"no licence key\"); }\n    public String providerName()")).service(OpProvider.class, "org.acme.AcmeOps").jar("throwing");
        assertOneLine(CliRun.of("ops", "--plugins", throwing.toString()), "plugin throwing.jar: provider org.acme.AcmeOps failed to load: IllegalStateException: no licence key");
        Path badId = PluginJars.in(dir).source("org.acme.AcmeTactics", TACTICS.replace("acme.square.fast", "Acme Square")).service(TacticProvider.class, "org.acme.AcmeTactics").jar("badid");
        assertOneLine(CliRun.of("tactics", "--plugins", badId.toString()), "plugin badid.jar", "id 'Acme Square' must be dotted lower_case words");
        assertOneLine(CliRun.of("plugins", "--plugins", dir.resolve("nope.jar").toString()), "no such plugin jar or folder", "nope.jar");
        Path notJar = Files.writeString(dir.resolve("fake.jar"), "not a zip");
        assertOneLine(CliRun.of("plugins", "--plugins", notJar.toString()), "plugin " + notJar, "not a readable jar");
        Path txt = Files.writeString(dir.resolve("notes.txt"), "x");
        assertOneLine(CliRun.of("plugins", "--plugins", txt.toString()), "is not a jar");
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertOneLine(CliRun.of("plugins", "--plugins", empty.toString()), "plugin folder", "holds no .jar files");
    }

    @Test void aFolderOfJarsIsOnePluginPath() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("plugins"));
        Path jar = acme();
        Files.move(jar, folder.resolve("acme.jar"));
        CliRun r = CliRun.of("plugins", "--plugins", folder.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("acme.jar  version 2.3.4") && r.out().contains("1 plugin jar:"), r.out());
    }

    @Test void pluginCodeThatThrowsIsNamedWithItsNode() throws Exception {
        Path jar = acme();
        assertOneLine(CliRun.of("check", model("infer").toString(), "--plugins", jar.toString()), "node 'sq' (acme.Square)", "plugin acme.jar: op acme.Square threw in inferTypes",
                "NullPointerException");
        assertOneLine(CliRun.of("check", model("eval").toString(), "--plugins", jar.toString()), "node 'sq' (acme.Square)", "plugin acme.jar: op acme.Square threw in its reference implementation",
                "ArithmeticException: squares are hard");
        assertOneLine(CliRun.of("search", model("features").toString(), "--plugins", jar.toString()), "plugin acme.jar: tactic 'acme.square.fast' threw while",
                "node 'sq' (acme.Square)", "IllegalStateException: no features for you");
        Path boom = dir.resolve("boom.tir");
        Files.writeString(boom, Files.readString(model(null)).replace("loc(\"sq\")", "loc(\"boom\")"));
        assertOneLine(CliRun.of("search", boom.toString(), "--plugins", jar.toString(), "--selector", "only"), "selector 'only' failed on node 'boom' (acme.Square)",
                "plugin acme.jar: IllegalStateException: selector exploded");
    }
}
