/**
 * Tessel's textual IR: {@link org.tessel.ir.text.IrPrinter} writes a graph,
 * {@link org.tessel.ir.text.IrParser} reads it back, {@link org.tessel.ir.text.GraphEquality}
 * says whether two graphs are the same, and {@link org.tessel.ir.text.GoldenFile} turns printed
 * graphs into golden tests. {@code parse(print(g))} is structurally equal to {@code g}, and
 * printing it again gives the same text.
 *
 * <h2>Example</h2>
 * <pre>
 * graph @tiny(%x: f32[1,3,32,32]{nchw}, %ids: i64[1,8]) {
 *   %w = constant f32[8,3,3,3] dense&lt;0.12, -0.5, ...&gt;
 *   %z = constant f32[4] dense&lt;0.0&gt;                  # splat: every element equal
 *   %y = Conv(%x, %w, none) {group=1, pads=[1,1,1,1]} : f32[1,8,32,32]
 *   %a, %b = Split(%y) {axis=1, num_outputs=2} : f32[1,4,32,32], f32[1,4,32,32] loc("split_0")
 *   return %a, %b
 * }
 * </pre>
 *
 * <h2>Grammar</h2>
 * <pre>
 * file      ::= graph EOF
 * graph     ::= 'graph' GNAME '(' [param (',' param)*] ')' '{' stmt* 'return' [VNAME (',' VNAME)*] '}'
 * param     ::= VNAME ':' type
 * stmt      ::= VNAME '=' 'constant' type literal
 *             | [VNAME (',' VNAME)* '='] op '(' [operand (',' operand)*] ')' [attrs] [':' type (',' type)*]
 *               ['loc' '(' STRING ')'] ['body' '{' graph '}']
 * op        ::= IDENT | STRING                        qualified name: "Conv", "com.example.MyOp"
 * operand   ::= VNAME | 'none'                        none: an omitted optional input
 * type      ::= DTYPE '[' [INT (',' INT)*] ']' ['{' LAYOUT '}']     f32[1,3,8,8]{nhwc}, i64[]
 * literal   ::= 'dense' '&lt;' [elem (',' elem)*] '&gt;'   one element for all-equal (splat), none for 0 elements
 *             | 'dense_elided' '&lt;' INT 'elements' ',' 'hash' '=' HEX '&gt;'
 * elem      ::= INT | FLOAT | 'nan' | 'nan' '(' HEX ')' | 'inf' | '-inf' | 'true' | 'false'
 * attrs     ::= '{' [(IDENT | STRING) '=' attr (',' (IDENT | STRING) '=' attr)*] '}'
 * attr      ::= INT | floatval | STRING | '[' INT (',' INT)* ']' | '[' floatval (',' floatval)* ']'
 *             | '[' STRING (',' STRING)* ']' | '[]' | '[]f' | '[]s' | 'dense' '&lt;' ... '&gt;' ':' type
 * floatval  ::= FLOAT | 'nan' ['(' HEX ')'] | 'inf' | '-inf'
 * </pre>
 * Lexical rules: blanks and newlines separate tokens and are otherwise insignificant; {@code #}
 * and {@code //} start a comment to the end of the line. {@code VNAME} is {@code %name} and
 * {@code GNAME} is {@code @name}, where a bare name is one or more of {@code [A-Za-z0-9_.$:/-]}
 * (any of them may come first, since the sigil already marks the name) in which colons appear
 * only in runs of two or more followed by another name character ({@code %onnx::Add_5}, so that
 * {@code %x:f32[2]} reads as {@code %x}, {@code ':'}); any other name is quoted, {@code %"onnx::Conv 12"}. Strings use the escapes {@code \" \\ \n \t
 * \r}, and a backslash, 'u' and four hex digits for other characters. {@code INT} is {@code -?[0-9]+}; {@code FLOAT} has a {@code '.'} or an
 * exponent ({@code Float.toString} spelling); {@code HEX} is {@code 0x[0-9a-fA-F]+}. An IDENT is
 * {@code [A-Za-z_][A-Za-z0-9_.]*}.
 *
 * <h2>Meaning</h2>
 * <ul>
 *   <li>A node without {@code loc(...)} is named after its first result; the printer writes
 *       {@code loc} only when the names differ (or the node has no results).</li>
 *   <li>Attribute kinds follow from the spelling: {@code 3} INT, {@code 3.0} FLOAT, {@code "s"}
 *       STRING, {@code [1,2]} INTS, {@code [1.0]} FLOATS, {@code ["a"]} STRINGS, and the empty
 *       lists {@code []} INTS, {@code []f} FLOATS, {@code []s} STRINGS. Lists do not mix kinds.</li>
 *   <li>Float elements of f32/f16/bf16 print as their f32 value via {@code Float.toString}
 *       (exact round trip); f16/bf16 values written in text are rounded to the type. f64 uses
 *       {@code Double.toString}. NaN prints as {@code nan}, or {@code nan(0x7fc00001)} with the raw
 *       bits (the f32 pattern for float storage, the f64 one for f64) when it is not Java's
 *       canonical NaN. Integers must lie in their type's range; bool is {@code true}/{@code false}.</li>
 *   <li>{@code dense_elided<N elements, hash=0x...>} (printer option) stands for a constant whose
 *       data is not in the text; the parser needs a resolver with the original tensor, by value
 *       name, and checks it against the 64-bit content hash (FNV-1a over dtype, shape and element
 *       bits). The resolver is keyed by bare value name for the whole text, bodies included, so
 *       elide only graphs whose constant names are unique across bodies. Tensor attributes are
 *       never elided and take no layout.</li>
 *   <li>A body graph is self-contained: it sees only its own inputs, which bind to the node's
 *       inputs; its outputs are the node's results.</li>
 *   <li>Values must be defined before they are used (textual SSA order); the printer writes
 *       inputs, then constants, then nodes in graph order.</li>
 * </ul>
 */
package org.tessel.ir.text;
