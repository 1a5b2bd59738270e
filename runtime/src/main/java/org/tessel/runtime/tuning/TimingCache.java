package org.tessel.runtime.tuning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.tessel.api.AttrValue;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * The persistent timing cache: measured tactic times keyed by op signature and tactic id, valid
 * only for the environment that measured them (GPU, driver, library versions), which the file's
 * header records. A file from another environment is reported and not used; two caches of one
 * environment merge. Files are plain text, one row per entry in a stable order, and are written
 * atomically.
 */
public final class TimingCache {
    static final String HEADER = "# tessel timing cache v1";

    /**
     * Tactic ids the auto-tuner wrote before the engine and the catalogue shared one vocabulary, and
     * what they are called now: the stem's forms became variants of {@code tessel.conv.stem}. Rows
     * (and the "#form" suffix of stem signatures) are read under the new id and counted
     * ({@link #legacyRows}), so a cache is neither silently dropped nor priced under a dead id.
     */
    public static final Map<String, String> LEGACY_IDS = Map.of(
            "tessel.stem.pad8", "tessel.conv.stem/nchw_pad8", "tessel.stem.pad4", "tessel.conv.stem/nchw_pad4",
            "tessel.stem.nhwc", "tessel.conv.stem/nchw_to_nhwc", "tessel.stem.nchw_in", "tessel.conv.stem/nchw_in");

    /** Where timings were taken: they only transfer to the same GPU, driver and libraries. */
    public record Environment(String gpu, String driver, Map<String, String> libraries) {
        public Environment {
            libraries = Collections.unmodifiableMap(new TreeMap<>(libraries));
            for (String s : List.of(gpu, driver)) check(s);
            libraries.forEach((k, v) -> { check(k); check(v); });
        }

        private static void check(String s) {
            if (s.isEmpty() || s.chars().anyMatch(c -> c == '\t' || c == '\n' || c == '\r' || c == '='))
                throw new IllegalArgumentException("environment field '" + s + "' must be non-empty without tabs, newlines or '='");
        }

        /** Null when equal; else what differs, for the message. */
        public String difference(Environment o) {
            List<String> d = new ArrayList<>();
            if (!gpu.equals(o.gpu)) d.add("GPU " + gpu + " vs " + o.gpu);
            if (!driver.equals(o.driver)) d.add("driver " + driver + " vs " + o.driver);
            for (String k : new java.util.TreeSet<>(union(libraries.keySet(), o.libraries.keySet()))) {
                String a = libraries.getOrDefault(k, "none"), b = o.libraries.getOrDefault(k, "none");
                if (!a.equals(b)) d.add(k + " " + a + " vs " + b);
            }
            return d.isEmpty() ? null : String.join(", ", d);
        }

        private static java.util.Set<String> union(java.util.Set<String> a, java.util.Set<String> b) {
            java.util.Set<String> u = new java.util.HashSet<>(a);
            u.addAll(b);
            return u;
        }
    }

    /** One cache entry's key. */
    public record Key(String signature, String tactic) implements Comparable<Key> {
        public Key {
            if (signature.contains("\t") || signature.contains("\n") || tactic.contains("\t") || tactic.contains("\n"))
                throw new IllegalArgumentException("cache keys may not contain tabs or newlines: " + signature + " / " + tactic);
        }

        @Override public int compareTo(Key o) {
            int c = signature.compareTo(o.signature);
            return c != 0 ? c : tactic.compareTo(o.tactic);
        }
    }

    /** A cache file that belongs to another environment or is malformed. */
    public static final class MismatchException extends RuntimeException {
        public MismatchException(String m) { super(m); }
    }

    private final Environment environment;
    private final TreeMap<Key, Measurement> entries = new TreeMap<>();
    private int legacyRows;

    /** Rows read under a renamed id ({@link #LEGACY_IDS}). */
    public int legacyRows() { return legacyRows; }

    /** A signature or tactic with its pre-vocabulary stem ids renamed; the same string when it has none. */
    static String renamed(String s) {
        for (var e : LEGACY_IDS.entrySet()) {
            if (s.equals(e.getKey())) return e.getValue();
            if (s.endsWith("#" + e.getKey())) return s.substring(0, s.length() - e.getKey().length()) + e.getValue();
        }
        return s;
    }

    public TimingCache(Environment environment) { this.environment = environment; }

    public Environment environment() { return environment; }
    public int size() { return entries.size(); }
    public Map<Key, Measurement> entries() { return Collections.unmodifiableMap(entries); }

    public Optional<Measurement> get(String signature, String tactic) { return Optional.ofNullable(entries.get(new Key(signature, tactic))); }

    public void put(String signature, String tactic, Measurement m) { entries.put(new Key(signature, tactic), m); }

    /**
     * The signature of a node as far as kernel timing goes: op, attributes, input and output types
     * (layouts included) and compute precision. Names are left out, so identical layers share entries.
     */
    public static String signature(Node n, String precision) {
        StringBuilder sb = new StringBuilder(n.opName());
        if (n.body() != null) sb.append('[').append(n.body().nodes().stream().map(Node::opName).collect(Collectors.joining(","))).append(']');
        sb.append('{');
        n.attrs().asMap().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> sb.append(e.getKey()).append('=').append(attr(e.getValue())).append(';'));
        sb.append("}(");
        sb.append(n.inputs().stream().map(v -> v == null ? "none" : v.type() + (v.isConstant() ? "c" : "")).collect(Collectors.joining(",")));
        sb.append(")->").append(n.outputs().stream().map(Value::type).map(Object::toString).collect(Collectors.joining(",")));
        return sb.append('@').append(precision).toString();
    }

    private static String attr(AttrValue v) {
        return switch (v) {
            case AttrValue.Int i -> Long.toString(i.value());
            case AttrValue.Float f -> Float.toString(f.value());
            case AttrValue.Str s -> s.value();
            case AttrValue.Ints i -> java.util.Arrays.toString(i.values());
            case AttrValue.Floats f -> java.util.Arrays.toString(f.values());
            case AttrValue.Strs s -> s.values().toString();
            case AttrValue.TensorValue t -> "tensor#" + Integer.toHexString(t.value().contentHash());
        };
    }

    /**
     * Adds another cache's entries. Both must come from the same environment; where both measured
     * the same key, the measurement over more runs wins (then the lower noise, then the lower median).
     */
    public TimingCache merge(TimingCache other) {
        String diff = environment.difference(other.environment);
        if (diff != null) throw new MismatchException("cannot merge timing caches from different environments: " + diff);
        other.entries.forEach((k, m) -> entries.merge(k, m, TimingCache::better));
        return this;
    }

    private static Measurement better(Measurement a, Measurement b) {
        if (a.runs() != b.runs()) return a.runs() > b.runs() ? a : b;
        if (a.madUs() != b.madUs()) return a.madUs() < b.madUs() ? a : b;
        return a.medianUs() <= b.medianUs() ? a : b;
    }

    /** Writers of one cache file in this JVM; between processes the lock file does the same. */
    private static final java.util.concurrent.ConcurrentHashMap<Path, Object> SAVING = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Writes the cache, atomically, merged with what the file holds when it is written: entries
     * another build saved to the same file since this cache was read are kept (where both measured
     * a key, {@link #merge}'s rule picks). Writers of one file take turns through a lock file beside
     * it ({@code .NAME.lock}), so two builds sharing a cache neither fail nor lose each other's
     * measurements. A file of another environment or one that no longer parses is replaced. This
     * cache itself is not changed.
     */
    public void save(Path file) throws IOException { write(file, true); }

    /**
     * Writes exactly this cache over {@code file}, atomically and under the same lock as {@link #save}, without merging
     * what the file holds: for tools that edit a cache (an entry deleted stays deleted).
     */
    public void replace(Path file) throws IOException { write(file, false); }

    private void write(Path file, boolean merge) throws IOException {
        org.tessel.ir.io.AtomicFiles.checkWritable(file);
        Path target = file.toAbsolutePath().normalize();
        Files.createDirectories(target.getParent());
        Path lockFile = target.resolveSibling("." + target.getFileName() + ".lock");
        synchronized (SAVING.computeIfAbsent(target, k -> new Object())) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lockFile, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
                ch.lock(); // released when the channel closes
                TimingCache merged = new TimingCache(environment);
                merged.entries.putAll(entries);
                if (merge) {
                    try {
                        TimingCache onDisk = read(file);
                        if (environment.difference(onDisk.environment) == null) merged.merge(onDisk);
                    } catch (NoSuchFileException | MismatchException e) {
                        // nothing of this environment to keep
                    }
                }
                org.tessel.ir.io.AtomicFiles.writeString(file, merged.text());
            }
        }
    }

    /** The file's text: header, environment, entries in key order. */
    private String text() {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        sb.append("gpu=").append(environment.gpu()).append('\n').append("driver=").append(environment.driver()).append('\n');
        environment.libraries().forEach((k, v) -> sb.append("lib.").append(k).append('=').append(v).append('\n'));
        sb.append("# signature\ttactic\tmedian_us\tmad_us\truns\n");
        for (var e : entries.entrySet())
            sb.append(e.getKey().signature()).append('\t').append(e.getKey().tactic()).append('\t')
                    .append(String.format(Locale.ROOT, "%.4f\t%.4f\t%d", e.getValue().medianUs(), e.getValue().madUs(), e.getValue().runs())).append('\n');
        return sb.toString();
    }

    /** Reads a cache file; fails naming the file and line when it is malformed. */
    public static TimingCache read(Path file) throws IOException {
        List<String> lines = org.tessel.ir.io.TextFiles.readLines(file);
        if (lines.isEmpty() || !lines.get(0).equals(HEADER))
            throw new MismatchException(file + ":1: not a Tessel timing cache (expected '" + HEADER + "')");
        String gpu = null, driver = null;
        Map<String, String> libs = new TreeMap<>();
        TimingCache cache = null;
        // a key written twice is refused: the file would mean one of them, silently
        Map<String, Integer> seen = new java.util.HashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank() || line.startsWith("#")) continue;
            String key;
            if (line.contains("\t")) {
                String[] sigTactic = line.split("\t", 3);
                key = sigTactic[0] + "\t" + (sigTactic.length > 1 ? sigTactic[1] : "");
            } else {
                int eq = line.indexOf('=');
                key = eq < 0 ? line : line.substring(0, eq);
            }
            Integer first = seen.putIfAbsent(key, i + 1);
            if (first != null)
                throw new MismatchException(file + ":" + (i + 1) + ": " + (line.contains("\t") ? "the entry for " + key.replace('\t', ' ') : "header key '" + key + "'")
                        + " is given twice (first at line " + first + ")");
            if (cache == null && !line.contains("\t")) {
                int eq = line.indexOf('=');
                if (eq < 0) throw new MismatchException(file + ":" + (i + 1) + ": expected key=value in the header, got '" + line + "'");
                String k = line.substring(0, eq), v = line.substring(eq + 1);
                if (k.equals("gpu")) gpu = v;
                else if (k.equals("driver")) driver = v;
                else if (k.startsWith("lib.")) libs.put(k.substring(4), v);
                else throw new MismatchException(file + ":" + (i + 1) + ": unknown header key '" + k + "'");
                continue;
            }
            if (cache == null) {
                if (gpu == null || driver == null) throw new MismatchException(file + ":" + (i + 1) + ": the header must name gpu= and driver= before the entries");
                cache = new TimingCache(new Environment(gpu, driver, libs));
            }
            String[] f = line.split("\t", -1);
            if (f.length != 5) throw new MismatchException(file + ":" + (i + 1) + ": expected 5 tab-separated fields, got " + f.length);
            try {
                String sig = renamed(f[0]), tactic = renamed(f[1]);
                if (!sig.equals(f[0]) || !tactic.equals(f[1])) cache.legacyRows++;
                cache.put(sig, tactic, new Measurement(Double.parseDouble(f[2]), Double.parseDouble(f[3]), Integer.parseInt(f[4])));
            } catch (IllegalArgumentException e) {
                throw new MismatchException(file + ":" + (i + 1) + ": bad measurement: " + e.getMessage());
            }
        }
        if (cache == null) {
            if (gpu == null || driver == null) throw new MismatchException(file + ": the header must name gpu= and driver=");
            cache = new TimingCache(new Environment(gpu, driver, libs));
        }
        return cache;
    }

    /**
     * The cache to build with: the file's when it exists and was measured here; otherwise an empty
     * one, reporting why through {@code report} (a mismatch is said, never silently used).
     */
    public static TimingCache loadFor(Path file, Environment here, Consumer<String> report) throws IOException {
        TimingCache c;
        try {
            c = read(file);
        } catch (NoSuchFileException e) {
            report.accept("timing cache " + file + " does not exist yet; starting an empty one");
            return new TimingCache(here);
        }
        String diff = c.environment.difference(here);
        if (diff != null) {
            report.accept("timing cache " + file + " was measured elsewhere (" + diff + "); not using its " + c.size() + " entries");
            return new TimingCache(here);
        }
        if (c.legacyRows > 0)
            report.accept("timing cache " + file + ": " + c.legacyRows + " rows name the stem's forms by their old ids (tessel.stem.*); read as tessel.conv.stem/FORM");
        return c;
    }
}
