package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;

/**
 * Tactics {@code cudnn.conv.<algorithm>} (e.g. {@code cudnn.conv.implicit_precomp_gemm}): a 2-D
 * convolution through cuDNN's legacy API for one fixed problem, NCHW or NHWC, grouped, strided,
 * padded and dilated, in f32 (strict FMA or TF32), f16 or bf16 with f32 accumulation. Also the
 * fused conv + bias (+ residual) + ReLU/identity of {@code cudnnConvolutionBiasActivationForward}
 * ({@code cudnn.conv.fused_bias_act}).
 */
public final class CudnnConv implements AutoCloseable {
    /** How f32 convolutions may use tensor cores. */
    public enum Math { FP32_STRICT, TF32_ALLOWED }

    /** One convolution problem: x [n, c, h, w], weights [k, c/groups, r, s], logical order. */
    public record Spec(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int strideH, int strideW,
                       int dilationH, int dilationW, int groups, Layout layout, DType dtype, Math math) {
        public Spec {
            if (groups <= 0 || c % groups != 0 || k % groups != 0)
                throw new IllegalArgumentException("groups " + groups + " must divide input channels " + c + " and output channels " + k);
            if (layout != Layout.NCHW && layout != Layout.NHWC) throw new IllegalArgumentException("cuDNN convolution layout must be nchw or nhwc, got " + layout);
            org.tessel.runtime.gpu.CudaTypes.require(dtype, "cuDNN convolution");
        }

        public int outH() { return (h + 2 * padH - dilationH * (r - 1) - 1) / strideH + 1; }
        public int outW() { return (w + 2 * padW - dilationW * (s - 1) - 1) / strideW + 1; }
    }

    private final Cudnn cudnn;
    private final Spec spec;
    private final Cudnn.TensorDesc x, y, bias;
    private final Cudnn.FilterDesc w;
    private final Cudnn.ConvDesc conv;
    private final int[] out;

    private CudnnConv(Cudnn cudnn, Spec p, Layout inputLayout) {
        this.cudnn = cudnn;
        this.spec = p;
        Cudnn.Format f = p.layout() == Layout.NHWC ? Cudnn.Format.NHWC : Cudnn.Format.NCHW;
        Cudnn.Format fin = inputLayout == Layout.NHWC ? Cudnn.Format.NHWC : Cudnn.Format.NCHW;
        Cudnn.DataType t = dataType(p.dtype());
        Cudnn.MathType math = p.dtype() == DType.F32 ? (p.math() == Math.FP32_STRICT ? Cudnn.MathType.FMA : Cudnn.MathType.DEFAULT) : Cudnn.MathType.TENSOR_OP;
        x = cudnn.tensor(fin, t, p.n(), p.c(), p.h(), p.w());
        w = cudnn.filter(t, fin, p.k(), p.c() / p.groups(), p.r(), p.s());
        conv = cudnn.convolution(p.padH(), p.padW(), p.strideH(), p.strideW(), p.dilationH(), p.dilationW(), Cudnn.DataType.FLOAT, p.groups(), math);
        out = cudnn.outputDim(conv, x, w);
        if (out[0] != p.n() || out[1] != p.k() || out[2] != p.outH() || out[3] != p.outW())
            throw new IllegalStateException("cuDNN computes output " + java.util.Arrays.toString(out) + " for " + p + ", expected ["
                    + p.n() + ", " + p.k() + ", " + p.outH() + ", " + p.outW() + "]");
        y = cudnn.tensor(f, t, out[0], out[1], out[2], out[3]);
        bias = cudnn.tensor(Cudnn.Format.NCHW, t, 1, p.k(), 1, 1);
    }

    static Cudnn.DataType dataType(DType t) {
        return switch (t) {
            case F32 -> Cudnn.DataType.FLOAT;
            case F16 -> Cudnn.DataType.HALF;
            case BF16 -> Cudnn.DataType.BFLOAT16;
            default -> throw new IllegalArgumentException("cuDNN convolution takes f32, f16 or bf16, got " + t.text());
        };
    }

    public static CudnnConv create(Cudnn cudnn, Spec spec) { return new CudnnConv(cudnn, spec, spec.layout()); }

    /**
     * Input (and filters) in {@code inputLayout}, output in the spec's layout: e.g. the network's NCHW input
     * straight into an NHWC output. cuDNN may refuse the mix (at the call); filters are packed for the input layout.
     */
    public static CudnnConv createMixed(Cudnn cudnn, Spec spec, Layout inputLayout) {
        if (inputLayout != Layout.NCHW && inputLayout != Layout.NHWC) throw new IllegalArgumentException("cuDNN convolution input layout must be nchw or nhwc, got " + inputLayout);
        return new CudnnConv(cudnn, spec, inputLayout);
    }

    public Spec spec() { return spec; }

    /** Output N, C(=K), H, W. */
    public int[] outputDims() { return out.clone(); }

    public long outputElements() { return (long) out[0] * out[1] * out[2] * out[3]; }

    /** cuDNN's heuristic ranking of the forward algorithms (statuses say which apply). */
    public List<Cudnn.AlgoPerf> heuristics() { return cudnn.heuristicAlgorithms(x, w, conv, y); }

    /** Times every algorithm on real buffers (y is overwritten), fastest first. */
    public List<Cudnn.AlgoPerf> find(DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer yb, DeviceBuffer workspace) {
        return cudnn.findAlgorithms(x, xb.address(), w, wb.address(), conv, y, yb.address(), workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes());
    }

    public long workspaceSize(Cudnn.FwdAlgo algo) { return cudnn.workspaceSize(x, w, conv, y, algo); }

    /** y = conv(x, w) with algorithm {@code algo}. */
    public void run(Cudnn.FwdAlgo algo, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer yb, DeviceBuffer workspace, CudaStream stream) {
        cudnn.setStream(stream.handleAddress());
        cudnn.forward(1f, x, xb.address(), w, wb.address(), conv, algo, workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes(), 0f, y, yb.address());
    }

    /**
     * y = act(conv(x, w) + residualScale * z + bias) in one cuDNN call; z may be null (no residual).
     * {@code relu} false means identity, which cuDNN allows only with IMPLICIT_PRECOMP_GEMM.
     */
    public void runBiasActivation(Cudnn.FwdAlgo algo, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer biasb, DeviceBuffer z, float residualScale,
                                  boolean relu, DeviceBuffer yb, DeviceBuffer workspace, CudaStream stream) {
        cudnn.setStream(stream.handleAddress());
        try (Cudnn.ActivationDesc act = cudnn.activation(relu ? Cudnn.Activation.RELU : Cudnn.Activation.IDENTITY, 0.0)) {
            DeviceBuffer zb = z == null ? yb : z;
            cudnn.convBiasActivation(1f, x, xb.address(), w, wb.address(), conv, algo, workspace == null ? 0 : workspace.address(),
                    workspace == null ? 0 : workspace.bytes(), z == null ? 0f : residualScale, y, zb.address(), bias, biasb.address(), act, y, yb.address());
        }
    }

    /** Logical weights [K, C/g, R, S] in the order the layout's filter format wants (KCRS, or KRSC for NHWC). */
    public static Tensor packFilter(Tensor w, Layout layout) {
        if (layout != Layout.NHWC) return w;
        return org.tessel.runtime.gpu.HostTensors.toChannelsLast(w);
    }

    @Override public void close() {
        bias.close();
        y.close();
        conv.close();
        w.close();
        x.close();
    }
}
