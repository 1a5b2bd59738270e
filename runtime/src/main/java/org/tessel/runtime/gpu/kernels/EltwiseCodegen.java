package org.tessel.runtime.gpu.kernels;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;

/**
 * Generates the CUDA C kernel of tactic {@code tessel.eltwise.fused} from a chain of elementwise
 * ops: the body of a {@code tessel.Fused} node, or any graph of elementwise IR ops. One thread
 * computes one element of the outputs: it loads each input at that element's coordinate
 * (broadcasting numpy-style, in each value's own physical layout), evaluates the ops in f32 with
 * f16/bf16 results rounded after every op as the reference does, and stores every output. No
 * intermediate touches device memory.
 *
 * <p>Scalar constants of the body become literals; larger constants become extra kernel inputs
 * that {@link FusedEltwiseKernel} uploads once. The iteration space is the first output's shape
 * and layout; every value must broadcast onto it.
 */
public final class EltwiseCodegen {
    public static final String KERNEL_NAME = "tessel_eltwise_fused";

    private EltwiseCodegen() {}

    /** Ops the generator handles, for messages and for the tactic's applicability check. */
    public static final Set<String> SUPPORTED = new TreeSet<>(List.of(
            "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu",
            "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Exp", "Log", "Sqrt",
            "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Softplus", "Softsign", "Mish", "Elu", "Selu", "Celu",
            "ThresholdedRelu", "Swish", "Sin", "Cos", "Tan", "Identity", "Cast"));

    /** The generated kernel and what its parameters bind to, in order: inputs, extra constants, outputs. */
    public record Source(String code, List<Value> inputs, List<Value> constantInputs, List<Value> outputs, TensorType iteration) {
        public long elements() { return iteration.numElements(); }
        /** Parameters in kernel order: body inputs, then uploaded constants, then outputs. */
        public int parameterCount() { return inputs.size() + constantInputs.size() + outputs.size(); }
    }

    /** Whether every node of {@code body} is an op the generator supports on floating types. */
    public static boolean supports(Graph body) {
        for (Node n : body.nodes()) {
            if (!SUPPORTED.contains(n.opName()) || n.body() != null || n.outputs().size() != 1) return false;
            if (!org.tessel.runtime.gpu.CudaTypes.supported(n.output().type().dtype())) return false;
        }
        for (Value v : body.inputs()) if (!org.tessel.runtime.gpu.CudaTypes.supported(v.type().dtype())) return false;
        return !body.outputs().isEmpty();
    }

    /** The kernel for a {@code tessel.Fused} node's body. */
    public static Source generate(Node fused) {
        if (!fused.opName().equals(TesselOps.FUSED) || fused.body() == null)
            throw new IllegalArgumentException(fused.describe() + " is not a fused node with a body");
        return generate(fused.body());
    }

    public static Source generate(Graph body) {
        return generate(body, Map.of(), null);
    }

    /**
     * The kernel for an engine: body inputs in {@code literalInputs} become literals (scalar
     * constants bound from outside the body) and are not parameters; when {@code floatStorage} is
     * given, every floating value is loaded and stored in that type and the ops compute in f32
     * without per-op rounding (the engine's precision picks storage, not arithmetic). Integer body
     * inputs (only as operands of Cast) are read as 32-bit ints ({@code int} storage).
     */
    public static Source generate(Graph body, Map<Value, Float> literalInputs, DType floatStorage) {
        java.util.function.Function<Value, DType> st = v -> v.type().dtype().isInteger() ? DType.I32
                : floatStorage != null ? floatStorage : v.type().dtype();
        boolean engine = floatStorage != null;
        if (body.outputs().isEmpty()) throw new IllegalArgumentException("graph '" + body.name() + "' has no outputs to compute");
        TensorType iter = body.outputs().get(0).type();
        Shape s = iter.shape();
        for (Value o : body.outputs())
            if (!o.type().shape().equals(s))
                throw new IllegalArgumentException("graph '" + body.name() + "': output %" + o.name() + " has shape " + o.type().shape()
                        + " but the first output has " + s + "; a fused elementwise kernel writes outputs of one shape");
        int rank = s.rank();
        Layout outLayout = physical(iter.layout(), rank);
        int[] perm = perm(outLayout, rank);
        long n = s.numElements();
        String idx = n < Integer.MAX_VALUE / 2 ? "int" : "long long";
        boolean[] needCoord = new boolean[rank];

        // parameters: body inputs, then non-scalar constants (uploaded), then outputs
        Map<Value, String> scalarLiterals = new IdentityHashMap<>();
        List<Value> constantInputs = new ArrayList<>();
        List<Value> paramValues = new ArrayList<>();
        for (Value v : body.inputs()) {
            Float lit = literalInputs.get(v);
            if (lit != null) scalarLiterals.put(v, literal(lit));
            else paramValues.add(v);
        }
        List<Value> boundInputs = List.copyOf(paramValues);
        for (Value c : body.constants()) {
            if (c.type().numElements() == 1) scalarLiterals.put(c, literal(c.constantValue()));
            else { constantInputs.add(c); paramValues.add(c); }
        }
        List<String> paramOffsets = new ArrayList<>();
        StringBuilder params = new StringBuilder();
        for (int p = 0; p < paramValues.size(); p++) {
            Value v = paramValues.get(p);
            DType t = st.apply(v);
            if (t != DType.I32) org.tessel.runtime.gpu.CudaTypes.require(t, "graph '" + body.name() + "' value %" + v.name());
            if (p > 0) params.append(", ");
            params.append("const ").append(t == DType.I32 ? "int" : org.tessel.runtime.gpu.CudaTypes.storage(t)).append("* __restrict__ in").append(p);
            paramOffsets.add(offset(v.type(), s, outLayout, needCoord, idx));
        }
        List<String> outOffsets = new ArrayList<>();
        for (int o = 0; o < body.outputs().size(); o++) {
            Value v = body.outputs().get(o);
            org.tessel.runtime.gpu.CudaTypes.require(st.apply(v), "graph '" + body.name() + "' output %" + v.name());
            if (params.length() > 0) params.append(", ");
            params.append(org.tessel.runtime.gpu.CudaTypes.storage(st.apply(v))).append("* __restrict__ out").append(o);
            outOffsets.add(offset(v.type(), s, outLayout, needCoord, idx));
        }
        String ops = opsCode(body, paramValues, scalarLiterals, s, engine);

        StringBuilder src = new StringBuilder();
        src.append(KernelCompiler.prelude());
        src.append("// tessel.eltwise.fused generated from graph '").append(body.name()).append("': ")
                .append(body.nodes().size()).append(" ops over ").append(iter).append('\n');
        // scalar kernel: one element per thread, grid-stride
        src.append("extern \"C\" __global__ void ").append(KERNEL_NAME).append('(').append(params).append(", long long n) {\n");
        src.append("    const ").append(idx).append(" stride = (").append(idx).append(") gridDim.x * blockDim.x;\n");
        src.append("    for (").append(idx).append(" i = (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; i < (").append(idx)
                .append(") n; i += stride) {\n");
        src.append(element(body, st, paramValues, paramOffsets, outOffsets, ops, coords(s, perm, needCoord, idx, "        "), false, "        "));
        src.append("    }\n}\n");
        // vector kernel: VEC consecutive elements per thread with 16- or 8-byte accesses to
        // contiguous operands (memory-level parallelism); the tail runs element by element
        src.append("extern \"C\" __global__ void ").append(KERNEL_NAME).append(VEC_SUFFIX).append('(').append(params).append(", long long n) {\n");
        src.append("    const ").append(idx).append(" stride = (").append(idx).append(") gridDim.x * blockDim.x;\n");
        src.append("    const ").append(idx).append(" nvec = (").append(idx).append(") (n / ").append(VEC).append(");\n");
        src.append("    for (").append(idx).append(" v = (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += stride) {\n");
        src.append("        const ").append(idx).append(" i0 = v * ").append(VEC).append(";\n");
        for (int p = 0; p < paramValues.size(); p++)
            if (vectorLoad(paramOffsets.get(p), st.apply(paramValues.get(p))))
                src.append("        float vin").append(p).append('[').append(VEC).append("]; tessel_ld4_").append(st.apply(paramValues.get(p)).text())
                        .append("(in").append(p).append(", i0, vin").append(p).append(");\n");
        for (int o = 0; o < outOffsets.size(); o++)
            if (outOffsets.get(o).equals("i")) src.append("        float vout").append(o).append('[').append(VEC).append("];\n");
        src.append("#pragma unroll\n        for (int e = 0; e < ").append(VEC).append("; e++) {\n");
        src.append("            const ").append(idx).append(" i = i0 + e;\n");
        src.append(element(body, st, paramValues, paramOffsets, outOffsets, ops, coords(s, perm, needCoord, idx, "            "), true, "            "));
        src.append("        }\n");
        for (int o = 0; o < outOffsets.size(); o++)
            if (outOffsets.get(o).equals("i"))
                src.append("        tessel_st4_").append(st.apply(body.outputs().get(o)).text()).append("(out").append(o).append(", i0, vout").append(o).append(");\n");
        src.append("    }\n");
        src.append("    for (").append(idx).append(" i = nvec * ").append(VEC).append(" + (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; i < (")
                .append(idx).append(") n; i += stride) {\n");
        src.append(element(body, st, paramValues, paramOffsets, outOffsets, ops, coords(s, perm, needCoord, idx, "        "), false, "        "));
        src.append("    }\n}\n");
        return new Source(src.toString(), boundInputs, List.copyOf(constantInputs), List.copyOf(body.outputs()), iter);
    }

    /** Whether the vector kernel loads this parameter four at a time (contiguous floating operands). */
    private static boolean vectorLoad(String offset, DType storage) { return offset.equals("i") && storage != DType.I32; }

    /** Elements per thread in the vector kernel. */
    public static final int VEC = 4;
    public static final String VEC_SUFFIX = "_vec4";

    /** Coordinates the offsets need: the physical linear index decomposed, innermost physical dimension first. */
    private static String coords(Shape s, int[] perm, boolean[] needCoord, String idx, String indent) {
        int rank = s.rank();
        int last = -1;
        for (int k = rank - 1; k >= 0; k--) if (needCoord[perm[k]]) last = k;
        if (last < 0) return "";
        StringBuilder c = new StringBuilder();
        c.append(indent).append(idx).append(" r = i;\n");
        for (int k = rank - 1; k >= last; k--) {
            int dim = perm[k];
            int size = s.dim(dim);
            if (k == last) c.append(indent).append("const ").append(idx).append(" c").append(dim).append(" = r").append(k > 0 ? " % " + size : "").append(";\n");
            else c.append(indent).append("const ").append(idx).append(" c").append(dim).append(" = r % ").append(size).append("; r /= ").append(size).append(";\n");
        }
        return c.toString();
    }

    /**
     * The ops of the body as statements over values named x0.. (parameters) and t0.. (results);
     * scalar constants are literals.
     */
    private static String opsCode(Graph body, List<Value> paramValues, Map<Value, String> literals, Shape s, boolean engine) {
        Map<Value, String> expr = new IdentityHashMap<>(literals);
        for (int p = 0; p < paramValues.size(); p++) expr.put(paramValues.get(p), "x" + p);
        StringBuilder code = new StringBuilder();
        int tmp = 0;
        for (Node node : body.nodes()) {
            if (node.outputs().size() != 1 || node.body() != null)
                throw new IllegalArgumentException(node.describe() + ": a fused elementwise kernel takes single-output ops without bodies");
            Value out = node.output();
            DType t = out.type().dtype();
            if (!org.tessel.runtime.gpu.CudaTypes.supported(t))
                throw new IllegalArgumentException(node.describe() + ": result type " + t.text() + " is not f32, f16 or bf16");
            if (!broadcastsOnto(out.type().shape(), s))
                throw new IllegalArgumentException(node.describe() + ": result shape " + out.type().shape() + " does not broadcast onto the kernel's shape " + s);
            List<String> a = new ArrayList<>();
            for (Value in : node.inputs()) {
                if (in == null) { a.add(null); continue; }
                String e = expr.get(in);
                if (e == null) throw new IllegalArgumentException(node.describe() + ": input %" + in.name() + " is not computed before it (graph not in order?)");
                a.add(e);
            }
            String var = "t" + tmp++;
            if (node.opName().equals("Cast") && !node.input(0).type().dtype().isInteger() && !org.tessel.runtime.gpu.CudaTypes.supported(node.input(0).type().dtype()))
                throw new IllegalArgumentException(node.describe() + ": Cast from " + node.input(0).type().dtype().text() + " (supported: f32, f16, bf16 and integer inputs)");
            code.append("@const float ").append(var).append(" = ").append(engine ? opExpr(node, a) : org.tessel.runtime.gpu.CudaTypes.round(t, opExpr(node, a)))
                    .append(";   // ").append(node.describe()).append('\n');
            expr.put(out, var);
        }
        for (int o = 0; o < body.outputs().size(); o++) code.append("@#out").append(o).append('=').append(expr.get(body.outputs().get(o))).append('\n');
        return code.toString();
    }

    /** One element's loads, ops and stores at index i; in the vector kernel contiguous operands come from vin/vout arrays. */
    private static String element(Graph body, java.util.function.Function<Value, DType> st, List<Value> paramValues, List<String> paramOffsets, List<String> outOffsets, String ops,
                                  String coords, boolean vec, String indent) {
        StringBuilder e = new StringBuilder(coords);
        for (int p = 0; p < paramValues.size(); p++) {
            Value v = paramValues.get(p);
            DType t = st.apply(v);
            String load = vec && vectorLoad(paramOffsets.get(p), t) ? "vin" + p + "[e]"
                    : t == DType.I32 ? "(float) in" + p + "[" + paramOffsets.get(p) + "]"
                    : org.tessel.runtime.gpu.CudaTypes.load(t, "in" + p, paramOffsets.get(p));
            e.append(indent).append("const float x").append(p).append(" = ").append(load).append(";   // %").append(v.name()).append(' ').append(v.type()).append('\n');
        }
        for (String line : ops.split("\n")) {
            if (line.isEmpty()) continue;
            if (line.startsWith("@#out")) {
                int eq = line.indexOf('=');
                int o = Integer.parseInt(line.substring(5, eq));
                String value = line.substring(eq + 1);
                Value v = body.outputs().get(o);
                if (vec && outOffsets.get(o).equals("i")) e.append(indent).append("vout").append(o).append("[e] = ").append(value).append(";   // %").append(v.name()).append('\n');
                else e.append(indent).append("out").append(o).append('[').append(outOffsets.get(o)).append("] = ")
                        .append(org.tessel.runtime.gpu.CudaTypes.store(st.apply(v), value)).append(";   // %").append(v.name()).append('\n');
            } else e.append(indent).append(line.substring(1)).append('\n');
        }
        return e.toString();
    }

    static boolean broadcastsOnto(Shape v, Shape s) {
        if (v.rank() > s.rank()) return false;
        int off = s.rank() - v.rank();
        for (int i = 0; i < v.rank(); i++) if (v.dim(i) != 1 && v.dim(i) != s.dim(off + i)) return false;
        return true;
    }

    private static Layout physical(Layout l, int rank) { return l == Layout.NHWC && rank >= 3 ? Layout.NHWC : Layout.NCHW; }

    /** Logical dimension stored at each physical position: identity, or [0, 2, ..., r-1, 1] for NHWC. */
    static int[] perm(Layout l, int rank) {
        int[] p = new int[rank];
        if (l == Layout.NHWC && rank >= 3) {
            p[0] = 0;
            for (int k = 1; k < rank - 1; k++) p[k] = k + 1;
            p[rank - 1] = 1;
        } else for (int k = 0; k < rank; k++) p[k] = k;
        return p;
    }

    /**
     * The element offset of a value (broadcast onto iteration shape s in layout outLayout) at the
     * current coordinate: "i" when its storage matches the iteration order, "0" for one element,
     * otherwise a sum of coordinates times strides (marking the coordinates it needs).
     */
    private static String offset(TensorType t, Shape s, Layout outLayout, boolean[] needCoord, String idx) {
        Shape vs = t.shape();
        if (vs.numElements() == 1) return "0";
        if (!broadcastsOnto(vs, s)) throw new IllegalArgumentException("value of type " + t + " does not broadcast onto " + s);
        int r = vs.rank(), off = s.rank() - r;
        Layout vl = physical(t.layout(), r);
        if (vs.equals(s) && vl == outLayout) return "i";
        int[] vp = perm(vl, r);
        long[] logicalStride = new long[r];
        long stride = 1;
        for (int k = r - 1; k >= 0; k--) {
            logicalStride[vp[k]] = stride;
            stride *= vs.dim(vp[k]);
        }
        StringBuilder e = new StringBuilder();
        for (int d = 0; d < r; d++) {
            if (vs.dim(d) == 1) continue;
            int sd = d + off;
            needCoord[sd] = true;
            if (e.length() > 0) e.append(" + ");
            e.append('c').append(sd);
            if (logicalStride[d] != 1) e.append(" * ").append(logicalStride[d]);
        }
        if (e.length() == 0) return "0";
        return "(" + e + ")";
    }

    static String literal(Tensor t) {
        return literal(t.getFloat(0));
    }

    static String literal(float v) {
        if (Float.isNaN(v)) return "__int_as_float(0x7fc00000)";
        if (v == Float.POSITIVE_INFINITY) return "TESSEL_INF";
        if (v == Float.NEGATIVE_INFINITY) return "TESSEL_NEG_INF";
        return "(" + Float.toString(v) + "f)";
    }

    private static String need(Node n, List<String> a, int i) {
        if (i >= a.size() || a.get(i) == null) throw new IllegalArgumentException(n.describe() + ": input " + i + " is missing");
        return a.get(i);
    }

    private static String opExpr(Node n, List<String> a) {
        Attributes at = n.attrs();
        String x = a.isEmpty() ? null : a.get(0);
        return switch (n.opName()) {
            case "Add" -> "(" + need(n, a, 0) + " + " + need(n, a, 1) + ")";
            case "Sub" -> "(" + need(n, a, 0) + " - " + need(n, a, 1) + ")";
            case "Mul" -> "(" + need(n, a, 0) + " * " + need(n, a, 1) + ")";
            case "Div" -> "(" + need(n, a, 0) + " / " + need(n, a, 1) + ")";
            case "Pow" -> "powf(" + need(n, a, 0) + ", " + need(n, a, 1) + ")";
            case "PRelu" -> "(" + need(n, a, 0) + " < 0.0f ? " + need(n, a, 1) + " * " + x + " : " + x + ")";
            case "Max", "Min" -> {
                // NaN-propagating like Java's Math.max/min, which the reference uses
                String f = n.opName().equals("Max") ? ">" : "<";
                String acc = need(n, a, 0);
                for (int i = 1; i < a.size(); i++) {
                    String b = need(n, a, i);
                    acc = "tessel_pick" + (f.equals(">") ? "max" : "min") + "(" + acc + ", " + b + ")";
                }
                yield acc;
            }
            case "Sum", "Mean" -> {
                StringBuilder sb = new StringBuilder("(");
                for (int i = 0; i < a.size(); i++) { if (i > 0) sb.append(" + "); sb.append(need(n, a, i)); }
                sb.append(')');
                yield n.opName().equals("Mean") ? "(" + sb + " / " + a.size() + ".0f)" : sb.toString();
            }
            case "Relu" -> "(" + need(n, a, 0) + " < 0.0f ? 0.0f : " + x + ")";
            case "LeakyRelu" -> "(" + need(n, a, 0) + " < 0.0f ? " + literal(at.getFloat("alpha", 0.01f)) + " * " + x + " : " + x + ")";
            case "Sigmoid" -> "(1.0f / (1.0f + expf(-" + need(n, a, 0) + ")))";
            case "Tanh" -> "tanhf(" + need(n, a, 0) + ")";
            case "Clip" -> {
                String v = need(n, a, 0);
                String lo = a.size() > 1 && a.get(1) != null ? a.get(1) : null;
                String hi = a.size() > 2 && a.get(2) != null ? a.get(2) : null;
                if (lo != null) v = "tessel_clip_lo(" + v + ", " + lo + ")";
                if (hi != null) v = "tessel_clip_hi(" + v + ", " + hi + ")";
                yield v;
            }
            case "HardSigmoid" -> "fmaxf(0.0f, fminf(1.0f, " + literal(at.getFloat("alpha", 0.2f)) + " * " + need(n, a, 0) + " + " + literal(at.getFloat("beta", 0.5f)) + "))";
            case "HardSwish" -> "(" + need(n, a, 0) + " * fmaxf(0.0f, fminf(1.0f, " + x + " / 6.0f + 0.5f)))";
            case "Erf" -> "erff(" + need(n, a, 0) + ")";
            case "Gelu" -> switch (at.getString("approximate", "none")) {
                case "none" -> "(0.5f * " + need(n, a, 0) + " * erfcf(-" + x + " * 0.70710678118654752f))";
                case "tanh" -> "(" + need(n, a, 0) + " / (1.0f + expf(-2.0f * 0.79788456080286536f * (" + x + " + 0.044715f * " + x + " * " + x + " * " + x + "))))";
                default -> throw new IllegalArgumentException(n.describe() + ": attribute 'approximate' must be \"none\" or \"tanh\"");
            };
            case "Exp" -> "expf(" + need(n, a, 0) + ")";
            case "Log" -> "logf(" + need(n, a, 0) + ")";
            case "Sqrt" -> "sqrtf(" + need(n, a, 0) + ")";
            case "Neg" -> "(-" + need(n, a, 0) + ")";
            case "Abs" -> "fabsf(" + need(n, a, 0) + ")";
            case "Reciprocal" -> "(1.0f / " + need(n, a, 0) + ")";
            case "Floor" -> "floorf(" + need(n, a, 0) + ")";
            case "Ceil" -> "ceilf(" + need(n, a, 0) + ")";
            case "Round" -> "rintf(" + need(n, a, 0) + ")";
            case "Sign" -> "((" + need(n, a, 0) + " > 0.0f) ? 1.0f : (" + x + " < 0.0f) ? -1.0f : " + x + ")";
            case "Softplus" -> "tessel_softplus(" + need(n, a, 0) + ")";
            case "Softsign" -> "(" + need(n, a, 0) + " / (1.0f + fabsf(" + x + ")))";
            case "Mish" -> "(" + need(n, a, 0) + " * tanhf(tessel_softplus(" + x + ")))";
            case "Elu" -> "(" + need(n, a, 0) + " < 0.0f ? " + literal(at.getFloat("alpha", 1f)) + " * expm1f(" + x + ") : " + x + ")";
            case "Selu" -> {
                String al = literal(at.getFloat("alpha", 1.67326319217681884765625f)), ga = literal(at.getFloat("gamma", 1.05070102214813232421875f));
                yield "(" + need(n, a, 0) + " > 0.0f ? " + ga + " * " + x + " : " + ga + " * (" + al + " * expf(" + x + ") - " + al + "))";
            }
            case "Celu" -> {
                String al = literal(at.getFloat("alpha", 1f));
                yield "(fmaxf(0.0f, " + need(n, a, 0) + ") + fminf(0.0f, " + al + " * expm1f(" + x + " / " + al + ")))";
            }
            case "ThresholdedRelu" -> "(" + need(n, a, 0) + " > " + literal(at.getFloat("alpha", 1f)) + " ? " + x + " : 0.0f)";
            case "Swish" -> "(" + need(n, a, 0) + " / (1.0f + expf(-" + literal(at.getFloat("alpha", 1f)) + " * " + x + ")))";
            case "Sin" -> "sinf(" + need(n, a, 0) + ")";
            case "Cos" -> "cosf(" + need(n, a, 0) + ")";
            case "Tan" -> "tanf(" + need(n, a, 0) + ")";
            case "Identity", "Cast" -> need(n, a, 0);
            default -> throw new IllegalArgumentException(n.describe() + ": no CUDA code generator for this op; supported: " + String.join(", ", SUPPORTED));
        };
    }

    /** Summary of a generated kernel, for logs: parameter names and their types. */
    public static Map<String, String> signature(Source s) {
        Map<String, String> m = new LinkedHashMap<>();
        int p = 0;
        for (Value v : s.inputs()) m.put("in" + p++, v.type().toString());
        for (Value v : s.constantInputs()) m.put("in" + p++, v.type() + " (constant)");
        int o = 0;
        for (Value v : s.outputs()) m.put("out" + o++, v.type().toString());
        return m;
    }
}
