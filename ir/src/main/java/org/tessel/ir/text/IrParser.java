package org.tessel.ir.text;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.text.IrLexer.Kind;
import org.tessel.ir.text.IrLexer.Token;

/**
 * Reads Tessel's textual IR (grammar in {@code package-info.java}) into a verified {@link Graph}.
 *
 * <p>Parsing runs in two phases: syntax into a small tree that remembers positions, then
 * building the graph, which resolves names and ops, re-runs type inference and checks it against
 * the written types, and finally runs the full {@link Verifier}. Every problem becomes an
 * {@link IrParseException} located at {@code source:line:col}; the two phases let a use of a
 * value that is only defined further down be reported as such rather than as an unknown name.
 * Constant literals are parsed straight into tensor storage, so large weights stay cheap.
 */
public final class IrParser {
    private final OpRegistry registry;
    private final Map<String, Tensor> resolver;

    /** Ops from {@link OpRegistry#global()}, no resolver for elided constants. */
    public IrParser() { this(OpRegistry.global(), null); }

    public IrParser(OpRegistry registry) { this(registry, null); }

    /**
     * @param resolver the original tensors of constants printed as {@code dense_elided<...>}, by
     *     value name; null when the text is expected to hold every constant in full
     */
    public IrParser(OpRegistry registry, Map<String, Tensor> resolver) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.resolver = resolver;
    }

    /** Parses with the global registry. */
    public static Graph parse(String text, String sourceName) { return new IrParser().read(text, sourceName); }

    public static Graph parse(String text, String sourceName, OpRegistry registry) { return new IrParser(registry).read(text, sourceName); }

    /** Parses one graph; {@code sourceName} prefixes every error location. */
    public Graph read(String text, String sourceName) {
        Session s = new Session(new IrLexer(text, sourceName), sourceName);
        GraphAst ast = s.graph();
        Token t = s.lex.peek();
        if (!t.is(Kind.EOF)) throw s.err(t, "unexpected " + t.describe() + " after the graph's closing '}'");
        return s.build(ast);
    }

    // ---- syntax tree --------------------------------------------------------------------

    private record Pos(int line, int col) {
        static Pos of(Token t) { return new Pos(t.line(), t.col()); }
        @Override public String toString() { return line + ":" + col; }
    }

    private record Ref(String name, Pos pos) {}

    private record TypeAst(TensorType type, Pos pos) {}

    private record Param(Ref ref, TypeAst type) {}

    private record GraphAst(String name, Pos pos, List<Param> params, List<Stmt> stmts, List<Ref> returns, Pos returnPos) {}

    private sealed interface Stmt permits ConstStmt, NodeStmt {
        Pos pos();
    }

    /** A constant; exactly one of data and elided is set. */
    private record ConstStmt(Ref result, TypeAst type, Tensor data, Elided elided, Pos literalPos) implements Stmt {
        public Pos pos() { return result.pos(); }
    }

    private record Elided(long count, long hash) {}

    private record AttrAst(String name, Pos pos, AttrValue value) {}

    private record NodeStmt(Pos pos, List<Ref> results, String op, Pos opPos, List<Ref> operands, List<AttrAst> attrs,
                            List<TypeAst> types, String loc, Pos locPos, GraphAst body) implements Stmt {}

    /** One element of a dense literal: the token, plus the hex bits of a {@code nan(0x...)}. */
    private record Elem(Token tok, Token nanBits) {}

    private final class Session {
        final IrLexer lex;
        final String source;

        Session(IrLexer lex, String source) {
            this.lex = lex;
            this.source = source;
        }

        IrParseException err(Token t, String msg) { return new IrParseException(source, t.line(), t.col(), msg); }

        IrParseException err(Pos p, String msg) { return new IrParseException(source, p.line(), p.col(), msg); }

        /** "expected X" at the offending token; at the end of the text it says so. */
        IrParseException expected(Token t, String what) {
            return t.is(Kind.EOF) ? err(t, "unexpected end of input: " + what) : err(t, what + ", found " + t.describe());
        }

        Token expect(Kind k, String what) {
            Token t = lex.next();
            if (!t.is(k)) throw expected(t, what);
            return t;
        }

        // ---- phase 1: syntax ------------------------------------------------------------

        GraphAst graph() {
            Token kw = lex.next();
            if (!kw.isIdent("graph")) throw expected(kw, "expected 'graph'");
            Token name = expect(Kind.GRAPH_NAME, "expected the graph's name (@name) after 'graph'");
            expect(Kind.LPAREN, "expected '(' after the graph's name");
            List<Param> params = new ArrayList<>();
            if (lex.peek().is(Kind.RPAREN)) lex.next();
            else {
                while (true) {
                    Token v = expect(Kind.VALUE_NAME, "expected a graph input (%name: type)");
                    expect(Kind.COLON, "expected ':' after graph input " + v.describe());
                    params.add(new Param(new Ref(v.text(), Pos.of(v)), type()));
                    Token sep = lex.next();
                    if (sep.is(Kind.RPAREN)) break;
                    if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or ')' after a graph input");
                }
            }
            expect(Kind.LBRACE, "expected '{' to open graph @" + name.text());
            List<Stmt> stmts = new ArrayList<>();
            while (true) {
                Token t = lex.peek();
                if (t.isIdent("return")) {
                    lex.next();
                    List<Ref> rets = new ArrayList<>();
                    if (lex.peek().is(Kind.VALUE_NAME)) {
                        while (true) {
                            Token v = lex.next();
                            rets.add(new Ref(v.text(), Pos.of(v)));
                            if (!lex.peek().is(Kind.COMMA)) break;
                            lex.next();
                            Token nv = lex.peek();
                            if (!nv.is(Kind.VALUE_NAME)) throw expected(nv, "expected a value (%name) after ',' in 'return'");
                        }
                    }
                    expect(Kind.RBRACE, "expected '}' to close graph " + TextSyntax.sigilName('@', name.text()) + " after 'return'");
                    return new GraphAst(name.text(), Pos.of(name), params, stmts, rets, Pos.of(t));
                }
                if (t.is(Kind.RBRACE)) throw err(t, "missing 'return' at the end of graph " + TextSyntax.sigilName('@', name.text()));
                if (t.is(Kind.VALUE_NAME)) stmts.add(statementWithResults());
                else if (t.is(Kind.IDENT) || t.is(Kind.STRING)) stmts.add(node(Pos.of(t), List.of()));
                else throw expected(t, "expected a definition (%name = ...) or 'return' in graph " + TextSyntax.sigilName('@', name.text()));
            }
        }

        Stmt statementWithResults() {
            List<Ref> results = new ArrayList<>();
            Pos pos = Pos.of(lex.peek());
            while (true) {
                Token v = expect(Kind.VALUE_NAME, "expected a result name (%name)");
                results.add(new Ref(v.text(), Pos.of(v)));
                Token sep = lex.next();
                if (sep.is(Kind.EQUALS)) break;
                if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or '=' after result " + v.describe());
            }
            Token t = lex.peek();
            if (t.isIdent("constant")) {
                lex.next();
                // an op that happens to be named "constant" is still a call: it is followed by '('
                if (!lex.peek().is(Kind.LPAREN)) {
                    if (results.size() != 1) throw err(results.get(1).pos(), "a constant defines exactly one value");
                    return constant(results.get(0));
                }
                return nodeAfterOpName(pos, results, t);
            }
            return node(pos, results);
        }

        ConstStmt constant(Ref result) {
            TypeAst type = type();
            Token lit = lex.next();
            if (lit.isIdent("dense")) {
                expect(Kind.LANGLE, "expected '<' after 'dense'");
                return new ConstStmt(result, type, denseConstant(type.type(), lit), null, Pos.of(lit));
            }
            if (lit.isIdent("dense_elided")) {
                expect(Kind.LANGLE, "expected '<' after 'dense_elided'");
                Token count = expect(Kind.INT, "expected the element count in dense_elided<N elements, hash=0x...>");
                Token word = lex.next();
                if (!word.isIdent("elements")) throw expected(word, "expected 'elements' after the count in dense_elided<...>");
                expect(Kind.COMMA, "expected ',' after 'elements' in dense_elided<...>");
                Token hashWord = lex.next();
                if (!hashWord.isIdent("hash")) throw expected(hashWord, "expected 'hash=0x...' in dense_elided<...>");
                expect(Kind.EQUALS, "expected '=' after 'hash'");
                Token hash = expect(Kind.HEX, "expected the content hash (0x followed by hex digits)");
                expect(Kind.RANGLE, "expected '>' to close dense_elided<...>");
                long n = parseLong(count);
                if (n != type.type().numElements())
                    throw err(count, "dense_elided says " + n + " elements but " + type.type() + " has " + type.type().numElements());
                if (hash.text().length() > 16) throw err(hash, "the content hash has more than 16 hex digits");
                return new ConstStmt(result, type, null, new Elided(n, Long.parseUnsignedLong(hash.text(), 16)), Pos.of(lit));
            }
            throw expected(lit, "expected dense<...> or dense_elided<...> after the constant's type");
        }

        NodeStmt node(Pos pos, List<Ref> results) {
            Token opTok = lex.next();
            if (!opTok.is(Kind.IDENT) && !opTok.is(Kind.STRING))
                throw expected(opTok, results.isEmpty() ? "expected an op name" : "expected an op name or 'constant' after '='");
            return nodeAfterOpName(pos, results, opTok);
        }

        NodeStmt nodeAfterOpName(Pos pos, List<Ref> results, Token opTok) {
            expect(Kind.LPAREN, "expected '(' after op name " + opTok.text());
            List<Ref> operands = new ArrayList<>();
            if (lex.peek().is(Kind.RPAREN)) lex.next();
            else {
                while (true) {
                    Token o = lex.next();
                    if (o.is(Kind.VALUE_NAME)) operands.add(new Ref(o.text(), Pos.of(o)));
                    else if (o.isIdent("none")) operands.add(null);
                    else throw expected(o, "expected an operand (%name or none)");
                    Token sep = lex.next();
                    if (sep.is(Kind.RPAREN)) break;
                    if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or ')' after an operand");
                }
            }
            List<AttrAst> attrs = new ArrayList<>();
            boolean hadAttrs = false;
            if (lex.peek().is(Kind.LBRACE)) {
                hadAttrs = true;
                attributes(attrs);
            }
            List<TypeAst> types = new ArrayList<>();
            if (!results.isEmpty()) {
                Token colon = lex.next();
                if (!colon.is(Kind.COLON))
                    throw expected(colon, hadAttrs ? "expected ':' after attribute list" : "expected ':' and the result types after ')'");
                types.add(type());
                while (lex.peek().is(Kind.COMMA)) {
                    lex.next();
                    types.add(type());
                }
                if (types.size() != results.size())
                    throw err(types.size() > results.size() ? types.get(results.size()).pos() : Pos.of(colon),
                            results.size() + " result" + (results.size() == 1 ? "" : "s") + " but " + types.size() + " type"
                                    + (types.size() == 1 ? "" : "s") + " after ':'");
            } else if (lex.peek().is(Kind.COLON)) {
                throw err(lex.peek(), "a node without results takes no result types");
            }
            String loc = null;
            Pos locPos = null;
            if (lex.peek().isIdent("loc")) {
                Token l = lex.next();
                locPos = Pos.of(l);
                expect(Kind.LPAREN, "expected '(' after 'loc'");
                loc = expect(Kind.STRING, "expected the node's name as a string in loc(\"...\")").text();
                expect(Kind.RPAREN, "expected ')' to close loc(...)");
            }
            GraphAst body = null;
            if (lex.peek().isIdent("body")) {
                lex.next();
                expect(Kind.LBRACE, "expected '{' after 'body'");
                body = graph();
                expect(Kind.RBRACE, "expected '}' to close the body");
            }
            return new NodeStmt(pos, results, opTok.text(), Pos.of(opTok), operands, attrs, types, loc, locPos, body);
        }

        void attributes(List<AttrAst> out) {
            lex.next(); // '{'
            if (lex.peek().is(Kind.RBRACE)) { lex.next(); return; }
            while (true) {
                Token name = lex.next();
                if (!name.is(Kind.IDENT) && !name.is(Kind.STRING)) throw expected(name, "expected an attribute name");
                for (AttrAst a : out)
                    if (a.name().equals(name.text())) throw err(name, "attribute '" + name.text() + "' is given twice (first at " + a.pos() + ")");
                expect(Kind.EQUALS, "expected '=' after attribute name '" + name.text() + "'");
                out.add(new AttrAst(name.text(), Pos.of(name), attrValue()));
                Token sep = lex.next();
                if (sep.is(Kind.RBRACE)) return;
                if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or '}' in the attribute list");
            }
        }

        AttrValue attrValue() {
            Token t = lex.peek();
            if (t.is(Kind.INT)) return new AttrValue.Int(parseLong(lex.next()));
            if (isFloatStart(t)) return new AttrValue.Float(floatValue(readElem()));
            if (t.is(Kind.STRING)) return new AttrValue.Str(lex.next().text());
            if (t.is(Kind.LBRACKET)) return list();
            if (t.isIdent("dense")) {
                Token lit = lex.next();
                expect(Kind.LANGLE, "expected '<' after 'dense'");
                List<Elem> elems = new ArrayList<>();
                if (lex.peek().is(Kind.RANGLE)) lex.next();
                else {
                    while (true) {
                        elems.add(readElem());
                        Token sep = lex.next();
                        if (sep.is(Kind.RANGLE)) break;
                        if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or '>' in dense<...>");
                    }
                }
                expect(Kind.COLON, "expected ':' and the tensor's type after dense<...>");
                TypeAst type = type();
                if (type.type().layout() != Layout.ANY) throw err(type.pos(), "a tensor attribute's type takes no layout");
                Tensor tensor = newTensor(type.type(), Pos.of(lit));
                long n = tensor.size();
                if (elems.size() != n && !(elems.size() == 1 && n > 1))
                    throw err(lit, countMismatch(elems.size(), type.type()));
                for (int i = 0; i < elems.size(); i++) store(tensor, i, elems.get(i));
                if (elems.size() < n) fillSplat(tensor);
                return new AttrValue.TensorValue(tensor);
            }
            if (t.isIdent("dense_elided")) throw err(t, "tensor attributes cannot be elided; print them in full");
            throw expected(t, "expected an attribute value (integer, float, string, list or dense<...> : type)");
        }

        boolean isFloatStart(Token t) {
            return t.is(Kind.FLOAT) || t.isIdent("nan") || t.isIdent("inf");
        }

        AttrValue list() {
            lex.next(); // '['
            Token first = lex.peek();
            if (first.is(Kind.RBRACKET)) {
                Token close = lex.next();
                Token suffix = lex.peek();
                // "[]f" and "[]s" type an empty list; the suffix must touch the bracket
                if (suffix.is(Kind.IDENT) && suffix.start() == close.end()) {
                    if (suffix.text().equals("f")) { lex.next(); return new AttrValue.Floats(new float[0]); }
                    if (suffix.text().equals("s")) { lex.next(); return new AttrValue.Strs(List.of()); }
                    throw err(suffix, "unknown empty-list suffix '" + suffix.text() + "' (use [] for ints, []f for floats, []s for strings)");
                }
                return new AttrValue.Ints(new long[0]);
            }
            if (first.is(Kind.INT)) {
                List<Long> v = new ArrayList<>();
                while (true) {
                    Token e = lex.next();
                    if (e.is(Kind.INT)) v.add(parseLong(e));
                    else if (isFloatStart(e)) throw err(e, "list mixes integers and floats (write every float with a '.')");
                    else throw expected(e, "expected an integer in the list");
                    if (listEnd()) break;
                }
                long[] a = new long[v.size()];
                for (int i = 0; i < a.length; i++) a[i] = v.get(i);
                return new AttrValue.Ints(a);
            }
            if (isFloatStart(first)) {
                List<Float> v = new ArrayList<>();
                while (true) {
                    Token e = lex.peek();
                    if (e.is(Kind.INT)) throw err(e, "list mixes integers and floats (write every float with a '.')");
                    if (!isFloatStart(e)) throw expected(lex.next(), "expected a float in the list");
                    v.add(floatValue(readElem()));
                    if (listEnd()) break;
                }
                float[] a = new float[v.size()];
                for (int i = 0; i < a.length; i++) a[i] = v.get(i);
                return new AttrValue.Floats(a);
            }
            if (first.is(Kind.STRING)) {
                List<String> v = new ArrayList<>();
                while (true) {
                    v.add(expect(Kind.STRING, "expected a string in the list (lists hold one kind of element)").text());
                    if (listEnd()) break;
                }
                return new AttrValue.Strs(v);
            }
            throw expected(first, "expected a list element (integer, float or string) or ']'");
        }

        private boolean listEnd() {
            Token sep = lex.next();
            if (sep.is(Kind.RBRACKET)) return true;
            if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or ']' in the list");
            return false;
        }

        TypeAst type() {
            Token t = lex.next();
            if (!t.is(Kind.IDENT)) throw expected(t, "expected a type such as f32[1,3,224,224]");
            DType dt = DType.fromText(t.text()).orElseThrow(() -> err(t, "unknown element type '" + t.text() + "' (known: "
                    + String.join(", ", java.util.Arrays.stream(DType.values()).map(DType::text).toList()) + ")"));
            expect(Kind.LBRACKET, "expected '[' and the dimensions after element type " + t.text());
            List<Long> dims = new ArrayList<>();
            if (lex.peek().is(Kind.RBRACKET)) lex.next();
            else {
                while (true) {
                    Token d = lex.next();
                    if (!d.is(Kind.INT)) throw expected(d, "expected a dimension (a non-negative integer)");
                    long v = parseLong(d);
                    if (v < 0 || v > Integer.MAX_VALUE) throw err(d, "dimension must be between 0 and " + Integer.MAX_VALUE + ", got " + d.text());
                    dims.add(v);
                    Token sep = lex.next();
                    if (sep.is(Kind.RBRACKET)) break;
                    if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or ']' in the dimensions");
                }
            }
            Layout layout = Layout.ANY;
            if (lex.peek().is(Kind.LBRACE)) {
                lex.next();
                Token l = expect(Kind.IDENT, "expected a layout (nchw or nhwc) after '{'");
                layout = Layout.fromText(l.text()).orElseThrow(() -> err(l, "unknown layout '" + l.text() + "' (known: any, nchw, nhwc)"));
                expect(Kind.RBRACE, "expected '}' after the layout");
            }
            long[] d = new long[dims.size()];
            for (int i = 0; i < d.length; i++) d[i] = dims.get(i);
            return new TypeAst(new TensorType(dt, Shape.of(d), layout), Pos.of(t));
        }

        // ---- tensor literals --------------------------------------------------------------

        Tensor newTensor(TensorType type, Pos where) {
            long n = 1;
            for (int d : type.shape().dims()) {
                n *= d;
                // checked per dimension so that a product past 2^63 cannot wrap around
                if (n > Shape.MAX_ELEMENTS) throw err(where, type + " has more than the " + Shape.MAX_ELEMENTS + " elements a tensor may hold");
            }
            return Tensor.zeros(type.dtype(), type.shape());
        }

        /** dense&lt;...&gt; of a constant, after the '<': elements go straight into the tensor. */
        Tensor denseConstant(TensorType type, Token lit) {
            Tensor t = newTensor(type, Pos.of(lit));
            int n = t.size();
            int count = 0;
            if (lex.peek().is(Kind.RANGLE)) lex.next();
            else {
                while (true) {
                    if (count == n && n > 0) {
                        Token extra = lex.peek();
                        throw err(extra, "too many elements: " + type + " has " + n);
                    }
                    Elem e = readElem();
                    if (n == 0) throw err(e.tok(), "too many elements: " + type + " has none");
                    store(t, count++, e);
                    Token sep = lex.next();
                    if (sep.is(Kind.RANGLE)) break;
                    if (!sep.is(Kind.COMMA)) throw expected(sep, "expected ',' or '>' in dense<...>");
                }
            }
            if (count == 1 && n > 1) fillSplat(t);
            else if (count != n) throw err(lit, countMismatch(count, type));
            return t;
        }

        String countMismatch(int count, TensorType type) {
            return "dense<...> has " + count + " element" + (count == 1 ? "" : "s") + " but " + type + " needs "
                    + type.numElements() + (type.numElements() > 1 ? " (or 1 for a splat)" : "");
        }

        void fillSplat(Tensor t) {
            switch (t.dtype().storage()) {
                case FLOAT -> java.util.Arrays.fill(t.floats(), t.floats()[0]);
                case DOUBLE -> java.util.Arrays.fill(t.doubles(), t.doubles()[0]);
                case LONG -> java.util.Arrays.fill(t.longs(), t.longs()[0]);
            }
        }

        Elem readElem() {
            Token t = lex.next();
            if (t.is(Kind.INT) || t.is(Kind.FLOAT) || t.isIdent("inf") || t.isIdent("true") || t.isIdent("false")) return new Elem(t, null);
            if (t.isIdent("nan")) {
                if (!lex.peek().is(Kind.LPAREN)) return new Elem(t, null);
                lex.next();
                Token bits = expect(Kind.HEX, "expected the NaN's bits (0x...) after 'nan('");
                expect(Kind.RPAREN, "expected ')' after the NaN's bits");
                return new Elem(t, bits);
            }
            throw expected(t, "expected a tensor element (number, nan, inf, true or false)");
        }

        void store(Tensor t, int i, Elem e) {
            DType dt = t.dtype();
            switch (dt.storage()) {
                case FLOAT -> {
                    float v = floatValue(e);
                    t.floats()[i] = dt == DType.F32 ? v : Tensor.round(dt, v);
                }
                case DOUBLE -> t.doubles()[i] = doubleValue(e);
                case LONG -> t.longs()[i] = integerValue(e, dt);
            }
        }

        float floatValue(Elem e) {
            Token t = e.tok();
            if (t.isIdent("nan")) {
                if (e.nanBits() == null) return Float.NaN;
                long bits = hexBits(e.nanBits(), 8);
                float v = Float.intBitsToFloat((int) bits);
                if (!Float.isNaN(v)) throw err(e.nanBits(), "0x" + e.nanBits().text() + " is not the bit pattern of an f32 NaN");
                return v;
            }
            if (t.isIdent("inf")) return Float.POSITIVE_INFINITY;
            if (t.is(Kind.FLOAT) && t.text().equals("-inf")) return Float.NEGATIVE_INFINITY;
            if (!t.is(Kind.INT) && !t.is(Kind.FLOAT)) throw err(t, "expected a number, found " + t.describe());
            float v = Float.parseFloat(t.text());
            if (Float.isInfinite(v)) throw err(t, t.text() + " is out of range for f32 (write inf for infinity)");
            return v;
        }

        double doubleValue(Elem e) {
            Token t = e.tok();
            if (t.isIdent("nan")) {
                if (e.nanBits() == null) return Double.NaN;
                double v = Double.longBitsToDouble(hexBits(e.nanBits(), 16));
                if (!Double.isNaN(v)) throw err(e.nanBits(), "0x" + e.nanBits().text() + " is not the bit pattern of an f64 NaN");
                return v;
            }
            if (t.isIdent("inf")) return Double.POSITIVE_INFINITY;
            if (t.is(Kind.FLOAT) && t.text().equals("-inf")) return Double.NEGATIVE_INFINITY;
            if (!t.is(Kind.INT) && !t.is(Kind.FLOAT)) throw err(t, "expected a number, found " + t.describe());
            double v = Double.parseDouble(t.text());
            if (Double.isInfinite(v)) throw err(t, t.text() + " is out of range for f64 (write inf for infinity)");
            return v;
        }

        long integerValue(Elem e, DType dt) {
            Token t = e.tok();
            if (dt == DType.BOOL) {
                if (t.isIdent("true")) return 1;
                if (t.isIdent("false")) return 0;
                throw err(t, "expected true or false for a bool element, found " + t.describe());
            }
            if (!t.is(Kind.INT)) throw err(t, "expected an integer for an " + dt.text() + " element, found " + t.describe());
            long v = parseLong(t);
            long lo = switch (dt) { case I8 -> Byte.MIN_VALUE; case U8 -> 0; case I32 -> Integer.MIN_VALUE; default -> Long.MIN_VALUE; };
            long hi = switch (dt) { case I8 -> Byte.MAX_VALUE; case U8 -> 255; case I32 -> Integer.MAX_VALUE; default -> Long.MAX_VALUE; };
            if (v < lo || v > hi) throw err(t, v + " is out of range for " + dt.text() + " (" + lo + " to " + hi + ")");
            return v;
        }

        long hexBits(Token hex, int maxDigits) {
            if (hex.text().length() > maxDigits) throw err(hex, "NaN bits 0x" + hex.text() + " have more than " + maxDigits + " hex digits");
            return Long.parseUnsignedLong(hex.text(), 16);
        }

        long parseLong(Token t) {
            try {
                return Long.parseLong(t.text());
            } catch (NumberFormatException e) {
                throw err(t, "integer " + t.text() + " is out of range for 64 bits");
            }
        }

        // ---- phase 2: building and checking ---------------------------------------------

        Graph build(GraphAst ast) { return build(ast, List.of()); }

        /**
         * Builds a graph; {@code inputConstants} (by input position, entries may be null) are the
         * constant values a fused body's inputs are bound to outside, used by type inference.
         */
        Graph build(GraphAst ast, List<Tensor> inputConstants) {
            Graph g = new Graph(ast.name());
            Map<Value, Tensor> bound = new IdentityHashMap<>();
            Map<String, Value> values = new HashMap<>();
            Map<String, Pos> definedAt = new HashMap<>();
            Map<String, Pos> laterDefs = new HashMap<>();
            for (Stmt s : ast.stmts()) {
                List<Ref> defs = switch (s) {
                    case ConstStmt c -> List.of(c.result());
                    case NodeStmt n -> n.results();
                };
                for (Ref r : defs) laterDefs.putIfAbsent(r.name(), r.pos());
            }
            Map<String, Pos> nodeNames = new HashMap<>();
            Map<Node, Pos> nodePos = new IdentityHashMap<>();
            Map<String, Pos> constPos = new HashMap<>();

            for (Param p : ast.params()) {
                define(p.ref(), definedAt);
                Value in = g.addInput(p.ref().name(), p.type().type());
                values.put(p.ref().name(), in);
                int k = g.inputs().size() - 1;
                if (k < inputConstants.size() && inputConstants.get(k) != null) bound.put(in, inputConstants.get(k));
            }
            for (Stmt s : ast.stmts()) {
                try {
                    switch (s) {
                        case ConstStmt c -> {
                            Tensor data = c.data() != null ? c.data() : resolve(c);
                            define(c.result(), definedAt);
                            values.put(c.result().name(), g.addConstantExact(c.result().name(), data, c.type().type()));
                            constPos.put(c.result().name(), c.pos());
                        }
                        case NodeStmt n -> {
                            Node node = buildNode(g, n, values, definedAt, laterDefs, nodeNames, bound);
                            nodePos.put(node, n.pos());
                        }
                    }
                } catch (IrParseException e) {
                    throw e;
                } catch (RuntimeException e) {
                    // anything the graph or an op throws still gets a location, never a bare stack trace
                    throw new IrParseException(source, s.pos().line(), s.pos().col(), String.valueOf(e.getMessage()));
                }
            }
            List<Value> outs = new ArrayList<>();
            for (Ref r : ast.returns()) outs.add(use(r, values, laterDefs, definedAt));
            g.setOutputs(outs);

            List<String> problems;
            try {
                problems = Verifier.check(g, Verifier.Level.FULL, bound);
            } catch (RuntimeException e) {
                throw err(ast.pos(), "graph " + TextSyntax.sigilName('@', g.name()) + " fails verification: " + e);
            }
            if (!problems.isEmpty()) {
                String first = problems.get(0);
                Pos where = ast.pos();
                for (Map.Entry<Node, Pos> e : nodePos.entrySet()) if (first.startsWith(e.getKey().describe())) where = e.getValue();
                for (Map.Entry<String, Pos> e : constPos.entrySet())
                    if (first.startsWith("constant " + TextSyntax.sigilName('%', e.getKey()) + " ")) where = e.getValue();
                if (first.startsWith("graph has no outputs") || first.startsWith("graph output")) where = ast.returnPos();
                String more = problems.size() == 1 ? "" : "\n  (and " + (problems.size() - 1) + " more: " + String.join("; ", problems.subList(1, Math.min(problems.size(), 6))) + ")";
                throw err(where, "graph " + TextSyntax.sigilName('@', g.name()) + " fails verification: " + first + more);
            }
            return g;
        }

        void define(Ref r, Map<String, Pos> definedAt) {
            Pos prev = definedAt.putIfAbsent(r.name(), r.pos());
            if (prev != null) throw err(r.pos(), "value " + TextSyntax.sigilName('%', r.name()) + " is already defined at " + prev);
        }

        Value use(Ref r, Map<String, Value> values, Map<String, Pos> laterDefs, Map<String, Pos> definedAt) {
            Value v = values.get(r.name());
            if (v != null) return v;
            String shown = TextSyntax.sigilName('%', r.name());
            Pos later = laterDefs.get(r.name());
            if (later != null && !definedAt.containsKey(r.name()))
                throw err(r.pos(), "value " + shown + " is used before its definition at " + later);
            throw err(r.pos(), "unknown value " + shown);
        }

        Tensor resolve(ConstStmt c) {
            String shown = TextSyntax.sigilName('%', c.result().name());
            String lit = "dense_elided<" + c.elided().count() + " elements, hash=" + TextSyntax.hashText(c.elided().hash()) + ">";
            if (resolver == null) throw new ElidedConstantException(source, c.literalPos().line(), c.literalPos().col(), shown, lit);
            Tensor t = resolver.get(c.result().name());
            if (t == null) throw err(c.literalPos(), "constant " + shown + " is elided (" + lit + ") and the resolver has no tensor named '" + c.result().name() + "'");
            TensorType want = c.type().type();
            if (!t.type().sameLogicalType(want))
                throw err(c.literalPos(), "the resolver's tensor for " + shown + " is " + t.type() + " but the text says " + TensorType.of(want.dtype(), want.shape()));
            long h = TextSyntax.contentHash(t);
            if (h != c.elided().hash())
                throw err(c.literalPos(), "the resolver's tensor for " + shown + " has hash " + TextSyntax.hashText(h) + " but the text says "
                        + TextSyntax.hashText(c.elided().hash()) + ": the data differs from what was printed");
            return t;
        }

        Node buildNode(Graph g, NodeStmt n, Map<String, Value> values, Map<String, Pos> definedAt, Map<String, Pos> laterDefs,
                       Map<String, Pos> nodeNames, Map<Value, Tensor> bound) {
            OpSchema op = registry.find(n.op()).orElseThrow(() -> unknownOp(n));
            List<Value> ins = new ArrayList<>();
            for (Ref r : n.operands()) ins.add(r == null ? null : use(r, values, laterDefs, definedAt));
            List<String> names = new ArrayList<>();
            for (Ref r : n.results()) {
                define(r, definedAt);
                names.add(r.name());
            }

            String nodeName;
            Pos namePos;
            if (n.loc() != null) { nodeName = n.loc(); namePos = n.locPos(); }
            else if (!n.results().isEmpty()) { nodeName = n.results().get(0).name(); namePos = n.results().get(0).pos(); }
            else { nodeName = g.uniqueNodeName(op.name().toLowerCase(Locale.ROOT)); namePos = n.opPos(); }
            Pos prevNode = nodeNames.putIfAbsent(nodeName, namePos);
            if (prevNode != null)
                throw err(namePos, "node name '" + nodeName + "' is already used by the node at " + prevNode
                        + (n.loc() == null ? " (a node without loc(...) is named after its first result)" : ""));
            String where = "node '" + nodeName + "' (" + op.qualifiedName() + ")";

            Attributes attrs = attributes(n, op, where);
            List<Tensor> operandConstants = new ArrayList<>();
            for (Value v : ins) operandConstants.add(v == null ? null : v.constantValue() != null ? v.constantValue() : bound.get(v));
            Graph body = n.body() == null ? null : build(n.body(), operandConstants);

            List<TensorType> inferred;
            if (body != null) {
                // a fused node's types are its body's results
                if (body.outputs().size() != n.results().size())
                    throw err(n.opPos(), where + ": body returns " + body.outputs().size() + " values, the node defines " + n.results().size());
                inferred = body.outputs().stream().map(Value::type).toList();
            } else {
                try {
                    inferred = Graph.inferTypes(op, nodeName, ins, attrs, n.results().size(), v -> v.constantValue() != null ? v.constantValue() : bound.get(v));
                } catch (IrException e) {
                    throw err(n.opPos(), e.getMessage());
                }
            }
            List<TensorType> written = new ArrayList<>();
            for (int i = 0; i < n.types().size(); i++) {
                TypeAst w = n.types().get(i);
                if (!inferred.get(i).sameLogicalType(w.type()))
                    throw err(w.pos(), where + ": result " + TextSyntax.sigilName('%', names.get(i)) + " is written as " + w.type()
                            + " but the op infers " + inferred.get(i));
                written.add(w.type());
            }
            Node node = g.insertNode(g.nodes().size(), op, nodeName, ins, attrs, written, names, body);
            for (Value o : node.outputs()) values.put(o.name(), o);
            return node;
        }

        /** Checks attributes against the op's declaration (as the verifier does) so errors point at the attribute. */
        Attributes attributes(NodeStmt n, OpSchema op, String where) {
            LinkedHashMap<String, AttrValue> m = new LinkedHashMap<>();
            for (AttrAst a : n.attrs()) {
                AttrSpec spec = null;
                for (AttrSpec s : op.attributes()) if (s.name().equals(a.name())) spec = s;
                if (spec == null)
                    throw err(a.pos(), where + ": unknown attribute '" + a.name() + "' (known: " + op.attributes().stream().map(AttrSpec::name).toList() + ")");
                AttrValue.Kind k = a.value().kind();
                if (spec.kind() != k && !(spec.kind() == AttrValue.Kind.FLOAT && k == AttrValue.Kind.INT))
                    throw err(a.pos(), where + ": attribute '" + a.name() + "' must be " + spec.kind() + ", found " + k);
                m.put(a.name(), a.value());
            }
            for (AttrSpec spec : op.attributes())
                if (spec.required() && !m.containsKey(spec.name()))
                    throw err(n.opPos(), where + ": required attribute '" + spec.name() + "' is missing");
            return Attributes.of(m);
        }

        IrParseException unknownOp(NodeStmt n) {
            String s = suggest(n.op(), registry.names());
            return err(n.opPos(), "unknown op '" + n.op() + "'" + (s != null ? " (did you mean '" + s + "'?)"
                    : ": no registered OpProvider supplies it"));
        }
    }

    /** The closest known op name within a small edit distance (case ignored), or null. */
    static String suggest(String name, Collection<String> known) {
        String want = name.toLowerCase(Locale.ROOT);
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : known) {
            String kl = k.toLowerCase(Locale.ROOT);
            int d = distance(want, kl);
            int dot = kl.lastIndexOf('.');
            if (dot >= 0 && want.indexOf('.') < 0) d = Math.min(d, distance(want, kl.substring(dot + 1)));
            if (d < bestD) { bestD = d; best = k; }
        }
        int limit = want.length() <= 3 ? 1 : 2;
        return bestD <= limit ? best : null;
    }

    /** Levenshtein distance with adjacent transpositions. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++)
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[a.length()][b.length()];
    }
}
