package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.SignatureNodes;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.tactics.TacticCatalog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Reads and edits timing-cache files ({@link TimingCache}'s format, unchanged): show the entries,
 * merge caches of one environment, set or delete one entry, prune entries by tactic, op, noise or
 * run count. Every write goes to a fresh file beside the cache that then replaces it in one atomic
 * move, so a failed edit leaves the file as it was and a reader never sees half a file.
 */
@Command(name = "cache", description = "Show, merge, edit and prune timing caches (the files `tessel build --timing-cache` writes).",
        subcommands = {CacheCommand.Show.class, CacheCommand.Merge.class, CacheCommand.Edit.class, CacheCommand.Prune.class})
final class CacheCommand implements Runnable {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    static TimingCache read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no such timing cache: " + file);
        return TimingCache.read(file);
    }

    /** Writes {@code c} over {@code file} as it is (atomically, nothing on disk merged back in: a deleted entry stays deleted). */
    static void write(TimingCache c, Path file) throws IOException {
        c.replace(file);
    }

    /** A copy of {@code c} holding the entries {@code keep} accepts. */
    static TimingCache filtered(TimingCache c, java.util.function.BiPredicate<TimingCache.Key, Measurement> keep) {
        TimingCache out = new TimingCache(c.environment());
        c.entries().forEach((k, m) -> { if (keep.test(k, m)) out.put(k.signature(), k.tactic(), m); });
        return out;
    }

    /** The op of a signature and its fused body's ops: what --op matches. */
    static List<String> ops(String signature) {
        List<String> out = new ArrayList<>();
        try {
            SignatureNodes.Parsed p = SignatureNodes.parse(signature);
            out.add(p.op());
            out.addAll(p.bodyOps());
        } catch (IllegalArgumentException e) {
            int i = 0;
            while (i < signature.length() && "[{(@".indexOf(signature.charAt(i)) < 0) i++;
            out.add(signature.substring(0, i));
        }
        return out;
    }

    static Pattern glob(String g) {
        StringBuilder sb = new StringBuilder();
        for (char c : g.toCharArray()) sb.append(c == '*' ? ".*" : c == '?' ? "." : Pattern.quote(String.valueOf(c)));
        return Pattern.compile(sb.toString());
    }

    /** True when a tactic glob matches the tactic, with or without its variant ("cudnn.conv.*" matches "cudnn.conv.fused_bias_act/x"). */
    static boolean tacticMatches(List<Pattern> globs, String tactic) {
        String id = tactic.contains("/") ? tactic.substring(0, tactic.indexOf('/')) : tactic;
        for (Pattern p : globs) if (p.matcher(tactic).matches() || p.matcher(id).matches()) return true;
        return false;
    }

    static boolean opMatches(List<Pattern> globs, String signature) {
        for (String op : ops(signature)) for (Pattern p : globs) if (p.matcher(op).matches()) return true;
        return false;
    }

    static String header(Path file, TimingCache c) {
        TimingCache.Environment e = c.environment();
        return "timing cache " + file + ": gpu " + e.gpu() + ", driver " + e.driver() + (e.libraries().isEmpty() ? "" : ", libraries " + e.libraries()) + ", " + c.size() + " entries";
    }

    @Command(name = "show", description = {"Print a timing cache: its environment, per tactic the entries and their spread, then every entry "
            + "(row, op, tactic, median and MAD in us, runs, noise, signature).", "--tactic and --op (globs) show only matching entries."})
    static final class Show implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Option(names = "--tactic", paramLabel = "GLOB", description = "Only entries whose tactic (id or id/variant) matches (repeatable).") List<String> tactics = new ArrayList<>();
        @Option(names = "--op", paramLabel = "GLOB", description = "Only entries whose op, or an op of its fused body, matches (repeatable).") List<String> ops = new ArrayList<>();
        @Option(names = "--summary", description = "Only the environment and the per-tactic summary.") boolean summary;

        @Override public Integer call() throws Exception {
            TimingCache c = read(file);
            List<Pattern> tg = tactics.stream().map(CacheCommand::glob).toList(), og = ops.stream().map(CacheCommand::glob).toList();
            TimingCache shown = filtered(c, (k, m) -> (tg.isEmpty() || tacticMatches(tg, k.tactic())) && (og.isEmpty() || opMatches(og, k.signature())));
            System.out.println(header(file, c) + (shown.size() == c.size() ? "" : ", " + shown.size() + " shown"));
            Map<String, double[]> by = new TreeMap<>(); // entries, min median, max median, max noise
            for (var e : shown.entries().entrySet()) {
                double[] s = by.computeIfAbsent(e.getKey().tactic(), k -> new double[] {0, Double.MAX_VALUE, 0, 0});
                s[0]++;
                s[1] = Math.min(s[1], e.getValue().medianUs());
                s[2] = Math.max(s[2], e.getValue().medianUs());
                s[3] = Math.max(s[3], e.getValue().relativeNoise());
            }
            for (var e : by.entrySet())
                System.out.printf(Locale.ROOT, "  %-60s %4d entries, median %.4f..%.4f us, noise up to %.1f%%%n", e.getKey(), (int) e.getValue()[0], e.getValue()[1],
                        e.getValue()[2], e.getValue()[3] * 100);
            if (summary) return 0;
            int row = 0;
            for (var e : c.entries().entrySet()) {
                row++;
                if (!shown.entries().containsKey(e.getKey())) continue;
                Measurement m = e.getValue();
                System.out.printf(Locale.ROOT, "%4d  %-22s %-55s %10.4f %8.4f %4d %6.1f%%  %s%n", row, String.join(",", ops(e.getKey().signature())), e.getKey().tactic(),
                        m.medianUs(), m.madUs(), m.runs(), m.relativeNoise() * 100, e.getKey().signature());
            }
            return 0;
        }
    }

    @Command(name = "merge", description = {"Merge timing caches of one environment (GPU, driver, libraries) into FILE: where both measured an entry, the "
            + "measurement over more runs wins (then the lower noise). FILE is created from the first OTHER when it does not exist.",
            "Ends 'FILE: N entries (A new, R replaced)'."})
    static final class Merge implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE", description = "The cache to merge into (written).") Path file;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "OTHER", description = "Caches to merge from (read).") List<Path> others;

        @Override public Integer call() throws Exception {
            TimingCache base = Files.exists(file) ? read(file) : null;
            int added = 0, replaced = 0;
            for (Path o : others) {
                TimingCache other = read(o);
                if (base == null) {
                    base = new TimingCache(other.environment());
                    System.out.println(file + " does not exist: starting it with " + o + "'s environment");
                }
                String diff = base.environment().difference(other.environment());
                if (diff != null) throw new IllegalArgumentException("cannot merge " + o + " into " + file + ": measured in another environment (" + diff + "); nothing written");
                Map<TimingCache.Key, Measurement> before = new java.util.HashMap<>(base.entries());
                base.merge(other);
                for (var e : base.entries().entrySet()) {
                    Measurement was = before.get(e.getKey());
                    if (was == null) { if (other.entries().containsKey(e.getKey())) added++; }
                    else if (!was.equals(e.getValue())) replaced++;
                }
            }
            write(base, file);
            System.out.printf("%s: %d entries (%d new, %d replaced)%n", file, base.size(), added, replaced);
            return 0;
        }
    }

    @Command(name = "edit", description = {"Set or delete one entry, named by its signature and tactic (as `tessel cache show` prints them).",
            "Setting checks that the signature parses and that the tactic's catalogue id (before '/') is known (plugins' too, with --plugins)."})
    static final class Edit implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Option(names = "--signature", required = true, paramLabel = "SIG", description = "The entry's op signature.") String signature;
        @Option(names = "--tactic", required = true, paramLabel = "TACTIC", description = "The entry's tactic, id or id/variant.") String tactic;
        @Option(names = "--delete", description = "Delete the entry.") boolean delete;
        @Option(names = "--median-us", paramLabel = "US", description = "Set the entry's measured median, microseconds.") Double median;
        @Option(names = "--mad-us", paramLabel = "US", description = "Its median absolute deviation, microseconds (default 0).") Double mad;
        @Option(names = "--runs", paramLabel = "N", description = "Runs the median is over (default 1).") Integer runs;

        @Override public Integer call() throws Exception {
            TimingCache c = read(file);
            TimingCache.Key key = new TimingCache.Key(signature, tactic);
            if (delete == (median != null))
                throw new IllegalArgumentException(delete ? "--delete and --median-us exclude each other: delete the entry or set it" : "give --median-us US to set the entry, or --delete");
            if (delete && (mad != null || runs != null)) throw new IllegalArgumentException("--mad-us and --runs describe a measurement to set, not one to --delete");
            if (delete) {
                if (!c.entries().containsKey(key)) throw new IllegalArgumentException(file + " has no entry for tactic " + tactic + " on " + signature + near(c));
                write(filtered(c, (k, m) -> !k.equals(key)), file);
                System.out.println(file + ": deleted " + tactic + " on " + signature + "; " + (c.size() - 1) + " entries");
                return 0;
            }
            try {
                SignatureNodes.parse(signature);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--signature: " + e.getMessage());
            }
            String id = tactic.contains("/") ? tactic.substring(0, tactic.indexOf('/')) : tactic;
            if (!TacticCatalog.global().has(id)) {
                try { TacticCatalog.global().byId(id); } catch (IllegalArgumentException e) { throw new IllegalArgumentException("--tactic: " + e.getMessage()); }
            }
            Measurement m;
            try {
                m = new Measurement(median, mad == null ? 0 : mad, runs == null ? 1 : runs);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--median-us/--mad-us/--runs: " + e.getMessage());
            }
            boolean existed = c.entries().containsKey(key);
            c.put(signature, tactic, m);
            write(c, file);
            System.out.printf(Locale.ROOT, "%s: %s %s on %s: median %.4f us, MAD %.4f us, %d runs; %d entries%n", file, existed ? "set" : "added", tactic, signature,
                    m.medianUs(), m.madUs(), m.runs(), c.size());
            return 0;
        }

        private String near(TimingCache c) {
            List<String> same = c.entries().keySet().stream().filter(k -> k.signature().equals(signature)).map(TimingCache.Key::tactic).toList();
            return same.isEmpty() ? " (no entry has this signature)" : " (its tactics there: " + same + ")";
        }
    }

    @Command(name = "prune", description = {"Drop entries by tactic or op (globs), by noise (MAD / median above --max-noise) or by run count "
            + "(fewer than --min-runs); an entry goes when any given criterion matches. The file records no measurement times, so age is not a criterion.",
            "Ends 'FILE: N entries dropped, M kept'."})
    static final class Prune implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Option(names = "--tactic", paramLabel = "GLOB", description = "Drop entries whose tactic (id or id/variant) matches (repeatable).") List<String> tactics = new ArrayList<>();
        @Option(names = "--op", paramLabel = "GLOB", description = "Drop entries whose op, or an op of its fused body, matches (repeatable).") List<String> ops = new ArrayList<>();
        @Option(names = "--max-noise", paramLabel = "FRACTION", description = "Drop entries noisier than this (MAD / median, e.g. 0.05).") Double maxNoise;
        @Option(names = "--min-runs", paramLabel = "N", description = "Drop entries measured over fewer runs.") Integer minRuns;
        @Option(names = "--dry-run", description = "Say what would be dropped; write nothing.") boolean dryRun;

        @Override public Integer call() throws Exception {
            if (tactics.isEmpty() && ops.isEmpty() && maxNoise == null && minRuns == null)
                throw new IllegalArgumentException("prune needs a criterion: --tactic, --op, --max-noise or --min-runs");
            if (maxNoise != null && !(maxNoise >= 0)) throw new IllegalArgumentException("--max-noise must be a fraction >= 0, got " + maxNoise);
            TimingCache c = read(file);
            List<Pattern> tg = tactics.stream().map(CacheCommand::glob).toList(), og = ops.stream().map(CacheCommand::glob).toList();
            Map<String, Integer> why = new TreeMap<>();
            TimingCache kept = filtered(c, (k, m) -> {
                String reason = !tg.isEmpty() && tacticMatches(tg, k.tactic()) ? "tactic"
                        : !og.isEmpty() && opMatches(og, k.signature()) ? "op"
                        : maxNoise != null && m.relativeNoise() > maxNoise ? "noise"
                        : minRuns != null && m.runs() < minRuns ? "runs" : null;
                if (reason != null) why.merge(reason, 1, Integer::sum);
                return reason == null;
            });
            int dropped = c.size() - kept.size();
            if (!dryRun && dropped > 0) write(kept, file);
            System.out.printf("%s: %d entries %s, %d kept%s%n", file, dropped, dryRun ? "would be dropped" : "dropped", kept.size(), why.isEmpty() ? "" : " (by " + why + ")");
            return 0;
        }
    }
}
