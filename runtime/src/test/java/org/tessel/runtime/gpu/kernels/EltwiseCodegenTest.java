package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.PassManager;

/** The CUDA C generator of tessel.eltwise.fused, checked on the CPU (no GPU needed). */
class EltwiseCodegenTest {
    /** x f32[2,4,3,3] -> (x - shift[4,1,1]) * 0.5 -> relu -> f16 cast. */
    static Graph smallBody() {
        NetworkBuilder b = new NetworkBuilder("small");
        Value x = b.input("x", DType.F32, 2, 4, 3, 3);
        Value shift = b.constant("shift", Tensor.ofFloats(Shape.of(4, 1, 1), 0.5f, -1f, 2f, 0f));
        Value y = b.relu(b.mul(b.sub(x, shift), b.scalar("half", DType.F32, 0.5)));
        return b.output(b.cast(y, DType.F16)).build();
    }

    static String golden(String name) throws IOException {
        try (InputStream in = EltwiseCodegenTest.class.getResourceAsStream(name)) {
            if (in == null) throw new IOException("golden file " + name + " is missing");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The generated text after the shared prelude, compared with a golden file (written to target/ on mismatch). */
    @Test void generatesTheExpectedKernelForASmallBody() throws IOException {
        EltwiseCodegen.Source s = EltwiseCodegen.generate(smallBody());
        String prelude = KernelCompiler.prelude();
        assertTrue(s.code().startsWith(prelude));
        String body = s.code().substring(prelude.length());
        String want = golden("eltwise_small.cu.golden");
        if (!body.equals(want)) {
            Path out = Path.of("target", "eltwise_small.cu.actual");
            Files.createDirectories(out.getParent());
            Files.writeString(out, body);
        }
        assertEquals(want, body, "generated kernel differs from the golden file; actual text written to target/eltwise_small.cu.actual");
        assertEquals(1, s.inputs().size());
        assertEquals(1, s.constantInputs().size(), "the [4,1,1] constant is uploaded; the scalar is a literal");
        assertEquals(72, s.elements());
    }

    @Test void indexesEachValueInItsOwnLayout() {
        NetworkBuilder b = new NetworkBuilder("layouts");
        TensorType nhwc = new TensorType(DType.F32, Shape.of(1, 3, 4, 5), Layout.NHWC);
        Value x = b.input("x", nhwc);
        Value plain = b.input("p", DType.F32, 1, 3, 4, 5);
        Value s = b.input("s", DType.F32, 3, 1, 1);
        Value y = b.add(b.mul(x, s), plain);
        y.setType(nhwc);
        String code = EltwiseCodegen.generate(b.output(y).build()).code();
        // iteration is channels-last: the NHWC input and output index with i, the channel comes innermost
        assertTrue(code.contains("in0[i]"), code);
        assertTrue(code.contains("const int c1 = r % 3; r /= 3;"), code);
        // per-channel scale: stride 1 on the channel; plain NCHW input: c1 * 20 + c2 * 5 + c3
        assertTrue(code.contains("in2[(c1)]"), code);
        assertTrue(code.contains("in1[(c1 * 20 + c2 * 5 + c3)]"), code);
        assertTrue(code.contains("out0[i]"), code);
    }

    @Test void generatesForTheBodyTheFusePassMakes() {
        NetworkBuilder b = new NetworkBuilder("fuse_me");
        Value x = b.input("x", DType.F32, 2, 8, 4, 4);
        Graph g = b.output(b.sigmoid(b.add(b.op("HardSwish", null, x), b.constant("c", Tensor.ofFloats(Shape.of(8, 1, 1), new float[8]))))).build();
        new PassManager().run(g, "fuse");
        Node fused = g.nodes().stream().filter(n -> n.opName().equals(TesselOps.FUSED)).findFirst().orElseThrow();
        EltwiseCodegen.Source s = EltwiseCodegen.generate(fused);
        assertEquals(fused.inputs().size(), s.inputs().size());
        assertTrue(s.code().contains("// node 'sigmoid' (Sigmoid)") || s.code().contains("(Sigmoid)"), s.code());
        assertTrue(EltwiseCodegen.supports(fused.body()));
    }

    @Test void refusesOpsItCannotGenerateNamingTheNode() {
        NetworkBuilder b = new NetworkBuilder("bad");
        Value x = b.input("x", DType.F32, 4, 4);
        Graph g = b.output(b.name("argmax_here").op("Softmax", NetworkBuilder.attrs("axis", -1), x)).build();
        assertFalse(EltwiseCodegen.supports(g));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EltwiseCodegen.generate(g));
        assertTrue(e.getMessage().contains("node 'argmax_here' (Softmax)") && e.getMessage().contains("no CUDA code generator"), e.getMessage());
    }

    /** Integers compute in their own type with the helpers, bools are bytes, integer constants are typed literals; floats alone need no helpers. */
    @Test void typedValuesKeepTheirTypesOnTheDevice() {
        NetworkBuilder b = new NetworkBuilder("typed");
        Value k = b.input("k", DType.I64, 4);
        Value x = b.input("x", DType.F32, 4);
        Value q = b.op("Div", null, k, b.constant("seven", Tensor.ofLongs(DType.I64, Shape.scalar(), -7)));
        Value mask = b.op("Greater", null, b.cast(q, DType.F32), x);
        EltwiseCodegen.Source src = EltwiseCodegen.generate(b.output(mask).build(), Map.of(), DType.F16);
        String code = src.code();
        assertTrue(code.contains("const int* __restrict__ in0") && code.contains("const long long x0 = (long long) in0[i];"), code);
        assertTrue(code.contains("const unsigned short* __restrict__ in1"), "floats in the engine's storage: " + code);
        assertTrue(code.contains("unsigned char* __restrict__ out0") && code.contains("out0[i] = (unsigned char) t2;"), "bool as a byte: " + code);
        assertTrue(code.contains("tessel_ew_div(((long long) x0), ((long long) ((long long) -7LL)))"), "i64 division truncating toward zero: " + code);
        assertTrue(code.contains("__device__ __forceinline__ long long tessel_ew_div("), "the helpers come with a kernel that calls them");
        assertEquals(List.of(1), src.vectorParameters(), "integer and bool operands are never vector-loaded as floats; the f16 one is");
        assertFalse(code.contains("(in0, i0") || code.contains("vout0"), code);
        assertFalse(EltwiseCodegen.generate(smallBody()).code().contains("tessel_ew_"), "a float body needs no integer helpers");
    }

    /**
     * y = Gelu(x + b): x of type {@code t} and shape {@code xs} in layout {@code l} (y likewise), b of type {@code bt} and
     * shape {@code bs} (cast to t where the types differ); without b (bs null), y = Gelu(x). The bodies of the vector
     * kernel's cases: a bias over [..., C], a per-channel operand over channels-last data, mixed types, tails.
     */
    static Graph biasGelu(DType t, Layout l, int[] xs, DType bt, int[] bs) {
        NetworkBuilder b = new NetworkBuilder("bias_gelu");
        TensorType xt = new TensorType(t, Shape.of(xs), l);
        Value x = b.input("x", xt);
        Value sum = x;
        if (bs != null) {
            Value bias = b.input("b", bt, bs);
            sum = b.add(x, bt == t ? bias : b.cast(bias, t));
        }
        Value y = b.gelu(sum);
        y.setType(xt);
        return b.output(y).build();
    }

    /** Which width the vector kernel takes and which parameters (kernel order: x, b, y) it accesses in vector form. */
    @Test void theVectorKernelTakesEightSixteenBitElementsAndLoadsInnermostBroadcastsAsVectors() {
        int[] bert = {32, 128, 3072};
        for (DType t : new DType[] {DType.F16, DType.BF16}) {
            // BERT-base's bias + GELU: x, the bias [3072] (offset i0 % 3072) and y, each as one 16-byte access
            EltwiseCodegen.Source s = EltwiseCodegen.generate(biasGelu(t, Layout.NCHW, bert, t, new int[] {3072}));
            assertEquals(8, s.vec());
            assertEquals(List.of(0, 1, 2), s.vectorParameters());
            assertEquals("tessel_eltwise_fused_vec8", s.vectorKernelName());
            String code = s.code();
            assertTrue(code.contains("void tessel_eltwise_fused_vec8(") && !code.contains("_vec4("), code);
            assertTrue(code.contains("float vin0[8]; tessel_ld8_" + t.text() + "(in0, i0, vin0);"), code);
            assertTrue(code.contains("            int r = i0;\n            const int c2 = r % 3072;\n            tessel_ld8_" + t.text() + "(in1, (c2), vin1);"), code);
            assertTrue(code.contains("tessel_st8_" + t.text() + "(out0, i0, vout0);"), code);
            assertTrue(code.contains("const float x1 = vin1[e];"), code);
            // the same body as an engine stores it (f32 ops, f16/bf16 storage)
            EltwiseCodegen.Source e = EltwiseCodegen.generate(biasGelu(DType.F32, Layout.NCHW, bert, DType.F32, new int[] {3072}), Map.of(), t);
            assertEquals(8, e.vec());
            assertEquals(List.of(0, 1, 2), e.vectorParameters());
            // the same body stored in f32: four elements, the bias as one float4 too
            EltwiseCodegen.Source f = EltwiseCodegen.generate(biasGelu(DType.F32, Layout.NCHW, bert, DType.F32, new int[] {3072}), Map.of(), DType.F32);
            assertEquals(4, f.vec());
            assertEquals(List.of(0, 1, 2), f.vectorParameters());
            assertTrue(f.code().contains("tessel_ld4_f32(in1, (c2), vin1);") && f.code().contains("void tessel_eltwise_fused_vec4("), f.code());
        }
        // an innermost size that is no multiple of 8: the bias element by element, x and y still as vectors of 8
        EltwiseCodegen.Source twelve = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {4, 6, 12}, DType.F16, new int[] {12}));
        assertEquals(8, twelve.vec());
        assertEquals(List.of(0, 2), twelve.vectorParameters());
        assertFalse(twelve.code().contains("vin1"), twelve.code());
        // broadcast along a dimension other than the innermost: element by element
        EltwiseCodegen.Source outer = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {2, 16, 40}, DType.F16, new int[] {16, 1}));
        assertEquals(8, outer.vec());
        assertEquals(List.of(0, 2), outer.vectorParameters());
        // an operand over the two innermost dimensions: stride 1 along the innermost, loaded from the offset of i0
        EltwiseCodegen.Source plane = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {2, 3, 4, 8}, DType.F16, new int[] {4, 8}));
        assertEquals(List.of(0, 1, 2), plane.vectorParameters());
        assertTrue(plane.code().contains("tessel_ld8_f16(in1, (c2 * 8 + c3), vin1);"), plane.code());
        // channels-last output: a per-channel operand [C,1,1] has stride 1 along the innermost physical dimension (C)
        EltwiseCodegen.Source nhwc = EltwiseCodegen.generate(biasGelu(DType.BF16, Layout.NHWC, new int[] {2, 16, 5, 6}, DType.BF16, new int[] {16, 1, 1}));
        assertEquals(8, nhwc.vec());
        assertEquals(List.of(0, 1, 2), nhwc.vectorParameters());
        assertTrue(nhwc.code().contains("const int c1 = r % 16;\n            tessel_ld8_bf16(in1, (c1), vin1);"), nhwc.code());
        assertEquals(List.of(0, 2), EltwiseCodegen.generate(biasGelu(DType.BF16, Layout.NHWC, new int[] {2, 12, 5, 6}, DType.BF16, new int[] {12, 1, 1})).vectorParameters());
        // ... and over NCHW data it is no innermost broadcast
        assertEquals(List.of(0, 2), EltwiseCodegen.generate(biasGelu(DType.BF16, Layout.NCHW, new int[] {2, 16, 5, 6}, DType.BF16, new int[] {16, 1, 1})).vectorParameters());
        // an f32 operand among f16 ones: four elements per thread, each operand in its own width
        EltwiseCodegen.Source mixed = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {3, 77}, DType.F32, new int[] {3, 77}));
        assertEquals(4, mixed.vec());
        assertEquals(List.of(0, 1, 2), mixed.vectorParameters());
        assertTrue(mixed.code().contains("tessel_ld4_f16(in0, i0, vin0);") && mixed.code().contains("tessel_ld4_f32(in1, i0, vin1);")
                && mixed.code().contains("tessel_st4_f16(out0, i0, vout0);"), mixed.code());
        EltwiseCodegen.Source mixedBias = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {4, 64}, DType.F32, new int[] {64}));
        assertEquals(4, mixedBias.vec());
        assertTrue(mixedBias.code().contains("tessel_ld4_f32(in1, (c1), vin1);"), mixedBias.code());
        // an f32 bias the 8-wide kernel would load element by element (12 is no multiple of 8) does not narrow it
        EltwiseCodegen.Source narrowBias = EltwiseCodegen.generate(biasGelu(DType.F16, Layout.NCHW, new int[] {4, 12}, DType.F32, new int[] {12}));
        assertEquals(8, narrowBias.vec());
        assertEquals(List.of(0, 2), narrowBias.vectorParameters());
        // the small f32 body of the golden file keeps four
        assertEquals(4, EltwiseCodegen.generate(smallBody()).vec());
    }

    /** CastLike's second input only gives the type: it may have any shape and is never loaded. */
    @Test void castLikeNeverLoadsItsTypeOperand() {
        NetworkBuilder b = new NetworkBuilder("castlike");
        Value x = b.input("x", DType.F32, 2, 3);
        Value like = b.input("like", DType.I32, 5);
        EltwiseCodegen.Source s = EltwiseCodegen.generate(b.output(b.op("CastLike", null, x, like)).build(), Map.of(), DType.F32);
        assertEquals(2, s.inputs().size(), "both inputs stay parameters, so bindings keep their order");
        assertFalse(s.code().contains("in1["), s.code());
        assertTrue(s.code().contains("((int) tessel_ew_f2ll(x0))"), "f32 to i32 as the reference: NaN 0, saturating, truncating: " + s.code());
    }

    @Test void refusesTypesTheEngineDoesNotHoldNamingTheValue() {
        NetworkBuilder b = new NetworkBuilder("doubles");
        Value x = b.input("x", DType.F64, 4);
        Graph g = b.output(b.name("neg_d").op("Neg", null, x)).build();
        assertFalse(EltwiseCodegen.supports(g));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EltwiseCodegen.generate(g, Map.of(), DType.F32));
        assertTrue(e.getMessage().contains("node 'neg_d' (Neg)") && e.getMessage().contains("holds no f64 values (%x)"), e.getMessage());
    }

    @Test void refusesOutputsOfDifferentShapes() {
        NetworkBuilder b = new NetworkBuilder("two_shapes");
        Value x = b.input("x", DType.F32, 4, 4), y = b.input("y", DType.F32, 4);
        Graph g = b.output(b.relu(x), b.relu(y)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EltwiseCodegen.generate(g));
        assertTrue(e.getMessage().contains("one shape"), e.getMessage());
    }

    /**
     * A GEMV's x loader: SiLU(gate) * up in f32 math as the elementwise kernels compute it, and with CUDA's exponential
     * and division intrinsics where the loader runs under f16 or bf16 (GemvGroup); the same ops otherwise.
     */
    @Test void prologuesUseIntrinsicsOnlyWhenAskedTo() {
        String exact = org.tessel.runtime.gpu.bench.QuantizedGemvBench.siluMulPrologue(false).ops();
        String fast = org.tessel.runtime.gpu.bench.QuantizedGemvBench.siluMulPrologue(true).ops();
        assertTrue(exact.contains("(1.0f / (1.0f + expf(-x0)))"), exact);
        assertFalse(exact.contains("__"), exact);
        assertTrue(fast.contains("__fdividef(1.0f, (1.0f + __expf(-x0)))"), fast);
        assertEquals(exact.replace("(1.0f / (1.0f + expf(-x0)))", "__fdividef(1.0f, (1.0f + __expf(-x0)))"), fast);
    }
}
