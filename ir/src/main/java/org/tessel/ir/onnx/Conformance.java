package org.tessel.ir.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * Runs ONNX backend-test cases through the importer and the {@link ReferenceInterpreter} and
 * compares with the expected outputs: the check that Tessel's ops mean what ONNX's ops mean.
 *
 * <p>A case is a folder with {@code model.onnx} and {@code test_data_set_N/input_i.pb},
 * {@code output_i.pb} (serialized TensorProtos); input i binds to the i-th graph input that has no
 * initializer, output i to the i-th graph output. Floats compare with
 * {@code |got - want| <= atol + rtol * |want|} (NaN equals NaN; f16 and bf16 results get at least
 * a few units in the last place), integers and bools exactly.
 *
 * <p>ONNX's node cases feed shape-deciding inputs (a Reshape's shape, Slice's starts...) as graph
 * inputs, which Tessel's static shapes cannot take. When import fails because an input "must be a
 * constant", the case is imported again with its inputs bound to the test data as constants
 * (first all but input 0, then all), so the op is still checked, through constant folding.
 *
 * <p>A case is skipped when it needs an op or element type Tessel does not have, another
 * unsupported ONNX feature (subgraphs, sequences), or when it is listed, with its reason, in
 * {@code expected-failures.txt} beside this class.
 */
public final class Conformance {
    private Conformance() {}

    public record Tolerance(double rtol, double atol) {
        /** ONNX's own tolerance for its node cases. */
        public static final Tolerance NODE = new Tolerance(1e-3, 1e-7);
        /** For real models, whose long fp32 reductions differ in the last bits between implementations. */
        public static final Tolerance MODELS = new Tolerance(1e-3, 1e-4);
    }

    public enum Status { PASS, FAIL, SKIP }

    /** One case's outcome; {@code op} is the op the case is about (for the per-op table). */
    public record CaseResult(String name, String op, Status status, String reason, long nanos) {}

    public record OpStats(String op, int cases, int passed, int failed, int skipped) {}

    public record Failure(String caseName, String reason) {}

    public record Result(int passed, int failed, int skipped, Map<String, OpStats> perOp, List<Failure> failures,
                         List<Failure> skips, List<CaseResult> cases) {
        public int total() { return passed + failed + skipped; }
        public String summary() { return passed + " passed, " + failed + " failed, " + skipped + " skipped"; }
    }

    /**
     * Runner settings.
     *
     * @param tolerance        comparison tolerance; a {@code conformance.properties} file (keys rtol, atol) in
     *                         the run directory or a case folder overrides it there
     * @param timeout          per-case limit; a case that runs longer fails
     * @param expectedFailures case name to reason; failing listed cases count as skipped
     * @param printSkips       print a line per skipped case
     * @param registry         op registry (null: the global one)
     */
    public record Options(Tolerance tolerance, Duration timeout, Map<String, String> expectedFailures, boolean printSkips, OpRegistry registry) {
        public static Options defaults() {
            return new Options(Tolerance.NODE, Duration.ofMinutes(5), builtinExpectedFailures(), true, null);
        }

        public Options withTolerance(Tolerance t) { return new Options(t, timeout, expectedFailures, printSkips, registry); }
        public Options withTimeout(Duration d) { return new Options(tolerance, d, expectedFailures, printSkips, registry); }
        public Options withExpectedFailures(Map<String, String> m) { return new Options(tolerance, timeout, Map.copyOf(m), printSkips, registry); }
        public Options withPrintSkips(boolean p) { return new Options(tolerance, timeout, expectedFailures, p, registry); }
        public Options withRegistry(OpRegistry r) { return new Options(tolerance, timeout, expectedFailures, printSkips, r); }
    }

    public static Result run(Path dir, Pattern filter, PrintStream out) { return run(dir, filter, out, Options.defaults()); }

    /** Runs every case folder under dir (or dir itself when it is a case) whose name matches filter. */
    public static Result run(Path dir, Pattern filter, PrintStream out, Options options) { return run(dir, filter, out, options, (done, total, name) -> {}); }

    /** Told after each case: how many are done, of how many, and the case's name (e.g. for a progress bar). */
    public interface CaseProgress { void done(int done, int total, String name); }

    public static Result run(Path dir, Pattern filter, PrintStream out, Options options, CaseProgress progress) {
        Options opt = withDirTolerance(dir, options);
        List<Path> cases = findCases(dir).stream().filter(p -> filter == null || filter.matcher(p.getFileName().toString()).find()).toList();
        List<CaseResult> results = new ArrayList<>();
        for (Path c : cases) {
            CaseResult r = runCase(c, opt);
            results.add(r);
            progress.done(results.size(), cases.size(), r.name());
            if (r.status() == Status.FAIL) out.println("FAIL " + r.name() + ": " + r.reason());
            else if (r.status() == Status.SKIP && opt.printSkips()) out.println("skip " + r.name() + ": " + r.reason());
            else if (r.status() == Status.PASS && r.reason() != null) out.println("note " + r.name() + ": " + r.reason());
        }
        Result res = summarize(results);
        printTable(res, out);
        out.println(res.summary());
        out.flush();
        return res;
    }

    private static List<Path> findCases(Path dir) {
        if (Files.isRegularFile(dir.resolve("model.onnx"))) return List.of(dir);
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Files.isRegularFile(p.resolve("model.onnx"))).sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    private static Options withDirTolerance(Path dir, Options o) {
        Path f = dir.resolve("conformance.properties");
        if (!Files.isRegularFile(f)) return o;
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(f)) {
            p.load(in);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + f + ": " + e.getMessage(), e);
        }
        return o.withTolerance(new Tolerance(Double.parseDouble(p.getProperty("rtol", String.valueOf(o.tolerance().rtol()))),
                Double.parseDouble(p.getProperty("atol", String.valueOf(o.tolerance().atol())))));
    }

    /** Runs one case folder, within the timeout, never throwing. */
    public static CaseResult runCase(Path caseDir, Options options) {
        String name = caseDir.getFileName().toString();
        Options opt = withDirTolerance(caseDir, options);
        AtomicReference<CaseResult> result = new AtomicReference<>();
        long t0 = System.nanoTime();
        // its own thread so a runaway case can be abandoned, with a deep stack for deep graphs
        Thread t = Thread.ofPlatform().daemon().name("conformance-" + name).stackSize(256L << 20).unstarted(() -> {
            try {
                result.set(runCaseInline(caseDir, opt));
            } catch (Throwable e) {
                result.set(new CaseResult(name, "?", Status.FAIL, "unexpected " + e, 0));
            }
        });
        t.start();
        try {
            t.join(opt.timeout());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long nanos = System.nanoTime() - t0;
        CaseResult r = result.get();
        if (r == null) return new CaseResult(name, "?", Status.FAIL, "timed out after " + opt.timeout().toSeconds() + " s", nanos);
        r = new CaseResult(r.name(), r.op(), r.status(), r.reason(), nanos);
        String expected = opt.expectedFailures().get(name);
        if (expected != null) {
            if (r.status() == Status.FAIL) return new CaseResult(name, r.op(), Status.SKIP, "expected failure: " + expected, nanos);
            if (r.status() == Status.PASS) return new CaseResult(name, r.op(), Status.PASS, "passes but is listed in expected-failures.txt; remove it there", nanos);
        }
        return r;
    }

    private static CaseResult runCaseInline(Path caseDir, Options opt) {
        String name = caseDir.getFileName().toString();
        ModelProto model;
        try {
            model = ModelProto.parseFrom(Files.readAllBytes(caseDir.resolve("model.onnx")));
        } catch (InvalidProtocolBufferException e) {
            return new CaseResult(name, "?", Status.FAIL, "model.onnx: not a valid ONNX model: " + e.getMessage(), 0);
        } catch (IOException e) {
            return new CaseResult(name, "?", Status.FAIL, "cannot read model.onnx: " + e, 0);
        }
        OpRegistry registry = opt.registry() == null ? OpRegistry.global() : opt.registry();
        String op = primaryOp(name, opDefiningModel(caseDir, model).getGraph(), registry);
        String nonTensor = nonTensorValue(model.getGraph());
        if (nonTensor != null) return new CaseResult(name, op, Status.SKIP, nonTensor, 0);
        try {
            List<DataSet> sets = readDataSets(caseDir);
            if (sets.isEmpty()) return new CaseResult(name, op, Status.FAIL, "no test_data_set_N folder", 0);
            List<String> inputNames = feedInputs(model.getGraph());
            String reason = null;
            for (int s = 0; s < sets.size() && reason == null; s++) {
                reason = runDataSet(model, sets.get(s), inputNames, opt, registry);
                if (reason != null && sets.size() > 1) reason = "data set " + s + ": " + reason;
            }
            return new CaseResult(name, op, reason == null ? Status.PASS : Status.FAIL, reason, 0);
        } catch (OnnxImportException e) {
            return switch (e.kind()) {
                case UNKNOWN_OP -> new CaseResult(name, op, Status.SKIP, "op " + e.detail() + " not supported", 0);
                case UNSUPPORTED_DTYPE -> new CaseResult(name, op, Status.SKIP, "dtype " + e.detail() + " not supported", 0);
                case UNSUPPORTED_FEATURE -> new CaseResult(name, op, Status.SKIP, e.detail() + " not supported (" + oneLine(e.getMessage()) + ")", 0);
                default -> new CaseResult(name, op, Status.FAIL, oneLine(e.getMessage()), 0);
            };
        } catch (IOException e) {
            return new CaseResult(name, op, Status.FAIL, "cannot read test data: " + e, 0);
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            return new CaseResult(name, op, Status.FAIL, oneLine(String.valueOf(e.getMessage() == null ? e : e.getClass().getSimpleName() + ": " + e.getMessage())), 0);
        }
    }

    private record DataSet(List<Tensor> inputs, List<Tensor> outputs) {}

    private static final Pattern NUMBERED = Pattern.compile("(?:test_data_set|input|output)_(\\d+)(?:\\.pb)?");

    private static List<DataSet> readDataSets(Path caseDir) throws IOException {
        List<DataSet> out = new ArrayList<>();
        for (Path d : numbered(caseDir, "test_data_set_")) {
            List<Tensor> ins = new ArrayList<>(), outs = new ArrayList<>();
            for (Path f : numbered(d, "input_")) ins.add(OnnxTensors.readTensor(f));
            for (Path f : numbered(d, "output_")) outs.add(OnnxTensors.readTensor(f));
            out.add(new DataSet(ins, outs));
        }
        return out;
    }

    private static List<Path> numbered(Path dir, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).filter(p -> NUMBERED.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingInt(p -> number(p.getFileName().toString()))).toList();
        }
    }

    private static int number(String s) {
        Matcher m = NUMBERED.matcher(s);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Why the graph's interface is outside Tessel's (dense tensors only), or null. */
    private static String nonTensorValue(GraphProto g) {
        List<ValueInfoProto> io = new ArrayList<>(g.getInputList());
        io.addAll(g.getOutputList());
        for (ValueInfoProto v : io) {
            var c = v.getType().getValueCase();
            if (v.hasType() && c != org.tessel.ir.onnx.proto.Onnx.TypeProto.ValueCase.TENSOR_TYPE)
                return c.name().toLowerCase(Locale.ROOT).replace("_type", "").replace('_', ' ') + " values not supported ('" + v.getName() + "')";
        }
        return null;
    }

    /** Graph inputs that the test data feeds: those without an initializer, in order. */
    private static List<String> feedInputs(GraphProto g) {
        Set<String> inits = new HashSet<>();
        for (TensorProto t : g.getInitializerList()) inits.add(t.getName());
        List<String> out = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) if (!inits.contains(v.getName())) out.add(v.getName());
        return out;
    }

    private static final Pattern NEEDS_CONSTANT = Pattern.compile("must be (a )?constant");

    /** Imports (binding inputs as constants where the ops need that), runs and compares; null when all outputs match. */
    private static String runDataSet(ModelProto model, DataSet data, List<String> inputNames, Options opt, OpRegistry registry) {
        if (data.inputs().size() != inputNames.size())
            return "the data set has " + data.inputs().size() + " inputs, the graph takes " + inputNames.size() + " " + inputNames;
        OnnxImporter.Options base = OnnxImporter.Options.defaults().withRegistry(registry);
        int n = inputNames.size();
        int[] attempts = n == 0 ? new int[] {0} : n == 1 ? new int[] {1, 0} : new int[] {n, 1, 0};
        Graph g = null;
        OnnxImportException last = null;
        int bindFrom = n;
        for (int from : attempts) {
            Map<String, Tensor> bind = new LinkedHashMap<>();
            for (int i = from; i < n; i++) bind.put(inputNames.get(i), data.inputs().get(i));
            try {
                g = OnnxImporter.importModel(model, "model.onnx", base.withConstantInputs(bind));
                bindFrom = from;
                break;
            } catch (OnnxImportException e) {
                last = e;
                if (e.kind() != OnnxImportException.Kind.OP_ERROR || !NEEDS_CONSTANT.matcher(e.getMessage()).find()) throw e;
            }
        }
        if (g == null) throw last;
        List<Tensor> feed = new ArrayList<>();
        for (int i = 0; i < bindFrom; i++) feed.add(data.inputs().get(i));
        if (feed.size() != g.inputs().size()) return "the graph has " + g.inputs().size() + " inputs after import, the case feeds " + feed.size();
        List<Tensor> got = new ReferenceInterpreter().run(g, feed);
        if (got.size() != data.outputs().size())
            return "the graph has " + got.size() + " outputs, the case expects " + data.outputs().size();
        for (int i = 0; i < got.size(); i++) {
            String why = compare(data.outputs().get(i), got.get(i), opt.tolerance());
            if (why != null) return "output " + i + " " + why;
        }
        return null;
    }

    /** Null when got matches want within tolerance; otherwise what differs ("element 17: expected 0.5, got 0.49 (shape [2,3])"). */
    public static String compare(Tensor want, Tensor got, Tolerance tol) {
        if (want.dtype() != got.dtype() || !want.shape().equals(got.shape()))
            return "type: expected " + want.type() + ", got " + got.type();
        int n = want.size();
        int bad = -1, count = 0;
        if (want.dtype().isFloating()) {
            double rtol = tol.rtol(), atol = tol.atol();
            if (want.dtype() == DType.F16) { rtol = Math.max(rtol, 0x1p-8); atol = Math.max(atol, 0x1p-14); }
            if (want.dtype() == DType.BF16) { rtol = Math.max(rtol, 0x1p-6); atol = Math.max(atol, 0x1p-14); }
            for (int i = 0; i < n; i++) {
                double w = want.getDouble(i), g = got.getDouble(i);
                boolean ok = Double.isNaN(w) ? Double.isNaN(g) : Double.isInfinite(w) ? w == g : Math.abs(g - w) <= atol + rtol * Math.abs(w);
                if (!ok) { if (bad < 0) bad = i; count++; }
            }
            if (bad < 0) return null;
            return "element " + bad + ": expected " + want.getDouble(bad) + ", got " + got.getDouble(bad) + " (shape " + want.shape() + (count > 1 ? ", " + count + " elements differ" : "") + ")";
        }
        for (int i = 0; i < n; i++) if (want.getLong(i) != got.getLong(i)) { if (bad < 0) bad = i; count++; }
        if (bad < 0) return null;
        return "element " + bad + ": expected " + want.getLong(bad) + ", got " + got.getLong(bad) + " (shape " + want.shape() + (count > 1 ? ", " + count + " elements differ" : "") + ")";
    }

    private static final Pattern EXPANDED = Pattern.compile("(.*)_expanded(_ver\\d+)?");

    /**
     * The model that says which op a case is about: for an "_expanded" case (the op's function
     * body written out in primitive ops) that is the unexpanded sibling case, when present.
     */
    private static ModelProto opDefiningModel(Path caseDir, ModelProto model) {
        Matcher m = EXPANDED.matcher(caseDir.getFileName().toString());
        if (!m.matches()) return model;
        Path sibling = caseDir.resolveSibling(m.group(1)).resolve("model.onnx");
        try {
            return Files.isRegularFile(sibling) ? ModelProto.parseFrom(Files.readAllBytes(sibling)) : model;
        } catch (IOException e) {
            return model;
        }
    }

    /**
     * The op a case is about: the longest op name (of the model's ops and the registry's) that the
     * case name starts with, ignoring underscores and case, so an "_expanded" case counts for the
     * op it expands; a model of one op kind is about that op whatever its name says. Folders not
     * named {@code test_*} hold whole models.
     */
    static String primaryOp(String caseName, GraphProto g, OpRegistry registry) {
        if (!caseName.startsWith("test_")) return "(model)";
        String key = caseName.toLowerCase(Locale.ROOT).replaceFirst("^test_", "").replace("_", "");
        Set<String> modelOps = new java.util.LinkedHashSet<>();
        for (NodeProto n : g.getNodeList()) modelOps.add(n.getOpType());
        Set<String> kinds = new HashSet<>(modelOps);
        kinds.remove("Constant");
        Set<String> candidates = new HashSet<>(modelOps);
        for (var s : registry.all()) candidates.add(s.name());
        String best = longestPrefix(key, candidates);
        if (best != null && (modelOps.contains(best) || kinds.size() != 1)) return best;
        if (kinds.size() == 1) return kinds.iterator().next();
        return modelOps.isEmpty() ? "(none)" : "(mixed)";
    }

    private static String longestPrefix(String key, Set<String> ops) {
        String best = null;
        for (String o : ops) {
            String k = o.toLowerCase(Locale.ROOT);
            if (key.startsWith(k) && (best == null || k.length() > best.length())) best = o;
        }
        return best;
    }

    private static Result summarize(List<CaseResult> results) {
        int p = 0, f = 0, s = 0;
        Map<String, int[]> per = new TreeMap<>();
        List<Failure> fails = new ArrayList<>(), skips = new ArrayList<>();
        for (CaseResult r : results) {
            int[] c = per.computeIfAbsent(r.op(), k -> new int[4]);
            c[0]++;
            switch (r.status()) {
                case PASS -> { p++; c[1]++; }
                case FAIL -> { f++; c[2]++; fails.add(new Failure(r.name(), r.reason())); }
                case SKIP -> { s++; c[3]++; skips.add(new Failure(r.name(), r.reason())); }
            }
        }
        Map<String, OpStats> stats = new LinkedHashMap<>();
        per.forEach((k, c) -> stats.put(k, new OpStats(k, c[0], c[1], c[2], c[3])));
        return new Result(p, f, s, stats, fails, skips, results);
    }

    private static void printTable(Result r, PrintStream out) {
        int w = 4;
        for (String k : r.perOp().keySet()) w = Math.max(w, k.length());
        String fmt = "%-" + w + "s %6s %7s %7s %8s%n";
        out.println();
        out.printf(fmt, "op", "cases", "passed", "failed", "skipped");
        for (OpStats s : r.perOp().values()) out.printf(fmt, s.op(), s.cases(), s.passed(), s.failed(), s.skipped());
        out.println();
    }

    private static String oneLine(String s) {
        if (s == null) return "";
        String t = s.replace("\n", " ").replaceAll("\\s+", " ").trim();
        return t.length() > 600 ? t.substring(0, 600) + "..." : t;
    }

    /** The list shipped beside this class: {@code case_name  # reason} per line. */
    public static Map<String, String> builtinExpectedFailures() {
        Map<String, String> m = new LinkedHashMap<>();
        InputStream in = Conformance.class.getResourceAsStream("expected-failures.txt");
        if (in == null) return m;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                String t = line.strip();
                if (t.isEmpty() || t.startsWith("#")) continue;
                int hash = t.indexOf('#');
                String name = (hash < 0 ? t : t.substring(0, hash)).strip();
                String why = hash < 0 ? "listed" : t.substring(hash + 1).strip();
                m.put(name, why);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read expected-failures.txt: " + e.getMessage(), e);
        }
        return m;
    }

    /**
     * {@code Conformance DIR [name-regex] [--rtol X] [--atol Y] [--timeout SECONDS] [--no-skips]}:
     * prints failures, skips, a per-op table and last the line {@code N passed, N failed, N skipped}.
     * Exits with 1 when a case fails.
     */
    public static void main(String[] args) {
        Path dir = null;
        Pattern filter = null;
        Options opt = Options.defaults();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rtol" -> opt = opt.withTolerance(new Tolerance(Double.parseDouble(args[++i]), opt.tolerance().atol()));
                case "--atol" -> opt = opt.withTolerance(new Tolerance(opt.tolerance().rtol(), Double.parseDouble(args[++i])));
                case "--timeout" -> opt = opt.withTimeout(Duration.ofSeconds(Long.parseLong(args[++i])));
                case "--no-skips" -> opt = opt.withPrintSkips(false);
                default -> {
                    if (dir == null) dir = Path.of(args[i]);
                    else if (filter == null) filter = Pattern.compile(args[i]);
                    else { usage(); return; }
                }
            }
        }
        if (dir == null) { usage(); return; }
        Result r = run(dir, filter, System.out, opt);
        if (r.failed() > 0) System.exit(1);
    }

    private static void usage() {
        System.err.println("usage: Conformance DIR [name-regex] [--rtol X] [--atol Y] [--timeout SECONDS] [--no-skips]");
        System.exit(2);
    }
}
