package org.tessel.ir.ops;

import static org.tessel.ir.ops.BaseOp.def;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongUnaryOperator;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;
import org.tessel.api.Trait;

/**
 * Built-in ops: elementwise arithmetic, activations, math functions, comparisons, logic, casts and
 * quantization, with ONNX's (opset 21) names, attributes, defaults and type constraints.
 * Registered through the same OpProvider SPI a plugin uses.
 *
 * <p>Binary and variadic ops broadcast numpy-style; integer arithmetic wraps like C (and Div
 * truncates toward zero); f16/bf16 results are rounded to the type after every op.
 */
public final class ElementwiseOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    static final Kernels.Arith ADD = new Kernels.Arith((a, b) -> a + b, (a, b) -> a + b, (a, b) -> a + b);
    static final Kernels.Arith SUB = new Kernels.Arith((a, b) -> a - b, (a, b) -> a - b, (a, b) -> a - b);
    static final Kernels.Arith MUL = new Kernels.Arith((a, b) -> a * b, (a, b) -> a * b, (a, b) -> a * b);
    static final Kernels.Arith DIV = new Kernels.Arith((a, b) -> a / b, (a, b) -> a / b, ElementwiseOps::intDiv);
    static final Kernels.Arith MAX = new Kernels.Arith(Math::max, Math::max, Math::max);
    static final Kernels.Arith MIN = new Kernels.Arith(Math::min, Math::min, Math::min);

    private static long intDiv(long a, long b) {
        if (b == 0) throw new OpException("integer division by zero");
        return a / b;   // Java's long division truncates toward zero, as C does
    }

    /** Integer remainder with the sign of the divisor (fmod 0) or of the dividend (fmod 1). */
    private static long intMod(long a, long b, boolean truncated) {
        if (b == 0) throw new OpException("integer modulo by zero");
        return truncated ? a % b : Math.floorMod(a, b);
    }

    /**
     * Floating remainder with the sign of the divisor, as numpy's mod: fmod, moved into the
     * divisor's sign; a zero result takes the divisor's sign; x mod 0 and inf mod y are NaN.
     */
    static double floorMod(double a, double b) {
        double m = a % b;
        if (b == 0 || Double.isNaN(m)) return Double.NaN;
        if (m == 0) return Math.copySign(0.0, b);
        return (b < 0) != (m < 0) ? m + b : m;
    }

    static Kernels.Arith mod(org.tessel.api.Attributes attrs, DType t) {
        long fmod = attrs.getInt("fmod", 0);
        if (fmod != 0 && fmod != 1) throw new OpException("attribute 'fmod' must be 0 or 1, got " + fmod);
        if (fmod == 1) return new Kernels.Arith((a, b) -> a % b, (a, b) -> a % b, (a, b) -> intMod(a, b, true));
        return new Kernels.Arith((a, b) -> (float) floorMod(a, b), ElementwiseOps::floorMod, (a, b) -> intMod(a, b, false));
    }

    private static int bitWidth(DType t) { return t.bytes() * 8; }

    /**
     * BitShift: shifts by a negative amount or by the type's width or more shift every bit out
     * (left: 0; right: the sign fill, -1 for negative signed values); right shifts of signed
     * values are arithmetic, left shifts wrap.
     */
    static Kernels.Arith bitShift(org.tessel.api.Attributes attrs, DType t) {
        String dir = attrs.getString("direction", null);
        if (dir == null) throw new OpException("attribute 'direction' is required");
        int width = bitWidth(t);
        return switch (dir) {
            case "LEFT" -> new Kernels.Arith(null, null, (x, n) -> n < 0 || n >= width ? 0 : x << n);
            case "RIGHT" -> new Kernels.Arith(null, null, (x, n) -> n < 0 || n >= width ? (x < 0 ? -1 : 0) : x >> n);
            default -> throw new OpException("attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
        };
    }

    private static final Set<DType> INTEGERS = java.util.EnumSet.of(DType.I8, DType.U8, DType.I32, DType.I64);

    private static final Trait[] EW = {Trait.ELEMENTWISE};
    private static final Trait[] EW_COMM = {Trait.ELEMENTWISE, Trait.COMMUTATIVE};

    private static UnaryOp unary(String name, String summary, Set<DType> types, DoubleUnaryOperator f, LongUnaryOperator integer) {
        return new UnaryOp(def(name, summary).inputs(1, 1, "X").traits(EW), types, null, UnaryOp.plain(f), integer);
    }

    private static UnaryOp floatUnary(String name, String summary, DoubleUnaryOperator f) {
        return unary(name, summary, DTypeSets.FLOATS, f, null);
    }

    private static BinaryOp arith(String name, String summary, Set<DType> types, Kernels.Arith k, Trait... traits) {
        return BinaryOp.arith(def(name, summary).inputs(2, 2, "A", "B").traits(traits), types, k);
    }

    private static BinaryOp compare(String name, String summary, Set<DType> types, Kernels.Compare k, Trait... traits) {
        return BinaryOp.compare(def(name, summary).inputs(2, 2, "A", "B").traits(traits), types, k);
    }

    private static VariadicOp variadic(String name, String summary, Set<DType> types, Kernels.Arith k, boolean mean) {
        return new VariadicOp(def(name, summary).inputs(1, Integer.MAX_VALUE, "data_0").traits(EW_COMM), types, k, mean);
    }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    private static double softplus(double x) { return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)); }

    static double gelu(double x) {
        // 0.5 x (1 + erf(x / sqrt 2)) written with erfc so large negative x keeps its tiny value
        return 0.5 * x * SpecialFunctions.erfc(-x / Math.sqrt(2));
    }

    static double geluTanh(double x) {
        // 0.5 x (1 + tanh u) == x * sigmoid(2u), without the cancellation of 1 + tanh u near -1
        double u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
        return x / (1 + Math.exp(-2 * u));
    }

    private static double asinh(double x) {
        double a = Math.abs(x);
        double r = Math.log1p(a + a * a / (1 + Math.sqrt(1 + a * a)));
        return Math.copySign(r, x);
    }

    @Override public List<OpSchema> ops() {
        List<OpSchema> ops = new ArrayList<>();

        // ---- activations
        ops.add(unary("Relu", "max(x, 0)", DTypeSets.SIGNED, x -> Math.max(x, 0), v -> Math.max(v, 0)));
        ops.add(new UnaryOp(def("LeakyRelu", "x for x >= 0, alpha * x otherwise").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 0.01f, "slope for negative x"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 0.01f);
                    return x -> x < 0 ? alpha * x : x;
                }, null));
        ops.add(BinaryOp.arithOnto(def("PRelu", "x for x >= 0, slope * x otherwise; slope broadcasts onto X")
                .inputs(2, 2, "X", "slope").traits(EW), DTypeSets.union(DTypeSets.FLOATS, java.util.EnumSet.of(DType.I32, DType.I64)),
                new Kernels.Arith((x, s) -> x < 0 ? s * x : x, (x, s) -> x < 0 ? s * x : x, (x, s) -> x < 0 ? s * x : x)));
        ops.add(floatUnary("Sigmoid", "1 / (1 + exp(-x))", ElementwiseOps::sigmoid));
        ops.add(floatUnary("Tanh", "hyperbolic tangent", Math::tanh));
        ops.add(new ClipOp());
        ops.add(new UnaryOp(def("HardSigmoid", "max(0, min(1, alpha * x + beta))").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 0.2f, "slope").floatAttr("beta", 0.5f, "offset"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 0.2f), beta = a.getFloat("beta", 0.5f);
                    return x -> Math.max(0, Math.min(1, alpha * x + beta));
                }, null));
        ops.add(floatUnary("HardSwish", "x * max(0, min(1, x / 6 + 1 / 2))", x -> x * Math.max(0, Math.min(1, x / 6 + 0.5))));
        ops.add(unary("Erf", "the error function", DTypeSets.NUMERIC, SpecialFunctions::erf, null));
        ops.add(new UnaryOp(def("Gelu", "Gaussian error linear unit, exact or with the tanh approximation").inputs(1, 1, "X").traits(EW)
                .stringAttr("approximate", "none", "\"none\" (erf) or \"tanh\""), DTypeSets.FLOATS, null, a -> {
                    String mode = a.getString("approximate", "none");
                    return switch (mode) {
                        case "none" -> ElementwiseOps::gelu;
                        case "tanh" -> ElementwiseOps::geluTanh;
                        default -> throw new OpException("attribute 'approximate' must be \"none\" or \"tanh\", got \"" + mode + "\"");
                    };
                }, null));

        // ---- arithmetic
        ops.add(arith("Add", "a + b with broadcasting", DTypeSets.NUMERIC, ADD, EW_COMM));
        ops.add(arith("Sub", "a - b with broadcasting", DTypeSets.NUMERIC, SUB, EW));
        ops.add(arith("Mul", "a * b with broadcasting", DTypeSets.NUMERIC, MUL, EW_COMM));
        ops.add(arith("Div", "a / b with broadcasting; integers truncate toward zero", DTypeSets.NUMERIC, DIV, EW));
        ops.add(new PowOp());
        ops.add(floatUnary("Sqrt", "square root", Math::sqrt));
        ops.add(floatUnary("Exp", "e to the x", Math::exp));
        ops.add(floatUnary("Log", "natural logarithm", Math::log));
        ops.add(unary("Neg", "-x", DTypeSets.SIGNED, x -> -x, v -> -v));
        ops.add(unary("Abs", "|x|", DTypeSets.NUMERIC, Math::abs, Math::abs));
        ops.add(floatUnary("Reciprocal", "1 / x", x -> 1 / x));
        ops.add(variadic("Sum", "elementwise sum of all inputs, broadcast together", DTypeSets.FLOATS, ADD, false));
        ops.add(variadic("Max", "elementwise maximum of all inputs, broadcast together", DTypeSets.NUMERIC, MAX, false));
        ops.add(variadic("Min", "elementwise minimum of all inputs, broadcast together", DTypeSets.NUMERIC, MIN, false));
        ops.add(variadic("Mean", "elementwise mean of all inputs, broadcast together", DTypeSets.FLOATS, ADD, true));

        // ---- comparison and logic (bool results)
        ops.add(compare("Equal", "a == b", DTypeSets.ALL, new Kernels.Compare((a, b) -> a == b, (a, b) -> a == b), EW_COMM));
        ops.add(compare("Less", "a < b", DTypeSets.NUMERIC, new Kernels.Compare((a, b) -> a < b, (a, b) -> a < b), EW));
        ops.add(compare("Greater", "a > b", DTypeSets.NUMERIC, new Kernels.Compare((a, b) -> a > b, (a, b) -> a > b), EW));
        ops.add(compare("LessOrEqual", "a <= b", DTypeSets.NUMERIC, new Kernels.Compare((a, b) -> a <= b, (a, b) -> a <= b), EW));
        ops.add(compare("GreaterOrEqual", "a >= b", DTypeSets.NUMERIC, new Kernels.Compare((a, b) -> a >= b, (a, b) -> a >= b), EW));
        ops.add(new UnaryOp(def("IsNaN", "true where x is NaN").inputs(1, 1, "X").traits(EW), DTypeSets.FLOATS, DType.BOOL,
                UnaryOp.plain(x -> Double.isNaN(x) ? 1 : 0), null));
        ops.add(unary("Not", "logical not", DTypeSets.BOOL, x -> x == 0 ? 1 : 0, v -> v == 0 ? 1 : 0));
        ops.add(arith("And", "logical and with broadcasting", DTypeSets.BOOL, new Kernels.Arith(null, null, (a, b) -> a & b), EW_COMM));
        ops.add(arith("Or", "logical or with broadcasting", DTypeSets.BOOL, new Kernels.Arith(null, null, (a, b) -> a | b), EW_COMM));
        ops.add(arith("Xor", "logical exclusive or with broadcasting", DTypeSets.BOOL, new Kernels.Arith(null, null, (a, b) -> a ^ b), EW_COMM));

        ops.add(BinaryOp.arith(def("Mod", "remainder of a / b with the sign of b (fmod 0) or of a (fmod 1)")
                .inputs(2, 2, "A", "B").traits(EW).intAttr("fmod", 0, "0: remainder takes the divisor's sign; 1: C fmod, the dividend's sign"),
                DTypeSets.NUMERIC, ElementwiseOps::mod));
        ops.add(BinaryOp.arith(def("BitShift", "x shifted left or right by y bits").inputs(2, 2, "X", "Y").traits(EW)
                .requiredAttr("direction", org.tessel.api.AttrValue.Kind.STRING, "\"LEFT\" or \"RIGHT\""), INTEGERS, ElementwiseOps::bitShift));
        ops.add(arith("BitwiseAnd", "bitwise and with broadcasting", INTEGERS, new Kernels.Arith(null, null, (a, b) -> a & b), EW_COMM));
        ops.add(arith("BitwiseOr", "bitwise or with broadcasting", INTEGERS, new Kernels.Arith(null, null, (a, b) -> a | b), EW_COMM));
        ops.add(arith("BitwiseXor", "bitwise exclusive or with broadcasting", INTEGERS, new Kernels.Arith(null, null, (a, b) -> a ^ b), EW_COMM));
        ops.add(unary("BitwiseNot", "bitwise complement", INTEGERS, x -> ~(long) x, v -> ~v));
        ops.add(new UnaryOp(def("IsInf", "true where x is infinite (of the detected signs)").inputs(1, 1, "X").traits(EW)
                .intAttr("detect_negative", 1, "report -inf").intAttr("detect_positive", 1, "report +inf"), DTypeSets.FLOATS, DType.BOOL, a -> {
                    boolean neg = a.getInt("detect_negative", 1) != 0, pos = a.getInt("detect_positive", 1) != 0;
                    return x -> (x == Double.NEGATIVE_INFINITY && neg) || (x == Double.POSITIVE_INFINITY && pos) ? 1 : 0;
                }, null));

        // ---- casts and quantization
        ops.add(CastOp.cast());
        ops.add(CastOp.castLike());
        ops.add(new QuantizeOps.Quantize());
        ops.add(new QuantizeOps.Dequantize());

        // ---- further ONNX math functions and activations
        ops.add(floatUnary("Floor", "largest integer <= x", Math::floor));
        ops.add(floatUnary("Ceil", "smallest integer >= x", Math::ceil));
        ops.add(floatUnary("Round", "nearest integer, halves to even", Math::rint));
        ops.add(unary("Sign", "-1, 0 or 1 by the sign of x", DTypeSets.NUMERIC, Math::signum, Long::signum));
        ops.add(floatUnary("Softplus", "log(1 + exp(x))", ElementwiseOps::softplus));
        ops.add(floatUnary("Softsign", "x / (1 + |x|)", x -> x / (1 + Math.abs(x))));
        ops.add(floatUnary("Mish", "x * tanh(softplus(x))", x -> x * Math.tanh(softplus(x))));
        ops.add(new UnaryOp(def("Elu", "x for x >= 0, alpha * (exp(x) - 1) otherwise").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 1f, "scale of the negative part"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 1f);
                    return x -> x < 0 ? alpha * Math.expm1(x) : x;
                }, null));
        ops.add(new UnaryOp(def("Selu", "gamma * x for x > 0, gamma * (alpha * exp(x) - alpha) otherwise").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 1.67326319217681884765625f, "scale of the negative part")
                .floatAttr("gamma", 1.05070102214813232421875f, "overall scale"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 1.67326319217681884765625f), gamma = a.getFloat("gamma", 1.05070102214813232421875f);
                    return x -> x > 0 ? gamma * x : gamma * (alpha * Math.exp(x) - alpha);
                }, null));
        ops.add(new UnaryOp(def("Celu", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 1f, "scale of the negative part"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 1f);
                    if (alpha == 0) throw new OpException("attribute 'alpha' must not be 0");
                    return x -> Math.max(0, x) + Math.min(0, alpha * Math.expm1(x / alpha));
                }, null));
        ops.add(new UnaryOp(def("ThresholdedRelu", "x for x > alpha, 0 otherwise").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 1f, "threshold"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 1f);
                    return x -> x > alpha ? x : 0;
                }, null));
        ops.add(new UnaryOp(def("Swish", "x * sigmoid(alpha * x)").inputs(1, 1, "X").traits(EW)
                .floatAttr("alpha", 1f, "scale inside the sigmoid"), DTypeSets.FLOATS, null, a -> {
                    double alpha = a.getFloat("alpha", 1f);
                    return x -> x * sigmoid(alpha * x);
                }, null));
        ops.add(new UnaryOp(def("Shrink", "x + bias below -lambd, x - bias above lambd, 0 between").inputs(1, 1, "input").traits(EW)
                .floatAttr("bias", 0f, "added below -lambd, subtracted above lambd").floatAttr("lambd", 0.5f, "half width of the zeroed band"),
                DTypeSets.NUMERIC, null, a -> {
                    double bias = a.getFloat("bias", 0f), lambd = a.getFloat("lambd", 0.5f);
                    return x -> x < -lambd ? x + bias : x > lambd ? x - bias : 0;
                }, null));
        ops.add(floatUnary("Sin", "sine", Math::sin));
        ops.add(floatUnary("Cos", "cosine", Math::cos));
        ops.add(floatUnary("Tan", "tangent", Math::tan));
        ops.add(floatUnary("Asin", "arcsine", Math::asin));
        ops.add(floatUnary("Acos", "arccosine", Math::acos));
        ops.add(floatUnary("Atan", "arctangent", Math::atan));
        ops.add(floatUnary("Sinh", "hyperbolic sine", Math::sinh));
        ops.add(floatUnary("Cosh", "hyperbolic cosine", Math::cosh));
        ops.add(floatUnary("Asinh", "inverse hyperbolic sine", ElementwiseOps::asinh));
        ops.add(floatUnary("Acosh", "inverse hyperbolic cosine", x -> Math.log(x + Math.sqrt(x * x - 1))));
        ops.add(floatUnary("Atanh", "inverse hyperbolic tangent", x -> 0.5 * Math.log1p(2 * x / (1 - x))));
        return List.copyOf(ops);
    }
}
