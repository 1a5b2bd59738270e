package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.runtime.gpu.kernels.EltwiseCodegen;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.tactics.Backend;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.eltwise.EltwiseTactics;

/**
 * The search's tactic catalogue and the GPU engine speak one vocabulary (CPU only, no GPU needed):
 * every catalogue GPU tactic has an implementation in {@link GpuTactics}, every id there is a
 * catalogue GPU tactic, the builders' sources name tactics only through {@link GpuTactics}, and
 * the op lists (and EfficientNMS's scores limit) the catalogue copies from the builders are the builders' own.
 */
class TacticVocabularyLintTest {
    /** What disagrees between a catalogue and an implementation table; empty when they agree. */
    static List<String> problems(Collection<Tactic> catalogue, Collection<String> implemented) {
        List<String> out = new ArrayList<>();
        Set<String> gpu = new TreeSet<>(), all = new TreeSet<>();
        for (Tactic t : catalogue) {
            all.add(t.id());
            if (t.backend() == Backend.GPU) gpu.add(t.id());
        }
        for (String id : gpu) if (!implemented.contains(id)) out.add("catalogue GPU tactic '" + id + "' has no GPU implementation");
        for (String id : new TreeSet<>(implemented)) {
            if (!all.contains(id)) out.add("GPU tactic '" + id + "' is not in the catalogue");
            else if (!gpu.contains(id)) out.add("GPU tactic '" + id + "' is a non-GPU tactic in the catalogue");
        }
        return out;
    }

    /** The ids the GPU tactic implementations found by ServiceLoader build. */
    private static List<String> table() { return List.copyOf(TacticImplementations.loaded().ids()); }

    @Test void catalogueAndEngineAgree() {
        assertEquals(List.of(), problems(TacticCatalog.builtin().all(), table()));
    }

    @Test void theDocumentedTableIsTheLoadedImplementations() {
        assertEquals(new TreeSet<>(GpuTactics.ALL.stream().map(GpuTactics.Implementation::id).toList()), new TreeSet<>(table()));
        for (GpuTactics.Implementation i : GpuTactics.ALL)
            assertEquals(i.builder().split(" ")[0], TacticImplementations.loaded().of(i.id()).getClass().getSimpleName(), i.id());
    }

    /** A second implementation of an id that has one: softmax again, built by NormLayers' own layer. */
    public static final class Duplicate implements TacticImplementation {
        private final NormLayers norm = new NormLayers();
        @Override public List<String> tacticIds() { return List.of(GpuTactics.SOFTMAX); }
        @Override public boolean computes(Node n) { return n.opName().equals("Softmax"); }
        @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.SOFTMAX : null; }
        @Override public Layer build(LayerContext c, Node n, String tactic) { return norm.build(c, n, tactic); }
    }

    @Test void twoImplementationsOfOneIdAreNamed() {
        List<TacticImplementation> all = new ArrayList<>(TacticImplementations.loaded().all());
        all.add(new Duplicate());
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> new TacticImplementations(all));
        assertTrue(e.getMessage().contains("'tessel.softmax' is implemented twice: by org.tessel.runtime.gpu.engine.NormLayers and by "
                + Duplicate.class.getName()), e.getMessage());
    }

    /** A tactic the search could pick but no builder makes. */
    private record MadeUp(String id) implements Tactic {
        @Override public Backend backend() { return Backend.GPU; }
        @Override public boolean appliesTo(Node n) { return false; }
        @Override public String whyNot(Node n, Precision p, Layout l) { return "made up"; }
        @Override public long workspaceBytes(Node n, Precision p) { return 0; }
        @Override public TacticFeatures features(Node n, Precision p, Layout l) { return TacticFeatures.view(); }
    }

    @Test void theLintCatchesEitherSide() {
        List<Tactic> withExtra = new ArrayList<>(TacticCatalog.builtin().all());
        withExtra.add(new MadeUp("tessel.conv.made_up"));
        assertEquals(List.of("catalogue GPU tactic 'tessel.conv.made_up' has no GPU implementation"), problems(withExtra, table()));
        List<String> typo = new ArrayList<>(table());
        typo.add("tessel.softmax.warp");
        typo.add("cpu.reference");
        assertEquals(List.of("GPU tactic 'cpu.reference' is a non-GPU tactic in the catalogue", "GPU tactic 'tessel.softmax.warp' is not in the catalogue"),
                problems(TacticCatalog.builtin().all(), typo));
        assertThrows(IllegalArgumentException.class, () -> GpuTactics.of("tessel.softmax.warp"));
    }

    /** String literals in the GPU sources that look like tactic ids. */
    private static final Pattern TACTIC_LITERAL = Pattern.compile("\"((?:cudnn|cublaslt|cublas|tessel)\\.[a-z][a-z0-9_.]*)");
    /** Literals of that shape that are not tactics: system properties, op names of the IR. */
    private static final List<String> NOT_TACTICS = List.of("tessel.gpu.", "tessel.bench.", "tessel.out", "tessel.timing");

    static List<String> strayLiterals(Path source) throws IOException {
        List<String> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(source);
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = TACTIC_LITERAL.matcher(lines.get(i));
            while (m.find()) {
                String lit = m.group(1);
                if (NOT_TACTICS.stream().anyMatch(lit::startsWith) || TimingCache.LEGACY_IDS.containsKey(lit)) continue;
                out.add(source.getFileName() + ":" + (i + 1) + ": \"" + lit + "\"");
            }
        }
        return out;
    }

    /** Reads of system properties in a source file (a property that picks a kernel would be a second optimizer). */
    static List<String> propertyReads(Path source) throws IOException {
        List<String> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(source);
        Pattern read = Pattern.compile("System\\.getProperty\\(|Long\\.getLong\\(\"|Integer\\.getInteger\\(|Boolean\\.getBoolean\\(");
        for (int i = 0; i < lines.size(); i++) if (read.matcher(lines.get(i)).find()) out.add(source.getFileName() + ":" + (i + 1));
        return out;
    }

    @Test void noSystemPropertyPicksAKernel() throws IOException {
        List<String> reads = new ArrayList<>();
        for (String dir : List.of("src/main/java/org/tessel/runtime/gpu/engine", "src/main/java/org/tessel/runtime/gpu/kernels"))
            try (Stream<Path> files = Files.list(Path.of(dir))) {
                // the benchmark mains read their own settings (output folder, batch list), not kernel choices
                for (Path f : files.sorted().toList())
                    if (f.toString().endsWith(".java") && !f.getFileName().toString().endsWith("Bench.java")) reads.addAll(propertyReads(f));
            }
        assertEquals(List.of(), reads, "kernel choices belong to the plan, not to system properties");
        Path probe = Files.createTempFile("Probe", ".java");
        try {
            Files.writeString(probe, "static final long MIN = Long.getLong(\"tessel.x\", 1);\n");
            assertEquals(List.of(probe.getFileName() + ":1"), propertyReads(probe));
        } finally {
            Files.delete(probe);
        }
    }

    @Test void buildersNameTacticsOnlyThroughTheTable() throws IOException {
        Path engine = Path.of("src/main/java/org/tessel/runtime/gpu/engine");
        List<String> stray = new ArrayList<>();
        try (Stream<Path> files = Files.list(engine)) {
            for (Path f : files.sorted().toList())
                if (f.toString().endsWith(".java") && !f.getFileName().toString().equals("GpuTactics.java")) stray.addAll(strayLiterals(f));
        }
        assertEquals(List.of(), stray, "tactic ids spelled out in a builder instead of taken from GpuTactics");
        // the scan finds what it looks for: a builder that spelled the old softmax id would be caught
        Path probe = Files.createTempFile("Probe", ".java");
        try {
            Files.writeString(probe, "return e.plan(n, \"tessel.softmax.warp\", y); String p = System.getProperty(\"tessel.gpu.stem\");\n");
            assertEquals(List.of(probe.getFileName() + ":1: \"tessel.softmax.warp\""), strayLiterals(probe));
        } finally {
            Files.delete(probe);
        }
    }

    @Test void theCataloguesOpListsAreTheBuilders() {
        assertEquals(new TreeSet<>(EltwiseCodegen.SUPPORTED), new TreeSet<>(EltwiseTactics.ENGINE_BODY_OPS));
        assertEquals(new TreeSet<>(EltwiseLayers.OPS), new TreeSet<>(EltwiseTactics.ENGINE_SINGLE_OPS));
        assertEquals(new TreeSet<>(DataMovementLayers.VIEWS), new TreeSet<>(DataMovementTactics.VIEWS));
        assertEquals(org.tessel.runtime.gpu.kernels.NmsKernels.MAX_SCORES_PER_IMAGE, org.tessel.tactics.data.EfficientNmsTactic.MAX_SCORES_PER_IMAGE);
    }

    @Test void renamedIdsPointIntoTheVocabulary() {
        for (String now : TimingCache.LEGACY_IDS.values()) assertTrue(GpuTactics.implemented(GpuTactics.catalogueId(now)), now);
        for (StemConv.Form f : StemConv.Form.values()) {
            assertEquals(GpuTactics.CONV_STEM, GpuTactics.catalogueId(f.id));
            assertTrue(TimingCache.LEGACY_IDS.containsValue(f.id), f.name());
        }
        assertEquals("cudnn.conv.fused_bias_act", GpuTactics.catalogueId(GpuTactics.variant(GpuTactics.CONV_FUSED, "cudnn.conv.winograd", "clamp")));
    }
}
