package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.IndexOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.IndexKernels;

/**
 * The index ops on {@link IndexKernels}: {@code tessel.range} (a Range left unfolded), {@code tessel.trilu},
 * {@code tessel.cumulative} (CumSum, CumProd), {@code tessel.onehot}, {@code tessel.topk}, {@code tessel.scatter_elements}
 * and {@code tessel.scatter_nd}. Elements live as the engine keeps them (floating data in the storage type, integers as
 * i32, bool as bytes), indices as i32; channels-first tensors. Trilu's k and CumSum's axis may be computed: the
 * kernels read them from the device. {@link #plan} checks a node without a GPU.
 */
public final class IndexLayers implements TacticImplementation {
    @Override public List<String> tacticIds() {
        return List.of(GpuTactics.RANGE, GpuTactics.TRILU, GpuTactics.CUMULATIVE, GpuTactics.ONEHOT, GpuTactics.TOPK, GpuTactics.SCATTER_ELEMENTS, GpuTactics.SCATTER_ND);
    }

    static String idOf(Node n) {
        if (n.body() != null) return null;
        return switch (n.opName()) {
            case "Range" -> GpuTactics.RANGE;
            case "Trilu" -> GpuTactics.TRILU;
            case "CumSum", "CumProd" -> GpuTactics.CUMULATIVE;
            case "OneHot" -> GpuTactics.ONEHOT;
            case "TopK" -> GpuTactics.TOPK;
            case "ScatterElements" -> GpuTactics.SCATTER_ELEMENTS;
            case "ScatterND" -> GpuTactics.SCATTER_ND;
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    /** How elements of {@code v} live on the device at {@code storage}: i32 for integers, bool bytes, else the storage type. */
    static DType kind(Node n, Value v, DType storage) {
        DType t = v.type().dtype();
        DType k = t.isInteger() ? DType.I32 : t == DType.BOOL ? DType.BOOL : storage;
        if (!IndexKernels.supports(k))
            throw GpuEngineException.unsupported(n, n.opName() + " of %" + v.name() + " at storage " + storage.text() + " (supported: f32, f16, bf16)");
        return k;
    }

    /** Checks {@code n} as its layer's build would before any device work (kinds, layout, constant inputs, ranks); throws naming the node. */
    static void plan(Node n, DType storage) {
        if (idOf(n) == null) throw GpuEngineException.unsupported(n, "op " + n.opName() + " is not one of the index ops");
        WindowLayers.requireChannelsFirst(n);
        for (Value v : n.outputs()) kind(n, v, storage);
        switch (n.opName()) {
            case "Range" -> {
                DType k = kind(n, n.output(), storage);
                if (k == DType.I32) {
                    long count = n.output().type().numElements();
                    Tensor s = n.input(0).constantValue(), d = n.input(2).constantValue();
                    if (s != null && d != null) {
                        long first = s.getLong(0), last = first + Math.max(0, count - 1) * d.getLong(0);
                        if (first != (int) first || last != (int) last)
                            throw GpuEngineException.unsupported(n, "Range from " + first + " to " + last + " leaves the i32 range of device integers");
                    }
                }
            }
            case "Trilu" -> { if (n.numInputs() > 1 && n.input(1) != null && n.input(1).isConstant()) IndexOps.triluK(n.input(1).constantValue()); }
            case "CumSum", "CumProd" -> { if (n.input(1).isConstant()) IndexOps.cumulativeAxis(n.input(1).constantValue(), n.input(0).type().rank()); }
            case "OneHot" -> kind(n, n.input(0), storage);
            case "TopK" -> kind(n, n.input(0), storage);
            case "ScatterElements" -> IndexKernels.scatterElementsTable(n.input(0).type().shape().dims(), n.input(1).type().shape().dims());
            case "ScatterND" -> {
                int k = n.input(1).type().shape().dim(-1);
                if (k > IndexKernels.MAX_RANK) throw GpuEngineException.unsupported(n, "ScatterND index tuples of " + k + " coordinates (supported: up to " + IndexKernels.MAX_RANK + ")");
            }
            default -> { }
        }
        if (n.opName().startsWith("Scatter") && n.input(0).type().rank() > IndexKernels.MAX_RANK)
            throw GpuEngineException.unsupported(n, n.opName() + " of rank " + n.input(0).type().rank() + " (supported: up to " + IndexKernels.MAX_RANK + ")");
    }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, idOf(n) == null ? "(none)" : idOf(n));
        DType storage = e.storage();
        plan(n, storage);
        Value out = n.output();
        DType kind = kind(n, out, storage);
        DeviceBuffer yb = e.activation(out);
        return switch (id) {
            case GpuTactics.RANGE -> {
                DeviceBuffer sb = WindowLayers.operand(e, n.input(0)), db = WindowLayers.operand(e, n.input(2));
                long count = out.type().numElements();
                yield Operands.layer(e, n, id, out, s -> IndexKernels.range(e.kernels(), kind, sb, db, yb, count, s));
            }
            case GpuTactics.TRILU -> {
                DeviceBuffer kb = n.numInputs() > 1 && n.input(1) != null ? Operands.operand(e, n.input(1)) : null;
                boolean upper = n.attrs().getInt("upper", 1) != 0;
                DeviceBuffer xb = WindowLayers.operand(e, n.input(0));
                int[] dims = out.type().shape().dims();
                yield Operands.layer(e, n, id, out, s -> IndexKernels.trilu(e.kernels(), kind, xb, kb, yb, dims, upper, s));
            }
            case GpuTactics.CUMULATIVE -> {
                int[] dims = out.type().shape().dims();
                boolean product = n.opName().equals("CumProd"), exclusive = n.attrs().getInt("exclusive", 0) != 0, reverse = n.attrs().getInt("reverse", 0) != 0;
                DeviceBuffer xb = WindowLayers.operand(e, n.input(0)), ab = Operands.operand(e, n.input(1));
                DeviceBuffer db = e.shared(out, "cumulative:dims", () -> WindowLayers.longs(IndexKernels.dimsTable(dims)));
                yield Operands.layer(e, n, id, out, s -> IndexKernels.cumulative(e.kernels(), kind, xb, ab, yb, db, dims, product, exclusive, reverse, s));
            }
            case GpuTactics.ONEHOT -> {
                Value idx = n.input(0);
                DType index = kind(n, idx, storage);
                if (index == DType.BOOL) throw GpuEngineException.unsupported(n, "OneHot of bool indices %" + idx.name());
                int[] is = idx.type().shape().dims();
                int axis = Operands.axis(n, n.attrs().getInt("axis", -1), is.length + 1), depth = out.type().shape().dim(axis);
                DeviceBuffer ib = Operands.operand(e, idx), vb = WindowLayers.operand(e, n.input(2));
                yield Operands.layer(e, n, id, out, s -> IndexKernels.oneHot(e.kernels(), kind, index, ib, vb, yb, is, depth, axis, s));
            }
            case GpuTactics.TOPK -> {
                int[] dims = n.input(0).type().shape().dims();
                int axis = Operands.axis(n, n.attrs().getInt("axis", -1), dims.length);
                int k = out.type().shape().dim(axis);
                boolean largest = n.attrs().getInt("largest", 1) != 0;
                DeviceBuffer xb = WindowLayers.operand(e, n.input(0)), ib = e.activation(n.output(1));
                yield Operands.layer(e, n, id, out, s -> IndexKernels.topK(e.kernels(), kind, xb, yb, ib, dims, axis, k, largest, s));
            }
            case GpuTactics.SCATTER_ELEMENTS -> {
                int[] dd = n.input(0).type().shape().dims(), id2 = n.input(1).type().shape().dims();
                int axis = Operands.axis(n, n.attrs().getInt("axis", 0), dd.length);
                String reduction = n.attrs().getString("reduction", "none");
                long[] table = IndexKernels.scatterElementsTable(dd, id2);
                DeviceBuffer tb = e.shared(out, "scatter_elements:table", () -> WindowLayers.longs(table));
                DeviceBuffer xb = WindowLayers.operand(e, n.input(0)), ib = Operands.operand(e, n.input(1)), ub = WindowLayers.operand(e, n.input(2));
                yield Operands.layer(e, n, id, out, s -> IndexKernels.scatterElements(e.kernels(), kind, xb, ib, ub, yb, tb, dd, id2, axis, reduction, s));
            }
            default -> {
                int[] dd = n.input(0).type().shape().dims(), is = n.input(1).type().shape().dims();
                String reduction = n.attrs().getString("reduction", "none");
                long[] lead = new long[Math.max(1, is[is.length - 1])];
                for (int j = 0; j < is[is.length - 1]; j++) lead[j] = dd[j];
                DeviceBuffer db = e.shared(out, "scatter_nd:dims", () -> WindowLayers.longs(lead));
                DeviceBuffer xb = WindowLayers.operand(e, n.input(0)), ib = Operands.operand(e, n.input(1)), ub = WindowLayers.operand(e, n.input(2));
                yield Operands.layer(e, n, id, out, s -> IndexKernels.scatterNd(e.kernels(), kind, xb, ib, ub, yb, db, dd, is, reduction, s));
            }
        };
    }
}
