package org.tessel.runtime.llm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * WordPiece and Unigram tokenizers against hand-made fixtures whose ids follow from the algorithms (each expectation says
 * why). wordpiece.json is BERT-style: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, the 5, un 6, ##aff 7, ##able 8, a 9,
 * ##b 10, ',' 11, ! 12, cafe 13, hello 14, 中 15, ##s 16, . 17, ' 18, t 19, don 20, do 21, not 22; lowercasing
 * BertNormalizer, BertPreTokenizer, max_input_chars_per_word 10, BertProcessing, WordPiece decoder. unigram.json is
 * T5-style (NFKC, Metaspace, "&lt;/s&gt;" appended, byte fallback), pieces with scores: &lt;pad&gt; 0, &lt;/s&gt; 1,
 * &lt;unk&gt; 2 (0.0 each), ▁ 3 (-2), ▁hello 4 (-3), ▁he 5 (-2.5), llo 6 (-2.5), ▁world 7 (-4), ▁a 8 (-2), ab 9 (-1),
 * b 10 (-1), &lt;0xC3&gt; 11 and &lt;0xA9&gt; 12 (-20; so the unk score is -30).
 */
class WordPieceUnigramTest {
    private static Tokenizer fixture(String name) throws Exception { return Tokenizer.load(TokenizerTest.fixture(name)); }

    @Test
    void wordPieceIsGreedyLongestMatchFirst() throws Exception {
        Tokenizer t = fixture("wordpiece.json");
        // lowercased; "unaffable": "un" is the longest prefix in the vocabulary, then ##aff, ##able; ',' and '!' are pieces of their own
        assertArrayEquals(new int[] {2, 6, 7, 8, 11, 14, 12, 3}, t.encode("Unaffable, HELLO!"));
        // "ab": a ##b; "abc": a ##b and then no "##c", so the whole word is [UNK] (not a ##b [UNK])
        assertArrayEquals(new int[] {9, 10}, t.encode("ab", false));
        assertArrayEquals(new int[] {1}, t.encode("abc", false));
        // 11 characters > max_input_chars_per_word 10: [UNK] without trying; 10 'a's are tried, and fail at the second 'a'
        assertArrayEquals(new int[] {1}, t.encode("aaaaaaaaaaa", false));
        assertArrayEquals(new int[] {1, 9, 10}, t.encode("aaaaaaaaaa ab", false));
    }

    @Test
    void bertNormalizerCleansSplitsCjkAndStripsAccents() throws Exception {
        Tokenizer t = fixture("wordpiece.json");
        // é loses its accent (strip_accents follows lowercase); 中 and 文 get spaces around them; 文 is not in the vocabulary
        assertArrayEquals(new int[] {13, 15, 1}, t.encode("Café中文", false));
        // NUL and U+FFFD are dropped, a no-break space and a tab are white space
        assertArrayEquals(new int[] {14, 5}, t.encode("hel\u0000lo\uFFFD\u00a0\tthe", false));
        // the added token [MASK] is cut out before normalization (it would be lowercased otherwise)
        assertArrayEquals(new int[] {14, 4, 5}, t.encode("hello [MASK] the", false));
        assertArrayEquals(new int[] {2, 3}, t.encode(""));
    }

    @Test
    void wordPieceDecoderJoinsContinuationsAndCleansUp() throws Exception {
        Tokenizer t = fixture("wordpiece.json");
        int[] ids = {2, 6, 7, 8, 11, 14, 12, 3};
        // "##" pieces glue to the previous one, others get a space; " ," and " !" are cleaned up
        assertEquals("unaffable, hello!", t.decode(ids, true));
        assertEquals("[CLS] unaffable, hello! [SEP]", t.decode(ids));
        // clean-up is per token, as the library's: " '" alone is not " ' ", so the spaces stay
        assertArrayEquals(new int[] {20, 18, 19}, t.encode("don't", false));
        assertEquals("don ' t", t.decode(new int[] {20, 18, 19}));
    }

    @Test
    void unigramViterbiPicksTheBestScoringSegmentation() throws Exception {
        Tokenizer t = fixture("unigram.json");
        // "▁hello": ▁hello (-3) beats ▁he llo (-5); "</s>" appended by the template
        assertArrayEquals(new int[] {4, 7, 1}, t.encode("hello world"));
        // two spaces: "▁hello▁▁world" splits before each ▁: ▁hello, ▁, ▁world
        assertArrayEquals(new int[] {4, 3, 7}, t.encode("hello  world", false));
        // "▁ab": ▁ ab and ▁a b both score -3; the path found first (ab, ending at 3 from position 1) is kept
        assertArrayEquals(new int[] {3, 9}, t.encode("ab", false));
        // NFKC folds full-width letters
        assertArrayEquals(new int[] {4}, t.encode("ｈｅｌｌｏ", false));
        assertArrayEquals(new int[] {1}, t.encode(""));
    }

    @Test
    void unigramUnknownsFuseAndFallBackToBytes() throws Exception {
        Tokenizer t = fixture("unigram.json");
        // é has no piece: an unk node; with byte_fallback its UTF-8 bytes C3 A9 are both in the vocabulary
        assertArrayEquals(new int[] {3, 11, 12}, t.encode("é", false));
        // q has no piece and <0x71> is missing: unk; "qq" is one fused unk; "qé" fuses too and falls to unk as a whole
        assertArrayEquals(new int[] {3, 2}, t.encode("q", false));
        assertArrayEquals(new int[] {3, 2}, t.encode("qq", false));
        assertArrayEquals(new int[] {3, 2}, t.encode("qé", false));
        assertArrayEquals(new int[] {3, 2, 4}, t.encode("qq hello", false));
        // decoding: the bytes back to é, the leading ▁ dropped by the Metaspace decoder, the others spaces
        assertEquals("é", t.decode(new int[] {3, 11, 12, 1}, true));
        assertEquals("hello  world", t.decode(new int[] {4, 3, 7, 1}, true));
        assertEquals("<unk></s>", t.decode(new int[] {3, 2, 1}));
    }

    @Test
    void unigramLatticeAsTheLibrarysOwnExample() {
        // the example of tokenizers' Unigram::encode documentation: "abcdacdxx" -> abcd, a, cd, xx (x unknown, fused)
        String json = """
                {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", 0.0], ["b", 0.0], ["c", 0.0], ["d", 0.0],
                 ["cd", 1.0], ["ab", 2.0], ["abc", 5.0], ["abcd", 10.0]]}}""";
        Tokenizer t = Tokenizer.parse(json, "lattice.json");
        assertArrayEquals(new int[] {8, 1, 5, 0}, t.encode("abcdacdxx"));
        // no decoder: tokens joined by spaces, as the library does
        assertEquals("abcd a cd <unk>", t.decode(new int[] {8, 1, 5, 0}));
    }

    @Test
    void splitBehavioursAsTheLibraryDocumentsThem() {
        // NormalizedString::split's documented example, "the-final--countdown" split on '-', through the Punctuation pre-tokenizer
        List<String> vocab = List.of("[UNK]", "the", "final", "countdown", "-", "--", "the-", "final-", "-final", "-countdown");
        record Case(String behavior, List<String> pieces) {}
        for (Case c : List.of(new Case("Removed", List.of("the", "final", "countdown")),
                new Case("Isolated", List.of("the", "-", "final", "-", "-", "countdown")),
                new Case("MergedWithPrevious", List.of("the-", "final-", "-", "countdown")),
                new Case("MergedWithNext", List.of("the", "-final", "-", "-countdown")),
                new Case("Contiguous", List.of("the", "-", "final", "--", "countdown")))) {
            Tokenizer t = Tokenizer.parse(wordPiece(vocab, "{\"type\": \"Punctuation\", \"behavior\": \"" + c.behavior() + "\"}"), c.behavior() + ".json");
            assertArrayEquals(c.pieces().stream().mapToInt(vocab::indexOf).toArray(), t.encode("the-final--countdown"), c.behavior());
        }
    }

    @Test
    void preTokenizersSplitAsTheLibrarysRules() {
        List<String> vocab = List.of("[UNK]", "hi", "!?", "!", "?", "42", "4", "2", "x", "ab", "_", "a");
        // Whitespace: \w+|[^\w\s]+, so "!?" stays together and digits are word characters
        assertArrayEquals(ids(vocab, "hi", "!?", "42", "x"), Tokenizer.parse(wordPiece(vocab, "{\"type\": \"Whitespace\"}"), "w.json").encode("hi!?  42\tx"));
        // WhitespaceSplit: only white space splits
        assertArrayEquals(ids(vocab, "[UNK]", "x"), Tokenizer.parse(wordPiece(vocab, "{\"type\": \"WhitespaceSplit\"}"), "ws.json").encode("hi!? x"));
        // Digits: runs of digits apart (Contiguous), or each digit alone
        String digits = "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"WhitespaceSplit\"}, {\"type\": \"Digits\", \"individual_digits\": %s}]}";
        assertArrayEquals(ids(vocab, "x", "42", "x"), Tokenizer.parse(wordPiece(vocab, digits.formatted("false")), "d.json").encode("x42x"));
        assertArrayEquals(ids(vocab, "x", "4", "2", "x"), Tokenizer.parse(wordPiece(vocab, digits.formatted("true")), "d.json").encode("x42x"));
        // BertPreTokenizer: '_' is ASCII punctuation, and Unicode white space (U+3000) splits
        assertArrayEquals(ids(vocab, "a", "_", "a", "hi"), Tokenizer.parse(wordPiece(vocab, "{\"type\": \"BertPreTokenizer\"}"), "b.json").encode("a_a\u3000hi"));
    }

    @Test
    void precompiledCharsmapFollowsTheLibrarysLookup() {
        // a one-key darts-clone double array: "A" -> "a". Root unit 0 has offset 1; 'A' lands on 1 ^ 0x41 = 64 with label 0x41,
        // a leaf flag and offset 1; the leaf at 64 ^ 1 = 65 holds value 0 (the offset of "a\0" in the strings).
        ByteBuffer b = ByteBuffer.allocate(4 + 256 * 4 + 2).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(256 * 4);
        int[] units = new int[256];
        units[0] = 1 << 10;
        units[64] = 1 << 10 | 1 << 8 | 0x41;
        units[65] = 1 << 31;
        for (int u : units) b.putInt(u);
        b.put((byte) 'a').put((byte) 0);
        String charsmap = Base64.getEncoder().encodeToString(b.array());
        Tokenizer t = Tokenizer.parse(wordPiece(List.of("[UNK]", "aB", "a", "ax", "a\u0301\u0302\u0303"), "{\"type\": \"WhitespaceSplit\"}")
                .replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"" + charsmap + "\"}"), "p.json");
        // each grapheme looked up: A -> a, B unchanged
        assertArrayEquals(new int[] {1}, t.encode("AB"));
        // "Á" (A and a combining acute, 3 bytes) is one grapheme; its prefix A is a key, so the whole grapheme becomes "a"
        assertArrayEquals(new int[] {3}, t.encode("A\u0301x"));
        // a grapheme of 6 or more bytes is looked up character by character: the marks stay
        assertArrayEquals(new int[] {4}, t.encode("A\u0301\u0302\u0303"));

        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse(wordPiece(List.of("[UNK]"), "null")
                .replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"%%%\"}"), "p.json"));
        assertTrue(e.getMessage().startsWith("p.json: normalizer.precompiled_charsmap: not base64"), e.getMessage());
    }

    @Test
    void badModelsAreRefusedNamingTheField() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse("{\"model\": {\"type\": \"Mystery\", \"vocab\": {}}}", "m.json"));
        assertEquals("m.json: model.type: 'Mystery' is not supported (supported: BPE, WordPiece, Unigram)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", \"x\"]]}}", "u.json"));
        assertEquals("u.json: model.vocab[1]: expected [piece, score] (a string and a number), got [a, x]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 2, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1]]}}", "u.json"));
        assertEquals("u.json: model.unk_id: 2 is out of range (model.vocab has 2 pieces)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse(wordPiece(List.of("a"), "null"), "wp.json"));
        assertEquals("wp.json: model.unk_token: '[UNK]' is not in model.vocab", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.parse(wordPiece(List.of("[UNK]"), "null")
                .replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Mystery\"}]}"), "tok.json"));
        assertTrue(e.getMessage().startsWith("tok.json: normalizer.normalizers[1].type: 'Mystery' is not supported (supported: BertNormalizer, "), e.getMessage());
        // a Unigram without unk_id meeting a character it has no piece for
        Tokenizer noUnk = Tokenizer.parse("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}}", "n.json");
        assertArrayEquals(new int[] {0, 0}, noUnk.encode("aa"));
        e = assertThrows(IllegalArgumentException.class, () -> noUnk.encode("ab"));
        assertEquals("n.json: 'b' has no piece in model.vocab and the tokenizer has no model.unk_id", e.getMessage());
    }

    private static int[] ids(List<String> vocab, String... tokens) {
        return java.util.Arrays.stream(tokens).mapToInt(vocab::indexOf).toArray();
    }

    /** A WordPiece tokenizer.json over {@code vocab} (ids in order, [UNK] the unk token) with the given pre-tokenizer and nothing else. */
    private static String wordPiece(List<String> vocab, String preTokenizer) {
        StringBuilder v = new StringBuilder();
        for (int i = 0; i < vocab.size(); i++) v.append(i == 0 ? "" : ", ").append('"').append(vocab.get(i).replace("\\", "\\\\").replace("\"", "\\\"")).append("\": ").append(i);
        return "{\"normalizer\": null, \"pre_tokenizer\": " + preTokenizer + ", \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
                + "\"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 100, \"vocab\": {" + v + "}}}";
    }
}
