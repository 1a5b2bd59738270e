package org.tessel.runtime.llm.tokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.text.BreakIterator;
import java.util.Base64;

/**
 * SentencePiece's {@code precompiled_charsmap} (the {@code Precompiled} normalizer of T5, ALBERT, XLNet, mT5...), run as
 * the tokenizers library's {@code spm_precompiled} crate runs it. The blob is a little-endian u32 trie size, a darts-clone
 * double array of that many bytes keyed by UTF-8 bytes, then NUL-terminated replacement strings the trie's values point
 * into. The text is cut into extended grapheme clusters; a cluster under 6 UTF-8 bytes is replaced whole when the trie has
 * a prefix of it (the shortest such prefix's replacement stands for the whole cluster, the library's quirk), otherwise
 * each of its characters is looked up alone.
 */
final class PrecompiledCharsmap {
    private final long[] units;
    private final byte[] normalized;

    private PrecompiledCharsmap(long[] units, byte[] normalized) {
        this.units = units;
        this.normalized = normalized;
    }

    /** The charsmap of a base64 field; {@code error} names the field for a blob that is not base64 or is cut short. */
    static PrecompiledCharsmap parse(String base64, java.util.function.Function<String, IllegalArgumentException> error) {
        byte[] blob;
        try {
            blob = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw error.apply("not base64: " + e.getMessage());
        }
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        if (blob.length < 4) throw error.apply("a charsmap of " + blob.length + " bytes has no trie size");
        long trieBytes = b.getInt() & 0xffffffffL;
        if (trieBytes > blob.length - 4L) throw error.apply("trie of " + trieBytes + " bytes in a charsmap of " + blob.length);
        long[] units = new long[(int) (trieBytes / 4)];
        for (int i = 0; i < units.length; i++) units[i] = b.getInt() & 0xffffffffL;
        byte[] normalized = new byte[blob.length - 4 - (int) trieBytes];
        b.position(4 + (int) trieBytes);
        b.get(normalized);
        if (units.length == 0) throw error.apply("empty trie");
        return new PrecompiledCharsmap(units, normalized);
    }

    String normalize(String text) {
        StringBuilder out = new StringBuilder(text.length());
        BreakIterator graphemes = BreakIterator.getCharacterInstance(java.util.Locale.ROOT);
        graphemes.setText(text);
        for (int start = graphemes.first(), end = graphemes.next(); end != BreakIterator.DONE; start = end, end = graphemes.next()) {
            String g = text.substring(start, end);
            if (g.getBytes(StandardCharsets.UTF_8).length < 6) {
                String whole = transform(g);
                if (whole != null) {
                    out.append(whole);
                    continue;
                }
            }
            for (int i = 0; i < g.length(); ) {
                String c = Character.toString(g.codePointAt(i));
                i += c.length();
                String t = transform(c);
                out.append(t != null ? t : c);
            }
        }
        return out.toString();
    }

    /** The replacement the shortest trie key that prefixes {@code chunk} points to, or null when none does. */
    private String transform(String chunk) {
        int node = (int) offset(units[0]);
        for (byte x : chunk.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (c == 0) break;
            node ^= c;
            if (node >= units.length) return null;
            long unit = units[node];
            if ((unit & (1L << 31 | 0xFF)) != c) return null;
            node ^= (int) offset(unit);
            if ((unit >> 8 & 1) == 1) {
                if (node >= units.length) return null;
                int at = (int) (units[node] & ((1L << 31) - 1)), stop = at;
                while (stop < normalized.length && normalized[stop] != 0) stop++;
                return at > normalized.length ? null : new String(normalized, at, stop - at, StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private static long offset(long unit) { return (unit >>> 10) << ((unit & (1L << 9)) >>> 6); }
}
