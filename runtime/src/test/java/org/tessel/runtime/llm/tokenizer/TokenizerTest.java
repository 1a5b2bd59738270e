package org.tessel.runtime.llm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hand-made fixtures in test resources: byte-level.json (ids 0..255 are the bytes, then the merges
 * "Ġ t", "h e", "Ġt he", "l o", "l lo", "he llo" as ids 256..261, and &lt;|endoftext|&gt; 262) and
 * sentencepiece.json (Llama-2 style: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, &lt;0xNN&gt; 3 + NN, then
 * ▁ 259, h 260, e 261, l 262, o 263, w 264, r 265, d 266, ▁h 267, el 268, lo 269, ▁hel 270, ▁hello 271, or 272).
 */
class TokenizerTest {
    static Path fixture(String name) throws Exception {
        return Path.of(TokenizerTest.class.getResource("/tokenizer/" + name).toURI());
    }

    @Test
    void byteLevelMergesByRank() throws Exception {
        Tokenizer t = Tokenizer.load(fixture("byte-level.json"));
        assertEquals(263, t.vocabSize());
        // "hello": (h,e) rank 1 first, then (l,o) 3, (l,lo) 4, (he,llo) 5; " the": (Ġ,t) 0, (h,e) 1, (Ġt,he) 2; " world": no merges, bytes
        assertArrayEquals(new int[] {261, 258, 32, 'w', 'o', 'r', 'l', 'd'}, t.encode("hello the world"));
        assertEquals("Ġthe", t.token(258));
        // the special token is cut out of the text; é is its two UTF-8 bytes
        assertArrayEquals(new int[] {'h', 'i', 262, 0xC3, 0xA9}, t.encode("hi<|endoftext|>é"));
        assertEquals("hi<|endoftext|>é", t.decode(new int[] {'h', 'i', 262, 0xC3, 0xA9}));
        assertEquals("hié", t.decode(new int[] {'h', 'i', 262, 0xC3, 0xA9}, true));
    }

    @Test
    void byteLevelRoundTripsAnyText() throws Exception {
        Tokenizer t = Tokenizer.load(fixture("byte-level.json"));
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        String alphabet = "hello the world  \n\t\r'sll'd 123 ,.;!?é中文🙂\u00a0\u2028<|endoftext|>";
        for (int n = 0; n < 300; n++) {
            StringBuilder s = new StringBuilder();
            int len = r.nextInt(40);
            for (int i = 0; i < len; i++) s.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, r.nextInt(alphabet.codePointCount(0, alphabet.length())))));
            String text = s.toString();
            assertEquals(text, t.decode(t.encode(text)), "round trip of '" + text + "'");
        }
    }

    @Test
    void gpt2RegexSplitsAsTheReferenceDoes() {
        // 's is a contraction piece; "  x": the first space alone (\s+(?!\S)), then " x"; digits apart from letters
        assertEquals(java.util.List.of("it", "'s", " ", " x", " 42", "abc", "!!", "\n"),
                Tokenizer.GPT2_SPLIT.matcher("it's  x 42abc!!\n").results().map(java.util.regex.MatchResult::group).toList());
    }

    @Test
    void sentencePieceStyleWithByteFallback() throws Exception {
        Tokenizer t = Tokenizer.load(fixture("sentencepiece.json"));
        // <s>, then "▁hello▁world": ▁hello by five merges, ▁ alone, w, (o,r), l, d
        assertArrayEquals(new int[] {1, 271, 259, 264, 272, 262, 266}, t.encode("hello world"));
        assertEquals("hello world", t.decode(t.encode("hello world"), true));
        // é is not in the vocabulary: its UTF-8 bytes <0xC3> <0xA9>
        assertArrayEquals(new int[] {1, 259, 3 + 0xC3, 3 + 0xA9}, t.encode("é"));
        assertEquals("é", t.decode(new int[] {1, 259, 3 + 0xC3, 3 + 0xA9}, true));
        assertArrayEquals(new int[] {271}, t.encode("hello", false));
        // bytes that are not valid UTF-8 decode to one replacement character each
        assertEquals("\uFFFD", t.decode(new int[] {3 + 0xC3}));
    }

    @Test
    void unsupportedFilesAreRefusedNamingFileAndField(@TempDir Path dir) throws Exception {
        String good = Files.readString(fixture("byte-level.json"));
        Path wordLevel = dir.resolve("wl.json");
        Files.writeString(wordLevel, good.replace("\"type\": \"BPE\"", "\"type\": \"WordLevel\""));
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(wordLevel));
        assertTrue(e.getMessage().contains(wordLevel.toString()) && e.getMessage().contains("model.type") && e.getMessage().contains("WordLevel"), e.getMessage());

        Path scripts = dir.resolve("us.json");
        Files.writeString(scripts, good.replace("\"pre_tokenizer\": {\"type\": \"ByteLevel\"", "\"pre_tokenizer\": {\"type\": \"UnicodeScripts\""));
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(scripts));
        assertTrue(e.getMessage().contains(scripts.toString()) && e.getMessage().contains("pre_tokenizer.type") && e.getMessage().contains("UnicodeScripts"), e.getMessage());

        Path badMerge = dir.resolve("merge.json");
        Files.writeString(badMerge, good.replace("\"l lo\"", "\"l zz\""));
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(badMerge));
        assertTrue(e.getMessage().contains("model.merges[4]") && e.getMessage().contains("zz"), e.getMessage());

        Tokenizer t = Tokenizer.load(fixture("byte-level.json"));
        e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {263}));
        assertTrue(e.getMessage().contains("263") && e.getMessage().contains("263 ids"), e.getMessage());
    }
}
