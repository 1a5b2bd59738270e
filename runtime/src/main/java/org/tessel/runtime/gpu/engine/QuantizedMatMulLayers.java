package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpException;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.W8A8Gemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemv;
import org.tessel.tactics.gemm.GemmTactics;

/**
 * The LLM quantized MatMuls as Tessel's kernels: {@code tessel.WeightOnlyMatMul} by the decode GEMV
 * ({@link WeightOnlyGemv}) or the tiled GEMM ({@link WeightOnlyGemm}), {@code tessel.W8A8MatMul} by the dp4a GEMM
 * ({@link W8A8Gemm}). The activation runs in the layer's storage type; the codes, scales and zero points are uploaded
 * once per engine exactly as stored (bytes, and scales in their own type), never widened. Without a plan the rule
 * takes the GEMV wherever the catalogue's GEMV supports the node (the decode step), else the GEMM.
 */
public final class QuantizedMatMulLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY, GpuTactics.GEMM_W8A8); }

    @Override public boolean computes(Node n) {
        return n.body() == null && (n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY) || n.opName().equals(QuantizedMatMulOps.W8A8));
    }

    @Override public String ruleTactic(LayerContext c, Node n) {
        if (!computes(n)) return null;
        if (n.opName().equals(QuantizedMatMulOps.W8A8)) return GpuTactics.GEMM_W8A8;
        // the GEMV's limits (rows, 16-byte chunks) do not depend on the float precision it runs at
        return GemmTactics.WEIGHT_ONLY_GEMV.whyNot(n, Precision.FP32, Layout.ANY) == null ? GpuTactics.GEMV_WEIGHT_ONLY : GpuTactics.GEMM_WEIGHT_ONLY;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY, GpuTactics.GEMM_W8A8);
        String why = (switch (id) {
            case GpuTactics.GEMV_WEIGHT_ONLY -> GemmTactics.WEIGHT_ONLY_GEMV;
            case GpuTactics.GEMM_WEIGHT_ONLY -> GemmTactics.WEIGHT_ONLY_GEMM;
            default -> GemmTactics.W8A8_GEMM;
        }).whyNot(n, Precision.FP32, Layout.ANY);
        if (why != null) throw GpuEngineException.unsupported(n, id + " " + why);
        return id.equals(GpuTactics.GEMM_W8A8) ? w8a8(c, n) : weightOnly(c, n, id);
    }

    private static Layer weightOnly(LayerContext c, Node n, String id) {
        int bits = (int) n.attrs().getInt("bits", 0), group = (int) n.attrs().getInt("group_size", 0);
        Value w = n.input(1), s = n.input(2), z = n.input(3);
        QuantizedMatMulOps.Dims d;
        try {
            d = QuantizedMatMulOps.WeightOnlyMatMul.check(n.input(0).type(), w.type(), s.type(), z == null ? null : z.type(), bits, group);
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, id + ": " + e.getMessage());
        }
        DType t = c.storage(), scaleType = s.type().dtype();
        DeviceBuffer x = c.activation(n.input(0)), y = c.activation(n.output());
        DeviceBuffer codes = bytes(c, w), scales = c.shared(s, "scales:" + scaleType.text(), () -> HostTensors.upload(s.constantValue(), scaleType));
        DeviceBuffer zeros = z == null ? null : bytes(c, z);
        int m = d.m(), cols = d.n(), k = d.k();
        if (id.equals(GpuTactics.GEMV_WEIGHT_ONLY))
            return Operands.layer(c, n, id, n.output(), st -> WeightOnlyGemv.launch(c.kernels(), t, scaleType, bits, group, m, cols, k, x, codes, scales, zeros, y, st));
        return Operands.layer(c, n, id, n.output(), st -> WeightOnlyGemm.run(c.kernels(), t, scaleType, bits, group, m, cols, k, x, codes, scales, zeros, y, st));
    }

    private static Layer w8a8(LayerContext c, Node n) {
        Value w = n.input(1), ws = n.input(2), as = n.input(3);
        QuantizedMatMulOps.Dims d;
        try {
            d = QuantizedMatMulOps.W8A8MatMul.check(n.input(0).type(), w.type(), ws.type(), as.type());
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, GpuTactics.GEMM_W8A8 + ": " + e.getMessage());
        }
        float sa = as.constantValue().floats()[0];
        if (!(sa > 0) || Float.isInfinite(sa)) throw GpuEngineException.unsupported(n, "a_scale %" + as.name() + " must be positive and finite, got " + sa);
        DType t = c.storage();
        DeviceBuffer x = c.activation(n.input(0)), y = c.activation(n.output()), codes = bytes(c, w);
        DeviceBuffer wScales = c.shared(ws, "f32", () -> HostTensors.upload(ws.constantValue(), DType.F32));
        DeviceBuffer aScale = c.shared(as, "f32", () -> HostTensors.upload(as.constantValue(), DType.F32));
        int m = d.m(), cols = d.n(), k = d.k();
        return Operands.layer(c, n, GpuTactics.GEMM_W8A8, n.output(), st -> W8A8Gemm.run(c.kernels(), t, m, cols, k, x, codes, wScales, aScale, y, st));
    }

    /** An i8 or u8 constant (codes, zero points) uploaded once as its bytes. */
    private static DeviceBuffer bytes(LayerContext c, Value v) {
        Tensor tv = v.constantValue();
        return c.shared(v, "bytes", () -> {
            long[] l = tv.longs();
            byte[] b = new byte[l.length];
            for (int i = 0; i < l.length; i++) b[i] = (byte) l[i];
            return DeviceBuffer.ofBytes(b);
        });
    }
}
