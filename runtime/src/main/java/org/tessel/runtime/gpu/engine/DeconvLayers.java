package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.ConvTransposeOp;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.DirectDeconv;

/**
 * {@code tessel.deconv.direct}: ConvTranspose (NCHW, one to three spatial axes, groups, strides, dilations, pads,
 * output padding or output_shape) as Tessel's gather kernel ({@link DirectDeconv}); weights and bias uploaded in the
 * node's storage type.
 */
public final class DeconvLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.DECONV_DIRECT); }

    @Override public boolean computes(Node n) { return n.opName().equals("ConvTranspose") && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.DECONV_DIRECT : null; }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.DECONV_DIRECT);
        Value x = n.input(0), w = n.input(1), bias = n.numInputs() > 2 ? n.input(2) : null;
        if (!w.isConstant()) throw GpuEngineException.unsupported(n, GpuTactics.DECONV_DIRECT + " takes constant weights (%" + w.name() + " is computed)");
        if (bias != null && !bias.isConstant()) throw GpuEngineException.unsupported(n, GpuTactics.DECONV_DIRECT + " takes a constant bias (%" + bias.name() + " is computed)");
        if (x.type().rank() > 5) throw GpuEngineException.unsupported(n, GpuTactics.DECONV_DIRECT + " takes up to three spatial axes (X is " + x.type().shape() + ")");
        if (x.type().layout() == Layout.NHWC) throw GpuEngineException.unsupported(n, GpuTactics.DECONV_DIRECT + " is channels-first (NCHW)");
        int[][] win = ConvTransposeOp.window3d(x.type().shape(), w.type().shape(), n.attrs());
        DirectDeconv.Spec s = new DirectDeconv.Spec(x.type().shape().dim(0), x.type().shape().dim(1), win[6][1], win[6][0], win[0], win[1], win[2], win[3], win[4], win[5]);
        DeviceBuffer xb = c.activation(x), wb = c.weight(w, Layout.ANY), bb = bias == null ? null : c.weight(bias, Layout.ANY), yb = c.activation(n.output());
        var t = c.storage();
        return Operands.layer(c, n, GpuTactics.DECONV_DIRECT, n.output(), st -> DirectDeconv.run(c.kernels(), t, s, xb, wb, bb, yb, st));
    }
}
