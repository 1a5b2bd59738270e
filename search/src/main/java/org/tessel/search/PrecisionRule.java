package org.tessel.search;

import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * A user's precision constraint: nodes whose name or op matches {@code pattern} (a glob: {@code *}
 * and {@code ?}) compute only in the listed precisions. Text form {@code PATTERN=P1|P2}, e.g.
 * {@code Softmax=fp32} or {@code *=fp32|tf32}.
 */
public record PrecisionRule(String pattern, Set<Precision> allowed) {
    public PrecisionRule {
        if (allowed.isEmpty()) throw new IllegalArgumentException("precision rule '" + pattern + "' allows no precision");
        allowed = Set.copyOf(allowed);
    }

    public static PrecisionRule parse(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0 || eq == text.length() - 1)
            throw new IllegalArgumentException("precision rule '" + text + "': expected PATTERN=PRECISION[|PRECISION...], e.g. Softmax=fp32");
        Set<Precision> ps = EnumSet.noneOf(Precision.class);
        for (String s : text.substring(eq + 1).split("[|,]")) {
            Precision p = parsePrecision(s.trim());
            if (p == null) throw new IllegalArgumentException("precision rule '" + text + "': unknown precision '" + s.trim() + "' (known: " + known() + ")");
            ps.add(p);
        }
        return new PrecisionRule(text.substring(0, eq).trim(), ps);
    }

    static Precision parsePrecision(String s) {
        for (Precision p : Precision.values()) if (p.name().equalsIgnoreCase(s)) return p;
        return null;
    }

    static String known() {
        Set<String> s = new LinkedHashSet<>();
        for (Precision p : Precision.values()) s.add(p.name().toLowerCase(Locale.ROOT));
        return String.join(", ", s);
    }

    public boolean matches(Node n) { return NodePatterns.matches(pattern, n); }

    public String text() {
        return pattern + "=" + String.join("|", allowed.stream().sorted().map(p -> p.name().toLowerCase(Locale.ROOT)).toList());
    }

    static List<String> texts(List<PrecisionRule> rules) { return rules.stream().map(PrecisionRule::text).toList(); }
}
