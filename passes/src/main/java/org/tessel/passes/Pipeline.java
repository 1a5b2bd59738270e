package org.tessel.passes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pipeline as written in configs and on the command line:
 * {@code fold-constants,fuse-conv-bias-act{max=4},fixpoint(cse,dce){max-iterations=5}}.
 * Parsing only checks syntax; {@link PassManager#check} checks names, options and the contracts.
 */
public record Pipeline(List<Element> elements) {
    public sealed interface Element permits Step, Fixpoint {}

    /** One pass with its options. */
    public record Step(String pass, Map<String, String> options) implements Element {}

    /** A group repeated until no pass in it changes the graph, at most maxIterations times. */
    public record Fixpoint(List<Element> body, int maxIterations) implements Element {}

    public static Pipeline of(String... passes) {
        List<Element> l = new ArrayList<>();
        for (String p : passes) l.add(new Step(p, Map.of()));
        return new Pipeline(l);
    }

    public static Pipeline parse(String text) {
        Parser p = new Parser(text);
        List<Element> els = p.list();
        p.skipWs();
        if (p.pos < text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "'");
        return new Pipeline(els);
    }

    @Override public String toString() { return render(elements); }

    private static String render(List<Element> els) {
        StringBuilder sb = new StringBuilder();
        for (Element e : els) {
            if (!sb.isEmpty()) sb.append(',');
            switch (e) {
                case Step s -> { sb.append(s.pass()); opts(sb, s.options()); }
                case Fixpoint f -> sb.append("fixpoint(").append(render(f.body())).append("){max-iterations=").append(f.maxIterations()).append('}');
            }
        }
        return sb.toString();
    }

    private static void opts(StringBuilder sb, Map<String, String> o) {
        if (o.isEmpty()) return;
        sb.append('{');
        int i = 0;
        for (var e : o.entrySet()) sb.append(i++ > 0 ? "," : "").append(e.getKey()).append('=').append(e.getValue());
        sb.append('}');
    }

    private static final class Parser {
        final String s;
        int pos;

        Parser(String s) { this.s = s; }

        PassException error(String msg) { return new PassException("pipeline '" + s + "', column " + (pos + 1) + ": " + msg); }

        void skipWs() { while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++; }

        List<Element> list() {
            List<Element> out = new ArrayList<>();
            do {
                skipWs();
                out.add(element());
                skipWs();
            } while (pos < s.length() && s.charAt(pos) == ',' && ++pos > 0);
            return out;
        }

        Element element() {
            String name = ident();
            skipWs();
            if (name.equals("fixpoint") && pos < s.length() && s.charAt(pos) == '(') {
                pos++;
                List<Element> body = list();
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != ')') throw error("expected ')' to close fixpoint(");
                pos++;
                Map<String, String> o = options();
                int max = 10;
                for (var e : o.entrySet()) {
                    if (!e.getKey().equals("max-iterations")) throw error("fixpoint takes only max-iterations, not '" + e.getKey() + "'");
                    try { max = Integer.parseInt(e.getValue()); } catch (NumberFormatException x) { throw error("max-iterations must be an integer"); }
                    if (max < 1) throw error("max-iterations must be at least 1");
                }
                return new Fixpoint(body, max);
            }
            return new Step(name, options());
        }

        Map<String, String> options() {
            Map<String, String> m = new LinkedHashMap<>();
            skipWs();
            if (pos >= s.length() || s.charAt(pos) != '{') return m;
            pos++;
            while (true) {
                skipWs();
                String k = ident();
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '=') throw error("expected '=' after option '" + k + "'");
                pos++;
                skipWs();
                int start = pos;
                while (pos < s.length() && ",}".indexOf(s.charAt(pos)) < 0) pos++;
                m.put(k, s.substring(start, pos).trim());
                if (pos >= s.length()) throw error("expected '}' to close options");
                if (s.charAt(pos++) == '}') return m;
            }
        }

        String ident() {
            int start = pos;
            while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '-' || s.charAt(pos) == '_')) pos++;
            if (start == pos) throw error(pos < s.length() ? "expected a pass name, found '" + s.charAt(pos) + "'" : "expected a pass name");
            return s.substring(start, pos);
        }
    }
}
