package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Malformed inputs: each must fail with one IrParseException at the exact line and column. */
class ParseErrorTest {
    private static final String HEAD = "graph @g(%x: f32[2], %i: i64[2]) {\n";

    private static void assertError(String text, String expected) {
        IrParseException e = assertThrows(IrParseException.class, () -> TextTestSupport.PARSER.read(text, "t.tir"));
        assertEquals(expected, e.getMessage());
    }

    /** One statement line between the standard header and a return of %x. */
    private static void assertLineError(String line, String expected) {
        assertError(HEAD + line + "\n  return %x\n}\n", expected);
    }

    @Test
    void truncatedInput() {
        assertError("", "t.tir:1:1: unexpected end of input: expected 'graph'");
        assertError(HEAD + "  %y = Relu(%x) : f32[2]\n",
                "t.tir:3:1: unexpected end of input: expected a definition (%name = ...) or 'return' in graph @g");
        assertError(HEAD + "  %y = Relu(%x", "t.tir:2:15: unexpected end of input: expected ',' or ')' after an operand");
        assertError(HEAD + "  %c = constant f32[2] dense<1.0,", "t.tir:2:34: unexpected end of input: expected a tensor element (number, nan, inf, true or false)");
        assertError(HEAD + "  %y = Relu(%x) : f32[2] loc(\"abc", "t.tir:2:30: unterminated string");
        assertError(HEAD + "  return %x\n", "t.tir:3:1: unexpected end of input: expected '}' to close graph @g after 'return'");
        assertError("graph @g(%x: f32[2", "t.tir:1:19: unexpected end of input: expected ',' or ']' in the dimensions");
    }

    @Test
    void everyPrefixOfAValidFileFailsCleanly() {
        String text = IrPrinter.print(TextTestSupport.parse("""
                graph @g(%x: f32[1,3,4,4]{nchw}) {
                  %w = constant f32[2,3,1,1] dense<0.1, 0.2, 0.3, -0.5, nan, -inf>
                  %y = Conv(%x, %w, none) {dilations=[1,1], group=1} : f32[1,2,4,4]
                  %a, %b = Split(%y) {axis=1} : f32[1,1,4,4], f32[1,1,4,4] loc("split \\"0\\"")
                  %f = Fused(%x, %w) {kind="conv_relu"} : f32[1,2,4,4] body {
                    graph @body(%p0: f32[1,3,4,4], %p1: f32[2,3,1,1]) {
                      %t = Conv(%p0, %p1) : f32[1,2,4,4]
                      return %t
                    }
                  }
                  %p = Pass(%a) {f=nan(0x7fc00001), floats=[]f, t=dense<true> : bool[2]} : f32[1,1,4,4]
                  return %p, %b, %f
                }
                """));
        for (int cut = 0; cut < text.length(); cut++) {
            String prefix = text.substring(0, cut);
            // a prefix that ends right after the final '}' is complete; all shorter ones must fail with a location
            if (prefix.strip().equals(text.strip())) continue;
            try {
                TextTestSupport.PARSER.read(prefix, "cut.tir");
                fail("prefix of length " + cut + " parsed:\n" + prefix);
            } catch (IrParseException e) {
                assertTrue(e.getMessage().startsWith("cut.tir:"), e.getMessage());
            }
        }
    }

    @Test
    void randomCorruptionsNeverEscapeAsOtherExceptions() {
        String text = IrPrinter.print(TextTestSupport.parse(HEAD + """
                  %c = constant i8[3] dense<-128, 0, 127>
                  %a, %b = Split(%x) {axis=0} : f32[1], f32[1] loc("s")
                  %p = Pass(%a, none, %c) {i=3, s="x", ints=[1,2], strs=["a"], t=dense<1.5> : f64[2]} : f32[1]
                  return %p, %b
                }
                """));
        String alphabet = "%@\"(){}[]<>,=:#/\\-.0123456789abcdefxnlotr \n";
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 3000; trial++) {
            StringBuilder sb = new StringBuilder(text);
            int edits = 1 + r.nextInt(3);
            for (int k = 0; k < edits; k++) {
                int at = r.nextInt(sb.length());
                switch (r.nextInt(3)) {
                    case 0 -> sb.setCharAt(at, alphabet.charAt(r.nextInt(alphabet.length())));
                    case 1 -> sb.deleteCharAt(at);
                    default -> sb.insert(at, alphabet.charAt(r.nextInt(alphabet.length())));
                }
            }
            try {
                assertNotNull(TextTestSupport.PARSER.read(sb.toString(), "fuzz.tir"));
            } catch (IrParseException e) {
                assertTrue(e.getMessage().matches("(?s)fuzz\\.tir:\\d+:\\d+: .+"), e.getMessage());
            }
        }
    }

    @Test
    void unknownOpSuggestsACloseName() {
        assertLineError("  %y = Relo(%x) : f32[2]", "t.tir:2:8: unknown op 'Relo' (did you mean 'Relu'?)");
        assertLineError("  %y = relu(%x) : f32[2]", "t.tir:2:8: unknown op 'relu' (did you mean 'Relu'?)");
        assertLineError("  %y = Frobnicate(%x) : f32[2]", "t.tir:2:8: unknown op 'Frobnicate': no registered OpProvider supplies it");
        assertEquals("Conv", IrParser.suggest("Cnv", List.of("Conv", "Relu")));
        assertEquals("test.alt.Relu", IrParser.suggest("Relux", List.of("test.alt.Relu")));
    }

    @Test
    void unknownValuesAndUseBeforeDefinition() {
        assertLineError("  %y = Relu(%foo) : f32[2]", "t.tir:2:13: unknown value %foo");
        assertError(HEAD + "  %y = Relu(%z) : f32[2]\n  %z = Relu(%x) : f32[2]\n  return %y\n}\n",
                "t.tir:2:13: value %z is used before its definition at 3:3");
        assertError(HEAD + "  return %nope\n}\n", "t.tir:2:10: unknown value %nope");
        // a body is a graph of its own: it cannot see the outer graph's values
        assertError("""
                graph @g(%x: f32[2]) {
                  %f = Fused(%x) : f32[2] body {
                    graph @b(%p: f32[2]) {
                      %q = Relu(%x) : f32[2]
                      return %q
                    }
                  }
                  return %f
                }
                """, "t.tir:4:17: unknown value %x");
    }

    @Test
    void duplicateDefinitions() {
        assertError(HEAD + "  %y = Relu(%x) : f32[2]\n  %y = Relu(%x) : f32[2]\n  return %y\n}\n", "t.tir:3:3: value %y is already defined at 2:3");
        assertError("graph @g(%x: f32[2], %x: f32[2]) {\n  return %x\n}\n", "t.tir:1:22: value %x is already defined at 1:10");
        assertError(HEAD + "  %y = Relu(%x) : f32[2] loc(\"n\")\n  %z = Relu(%y) : f32[2] loc(\"n\")\n  return %z\n}\n",
                "t.tir:3:26: node name 'n' is already used by the node at 2:26");
        assertLineError("  %y = Split(%x) {axis=0, axis=1} : f32[2]", "t.tir:2:27: attribute 'axis' is given twice (first at 2:19)");
    }

    @Test
    void badTypes() {
        assertError("graph @g(%x: f31[2]) {\n  return %x\n}\n",
                "t.tir:1:14: unknown element type 'f31' (known: f32, f16, bf16, f64, i8, u8, i32, i64, bool, f8e4m3, f8e5m2, f8e4m3fnuz, f8e5m2fnuz)");
        assertError("graph @g(%x: f32[2,-1]) {\n  return %x\n}\n", "t.tir:1:20: dimension must be between 0 and 2147483647, got -1");
        assertError("graph @g(%x: f32[2]{nchx}) {\n  return %x\n}\n", "t.tir:1:21: unknown layout 'nchx' (known: any, nchw, nhwc)");
        assertError("graph @g(%x: f32(2)) {\n  return %x\n}\n", "t.tir:1:17: expected '[' and the dimensions after element type f32, found '('");
        assertLineError("  %y = Pass(%x) {t=dense<1.0> : f32[2]{nchw}} : f32[2]", "t.tir:2:33: a tensor attribute's type takes no layout");
    }

    @Test
    void missingReturnAndEmptyReturn() {
        assertError(HEAD + "  %y = Relu(%x) : f32[2]\n}\n", "t.tir:3:1: missing 'return' at the end of graph @g");
        assertError(HEAD + "  return\n}\n", "t.tir:2:3: graph @g fails verification: graph has no outputs");
    }

    @Test
    void writtenTypesMustMatchInference() {
        assertLineError("  %y = Relu(%x) : f32[3]", "t.tir:2:19: node 'y' (Relu): result %y is written as f32[3] but the op infers f32[2]");
        assertLineError("  %a, %b = Split(%x) : f32[1], f32[2]", "t.tir:2:32: node 'a' (Split): result %b is written as f32[2] but the op infers f32[1]");
        assertLineError("  %a, %b = Split(%x) : f32[1]", "t.tir:2:22: 2 results but 1 type after ':'");
        assertLineError("  %a = Split(%x) : f32[1], f32[1]", "t.tir:2:28: 1 result but 2 types after ':'");
        assertLineError("  %y = Relu(%i) : f32[2]", "t.tir:2:8: node 'y' (Relu): input X must be a floating type, got i64");
        assertLineError("  %y = Relu(%x, %x) : f32[2]", "t.tir:2:8: node 'y' (Relu): takes 1 inputs, got 2");
    }

    @Test
    void badAttributes() {
        assertLineError("  %y = Split(%x) {axis=0} f32[2]", "t.tir:2:27: expected ':' after attribute list, found 'f32'");
        assertLineError("  %y = Relu(%x) f32[2]", "t.tir:2:17: expected ':' and the result types after ')', found 'f32'");
        assertLineError("  %y = Relu(%x) {alpha=1.0} : f32[2]", "t.tir:2:18: node 'y' (Relu): unknown attribute 'alpha' (known: [])");
        assertLineError("  %y = Split(%x) {axis=1.5} : f32[2]", "t.tir:2:19: node 'y' (Split): attribute 'axis' must be INT, found FLOAT");
        assertLineError("  %y = Pass(%x) {ints=[1, 2.0]} : f32[2]", "t.tir:2:27: list mixes integers and floats (write every float with a '.')");
        assertLineError("  %y = Pass(%x) {floats=[]x} : f32[2]", "t.tir:2:27: unknown empty-list suffix 'x' (use [] for ints, []f for floats, []s for strings)");
        assertLineError("  %y = Gen() : f32[2]", "t.tir:2:8: node 'y' (Gen): required attribute 'ints' is missing");
        assertLineError("  %y = Pass(%x) {t=dense_elided<2 elements, hash=0x1>} : f32[2]", "t.tir:2:20: tensor attributes cannot be elided; print them in full");
    }

    @Test
    void badConstants() {
        assertLineError("  %c = constant f32[2] dense<1.0, 2.0, 3.0>", "t.tir:2:40: too many elements: f32[2] has 2");
        assertLineError("  %c = constant f32[2,2] dense<1.0, 2.0, 3.0>", "t.tir:2:26: dense<...> has 3 elements but f32[2,2] needs 4 (or 1 for a splat)");
        assertLineError("  %c = constant u8[1] dense<256>", "t.tir:2:29: 256 is out of range for u8 (0 to 255)");
        assertLineError("  %c = constant i8[1] dense<-129>", "t.tir:2:29: -129 is out of range for i8 (-128 to 127)");
        assertLineError("  %c = constant i32[1] dense<1.5>", "t.tir:2:30: expected an integer for an i32 element, found '1.5'");
        assertLineError("  %c = constant bool[1] dense<1>", "t.tir:2:31: expected true or false for a bool element, found '1'");
        assertLineError("  %c = constant f32[1] dense<1e39>", "t.tir:2:30: 1e39 is out of range for f32 (write inf for infinity)");
        assertLineError("  %c = constant f32[1] dense<nan(0x3f800000)>", "t.tir:2:34: 0x3f800000 is not the bit pattern of an f32 NaN");
        assertLineError("  %c = constant i64[1] dense<9223372036854775808>", "t.tir:2:30: integer 9223372036854775808 is out of range for 64 bits");
        assertLineError("  %c = constant f32[4] dense_elided<5 elements, hash=0x12>", "t.tir:2:37: dense_elided says 5 elements but f32[4] has 4");
        assertLineError("  %c = constant f32[4] sparse<1.0>", "t.tir:2:24: expected dense<...> or dense_elided<...> after the constant's type, found 'sparse'");
        assertLineError("  %a, %b = constant f32[1] dense<1.0>", "t.tir:2:7: a constant defines exactly one value");
    }

    @Test
    void lexicalErrors() {
        assertLineError("  %y = Relu(%x) ; f32[2]", "t.tir:2:17: unexpected character ';'");
        assertLineError("  %y = Relu(% x) : f32[2]", "t.tir:2:13: expected a name after '%' (quote it as %\"...\" if it has other characters)");
        assertLineError("  %y = Relu(%x) : f32[2] loc(\"a\\qb\")", "t.tir:2:32: unknown escape '\\q' in string (known: \\\" \\\\ \\n \\t \\r \\uXXXX)");
        assertLineError("  %c = constant f32[1] dense<1e>", "t.tir:2:30: malformed number '1e': exponent has no digits");
        assertError(HEAD + "  return %x\n}\n}\n", "t.tir:4:1: unexpected '}' after the graph's closing '}'");
    }

    @Test
    void verifierProblemsPointAtTheNode() {
        assertError("""
                graph @g(%x: f32[2]) {
                  %f = Fused(%x) : f32[2] body {
                    graph @b(%p: f32[2], %q: f32[2]) {
                      return %p
                    }
                  }
                  return %f
                }
                """, "t.tir:2:3: graph @g fails verification: node 'f' (Fused): body has 2 inputs, node has 1");
    }
}
