package org.tessel.runtime.gpu.engine;

import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.Int8Conv;
import org.tessel.runtime.gpu.kernels.Int8Epilogue;
import org.tessel.runtime.gpu.kernels.Int8Gemm;
import org.tessel.runtime.gpu.kernels.Int8Weights;

/**
 * Convolutions and GEMMs a plan runs at INT8, as the CPU backend emulates them ({@code PrecisionEmulation}): the node
 * reads int8 activations (its casts quantized them at their tensors' scales from the plan's quantization table), its
 * weights are int8 per output channel (scale amax/127, or the plan's channel scales for a Q/DQ model's weight, as on
 * the CPU), the sums are exact int32 (cuBLASLt IMMA, Tessel's dp4a convolution {@code tessel.conv.int8_dp4a}) or
 * cuDNN's INT8 convolution ({@code cudnn.conv.fused_bias_act} at INT8), and Tessel's epilogue applies s_in·s_w[c],
 * the f32 bias, the int8 residual at its scale, ReLU or Clip, and requantizes the output at its scale into the node's
 * int8 storage. The layer reports the planned tactic with variant {@code int8}. Shapes an INT8 kernel cannot take are
 * named by {@link #convWhyNot} and {@link #gemmWhyNot}, which the builder asks before any GPU work.
 */
final class Int8Layers {
    private Int8Layers() {}

    static final String VARIANT = "int8";

    /** Why convolution tactic {@code id} ({@code cudnn.conv.fused_bias_act} or {@code tessel.conv.int8_dp4a}) has no INT8 GPU kernel for this node (null: it has one). */
    static String convWhyNot(ConvLayers.Operands o, Layout layout, String id) {
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
        return null;
    }

    /** Why this GEMM has no INT8 GPU kernel (null: it has one): K and N multiples of 4, epilogue bias / residual / ReLU. */
    static String gemmWhyNot(int kk, int nn, String activation) {
        if (kk % 4 != 0 || nn % 4 != 0) return "an INT8 GEMM needs K and N that are multiples of 4 (got K=" + kk + ", N=" + nn + ")";
        if (activation != null && !activation.equals("Relu")) return "the INT8 GEMM epilogue takes bias, residual and ReLU (got " + activation + ")";
        return null;
    }

    static Layer conv(LayerContext c, Node n, ConvLayers.Operands o, String id) {
        Layout layout = c.layoutOf(o.x());
        String why = convWhyNot(o, layout, id);
        if (why != null) throw GpuEngineException.unsupported(n, why);
        Value x = o.x(), w = o.w(), out = n.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        Attributes a = o.conv().attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        Int8Conv.Spec spec = new Int8Conv.Spec(xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1], (int) pads[2], (int) pads[3],
                (int) strides[0], (int) strides[1], (int) dil[0], (int) dil[1]);
        int[] od = out.type().shape().dims();
        if (od.length != 4 || od[1] != wd[0] || od[2] != spec.outH() || od[3] != spec.outW())
            throw GpuEngineException.unsupported(n, "the INT8 convolution computes [" + xd[0] + ", " + wd[0] + ", " + spec.outH() + ", " + spec.outW() + "], the IR says " + out.type().shape());
        float sx = c.scale(x), sy = c.scale(out);
        Int8Weights q = Int8Weights.forConv(w.constantValue(), c.weightScales(w, wd[0]));
        DeviceBuffer wb = c.shared(w, "int8:krsc", () -> DeviceBuffer.ofBytes(q.codes()));
        DeviceBuffer scales = c.shared(w, "int8:scales@" + Float.floatToIntBits(sx), () -> DeviceBuffer.ofFloats(q.outputScales(sx)));
        DeviceBuffer bias = o.bias() == null ? null : c.shared(o.bias(), "f32", () -> DeviceBuffer.ofFloats(floats(o.bias())));
        DeviceBuffer residual = o.residual() == null ? null : c.activation(o.residual());
        float sr = o.residual() == null ? 1f : c.scale(o.residual());
        Int8Epilogue.Params ep = new Int8Epilogue.Params(scales, bias, residual, sr, o.act().lo(), o.act().hi(), DType.I8, sy);
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

    /** y[M, N] = x[M, K] · W (+ bias) (+ residual) (ReLU) at INT8; {@code w} [K, N], or [N, K] with {@code transB}. */
    static Layer gemm(LayerContext c, Node n, String id, Value x, Value w, boolean transB, Value biasValue, Value residualValue, boolean relu) {
        Value y = n.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int kk = xd[xd.length - 1], nn = transB ? wd[0] : wd[1];
        String why = gemmWhyNot(kk, nn, null);
        if (why != null) throw GpuEngineException.unsupported(n, why);
        long m = x.type().numElements() / kk;
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + m + " rows is too many");
        float sx = c.scale(x), sy = c.scale(y);
        Int8Weights q = Int8Weights.forGemm(w.constantValue(), transB, c.weightScales(w, nn));
        DeviceBuffer wb = c.shared(w, "int8:nk", () -> DeviceBuffer.ofBytes(q.codes()));
        DeviceBuffer scales = c.shared(w, "int8:scales@" + Float.floatToIntBits(sx), () -> DeviceBuffer.ofFloats(q.outputScales(sx)));
        DeviceBuffer bias = biasValue == null ? null : c.shared(biasValue, "f32", () -> DeviceBuffer.ofFloats(floats(biasValue)));
        DeviceBuffer residual = residualValue == null ? null : c.activation(residualValue);
        float sr = residualValue == null ? 1f : c.scale(residualValue);
        Int8Epilogue.Params ep = new Int8Epilogue.Params(scales, bias, residual, sr, relu ? 0f : Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, DType.I8, sy);
        Int8Gemm g = Int8Gemm.plan(c.cublasLt(), new Int8Gemm.Spec((int) m, nn, kk), 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no INT8 algorithm for " + m + "x" + nn + "x" + kk); }
        DeviceBuffer xb = c.activation(x), yb = c.activation(y);
        DeviceBuffer acc = c.keep(DeviceBuffer.allocate(g.spec().accumulatorBytes()));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = GpuTactics.variant(id, VARIANT);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) { g.run(c.kernels(), xb, wb, acc, ep, yb, ws.get(), s); }
            @Override public void close() { g.close(); }
        };
    }

    private static float[] floats(Value v) {
        var t = v.constantValue();
        float[] f = new float[t.size()];
        for (int i = 0; i < f.length; i++) f[i] = t.getFloat(i);
        return f;
    }
}
