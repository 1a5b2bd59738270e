package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/** Elementwise ops checked against hand-computed values, including broadcasting, f16 rounding, integer wrap and NaN. */
class ElementwiseOpsTest {

    // ---- harness: type inference then evaluation, every input also offered as a constant ----

    static List<Tensor> runAll(String op, Attributes attrs, int outputs, Tensor... inputs) {
        OpSchema s = OpRegistry.global().get(op);
        List<TensorType> inTypes = new ArrayList<>();
        for (Tensor t : inputs) inTypes.add(t == null ? null : t.type());
        List<Tensor> ins = Arrays.asList(inputs);
        List<TensorType> types = s.inferTypes(new InferenceContext("n", inTypes, ins, attrs, outputs));
        List<Tensor> out = s.evaluate(new EvalContext("n", ins, attrs, types));
        assertEquals(outputs, out.size());
        for (int i = 0; i < outputs; i++) {
            assertEquals(types.get(i).dtype(), out.get(i).dtype(), "dtype of output " + i);
            assertEquals(types.get(i).shape(), out.get(i).shape(), "shape of output " + i);
        }
        return out;
    }

    static Tensor run(String op, Attributes attrs, Tensor... inputs) { return runAll(op, attrs, 1, inputs).getFirst(); }

    static Tensor run(String op, Tensor... inputs) { return run(op, Attributes.empty(), inputs); }

    static TensorType infer(String op, Attributes attrs, Tensor... inputs) {
        List<TensorType> inTypes = new ArrayList<>();
        for (Tensor t : inputs) inTypes.add(t == null ? null : t.type());
        return OpRegistry.global().get(op).inferTypes(new InferenceContext("n", inTypes, Arrays.asList(inputs), attrs, 1)).getFirst();
    }

    static String failure(String op, Attributes attrs, Tensor... inputs) {
        return assertThrows(OpException.class, () -> run(op, attrs, inputs)).getMessage();
    }

    static Tensor f32(int[] shape, float... v) { return Tensor.ofFloats(Shape.of(shape), v); }
    static Tensor f32(float... v) { return Tensor.ofFloats(Shape.of(v.length), v); }
    static Tensor scalar(float v) { return Tensor.ofFloats(Shape.scalar(), v); }
    static Tensor ints(DType t, int[] shape, long... v) { return Tensor.ofLongs(t, Shape.of(shape), v); }
    static Tensor ints(DType t, long... v) { return Tensor.ofLongs(t, Shape.of(v.length), v); }
    static Tensor bools(long... v) { return Tensor.ofLongs(DType.BOOL, Shape.of(v.length), v); }
    static Tensor f16(float... v) { return Tensor.ofFloats(DType.F16, Shape.of(v.length), v); }
    static Tensor f64(double... v) { return Tensor.ofDoubles(Shape.of(v.length), v); }
    static int[] dims(int... d) { return d; }

    static float[] floats(Tensor t) { return t.floats(); }
    static long[] longs(Tensor t) { return t.longs(); }

    static void assertClose(float[] want, Tensor got, float tol) {
        float[] g = got.floats();
        assertEquals(want.length, g.length);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], g[i], tol, "element " + i);
    }

    static Attributes attrs(Object... kv) { return NetworkBuilder.attrs(kv); }

    // ---- registration and traits -----------------------------------------------------------

    static final List<String> REQUIRED = List.of("Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid",
            "HardSwish", "Erf", "Gelu", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal",
            "Sum", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "IsNaN", "Not", "And", "Or",
            "Cast", "QuantizeLinear", "DequantizeLinear");
    static final List<String> EXTRA = List.of("Mean", "Xor", "CastLike", "Floor", "Ceil", "Round", "Sign", "Softplus",
            "Softsign", "Mish", "Elu", "Selu", "Celu", "ThresholdedRelu", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
            "Cosh", "Asinh", "Acosh", "Atanh", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "IsInf",
            "Swish", "Shrink");
    static final Set<String> COMMUTATIVE = Set.of("Add", "Mul", "Sum", "Max", "Min", "Equal", "And", "Or", "Xor", "Mean",
            "BitwiseAnd", "BitwiseOr", "BitwiseXor");

    @Test void everyOpIsRegisteredElementwisePureAndCommutativeWhereItShouldBe() {
        OpRegistry reg = OpRegistry.global();
        List<String> all = new ArrayList<>(REQUIRED);
        all.addAll(EXTRA);
        for (String name : all) {
            OpSchema s = reg.find(name).orElseThrow(() -> new AssertionError(name + " is not registered"));
            assertEquals("tessel-builtin", reg.providerOf(name));
            assertTrue(s.has(Trait.ELEMENTWISE), name + " should be ELEMENTWISE");
            assertTrue(s.has(Trait.PURE), name + " should be PURE");
            assertEquals(COMMUTATIVE.contains(name), s.has(Trait.COMMUTATIVE), name + " COMMUTATIVE");
            assertFalse(s.summary().isBlank());
            assertFalse(s.inputNames().isEmpty(), name + " names its inputs");
        }
        assertEquals(all.size(), new ElementwiseOps().ops().size());
    }

    // ---- activations -----------------------------------------------------------------------

    @Test void reluOnFloatsAndSignedIntegersRefusesUnsigned() {
        assertArrayEquals(new float[] {0, 0, 2.5f, Float.NaN}, floats(run("Relu", f32(-1, 0, 2.5f, Float.NaN))));
        assertArrayEquals(new long[] {0, 7, 0}, longs(run("Relu", ints(DType.I32, -3, 7, Integer.MIN_VALUE))));
        assertEquals("input X must be f32, f16, bf16, f64, i8, i32 or i64, got u8", failure("Relu", Attributes.empty(), ints(DType.U8, 1)));
    }

    @Test void leakyReluUsesAlpha() {
        assertArrayEquals(new float[] {-0.01f, 3}, floats(run("LeakyRelu", f32(-1, 3))));
        assertArrayEquals(new float[] {-0.5f, 3}, floats(run("LeakyRelu", attrs("alpha", 0.5f), f32(-1, 3))));
        assertEquals("input X must be f32, f16, bf16 or f64, got i32", failure("LeakyRelu", Attributes.empty(), ints(DType.I32, 1)));
    }

    @Test void preluBroadcastsSlopeOntoX() {
        Tensor x = f32(dims(2, 3), -1, -2, 3, -4, 5, -6);
        Tensor slope = f32(0.1f, 0.2f, 0.3f);
        assertClose(new float[] {-0.1f, -0.4f, 3, -0.4f, 5, -1.8f}, run("PRelu", x, slope), 1e-6f);
        assertArrayEquals(new long[] {-4, 5}, longs(run("PRelu", ints(DType.I64, -2, 5), ints(DType.I64, dims(1), 2))));
        // a slope with a larger shape than X would grow the output: not allowed
        String msg = failure("PRelu", Attributes.empty(), f32(-1, 2, 3), f32(dims(2, 3), 1, 1, 1, 1, 1, 1));
        assertEquals("input slope of shape [2,3] cannot be broadcast to input X's shape [3]", msg);
    }

    @Test void sigmoidTanhHardSigmoidHardSwish() {
        assertClose(new float[] {0.5f, 0.7310586f, 0.26894143f, 0, 1}, run("Sigmoid", f32(0, 1, -1, -1000, 1000)), 1e-7f);
        assertClose(new float[] {0, 0.7615942f, -1}, run("Tanh", f32(0, 1, -50)), 1e-7f);
        assertClose(new float[] {0, 0.3f, 0.5f, 0.7f, 1}, run("HardSigmoid", f32(-5, -1, 0, 1, 5)), 1e-7f);
        assertClose(new float[] {0.1f, 0.45f}, run("HardSigmoid", attrs("alpha", 0.1f, "beta", 0.2f), f32(-1, 2.5f)), 1e-7f);
        // x * clip(x/6 + 1/2, 0, 1)
        assertClose(new float[] {0, -1f / 3, 0, 2f * (2f / 6 + 0.5f), 4}, run("HardSwish", f32(-4, -1, 0, 2, 4)), 1e-6f);
    }

    @Test void erfIsAccurateToDoublePrecision() {
        Tensor y = run("Erf", f64(0, 0.5, 1, -2, 3.5, 7));
        double[] want = {0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999992569016276, 1};
        for (int i = 0; i < want.length; i++) assertEquals(want[i], y.doubles()[i], 1e-15, "erf element " + i);
        // integer inputs are allowed by ONNX; erf of any integer truncates to 0
        assertArrayEquals(new long[] {0, 0, 0}, longs(run("Erf", ints(DType.I32, -3, 0, 5))));
    }

    @Test void geluExactAndTanh() {
        Tensor x = f64(-3, -1, 0, 1, 2, -40);
        // x * Phi(x): Phi(-3) = 0.0013498980316301, Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208
        double[] exact = {-0.004049694094890306, -0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416, -0.0};
        double[] y = run("Gelu", x).doubles();
        for (int i = 0; i < 5; i++) assertEquals(exact[i], y[i], 1e-13, "gelu " + i);
        // far in the negative tail the value is tiny but not cancelled to a wrong sign or NaN
        assertTrue(y[5] <= 0 && y[5] > -1e-300);
        double[] t = run("Gelu", attrs("approximate", "tanh"), x).doubles();
        for (int i = 0; i < 5; i++) {
            double xi = x.doubles()[i];
            double want = 0.5 * xi * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (xi + 0.044715 * xi * xi * xi)));
            assertEquals(want, t[i], 1e-13, "gelu tanh " + i);
        }
        assertEquals("attribute 'approximate' must be \"none\" or \"tanh\", got \"fast\"",
                assertThrows(OpException.class, () -> infer("Gelu", attrs("approximate", "fast"), x)).getMessage());
    }

    // ---- arithmetic and broadcasting -------------------------------------------------------

    @Test void addBroadcastsRowsColumnsAndScalars() {
        Tensor a = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new float[] {11, 22, 33, 14, 25, 36}, floats(run("Add", a, f32(10, 20, 30))));
        assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, floats(run("Add", a, scalar(1))));
        assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, floats(run("Add", scalar(1), a)));
        Tensor col = f32(dims(2, 1), 100, 200);
        Tensor row = f32(dims(1, 3), 1, 2, 3);
        Tensor outer = run("Add", col, row);
        assertEquals(Shape.of(2, 3), outer.shape());
        assertArrayEquals(new float[] {101, 102, 103, 201, 202, 203}, floats(outer));
        // channel broadcast, as a per-channel bias on NCHW
        Tensor x = f32(dims(1, 2, 1, 2), 1, 2, 3, 4);
        Tensor bias = f32(dims(2, 1, 1), 10, 20);
        assertArrayEquals(new float[] {11, 12, 23, 24}, floats(run("Add", x, bias)));
        assertEquals(Shape.of(1, 2, 1, 2), infer("Add", Attributes.empty(), x, bias).shape());
        // empty tensors broadcast to empty results
        Tensor empty = run("Add", Tensor.zeros(DType.F32, Shape.of(0, 3)), f32(1, 2, 3));
        assertEquals(Shape.of(0, 3), empty.shape());
        assertEquals(Shape.of(2, 0), run("Mul", f32(dims(2, 1), 1, 2), Tensor.zeros(DType.F32, Shape.of(0))).shape());
    }

    @Test void incompatibleShapesAndTypesAreRefused() {
        String msg = failure("Add", Attributes.empty(), f32(dims(2, 3), 1, 2, 3, 4, 5, 6), f32(1, 2, 3, 4));
        assertTrue(msg.contains("cannot be broadcast together"), msg);
        assertEquals("inputs A and B: element types differ (f32 vs i32)", failure("Mul", Attributes.empty(), f32(1), ints(DType.I32, 1)));
        assertEquals("input A must be f32, f16, bf16, f64, i8, u8, i32 or i64, got bool", failure("Add", Attributes.empty(), bools(1), bools(0)));
    }

    @Test void f16ResultsAreRoundedToNearestEven() {
        // 1 + 2^-11 is halfway between 1 and the next f16 (1 + 2^-10): ties go to the even 1
        Tensor y = run("Add", f16(1), f16(0.00048828125f));
        assertEquals(DType.F16, y.dtype());
        assertEquals(1f, y.floats()[0]);
        // 1 + 3*2^-12 is above the halfway point
        assertEquals(1.0009765625f, run("Add", f16(1), f16(0.000732421875f)).floats()[0]);
        // f16 overflows to infinity past 65504
        assertEquals(Float.POSITIVE_INFINITY, run("Mul", f16(300), f16(300)).floats()[0]);
        // bf16 keeps 8 significant bits
        Tensor b = run("Add", Tensor.ofFloats(DType.BF16, Shape.of(1), new float[] {256}), Tensor.ofFloats(DType.BF16, Shape.of(1), new float[] {1}));
        assertEquals(256f, b.floats()[0]);
    }

    @Test void integerArithmeticWrapsAndDivisionTruncates() {
        assertArrayEquals(new long[] {-56}, longs(run("Add", ints(DType.I8, 100), ints(DType.I8, 100))));
        assertArrayEquals(new long[] {254}, longs(run("Sub", ints(DType.U8, 3), ints(DType.U8, 5))));
        assertArrayEquals(new long[] {-2147483648L}, longs(run("Add", ints(DType.I32, Integer.MAX_VALUE), ints(DType.I32, 1))));
        assertArrayEquals(new long[] {-3, -3, 3, 0}, longs(run("Div", ints(DType.I32, -7, 7, -7, 1), ints(DType.I32, 2, -2, -2, 3))));
        assertEquals("integer division by zero", failure("Div", Attributes.empty(), ints(DType.I64, 1), ints(DType.I64, 0)));
        assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 0.5f}, floats(run("Div", f32(1, 1), f32(0, 2))));
        // i64 keeps all 64 bits (no trip through double)
        long big = (1L << 53) + 1;
        assertArrayEquals(new long[] {big * 3}, longs(run("Mul", ints(DType.I64, big), ints(DType.I64, 3))));
    }

    @Test void doublesStayDoubles() {
        assertArrayEquals(new double[] {0.30000000000000004}, run("Add", f64(0.1), f64(0.2)).doubles());
        assertArrayEquals(new double[] {1.5, 2.5}, run("Sub", f64(2, 3), f64(0.5)).doubles());
    }

    @Test void powMixesBaseAndExponentTypes() {
        assertArrayEquals(new float[] {1, 8, 0.5f}, floats(run("Pow", f32(1, 2, 4), f32(5, 3, -0.5f))));
        assertArrayEquals(new float[] {1, 4, 9}, floats(run("Pow", f32(1, 2, 3), ints(DType.I64, 2))));
        assertArrayEquals(new long[] {1024, 0, -1, 1, 1}, longs(run("Pow", ints(DType.I32, 2, 2, -1, -1, 7), ints(DType.I32, 10, -1, -3, -2, 0))));
        // an integer base with a float exponent truncates the real power
        assertArrayEquals(new long[] {1, 5}, longs(run("Pow", ints(DType.I64, 3, 25), f32(0.5f))));
        assertEquals(DType.I64, infer("Pow", Attributes.empty(), ints(DType.I64, 3), f32(0.5f)).dtype());
        assertEquals("integer 0 cannot be raised to the negative power -2", failure("Pow", Attributes.empty(), ints(DType.I32, 0), ints(DType.I32, -2)));
        assertEquals("input X must be f32, f16, bf16, f64, i32 or i64, got u8", failure("Pow", Attributes.empty(), ints(DType.U8, 2), ints(DType.U8, 2)));
    }

    @Test void unaryMath() {
        assertArrayEquals(new float[] {3, Float.NaN}, floats(run("Sqrt", f32(9, -1))));
        assertClose(new float[] {1, (float) Math.E}, run("Exp", f32(0, 1)), 1e-6f);
        assertArrayEquals(new float[] {0, Float.NEGATIVE_INFINITY}, floats(run("Log", f32(1, 0))));
        assertArrayEquals(new float[] {0.25f, Float.POSITIVE_INFINITY}, floats(run("Reciprocal", f32(4, 0))));
        assertArrayEquals(new float[] {-2, 3}, floats(run("Neg", f32(2, -3))));
        // -(-128) does not fit i8 and wraps back, as in C
        assertArrayEquals(new long[] {-128, -5}, longs(run("Neg", ints(DType.I8, -128, 5))));
        assertArrayEquals(new long[] {200, 0}, longs(run("Abs", ints(DType.U8, 200, 0))));
        assertArrayEquals(new long[] {7, Long.MIN_VALUE}, longs(run("Abs", ints(DType.I64, -7, Long.MIN_VALUE))));
        assertEquals("input X must be f32, f16, bf16 or f64, got i64", failure("Sqrt", Attributes.empty(), ints(DType.I64, 4)));
        assertEquals("input X must be f32, f16, bf16, f64, i8, i32 or i64, got u8", failure("Neg", Attributes.empty(), ints(DType.U8, 4)));
    }

    @Test void variadicSumMaxMinBroadcastAllInputs() {
        Tensor a = f32(dims(2, 2), 1, 2, 3, 4), b = f32(10, 20), c = scalar(100);
        Tensor s = run("Sum", a, b, c);
        assertArrayEquals(new float[] {111, 122, 113, 124}, floats(s));
        assertArrayEquals(new float[] {10, 20, 10, 20}, floats(run("Max", a, b)));
        assertArrayEquals(new float[] {1, 2, 3, 4}, floats(run("Min", a, b, c)));
        assertArrayEquals(new float[] {5.5f, 11, 6.5f, 12}, floats(run("Mean", a, b)));
        // one input: a copy, not the same tensor
        Tensor one = run("Sum", a);
        assertArrayEquals(floats(a), floats(one));
        assertTrue(one.floats() != a.floats());
        // NaN propagates through Max and Min as in numpy
        assertTrue(Float.isNaN(floats(run("Max", f32(Float.NaN), f32(1)))[0]));
        assertArrayEquals(new long[] {-5, 2}, longs(run("Min", ints(DType.I64, -5, 9), ints(DType.I64, 3, 2))));
        assertEquals("input 0 (data_0) and input 2 (data_2): element types differ (f32 vs f64)",
                failure("Sum", Attributes.empty(), f32(1), f32(2), f64(3)));
        assertEquals("input 0 (data_0) must be f32, f16, bf16 or f64, got i32", failure("Sum", Attributes.empty(), ints(DType.I32, 1)));
    }

    // ---- comparison and logic --------------------------------------------------------------

    @Test void comparisonsGiveBoolsAndTreatNaNAsUnordered() {
        Tensor a = f32(1, 2, 3, Float.NaN);
        Tensor two = scalar(2);
        assertEquals(DType.BOOL, run("Less", a, two).dtype());
        assertArrayEquals(new long[] {1, 0, 0, 0}, longs(run("Less", a, two)));
        assertArrayEquals(new long[] {0, 0, 1, 0}, longs(run("Greater", a, two)));
        assertArrayEquals(new long[] {1, 1, 0, 0}, longs(run("LessOrEqual", a, two)));
        assertArrayEquals(new long[] {0, 1, 1, 0}, longs(run("GreaterOrEqual", a, two)));
        assertArrayEquals(new long[] {0, 1, 0, 0}, longs(run("Equal", a, two)));
        assertArrayEquals(new long[] {0}, longs(run("Equal", f32(Float.NaN), f32(Float.NaN))));
        // i64 compares exactly, beyond double's 53 bits
        assertArrayEquals(new long[] {0}, longs(run("Equal", ints(DType.I64, (1L << 53) + 1), ints(DType.I64, 1L << 53))));
        assertArrayEquals(new long[] {1, 0}, longs(run("Equal", bools(1, 0), bools(1))));
        Tensor outer = run("Less", f32(dims(2, 1), 1, 5), f32(dims(1, 2), 2, 4));
        assertEquals(Shape.of(2, 2), outer.shape());
        assertArrayEquals(new long[] {1, 1, 0, 0}, longs(outer));
        assertEquals("input A must be f32, f16, bf16, f64, i8, u8, i32 or i64, got bool", failure("Less", Attributes.empty(), bools(1), bools(0)));
    }

    @Test void logicOps() {
        Tensor a = bools(0, 0, 1, 1), b = bools(0, 1, 0, 1);
        assertArrayEquals(new long[] {0, 0, 0, 1}, longs(run("And", a, b)));
        assertArrayEquals(new long[] {0, 1, 1, 1}, longs(run("Or", a, b)));
        assertArrayEquals(new long[] {0, 1, 1, 0}, longs(run("Xor", a, b)));
        assertArrayEquals(new long[] {1, 1, 0, 0}, longs(run("Not", a)));
        assertArrayEquals(new long[] {0, 0, 1, 1}, longs(run("And", a, Tensor.ofLongs(DType.BOOL, Shape.scalar(), 1))));
        assertEquals("input A must be bool, got f32", failure("And", Attributes.empty(), f32(1), f32(1)));
        assertArrayEquals(new long[] {0, 1, 0}, longs(run("IsNaN", f32(1, Float.NaN, Float.POSITIVE_INFINITY))));
        assertArrayEquals(new long[] {1}, longs(run("IsNaN", f16(Float.NaN))));
        assertEquals("input X must be f32, f16, bf16 or f64, got i32", failure("IsNaN", Attributes.empty(), ints(DType.I32, 1)));
    }

    // ---- Clip ------------------------------------------------------------------------------

    @Test void clipWithOptionalBounds() {
        Tensor x = f32(-3, -1, 0, 2, 5, Float.NaN);
        assertArrayEquals(new float[] {-1, -1, 0, 2, 3, Float.NaN}, floats(run("Clip", x, scalar(-1), scalar(3))));
        // only max: the min input is omitted
        assertArrayEquals(new float[] {-3, -1, 0, 1, 1, Float.NaN}, floats(run("Clip", x, null, scalar(1))));
        assertArrayEquals(new float[] {0, 0, 0, 2, 5, Float.NaN}, floats(run("Clip", x, scalar(0))));
        assertArrayEquals(floats(x), floats(run("Clip", x)));
        // min > max gives max everywhere, like numpy.clip
        assertArrayEquals(new float[] {1, 1, 1, 1, 1}, floats(run("Clip", f32(-3, -1, 0, 2, 5), scalar(2), scalar(1))));
        assertArrayEquals(new long[] {-128, 0, 100}, longs(run("Clip", ints(DType.I8, -128, 0, 127), null, ints(DType.I8, dims(), 100))));
        assertEquals("min must be a scalar, got shape [2]", failure("Clip", Attributes.empty(), x, f32(0, 1)));
        assertEquals("inputs input and max: element types differ (f32 vs f64)", failure("Clip", Attributes.empty(), x, null, f64(1)));
    }

    // ---- Cast ------------------------------------------------------------------------------

    @Test void castTruncatesWrapsAndRoundsOnce() {
        Tensor x = f32(-1.7f, 2.9f, 256.5f, -0.0f, Float.NaN);
        assertArrayEquals(new long[] {-1, 2, 256, 0, 0}, longs(run("Cast", attrs("to", 6), x)));
        assertEquals(DType.I32, run("Cast", attrs("to", 6), x).dtype());
        assertArrayEquals(new long[] {255, 2, 0, 0, 0}, longs(run("Cast", attrs("to", 2), x)));
        assertArrayEquals(new long[] {1, 1, 1, 0, 1}, longs(run("Cast", attrs("to", 9), x)));
        assertArrayEquals(new float[] {1, 0, 1}, floats(run("Cast", attrs("to", 1), bools(1, 0, 1))));
        assertArrayEquals(new long[] {-56}, longs(run("Cast", attrs("to", 3), ints(DType.I32, 200))));
        // just above the f16 halfway point between 1 and 1 + 2^-10: going through f32 would lose
        // the 2^-40 and round the tie down; a single rounding gives 1 + 2^-10
        double justAboveTie = 1 + Math.scalb(1.0, -11) + Math.scalb(1.0, -40);
        assertEquals(1.0009765625f, run("Cast", attrs("to", 10), f64(justAboveTie)).floats()[0]);
        assertEquals(1f, run("Cast", attrs("to", 10), f64(1 + Math.scalb(1.0, -11))).floats()[0]);
        assertEquals(1.5f, run("Cast", attrs("to", 16), f32(1.50390625f)).floats()[0], "bf16 tie to even");
        long big = (1L << 40) + 1;
        assertArrayEquals(new double[] {big}, run("Cast", attrs("to", 11), ints(DType.I64, big)).doubles());
    }

    @Test void castToATypeTesselCannotHoldNamesIt() {
        String msg = assertThrows(OpException.class, () -> infer("Cast", attrs("to", 8), f32(1))).getMessage();
        assertTrue(msg.startsWith("attribute 'to' is ONNX type STRING, which Tessel cannot hold"), msg);
        msg = assertThrows(OpException.class, () -> infer("Cast", attrs("to", 5), f32(1))).getMessage();
        assertTrue(msg.contains("INT16"), msg);
        assertEquals("attribute 'to' is required", assertThrows(OpException.class, () -> infer("Cast", Attributes.empty(), f32(1))).getMessage());
    }

    @Test void castLikeTakesTheSecondInputsType() {
        Tensor y = run("CastLike", f32(1.5f, -2.5f), ints(DType.I64, dims(0)));
        assertEquals(DType.I64, y.dtype());
        assertArrayEquals(new long[] {1, -2}, longs(y));
    }

    // ---- quantization ----------------------------------------------------------------------

    @Test void quantizeRoundsHalfToEvenAndSaturates() {
        Tensor x = f32(0, 2, 3, 5, 7, -1, 1000, -1000);
        Tensor scale = scalar(2);
        Tensor zp = Tensor.ofLongs(DType.U8, Shape.scalar(), 128);
        // x / 2 = 0, 1, 1.5, 2.5, 3.5, -0.5, 500, -500 -> 0, 1, 2, 2, 4, -0 -> + 128, saturated to [0, 255]
        assertArrayEquals(new long[] {128, 129, 130, 130, 132, 128, 255, 0}, longs(run("QuantizeLinear", x, scale, zp)));
        // no zero point: u8 with zero point 0
        Tensor noZp = run("QuantizeLinear", f32(-4, 4, 600), scalar(2));
        assertEquals(DType.U8, noZp.dtype());
        assertArrayEquals(new long[] {0, 2, 255}, longs(noZp));
        Tensor i8 = run("QuantizeLinear", f32(-300, -3, 300), scalar(1), Tensor.ofLongs(DType.I8, Shape.scalar(), -1));
        assertEquals(DType.I8, i8.dtype());
        assertArrayEquals(new long[] {-128, -4, 127}, longs(i8));
        assertEquals(DType.I8, run("QuantizeLinear", attrs("output_dtype", 3), f32(1), scalar(1)).dtype());
    }

    @Test void quantizePerAxisAndBlocked() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        // per-axis on axis 1 (the default): one scale per column
        Tensor q = run("QuantizeLinear", x, f32(1, 2, 4), ints(DType.U8, 0, 10, 20));
        assertArrayEquals(new long[] {1, 11, 21, 4, 12, 22}, longs(q));
        Tensor q0 = run("QuantizeLinear", attrs("axis", 0), x, f32(1, 0.5f));
        assertArrayEquals(new long[] {1, 2, 3, 8, 10, 12}, longs(q0));
        // blocked along axis 1 with blocks of 2: columns {0,1} and {2} share scales
        Tensor blockScale = f32(dims(2, 2), 1, 3, 2, 6);
        Tensor qb = run("QuantizeLinear", attrs("axis", 1, "block_size", 2), x, blockScale);
        assertArrayEquals(new long[] {1, 2, 1, 2, 2, 1}, longs(qb));
        assertEquals("y_scale has 2 elements but x has 3 along axis 1 (shape [2,3])", failure("QuantizeLinear", Attributes.empty(), x, f32(1, 2)));
        String msg = failure("QuantizeLinear", attrs("block_size", 2), x, f32(1, 2));
        assertTrue(msg.startsWith("y_scale must have x's rank 2 for blocked quantization"), msg);
        msg = failure("QuantizeLinear", attrs("axis", 1, "block_size", 2), x, f32(dims(2, 3), 1, 1, 1, 1, 1, 1));
        assertTrue(msg.contains("dimension 1 should be 2"), msg);
        assertEquals("y_zero_point must have y_scale's shape [3], got [1]",
                failure("QuantizeLinear", Attributes.empty(), x, f32(1, 2, 4), ints(DType.U8, 0)));
    }

    @Test void quantizeRefusesTypesOutsideItsConstraint() {
        assertEquals("input x must be f32, f16, bf16 or i32, got i8", failure("QuantizeLinear", Attributes.empty(), ints(DType.I8, 1), scalar(1)));
        assertEquals("input y_zero_point must be i8, u8, f8e4m3, f8e5m2, f8e4m3fnuz or f8e5m2fnuz, got i32",
                failure("QuantizeLinear", Attributes.empty(), f32(1), scalar(1), Tensor.ofLongs(DType.I32, Shape.scalar(), 0)));
        String msg = failure("QuantizeLinear", attrs("output_dtype", 4), f32(1), scalar(1));
        assertTrue(msg.contains("UINT16"), msg);
        assertEquals("attribute 'output_dtype' says i8 but y_zero_point is u8",
                failure("QuantizeLinear", attrs("output_dtype", 3), f32(1), scalar(1), Tensor.ofLongs(DType.U8, Shape.scalar(), 0)));
    }

    @Test void dequantizePerTensorAndPerAxis() {
        Tensor y = run("DequantizeLinear", ints(DType.U8, 0, 3, 128, 255), scalar(2), Tensor.ofLongs(DType.U8, Shape.scalar(), 128));
        assertEquals(DType.F32, y.dtype());
        assertArrayEquals(new float[] {-256, -250, 0, 254}, floats(y));
        Tensor x = ints(DType.I8, dims(2, 2), -1, 2, 3, -4);
        assertArrayEquals(new float[] {-1, 4, 3, -8}, floats(run("DequantizeLinear", x, f32(1, 2))));
        assertArrayEquals(new float[] {-1, 2, 6, -8}, floats(run("DequantizeLinear", attrs("axis", 0), x, f32(1, 2))));
        Tensor h = run("DequantizeLinear", ints(DType.I32, 1 << 20), Tensor.ofFloats(DType.F16, Shape.scalar(), new float[] {0.5f}));
        assertEquals(DType.F16, h.dtype());
        assertEquals(Float.POSITIVE_INFINITY, h.floats()[0], "2^19 overflows f16");
        assertEquals("input x_scale must be f32, f16 or bf16, got f64", failure("DequantizeLinear", Attributes.empty(), ints(DType.U8, 1), f64(1)));
        assertEquals("inputs x and x_zero_point: element types differ (u8 vs i8)",
                failure("DequantizeLinear", Attributes.empty(), ints(DType.U8, 1), scalar(1), Tensor.ofLongs(DType.I8, Shape.scalar(), 0)));
    }

    @Test void quantizeThenDequantizeRoundTripsWithinHalfAStep() {
        Tensor x = f32(-1, -0.3f, 0, 0.26f, 0.9f);
        Tensor scale = scalar(0.01f), zp = Tensor.ofLongs(DType.I8, Shape.scalar(), 5);
        Tensor back = run("DequantizeLinear", run("QuantizeLinear", x, scale, zp), scale, zp);
        for (int i = 0; i < x.size(); i++) assertEquals(x.floats()[i], back.floats()[i], 0.005f + 1e-6f);
    }

    // ---- further math functions -----------------------------------------------------------

    @Test void furtherMathFunctions() {
        assertArrayEquals(new float[] {-2, 1}, floats(run("Floor", f32(-1.5f, 1.5f))));
        assertArrayEquals(new float[] {-1, 2}, floats(run("Ceil", f32(-1.5f, 1.5f))));
        assertArrayEquals(new float[] {2, -2, 4, 1}, floats(run("Round", f32(2.5f, -2.5f, 3.5f, 0.6f))));
        assertArrayEquals(new long[] {-1, 0, 1}, longs(run("Sign", ints(DType.I32, -9, 0, 4))));
        assertClose(new float[] {(float) Math.log(2), 100}, run("Softplus", f32(0, 100)), 1e-6f);
        assertClose(new float[] {0.5f, -0.75f}, run("Softsign", f32(1, -3)), 1e-7f);
        assertClose(new float[] {(float) Math.expm1(-1), 2}, run("Elu", f32(-1, 2)), 1e-7f);
        assertClose(new float[] {-1.1113307f, 2.101402f}, run("Selu", f32(-1, 2)), 1e-6f);
        assertClose(new float[] {(float) (2 * Math.expm1(-0.5)), 3}, run("Celu", attrs("alpha", 2f), f32(-1, 3)), 1e-7f);
        assertArrayEquals(new float[] {0, 0, 2}, floats(run("ThresholdedRelu", f32(-1, 1, 2))));
        assertClose(new float[] {0, 0.86509836f}, run("Mish", f32(0, 1)), 1e-6f);
        assertClose(new float[] {0, 1}, run("Sin", f32(0, (float) (Math.PI / 2))), 1e-7f);
        assertClose(new float[] {1}, run("Cos", f32(0)), 1e-7f);
        assertClose(new float[] {1}, run("Tan", f32((float) (Math.PI / 4))), 1e-6f);
        assertClose(new float[] {(float) (Math.PI / 2), 0, (float) (Math.PI / 4)}, run("Asin", f32(1, 0, (float) Math.sqrt(0.5))), 1e-6f);
        assertClose(new float[] {0}, run("Acos", f32(1)), 1e-7f);
        assertClose(new float[] {(float) (Math.PI / 4)}, run("Atan", f32(1)), 1e-7f);
        assertClose(new float[] {(float) Math.sinh(1)}, run("Sinh", f32(1)), 1e-6f);
        assertClose(new float[] {(float) Math.cosh(1)}, run("Cosh", f32(1)), 1e-6f);
        assertClose(new float[] {0.88137359f, -0.88137359f, 1e-8f}, run("Asinh", f32(1, -1, 1e-8f)), 1e-7f);
        assertClose(new float[] {0, 1.3169579f}, run("Acosh", f32(1, 2)), 1e-6f);
        assertClose(new float[] {0.54930614f, Float.POSITIVE_INFINITY}, run("Atanh", f32(0.5f, 1)), 1e-6f);
        assertEquals("attribute 'alpha' must not be 0", assertThrows(OpException.class, () -> infer("Celu", attrs("alpha", 0f), f32(1))).getMessage());
    }

    @Test void modFollowsTheDivisorOrTheDividend() {
        Tensor a = ints(DType.I32, -4, 7, 5, 4, -7, 8), b = ints(DType.I32, 2, -3, 8, -2, 3, 5);
        assertArrayEquals(new long[] {0, -2, 5, 0, 2, 3}, longs(run("Mod", a, b)));
        assertArrayEquals(new long[] {0, 1, 5, 0, -1, 3}, longs(run("Mod", attrs("fmod", 1), a, b)));
        assertArrayEquals(new float[] {-1, 1}, floats(run("Mod", attrs("fmod", 1), f32(-7, 7), f32(3, -3))));
        // numpy's mod for floats: the divisor's sign, a zero takes the divisor's sign, inf divisors keep same-signed x
        Tensor m = run("Mod", f64(-7, 7, 0, 3, -3, 1, Double.POSITIVE_INFINITY, 1), f64(3, -3, -2, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0, 2, Double.NaN));
        double[] want = {2, -2, -0.0, 3, Double.POSITIVE_INFINITY, Double.NaN, Double.NaN, Double.NaN};
        for (int i = 0; i < want.length; i++) assertEquals(Double.valueOf(want[i]), Double.valueOf(m.doubles()[i]), "mod element " + i);
        assertEquals("integer modulo by zero", failure("Mod", Attributes.empty(), ints(DType.I64, 3), ints(DType.I64, 0)));
        assertEquals("attribute 'fmod' must be 0 or 1, got 2", assertThrows(OpException.class, () -> infer("Mod", attrs("fmod", 2), f32(1), f32(1))).getMessage());
    }

    @Test void bitShiftAndBitwiseOps() {
        Attributes left = attrs("direction", "LEFT"), right = attrs("direction", "RIGHT");
        assertArrayEquals(new long[] {32, 16, 8, 0}, longs(run("BitShift", left, ints(DType.U8, 16, 4, 1, 1), ints(DType.U8, 1, 2, 3, 8))));
        assertArrayEquals(new long[] {8, 1, 0}, longs(run("BitShift", right, ints(DType.U8, 16, 4, 255), ints(DType.U8, 1, 2, 9))));
        // signed: left shifts wrap, right shifts are arithmetic, out-of-range amounts shift everything out
        assertArrayEquals(new long[] {-128, -128, 0, 0}, longs(run("BitShift", left, ints(DType.I8, 64, 1, 4, 4), ints(DType.I8, 1, 7, -1, 8))));
        assertArrayEquals(new long[] {-4, -1, 0, -1}, longs(run("BitShift", right, ints(DType.I8, -8, -8, 4, -1), ints(DType.I8, 1, 9, -8, 100))));
        assertEquals("attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"UP\"",
                assertThrows(OpException.class, () -> infer("BitShift", attrs("direction", "UP"), ints(DType.U8, 1), ints(DType.U8, 1))).getMessage());
        assertEquals("input X must be i8, u8, i32 or i64, got f32", failure("BitShift", left, f32(1), f32(1)));
        assertArrayEquals(new long[] {0b1000, 0b1110, 0b0110}, new long[] {
                longs(run("BitwiseAnd", ints(DType.I32, 0b1100), ints(DType.I32, 0b1010)))[0],
                longs(run("BitwiseOr", ints(DType.I32, 0b1100), ints(DType.I32, 0b1010)))[0],
                longs(run("BitwiseXor", ints(DType.I32, 0b1100), ints(DType.I32, 0b1010)))[0]});
        assertArrayEquals(new long[] {255, 0, 254}, longs(run("BitwiseNot", ints(DType.U8, 0, 255, 1))));
        assertArrayEquals(new long[] {-1, 5}, longs(run("BitwiseNot", ints(DType.I64, 0, -6))));
    }

    @Test void isInfSwishShrink() {
        Tensor x = f32(Float.NEGATIVE_INFINITY, 1, Float.POSITIVE_INFINITY, Float.NaN);
        assertArrayEquals(new long[] {1, 0, 1, 0}, longs(run("IsInf", x)));
        assertArrayEquals(new long[] {0, 0, 1, 0}, longs(run("IsInf", attrs("detect_negative", 0), x)));
        assertArrayEquals(new long[] {1, 0, 0, 0}, longs(run("IsInf", attrs("detect_positive", 0), x)));
        assertClose(new float[] {0, (float) (2 / (1 + Math.exp(-2))), (float) (1 / (1 + Math.exp(-1)))}, run("Swish", f32(0, 2, 1)), 1e-6f);
        assertClose(new float[] {0, (float) (1 / (1 + Math.exp(-0.5)))}, run("Swish", attrs("alpha", 0.5f), f32(0, 1)), 1e-6f);
        assertArrayEquals(new float[] {-1.5f, 0, 0, 1.5f}, floats(run("Shrink", attrs("bias", 0.5f, "lambd", 1f), f32(-2, -1, 1, 2))));
        assertArrayEquals(new long[] {-1, 0, 1}, longs(run("Shrink", attrs("bias", 1f, "lambd", 1f), ints(DType.I32, -2, 1, 2))));
    }

    // ---- through the graph layer -----------------------------------------------------------

    @Test void runsInAGraphAndErrorsNameTheNode() {
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.input("x", DType.F32, 2, 3);
        Value y = b.relu(b.add(x, b.constant("bias", Shape.of(3), -1, 0, 1)));
        Graph g = b.output(y).build();
        Map<String, Tensor> out = new ReferenceInterpreter().run(g, Map.of("x", f32(dims(2, 3), 1, -2, 3, 0.5f, 0.5f, -5)));
        assertArrayEquals(new float[] {0, 0, 4, 0, 0.5f, 0}, floats(out.get(y.name())));
        Value i = b.input("i", DType.I32, 3);
        IrException e = assertThrows(IrException.class, () -> b.sigmoid(i));
        assertEquals("node 'sigmoid' (Sigmoid): input X must be f32, f16, bf16 or f64, got i32", e.getMessage());
    }

    // ---- broadcasting against a naive model ------------------------------------------------

    /** Every broadcast of two random rank-3 shapes gives what per-coordinate indexing gives, on every loop path. */
    @Property(tries = 200)
    void broadcastMatchesCoordinateModel(@ForAll @IntRange(min = 0, max = 63) int maskA, @ForAll @IntRange(min = 0, max = 63) int maskB,
                                         @ForAll @IntRange(min = 0, max = 2) int dropA) {
        int[] full = {2, 3, 4};
        int[] da = new int[3 - dropA], db = new int[3];
        for (int d = 0; d < 3; d++) {
            db[d] = (maskB >> d & 1) != 0 ? 1 : full[d];
            if (d >= dropA) da[d - dropA] = (maskA >> d & 1) != 0 ? 1 : full[d];
        }
        Tensor a = Tensor.zeros(DType.F32, Shape.of(da)), b = Tensor.zeros(DType.F32, Shape.of(db));
        for (int i = 0; i < a.size(); i++) a.floats()[i] = i + 1;
        for (int i = 0; i < b.size(); i++) b.floats()[i] = 1000 * (i + 1);
        Tensor y = run("Sub", a, b);
        Shape s = y.shape();
        int[] coord = new int[s.rank()];
        for (int k = 0; k < y.size(); k++) {
            int rem = k;
            for (int d = s.rank() - 1; d >= 0; d--) { coord[d] = rem % s.dim(d); rem /= s.dim(d); }
            float want = a.floats()[flat(a.shape(), coord)] - b.floats()[flat(b.shape(), coord)];
            assertEquals(want, y.floats()[k], "element " + k + " of " + a.shape() + " - " + b.shape());
        }
    }

    private static int flat(Shape in, int[] outCoord) {
        int off = outCoord.length - in.rank(), idx = 0;
        for (int d = 0; d < in.rank(); d++) idx = idx * in.dim(d) + (in.dim(d) == 1 ? 0 : outCoord[off + d]);
        return idx;
    }
}
