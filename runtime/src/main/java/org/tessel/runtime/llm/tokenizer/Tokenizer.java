package org.tessel.runtime.llm.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.ir.io.Json;

/**
 * A Hugging Face {@code tokenizer.json} of model type BPE, run as the {@code tokenizers} library runs it:
 * added (special) tokens are cut out of the text first (longest match, {@code lstrip}/{@code rstrip} absorbing
 * whitespace); each other segment is normalized, pre-tokenized and split into pieces, and each piece is merged by rank
 * (the lowest-ranked adjacent pair first, leftmost on ties) into vocabulary ids; a post-processor template may add
 * tokens (Llama-2's {@code <s>}). Decoding maps ids back to token strings and runs the decoder chain.
 *
 * <p>Supported: byte-level BPE (GPT-2, Llama-3: the {@code ByteLevel} pre-tokenizer with or without its regex, a
 * {@code Split} regex before it, GPT-2's byte-to-unicode map, the {@code ByteLevel} decoder; exact round trip) and
 * SentencePiece-style BPE (Llama-2: {@code Prepend}/{@code Replace} normalizers or the {@code Metaspace}
 * pre-tokenizer, ▁ for spaces, {@code <0xNN>} byte fallback, the {@code Replace}/{@code ByteFallback}/{@code Fuse}/
 * {@code Strip} decoders). Anything else is refused naming the file and the field.
 */
public final class Tokenizer {
    private final String source;
    private final Map<String, Integer> vocab;
    private final String[] tokens;          // id -> token string (model vocabulary and added tokens)
    private final Map<Long, int[]> merges;  // (left id, right id) -> {rank, merged id}
    private final boolean byteFallback, fuseUnk, ignoreMerges;
    private final Integer unk;
    private final List<AddedToken> added;   // longest content first
    private final boolean[] special;
    private final List<Step> normalizers, preTokenizers, decoders;
    private final int[] prefix, suffix;     // the post-processor's tokens around a single sequence
    private final Map<String, int[]> cache = new HashMap<>();

    record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip) {}

    /** One normalizer, pre-tokenizer or decoder of the file, its JSON object kept for its settings. */
    private record Step(String type, Map<String, Object> json, Pattern pattern, String where) {}

    public static Tokenizer load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the tokenizer: " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    public static Tokenizer parse(String json, String source) {
        if (!(Json.parse(json, source) instanceof Map<?, ?> root)) throw new IllegalArgumentException(source + ": a tokenizer.json is a JSON object");
        return new Tokenizer(cast(root), source);
    }

    private Tokenizer(Map<String, Object> root, String source) {
        this.source = source;
        Map<String, Object> model = object(root.get("model"), "model");
        if (model == null) throw error("model", "missing");
        String type = string(model.get("type"), "model.type");
        if (!"BPE".equals(type)) throw error("model.type", type + " is not supported (BPE only)");
        for (String f : List.of("continuing_subword_prefix", "end_of_word_suffix"))
            if (model.get(f) != null && !"".equals(model.get(f))) throw error("model." + f, "'" + model.get(f) + "' is not supported");
        if (model.get("dropout") instanceof Number d && d.doubleValue() > 0) throw error("model.dropout", d + " is not supported (deterministic encoding only)");
        Map<String, Object> v = object(model.get("vocab"), "model.vocab");
        if (v == null) throw error("model.vocab", "missing");
        vocab = new HashMap<>();
        int size = 0;
        for (var e : v.entrySet()) {
            int id = id(e.getValue(), "model.vocab." + e.getKey());
            vocab.put(e.getKey(), id);
            size = Math.max(size, id + 1);
        }
        List<AddedToken> adds = new ArrayList<>();
        if (root.get("added_tokens") instanceof List<?> list)
            for (int i = 0; i < list.size(); i++) {
                String where = "added_tokens[" + i + "]";
                Map<String, Object> a = object(list.get(i), where);
                if (Boolean.TRUE.equals(a.get("single_word"))) throw error(where + ".single_word", "true is not supported");
                adds.add(new AddedToken(id(a.get("id"), where + ".id"), string(a.get("content"), where + ".content"),
                        Boolean.TRUE.equals(a.get("special")), Boolean.TRUE.equals(a.get("lstrip")), Boolean.TRUE.equals(a.get("rstrip"))));
                size = Math.max(size, adds.getLast().id() + 1);
            }
        adds.sort(Comparator.comparingInt((AddedToken a) -> -a.content().length()));
        added = List.copyOf(adds);
        tokens = new String[size];
        special = new boolean[size];
        for (var e : vocab.entrySet()) tokens[e.getValue()] = e.getKey();
        for (AddedToken a : added) {
            tokens[a.id()] = a.content();
            special[a.id()] = a.special();
        }
        merges = new HashMap<>();
        List<?> ms = model.get("merges") instanceof List<?> l ? l : List.of();
        for (int rank = 0; rank < ms.size(); rank++) {
            String where = "model.merges[" + rank + "]";
            String left, right;
            if (ms.get(rank) instanceof String s) {
                String[] parts = s.split(" ", -1);
                if (parts.length != 2) throw error(where, "'" + s + "' is not two tokens separated by one space");
                left = parts[0];
                right = parts[1];
            } else if (ms.get(rank) instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String a && pair.get(1) instanceof String b) {
                left = a;
                right = b;
            } else throw error(where, "a merge is \"A B\" or [\"A\", \"B\"]");
            Integer l = vocab.get(left), r = vocab.get(right), m = vocab.get(left + right);
            if (l == null || r == null || m == null)
                throw error(where, "'" + (l == null ? left : r == null ? right : left + right) + "' is not in model.vocab");
            merges.putIfAbsent(key(l, r), new int[] {rank, m});
        }
        byteFallback = Boolean.TRUE.equals(model.get("byte_fallback"));
        fuseUnk = Boolean.TRUE.equals(model.get("fuse_unk"));
        ignoreMerges = Boolean.TRUE.equals(model.get("ignore_merges"));
        Object u = model.get("unk_token");
        unk = u == null ? null : vocab.get(string(u, "model.unk_token"));
        if (u != null && unk == null) throw error("model.unk_token", "'" + u + "' is not in model.vocab");
        normalizers = steps(root.get("normalizer"), "normalizer", "normalizers", List.of("Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Lowercase"));
        preTokenizers = steps(root.get("pre_tokenizer"), "pre_tokenizer", "pretokenizers", List.of("ByteLevel", "Split", "Metaspace"));
        decoders = steps(root.get("decoder"), "decoder", "decoders", List.of("ByteLevel", "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"));
        int[][] around = postProcessor(object(root.get("post_processor"), "post_processor"));
        prefix = around[0];
        suffix = around[1];
    }

    /** The file this tokenizer was read from. */
    public String source() { return source; }

    /** Ids this tokenizer can produce: one more than its largest id (model vocabulary and added tokens). */
    public int vocabSize() { return tokens.length; }

    /** The token string of an id (the byte-level or ▁ form for model tokens, the content for added ones). */
    public String token(int id) {
        checkId(id);
        return tokens[id];
    }

    /** The ids of {@code text} with the post-processor's special tokens (Hugging Face's {@code add_special_tokens=True}). */
    public int[] encode(String text) { return encode(text, true); }

    public int[] encode(String text, boolean addSpecialTokens) {
        List<Integer> ids = new ArrayList<>();
        if (addSpecialTokens) for (int id : prefix) ids.add(id);
        int start = 0;
        while (start <= text.length()) {
            int[] match = nextAdded(text, start);  // {token index, match start, match end} or null
            int end = match == null ? text.length() : match[1];
            if (end > start) encodeSegment(text.substring(start, end), start == 0, ids);
            if (match == null) break;
            ids.add(added.get(match[0]).id());
            start = match[2];
        }
        if (addSpecialTokens) for (int id : suffix) ids.add(id);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The text of {@code ids}, special tokens included; the decoder chain's output (byte-level: the exact text encoded). */
    public String decode(int[] ids) { return decode(ids, false); }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> toks = new ArrayList<>();
        for (int id : ids) {
            checkId(id);
            if (skipSpecialTokens && special[id]) continue;
            toks.add(tokens[id]);
        }
        for (Step d : decoders) toks = decodeStep(d, toks);
        return String.join("", toks);
    }

    /** One line: the file, the vocabulary, merges, added tokens and the pipeline. */
    public String describe() {
        return String.format("tokenizer: %s (BPE, %d ids, %d merges, %d added tokens; %s%s)", source, vocabSize(), merges.size(), added.size(),
                preTokenizers.stream().anyMatch(s -> s.type().equals("ByteLevel")) ? "byte-level" : "SentencePiece-style",
                byteFallback ? ", byte fallback" : "");
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null)
            throw new IllegalArgumentException("token id " + id + " is not in the tokenizer " + source + " (" + tokens.length + " ids)");
    }

    // ---- encoding

    private int[] nextAdded(String text, int from) {
        for (int i = from; i < text.length(); i++)
            for (int t = 0; t < added.size(); t++) {
                AddedToken a = added.get(t);
                if (!a.content().isEmpty() && text.startsWith(a.content(), i)) {
                    int s = i, e = i + a.content().length();
                    if (a.lstrip()) while (s > from && Character.isWhitespace(text.charAt(s - 1))) s--;
                    if (a.rstrip()) while (e < text.length() && Character.isWhitespace(text.charAt(e))) e++;
                    return new int[] {t, s, e};
                }
            }
        return null;
    }

    private void encodeSegment(String text, boolean atStart, List<Integer> ids) {
        for (Step n : normalizers) text = normalize(n, text);
        List<String> pieces = List.of(text);
        for (Step p : preTokenizers) pieces = preTokenize(p, pieces, atStart);
        for (String piece : pieces)
            if (!piece.isEmpty()) for (int id : cache.computeIfAbsent(piece, this::bpe)) ids.add(id);
    }

    /** One piece merged by rank: each character its id (or its UTF-8 bytes as {@code <0xNN>}, or unk), then the lowest-ranked pair, leftmost first, until none applies. */
    private int[] bpe(String piece) {
        Integer whole = vocab.get(piece);
        if (ignoreMerges && whole != null) return new int[] {whole};
        List<Integer> word = new ArrayList<>();
        boolean lastUnk = false;
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            String ch = new String(Character.toChars(cp));
            i += ch.length();
            Integer id = vocab.get(ch);
            if (id != null) {
                word.add(id);
                lastUnk = false;
                continue;
            }
            if (byteFallback) {
                List<Integer> bytes = new ArrayList<>();
                for (byte b : ch.getBytes(StandardCharsets.UTF_8)) {
                    Integer bid = vocab.get(String.format("<0x%02X>", b & 0xff));
                    if (bid == null) { bytes = null; break; }
                    bytes.add(bid);
                }
                if (bytes != null) {
                    word.addAll(bytes);
                    lastUnk = false;
                    continue;
                }
            }
            if (unk == null)
                throw new IllegalArgumentException(source + ": character U+" + String.format("%04X", cp) + " ('" + ch + "') is not in model.vocab and the tokenizer has no "
                        + (byteFallback ? "<0xNN> byte token for it and no " : "") + "model.unk_token");
            if (!(fuseUnk && lastUnk)) word.add(unk);
            lastUnk = true;
        }
        while (word.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE, merged = 0;
            for (int i = 0; i + 1 < word.size(); i++) {
                int[] m = merges.get(key(word.get(i), word.get(i + 1)));
                if (m != null && m[0] < bestRank) {
                    bestRank = m[0];
                    best = i;
                    merged = m[1];
                }
            }
            if (best < 0) break;
            word.set(best, merged);
            word.remove(best + 1);
        }
        return word.stream().mapToInt(Integer::intValue).toArray();
    }

    private String normalize(Step n, String text) {
        return switch (n.type()) {
            case "Prepend" -> text.isEmpty() ? text : string(n.json().get("prepend"), n.where() + ".prepend") + text;
            case "Replace" -> replace(n, text);
            case "NFC" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFC);
            case "NFD" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD);
            case "NFKC" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKC);
            case "NFKD" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKD);
            default -> text.toLowerCase(java.util.Locale.ROOT);
        };
    }

    private List<String> preTokenize(Step p, List<String> pieces, boolean atStart) {
        List<String> out = new ArrayList<>();
        for (int k = 0; k < pieces.size(); k++) {
            String s = pieces.get(k);
            switch (p.type()) {
                case "ByteLevel" -> {
                    if (Boolean.TRUE.equals(p.json().get("add_prefix_space")) && !s.startsWith(" ")) s = " " + s;
                    List<String> split = Boolean.FALSE.equals(p.json().get("use_regex")) ? List.of(s) : isolate(GPT2_SPLIT, s);
                    for (String piece : split) out.add(ByteLevel.encode(piece));
                }
                case "Split" -> out.addAll(isolate(p.pattern(), s));
                default -> { // Metaspace
                    String rep = string(p.json().get("replacement"), p.where() + ".replacement");
                    String scheme = p.json().get("prepend_scheme") instanceof String sc ? sc : Boolean.FALSE.equals(p.json().get("add_prefix_space")) ? "never" : "always";
                    s = s.replace(" ", rep);
                    if (!s.startsWith(rep) && (scheme.equals("always") || scheme.equals("first") && atStart && k == 0)) s = rep + s;
                    if (!Boolean.FALSE.equals(p.json().get("split"))) {
                        int from = 0;
                        for (int i = s.indexOf(rep, 1); i > 0; i = s.indexOf(rep, i + 1)) {
                            out.add(s.substring(from, i));
                            from = i;
                        }
                        out.add(s.substring(from));
                    } else out.add(s);
                }
            }
        }
        return out;
    }

    /** The matches of {@code p} and the text between them, in order (the Split pre-tokenizer's "Isolated" behaviour). */
    private static List<String> isolate(Pattern p, String s) {
        List<String> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        int last = 0;
        while (m.find()) {
            if (m.start() == m.end()) continue;
            if (m.start() > last) out.add(s.substring(last, m.start()));
            out.add(m.group());
            last = m.end();
        }
        if (last < s.length()) out.add(s.substring(last));
        return out;
    }

    /** GPT-2's pre-tokenizer regex, as the ByteLevel pre-tokenizer's use_regex applies it (\s as Unicode white space, as Oniguruma's). */
    static final Pattern GPT2_SPLIT = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    // ---- decoding

    private List<String> decodeStep(Step d, List<String> toks) {
        List<String> out = new ArrayList<>();
        switch (d.type()) {
            case "ByteLevel" -> {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                for (String t : toks) bytes.writeBytes(ByteLevel.decode(t));
                out.add(bytes.toString(StandardCharsets.UTF_8));
            }
            case "Replace" -> { for (String t : toks) out.add(replace(d, t)); }
            case "Fuse" -> out.add(String.join("", toks));
            case "Strip" -> {
                String content = string(d.json().get("content"), d.where() + ".content");
                int start = id(d.json().get("start"), d.where() + ".start"), stop = id(d.json().get("stop"), d.where() + ".stop");
                for (String t : toks) {
                    int s = 0, e = t.length();
                    for (int i = 0; i < start && t.startsWith(content, s) && s < e; i++) s += content.length();
                    for (int i = 0; i < stop && e - content.length() >= s && t.startsWith(content, e - content.length()); i++) e -= content.length();
                    out.add(t.substring(s, e));
                }
            }
            case "Metaspace" -> {
                String rep = string(d.json().get("replacement"), d.where() + ".replacement");
                boolean prepended = !"never".equals(d.json().get("prepend_scheme")) && !Boolean.FALSE.equals(d.json().get("add_prefix_space"));
                for (int i = 0; i < toks.size(); i++) {
                    String t = toks.get(i).replace(rep, " ");
                    out.add(i == 0 && prepended && t.startsWith(" ") ? t.substring(1) : t);
                }
            }
            default -> { // ByteFallback: runs of <0xNN> tokens become their UTF-8 text, or one U+FFFD per byte when not valid UTF-8
                ByteArrayOutputStream run = new ByteArrayOutputStream();
                for (String t : toks) {
                    if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">") && t.substring(3, 5).matches("[0-9A-Fa-f]{2}")) {
                        run.write(Integer.parseInt(t.substring(3, 5), 16));
                        continue;
                    }
                    flushBytes(run, out);
                    out.add(t);
                }
                flushBytes(run, out);
            }
        }
        return out;
    }

    private static void flushBytes(ByteArrayOutputStream run, List<String> out) {
        if (run.size() == 0) return;
        byte[] b = run.toByteArray();
        run.reset();
        try {
            out.add(StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString());
        } catch (java.nio.charset.CharacterCodingException e) {
            out.add("\uFFFD".repeat(b.length));
        }
    }

    private String replace(Step s, String text) {
        String content = string(s.json().get("content"), s.where() + ".content");
        return s.pattern() == null ? text : s.pattern().matcher(text).replaceAll(Matcher.quoteReplacement(content));
    }

    // ---- the file's structure

    /** A normalizer, pre-tokenizer or decoder: null, one of {@code supported}, or a Sequence of them (flattened). */
    private List<Step> steps(Object o, String where, String sequenceKey, List<String> supported) {
        List<Step> out = new ArrayList<>();
        if (o == null) return out;
        Map<String, Object> m = object(o, where);
        String type = string(m.get("type"), where + ".type");
        if (type.equals("Sequence")) {
            if (!(m.get(sequenceKey) instanceof List<?> list)) throw error(where + "." + sequenceKey, "missing");
            for (int i = 0; i < list.size(); i++) out.addAll(steps(list.get(i), where + "." + sequenceKey + "[" + i + "]", sequenceKey, supported));
            return out;
        }
        if (!supported.contains(type)) throw error(where + ".type", type + " is not supported (supported: " + String.join(", ", supported) + ", Sequence)");
        Pattern pattern = null;
        if (type.equals("Split") || type.equals("Replace")) {
            Map<String, Object> pat = object(m.get("pattern"), where + ".pattern");
            if (pat == null) throw error(where + ".pattern", "missing");
            if (pat.get("Regex") instanceof String r) {
                try {
                    pattern = Pattern.compile(r, Pattern.UNICODE_CHARACTER_CLASS);
                } catch (java.util.regex.PatternSyntaxException e) {
                    throw error(where + ".pattern.Regex", "not a regular expression Java reads: " + e.getDescription());
                }
            } else if (pat.get("String") instanceof String s) pattern = Pattern.compile(Pattern.quote(s));
            else throw error(where + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
        }
        if (type.equals("Split")) {
            if (!"Isolated".equals(m.get("behavior"))) throw error(where + ".behavior", m.get("behavior") + " is not supported (Isolated only)");
            if (Boolean.TRUE.equals(m.get("invert"))) throw error(where + ".invert", "true is not supported");
        }
        return List.of(new Step(type, m, pattern, where));
    }

    /** The ids a post-processor adds before and after a single sequence: none (ByteLevel), or a TemplateProcessing's single template. */
    private int[][] postProcessor(Map<String, Object> p) {
        int[][] none = {new int[0], new int[0]};
        if (p == null) return none;
        String type = string(p.get("type"), "post_processor.type");
        if (type.equals("ByteLevel")) return none;
        if (!type.equals("TemplateProcessing")) throw error("post_processor.type", type + " is not supported (ByteLevel, TemplateProcessing)");
        if (!(p.get("single") instanceof List<?> single)) throw error("post_processor.single", "missing");
        Map<String, Object> specials = object(p.get("special_tokens"), "post_processor.special_tokens");
        List<Integer> before = new ArrayList<>(), after = new ArrayList<>();
        boolean seen = false;
        for (int i = 0; i < single.size(); i++) {
            String where = "post_processor.single[" + i + "]";
            Map<String, Object> item = object(single.get(i), where);
            if (item.containsKey("Sequence")) { seen = true; continue; }
            Map<String, Object> st = object(item.get("SpecialToken"), where + ".SpecialToken");
            if (st == null) throw error(where, "expected Sequence or SpecialToken");
            String name = string(st.get("id"), where + ".SpecialToken.id");
            Map<String, Object> entry = specials == null ? null : object(specials.get(name), "post_processor.special_tokens." + name);
            if (entry == null || !(entry.get("ids") instanceof List<?> ids)) throw error("post_processor.special_tokens." + name, "missing");
            for (Object id : ids) (seen ? after : before).add(id(id, "post_processor.special_tokens." + name + ".ids"));
        }
        return new int[][] {before.stream().mapToInt(Integer::intValue).toArray(), after.stream().mapToInt(Integer::intValue).toArray()};
    }

    private static long key(int left, int right) { return (long) left << 32 | (right & 0xffffffffL); }

    private IllegalArgumentException error(String field, String what) { return new IllegalArgumentException(source + ": " + field + ": " + what); }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }

    private Map<String, Object> object(Object o, String field) {
        if (o == null) return null;
        if (!(o instanceof Map<?, ?> m)) throw error(field, "expected an object");
        return cast(m);
    }

    private String string(Object o, String field) {
        if (!(o instanceof String s)) throw error(field, o == null ? "missing" : "expected a string, got " + o);
        return s;
    }

    private int id(Object o, String field) {
        if (!(o instanceof Long l) || l < 0 || l > Integer.MAX_VALUE) throw error(field, "expected a non-negative integer, got " + o);
        return (int) (long) l;
    }
}
