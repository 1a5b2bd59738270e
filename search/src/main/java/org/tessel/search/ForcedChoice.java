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
 * Text form {@code PATTERN=TACTIC[/VARIANT][:PRECISION[:LAYOUT]]}, e.g. {@code conv1=cudnn.conv.fused_bias_act:fp16:nhwc}
 * or {@code Softmax=cpu.reference}; {@code *} (or nothing) for the precision leaves it open, as in
 * {@code conv1=cudnn.conv.fused_bias_act:*:nhwc}. A variant is one the tactic prices apart
 * ({@link org.tessel.tactics.Tactic#pricedVariants}), e.g. {@code tessel.PagedAttention=tessel.attention.paged/mma:fp16}:
 * the matched nodes for which the tactic prices variants run that one; those for which it prices none (a decode step's
 * paged attention, whose kernel has one form) run the tactic as it is.
 *
 * <p>The search obeys it or fails before solving: a matching node keeps only choices it admits, and
 * a fusion candidate containing the node stays a candidate only with fused choices it admits (the
 * group then runs the forced tactic), so every plan names the forced tactic for the node or the
 * group that computes it.
 *
 * @param precision null: any precision the tactic supports (among those allowed)
 * @param layout    null: any layout; otherwise {@link Layout#NCHW} or {@link Layout#NHWC}
 * @param variant   null: any variant (the search's cheapest); otherwise one the tactic prices apart
 */
public record ForcedChoice(String pattern, String tacticId, Precision precision, Layout layout, String variant) {
    /** A forced choice that leaves the variant to the search. */
    public ForcedChoice(String pattern, String tacticId, Precision precision, Layout layout) { this(pattern, tacticId, precision, layout, null); }

    public ForcedChoice {
        if (variant != null && variant.isBlank()) throw new IllegalArgumentException("forced choice '" + pattern + "=" + tacticId + "/': empty variant");
        if (pattern == null || pattern.isBlank()) throw new IllegalArgumentException("forced choice: empty node pattern");
        if (tacticId == null || tacticId.isBlank()) throw new IllegalArgumentException("forced choice '" + pattern + "': empty tactic id");
        if (layout == Layout.ANY) throw new IllegalArgumentException("forced choice '" + pattern + "=" + tacticId + "': a forced layout is nchw or nhwc (leave it out for any)");
    }

    public static ForcedChoice parse(String text) {
        String usage = "expected PATTERN=TACTIC[/VARIANT][:PRECISION[:LAYOUT]], e.g. conv1=cudnn.conv.fused_bias_act:fp16:nhwc";
        int eq = text.indexOf('=');
        if (eq <= 0 || eq == text.length() - 1) throw new IllegalArgumentException("forced choice '" + text + "': " + usage);
        String pattern = text.substring(0, eq).trim();
        String[] parts = text.substring(eq + 1).split(":", -1);
        if (parts.length > 3) throw new IllegalArgumentException("forced choice '" + text + "': too many ':' parts; " + usage);
        String tactic = parts[0].trim();
        if (tactic.isEmpty()) throw new IllegalArgumentException("forced choice '" + text + "': no tactic; " + usage);
        String variant = null;
        int slash = tactic.indexOf('/');
        if (slash >= 0) {
            variant = tactic.substring(slash + 1).trim();
            tactic = tactic.substring(0, slash).trim();
            if (tactic.isEmpty() || variant.isEmpty() || variant.contains("/"))
                throw new IllegalArgumentException("forced choice '" + text + "': '" + parts[0].trim() + "' is not TACTIC/VARIANT; " + usage);
        }
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
        return new ForcedChoice(pattern, tactic, p, l, variant);
    }

    private static boolean open(String s) { return s.isBlank() || s.trim().equals("*"); }

    public boolean matches(Node n) { return NodePatterns.matches(pattern, n); }

    /** True when the choice is this forced tactic at an admitted precision and layout. */
    public boolean admits(String tactic, Precision p, Layout l) {
        return tacticId.equals(tactic) && (precision == null || precision == p) && (layout == null || layout == l);
    }

    /** As above, and of the forced variant where the choice runs one (a choice of no variant: the tactic prices none for its node). */
    public boolean admits(Choice c) {
        return admits(c.tacticId(), c.precision(), c.layout()) && (variant == null || c.variant().isEmpty() || c.variant().equals(variant));
    }

    public boolean admits(FusedChoice c) { return admits(c.tacticId(), c.precision(), c.layout()); }

    /** The text form, as parsed. */
    public String text() {
        String s = pattern + "=" + tacticId + (variant == null ? "" : "/" + variant);
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
