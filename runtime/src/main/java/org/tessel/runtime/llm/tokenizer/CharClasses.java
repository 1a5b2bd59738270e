package org.tessel.runtime.llm.tokenizer;

import java.util.Locale;

/**
 * The character classes the tokenizers library tests with, in Java's terms: Rust's {@code char::is_whitespace} (the
 * Unicode White_Space property), {@code char::is_numeric}, {@code char::to_lowercase}, and the {@code unicode_categories}
 * crate's {@code is_other}/{@code is_punctuation} that the BERT normalizer and pre-tokenizer use. Java's tables are newer
 * than the crate's (Unicode 16 against 9): characters assigned since may differ.
 */
final class CharClasses {
    private CharClasses() {}

    /** The White_Space property (Rust's char::is_whitespace): Zs, Zl, Zp, U+0009..U+000D and U+0085. */
    static boolean whiteSpace(int c) { return c >= 0x09 && c <= 0x0D || c == 0x85 || Character.isSpaceChar(c); }

    /** The crate's is_other: Cc, Cf, and Co, whose table lists only the first and last code point of each private-use range (as UnicodeData.txt does). */
    static boolean other(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT -> true;
            case Character.PRIVATE_USE -> c == 0xE000 || c == 0xF8FF || c == 0xF0000 || c == 0xFFFFD || c == 0x100000 || c == 0x10FFFD;
            default -> false;
        };
    }

    /** ASCII punctuation or a Unicode punctuation category (BertPreTokenizer's and Punctuation's test). */
    static boolean punctuation(int c) {
        if (c < 0x80) return c > 0x20 && c < 0x7F && !Character.isLetterOrDigit(c);
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION, Character.END_PUNCTUATION,
                 Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** Nd, Nl or No (Rust's char::is_numeric, the Digits pre-tokenizer's test). */
    static boolean numeric(int c) {
        int t = Character.getType(c);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /** The CJK ideograph blocks BertNormalizer puts spaces around. */
    static boolean chinese(int c) {
        return c >= 0x4E00 && c <= 0x9FFF || c >= 0x3400 && c <= 0x4DBF || c >= 0x20000 && c <= 0x2A6DF || c >= 0x2A700 && c <= 0x2B73F
                || c >= 0x2B740 && c <= 0x2B81F || c >= 0x2B920 && c <= 0x2CEAF || c >= 0xF900 && c <= 0xFAFF || c >= 0x2F800 && c <= 0x2FA1F;
    }

    static boolean nonspacingMark(int c) { return Character.getType(c) == Character.NON_SPACING_MARK; }

    /** Mn, Mc or Me (unicode-normalization's is_combining_mark, the StripAccents normalizer's test). */
    static boolean mark(int c) {
        int t = Character.getType(c);
        return t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK || t == Character.ENCLOSING_MARK;
    }

    /**
     * Each character lowercased on its own, as Rust's char::to_lowercase (no context: a final Σ is σ, where Java's
     * String.toLowerCase would give ς; İ is i and U+0307, as Java's full mapping gives).
     */
    static String lowercase(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(c -> b.append(c < 0x80 ? String.valueOf((char) Character.toLowerCase(c)) : Character.toString(c).toLowerCase(Locale.ROOT)));
        return b.toString();
    }
}
