package org.tessel.runtime.gpu.kernels;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.tessel.tactics.eltwise.EltwiseTactics;

/**
 * Generates the CUDA C kernel of tactics {@code tessel.eltwise.fused}, {@code tessel.eltwise} and
 * {@code tessel.cast} from a chain of elementwise ops: the body of a {@code tessel.Fused} node, one
 * op as a one-op body ({@link #singleOpBody}), or any graph of elementwise IR ops. One thread
 * computes one element of the outputs: it loads each input at that element's coordinate
 * (broadcasting numpy-style, in each value's own physical layout), evaluates the ops and stores
 * every output. No intermediate touches device memory.
 *
 * <p>Every value keeps its ONNX element type: floating values compute in f32 (f16/bf16 results
 * rounded after every op as the reference does, unless an engine's storage type is given);
 * integers compute in their own type with ONNX's semantics (wrapping arithmetic, division
 * truncating toward zero, Mod by the fmod attribute, BitShift by direction); comparisons and
 * logic give bool. On the device integers live as i32 (as the GPU engine keeps them) and bools as
 * one byte each.
 *
 * <p>Scalar constants of the body become literals; larger constants become extra kernel inputs
 * that {@link FusedEltwiseKernel} uploads once. The iteration space is the first output's shape
 * and layout; every value must broadcast onto it.
 *
 * <p>Each source holds two kernels: {@link #KERNEL_NAME}, one element per thread, and a vector
 * kernel ({@link Source#vectorKernelName()}) where a thread computes {@link Source#vec()}
 * consecutive elements with the same per-element code, loading and storing its floating operands
 * {@code vec} at a time where they are contiguous along the iteration's innermost physical
 * dimension: values laid out as the iteration, and broadcast values with stride 1 along that
 * dimension (a bias [C] over [..., C], a per-channel operand over channels-last data) when its
 * size is a multiple of {@code vec}. The width is 8 (16-byte accesses) when every operand so
 * accessed is stored in 16 bits, else 4; elements past the last multiple of it run one per thread.
 */
public final class EltwiseCodegen {
    public static final String KERNEL_NAME = "tessel_eltwise_fused";

    private EltwiseCodegen() {}

    /** Ops the generator handles: the catalogue's list ({@link EltwiseTactics#ENGINE_BODY_OPS}), for messages and applicability checks. */
    public static final Set<String> SUPPORTED = EltwiseTactics.ENGINE_BODY_OPS;

    /**
     * The generated kernels and what their parameters bind to, in order: inputs, extra constants, outputs. The vector kernel
     * ({@link #vectorKernelName()}) computes {@code vec} consecutive elements per thread; {@code vectorParameters} are the
     * positions (in kernel order) of the parameters it loads or stores {@code vec} elements at a time, whose buffers must
     * then be {@link #VECTOR_ALIGNMENT}-byte aligned ({@link #vectorAligned}).
     */
    public record Source(String code, List<Value> inputs, List<Value> constantInputs, List<Value> outputs, TensorType iteration,
                         int vec, List<Integer> vectorParameters) {
        public long elements() { return iteration.numElements(); }
        /** Parameters in kernel order: body inputs, then uploaded constants, then outputs. */
        public int parameterCount() { return inputs.size() + constantInputs.size() + outputs.size(); }
        /** The vector kernel's name: {@link #KERNEL_NAME} with {@code _vec4} or {@code _vec8}. */
        public String vectorKernelName() { return EltwiseCodegen.vectorKernelName(vec); }
        /** Threads the vector kernel needs for all of its whole vectors (the scalar tail runs on the same threads). */
        public long vectorThreads() { return Math.max(1, elements() / vec); }
        /**
         * Whether the vector kernel may run on these buffers (one per parameter, in kernel order): every buffer it
         * accesses {@code vec} elements at a time is {@link #VECTOR_ALIGNMENT}-byte aligned (views may not be).
         */
        public boolean vectorAligned(List<org.tessel.runtime.cuda.DeviceBuffer> parameters) {
            if (parameters.size() != parameterCount())
                throw new IllegalArgumentException("the kernel takes " + parameterCount() + " parameters, got " + parameters.size() + " buffers");
            for (int p : vectorParameters) if (parameters.get(p).address() % VECTOR_ALIGNMENT != 0) return false;
            return true;
        }
    }

    private static String vectorKernelName(int vec) { return KERNEL_NAME + "_vec" + vec; }

    /** The alignment, in bytes, the vector kernel's accesses need (they are at most 16 bytes, at multiples of their size). */
    public static final int VECTOR_ALIGNMENT = 16;

    /** Whether every node of {@code body} is an op the generator supports on types it holds. */
    public static boolean supports(Graph body) {
        for (Node n : body.nodes()) if (EltwiseTactics.generatorWhyNot(n) != null) return false;
        for (Value v : body.inputs()) if (!EltwiseTactics.ENGINE_DTYPES.contains(v.type().dtype())) return false;
        return !body.outputs().isEmpty();
    }

    /**
     * One elementwise node as a one-op body (inputs {@code in0..}, absent optional inputs kept absent), which
     * {@link #generate(Graph, Map, DType)} turns into the kernel of {@code tessel.eltwise} or {@code tessel.cast}.
     */
    public static Graph singleOpBody(Node n) {
        if (n.outputs().size() != 1) throw new IllegalArgumentException(n.describe() + ": elementwise op with " + n.outputs().size() + " outputs");
        Graph g = new Graph("eltwise_" + n.name().replaceAll("[^A-Za-z0-9_]", "_"));
        List<Value> ins = new ArrayList<>();
        for (int i = 0; i < n.numInputs(); i++) ins.add(n.input(i) == null ? null : g.addInput("in" + i, n.input(i).type()));
        // the node's own output type, layout included: inferred again, a Relu of an NHWC tensor came out without its layout,
        // and the kernel stored its result in logical (NCHW) order into the NHWC buffer (GoogLeNet's FP16/FP32 plans, 2026-12-06)
        Node m = g.insertNode(0, n.op(), n.name(), ins, n.attrs(), List.of(n.output().type()), null, null);
        g.setOutputs(List.of(m.output()));
        return g;
    }

    /** The values the inputs of {@link #singleOpBody}{@code (n)} stand for, in order: {@code n}'s inputs less the absent ones. */
    public static List<Value> singleOpOperands(Node n) {
        List<Value> out = new ArrayList<>();
        for (Value v : n.inputs()) if (v != null) out.add(v);
        return out;
    }

    /** The body inputs whose outer values ({@code outerInputs}, one per body input) are one-element constants: they become literals. */
    public static Map<Value, Tensor> scalarLiterals(Graph body, List<Value> outerInputs) {
        Map<Value, Tensor> literals = new IdentityHashMap<>();
        for (int i = 0; i < body.inputs().size(); i++) {
            Value o = outerInputs.get(i);
            if (o != null && o.isConstant() && o.type().numElements() == 1) literals.put(body.inputs().get(i), o.constantValue());
        }
        return literals;
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

    /** The device storage of a value of type {@code t}: floats in {@code floatStorage} (or their own type), integers as i32, bool as a byte. */
    public static DType storage(DType t, DType floatStorage) {
        if (t.isInteger()) return DType.I32;
        if (t == DType.BOOL) return DType.BOOL;
        return floatStorage != null ? floatStorage : t;
    }

    /**
     * The kernel for an engine: body inputs in {@code literalInputs} become literals (scalar
     * constants bound from outside the body) and are not parameters; when {@code floatStorage} is
     * given, every floating value is loaded and stored in that type and the ops compute in f32
     * without per-op rounding (the engine's precision picks storage, not arithmetic). Integer
     * values are read and written as i32 ({@code int}), bools as bytes ({@code unsigned char}).
     */
    public static Source generate(Graph body, Map<Value, Tensor> literalInputs, DType floatStorage) {
        java.util.function.Function<Value, DType> st = v -> storage(v.type().dtype(), floatStorage);
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

        // parameters: body inputs, then non-scalar constants (uploaded), then outputs; a value only CastLike's
        // type operand reads is never loaded (it may have any shape), and a constant of that kind is not uploaded
        Set<Value> typeOnly = typeOnly(body);
        Map<Value, String> scalarLiterals = new IdentityHashMap<>();
        List<Value> constantInputs = new ArrayList<>();
        List<Value> paramValues = new ArrayList<>();
        for (Value v : body.inputs()) {
            Tensor lit = literalInputs.get(v);
            if (lit != null) scalarLiterals.put(v, literal(lit, v.type().dtype()));
            else paramValues.add(v);
        }
        List<Value> boundInputs = List.copyOf(paramValues);
        for (Value c : body.constants()) {
            if (typeOnly.contains(c)) scalarLiterals.put(c, "0");
            else if (c.type().numElements() == 1) scalarLiterals.put(c, literal(c.constantValue(), c.type().dtype()));
            else { constantInputs.add(c); paramValues.add(c); }
        }
        List<Offset> paramOffsets = new ArrayList<>();
        List<DType> paramStorage = new ArrayList<>();
        StringBuilder params = new StringBuilder();
        for (int p = 0; p < paramValues.size(); p++) {
            Value v = paramValues.get(p);
            String c = storageC(st.apply(v), "graph '" + body.name() + "' value %" + v.name());
            if (p > 0) params.append(", ");
            params.append("const ").append(c).append("* __restrict__ in").append(p);
            paramOffsets.add(typeOnly.contains(v) ? Offset.typeOnly(rank) : offset(v.type(), s, outLayout));
            paramStorage.add(st.apply(v));
        }
        List<Offset> outOffsets = new ArrayList<>();
        List<DType> outStorage = new ArrayList<>();
        for (int o = 0; o < body.outputs().size(); o++) {
            Value v = body.outputs().get(o);
            String c = storageC(st.apply(v), "graph '" + body.name() + "' output %" + v.name());
            if (params.length() > 0) params.append(", ");
            params.append(c).append("* __restrict__ out").append(o);
            outOffsets.add(offset(v.type(), s, outLayout));
            outStorage.add(st.apply(v));
        }
        String ops = opsCode(body.nodes(), body.outputs(), paramValues, scalarLiterals, s, engine, false);

        // the vector kernel's width and the parameters and outputs it accesses that many elements at a time
        int innerSize = rank > 0 ? s.dim(perm[rank - 1]) : 1;
        int vec = vectorWidth(paramOffsets, paramStorage, outOffsets, outStorage, innerSize);
        Set<Integer> vecParams = new java.util.TreeSet<>(), vecOuts = new java.util.TreeSet<>();
        for (int p = 0; p < paramOffsets.size(); p++) if (vectorLoad(paramOffsets.get(p), paramStorage.get(p), vec, innerSize)) vecParams.add(p);
        for (int o = 0; o < outOffsets.size(); o++) if (vectorStore(outOffsets.get(o), outStorage.get(o))) vecOuts.add(o);
        List<Integer> vectorParameters = new ArrayList<>(vecParams);
        for (int o : vecOuts) vectorParameters.add(paramValues.size() + o);

        StringBuilder src = new StringBuilder();
        src.append(KernelCompiler.prelude());
        if (ops.contains(HELPER_PREFIX)) src.append(HELPERS);
        src.append("// tessel.eltwise.fused generated from graph '").append(body.name()).append("': ")
                .append(body.nodes().size()).append(" ops over ").append(iter).append('\n');
        // scalar kernel: one element per thread, grid-stride
        String scalarCoords = coords(s, perm, needCoords(paramOffsets, Set.of(), outOffsets, Set.of(), rank), idx, "i", "        ");
        src.append("extern \"C\" __global__ void ").append(KERNEL_NAME).append('(').append(params).append(", long long n) {\n");
        src.append("    const ").append(idx).append(" stride = (").append(idx).append(") gridDim.x * blockDim.x;\n");
        src.append("    for (").append(idx).append(" i = (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; i < (").append(idx)
                .append(") n; i += stride) {\n");
        src.append(element(body, paramValues, paramStorage, paramOffsets, outStorage, outOffsets, ops, scalarCoords, Set.of(), Set.of(), "        "));
        src.append("    }\n}\n");
        // vector kernel: vec consecutive elements per thread with 16- or 8-byte accesses to the operands contiguous
        // along the innermost physical dimension (memory-level parallelism); the tail runs element by element
        src.append("extern \"C\" __global__ void ").append(vectorKernelName(vec)).append('(').append(params).append(", long long n) {\n");
        src.append("    const ").append(idx).append(" stride = (").append(idx).append(") gridDim.x * blockDim.x;\n");
        src.append("    const ").append(idx).append(" nvec = (").append(idx).append(") (n / ").append(vec).append(");\n");
        src.append("    for (").append(idx).append(" v = (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += stride) {\n");
        src.append("        const ").append(idx).append(" i0 = v * ").append(vec).append(";\n");
        List<Offset> broadcastLoads = new ArrayList<>();
        for (int p : vecParams) {
            src.append("        float vin").append(p).append('[').append(vec).append("];");
            if (paramOffsets.get(p).linear())
                src.append(" tessel_ld").append(vec).append('_').append(paramStorage.get(p).text()).append("(in").append(p).append(", i0, vin").append(p).append(");");
            else broadcastLoads.add(paramOffsets.get(p));
            src.append('\n');
        }
        if (!broadcastLoads.isEmpty()) {
            // broadcast operands: the thread's elements share every coordinate but the innermost (whose size is a multiple of vec)
            src.append("        {   // stride 1 along the innermost dimension, whose size is a multiple of ").append(vec)
                    .append(": the thread's values lie together from element i0's offset\n").append(coords(s, perm, needCoords(broadcastLoads, rank), idx, "i0", "            "));
            for (int p : vecParams)
                if (!paramOffsets.get(p).linear())
                    src.append("            tessel_ld").append(vec).append('_').append(paramStorage.get(p).text()).append("(in").append(p).append(", ")
                            .append(paramOffsets.get(p).expr()).append(", vin").append(p).append(");\n");
            src.append("        }\n");
        }
        for (int o : vecOuts) src.append("        float vout").append(o).append('[').append(vec).append("];\n");
        src.append("#pragma unroll\n        for (int e = 0; e < ").append(vec).append("; e++) {\n");
        boolean indexed = false;   // whether an element-by-element access needs the element's index (nvcc warns of an unused one)
        for (int p = 0; p < paramOffsets.size(); p++) indexed |= !vecParams.contains(p) && paramOffsets.get(p).indexed();
        for (int o = 0; o < outOffsets.size(); o++) indexed |= !vecOuts.contains(o) && outOffsets.get(o).indexed();
        if (indexed) src.append("            const ").append(idx).append(" i = i0 + e;\n");
        src.append(element(body, paramValues, paramStorage, paramOffsets, outStorage, outOffsets, ops,
                coords(s, perm, needCoords(paramOffsets, vecParams, outOffsets, vecOuts, rank), idx, "i", "            "), vecParams, vecOuts, "            "));
        src.append("        }\n");
        for (int o : vecOuts)
            src.append("        tessel_st").append(vec).append('_').append(outStorage.get(o).text()).append("(out").append(o).append(", i0, vout").append(o).append(");\n");
        src.append("    }\n");
        src.append("    for (").append(idx).append(" i = nvec * ").append(vec).append(" + (").append(idx).append(") blockIdx.x * blockDim.x + threadIdx.x; i < (")
                .append(idx).append(") n; i += stride) {\n");
        src.append(element(body, paramValues, paramStorage, paramOffsets, outStorage, outOffsets, ops, scalarCoords, Set.of(), Set.of(), "        "));
        src.append("    }\n}\n");
        return new Source(src.toString(), boundInputs, List.copyOf(constantInputs), List.copyOf(body.outputs()), iter, vec, List.copyOf(vectorParameters));
    }

    /** Body inputs and constants whose every use is as CastLike's type operand (input 1), and that are no output. */
    static Set<Value> typeOnly(Graph body) {
        Set<Value> out = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        List<Value> candidates = new ArrayList<>(body.inputs());
        candidates.addAll(body.constants());
        for (Value v : candidates) {
            boolean onlyType = !body.outputs().contains(v), used = false;
            for (Node n : body.nodes())
                for (int i = 0; i < n.numInputs(); i++)
                    if (n.input(i) == v) {
                        used = true;
                        if (!(n.opName().equals("CastLike") && i == 1)) onlyType = false;
                    }
            if (used && onlyType) out.add(v);
        }
        return out;
    }

    /** The C type a storage type is held in on the device. */
    static String storageC(DType storage, String where) {
        return switch (storage) {
            case F32, F16, BF16 -> org.tessel.runtime.gpu.CudaTypes.storage(storage);
            case I32 -> "int";
            case BOOL -> "unsigned char";
            default -> throw new IllegalArgumentException(where + ": generated elementwise kernels store f32, f16, bf16, i32 and bool, not " + storage.text());
        };
    }

    /** The C type a value of element type {@code t} computes in: f32 for floats, the integer's own width, bool. */
    static String computeC(DType t) {
        return switch (t) {
            case F32, F16, BF16 -> "float";
            case I8 -> "signed char";
            case U8 -> "unsigned char";
            case I32 -> "int";
            case I64 -> "long long";
            case BOOL -> "bool";
            default -> throw new IllegalArgumentException("generated elementwise kernels hold no " + t.text() + " values");
        };
    }

    private static boolean floatStorage(DType storage) { return storage == DType.F32 || storage == DType.F16 || storage == DType.BF16; }

    /** Prefix of the helper functions in {@link #HELPERS}: a source that calls one gets them. */
    static final String HELPER_PREFIX = "tessel_ew_";

    /**
     * Device functions for integer arithmetic with ONNX's (and the reference's) semantics and no trap on any input:
     * 64-bit wrapping, division and remainder by zero give 0 (the reference refuses them), INT64_MIN / -1 wraps.
     */
    static final String HELPERS = """
            // elementwise helpers: integers in 64 bits with ONNX semantics, float->int as the reference (NaN -> 0, saturating)
            __device__ __forceinline__ long long tessel_ew_f2ll(float f) {
                return f != f ? 0LL : f >= 9.2233720368547758e18f ? 9223372036854775807LL : f <= -9.2233720368547758e18f ? (-9223372036854775807LL - 1) : (long long) f;
            }
            __device__ __forceinline__ long long tessel_ew_div(long long a, long long b) {
                return b == 0 ? 0LL : b == -1 ? (long long) (0ULL - (unsigned long long) a) : a / b;
            }
            __device__ __forceinline__ long long tessel_ew_mod(long long a, long long b, int truncated) {
                if (b == 0 || b == -1) return 0LL;
                long long r = a % b;
                return !truncated && r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
            }
            __device__ __forceinline__ float tessel_ew_fmod_floor(float a, float b) {
                float m = fmodf(a, b);
                if (b == 0.0f || m != m) return __int_as_float(0x7fc00000);
                if (m == 0.0f) return copysignf(0.0f, b);
                return (b < 0.0f) != (m < 0.0f) ? m + b : m;
            }
            __device__ __forceinline__ long long tessel_ew_quantize(float q, long long zp, long long lo, long long hi) {
                if (q != q) return 0LL;
                double v = (double) rintf(q) + (double) zp;
                return v < (double) lo ? lo : v > (double) hi ? hi : (long long) v;
            }
            __device__ __forceinline__ long long tessel_ew_max(long long a, long long b) { return a > b ? a : b; }
            __device__ __forceinline__ long long tessel_ew_min(long long a, long long b) { return a < b ? a : b; }
            __device__ __forceinline__ long long tessel_ew_pow(long long base, long long e) {
                if (e < 0) return base == 1 ? 1LL : base == -1 ? ((e & 1) == 0 ? 1LL : -1LL) : 0LL;
                unsigned long long r = 1, b = (unsigned long long) base;
                for (; e > 0; e >>= 1) { if (e & 1) r *= b; b *= b; }
                return (long long) r;
            }
            __device__ __forceinline__ long long tessel_ew_shl(long long x, long long s, int width) {
                return s < 0 || s >= width ? 0LL : (long long) ((unsigned long long) x << s);
            }
            __device__ __forceinline__ long long tessel_ew_shr(long long x, long long s, int width) {
                return s < 0 || s >= width ? (x < 0 ? -1LL : 0LL) : x >> s;
            }
            """;

    /**
     * Whether the vector kernel loads a parameter {@code vec} elements at a time: a floating value laid out as the
     * iteration, or one with stride 1 along the iteration's innermost physical dimension when that dimension's size
     * ({@code innerSize}) is a multiple of {@code vec} (a thread's elements then share every other coordinate).
     */
    private static boolean vectorLoad(Offset o, DType storage, int vec, int innerSize) {
        return floatStorage(storage) && (o.linear() || o.unitInner() && innerSize % vec == 0);
    }

    /** Whether the vector kernel stores an output {@code vec} elements at a time: a floating value laid out as the iteration. */
    private static boolean vectorStore(Offset o, DType storage) { return floatStorage(storage) && o.linear(); }

    /**
     * Elements per thread of the vector kernel: 8 (16-byte accesses) when every parameter and output it would access 8 at
     * a time is stored in 16 bits (f16, bf16), otherwise 4 (16 bytes of f32, 8 of f16 or bf16), as when none is.
     */
    private static int vectorWidth(List<Offset> paramOffsets, List<DType> paramStorage, List<Offset> outOffsets, List<DType> outStorage, int innerSize) {
        int wide = 0;
        for (int p = 0; p < paramOffsets.size(); p++)
            if (vectorLoad(paramOffsets.get(p), paramStorage.get(p), 8, innerSize)) { if (paramStorage.get(p).bytes() != 2) return 4; wide++; }
        for (int o = 0; o < outOffsets.size(); o++)
            if (vectorStore(outOffsets.get(o), outStorage.get(o))) { if (outStorage.get(o).bytes() != 2) return 4; wide++; }
        return wide > 0 ? 8 : 4;
    }

    /** The iteration coordinates the offsets read, less those of the parameters and outputs accessed as vectors. */
    private static boolean[] needCoords(List<Offset> paramOffsets, Set<Integer> vecParams, List<Offset> outOffsets, Set<Integer> vecOuts, int rank) {
        List<Offset> read = new ArrayList<>();
        for (int p = 0; p < paramOffsets.size(); p++) if (!vecParams.contains(p)) read.add(paramOffsets.get(p));
        for (int o = 0; o < outOffsets.size(); o++) if (!vecOuts.contains(o)) read.add(outOffsets.get(o));
        return needCoords(read, rank);
    }

    private static boolean[] needCoords(List<Offset> offsets, int rank) {
        boolean[] need = new boolean[rank];
        for (Offset o : offsets) for (int d = 0; d < rank; d++) need[d] |= o.coords()[d];
        return need;
    }

    /**
     * Coordinates the offsets need: the physical linear index (the variable {@code index}) decomposed, innermost physical
     * dimension first, as {@code c<logical dimension>}.
     */
    private static String coords(Shape s, int[] perm, boolean[] needCoord, String idx, String index, String indent) {
        int rank = s.rank();
        int last = -1;
        for (int k = rank - 1; k >= 0; k--) if (needCoord[perm[k]]) last = k;
        if (last < 0) return "";
        StringBuilder c = new StringBuilder();
        c.append(indent).append(idx).append(" r = ").append(index).append(";\n");
        for (int k = rank - 1; k >= last; k--) {
            int dim = perm[k];
            int size = s.dim(dim);
            if (k == last) c.append(indent).append("const ").append(idx).append(" c").append(dim).append(" = r").append(k > 0 ? " % " + size : "").append(";\n");
            else c.append(indent).append("const ").append(idx).append(" c").append(dim).append(" = r % ").append(size).append("; r /= ").append(size).append(";\n");
        }
        return c.toString();
    }

    /**
     * The ops of the body as statements over values named x0.. (parameters) and t0.. (results), each
     * declared in its element type's compute type; scalar constants are literals.
     */
    private static String opsCode(List<Node> nodes, List<Value> outputs, List<Value> paramValues, Map<Value, String> literals, Shape s, boolean engine, boolean fast) {
        Map<Value, String> expr = new IdentityHashMap<>(literals);
        for (int p = 0; p < paramValues.size(); p++) expr.put(paramValues.get(p), "x" + p);
        StringBuilder code = new StringBuilder();
        int tmp = 0;
        for (Node node : nodes) {
            if (!SUPPORTED.contains(node.opName()))
                throw new IllegalArgumentException(node.describe() + ": no CUDA code generator for this op; supported: " + String.join(", ", new java.util.TreeSet<>(SUPPORTED)));
            String why = EltwiseTactics.generatorWhyNot(node);
            if (why != null) throw new IllegalArgumentException(node.describe() + ": " + why);
            Value out = node.output();
            DType t = out.type().dtype();
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
            String value = opExpr(node, a, fast);
            code.append("@const ").append(computeC(t)).append(' ').append(var).append(" = ")
                    .append(engine || !t.isFloating() ? value : org.tessel.runtime.gpu.CudaTypes.round(t, value))
                    .append(";   // ").append(node.describe()).append('\n');
            expr.put(out, var);
        }
        for (int o = 0; o < outputs.size(); o++) code.append("@#out").append(o).append('=').append(expr.get(outputs.get(o))).append('\n');
        return code.toString();
    }

    /**
     * Elementwise ops (of a fused body, in order, all of one shape) as C statements over f32 values named {@code x0..}
     * (the values of {@code inputs}, in order) that assign {@code result}'s value to {@code target}: a GEMV's x loader
     * evaluates them per element (engine arithmetic: f32, no rounding between ops). Inputs that are one-element constants
     * ({@code literals}) become literals. With {@code fast}, exponentials and the divisions of Sigmoid, Swish and the tanh
     * GELU use CUDA's intrinsics ({@code __expf}, {@code __fdividef}: a few ulp of f32, where a result rounded once to
     * f16 or bf16 has 2^-11 or 2^-8), for x loaders that evaluate the tree once for each block of a launch.
     */
    public static String inlineOps(List<Node> nodes, List<Value> inputs, Map<Value, Tensor> literals, Value result, String target, String indent, boolean fast) {
        Map<Value, String> lits = new IdentityHashMap<>();
        literals.forEach((v, t) -> lits.put(v, literal(t, v.type().dtype())));
        StringBuilder out = new StringBuilder();
        for (String line : opsCode(nodes, List.of(result), inputs, lits, result.type().shape(), true, fast).split("\n")) {
            if (line.startsWith("@#out0=")) out.append(indent).append(target).append(" = ").append(line.substring(7)).append(";\n");
            else if (line.startsWith("@")) out.append(indent).append(line.substring(1)).append('\n');
        }
        return out.toString();
    }

    /** A C expression loading element {@code index} of {@code ptr} (storage {@code storage}) as a value of type {@code t}'s compute type. */
    private static String load(DType t, DType storage, String ptr, String index) {
        if (floatStorage(storage)) return org.tessel.runtime.gpu.CudaTypes.load(storage, ptr, index);
        if (storage == DType.BOOL) return "(" + ptr + "[" + index + "] != 0)";
        return t == DType.I32 ? ptr + "[" + index + "]" : "(" + computeC(t) + ") " + ptr + "[" + index + "]";
    }

    /** A C expression converting {@code value} (in type {@code t}'s compute type) to its storage type. */
    private static String store(DType t, DType storage, String value) {
        if (floatStorage(storage)) return org.tessel.runtime.gpu.CudaTypes.store(storage, value);
        if (storage == DType.BOOL) return "(unsigned char) " + value;
        return t == DType.I32 ? value : "(int) " + value;
    }

    /**
     * One element's loads, ops and stores at index i; in the vector kernel the parameters {@code vecParams} come from the
     * vin arrays and the outputs {@code vecOuts} go to the vout arrays (element e of the thread's vector).
     */
    private static String element(Graph body, List<Value> paramValues, List<DType> paramStorage, List<Offset> paramOffsets, List<DType> outStorage,
                                  List<Offset> outOffsets, String ops, String coords, Set<Integer> vecParams, Set<Integer> vecOuts, String indent) {
        StringBuilder e = new StringBuilder(coords);
        for (int p = 0; p < paramValues.size(); p++) {
            Value v = paramValues.get(p);
            if (paramOffsets.get(p).typeOnly()) continue;
            DType t = paramStorage.get(p);
            String load = vecParams.contains(p) ? "vin" + p + "[e]" : load(v.type().dtype(), t, "in" + p, paramOffsets.get(p).expr());
            e.append(indent).append("const ").append(computeC(v.type().dtype())).append(" x").append(p).append(" = ").append(load)
                    .append(";   // %").append(v.name()).append(' ').append(v.type()).append('\n');
        }
        for (String line : ops.split("\n")) {
            if (line.isEmpty()) continue;
            if (line.startsWith("@#out")) {
                int eq = line.indexOf('=');
                int o = Integer.parseInt(line.substring(5, eq));
                String value = line.substring(eq + 1);
                Value v = body.outputs().get(o);
                DType storage = outStorage.get(o);
                if (vecOuts.contains(o)) e.append(indent).append("vout").append(o).append("[e] = ").append(value).append(";   // %").append(v.name()).append('\n');
                else e.append(indent).append("out").append(o).append('[').append(outOffsets.get(o).expr()).append("] = ")
                        .append(store(v.type().dtype(), storage, value)).append(";   // %").append(v.name()).append('\n');
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
     * Where a value's element lies at the current coordinate: {@code expr}, a C expression ("i" when the value is stored in
     * the iteration's order, "0" for one element, else a sum of coordinates times strides, or empty for a value never
     * loaded); {@code coords}, the iteration's logical coordinates it reads; {@code unitInner}, whether it has stride 1
     * along the iteration's innermost physical dimension (consecutive elements of the iteration there are consecutive
     * in the value).
     */
    private record Offset(String expr, boolean[] coords, boolean unitInner) {
        /** A parameter that is never loaded: only CastLike's type operand reads it. */
        static Offset typeOnly(int rank) { return new Offset("", new boolean[rank], false); }
        boolean typeOnly() { return expr.isEmpty(); }
        boolean linear() { return expr.equals("i"); }
        /** Whether the expression reads the element's index (directly or through coordinates). */
        boolean indexed() { return !typeOnly() && !expr.equals("0"); }
    }

    /** The offset of a value (broadcast onto iteration shape s in layout outLayout) at the current coordinate. */
    private static Offset offset(TensorType t, Shape s, Layout outLayout) {
        Shape vs = t.shape();
        boolean[] coords = new boolean[s.rank()];
        if (vs.numElements() == 1) return new Offset("0", coords, false);
        if (!broadcastsOnto(vs, s)) throw new IllegalArgumentException("value of type " + t + " does not broadcast onto " + s);
        int r = vs.rank(), off = s.rank() - r;
        Layout vl = physical(t.layout(), r);
        if (vs.equals(s) && vl == outLayout) return new Offset("i", coords, true);
        int inner = perm(outLayout, s.rank())[s.rank() - 1];
        int[] vp = perm(vl, r);
        long[] logicalStride = new long[r];
        long stride = 1;
        for (int k = r - 1; k >= 0; k--) {
            logicalStride[vp[k]] = stride;
            stride *= vs.dim(vp[k]);
        }
        StringBuilder e = new StringBuilder();
        boolean unitInner = false;
        for (int d = 0; d < r; d++) {
            if (vs.dim(d) == 1) continue;
            int sd = d + off;
            coords[sd] = true;
            if (sd == inner && logicalStride[d] == 1) unitInner = true;
            if (e.length() > 0) e.append(" + ");
            e.append('c').append(sd);
            if (logicalStride[d] != 1) e.append(" * ").append(logicalStride[d]);
        }
        if (e.length() == 0) return new Offset("0", coords, false);
        return new Offset("(" + e + ")", coords, unitInner);
    }

    /** The literal of a one-element constant of element type {@code t}, in that type's compute type. */
    static String literal(Tensor c, DType t) {
        if (t.isFloating()) return literal(c.getFloat(0));
        if (t == DType.BOOL) return c.getLong(0) != 0 ? "true" : "false";
        long v = c.getLong(0);
        String ll = v == Long.MIN_VALUE ? "(-9223372036854775807LL - 1)" : v + "LL";
        return "((" + computeC(t) + ") " + ll + ")";
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

    /**
     * The operands of one node with their element types: {@code f(i)} as a float expression, {@code l(i)} as a
     * 64-bit integer one, and {@code wrap} bringing a 64-bit result into the output's integer type (C's modular
     * conversion, which Tensor.wrap also does).
     */
    private record Args(Node n, List<String> a) {
        DType type(int i) { return n.input(i).type().dtype(); }
        String raw(int i) { return need(n, a, i); }
        String f(int i) { return convert(raw(i), type(i), DType.F32); }
        String l(int i) {
            DType t = type(i);
            return t.isFloating() ? HELPER_PREFIX + "f2ll(" + raw(i) + ")" : "((long long) " + raw(i) + ")";
        }
        String wrap(String e64) { return "((" + computeC(n.output().type().dtype()) + ") " + e64 + ")"; }
        String u(int i) { return "(unsigned long long) " + l(i); }
    }

    /** {@code e} (in type {@code from}'s compute type) as a value of type {@code to}: the reference's Cast. */
    static String convert(String e, DType from, DType to) {
        boolean fromFloat = from.isFloating(), toFloat = to.isFloating();
        if (from == to || fromFloat && toFloat) return e;
        if (toFloat) return from == DType.BOOL ? "(" + e + " ? 1.0f : 0.0f)" : "((float) " + e + ")";
        if (to == DType.BOOL) return fromFloat ? "(" + e + " != 0.0f)" : "(" + e + " != 0)";
        return fromFloat ? "((" + computeC(to) + ") " + HELPER_PREFIX + "f2ll(" + e + "))" : "((" + computeC(to) + ") " + e + ")";
    }

    /** Ops that compute on integers in their own type (the others compute in f32 and convert their result). */
    private static final Set<String> INTEGER_FORMS = Set.of("Add", "Sub", "Mul", "Div", "Mod", "Pow", "Max", "Min", "PRelu", "Relu", "Neg", "Abs",
            "Sign", "Clip", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot");

    private static String opExpr(Node n, List<String> args, boolean fast) {
        Args o = new Args(n, args);
        DType out = n.output().type().dtype();
        switch (n.opName()) {
            case "Identity": return o.raw(0);
            case "Cast", "CastLike": return convert(o.raw(0), o.type(0), out);
            case "Where": return "(" + o.raw(0) + " ? " + o.raw(1) + " : " + o.raw(2) + ")";
            case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual": {
                String op = switch (n.opName()) { case "Equal" -> "=="; case "Less" -> "<"; case "Greater" -> ">"; case "LessOrEqual" -> "<="; default -> ">="; };
                return "(" + o.raw(0) + " " + op + " " + o.raw(1) + ")";
            }
            case "Not": return "(!" + o.raw(0) + ")";
            case "And": return "(" + o.raw(0) + " && " + o.raw(1) + ")";
            case "Or": return "(" + o.raw(0) + " || " + o.raw(1) + ")";
            case "Xor": return "(" + o.raw(0) + " != " + o.raw(1) + ")";
            case "QuantizeLinear": {
                // saturate(round_half_even(x / scale) + zero_point); the quotient in f32 as the reference divides in x's type
                boolean u8 = out == DType.U8;
                String zp = n.numInputs() > 2 && n.input(2) != null ? o.l(2) : "0LL";
                return o.wrap(HELPER_PREFIX + "quantize(" + o.f(0) + " / " + o.f(1) + ", " + zp + ", " + (u8 ? "0LL, 255LL" : "-128LL, 127LL") + ")");
            }
            case "DequantizeLinear": {
                // (x - zero_point) * scale in double, rounded once, as the reference
                String zp = n.numInputs() > 2 && n.input(2) != null ? o.l(2) : "0LL";
                return "((float) ((double) (" + o.l(0) + " - " + zp + ") * (double) " + o.f(1) + "))";
            }
            case "IsNaN": return "(" + o.f(0) + " != " + o.f(0) + ")";
            case "IsInf": {
                boolean neg = n.attrs().getInt("detect_negative", 1) != 0, pos = n.attrs().getInt("detect_positive", 1) != 0;
                if (!neg && !pos) return "false";
                String x = o.f(0);
                String p = "(" + x + " == TESSEL_INF)", m = "(" + x + " == TESSEL_NEG_INF)";
                return neg && pos ? "(" + p + " || " + m + ")" : pos ? p : m;
            }
        }
        if (out.isInteger() && INTEGER_FORMS.contains(n.opName())) return integerExpr(n, o);
        String f = floatExpr(n, o, fast);
        return out.isFloating() ? f : convert(f, DType.F32, out);
    }

    /** An op computed on integers: in 64 bits, wrapped to the output type. */
    private static String integerExpr(Node n, Args o) {
        return switch (n.opName()) {
            case "Add" -> o.wrap("(long long) (" + o.u(0) + " + " + o.u(1) + ")");
            case "Sub" -> o.wrap("(long long) (" + o.u(0) + " - " + o.u(1) + ")");
            case "Mul" -> o.wrap("(long long) (" + o.u(0) + " * " + o.u(1) + ")");
            case "Div" -> o.wrap(HELPER_PREFIX + "div(" + o.l(0) + ", " + o.l(1) + ")");
            case "Mod" -> {
                long fmod = n.attrs().getInt("fmod", 0);
                if (fmod != 0 && fmod != 1) throw new IllegalArgumentException(n.describe() + ": attribute 'fmod' must be 0 or 1, got " + fmod);
                yield o.wrap(HELPER_PREFIX + "mod(" + o.l(0) + ", " + o.l(1) + ", " + fmod + ")");
            }
            case "Pow" -> o.type(1).isFloating() ? o.wrap(HELPER_PREFIX + "f2ll(powf(" + o.f(0) + ", " + o.f(1) + "))")
                    : o.wrap(HELPER_PREFIX + "pow(" + o.l(0) + ", " + o.l(1) + ")");
            case "Max", "Min" -> {
                String acc = o.l(0);
                for (int i = 1; i < n.numInputs(); i++) acc = HELPER_PREFIX + (n.opName().equals("Max") ? "max(" : "min(") + acc + ", " + o.l(i) + ")";
                yield o.wrap(acc);
            }
            case "PRelu" -> o.wrap("(" + o.l(0) + " < 0 ? (long long) (" + o.u(1) + " * " + o.u(0) + ") : " + o.l(0) + ")");
            case "Relu" -> o.wrap("(" + o.l(0) + " < 0 ? 0LL : " + o.l(0) + ")");
            case "Neg" -> o.wrap("(long long) (0ULL - " + o.u(0) + ")");
            case "Abs" -> o.wrap("(" + o.l(0) + " < 0 ? (long long) (0ULL - " + o.u(0) + ") : " + o.l(0) + ")");
            case "Sign" -> o.wrap("(long long) ((" + o.l(0) + " > 0) - (" + o.l(0) + " < 0))");
            case "Clip" -> {
                String v = o.l(0);
                if (n.numInputs() > 1 && n.input(1) != null) v = HELPER_PREFIX + "max(" + v + ", " + o.l(1) + ")";
                if (n.numInputs() > 2 && n.input(2) != null) v = HELPER_PREFIX + "min(" + v + ", " + o.l(2) + ")";
                yield o.wrap(v);
            }
            case "BitShift" -> {
                String dir = n.attrs().getString("direction", "");
                int width = o.type(0).bytes() * 8;
                yield switch (dir) {
                    case "LEFT" -> o.wrap(HELPER_PREFIX + "shl(" + o.l(0) + ", " + o.l(1) + ", " + width + ")");
                    case "RIGHT" -> o.wrap(HELPER_PREFIX + "shr(" + o.l(0) + ", " + o.l(1) + ", " + width + ")");
                    default -> throw new IllegalArgumentException(n.describe() + ": attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
                };
            }
            case "BitwiseAnd" -> o.wrap("(" + o.l(0) + " & " + o.l(1) + ")");
            case "BitwiseOr" -> o.wrap("(" + o.l(0) + " | " + o.l(1) + ")");
            case "BitwiseXor" -> o.wrap("(" + o.l(0) + " ^ " + o.l(1) + ")");
            case "BitwiseNot" -> o.wrap("(~" + o.l(0) + ")");
            default -> throw new IllegalArgumentException(n.describe() + ": no integer form of " + n.opName());
        };
    }

    /** An op computed in f32 on its operands as floats; with {@code fast}, exponentials and sigmoid divisions by intrinsics. */
    private static String floatExpr(Node n, Args o, boolean fast) {
        Attributes at = n.attrs();
        String exp = fast ? "__expf(" : "expf(";
        java.util.function.BinaryOperator<String> over = (a, b) -> fast ? "__fdividef(" + a + ", " + b + ")" : "(" + a + " / " + b + ")";
        int arity = n.numInputs();
        return switch (n.opName()) {
            case "Add" -> "(" + o.f(0) + " + " + o.f(1) + ")";
            case "Sub" -> "(" + o.f(0) + " - " + o.f(1) + ")";
            case "Mul" -> "(" + o.f(0) + " * " + o.f(1) + ")";
            case "Div" -> "(" + o.f(0) + " / " + o.f(1) + ")";
            case "Pow" -> "powf(" + o.f(0) + ", " + o.f(1) + ")";
            case "Mod" -> switch ((int) at.getInt("fmod", 0)) {
                case 0 -> HELPER_PREFIX + "fmod_floor(" + o.f(0) + ", " + o.f(1) + ")";
                case 1 -> "fmodf(" + o.f(0) + ", " + o.f(1) + ")";
                default -> throw new IllegalArgumentException(n.describe() + ": attribute 'fmod' must be 0 or 1, got " + at.getInt("fmod", 0));
            };
            case "PRelu" -> "(" + o.f(0) + " < 0.0f ? " + o.f(1) + " * " + o.f(0) + " : " + o.f(0) + ")";
            case "Max", "Min" -> {
                // NaN-propagating like Java's Math.max/min, which the reference uses
                String acc = o.f(0);
                for (int i = 1; i < arity; i++) acc = "tessel_pick" + (n.opName().equals("Max") ? "max" : "min") + "(" + acc + ", " + o.f(i) + ")";
                yield acc;
            }
            case "Sum", "Mean" -> {
                StringBuilder sb = new StringBuilder("(");
                for (int i = 0; i < arity; i++) { if (i > 0) sb.append(" + "); sb.append(o.f(i)); }
                sb.append(')');
                yield n.opName().equals("Mean") ? "(" + sb + " / " + arity + ".0f)" : sb.toString();
            }
            case "Relu" -> "(" + o.f(0) + " < 0.0f ? 0.0f : " + o.f(0) + ")";
            case "LeakyRelu" -> "(" + o.f(0) + " < 0.0f ? " + literal(at.getFloat("alpha", 0.01f)) + " * " + o.f(0) + " : " + o.f(0) + ")";
            case "Sigmoid" -> over.apply("1.0f", "(1.0f + " + exp + "-" + o.f(0) + "))");
            case "Tanh" -> "tanhf(" + o.f(0) + ")";
            case "Clip" -> {
                String v = o.f(0);
                if (arity > 1 && n.input(1) != null) v = "tessel_clip_lo(" + v + ", " + o.f(1) + ")";
                if (arity > 2 && n.input(2) != null) v = "tessel_clip_hi(" + v + ", " + o.f(2) + ")";
                yield v;
            }
            case "HardSigmoid" -> "fmaxf(0.0f, fminf(1.0f, " + literal(at.getFloat("alpha", 0.2f)) + " * " + o.f(0) + " + " + literal(at.getFloat("beta", 0.5f)) + "))";
            case "HardSwish" -> "(" + o.f(0) + " * fmaxf(0.0f, fminf(1.0f, " + o.f(0) + " / 6.0f + 0.5f)))";
            case "Erf" -> "erff(" + o.f(0) + ")";
            case "Gelu" -> switch (at.getString("approximate", "none")) {
                case "none" -> "(0.5f * " + o.f(0) + " * (1.0f + erff(" + o.f(0) + " * 0.70710678118654752f)))";
                case "tanh" -> over.apply(o.f(0), "(1.0f + " + exp + "-2.0f * 0.79788456080286536f * (" + o.f(0) + " + 0.044715f * " + o.f(0) + " * " + o.f(0) + " * " + o.f(0) + ")))");
                default -> throw new IllegalArgumentException(n.describe() + ": attribute 'approximate' must be \"none\" or \"tanh\"");
            };
            case "Exp" -> exp + o.f(0) + ")";
            case "Log" -> "logf(" + o.f(0) + ")";
            case "Sqrt" -> "sqrtf(" + o.f(0) + ")";
            case "Neg" -> "(-" + o.f(0) + ")";
            case "Abs" -> "fabsf(" + o.f(0) + ")";
            case "Reciprocal" -> "(1.0f / " + o.f(0) + ")";
            case "Floor" -> "floorf(" + o.f(0) + ")";
            case "Ceil" -> "ceilf(" + o.f(0) + ")";
            case "Round" -> "rintf(" + o.f(0) + ")";
            case "Sign" -> "((" + o.f(0) + " > 0.0f) ? 1.0f : (" + o.f(0) + " < 0.0f) ? -1.0f : " + o.f(0) + ")";
            case "Softplus" -> "tessel_softplus(" + o.f(0) + ")";
            case "Softsign" -> "(" + o.f(0) + " / (1.0f + fabsf(" + o.f(0) + ")))";
            case "Mish" -> "(" + o.f(0) + " * tanhf(tessel_softplus(" + o.f(0) + ")))";
            case "Elu" -> "(" + o.f(0) + " < 0.0f ? " + literal(at.getFloat("alpha", 1f)) + " * expm1f(" + o.f(0) + ") : " + o.f(0) + ")";
            case "Selu" -> {
                String al = literal(at.getFloat("alpha", 1.67326319217681884765625f)), ga = literal(at.getFloat("gamma", 1.05070102214813232421875f));
                yield "(" + o.f(0) + " > 0.0f ? " + ga + " * " + o.f(0) + " : " + ga + " * (" + al + " * expf(" + o.f(0) + ") - " + al + "))";
            }
            case "Celu" -> {
                String al = literal(at.getFloat("alpha", 1f));
                yield "(fmaxf(0.0f, " + o.f(0) + ") + fminf(0.0f, " + al + " * expm1f(" + o.f(0) + " / " + al + ")))";
            }
            case "ThresholdedRelu" -> "(" + o.f(0) + " > " + literal(at.getFloat("alpha", 1f)) + " ? " + o.f(0) + " : 0.0f)";
            case "Swish" -> over.apply(o.f(0), "(1.0f + " + exp + "-" + literal(at.getFloat("alpha", 1f)) + " * " + o.f(0) + "))");
            case "Shrink" -> {
                String bias = literal(at.getFloat("bias", 0f)), lambd = literal(at.getFloat("lambd", 0.5f));
                yield "(" + o.f(0) + " < -" + lambd + " ? " + o.f(0) + " + " + bias + " : " + o.f(0) + " > " + lambd + " ? " + o.f(0) + " - " + bias + " : 0.0f)";
            }
            case "Sin" -> "sinf(" + o.f(0) + ")";
            case "Cos" -> "cosf(" + o.f(0) + ")";
            case "Tan" -> "tanf(" + o.f(0) + ")";
            case "Asin" -> "asinf(" + o.f(0) + ")";
            case "Acos" -> "acosf(" + o.f(0) + ")";
            case "Atan" -> "atanf(" + o.f(0) + ")";
            case "Sinh" -> "sinhf(" + o.f(0) + ")";
            case "Cosh" -> "coshf(" + o.f(0) + ")";
            case "Asinh" -> "asinhf(" + o.f(0) + ")";
            case "Acosh" -> "acoshf(" + o.f(0) + ")";
            case "Atanh" -> "atanhf(" + o.f(0) + ")";
            default -> throw new IllegalArgumentException(n.describe() + ": no CUDA code generator for this op; supported: " + String.join(", ", new java.util.TreeSet<>(SUPPORTED)));
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
