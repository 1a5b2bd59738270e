package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasException;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.ConvMma;
import org.tessel.runtime.gpu.kernels.Im2col;
import org.tessel.runtime.gpu.kernels.Int8Conv;
import org.tessel.runtime.gpu.kernels.Int8Epilogue;
import org.tessel.runtime.gpu.kernels.Int8Gemm;
import org.tessel.runtime.gpu.kernels.Int8Weights;
import org.tessel.tactics.conv.ConvIm2colGemmTactic;

/**
 * Convolutions and GEMMs a plan runs at INT8, as the CPU backend emulates them ({@code PrecisionEmulation}): the node
 * reads int8 activations (its casts quantized them at their tensors' scales from the plan's quantization table), its
 * weights are int8 per output channel (scale amax/127, or the plan's channel scales for a Q/DQ model's weight, as on
 * the CPU), the sums are exact int32 (cuBLASLt IMMA, Tessel's dp4a convolution {@code tessel.conv.int8_dp4a}) or
 * cuDNN's INT8 convolution ({@code cudnn.conv.fused_bias_act} at INT8), and Tessel's epilogue applies s_in·s_w[c],
 * the f32 bias, the int8 residual at its scale, ReLU or Clip, and requantizes the output at its scale into the node's
 * int8 storage. The layer reports the planned tactic with variant {@code int8}.
 *
 * <p>cuBLASLt's GEMMs (a MatMul or Gemm, and the convolution tactics over pixels: {@code cublaslt.conv1x1} on x as
 * stored, {@code cublaslt.conv.im2col} on {@link Im2col}'s matrix of x's codes) with no activation or ReLU take the
 * requantizing form ({@link Int8Gemm#requantizing}): cuBLASLt scales, adds the bias and the residual, applies ReLU and
 * writes the int8 output in the same call. A Clip, or a GPU whose cuBLASLt has no algorithm for that form, takes the
 * int32 sums and Tessel's epilogue, reported with variant {@code int8/epilogue}. Shapes an INT8 kernel cannot take are
 * named by {@link #convWhyNot} and {@link #gemmWhyNot}, which the builder asks before any GPU work.
 */
final class Int8Layers {
    private Int8Layers() {}

    static final String VARIANT = "int8";
    /** The variant part after {@code int8} of a cuBLASLt GEMM whose int32 sums Tessel's epilogue finishes. */
    static final String EPILOGUE = "epilogue";

    /**
     * Why convolution tactic {@code id} ({@code cudnn.conv.fused_bias_act}, {@code tessel.conv.int8_dp4a},
     * {@code cublaslt.conv1x1} or {@code cublaslt.conv.im2col}) has no INT8 GPU kernel for this node with output {@code y}
     * (null: it has one).
     */
    static String convWhyNot(ConvLayers.Operands o, Value y, Layout layout, String id) {
        boolean cudnn = id.equals(GpuTactics.CONV_FUSED);
        int[] xd = o.x().type().shape().dims(), wd = o.w().type().shape().dims();
        if (xd.length != 4 || wd.length != 4) return "an INT8 convolution is 2-D";
        if (!o.act().isClamp()) return "the INT8 epilogue applies ReLU or Clip, not " + o.act().name() + " (its output is requantized after the activation)";
        if (o.conv().attrs().getInt("group", 1) != 1) return "an INT8 convolution has one group (got " + o.conv().attrs().getInt("group", 1) + ")";
        if (layout != Layout.NHWC)
            return "an INT8 convolution is NHWC (" + (cudnn ? "cuDNN's int8 convolutions are" : "the dp4a kernel reads") + " channels-last), the plan lays it out " + layout.text();
        if (xd[1] % 4 != 0 || wd[0] % 4 != 0) return "an INT8 convolution needs input and output channels that are multiples of 4 (got " + xd[1] + " -> " + wd[0] + ")";
        if (o.w().constantValue() == null) return "an INT8 convolution takes constant filters (%" + o.w().name() + " is computed)";
        if (o.bias() != null && o.bias().constantValue() == null) return "an INT8 convolution takes a constant bias (%" + o.bias().name() + " is computed)";
        long[] pads = o.conv().attrs().getInts("pads", new long[] {0, 0, 0, 0});
        if (pads.length != 4) return "an INT8 convolution takes 4 pads (got " + java.util.Arrays.toString(pads) + ")";
        if (cudnn && (pads[0] != pads[2] || pads[1] != pads[3]))
            return "cuDNN takes symmetric pads (got " + java.util.Arrays.toString(pads) + "; " + GpuTactics.CONV_INT8_DP4A + " takes these)";
        long[] dil = o.conv().attrs().getInts("dilations", new long[] {1, 1});
        if (cudnn && java.util.Arrays.stream(dil).anyMatch(d -> d != 1))
            return "cuDNN's int8 convolution takes no dilation (CUDNN_STATUS_NOT_SUPPORTED on an H100, cuDNN 9.14; got " + java.util.Arrays.toString(dil) + "; "
                    + GpuTactics.CONV_INT8_DP4A + " takes it)";
        if (id.equals(GpuTactics.CONV_MMA)) {
            String channels = org.tessel.tactics.conv.ConvMmaTactic.channelsWhyNot(xd[1], wd[0], 1);
            return channels == null ? null : id + " at int8 takes " + channels;
        }
        if (id.equals(GpuTactics.CONV_1X1_GEMM) || id.equals(GpuTactics.CONV_IM2COL_GEMM)) {
            Im2col.Geometry g;
            try {
                g = ConvLayers.pixelGeometry(o, y);
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
            if (id.equals(GpuTactics.CONV_1X1_GEMM) && !unitGemm(g))
                return id + " runs 1x1, stride-1, unpadded convolutions (its input is the matrix); this one is " + g.kh() + "x" + g.kw() + ", strides " + g.strideH() + "x" + g.strideW()
                        + ", pads " + java.util.Arrays.toString(pads) + " (" + GpuTactics.CONV_IM2COL_GEMM + " takes it)";
            if (id.equals(GpuTactics.CONV_IM2COL_GEMM) && g.withImages(1).bytes(1) > ConvIm2colGemmTactic.MAX_MATRIX_BYTES)
                return id + "'s im2col matrix of one image [" + g.withImages(1).mpad() + ", " + g.kpad() + "] of int8 codes takes " + (g.withImages(1).bytes(1) >> 20)
                        + " MiB of workspace, more than " + (ConvIm2colGemmTactic.MAX_MATRIX_BYTES >> 20) + " MiB";
        }
        return null;
    }

    /** True when the convolution's input as stored is its GEMM's matrix: 1x1, stride 1, unpadded (the output has the input's pixels). */
    static boolean unitGemm(Im2col.Geometry g) {
        return g.kh() == 1 && g.kw() == 1 && g.strideH() == 1 && g.strideW() == 1 && g.padTop() == 0 && g.padLeft() == 0 && g.oh() == g.h() && g.ow() == g.w();
    }

    /** Why this GEMM has no INT8 GPU kernel (null: it has one): K and N multiples of 4, epilogue bias / residual / ReLU. */
    static String gemmWhyNot(int kk, int nn, String activation) {
        if (kk % 4 != 0 || nn % 4 != 0) return "an INT8 GEMM needs K and N that are multiples of 4 (got K=" + kk + ", N=" + nn + ")";
        if (activation != null && !activation.equals("Relu")) return "the INT8 GEMM epilogue takes bias, residual and ReLU (got " + activation + ")";
        return null;
    }

    /** The convolution of {@code n} at INT8 on tactic {@code id}, {@code variant} the planned tactic's parts after it. */
    static Layer conv(LayerContext c, Node n, ConvLayers.Operands o, String id, List<String> variant) {
        Layout layout = c.layoutOf(o.x());
        String why = convWhyNot(o, n.output(), layout, id);
        if (why != null) throw GpuEngineException.unsupported(n, why);
        if (id.equals(GpuTactics.CONV_1X1_GEMM) || id.equals(GpuTactics.CONV_IM2COL_GEMM)) return pixelConv(c, n, o, id);
        if (id.equals(GpuTactics.CONV_MMA)) return mma(c, n, o, variant);
        Value x = o.x(), w = o.w(), out = n.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        Attributes a = o.conv().attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        Int8Conv.Spec spec = new Int8Conv.Spec(xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1], (int) pads[2], (int) pads[3],
                (int) strides[0], (int) strides[1], (int) dil[0], (int) dil[1]);
        int[] od = out.type().shape().dims();
        if (od.length != 4 || od[1] != wd[0] || od[2] != spec.outH() || od[3] != spec.outW())
            throw GpuEngineException.unsupported(n, "the INT8 convolution computes [" + xd[0] + ", " + wd[0] + ", " + spec.outH() + ", " + spec.outW() + "], the IR says " + out.type().shape());
        Quantized qc = quantized(c, o, x, w, out, wd[0]);
        DeviceBuffer wb = qc.filters();
        Int8Epilogue.Params ep = qc.epilogue();
        Int8Conv k = id.equals(GpuTactics.CONV_INT8_DP4A) ? Int8Conv.tessel(spec) : Int8Conv.cudnn(c.cudnn(), spec);
        DeviceBuffer xb = c.activation(x), yb = c.activation(out);
        DeviceBuffer acc = c.keep(DeviceBuffer.allocate(k.accumulatorBytes()));
        c.needWorkspace(k.workspaceSize());
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = GpuTactics.variant(id, VARIANT);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, out); }
            @Override public void enqueue(CudaStream s) { k.run(c.kernels(), xb, wb, acc, ep, yb, ws.get(), s); }
            @Override public void close() { k.close(); }
        };
    }

    /**
     * Tessel's implicit-GEMM convolution at INT8 ({@link ConvMma#runInt8}): x's codes and the KRSC filter codes on
     * m16n8k32 tensor cores, exact int32 sums, and the epilogue (s_x·s_w[c], bias, the residual's codes at their scale,
     * ReLU or Clip, requantized at the output's scale) in the same kernel; the tile as {@link ConvLayers#mmaTile} and the
     * split as {@link ConvLayers#mmaSplits} choose them, reported as {@code tessel.conv.mma/splitS/int8} or
     * {@code tessel.conv.mma/wide/int8}.
     */
    private static Layer mma(LayerContext c, Node n, ConvLayers.Operands o, List<String> variant) {
        Value x = o.x(), w = o.w(), out = n.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims(), od = out.type().shape().dims();
        Attributes a = o.conv().attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        if (o.residual() != null && c.layoutOf(o.residual()) != Layout.NHWC)
            throw GpuEngineException.unsupported(n, GpuTactics.CONV_MMA + " adds its residual %" + o.residual().name() + " in NHWC like the output (the plan lays it out " + c.layoutOf(o.residual()).text() + ")");
        ConvMma.Geometry g = ConvLayers.mmaGeometry(n, xd, wd, od, strides, pads, dil, DType.I8);
        Quantized qc = quantized(c, o, x, w, out, wd[0]);
        DeviceBuffer wb = qc.filters();
        Int8Epilogue.Params ep = qc.epilogue();
        DeviceBuffer xb = c.activation(x), yb = c.activation(out);
        DeviceBuffer tiles = ConvLayers.mmaCounters(c, g);
        String planned = variant.isEmpty() || variant.get(0).equals(VARIANT) ? null : variant.get(0);
        ConvMma.Tile tile = ConvLayers.mmaTile(c, n, o.conv(), g, DType.I8, planned, xb,
                t -> (xin, st) -> ConvMma.runInt8(c.kernels(), g, t, xin, wb, ep, yb, null, tiles, 1, st));
        int s = tile == ConvMma.Tile.WIDE ? 1 : ConvLayers.mmaSplits(c, n, o.conv(), g, DType.I8, planned, xb,
                (option, partials) -> (xin, st) -> ConvMma.runInt8(c.kernels(), g, ConvMma.Tile.SMALL, xin, wb, ep, yb, partials, tiles, option, st));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = GpuTactics.variant(GpuTactics.CONV_MMA, tile == ConvMma.Tile.WIDE ? org.tessel.tactics.conv.ConvMmaTactic.WIDE_VARIANT
                : org.tessel.tactics.conv.ConvMmaTactic.SPLIT_VARIANT + s, VARIANT);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, out); }
            @Override public void enqueue(CudaStream st) { ConvMma.runInt8(c.kernels(), g, tile, xb, wb, ep, yb, s > 1 ? ws.get() : null, tiles, s, st); }
        };
    }

    /** A convolution's filter codes on the device (KRSC, per output channel) and its requantizing epilogue. */
    private record Quantized(DeviceBuffer filters, Int8Epilogue.Params epilogue) {}

    /**
     * The filters of a convolution with {@code cout} output channels quantized per channel (shared by the layers that
     * read them) and its epilogue: s_x·s_w[c] for x's scale, the f32 bias, the residual's codes at its scale, the
     * activation's clamp, the output's codes at its scale.
     */
    private static Quantized quantized(LayerContext c, ConvLayers.Operands o, Value x, Value w, Value out, int cout) {
        float sx = c.scale(x), sy = c.scale(out);
        Int8Weights q = Int8Weights.forConv(w.constantValue(), c.weightScales(w, cout));
        DeviceBuffer codes = c.shared(w, "int8:krsc", () -> DeviceBuffer.ofBytes(q.codes()));
        DeviceBuffer scales = c.shared(w, "int8:scales@" + Float.floatToIntBits(sx), () -> DeviceBuffer.ofFloats(q.outputScales(sx)));
        DeviceBuffer bias = o.bias() == null ? null : c.shared(o.bias(), "f32", () -> DeviceBuffer.ofFloats(floats(o.bias())));
        DeviceBuffer residual = o.residual() == null ? null : c.activation(o.residual());
        float sr = o.residual() == null ? 1f : c.scale(o.residual());
        return new Quantized(codes, new Int8Epilogue.Params(scales, bias, residual, sr, o.act().lo(), o.act().hi(), DType.I8, sy));
    }

    /** y[M, N] = x[M, K] · W (+ bias) (+ residual) (ReLU) at INT8; {@code w} [K, N], or [N, K] with {@code transB}. */
    static Layer gemm(LayerContext c, Node n, String id, Value x, Value w, boolean transB, Value biasValue, Value residualValue, boolean relu) {
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int kk = xd[xd.length - 1], nn = transB ? wd[0] : wd[1];
        String why = gemmWhyNot(kk, nn, null);
        if (why != null) throw GpuEngineException.unsupported(n, why);
        long m = x.type().numElements() / kk;
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + m + " rows is too many");
        Int8Weights q = Int8Weights.forGemm(w.constantValue(), transB, c.weightScales(w, nn));
        DeviceBuffer wb = c.shared(w, "int8:nk", () -> DeviceBuffer.ofBytes(q.codes()));
        return matmul(c, n, id, x, w, q, wb, null, (int) m, nn, kk, biasValue, residualValue, relu ? 0f : Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY);
    }

    /**
     * A convolution as cuBLASLt's INT8 GEMM over its output pixels: {@code cublaslt.conv1x1} on x's codes as stored
     * ([N*H*W, C], the KRSC filter codes [K, C]), {@code cublaslt.conv.im2col} on {@link Im2col}'s matrix of x's codes
     * [N*OH*OW, kpad] (zero codes in the padding: the symmetric quantization's zero) with the KRSC codes padded to kpad
     * columns ({@link Int8Weights#paddedTo}, the matrix's column order), the matrix in the stream's workspace ahead of
     * cuBLASLt's.
     */
    private static Layer pixelConv(LayerContext c, Node n, ConvLayers.Operands o, String id) {
        Value x = o.x(), w = o.w(), out = n.output();
        Im2col.Geometry g = ConvLayers.pixelGeometry(o, out);
        int nn = w.type().shape().dim(0);
        boolean direct = id.equals(GpuTactics.CONV_1X1_GEMM);
        int kk = direct ? g.c() : g.kpad();
        if (g.m() > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + g.m() + " pixels is too many for one matmul");
        Int8Weights q = Int8Weights.forConv(w.constantValue(), c.weightScales(w, nn));
        DeviceBuffer wb = direct ? c.shared(w, "int8:krsc", () -> DeviceBuffer.ofBytes(q.codes()))
                : c.shared(w, "int8:krsc@" + kk, () -> DeviceBuffer.ofBytes(q.paddedTo(kk)));
        return matmul(c, n, id, x, w, q, wb, direct ? null : g, (int) g.m(), nn, kk, o.bias(), o.residual(), o.act().lo(), o.act().hi());
    }

    /**
     * The INT8 GEMM y [m, nn] = clamp(x' [m, kk] · wb [nn, kk]^T · s_x·s_w[c] + bias (+ residual)) requantized, x' x's
     * codes as stored or, with {@code im2col}, the matrix gathered from them slice by slice of whole images
     * ({@link Im2col.Slicing}): the requantizing form where cuBLASLt has one (no activation or ReLU), else the int32 sums
     * and Tessel's epilogue.
     */
    private static Layer matmul(LayerContext c, Node n, String id, Value x, Value w, Int8Weights q, DeviceBuffer wb, Im2col.Geometry im2col, int m, int nn, int kk,
                                Value biasValue, Value residualValue, float lo, float hi) {
        Value y = n.output();
        float sx = c.scale(x), sy = c.scale(y);
        DeviceBuffer residual = residualValue == null ? null : c.activation(residualValue);
        float sr = residualValue == null ? 1f : c.scale(residualValue);
        DeviceBuffer xb = c.activation(x), yb = c.activation(y);
        Im2col.Slicing slices = im2col == null ? null : Im2col.Slicing.of(im2col, 1, nn);
        int rows = slices == null ? m : (int) slices.slice().m(), lastRows = slices == null ? m : (int) slices.last().m();
        boolean relu = lo == 0f && hi == Float.POSITIVE_INFINITY, none = lo == Float.NEGATIVE_INFINITY && hi == Float.POSITIVE_INFINITY;
        Int8Gemm[] plans = null;
        DeviceBuffer alphas = null;
        if (relu || none) {
            DeviceBuffer bias = biasValue == null ? null
                    : c.shared(biasValue, "f32/" + Float.floatToIntBits(sy), () -> DeviceBuffer.ofFloats(Int8Gemm.overScale(floats(biasValue), sy)));
            try {
                Int8Gemm full = Int8Gemm.requantizing(c.cublasLt(), new Int8Gemm.Spec(rows, nn, kk), relu, bias, 1);
                try {
                    plans = new Int8Gemm[] {full, lastRows == rows ? full : Int8Gemm.requantizing(c.cublasLt(), new Int8Gemm.Spec(lastRows, nn, kk), relu, bias, 1)};
                } catch (CublasException e) {
                    full.close();
                    throw e;
                }
                alphas = c.shared(w, "int8:alphas@" + Float.floatToIntBits(sx) + "/" + Float.floatToIntBits(sy), () -> DeviceBuffer.ofFloats(Int8Gemm.alphas(q.outputScales(sx), sy)));
            } catch (CublasException e) {
                plans = null; // no requantizing algorithm on this GPU: the int32 form below
            }
        }
        Int8Epilogue.Params ep = null;
        DeviceBuffer acc = null;
        if (plans == null) {
            DeviceBuffer scales = c.shared(w, "int8:scales@" + Float.floatToIntBits(sx), () -> DeviceBuffer.ofFloats(q.outputScales(sx)));
            DeviceBuffer bias = biasValue == null ? null : c.shared(biasValue, "f32", () -> DeviceBuffer.ofFloats(floats(biasValue)));
            ep = new Int8Epilogue.Params(scales, bias, residual, sr, lo, hi, DType.I8, sy);
            Int8Gemm full = int32Plan(c, n, rows, nn, kk);
            plans = new Int8Gemm[] {full, lastRows == rows ? full : int32Plan(c, n, lastRows, nn, kk)};
            acc = c.keep(DeviceBuffer.allocate(4L * m * nn));
        }
        if (slices != null) c.needWorkspace(slices.workspaceBytes(Int8Gemm.WORKSPACE_BYTES));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        Int8Gemm full = plans[0], last = plans[1];
        DeviceBuffer a = alphas, accumulators = acc;
        Int8Epilogue.Params epilogue = ep;
        float beta = sr / sy;
        String tactic = epilogue == null ? GpuTactics.variant(id, VARIANT) : GpuTactics.variant(id, VARIANT, EPILOGUE);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) {
                DeviceBuffer w0 = ws.get();
                if (slices == null) slice(full, xb, 0, m, w0, s);
                else slices.run(c.kernels(), xb, w0, s, (isLast, matrix, row0, lt) -> slice(isLast ? last : full, matrix, row0, isLast ? lastRows : rows, lt, s));
                if (epilogue != null) Int8Epilogue.run(c.kernels(), Int8Epilogue.Accumulator.INT32, accumulators, m, nn, epilogue, yb, s);
            }

            /** One GEMM over rows [row0, row0 + count) of the output. */
            private void slice(Int8Gemm g, DeviceBuffer in, long row0, int count, DeviceBuffer lt, CudaStream s) {
                long off = row0 * nn, len = (long) count * nn;
                if (epilogue == null) g.runRequantizing(in, wb, a, residual == null ? null : residual.slice(off, len), beta, yb.slice(off, len), lt, s);
                else g.runInt32(0, in, wb, accumulators.slice(4 * off, 4 * len), lt, s);
            }

            @Override public void close() {
                full.close();
                if (last != full) last.close();
            }
        };
    }

    private static Int8Gemm int32Plan(LayerContext c, Node n, int m, int nn, int kk) {
        Int8Gemm g = Int8Gemm.plan(c.cublasLt(), new Int8Gemm.Spec(m, nn, kk), 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no INT8 algorithm for " + m + "x" + nn + "x" + kk); }
        return g;
    }

    private static float[] floats(Value v) {
        var t = v.constantValue();
        float[] f = new float[t.size()];
        for (int i = 0; i < f.length; i++) f[i] = t.getFloat(i);
        return f;
    }
}
