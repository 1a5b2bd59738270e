package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.text.TextTestSupport.node;
import static org.tessel.ir.text.TextTestSupport.op;
import static org.tessel.ir.text.TextTestSupport.parse;
import static org.tessel.ir.text.TextTestSupport.roundTrip;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

class RoundTripTest {

    private static Graph convSplitFused() {
        Graph g = new Graph("tiny");
        Value x = g.addInput("x", new TensorType(DType.F32, Shape.of(1, 3, 4, 4), Layout.NCHW));
        Value w = g.addConstantExact("w", Tensor.ofFloats(Shape.of(2, 3, 1, 1), 0.1f, 0.2f, 0.3f, -0.5f, 1.5e-7f, 2f), TensorType.of(DType.F32, 2, 3, 1, 1));
        Value sizes = g.addConstantExact("sizes", Tensor.ofLongs(DType.I64, Shape.of(2), 1, 1), TensorType.of(DType.I64, 2));
        Attributes convAttrs = Attributes.builder().putInts("dilations", 1, 1).put("group", 1L).putInts("pads", 0, 0, 0, 0).putInts("strides", 1, 1).build();
        Value y = op(g, "Conv", "y", convAttrs, x, w, null);
        node(g, "Split", "split_0", Attributes.builder().put("axis", 1L).build(), List.of("a", "b"), y, sizes);

        Graph body = new Graph("body");
        Value p0 = body.addInput("p0", TensorType.of(DType.F32, 1, 3, 4, 4));
        Value p1 = body.addInput("p1", TensorType.of(DType.F32, 2, 3, 1, 1));
        Value t = op(body, "Conv", "t", p0, p1);
        body.addOutput(op(body, "Relu", "u", t));
        Attributes fa = Attributes.builder().put("kind", "conv_relu").build();
        List<TensorType> ft = Graph.inferTypes(TestOps.REGISTRY.get("Fused"), "f", List.of(x, w), fa, 1);
        Node f = g.insertNode(g.nodes().size(), TestOps.REGISTRY.get("Fused"), "f", List.of(x, w), fa, ft, List.of("f"), body);
        g.setOutputs(List.of(g.value("a"), g.value("b"), f.output()));
        return g;
    }

    @Test
    void printsTheDocumentedFormat() {
        String expected = """
                graph @tiny(%x: f32[1,3,4,4]{nchw}) {
                  %w = constant f32[2,3,1,1] dense<0.1, 0.2, 0.3, -0.5, 1.5E-7, 2.0>
                  %sizes = constant i64[2] dense<1>
                  %y = Conv(%x, %w, none) {dilations=[1,1], group=1, pads=[0,0,0,0], strides=[1,1]} : f32[1,2,4,4]
                  %a, %b = Split(%y, %sizes) {axis=1} : f32[1,1,4,4], f32[1,1,4,4] loc("split_0")
                  %f = Fused(%x, %w) {kind="conv_relu"} : f32[1,2,4,4] body {
                    graph @body(%p0: f32[1,3,4,4], %p1: f32[2,3,1,1]) {
                      %t = Conv(%p0, %p1) : f32[1,2,4,4]
                      %u = Relu(%t) : f32[1,2,4,4]
                      return %u
                    }
                  }
                  return %a, %b, %f
                }
                """;
        Graph g = convSplitFused();
        assertEquals(expected, IrPrinter.print(g));
        Graph back = roundTrip(g);
        assertEquals("split_0", back.nodes().get(1).name());
        assertNull(back.nodes().get(0).input(2));
        assertEquals(Layout.NCHW, back.inputs().get(0).type().layout());
    }

    @Test
    void parsedGraphComputesTheSameAsTheOriginal() {
        Graph g = convSplitFused();
        Graph back = roundTrip(g);
        float[] xs = new float[48];
        for (int i = 0; i < xs.length; i++) xs[i] = (i % 7) - 3f;
        Map<String, Tensor> in = Map.of("x", Tensor.ofFloats(Shape.of(1, 3, 4, 4), xs));
        Map<String, Tensor> a = new ReferenceInterpreter().run(g, in);
        Map<String, Tensor> b = new ReferenceInterpreter().run(back, in);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).dataEquals(b.get(k)), k);
        // relu(conv) of the body: channel 0 at pixel 0 is 0.1*x0 + 0.2*x16 + 0.3*x32
        float expect = Math.max(0, 0.1f * xs[0] + 0.2f * xs[16] + 0.3f * xs[32]);
        assertEquals(expect, b.get("f").floats()[0], 1e-6f);
    }

    @Test
    void everyAttributeKindRoundTrips() {
        Graph g = new Graph("attrs");
        Value x = g.addInput("x", TensorType.of(DType.F32, 2));
        Tensor tf = Tensor.ofFloats(Shape.of(2, 2), 1f, -0f, Float.NaN, Float.NEGATIVE_INFINITY);
        Attributes a1 = Attributes.builder()
                .put("i", -9_223_372_036_854_775_807L - 1)
                .put("f", 1.0e-5f)
                .put("s", "tab\tquote\" backslash\\ newline\n unicode \u00e9 ctrl \u0001")
                .put("ints", 1L, -2L, Long.MAX_VALUE)
                .put("floats", 0.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NaN)
                .put("strs", new AttrValue.Strs(List.of("a", "", "c,d]")))
                .put("t", tf)
                .put("odd name", 7L)
                .build();
        op(g, "Pass", "p1", a1, x);
        Attributes a2 = Attributes.builder().put("ints", new long[0]).put("floats", new float[0])
                .put("strs", new AttrValue.Strs(List.of())).put("f", Float.NaN).put("s", "")
                .put("t", Tensor.ofLongs(DType.BOOL, Shape.of(3), 1, 0, 1)).build();
        op(g, "Pass", "p2", a2, g.value("p1"));
        Attributes a3 = Attributes.builder().put("f", Float.intBitsToFloat(0x7fc00001)).put("t", Tensor.scalar(DType.I8, -128))
                .put("floats", new float[] {-0f}).build();
        op(g, "Pass", "p3", a3, g.value("p2"));
        Attributes a4 = Attributes.builder().put("f", 3L).put("t", Tensor.zeros(DType.F16, Shape.of(0, 4))).build();
        op(g, "Pass", "p4", a4, g.value("p3"));
        g.addOutput(g.value("p4"));

        String text = IrPrinter.print(g);
        assertTrue(text.contains("{i=-9223372036854775808, f=1.0E-5, s=\"tab\\tquote\\\" backslash\\\\ newline\\n unicode \u00e9 ctrl \\u0001\", "
                + "ints=[1,-2,9223372036854775807], floats=[0.5,-0.0,1.4E-45,3.4028235E38,inf,nan], strs=[\"a\",\"\",\"c,d]\"], "
                + "t=dense<1.0, -0.0, nan, -inf> : f32[2,2], \"odd name\"=7}"), text);
        assertTrue(text.contains("{ints=[], floats=[]f, strs=[]s, f=nan, s=\"\", t=dense<true, false, true> : bool[3]}"), text);
        assertTrue(text.contains("{f=nan(0x7fc00001), t=dense<-128> : i8[], floats=[-0.0]}"), text);
        assertTrue(text.contains("{f=3, t=dense<> : f16[0,4]}"), text);
        Graph back = roundTrip(g);
        Attributes b1 = back.nodes().get(0).attrs();
        assertEquals(List.copyOf(a1.names()), List.copyOf(b1.names()), "insertion order survives");
        assertEquals(AttrValue.Kind.INTS, back.nodes().get(1).attrs().get("ints").orElseThrow().kind());
        assertEquals(AttrValue.Kind.FLOATS, back.nodes().get(1).attrs().get("floats").orElseThrow().kind());
        assertEquals(AttrValue.Kind.STRINGS, back.nodes().get(1).attrs().get("strs").orElseThrow().kind());
        assertEquals(0x7fc00001, Float.floatToRawIntBits(back.nodes().get(2).attrs().getFloat("f", 0)), "NaN payload kept bit-exactly");
        assertEquals(AttrValue.Kind.INT, back.nodes().get(3).attrs().get("f").orElseThrow().kind(), "an INT stays an INT");
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(back.nodes().get(2).attrs().getFloats("floats")[0]));
    }

    @Test
    void constantsOfEveryDTypeRoundTripExactly() {
        Graph g = new Graph("consts");
        Value x = g.addInput("x", TensorType.of(DType.F32, 1));
        float payloadNaN = Float.intBitsToFloat(0xffc00123);
        List<Tensor> ts = List.of(
                Tensor.ofFloats(Shape.of(8), Float.NaN, -0f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, Float.MAX_VALUE, payloadNaN),
                Tensor.ofFloats(DType.F16, Shape.of(5), new float[] {0.1f, -65504f, 6.0e-8f, 1e6f, -0f}),
                Tensor.ofFloats(DType.BF16, Shape.of(2, 2), new float[] {0.1f, 3.14159f, -1e30f, Float.NaN}),
                Tensor.ofDoubles(Shape.of(5), 0.1, -0.0, Double.MIN_VALUE, Double.longBitsToDouble(0x7ff8000000000abcL), -Double.MAX_VALUE),
                Tensor.ofLongs(DType.I8, Shape.of(4), -128, -1, 0, 127),
                Tensor.ofLongs(DType.U8, Shape.of(3), 0, 128, 255),
                Tensor.ofLongs(DType.I32, Shape.of(2), Integer.MIN_VALUE, Integer.MAX_VALUE),
                Tensor.ofLongs(DType.I64, Shape.of(2), Long.MIN_VALUE, Long.MAX_VALUE),
                Tensor.ofLongs(DType.BOOL, Shape.of(2, 1), 1, 0),
                Tensor.ofFloats(Shape.of(3, 3), -0f, -0f, -0f, -0f, -0f, -0f, -0f, -0f, -0f),
                Tensor.full(DType.BOOL, Shape.of(4), 1),
                Tensor.scalar(DType.F64, 2.5),
                Tensor.zeros(DType.I32, Shape.of(0)),
                Tensor.ofFloats(Shape.of(2), 0f, -0f));
        for (int i = 0; i < ts.size(); i++) g.addConstantExact("c" + i, ts.get(i), ts.get(i).type());
        g.addConstantExact("laid_out", Tensor.full(DType.F32, Shape.of(1, 2, 1, 1), 1), new TensorType(DType.F32, Shape.of(1, 2, 1, 1), Layout.NHWC));
        g.addOutput(x);

        String text = IrPrinter.print(g);
        assertTrue(text.contains("%c0 = constant f32[8] dense<nan, -0.0, 0.0, inf, -inf, 1.4E-45, 3.4028235E38, nan(0xffc00123)>"), text);
        assertTrue(text.contains("%c1 = constant f16[5] dense<0.099975586, -65504.0, 5.9604645E-8, inf, -0.0>"), text);
        assertTrue(text.contains("%c3 = constant f64[5] dense<0.1, -0.0, 4.9E-324, nan(0x7ff8000000000abc), -1.7976931348623157E308>"), text);
        assertTrue(text.contains("%c4 = constant i8[4] dense<-128, -1, 0, 127>"), text);
        assertTrue(text.contains("%c8 = constant bool[2,1] dense<true, false>"), text);
        assertTrue(text.contains("%c9 = constant f32[3,3] dense<-0.0>"), text);
        assertTrue(text.contains("%c11 = constant f64[] dense<2.5>"), text);
        assertTrue(text.contains("%c12 = constant i32[0] dense<>"), text);
        assertTrue(text.contains("%c13 = constant f32[2] dense<0.0, -0.0>"), "0.0 and -0.0 are different bits, no splat:\n" + text);
        assertTrue(text.contains("%laid_out = constant f32[1,2,1,1]{nhwc} dense<1.0>"), text);
        Graph back = roundTrip(g);
        for (int i = 0; i < ts.size(); i++) assertEquals(null, GraphEquality.tensorDiff(ts.get(i), back.value("c" + i).constantValue()), "c" + i);
        assertEquals(0xffc00123, Float.floatToRawIntBits(back.value("c0").constantValue().floats()[7]));
    }

    @Test
    void f16AndBf16LiteralsAreRoundedToTheType() {
        Graph g = parse("""
                graph @g() {
                  %h = constant f16[2] dense<0.1, 70000.0>
                  %b = constant bf16[] dense<3.14159>
                  return %h, %b
                }
                """);
        assertArrayEquals(new float[] {Tensor.round(DType.F16, 0.1f), Float.POSITIVE_INFINITY}, g.value("h").constantValue().floats());
        assertEquals(Tensor.roundBf16(3.14159f), g.value("b").constantValue().floats()[0]);
        roundTrip(g);
    }

    @Test
    void quotedAndOnnxStyleNamesSurvive() {
        List<String> names = List.of("/layer1/Conv_output_0", "onnx::Add_5", "onnx::Conv 12", "ends:", "q\"uote", "back\\slash",
                "new\nline", "", "none", "return", "0", "-1", "$x.y", "ünï", "a#b", "a:b", "a:::b", "::lead", "c::");
        Graph g = new Graph("weird graph\"name");
        Value prev = g.addInput(names.get(0), TensorType.of(DType.F32, 2));
        for (int i = 1; i < names.size(); i++) prev = op(g, "Relu", names.get(i), prev);
        g.addOutput(prev);
        String text = IrPrinter.print(g);
        assertTrue(text.startsWith("graph @\"weird graph\\\"name\"(%/layer1/Conv_output_0: f32[2]) {\n"), text);
        assertTrue(text.contains("%onnx::Add_5 = Relu(%/layer1/Conv_output_0)"), text);
        assertTrue(text.contains("%\"onnx::Conv 12\" = Relu(%onnx::Add_5)"), text);
        assertTrue(text.contains("%\"ends:\" = Relu(%\"onnx::Conv 12\")"), text);
        assertTrue(text.contains("%\"new\\nline\" = Relu(%\"back\\\\slash\")"), text);
        assertTrue(text.contains("%\"\" = Relu(%\"new\\nline\")"), text);
        assertTrue(text.contains("%none = Relu(%\"\")"), text);
        assertTrue(text.contains("%-1 = Relu(%0)"), text);
        assertTrue(text.contains("%\"a#b\" = Relu(%\"ünï\")"), text);
        assertTrue(text.contains("%\"a:b\" = Relu(%\"a#b\") : f32[2]\n  %a:::b = Relu(%\"a:b\") : f32[2]\n  %::lead = Relu(%a:::b) : f32[2]\n  %\"c::\" = Relu(%::lead) : f32[2]"), text);
        Graph back = roundTrip(g);
        for (String n : names) assertTrue(back.value(n) != null, n);
    }

    @Test
    void nodeNamesPrintAsLocOnlyWhenTheyDifferFromTheFirstResult() {
        Graph g = new Graph("locs");
        Value x = g.addInput("x", TensorType.of(DType.F32, 4));
        Value same = op(g, "Relu", "same", x);
        Value other = node(g, "Relu", "conv1/relu", Attributes.empty(), List.of("r"), same).output();
        List<Value> parts = node(g, "Split", "parts", Attributes.empty(), List.of("parts", "second"), other).outputs();
        Node sink = node(g, "Sink", "sink \"1\"", Attributes.empty(), List.of(), parts.get(1));
        assertTrue(sink.outputs().isEmpty());
        g.setOutputs(parts);
        String text = IrPrinter.print(g);
        assertTrue(text.contains("  %same = Relu(%x) : f32[4]\n"), text);
        assertTrue(text.contains("  %r = Relu(%same) : f32[4] loc(\"conv1/relu\")\n"), text);
        assertTrue(text.contains("  %parts, %second = Split(%r) : f32[2], f32[2]\n"), text);
        assertTrue(text.contains("  Sink(%second) loc(\"sink \\\"1\\\"\")\n"), text);
        Graph back = roundTrip(g);
        assertEquals(List.of("same", "conv1/relu", "parts", "sink \"1\""), back.nodes().stream().map(Node::name).toList());
    }

    @Test
    void omittedInputsPrintAsNone() {
        Graph g = new Graph("omit");
        Value x = g.addInput("x", TensorType.of(DType.I64, 3));
        Value c = g.addConstantExact("c", Tensor.ofLongs(DType.I64, Shape.of(1), 5), TensorType.of(DType.I64, 1));
        g.addOutput(op(g, "Pass", "p", Attributes.empty(), x, null, c, null));
        String text = IrPrinter.print(g);
        assertTrue(text.contains("%p = Pass(%x, none, %c, none) : i64[3]"), text);
        Graph back = roundTrip(g);
        Node p = back.nodes().get(0);
        assertEquals(4, p.numInputs());
        assertNull(p.input(1));
        assertSame(back.value("c"), p.input(2));
    }

    @Test
    void nestedBodiesAndDomainOpsRoundTrip() {
        Graph inner = new Graph("inner");
        Value q = inner.addInput("q", TensorType.of(DType.BF16, 2, 2));
        inner.setOutputs(List.of(op(inner, "test.alt.Relu", "r", q), q));
        Graph mid = new Graph("mid");
        Value m = mid.addInput("m", TensorType.of(DType.BF16, 2, 2));
        Node mf = mid.insertNode(0, TestOps.REGISTRY.get("Fused"), "in", List.of(m), Attributes.empty(),
                List.of(TensorType.of(DType.BF16, 2, 2), TensorType.of(DType.BF16, 2, 2)), List.of("o1", "o2"), inner);
        mid.setOutputs(List.of(mf.output(0), mf.output(1)));
        Graph g = new Graph("outer");
        Value x = g.addInput("x", new TensorType(DType.BF16, Shape.of(2, 2), Layout.NHWC));
        Node f = g.insertNode(0, TestOps.REGISTRY.get("Fused"), "outer_fused", List.of(x), Attributes.builder().put("kind", "nest").build(),
                List.of(TensorType.of(DType.BF16, 2, 2), TensorType.of(DType.BF16, 2, 2)), List.of("y", "z"), mid);
        g.setOutputs(List.of(f.output(1)));
        String text = IrPrinter.print(g);
        assertTrue(text.contains("""
                  %y, %z = Fused(%x) {kind="nest"} : bf16[2,2], bf16[2,2] loc("outer_fused") body {
                    graph @mid(%m: bf16[2,2]) {
                      %o1, %o2 = Fused(%m) : bf16[2,2], bf16[2,2] loc("in") body {
                        graph @inner(%q: bf16[2,2]) {
                          %r = test.alt.Relu(%q) : bf16[2,2]
                          return %r, %q
                        }
                      }
                      return %o1, %o2
                    }
                  }
                """), text);
        roundTrip(g);
    }

    @Test
    void elidedConstantsNeedAResolverWithTheOriginalData() {
        Graph g = new Graph("big");
        Value x = g.addInput("x", TensorType.of(DType.F32, 4));
        float[] data = {1, 2, 3, 4};
        Value big = g.addConstantExact("big", Tensor.ofFloats(Shape.of(4), data.clone()), TensorType.of(DType.F32, 4));
        Value small = g.addConstantExact("small", Tensor.ofFloats(Shape.of(2), 5, 6), TensorType.of(DType.F32, 2));
        g.setOutputs(List.of(op(g, "Add", "s", x, big), small));
        String text = IrPrinter.print(g, IrPrinter.Options.elidingAbove(3));
        long hash = IrPrinter.contentHash(big.constantValue());
        String lit = String.format("dense_elided<4 elements, hash=0x%016x>", hash);
        assertTrue(text.contains("%big = constant f32[4] " + lit + "\n"), text);
        assertTrue(text.contains("%small = constant f32[2] dense<5.0, 6.0>\n"), text);

        ElidedConstantException noResolver = assertThrows(ElidedConstantException.class, () -> parse(text));
        assertEquals("test.tir:2:26: constant %big is elided (" + lit + "): the text does not hold its data; parse it with a resolver of the original "
                + "tensors by value name, or print the graph with every constant", noResolver.getMessage());
        assertEquals("%big", noResolver.constant());

        IrParser missing = new IrParser(TestOps.REGISTRY, Map.of());
        assertEquals("e.tir:2:26: constant %big is elided (" + lit + ") and the resolver has no tensor named 'big'",
                assertThrows(IrParseException.class, () -> missing.read(text, "e.tir")).getMessage());

        IrParser changed = new IrParser(TestOps.REGISTRY, Map.of("big", Tensor.ofFloats(Shape.of(4), 1, 2, 3, 5)));
        assertTrue(assertThrows(IrParseException.class, () -> changed.read(text, "e.tir")).getMessage()
                .endsWith("but the text says " + String.format("0x%016x", hash) + ": the data differs from what was printed"));

        IrParser wrongType = new IrParser(TestOps.REGISTRY, Map.of("big", Tensor.ofFloats(Shape.of(2, 2), 1, 2, 3, 4)));
        assertEquals("e.tir:2:26: the resolver's tensor for %big is f32[2,2] but the text says f32[4]",
                assertThrows(IrParseException.class, () -> wrongType.read(text, "e.tir")).getMessage());

        IrParser ok = new IrParser(TestOps.REGISTRY, Map.of("big", Tensor.ofFloats(Shape.of(4), data.clone())));
        Graph back = ok.read(text, "e.tir");
        assertTrue(GraphEquality.structurallyEqual(g, back), () -> GraphEquality.diff(g, back).orElse(""));
        assertEquals(text, IrPrinter.print(back, IrPrinter.Options.elidingAbove(3)));
    }

    @Test
    void handWrittenTextWithCommentsAndFreeLayoutParses() {
        Graph g = parse("""
                # a comment line
                graph @hand ( %x : f32[2,2] ,%y:f32[2]) {   // another comment
                  %k = constant f32[2] dense<1, 2.5e0>      # integers are fine for float elements
                  %s =
                     Add(%x,%k) { } : f32[2,2]
                  %t = Add(%s, %y) : f32[2,2] loc( "named" )
                  return %t ,%s
                }
                """);
        assertEquals(List.of("s", "named"), g.nodes().stream().map(Node::name).toList());
        assertArrayEquals(new float[] {1f, 2.5f}, g.value("k").constantValue().floats());
        assertTrue(g.nodes().get(0).attrs().isEmpty());
        assertFalse(IrPrinter.print(g).contains("{ }"));
        roundTrip(g);
    }

    @Test
    void anOpNamedLikeAKeywordStillRoundTrips() {
        assertEquals("\"return\"", IrPrinter.opName("return"));
        assertEquals("\"loc\"", IrPrinter.opName("loc"));
        assertEquals("Conv", IrPrinter.opName("Conv"));
        assertEquals("com.example.Op", IrPrinter.opName("com.example.Op"));
        assertEquals("\"my op\"", IrPrinter.opName("my op"));
    }
}
