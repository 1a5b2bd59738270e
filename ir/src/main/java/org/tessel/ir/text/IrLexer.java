package org.tessel.ir.text;

/**
 * Turns IR text into tokens on demand (one token of lookahead), so that a multi-megabyte weight
 * literal never becomes a token list. Every token carries its 1-based line and column; errors
 * are raised as {@link IrParseException} at the offending character.
 */
final class IrLexer {
    enum Kind {
        IDENT, VALUE_NAME, GRAPH_NAME, INT, FLOAT, HEX, STRING,
        LPAREN, RPAREN, LBRACE, RBRACE, LBRACKET, RBRACKET, LANGLE, RANGLE, COMMA, EQUALS, COLON, EOF
    }

    /** A token; {@code text} holds the unescaped name or string for names and strings, the spelling otherwise. */
    record Token(Kind kind, String text, int line, int col, int start, int end) {
        boolean is(Kind k) { return kind == k; }
        boolean isIdent(String word) { return kind == Kind.IDENT && text.equals(word); }

        /** How the token reads in a message. */
        String describe() {
            return switch (kind) {
                case EOF -> "end of input";
                case VALUE_NAME -> TextSyntax.sigilName('%', text);
                case GRAPH_NAME -> TextSyntax.sigilName('@', text);
                case STRING -> TextSyntax.quote(text);
                default -> "'" + text + "'";
            };
        }
    }

    private final String src;
    private final String sourceName;
    private int pos;
    private int line = 1;
    private int col = 1;
    private Token peeked;

    IrLexer(String src, String sourceName) {
        this.src = src;
        this.sourceName = sourceName;
    }

    Token peek() {
        if (peeked == null) peeked = lex();
        return peeked;
    }

    Token next() {
        Token t = peek();
        peeked = null;
        return t;
    }

    IrParseException error(int l, int c, String msg) { return new IrParseException(sourceName, l, c, msg); }

    private char cur() { return src.charAt(pos); }

    private void advance() {
        if (src.charAt(pos) == '\n') { line++; col = 1; } else col++;
        pos++;
    }

    private void skipBlanksAndComments() {
        while (pos < src.length()) {
            char c = cur();
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') advance();
            else if (c == '#' || (c == '/' && pos + 1 < src.length() && src.charAt(pos + 1) == '/')) {
                while (pos < src.length() && cur() != '\n') advance();
            } else break;
        }
    }

    private Token lex() {
        skipBlanksAndComments();
        int l = line, c = col, start = pos;
        if (pos >= src.length()) return new Token(Kind.EOF, "", l, c, start, start);
        char ch = cur();
        Kind punct = switch (ch) {
            case '(' -> Kind.LPAREN; case ')' -> Kind.RPAREN; case '{' -> Kind.LBRACE; case '}' -> Kind.RBRACE;
            case '[' -> Kind.LBRACKET; case ']' -> Kind.RBRACKET; case '<' -> Kind.LANGLE; case '>' -> Kind.RANGLE;
            case ',' -> Kind.COMMA; case '=' -> Kind.EQUALS; case ':' -> Kind.COLON;
            default -> null;
        };
        if (punct != null) {
            advance();
            return new Token(punct, String.valueOf(ch), l, c, start, pos);
        }
        if (ch == '%' || ch == '@') return sigilName(ch == '%' ? Kind.VALUE_NAME : Kind.GRAPH_NAME, l, c, start);
        if (ch == '"') {
            String s = string(l, c);
            return new Token(Kind.STRING, s, l, c, start, pos);
        }
        if (isDigit(ch) || (ch == '-' && pos + 1 < src.length() && isDigit(src.charAt(pos + 1)))) return number(l, c, start);
        if (ch == '-' && src.startsWith("-inf", pos) && !(pos + 4 < src.length() && TextSyntax.isIdentChar(src.charAt(pos + 4)))) {
            for (int i = 0; i < 4; i++) advance();
            return new Token(Kind.FLOAT, "-inf", l, c, start, pos);
        }
        if (TextSyntax.isIdentStart(ch)) {
            while (pos < src.length() && TextSyntax.isIdentChar(cur())) advance();
            return new Token(Kind.IDENT, src.substring(start, pos), l, c, start, pos);
        }
        throw error(l, c, "unexpected character " + describeChar(ch));
    }

    private static String describeChar(char ch) {
        return ch < 0x20 || ch == 0x7f ? String.format("U+%04X", (int) ch) : "'" + ch + "'";
    }

    private static boolean isDigit(char c) { return c >= '0' && c <= '9'; }

    private static boolean isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

    private Token sigilName(Kind kind, int l, int c, int start) {
        char sigil = cur();
        advance();
        if (pos < src.length() && cur() == '"') {
            String s = string(line, col);
            return new Token(kind, s, l, c, start, pos);
        }
        int nameStart = pos;
        int end = pos + TextSyntax.bareNameLength(src, pos);
        if (end == nameStart) throw error(l, c, "expected a name after '" + sigil + "' (quote it as " + sigil + "\"...\" if it has other characters)");
        while (pos < end) advance();
        return new Token(kind, src.substring(nameStart, end), l, c, start, pos);
    }

    private String string(int l, int c) {
        advance(); // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= src.length() || cur() == '\n') throw error(l, c, "unterminated string");
            char ch = cur();
            if (ch == '"') { advance(); return sb.toString(); }
            if (ch != '\\') { sb.append(ch); advance(); continue; }
            int el = line, ec = col;
            advance();
            if (pos >= src.length()) throw error(l, c, "unterminated string");
            char e = cur();
            advance();
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case 'u' -> {
                    if (pos + 4 > src.length()) throw error(el, ec, "\\u needs four hex digits");
                    for (int i = 0; i < 4; i++) if (!isHexDigit(src.charAt(pos + i))) throw error(el, ec, "\\u needs four hex digits");
                    sb.append((char) Integer.parseInt(src.substring(pos, pos + 4), 16));
                    for (int i = 0; i < 4; i++) advance();
                }
                default -> throw error(el, ec, "unknown escape '\\" + e + "' in string (known: \\\" \\\\ \\n \\t \\r \\uXXXX)");
            }
        }
    }

    private Token number(int l, int c, int start) {
        if (cur() == '0' && pos + 1 < src.length() && (src.charAt(pos + 1) == 'x' || src.charAt(pos + 1) == 'X')) {
            advance();
            advance();
            int digits = pos;
            while (pos < src.length() && isHexDigit(cur())) advance();
            if (pos == digits) throw error(l, c, "malformed hex number: no digits after 0x");
            return new Token(Kind.HEX, src.substring(digits, pos), l, c, start, pos);
        }
        boolean isFloat = false;
        if (cur() == '-') advance();
        while (pos < src.length() && isDigit(cur())) advance();
        if (pos < src.length() && cur() == '.') {
            isFloat = true;
            advance();
            while (pos < src.length() && isDigit(cur())) advance();
        }
        if (pos < src.length() && (cur() == 'e' || cur() == 'E')) {
            isFloat = true;
            advance();
            if (pos < src.length() && (cur() == '+' || cur() == '-')) advance();
            int digits = pos;
            while (pos < src.length() && isDigit(cur())) advance();
            if (pos == digits) throw error(l, c, "malformed number '" + src.substring(start, pos) + "': exponent has no digits");
        }
        return new Token(isFloat ? Kind.FLOAT : Kind.INT, src.substring(start, pos), l, c, start, pos);
    }
}
