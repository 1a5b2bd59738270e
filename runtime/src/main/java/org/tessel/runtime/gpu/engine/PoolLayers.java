package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.GlobalPool;
import org.tessel.runtime.gpu.kernels.Pool2d;

/**
 * 2-D pooling: {@code tessel.pool.max} (MaxPool; variant {@code nhwc8}: f16 NHWC with C % 8 == 0 and
 * 16-byte aligned buffers, 8 channels per thread), {@code tessel.pool.avg} (AveragePool) and
 * {@code tessel.pool.global} (GlobalAveragePool, and ReduceMean over the spatial axes of a rank-4 tensor).
 */
public final class PoolLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.POOL_MAX, GpuTactics.POOL_AVG, GpuTactics.POOL_GLOBAL); }

    /** True for a ReduceMean over axes {2, 3} of a rank-4 tensor (any keepdims): a global average pool. */
    static boolean globalMean(Node n) {
        return n.opName().equals("ReduceMean") && MoreLayers.reducePlan(n).globalPool();
    }

    private static String idOf(Node n) {
        return switch (n.opName()) {
            case "MaxPool" -> GpuTactics.POOL_MAX;
            case "AveragePool" -> GpuTactics.POOL_AVG;
            case "GlobalAveragePool" -> GpuTactics.POOL_GLOBAL;
            case "ReduceMean" -> {
                try {
                    yield globalMean(n) ? GpuTactics.POOL_GLOBAL : null;
                } catch (GpuEngineException e) {
                    yield null; // a reduction the reduce tactic refuses, naming why
                }
            }
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = idOf(n);
        Operands.requireOneOf(n, tactic, id == null ? "(none)" : id);
        return n.opName().equals("ReduceMean") ? reduceMean(e, n) : pool(e, n);
    }

    private static Layer pool(LayerContext e, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims(), o = y.type().shape().dims();
        if (d.length != 4) throw GpuEngineException.unsupported(n, "only 2-D pooling, got input " + x.type().shape());
        Attributes a = n.attrs();
        boolean global = n.opName().equals("GlobalAveragePool");
        Pool2d.Mode mode = n.opName().equals("MaxPool") ? Pool2d.Mode.MAX : Pool2d.Mode.AVG;
        if (n.outputs().size() > 1 && !e.graph().users(n.output(1)).isEmpty()) throw GpuEngineException.unsupported(n, "MaxPool indices output is used");
        long[] k = global ? new long[] {d[2], d[3]} : a.getInts("kernel_shape");
        long[] st = global ? new long[] {1, 1} : a.getInts("strides", new long[] {1, 1});
        long[] p = global ? new long[] {0, 0, 0, 0} : a.getInts("pads", new long[] {0, 0, 0, 0});
        long[] dl = global ? new long[] {1, 1} : a.getInts("dilations", new long[] {1, 1});
        if (!a.getString("auto_pad", "NOTSET").equals("NOTSET")) throw GpuEngineException.unsupported(n, "auto_pad (run the standard pipeline, which makes pads explicit)");
        boolean includePad = a.getInt("count_include_pad", 0) != 0;
        Pool2d.Window w = new Pool2d.Window(d[0], d[1], d[2], d[3], o[2], o[3], (int) k[0], (int) k[1], (int) st[0], (int) st[1],
                (int) p[0], (int) p[1], (int) p[2], (int) p[3], (int) dl[0], (int) dl[1], includePad);
        Layout layout = e.layoutOf(x);
        // the kernels read and write one layout; a global pool's [N, C, 1, 1] output is the same bytes in either
        if (!global && layout != Layout.ANY && e.layoutOf(y) != Layout.ANY && e.layoutOf(y) != layout)
            throw GpuEngineException.unsupported(n, "input %" + x.name() + " is " + layout.text() + " and output %" + y.name() + " " + e.layoutOf(y).text() + " (a pool keeps its layout; the plan needs a reformat between)");
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        if (global) return globalPool(e, n, y, layout, d, xb, yb);
        String tactic = mode == Pool2d.Mode.MAX ? GpuTactics.POOL_MAX : GpuTactics.POOL_AVG;
        if (mode == Pool2d.Mode.MAX && vectorMaxPool(t, layout, w, xb, yb))
            return Operands.layer(e, n, GpuTactics.variant(GpuTactics.POOL_MAX, "nhwc8"), y, s -> CnnKernels.maxPoolNhwc8(e.kernels(), w, xb, yb, s));
        return Operands.layer(e, n, tactic, y, s -> Pool2d.run(e.kernels(), t, mode, layout, w, xb, yb, s));
    }

    /** f16 NHWC max pooling with C % 8 == 0 and 16-byte aligned buffers runs 8 channels per thread (the tessel.pool.max/nhwc8 variant). */
    static boolean vectorMaxPool(DType t, Layout layout, Pool2d.Window w, DeviceBuffer xb, DeviceBuffer yb) {
        return t == DType.F16 && layout == Layout.NHWC && w.c() % 8 == 0 && xb.address() % 16 == 0 && yb.address() % 16 == 0;
    }

    /** ReduceMean over axes {2, 3} of a rank-4 tensor (any keepdims): a global average pool. */
    private static Layer reduceMean(LayerContext e, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        Layout layout = e.layoutOf(x);
        return globalPool(e, n, y, layout, d, e.activation(x), e.activation(y));
    }

    /** tessel.pool.global over x [d0, d1, d2, d3] in {@code layout}, its positions sliced as {@link GlobalPool#plan} says (the slices' sums in the stream's workspace). */
    private static Layer globalPool(LayerContext e, Node n, Value y, Layout layout, int[] d, DeviceBuffer xb, DeviceBuffer yb) {
        DType t = e.storage();
        GlobalPool.Plan p = GlobalPool.plan(layout, d[0], d[1], d[2], d[3], e.kernels().context().device().smCount());
        if (p.workspaceBytes() > 0) e.needWorkspace(p.workspaceBytes());
        java.util.function.Supplier<DeviceBuffer> ws = e.workspace();
        return Operands.layer(e, n, GpuTactics.POOL_GLOBAL, y, s -> GlobalPool.run(e.kernels(), t, p, xb, yb, p.workspaceBytes() > 0 ? ws.get() : null, s));
    }
}
