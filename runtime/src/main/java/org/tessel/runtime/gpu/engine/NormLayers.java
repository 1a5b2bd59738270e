package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.LayerNorm;
import org.tessel.runtime.gpu.kernels.Softmax;

/**
 * Normalizations: {@code tessel.layernorm} (LayerNormalization over the last axis), {@code tessel.rmsnorm}
 * (RMSNormalization over the last axis), {@code tessel.batchnorm}
 * (inference BatchNormalization, {@link MoreLayers#batchnormPlan}), {@code tessel.softmax} (Softmax over the
 * last axis) and {@code tessel.lrn} (LRN across channels, NCHW or NHWC).
 */
public final class NormLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.LAYERNORM, GpuTactics.RMSNORM, GpuTactics.BATCHNORM, GpuTactics.SOFTMAX, GpuTactics.LRN); }

    private static String idOf(Node n) {
        return switch (n.opName()) {
            case "LayerNormalization" -> GpuTactics.LAYERNORM;
            case "RMSNormalization" -> GpuTactics.RMSNORM;
            case "BatchNormalization" -> GpuTactics.BATCHNORM;
            case "Softmax" -> GpuTactics.SOFTMAX;
            case "LRN" -> GpuTactics.LRN;
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = idOf(n);
        Operands.requireOneOf(n, tactic, id == null ? "(none)" : id);
        return switch (id) {
            case GpuTactics.LAYERNORM -> layerNorm(e, n);
            case GpuTactics.RMSNORM -> rmsNorm(e, n);
            case GpuTactics.BATCHNORM -> MoreLayers.batchnorm(e, n);
            case GpuTactics.SOFTMAX -> softmax(e, n);
            default -> lrn(e, n);
        };
    }

    private static Layer layerNorm(LayerContext e, Node n) {
        Value x = n.input(0), out = n.output();
        for (int i = 1; i < n.outputs().size(); i++)
            if (!e.graph().users(n.output(i)).isEmpty()) throw GpuEngineException.unsupported(n, "LayerNormalization's mean/inverse-deviation outputs are used");
        int rank = x.type().rank();
        int ax = Operands.axis(n, n.attrs().getInt("axis", -1), rank);
        if (ax != rank - 1) throw GpuEngineException.unsupported(n, "LayerNormalization over axis " + ax + " of a rank-" + rank + " tensor (supported: the last axis)");
        int len = x.type().shape().dim(rank - 1);
        int rows = (int) (x.type().numElements() / len);
        Value gamma = n.input(1), beta = n.numInputs() > 2 ? n.input(2) : null;
        if (gamma.type().numElements() != len || (beta != null && beta.type().numElements() != len))
            throw GpuEngineException.unsupported(n, "scale/bias must hold " + len + " values (the last axis)");
        float eps = n.attrs().getFloat("epsilon", 1e-5f);
        DeviceBuffer xb = e.activation(x), gb = Operands.operand(e, gamma), bb = beta == null ? null : Operands.operand(e, beta), yb = e.activation(out);
        DType t = e.storage();
        return Operands.layer(e, n, GpuTactics.LAYERNORM, out, s -> LayerNorm.run(e.kernels(), t, xb, gb, bb, yb, rows, len, eps, s));
    }

    private static Layer rmsNorm(LayerContext e, Node n) {
        Value x = n.input(0), gamma = n.input(1), out = n.output();
        int rank = x.type().rank();
        int ax = Operands.axis(n, n.attrs().getInt("axis", -1), rank);
        if (ax != rank - 1) throw GpuEngineException.unsupported(n, "RMSNormalization over axis " + ax + " of a rank-" + rank + " tensor (supported: the last axis)");
        int len = x.type().shape().dim(rank - 1);
        int rows = (int) (x.type().numElements() / len);
        if (gamma.type().numElements() != len) throw GpuEngineException.unsupported(n, "scale must hold " + len + " values (the last axis)");
        float eps = n.attrs().getFloat("epsilon", 1e-5f);
        DeviceBuffer xb = e.activation(x), gb = Operands.operand(e, gamma), yb = e.activation(out);
        DType t = e.storage();
        return Operands.layer(e, n, GpuTactics.RMSNORM, out, s -> LayerNorm.runRms(e.kernels(), t, xb, gb, yb, rows, len, eps, s));
    }

    private static Layer softmax(LayerContext e, Node n) {
        Value x = n.input(0), y = n.output();
        int rank = x.type().rank();
        long axis = n.attrs().getInt("axis", -1);
        if (axis < 0) axis += rank;
        if (axis != rank - 1) throw GpuEngineException.unsupported(n, "Softmax over axis " + axis + " of a rank-" + rank + " tensor (supported: the last axis)");
        int len = x.type().shape().dim(rank - 1);
        int rows = (int) (x.type().numElements() / len);
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        return Operands.layer(e, n, GpuTactics.SOFTMAX, y, s -> Softmax.run(e.kernels(), t, xb, yb, rows, len, s));
    }

    private static Layer lrn(LayerContext e, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        if (d.length < 3) throw GpuEngineException.unsupported(n, "LRN of a rank-" + d.length + " tensor (needs [N, C, spatial...])");
        Attributes a = n.attrs();
        int size = (int) a.getInt("size", 0);
        if (size < 1) throw GpuEngineException.unsupported(n, "LRN size " + size);
        float alpha = a.getFloat("alpha", 1e-4f), beta = a.getFloat("beta", 0.75f), bias = a.getFloat("bias", 1f);
        Layout layout = e.layoutOf(x);
        if (e.layoutOf(y) != layout) throw GpuEngineException.unsupported(n, "LRN input " + layout.text() + ", output " + e.layoutOf(y).text());
        long inner = x.type().numElements() / ((long) d[0] * d[1]);
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        boolean nhwc = layout == Layout.NHWC;
        return Operands.layer(e, n, GpuTactics.LRN, y, s -> CnnKernels.lrn(e.kernels(), t, xb, yb, d[0], d[1], inner, nhwc, size, alpha, beta, bias, s));
    }
}
