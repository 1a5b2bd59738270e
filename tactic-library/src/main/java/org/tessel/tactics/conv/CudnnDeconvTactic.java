package org.tessel.tactics.conv;

import java.util.EnumSet;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.ops.ConvTransposeOp;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * {@code cudnn.deconv}: a 1-D or 2-D NCHW ConvTranspose as cuDNN's backward-data convolution (the runtime's
 * CudnnDeconv), bias by {@code cudnnAddTensor}; variants {@code algo_0} / {@code algo_1}, cuDNN's two general
 * backward-data algorithms. cuDNN takes one pad per axis: the pads at the start of each axis, while the end pads and
 * output padding only size the output, which it accepts when the convolution of the output gives back the input's size
 * (0 <= output_padding + pad_begin - pad_end < stride on every axis).
 *
 * <p>Priced as an implicit GEMM (the cost model's GEMM dims of a ConvTranspose) on tensor cores below FP32, at a lower
 * share of peak than the forward convolution: an estimate, corrected by calibration on measured times.
 */
public final class CudnnDeconvTactic extends BaseTactic {
    public static final CudnnDeconvTactic INSTANCE = new CudnnDeconvTactic();

    /** Shares of peak at a large, aligned shape (estimates): tensor cores, CUDA cores (FP32), memory. */
    static final double TENSOR_EFFICIENCY = 0.55, CUDA_EFFICIENCY = 0.5, MEMORY_EFFICIENCY = 0.7;

    private CudnnDeconvTactic() {
        super("cudnn.deconv", "cuDNN backward-data convolution as ConvTranspose (1-D/2-D, NCHW), bias by cudnnAddTensor; variants algo_0, algo_1",
                Backend.GPU, EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16), EnumSet.of(Layout.NCHW));
    }

    @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals("ConvTranspose"); }

    @Override protected String appliesToText() { return "ConvTranspose"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        if (n.input(0).type().dtype() == DType.F64) return "computes f32, f16 or bf16 (X is f64)";
        if (n.input(0).type().rank() > 4) return "takes one or two spatial axes (X is " + n.input(0).type().shape() + ")";
        for (int i = 1; i < n.numInputs(); i++)
            if (n.input(i) != null && !NodeFacts.isConstant(n, n.input(i))) return "takes constant weights and bias (%" + n.input(i).name() + " is computed)";
        int[][] win = ConvTransposeOp.window3d(n.input(0).type().shape(), n.input(1).type().shape(), n.attrs());
        for (int a = 1; a < 3; a++) {
            int k = win[0][a], s = win[1][a], d = win[2][a], pad = win[3][a], in = win[4][a], out = win[5][a];
            int back = Math.floorDiv(out + 2 * pad - d * (k - 1) - 1, s) + 1;
            if (back != in)
                return "cuDNN's backward data maps an output of size " + out + " back to " + back + ", not the input's " + in
                        + " (it needs 0 <= output_padding + pad_begin - pad_end < stride on every axis)";
        }
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        boolean tc = p != Precision.FP32;
        int launches = n.numInputs() > 2 && n.input(2) != null ? 2 : 1;
        return new TacticFeatures(tc ? TENSOR_EFFICIENCY : CUDA_EFFICIENCY, tc, 128, 128, 32, 8, MEMORY_EFFICIENCY, launches, 1);
    }
}
