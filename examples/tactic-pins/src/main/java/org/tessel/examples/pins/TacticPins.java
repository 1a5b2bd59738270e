package org.tessel.examples.pins;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.ChosenAlgorithm;
import org.tessel.api.select.NodeView;

/**
 * An algorithm selector that excludes tactics everywhere and pins nodes to tactics, configured from
 * the command line: {@code --selector 'tactic-pins:exclude=GLOB|GLOB,pin=NODE@TACTIC|NODE@TACTIC,report=FILE'}.
 * Globs take {@code *} and {@code ?}; a pin's NODE matches a node's name or op (and a fused group
 * when it matches one of its members or body ops), its TACTIC the tactics the node keeps. A pin that
 * leaves a plain node nothing fails the search (Tessel names this selector and the node); one that
 * leaves a fusion candidate nothing keeps the group from being fused. {@code report} writes the plan
 * the search reports, one tab-separated line per node.
 */
public final class TacticPins implements AlgorithmSelector {
    /** A pin: nodes matching {@code node} keep only tactics matching {@code tactic}. */
    record Pin(String text, Pattern node, Pattern tactic) {}

    private final List<Pattern> exclude;
    private final List<Pin> pins;
    private final Path report;

    public TacticPins() { this(List.of(), List.of(), null); }

    private TacticPins(List<Pattern> exclude, List<Pin> pins, Path report) {
        this.exclude = List.copyOf(exclude);
        this.pins = List.copyOf(pins);
        this.report = report;
    }

    @Override public String name() { return "tactic-pins"; }

    @Override public String summary() { return "options exclude=GLOB|..., pin=NODE@TACTIC|..., report=FILE: drops tactics, pins nodes to tactics, writes the plan"; }

    @Override public AlgorithmSelector configure(Map<String, String> options) {
        List<Pattern> ex = new ArrayList<>();
        List<Pin> ps = new ArrayList<>();
        Path rep = null;
        for (var e : options.entrySet()) {
            switch (e.getKey()) {
                case "exclude" -> { for (String g : split(e)) ex.add(glob(g)); }
                case "pin" -> {
                    for (String p : split(e)) {
                        int at = p.indexOf('@');
                        if (at <= 0 || at == p.length() - 1) throw new IllegalArgumentException("pin '" + p + "' is not NODE_GLOB@TACTIC_GLOB (e.g. conv1@cudnn.*)");
                        ps.add(new Pin(p, glob(p.substring(0, at)), glob(p.substring(at + 1))));
                    }
                }
                case "report" -> {
                    if (e.getValue().isBlank()) throw new IllegalArgumentException("report needs a file name");
                    rep = Path.of(e.getValue());
                }
                default -> throw new IllegalArgumentException("unknown option '" + e.getKey() + "' (options: exclude=GLOB|..., pin=NODE@TACTIC|..., report=FILE)");
            }
        }
        return new TacticPins(ex, ps, rep);
    }

    private static List<String> split(Map.Entry<String, String> e) {
        List<String> out = new ArrayList<>();
        for (String s : e.getValue().split("\\|")) if (!s.isBlank()) out.add(s.trim());
        if (out.isEmpty()) throw new IllegalArgumentException(e.getKey() + " needs at least one pattern");
        return out;
    }

    static Pattern glob(String g) {
        StringBuilder sb = new StringBuilder();
        for (char c : g.toCharArray()) sb.append(c == '*' ? ".*" : c == '?' ? "." : Pattern.quote(String.valueOf(c)));
        return Pattern.compile(sb.toString());
    }

    static boolean matches(Pattern p, NodeView n) {
        if (p.matcher(n.name()).matches() || p.matcher(n.op()).matches()) return true;
        for (String m : n.members()) if (p.matcher(m).matches()) return true;
        for (String o : n.bodyOps()) if (p.matcher(o).matches()) return true;
        return false;
    }

    @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
        List<Algorithm> out = new ArrayList<>();
        next:
        for (Algorithm a : candidates) {
            for (Pattern x : exclude) if (x.matcher(a.tactic()).matches()) continue next;
            for (Pin p : pins) if (matches(p.node(), node) && !p.tactic().matcher(a.tactic()).matches()) continue next;
            out.add(a);
        }
        return out;
    }

    @Override public void reportAlgorithms(List<ChosenAlgorithm> choices) {
        if (report == null) return;
        StringBuilder sb = new StringBuilder("# node\top\ttactic\tprecision\tlayout\tpredicted_us\tmembers\n");
        for (ChosenAlgorithm c : choices)
            sb.append(String.join("\t", c.node().name(), c.node().op(), c.algorithm().tactic(), c.algorithm().precision(), c.algorithm().layout().text(),
                    String.format(Locale.ROOT, "%.4f", c.algorithm().predictedUs()), String.join(",", c.node().members()))).append('\n');
        try {
            Files.writeString(report, sb);
        } catch (IOException e) {
            throw new UncheckedIOException("tactic-pins: cannot write the report " + report + ": " + e.getMessage(), e);
        }
    }
}
