package org.tessel.runtime.llm.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.ir.io.Json;

/**
 * A Hugging Face {@code tokenizer.json}, run as the {@code tokenizers} library runs it: added tokens that are not
 * normalized are cut out of the text first (longest match, {@code lstrip}/{@code rstrip} absorbing white space); each
 * other segment is normalized, cut again at normalized added tokens, pre-tokenized into pieces, and each piece becomes
 * ids by the model; the post-processor adds special tokens around the sequence. Decoding maps ids back to token strings
 * and runs the decoder chain (tokens joined by spaces when there is none).
 *
 * <p>Supported: models {@code BPE} (byte-level as GPT-2/Llama-3, SentencePiece-style as Llama-2 with {@code <0xNN>}
 * byte fallback), {@code WordPiece} (BERT) and {@code Unigram} (T5, ALBERT, XLNet: Viterbi over scored pieces, byte
 * fallback); normalizers {@code BertNormalizer}, {@code Lowercase}, {@code StripAccents}, {@code NFC}/{@code NFD}/
 * {@code NFKC}/{@code NFKD}, {@code Strip}, {@code Replace}, {@code Prepend}, {@code Nmt}, {@code Precompiled}
 * (SentencePiece's charsmap); pre-tokenizers {@code ByteLevel}, {@code Split}, {@code Metaspace},
 * {@code BertPreTokenizer}, {@code Whitespace}, {@code WhitespaceSplit}, {@code Punctuation}, {@code Digits},
 * {@code CharDelimiterSplit}; post-processors {@code TemplateProcessing} (single sequence), {@code BertProcessing},
 * {@code RobertaProcessing}, {@code ByteLevel}; decoders {@code ByteLevel}, {@code Replace}, {@code ByteFallback},
 * {@code Fuse}, {@code Strip}, {@code Metaspace}, {@code WordPiece}, {@code BPEDecoder}, {@code CTC}; and
 * {@code Sequence} of each. Anything else is refused naming the file and the field's JSON path.
 */
public final class Tokenizer {
    private final Fields f;
    private final Model model;
    private final String[] tokens;          // id -> token string (model vocabulary, then added tokens over it)
    private final List<AddedToken> raw, normalizedAdded;  // each longest content first
    private final Set<String> specials;     // contents of special added tokens (decode's skip test, as the library's)
    private final List<Step> normalizers, preTokenizers, decoders;
    private final boolean hasDecoder, prependFirst;
    private final int[] prefix, suffix;     // the post-processor's tokens around a single sequence

    /** An added token; {@code match} is what is looked for: the content, or for a normalized token its normalized form. */
    record AddedToken(int id, String content, String match, boolean special, boolean lstrip, boolean rstrip) {}

    /** One normalizer, pre-tokenizer or decoder of the file: its JSON object, its compiled pattern or charsmap, and its JSON path. */
    private record Step(String type, Map<String, Object> json, Pattern pattern, PrecompiledCharsmap charsmap, String where) {}

    /** A piece of text between pipeline stages; {@code atOrigin}: it starts at offset 0 of the original text (Metaspace's "first"). */
    private record Piece(String text, boolean atOrigin) {}

    private static final List<String> NORMALIZERS = List.of("BertNormalizer", "Lowercase", "StripAccents", "NFC", "NFD", "NFKC", "NFKD", "Strip", "Replace",
            "Prepend", "Nmt", "Precompiled");
    private static final List<String> PRE_TOKENIZERS = List.of("ByteLevel", "Split", "Metaspace", "BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation",
            "Digits", "CharDelimiterSplit");
    private static final List<String> DECODERS = List.of("ByteLevel", "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace", "WordPiece", "BPEDecoder", "CTC");
    private static final List<String> BEHAVIORS = List.of("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous");

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
        return new Tokenizer(Fields.cast(root), new Fields(source));
    }

    private Tokenizer(Map<String, Object> root, Fields f) {
        this.f = f;
        model = Model.of(f.required(root.get("model"), "model"), f);
        normalizers = steps(root.get("normalizer"), "normalizer", "normalizers", NORMALIZERS);
        preTokenizers = steps(root.get("pre_tokenizer"), "pre_tokenizer", "pretokenizers", PRE_TOKENIZERS);
        decoders = steps(root.get("decoder"), "decoder", "decoders", DECODERS);
        hasDecoder = root.get("decoder") != null;
        prependFirst = preTokenizers.stream().anyMatch(s -> s.type().equals("Metaspace") && "first".equals(s.json().get("prepend_scheme")));

        List<AddedToken> rawTokens = new ArrayList<>(), normTokens = new ArrayList<>();
        specials = new HashSet<>();
        String[] modelTokens = model.tokens();
        int size = modelTokens.length;
        if (root.get("added_tokens") instanceof List<?> list)
            for (int i = 0; i < list.size(); i++) {
                String where = "added_tokens[" + i + "]";
                Map<String, Object> a = f.required(list.get(i), where);
                if (f.bool(a.get("single_word"), where + ".single_word", false)) throw f.error(where + ".single_word", "true is not supported");
                String content = f.string(a.get("content"), where + ".content");
                boolean special = f.bool(a.get("special"), where + ".special", false);
                boolean normalized = f.bool(a.get("normalized"), where + ".normalized", !special);
                String match = normalized ? normalize(content) : content;
                AddedToken t = new AddedToken(f.id(a.get("id"), where + ".id"), content, match, special,
                        f.bool(a.get("lstrip"), where + ".lstrip", false), f.bool(a.get("rstrip"), where + ".rstrip", false));
                (normalized ? normTokens : rawTokens).add(t);
                if (special) specials.add(content);
                size = Math.max(size, t.id() + 1);
            }
        Comparator<AddedToken> longestFirst = Comparator.comparingInt(a -> -a.match().length());
        rawTokens.sort(longestFirst);
        normTokens.sort(longestFirst);
        raw = List.copyOf(rawTokens);
        normalizedAdded = List.copyOf(normTokens);
        tokens = java.util.Arrays.copyOf(modelTokens, size);
        for (AddedToken a : raw) tokens[a.id()] = a.content();
        for (AddedToken a : normalizedAdded) tokens[a.id()] = a.content();
        int[][] around = postProcessor(f.object(root.get("post_processor"), "post_processor"), "post_processor");
        prefix = around[0];
        suffix = around[1];
    }

    /** The file this tokenizer was read from. */
    public String source() { return f.source(); }

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
        cutAdded(text, raw, ids, (segment, start) -> {
            String normalized = normalize(segment);
            boolean leadingKept = start == 0 && (!prependFirst || !normalize(Character.toString(segment.codePointAt(0))).isEmpty());
            cutAdded(normalized, normalizedAdded, ids, (s, at) -> encodePieces(new Piece(s, leadingKept && at == 0), ids));
        });
        if (addSpecialTokens) for (int id : suffix) ids.add(id);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The text of {@code ids}, special tokens included; the decoder chain's output (byte-level: the exact text encoded). */
    public String decode(int[] ids) { return decode(ids, false); }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> toks = new ArrayList<>();
        for (int id : ids) {
            checkId(id);
            if (skipSpecialTokens && specials.contains(tokens[id])) continue;
            toks.add(tokens[id]);
        }
        if (!hasDecoder) return String.join(" ", toks);
        for (Step d : decoders) toks = decodeStep(d, toks);
        return String.join("", toks);
    }

    /** One line: the file, the model, the ids and added tokens. */
    public String describe() {
        return String.format("tokenizer: %s (%s, %d ids, %d added tokens)", source(), model.describe(), vocabSize(), raw.size() + normalizedAdded.size());
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null)
            throw new IllegalArgumentException("token id " + id + " is not in the tokenizer " + source() + " (" + tokens.length + " ids)");
    }

    // ---- encoding

    private interface Segment { void accept(String text, int start); }

    /** Cuts {@code text} at the added tokens of {@code among}: their ids go to {@code ids}, the text between them to {@code rest} with its offset. */
    private static void cutAdded(String text, List<AddedToken> among, List<Integer> ids, Segment rest) {
        int start = 0;
        while (start <= text.length()) {
            int[] match = nextAdded(text, start, among);  // {token index, match start, match end} or null
            int end = match == null ? text.length() : match[1];
            if (end > start) rest.accept(text.substring(start, end), start);
            if (match == null) break;
            ids.add(among.get(match[0]).id());
            start = match[2];
        }
    }

    private static int[] nextAdded(String text, int from, List<AddedToken> among) {
        for (int i = from; i < text.length(); i++)
            for (int t = 0; t < among.size(); t++) {
                AddedToken a = among.get(t);
                if (!a.match().isEmpty() && text.startsWith(a.match(), i)) {
                    int s = i, e = i + a.match().length();
                    if (a.lstrip()) while (s > from && CharClasses.whiteSpace(text.codePointBefore(s))) s = text.offsetByCodePoints(s, -1);
                    if (a.rstrip()) while (e < text.length() && CharClasses.whiteSpace(text.codePointAt(e))) e = text.offsetByCodePoints(e, 1);
                    return new int[] {t, s, e};
                }
            }
        return null;
    }

    private void encodePieces(Piece segment, List<Integer> ids) {
        List<Piece> pieces = List.of(segment);
        for (Step p : preTokenizers) pieces = preTokenize(p, pieces);
        for (Piece piece : pieces)
            if (!piece.text().isEmpty()) model.tokenize(piece.text(), ids);
    }

    private String normalize(String text) {
        for (Step n : normalizers) text = normalize(n, text);
        return text;
    }

    private String normalize(Step n, String text) {
        Map<String, Object> j = n.json();
        return switch (n.type()) {
            case "BertNormalizer" -> bertNormalize(n, text);
            case "Lowercase" -> CharClasses.lowercase(text);
            case "StripAccents" -> filter(text, c -> !CharClasses.mark(c));
            case "Prepend" -> text.isEmpty() ? text : f.string(j.get("prepend"), n.where() + ".prepend") + text;
            case "Replace" -> replace(n, text);
            case "NFC" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFC);
            case "NFD" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD);
            case "NFKC" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKC);
            case "NFKD" -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKD);
            case "Strip" -> {
                int s = 0, e = text.length();
                if (f.bool(j.get("strip_left"), n.where() + ".strip_left", false))
                    while (s < e && CharClasses.whiteSpace(text.codePointAt(s))) s = text.offsetByCodePoints(s, 1);
                if (f.bool(j.get("strip_right"), n.where() + ".strip_right", false))
                    while (e > s && CharClasses.whiteSpace(text.codePointBefore(e))) e = text.offsetByCodePoints(e, -1);
                yield text.substring(s, e);
            }
            case "Nmt" -> nmt(text);
            default -> n.charsmap().normalize(text);  // Precompiled
        };
    }

    /** BertNormalizer: control characters dropped and white space made ' ' (clean_text), spaces around CJK ideographs, accents stripped (NFD, then no Mn), lowercase. */
    private String bertNormalize(Step n, String text) {
        Map<String, Object> j = n.json();
        boolean lowercase = f.bool(j.get("lowercase"), n.where() + ".lowercase", true);
        if (f.bool(j.get("clean_text"), n.where() + ".clean_text", true)) {
            StringBuilder b = new StringBuilder(text.length());
            text.codePoints().forEach(c -> {
                boolean control = c != '\t' && c != '\n' && c != '\r' && CharClasses.other(c);
                if (c == 0 || c == 0xFFFD || control) return;
                b.appendCodePoint(CharClasses.whiteSpace(c) ? ' ' : c);
            });
            text = b.toString();
        }
        if (f.bool(j.get("handle_chinese_chars"), n.where() + ".handle_chinese_chars", true)) {
            StringBuilder b = new StringBuilder(text.length());
            text.codePoints().forEach(c -> {
                if (CharClasses.chinese(c)) b.append(' ').appendCodePoint(c).append(' ');
                else b.appendCodePoint(c);
            });
            text = b.toString();
        }
        if (f.bool(j.get("strip_accents"), n.where() + ".strip_accents", lowercase))
            text = filter(java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD), c -> !CharClasses.nonspacingMark(c));
        return lowercase ? CharClasses.lowercase(text) : text;
    }

    /** SentencePiece's nmt normalization: some control characters dropped, some others made ' '. */
    private static String nmt(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (c >= 0x01 && c <= 0x08 || c == 0x0B || c >= 0x0E && c <= 0x1F || c == 0x7F || c == 0x8F || c == 0x9F) return;
            boolean space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 || c >= 0x200B && c <= 0x200F || c == 0x2028 || c == 0x2029
                    || c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
            b.appendCodePoint(space ? ' ' : c);
        });
        return b.toString();
    }

    private static String filter(String text, IntPredicate keep) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().filter(keep).forEach(b::appendCodePoint);
        return b.toString();
    }

    private List<Piece> preTokenize(Step p, List<Piece> pieces) {
        List<Piece> out = new ArrayList<>();
        Map<String, Object> j = p.json();
        for (Piece piece : pieces) {
            String s = piece.text();
            switch (p.type()) {
                case "ByteLevel" -> {
                    if (f.bool(j.get("add_prefix_space"), p.where() + ".add_prefix_space", false) && !s.startsWith(" ")) s = " " + s;
                    List<Piece> split = f.bool(j.get("use_regex"), p.where() + ".use_regex", true)
                            ? split(new Piece(s, piece.atOrigin()), matches(GPT2_SPLIT, s), "Isolated") : List.of(new Piece(s, piece.atOrigin()));
                    for (Piece q : split) out.add(new Piece(ByteLevel.encode(q.text()), q.atOrigin()));
                }
                case "Split" -> {
                    out.addAll(split(piece, matches(p.pattern(), s), f.bool(j.get("invert"), p.where() + ".invert", false), behavior(p)));
                }
                case "Metaspace" -> {
                    int rep = f.character(j.get("replacement"), p.where() + ".replacement");
                    String r = Character.toString(rep);
                    s = s.replace(" ", r);
                    String scheme = prependScheme(p);
                    if (!s.startsWith(r) && (scheme.equals("always") || scheme.equals("first") && piece.atOrigin())) s = r + s;
                    Piece q = new Piece(s, piece.atOrigin());
                    if (f.bool(j.get("split"), p.where() + ".split", true)) out.addAll(split(q, chars(s, c -> c == rep), "MergedWithNext"));
                    else out.add(q);
                }
                case "BertPreTokenizer" -> {
                    for (Piece q : split(piece, chars(s, CharClasses::whiteSpace), "Removed"))
                        out.addAll(split(q, chars(q.text(), CharClasses::punctuation), "Isolated"));
                }
                case "Whitespace" -> out.addAll(split(piece, matches(WORDS, s), true, "Removed"));
                case "WhitespaceSplit" -> out.addAll(split(piece, chars(s, CharClasses::whiteSpace), "Removed"));
                case "Punctuation" -> out.addAll(split(piece, chars(s, CharClasses::punctuation), behavior(p)));
                case "Digits" -> out.addAll(split(piece, chars(s, CharClasses::numeric),
                        f.bool(j.get("individual_digits"), p.where() + ".individual_digits", false) ? "Isolated" : "Contiguous"));
                default -> { // CharDelimiterSplit
                    int d = f.character(j.get("delimiter"), p.where() + ".delimiter");
                    out.addAll(split(piece, chars(s, c -> c == d), "Removed"));
                }
            }
        }
        return out;
    }

    private String prependScheme(Step p) {
        Object scheme = p.json().get("prepend_scheme");
        if (scheme == null) return f.bool(p.json().get("add_prefix_space"), p.where() + ".add_prefix_space", true) ? "always" : "never";
        String s = f.string(scheme, p.where() + ".prepend_scheme");
        if (!List.of("always", "first", "never").contains(s)) throw f.error(p.where() + ".prepend_scheme", "'" + s + "' is not always, first or never");
        return s;
    }

    private String behavior(Step p) {
        Object b = p.json().get("behavior");
        if (b == null) return "Isolated";
        String s = f.string(b, p.where() + ".behavior");
        if (!BEHAVIORS.contains(s)) throw f.error(p.where() + ".behavior", "'" + s + "' is not supported (supported: " + String.join(", ", BEHAVIORS) + ")");
        return s;
    }

    /** The non-empty matches of a regex, as {start, end}. */
    private static List<int[]> matches(Pattern p, String s) {
        List<int[]> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        while (m.find()) if (m.end() > m.start()) out.add(new int[] {m.start(), m.end()});
        return out;
    }

    /** Each character that {@code is} accepts, as its own match (the library's char-predicate pattern). */
    private static List<int[]> chars(String s, IntPredicate is) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i), n = i + Character.charCount(c);
            if (is.test(c)) out.add(new int[] {i, n});
            i = n;
        }
        return out;
    }

    /**
     * A piece split at {@code matches} (sorted, disjoint) with the library's delimiter behaviour: Removed drops the
     * matches, Isolated keeps each alone, MergedWithPrevious/MergedWithNext glue each to the text before/after it,
     * Contiguous keeps runs of adjacent matches together. Empty pieces are dropped.
     */
    private static List<Piece> split(Piece piece, List<int[]> matches, String behavior) { return split(piece, matches, false, behavior); }

    /** As above; {@code invert}: the text between the matches is what is split on, each match kept whole (the library's Invert pattern). */
    private static List<Piece> split(Piece piece, List<int[]> matches, boolean invert, String behavior) {
        String s = piece.text();
        int in = invert ? 0 : 1, out = 1 - in;
        List<int[]> events = new ArrayList<>();  // {start, end, 1 if a match}, covering s
        int last = 0;
        for (int[] m : matches) {
            if (m[0] > last) events.add(new int[] {last, m[0], out});
            events.add(new int[] {m[0], m[1], in});
            last = m[1];
        }
        if (last < s.length() || events.isEmpty()) events.add(new int[] {last, s.length(), out});
        List<int[]> spans = new ArrayList<>();  // {start, end}
        switch (behavior) {
            case "Removed" -> { for (int[] e : events) if (e[2] == 0) spans.add(new int[] {e[0], e[1]}); }
            case "Isolated" -> { for (int[] e : events) spans.add(new int[] {e[0], e[1]}); }
            case "Contiguous" -> {
                boolean previous = false;
                for (int[] e : events) {
                    if ((e[2] == 1) == previous && !spans.isEmpty()) spans.getLast()[1] = e[1];
                    else spans.add(new int[] {e[0], e[1]});
                    previous = e[2] == 1;
                }
            }
            case "MergedWithPrevious" -> {
                boolean previous = false;
                for (int[] e : events) {
                    if (e[2] == 1 && !previous && !spans.isEmpty()) spans.getLast()[1] = e[1];
                    else spans.add(new int[] {e[0], e[1]});
                    previous = e[2] == 1;
                }
            }
            default -> { // MergedWithNext
                boolean next = false;
                for (int k = events.size() - 1; k >= 0; k--) {
                    int[] e = events.get(k);
                    if (e[2] == 1 && !next && !spans.isEmpty()) spans.getFirst()[0] = e[0];
                    else spans.addFirst(new int[] {e[0], e[1]});
                    next = e[2] == 1;
                }
            }
        }
        List<Piece> pieces = new ArrayList<>();
        for (int[] sp : spans) if (sp[1] > sp[0]) pieces.add(new Piece(s.substring(sp[0], sp[1]), piece.atOrigin() && sp[0] == 0));
        return pieces;
    }

    /** GPT-2's pre-tokenizer regex, as the ByteLevel pre-tokenizer's use_regex applies it (\s as Unicode white space, as Oniguruma's). */
    static final Pattern GPT2_SPLIT = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    /** The Whitespace pre-tokenizer's regex: its matches are the pieces, the rest (white space) is dropped. */
    private static final Pattern WORDS = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    // ---- decoding

    private List<String> decodeStep(Step d, List<String> toks) {
        List<String> out = new ArrayList<>();
        Map<String, Object> j = d.json();
        switch (d.type()) {
            case "ByteLevel" -> {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                for (String t : toks) bytes.writeBytes(ByteLevel.decode(t));
                out.add(bytes.toString(StandardCharsets.UTF_8));
            }
            case "Replace" -> { for (String t : toks) out.add(replace(d, t)); }
            case "Fuse" -> out.add(String.join("", toks));
            case "Strip" -> {
                int content = f.character(j.get("content"), d.where() + ".content");
                int start = f.id(j.get("start"), d.where() + ".start"), stop = f.id(j.get("stop"), d.where() + ".stop");
                for (String t : toks) {
                    int[] cs = t.codePoints().toArray();
                    int s = 0, e = cs.length;
                    for (int i = 0; i < start && i < cs.length && cs[i] == content; i++) s = i + 1;
                    for (int i = 0; i < stop && cs.length - i - 1 >= 0 && cs[cs.length - i - 1] == content; i++) e = cs.length - i - 1;
                    out.add(s >= e ? "" : new String(cs, s, e - s));
                }
            }
            case "Metaspace" -> {
                String rep = Character.toString(f.character(j.get("replacement"), d.where() + ".replacement"));
                boolean prepended = !prependScheme(d).equals("never");
                for (int i = 0; i < toks.size(); i++) out.add(toks.get(i).replace(rep, i == 0 && prepended ? "" : " "));
            }
            case "WordPiece" -> {
                String pre = f.string(j.get("prefix"), d.where() + ".prefix");
                boolean cleanup = f.bool(j.get("cleanup"), d.where() + ".cleanup", true);
                for (int i = 0; i < toks.size(); i++) {
                    String t = toks.get(i);
                    if (i != 0) t = t.startsWith(pre) ? t.substring(pre.length()) : " " + t;
                    out.add(cleanup ? cleanup(t) : t);
                }
            }
            case "BPEDecoder" -> {
                String suffixText = f.string(j.get("suffix"), d.where() + ".suffix");
                for (int i = 0; i < toks.size(); i++) out.add(toks.get(i).replace(suffixText, i == toks.size() - 1 ? "" : " "));
            }
            case "CTC" -> {
                String pad = f.string(j.get("pad_token"), d.where() + ".pad_token"), delimiter = f.string(j.get("word_delimiter_token"), d.where() + ".word_delimiter_token");
                boolean cleanup = f.bool(j.get("cleanup"), d.where() + ".cleanup", true);
                for (int i = 0; i < toks.size(); i++) {
                    if (i > 0 && toks.get(i).equals(toks.get(i - 1))) continue;  // repeats collapse, as CTC's alignment
                    String t = toks.get(i).replace(pad, "");
                    if (cleanup) t = cleanup(t).replace(delimiter, " ");
                    if (!t.isEmpty()) out.add(t);
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

    /** The WordPiece decoder's clean-up of tokenization spaces (BERT's, " do not" included). */
    private static String cleanup(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'").replace(" n't", "n't")
                .replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
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
        String content = f.string(s.json().get("content"), s.where() + ".content");
        return s.pattern().matcher(text).replaceAll(Matcher.quoteReplacement(content));
    }

    // ---- the file's structure

    /** A normalizer, pre-tokenizer or decoder: null, one of {@code supported}, or a Sequence of them (flattened). */
    private List<Step> steps(Object o, String where, String sequenceKey, List<String> supported) {
        List<Step> out = new ArrayList<>();
        if (o == null) return out;
        Map<String, Object> m = f.required(o, where);
        String type = f.string(m.get("type"), where + ".type");
        if (type.equals("Sequence")) {
            if (!(m.get(sequenceKey) instanceof List<?> list)) throw f.error(where + "." + sequenceKey, "missing");
            for (int i = 0; i < list.size(); i++) out.addAll(steps(list.get(i), where + "." + sequenceKey + "[" + i + "]", sequenceKey, supported));
            return out;
        }
        if (!supported.contains(type)) throw f.error(where + ".type", "'" + type + "' is not supported (supported: " + String.join(", ", supported) + ", Sequence)");
        Pattern pattern = null;
        if (type.equals("Split") || type.equals("Replace")) {
            Map<String, Object> pat = f.required(m.get("pattern"), where + ".pattern");
            if (pat.get("Regex") instanceof String r) {
                try {
                    pattern = Pattern.compile(r, Pattern.UNICODE_CHARACTER_CLASS);
                } catch (java.util.regex.PatternSyntaxException e) {
                    throw f.error(where + ".pattern.Regex", "not a regular expression Java reads: " + e.getDescription());
                }
            } else if (pat.get("String") instanceof String s) pattern = Pattern.compile(Pattern.quote(s));
            else throw f.error(where + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
        }
        PrecompiledCharsmap charsmap = null;
        if (type.equals("Precompiled")) {
            String field = where + ".precompiled_charsmap";
            charsmap = PrecompiledCharsmap.parse(f.string(m.get("precompiled_charsmap"), field), what -> f.error(field, what));
        }
        Step step = new Step(type, m, pattern, charsmap, where);
        if (type.equals("Split")) behavior(step);
        if (type.equals("Metaspace")) prependScheme(step);
        return List.of(step);
    }

    /** The ids a post-processor adds before and after a single sequence. */
    private int[][] postProcessor(Map<String, Object> p, String where) {
        if (p == null) return new int[][] {new int[0], new int[0]};
        String type = f.string(p.get("type"), where + ".type");
        return switch (type) {
            case "ByteLevel" -> new int[][] {new int[0], new int[0]};
            case "BertProcessing", "RobertaProcessing" ->
                    new int[][] {{f.tokenPair(p.get("cls"), where + ".cls")}, {f.tokenPair(p.get("sep"), where + ".sep")}};
            case "TemplateProcessing" -> template(p, where);
            case "Sequence" -> {
                if (!(p.get("processors") instanceof List<?> list)) throw f.error(where + ".processors", "missing");
                List<Integer> before = new ArrayList<>(), after = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    int[][] one = postProcessor(f.required(list.get(i), where + ".processors[" + i + "]"), where + ".processors[" + i + "]");
                    for (int id : one[0]) before.add(id);
                    for (int id : one[1]) after.add(id);
                }
                yield new int[][] {before.stream().mapToInt(Integer::intValue).toArray(), after.stream().mapToInt(Integer::intValue).toArray()};
            }
            default -> throw f.error(where + ".type", "'" + type + "' is not supported (supported: ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)");
        };
    }

    /** A TemplateProcessing's single-sequence template: its special tokens' ids before and after the sequence. */
    private int[][] template(Map<String, Object> p, String where) {
        if (!(p.get("single") instanceof List<?> single)) throw f.error(where + ".single", "missing");
        Map<String, Object> specialTokens = f.object(p.get("special_tokens"), where + ".special_tokens");
        List<Integer> before = new ArrayList<>(), after = new ArrayList<>();
        boolean seen = false;
        for (int i = 0; i < single.size(); i++) {
            String at = where + ".single[" + i + "]";
            Map<String, Object> item = f.required(single.get(i), at);
            if (item.containsKey("Sequence")) {
                seen = true;
                continue;
            }
            Map<String, Object> st = f.object(item.get("SpecialToken"), at + ".SpecialToken");
            if (st == null) throw f.error(at, "expected Sequence or SpecialToken");
            String name = f.string(st.get("id"), at + ".SpecialToken.id");
            String entryWhere = where + ".special_tokens." + name;
            Map<String, Object> entry = specialTokens == null ? null : f.object(specialTokens.get(name), entryWhere);
            if (entry == null || !(entry.get("ids") instanceof List<?> ids)) throw f.error(entryWhere, "missing");
            for (Object id : ids) (seen ? after : before).add(f.id(id, entryWhere + ".ids"));
        }
        return new int[][] {before.stream().mapToInt(Integer::intValue).toArray(), after.stream().mapToInt(Integer::intValue).toArray()};
    }
}
