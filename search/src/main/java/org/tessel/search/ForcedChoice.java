package org.tessel.search;

import java.util.List;
import java.util.Locale;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;

/**
 * A user's forced choice: nodes whose name or op matches {@code pattern} (a glob, as in
 * {@link PrecisionRule}) run with this tactic, and, where given, at this precision and in this layout.
 * Text form {@code PATTERN=TACTIC[:PRECISION[:LAYOUT]]}, e.g. {@code conv1=cudnn.conv.fused_bias_act:fp16:nhwc}
 * or {@code Softmax=cpu.reference}; {@code *} (or nothing) for the precision leaves it open, as in
 * {@code conv1=cudnn.conv.fused_bias_act:*:nhwc}.
 *
 * <p>The search obeys it or fails before solving: a matching node keeps only choices it admits, and
 * a fusion candidate containing the node stays a candidate only with fused choices it admits (the
 * group then runs the forced tactic), so every plan names the forced tactic for the node or the
 * group that computes it.
 *
 * @param precision null: any precision the tactic supports (among those allowed)
 * @param layout    null: any layout; otherwise {@link Layout#NCHW} or {@link Layout#NHWC}
 */
public record ForcedChoice(String pattern, String tacticId, Precision precision, Layout layout) {
    public ForcedChoice {
        if (pattern == null || pattern.isBlank()) throw new IllegalArgumentException("forced choice: empty node pattern");
        if (tacticId == null || tacticId.isBlank()) throw new IllegalArgumentException("forced choice '" + pattern + "': empty tactic id");
        if (layout == Layout.ANY) throw new IllegalArgumentException("forced choice '" + pattern + "=" + tacticId + "': a forced layout is nchw or nhwc (leave it out for any)");
    }

    public static ForcedChoice parse(String text) {
        String usage = "expected PATTERN=TACTIC[:PRECISION[:LAYOUT]], e.g. conv1=cudnn.conv.fused_bias_act:fp16:nhwc";
        int eq = text.indexOf('=');
        if (eq <= 0 || eq == text.length() - 1) throw new IllegalArgumentException("forced choice '" + text + "': " + usage);
        String pattern = text.substring(0, eq).trim();
        String[] parts = text.substring(eq + 1).split(":", -1);
        if (parts.length > 3) throw new IllegalArgumentException("forced choice '" + text + "': too many ':' parts; " + usage);
        String tactic = parts[0].trim();
        if (tactic.isEmpty()) throw new IllegalArgumentException("forced choice '" + text + "': no tactic; " + usage);
        if (tactic.contains("/"))
            throw new IllegalArgumentException("forced choice '" + text + "': '" + tactic + "' names a variant; force the catalogue id ("
                    + tactic.substring(0, tactic.indexOf('/')) + "), the builder picks its variant");
        Precision p = null;
        if (parts.length > 1 && !open(parts[1])) {
            String s = parts[1].trim();
            p = Precision.fromText(s).orElseThrow(() -> new IllegalArgumentException("forced choice '" + text + "': unknown precision '" + s + "' (known: "
                    + String.join(", ", java.util.Arrays.stream(Precision.values()).map(Precision::text).toList()) + ")"));
        }
        Layout l = null;
        if (parts.length > 2 && !open(parts[2])) {
            String s = parts[2].trim();
            l = Layout.fromText(s).filter(x -> x != Layout.ANY)
                    .orElseThrow(() -> new IllegalArgumentException("forced choice '" + text + "': unknown layout '" + s + "' (nchw or nhwc)"));
        }
        return new ForcedChoice(pattern, tactic, p, l);
    }

    private static boolean open(String s) { return s.isBlank() || s.trim().equals("*"); }

    public boolean matches(Node n) { return NodePatterns.matches(pattern, n); }

    /** True when the choice is this forced tactic at an admitted precision and layout. */
    public boolean admits(String tactic, Precision p, Layout l) {
        return tacticId.equals(tactic) && (precision == null || precision == p) && (layout == null || layout == l);
    }

    public boolean admits(Choice c) { return admits(c.tacticId(), c.precision(), c.layout()); }

    public boolean admits(FusedChoice c) { return admits(c.tacticId(), c.precision(), c.layout()); }

    /** The text form, as parsed. */
    public String text() {
        String s = pattern + "=" + tacticId;
        if (precision != null || layout != null) s += ":" + (precision == null ? "*" : precision.text());
        if (layout != null) s += ":" + layout.text();
        return s;
    }

    /** "tactic at precision/layout", the part after '=' for messages. */
    String what() {
        return tacticId + (precision == null ? "" : " at " + precision.text()) + (layout == null ? "" : (precision == null ? " in " : "/") + layout.text().toUpperCase(Locale.ROOT));
    }

    static List<String> texts(List<ForcedChoice> fs) { return fs.stream().map(ForcedChoice::text).toList(); }
}
