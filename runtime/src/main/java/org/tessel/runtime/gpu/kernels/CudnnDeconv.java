package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;

/**
 * Tactic {@code cudnn.deconv}: a 1-D or 2-D NCHW ConvTranspose as cuDNN's backward-data convolution. ConvTranspose of
 * x through W [C, M/group, kh, kw] is the gradient of the input of the convolution from y (M channels) to x (C
 * channels) with that same filter, so x is cuDNN's dy, y its dx, W its filter unchanged, and the pads at the start of
 * each axis its (symmetric) pads; the end pads and output padding only size y, which cuDNN accepts when the
 * convolution of y gives back x's size ({@link #whyNot}). The bias, if any, is added by {@code cudnnAddTensor}.
 * f32 (strict FMA or TF32), f16 or bf16 storage with f32 accumulation; variants: the backward-data algorithm.
 */
public final class CudnnDeconv implements AutoCloseable {
    /**
     * One problem, logical sizes: x [n, c, h, w], y [n, m, outH, outW], W [c, m/groups, kh, kw]; a 1-D one has h = kh =
     * outH = 1, stride and dilation 1 and pad 0 on that axis.
     */
    public record Spec(int n, int c, int h, int w, int m, int outH, int outW, int kh, int kw, int padH, int padW, int strideH, int strideW,
                       int dilationH, int dilationW, int groups, DType dtype, CudnnConv.Math math) {}

    /**
     * Why cuDNN's backward data cannot compute this ConvTranspose, or null: the convolution from y's size must give x's
     * size (0 <= output_padding + pad_begin - pad_end < stride on every axis).
     */
    public static String whyNot(Spec s) {
        int fh = forwardSize(s.outH(), s.padH(), s.kh(), s.strideH(), s.dilationH()), fw = forwardSize(s.outW(), s.padW(), s.kw(), s.strideW(), s.dilationW());
        if (fh == s.h() && fw == s.w()) return null;
        return "cuDNN's backward-data convolution maps an output of " + s.outH() + "x" + s.outW() + " back to " + fh + "x" + fw + ", not the input's " + s.h() + "x" + s.w()
                + " (it needs 0 <= output_padding + pad_begin - pad_end < stride on every axis)";
    }

    /** The output size of a convolution over {@code in} with symmetric pad {@code pad} (cuDNN's formula). */
    static int forwardSize(int in, int pad, int k, int stride, int dilation) { return Math.floorDiv(in + 2 * pad - dilation * (k - 1) - 1, stride) + 1; }

    private final Cudnn cudnn;
    private final Cudnn.TensorDesc x, y, bias;
    private final Cudnn.FilterDesc w;
    private final Cudnn.ConvDesc conv;

    public CudnnDeconv(Cudnn cudnn, Spec s) {
        String why = whyNot(s);
        if (why != null) throw new IllegalArgumentException(why);
        this.cudnn = cudnn;
        Cudnn.DataType t = CudnnConv.dataType(s.dtype());
        Cudnn.MathType math = s.dtype() == DType.F32 ? (s.math() == CudnnConv.Math.FP32_STRICT ? Cudnn.MathType.FMA : Cudnn.MathType.DEFAULT) : Cudnn.MathType.TENSOR_OP;
        x = cudnn.tensor(Cudnn.Format.NCHW, t, s.n(), s.c(), s.h(), s.w());
        y = cudnn.tensor(Cudnn.Format.NCHW, t, s.n(), s.m(), s.outH(), s.outW());
        w = cudnn.filter(t, Cudnn.Format.NCHW, s.c(), s.m() / s.groups(), s.kh(), s.kw());
        conv = cudnn.convolution(s.padH(), s.padW(), s.strideH(), s.strideW(), s.dilationH(), s.dilationW(), Cudnn.DataType.FLOAT, s.groups(), math);
        int[] back = cudnn.outputDim(conv, y, w);
        if (back[0] != s.n() || back[1] != s.c() || back[2] != s.h() || back[3] != s.w()) {
            close();
            throw new IllegalStateException("cuDNN maps the output " + s.outH() + "x" + s.outW() + " to " + java.util.Arrays.toString(back) + ", expected the input ["
                    + s.n() + ", " + s.c() + ", " + s.h() + ", " + s.w() + "]");
        }
        bias = cudnn.tensor(Cudnn.Format.NCHW, t, 1, s.m(), 1, 1);
    }

    public long workspaceSize(Cudnn.BwdDataAlgo algo) { return cudnn.backwardDataWorkspaceSize(w, x, conv, y, algo); }

    /** y = ConvTranspose(x, w) (+ bias, when {@code biasb} is not null) with algorithm {@code algo}. */
    public void run(Cudnn.BwdDataAlgo algo, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer biasb, DeviceBuffer yb, DeviceBuffer workspace, CudaStream stream) {
        cudnn.setStream(stream.handleAddress());
        cudnn.backwardData(1f, w, wb.address(), x, xb.address(), conv, algo, workspace == null ? 0 : workspace.address(), workspace == null ? 0 : workspace.bytes(),
                0f, y, yb.address());
        if (biasb != null) cudnn.addTensor(1f, bias, biasb.address(), 1f, y, yb.address());
    }

    @Override public void close() {
        if (bias != null) bias.close();
        conv.close();
        w.close();
        y.close();
        x.close();
    }
}
