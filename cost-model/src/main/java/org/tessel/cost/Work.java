package org.tessel.cost;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.InferenceContext;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.EfficientNmsOp;

/**
 * The work of one node, or of a fused group, at a given precision: FLOPs, bytes read and written,
 * and the GEMM dimensions when it is a GEMM or convolution (implicit GEMM: M = output pixels,
 * N = output channels per group, K = input channels per group times kernel elements; groups and
 * batch are folded into M so the tile count comes out right).
 *
 * <p>Bytes count floating tensors at the precision's storage type (weights included) and other
 * tensors at their own type. A fused node counts the FLOPs of its whole body but bytes only at its
 * boundary: the intermediates stay in registers or shared memory. That difference is what fusion
 * saves, and what an unfused chain pays by reading and writing every intermediate.
 */
public record Work(double flops, double bytesRead, double bytesWritten, long gemmM, long gemmN, long gemmK) {
    public Work {
        if (!(flops >= 0 && bytesRead >= 0 && bytesWritten >= 0))
            throw new IllegalArgumentException("work terms must be >= 0: flops " + flops + ", read " + bytesRead + ", written " + bytesWritten);
        if (gemmM < 0 || gemmN < 0 || gemmK < 0) throw new IllegalArgumentException("GEMM dims must be >= 0");
    }

    public double bytes() { return bytesRead + bytesWritten; }

    /** True when the work is a GEMM (or implicit-GEMM convolution) with known dimensions. */
    public boolean isGemm() { return gemmM > 0 && gemmN > 0 && gemmK > 0; }

    /** Arithmetic intensity, FLOPs per byte moved. */
    public double intensity() { return bytes() == 0 ? Double.POSITIVE_INFINITY : flops / bytes(); }

    /** A plain GEMM of M x K times K x N with inputs and output at the given element size. */
    public static Work gemm(long m, long n, long k, int elementBytes) {
        return new Work(2.0 * m * n * k, (double) elementBytes * (m * k + k * n), (double) elementBytes * m * n, m, n, k);
    }

    public static Work of(Node n, Precision p) {
        if (n.body() != null) return fused(n, p);
        double read = 0, written = 0;
        InferenceContext ctx = context(n);
        for (int i = 0; i < n.numInputs(); i++) if (n.input(i) != null) read += inputBytes(n, ctx, i, p);
        List<TensorType> outs = n.outputs().stream().map(Value::type).toList();
        for (int i = 0; i < outs.size(); i++) written += outputBytes(n, ctx, outs, i, p);
        long[] g = gemmDims(n);
        return new Work(flops(n), read, written, g[0], g[1], g[2]);
    }

    /**
     * The work of running these nodes (of one graph, in order) as one kernel, as if they were
     * fused: body FLOPs, and bytes only for values crossing the group's boundary. A value that is
     * also used outside the group (or is a graph output) is written; {@code escaping} says which.
     * The GEMM dims are those of the group's first GEMM-like node.
     */
    public static Work ofGroup(List<Node> group, Set<Value> escaping, Precision p) {
        Set<Value> produced = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : group) produced.addAll(n.outputs());
        Set<Value> readOnce = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        double flops = 0, read = 0, written = 0;
        long[] g = {0, 0, 0};
        for (Node n : group) {
            flops += n.body() != null ? fused(n, p).flops() : flops(n);
            if (g[0] == 0) g = n.body() != null ? dims(fused(n, p)) : gemmDims(n);
            InferenceContext ctx = context(n);
            for (int i = 0; i < n.numInputs(); i++) {
                Value v = n.input(i);
                if (v != null && !produced.contains(v) && readOnce.add(v)) read += inputBytes(n, ctx, i, p);
            }
        }
        for (Value v : escaping) written += bytes(v.type(), p);
        return new Work(flops, read, written, g[0], g[1], g[2]);
    }

    private static long[] dims(Work w) { return new long[] {w.gemmM, w.gemmN, w.gemmK}; }

    private static Work fused(Node n, Precision p) {
        double flops = 0;
        long[] g = {0, 0, 0};
        for (Node b : n.body().nodes()) {
            Work w = of(b, p);
            flops += w.flops;
            if (g[0] == 0 && w.isGemm()) g = dims(w);
        }
        // bytes crossing the boundary as the body's ops move them: an input at the most any body node reads of it, an
        // output at what its producer writes (a paged attention's pools: the blocks its tables reach and the new tokens'
        // slots, not the whole pools)
        org.tessel.ir.Graph body = n.body();
        Set<Value> inputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        inputs.addAll(body.inputs());
        java.util.Map<Value, Double> reads = new IdentityHashMap<>();
        for (Node b : body.nodes()) {
            InferenceContext ctx = context(b);
            for (int i = 0; i < b.numInputs(); i++) {
                Value v = b.input(i);
                if (v != null && inputs.contains(v)) reads.merge(v, inputBytes(b, ctx, i, p), Math::max);
            }
        }
        double read = 0, written = 0;
        for (double r : reads.values()) read += r;
        for (Value v : body.outputs()) {
            Node b = v.producer();
            if (b == null) { // a body input returned as it is
                written += bytes(v.type(), p);
                continue;
            }
            List<TensorType> outs = b.outputs().stream().map(Value::type).toList();
            written += outputBytes(b, context(b), outs, b.outputs().indexOf(v), p);
        }
        return new Work(flops, read, written, g[0], g[1], g[2]);
    }

    /**
     * Bytes of a tensor at precision p: floating tensors at p's storage type, others at their own. A tensor the graph
     * types as an 8-bit float (an FP8 KV cache, FP8 weights of a Q/DQ model) is stored so whatever the node computes in.
     */
    public static double bytes(TensorType t, Precision p) {
        return (double) t.numElements() * elementBytes(t, p);
    }

    private static int elementBytes(TensorType t, Precision p) {
        DType d = t.dtype().isFloating() && !t.dtype().isFloat8() ? p.storage() : t.dtype();
        return d.bytes();
    }

    /** Bytes one use of n reads of its input i: all its elements, or as many as the op's hint says it reads. */
    static double inputBytes(Node n, InferenceContext ctx, int i, Precision p) {
        TensorType t = n.input(i).type();
        long hint = hint(() -> n.op().elementsRead(ctx, i));
        return hint < 0 ? bytes(t, p) : (double) Math.min(hint, t.numElements()) * elementBytes(t, p);
    }

    /** Bytes one use of n writes of its output i: all its elements, or as many as the op's hint says it writes. */
    static double outputBytes(Node n, InferenceContext ctx, List<TensorType> outs, int i, Precision p) {
        TensorType t = outs.get(i);
        long hint = hint(() -> n.op().elementsWritten(ctx, outs, i));
        return hint < 0 ? bytes(t, p) : (double) Math.min(hint, t.numElements()) * elementBytes(t, p);
    }

    /** An op's cost hint, -1 (all elements) when it has none or it fails (a plugin's). */
    private static long hint(java.util.function.LongSupplier q) {
        try {
            return q.getAsLong();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private static InferenceContext context(Node n) {
        List<TensorType> ins = new ArrayList<>(n.numInputs());
        List<Tensor> consts = new ArrayList<>(n.numInputs());
        for (Value v : n.inputs()) {
            ins.add(v == null ? null : v.type());
            consts.add(v == null ? null : v.inferenceValue());
        }
        return new InferenceContext(n.name(), ins, consts, n.attrs(), n.outputs().size());
    }

    /** The op's multiply-accumulates (its cost hint), 0 when it has none or cannot say. */
    public static long macs(Node n) {
        try {
            return n.op().macs(context(n), n.outputs().stream().map(Value::type).toList());
        } catch (RuntimeException e) {
            return 0; // a plugin op whose hint fails is treated as doing no multiply-accumulate work
        }
    }

    /**
     * FLOPs of one unfused node: twice its multiply-accumulates where the op reports them;
     * otherwise a per-element estimate (views and copies do none; softmax ~5 per element, layer
     * norm ~8, RMS norm ~4, pools one per window element, reductions one per input element, everything else
     * one per output element).
     */
    /**
     * EfficientNMS_TRT's operations per image: a compare of every score with the threshold, a sort of the K = min(4096,
     * N x C) candidates (K log2(K)^2 / 2 compare-exchanges), and the greedy walk's IoU test (about 12 operations) of each
     * of the K candidates against each of the up to M kept ones.
     */
    static double efficientNmsFlops(Node n) {
        org.tessel.api.Shape s = n.input(1).type().shape();
        double scores = (double) s.dim(1) * s.dim(2), k = Math.min(EfficientNmsOp.MAX_CANDIDATES, scores), m = n.output(2).type().shape().dim(1);
        double log = Math.max(1, Math.ceil(Math.log(k) / Math.log(2)));
        return s.dim(0) * (scores + k * log * log / 2 + 12 * k * m);
    }

    public static double flops(Node n) {
        long macs = macs(n);
        if (macs > 0) return 2.0 * macs;
        if (n.op().has(Trait.DATA_MOVEMENT) || n.op().has(Trait.IDENTITY_AT_INFERENCE)) return 0;
        double out = 0;
        for (Value v : n.outputs()) out += v.type().numElements();
        double in0 = n.numInputs() > 0 && n.input(0) != null ? n.input(0).type().numElements() : out;
        return switch (n.opName()) {
            case "Shape", "Constant", "ConstantOfShape" -> n.opName().equals("ConstantOfShape") ? out : 0;
            case "Softmax", "LogSoftmax", "Hardmax" -> 5 * in0;
            case "LayerNormalization" -> 8 * in0;
            case "RMSNormalization" -> 4 * in0;
            case "BatchNormalization" -> 2 * in0;
            case "LRN" -> in0 * (3 + n.attrs().getInt("size", 5));
            case "MaxPool", "AveragePool" -> out * windowElements(n);
            case "GlobalAveragePool", "GlobalMaxPool", "ArgMax", "ArgMin" -> in0;
            case EfficientNmsOp.QUALIFIED_NAME -> efficientNmsFlops(n);
            default -> n.opName().startsWith("Reduce") ? in0 : out;
        };
    }

    private static long windowElements(Node n) {
        long[] k = n.attrs().getInts("kernel_shape");
        if (k == null) return 1;
        long e = 1;
        for (long d : k) e *= d;
        return e;
    }

    /** GEMM dims {M, N, K} of a Conv, ConvTranspose, Gemm, MatMul or quantized MatMul (tessel.WeightOnlyMatMul, tessel.W8A8MatMul); zeros for anything else. */
    public static long[] gemmDims(Node n) {
        try {
            return switch (n.opName()) {
                case "Conv" -> {
                    TensorType w = n.input(1).type(), y = n.output().type();
                    long group = n.attrs().getInt("group", 1);
                    long outPixels = y.numElements() / y.shape().dim(1);      // N * spatial
                    long cout = w.shape().dim(0);
                    yield new long[] {outPixels * group, cout / group, w.numElements() / cout};
                }
                case "ConvTranspose" -> {
                    // backward-data as an implicit GEMM: M = input pixels, N = Cout*kernel per group, K = Cin per group
                    TensorType x = n.input(0).type(), w = n.input(1).type();
                    long group = n.attrs().getInt("group", 1);
                    long inPixels = x.numElements() / x.shape().dim(1);
                    long cin = w.shape().dim(0);
                    yield new long[] {inPixels * group, w.numElements() / cin, cin / group};
                }
                case "Gemm" -> {
                    TensorType a = n.input(0).type(), b = n.input(1).type();
                    boolean ta = n.attrs().getInt("transA", 0) != 0, tb = n.attrs().getInt("transB", 0) != 0;
                    long m = ta ? a.shape().dim(1) : a.shape().dim(0), k = ta ? a.shape().dim(0) : a.shape().dim(1);
                    long nn = tb ? b.shape().dim(0) : b.shape().dim(1);
                    yield new long[] {m, nn, k};
                }
                case "MatMul" -> {
                    TensorType a = n.input(0).type(), b = n.input(1).type(), y = n.output().type();
                    long k = a.rank() == 1 ? a.shape().dim(0) : a.shape().dim(-1);
                    long nn = b.rank() == 1 ? 1 : b.shape().dim(-1);
                    long rows = y.numElements() / nn; // batch * M
                    yield new long[] {rows, nn, k};
                }
                case "tessel.WeightOnlyMatMul", "tessel.W8A8MatMul" -> {
                    // A [..., K] times quantized rows W [N, K] (4-bit codes two a byte: [N, K/2]); K is A's last dim
                    TensorType a = n.input(0).type();
                    long k = a.shape().dim(-1), nn = n.input(1).type().shape().dim(0);
                    yield new long[] {a.numElements() / Math.max(1, k), nn, k};
                }
                default -> new long[] {0, 0, 0};
            };
        } catch (RuntimeException e) {
            return new long[] {0, 0, 0};
        }
    }
}
