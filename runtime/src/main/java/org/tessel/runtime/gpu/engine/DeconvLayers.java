package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.ConvTransposeOp;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.CudnnConv;
import org.tessel.runtime.gpu.kernels.CudnnDeconv;
import org.tessel.runtime.gpu.kernels.DirectDeconv;

/**
 * ConvTranspose (NCHW; groups, strides, dilations, pads, output padding or output_shape), weights and bias uploaded in
 * the node's storage type, by two tactics: {@code tessel.deconv.direct}, Tessel's gather kernel ({@link DirectDeconv},
 * one to three spatial axes), and {@code cudnn.deconv}, cuDNN's backward-data convolution ({@link CudnnDeconv}, one or
 * two spatial axes, on tensor cores below FP32; variant {@code algo_0} or {@code algo_1}, the plan's, else algo_1).
 */
public final class DeconvLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.DECONV_DIRECT, GpuTactics.DECONV_CUDNN); }

    @Override public boolean computes(Node n) { return n.opName().equals("ConvTranspose") && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.DECONV_DIRECT : null; }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, GpuTactics.DECONV_DIRECT, GpuTactics.DECONV_CUDNN);
        Value x = n.input(0), w = n.input(1), bias = n.numInputs() > 2 ? n.input(2) : null;
        if (!w.isConstant()) throw GpuEngineException.unsupported(n, id + " takes constant weights (%" + w.name() + " is computed)");
        if (bias != null && !bias.isConstant()) throw GpuEngineException.unsupported(n, id + " takes a constant bias (%" + bias.name() + " is computed)");
        int axes = id.equals(GpuTactics.DECONV_CUDNN) ? 2 : 3;
        if (x.type().rank() > axes + 2) throw GpuEngineException.unsupported(n, id + " takes up to " + (axes == 2 ? "two" : "three") + " spatial axes (X is " + x.type().shape() + ")");
        if (x.type().layout() == Layout.NHWC) throw GpuEngineException.unsupported(n, id + " is channels-first (NCHW)");
        int[][] win = ConvTransposeOp.window3d(x.type().shape(), w.type().shape(), n.attrs());
        if (id.equals(GpuTactics.DECONV_CUDNN)) return cudnn(c, n, tactic, win, x, w, bias);
        DirectDeconv.Spec s = new DirectDeconv.Spec(x.type().shape().dim(0), x.type().shape().dim(1), win[6][1], win[6][0], win[0], win[1], win[2], win[3], win[4], win[5]);
        DeviceBuffer xb = c.activation(x), wb = c.weight(w, Layout.ANY), bb = bias == null ? null : c.weight(bias, Layout.ANY), yb = c.activation(n.output());
        var t = c.storage();
        return Operands.layer(c, n, GpuTactics.DECONV_DIRECT, n.output(), st -> DirectDeconv.run(c.kernels(), t, s, xb, wb, bb, yb, st));
    }

    /** {@code cudnn.deconv[/algo]}: the last two of window3d's three axes are cuDNN's H and W (the first is 1 here). */
    private static Layer cudnn(LayerContext c, Node n, String tactic, int[][] win, Value x, Value w, Value bias) {
        List<String> parts = GpuTactics.parts(tactic);
        Cudnn.BwdDataAlgo algo = Cudnn.BwdDataAlgo.ALGO_1;
        if (parts.size() > 1) {
            algo = null;
            for (Cudnn.BwdDataAlgo a : Cudnn.BwdDataAlgo.values()) if (a.variant().equals(parts.get(1))) algo = a;
            if (algo == null || parts.size() > 2)
                throw GpuEngineException.unsupported(n, "variant '" + String.join("/", parts.subList(1, parts.size())) + "' of " + GpuTactics.DECONV_CUDNN
                        + " names no backward-data algorithm (known: " + java.util.Arrays.stream(Cudnn.BwdDataAlgo.values()).map(Cudnn.BwdDataAlgo::variant).toList() + ")");
        }
        CudnnConv.Math math = c.precision() == GpuEngine.Precision.TF32 ? CudnnConv.Math.TF32_ALLOWED : CudnnConv.Math.FP32_STRICT;
        CudnnDeconv.Spec s = new CudnnDeconv.Spec(x.type().shape().dim(0), x.type().shape().dim(1), win[4][1], win[4][2], win[6][1], win[5][1], win[5][2],
                win[0][1], win[0][2], win[3][1], win[3][2], win[1][1], win[1][2], win[2][1], win[2][2], win[6][0], c.storage(), math);
        String why = CudnnDeconv.whyNot(s);
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.DECONV_CUDNN + ": " + why);
        CudnnDeconv k = new CudnnDeconv(c.cudnn(), s);
        Cudnn.BwdDataAlgo chosen = algo;
        c.needWorkspace(k.workspaceSize(chosen));
        java.util.function.Supplier<DeviceBuffer> workspace = c.workspace();
        DeviceBuffer xb = c.activation(x), wb = c.weight(w, Layout.ANY), bb = bias == null ? null : c.weight(bias, Layout.ANY), yb = c.activation(n.output());
        String reported = GpuTactics.variant(GpuTactics.DECONV_CUDNN, chosen.variant());
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, reported, n.output()); }
            @Override public void enqueue(CudaStream st) { k.run(chosen, xb, wb, bb, yb, workspace.get(), st); }
            @Override public void close() { k.close(); }
        };
    }
}
