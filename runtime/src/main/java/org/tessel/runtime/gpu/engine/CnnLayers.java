package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.Pool2d;

/**
 * GPU engine layers of the CNN family beyond convolutions: Concat ({@code tessel.concat}, one
 * strided copy per input into its slice, in either layout), Split ({@code tessel.split}, the inverse:
 * each output copied from its slice, up to four per launch), LRN ({@code tessel.lrn}) and ReduceMean
 * over the spatial axes of a rank-4 tensor (as {@code tessel.pool.global}).
 */
final class CnnLayers {
    private CnnLayers() {}

    static GpuEngine.Layer build(GpuEngine e, Node n) {
        return switch (n.opName()) {
            case "Concat" -> concat(e, n);
            case "Split" -> split(e, n);
            case "LRN" -> lrn(e, n);
            case "ReduceMean" -> reduceMean(e, n);
            default -> throw GpuEngine.unsupported(n, "op " + n.opName() + " is not a CNN layer here");
        };
    }

    /** The physical position of logical axis {@code a} of a rank-{@code r} tensor in {@code layout} (NHWC: channels last). */
    static int physicalAxis(int a, int r, Layout layout) {
        if (layout != Layout.NHWC || r < 3) return a;
        return a == 0 ? 0 : a == 1 ? r - 1 : a - 1;
    }

    /** The logical dims in physical order. */
    static int[] physicalDims(int[] d, Layout layout) {
        if (layout != Layout.NHWC || d.length < 3) return d.clone();
        int[] p = new int[d.length];
        p[0] = d[0];
        for (int i = 2; i < d.length; i++) p[i - 1] = d[i];
        p[d.length - 1] = d[1];
        return p;
    }

    private record Part(DeviceBuffer src, long innerBytes, long offsetBytes, int word) {}

    static GpuEngine.Layer concat(GpuEngine e, Node n) {
        Value y = n.output();
        int r = y.type().rank();
        long axis = n.attrs().getInt("axis", 0);
        if (axis < 0) axis += r;
        if (axis < 0 || axis >= r) throw GpuEngine.unsupported(n, "Concat axis " + n.attrs().getInt("axis", 0) + " of a rank-" + r + " tensor");
        Layout layout = e.layoutOf(y);
        int pa = physicalAxis((int) axis, r, layout);
        int[] od = physicalDims(y.type().shape().dims(), layout);
        long outer = 1;
        for (int i = 0; i < pa; i++) outer *= od[i];
        long elem = e.precision.storage().bytes();
        long rowOut = elem;
        for (int i = pa; i < r; i++) rowOut *= od[i];
        DeviceBuffer yb = e.act(y);
        List<Part> parts = new ArrayList<>();
        long offset = 0;
        for (Value x : n.inputs()) {
            if (x.type().rank() != r) throw GpuEngine.unsupported(n, "Concat input %" + x.name() + " has rank " + x.type().rank() + ", the output " + r);
            if (!x.isConstant() && e.layoutOf(x) != layout)
                throw GpuEngine.unsupported(n, "Concat input %" + x.name() + " is " + e.layoutOf(x).text() + ", the output " + layout.text());
            int[] xd = physicalDims(x.type().shape().dims(), layout);
            long inner = elem;
            for (int i = pa; i < r; i++) inner *= xd[i];
            if (inner == 0) continue;
            DeviceBuffer xb = x.isConstant() ? e.weight(x, layout) : e.act(x);
            int word = CnnKernels.wordBytes(inner, rowOut, offset, xb.address(), yb.address());
            parts.add(new Part(xb, inner, offset, word));
            offset += inner;
        }
        if (offset != rowOut) throw GpuEngine.unsupported(n, "Concat inputs cover " + offset + " of the output's " + rowOut + " bytes per row");
        long rows = outer, row = rowOut;
        return new GpuEngine.Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.CONCAT, y); }
            @Override public void enqueue(CudaStream s) {
                for (Part p : parts) CnnKernels.concatCopy(e.compiler, p.word, p.src, yb, rows, p.innerBytes, row, p.offsetBytes, s);
            }
        };
    }

    /**
     * Where a Split's outputs lie in its input, in bytes: the input seen physically as [outer, rowBytes]
     * (the axis and everything after it in the layout's order make a row), output j as [outer, widthBytes[j]]
     * from column offsetBytes[j] of each row.
     */
    record SplitPlan(long outer, long rowBytes, long[] offsetBytes, long[] widthBytes) {}

    /** The plan of a Split whose tensors are all in {@code layout}, with elements of {@code elem} bytes. */
    static SplitPlan splitPlan(Node n, Layout layout, long elem) {
        Value x = n.input(0);
        int r = x.type().rank();
        long axis = n.attrs().getInt("axis", 0);
        if (axis < 0) axis += r;
        if (axis < 0 || axis >= r) throw GpuEngine.unsupported(n, "Split axis " + n.attrs().getInt("axis", 0) + " of a rank-" + r + " tensor");
        int pa = physicalAxis((int) axis, r, layout);
        int[] xd = physicalDims(x.type().shape().dims(), layout);
        long outer = 1;
        for (int i = 0; i < pa; i++) outer *= xd[i];
        long row = elem;
        for (int i = pa; i < r; i++) row *= xd[i];
        long[] offsets = new long[n.outputs().size()], widths = new long[n.outputs().size()];
        long at = 0;
        for (int j = 0; j < n.outputs().size(); j++) {
            Value y = n.output(j);
            if (y.type().rank() != r) throw GpuEngine.unsupported(n, "Split output %" + y.name() + " has rank " + y.type().rank() + ", the input " + r);
            int[] yd = physicalDims(y.type().shape().dims(), layout);
            long w = elem;
            for (int i = pa; i < r; i++) w *= yd[i];
            offsets[j] = at;
            widths[j] = w;
            at += w;
        }
        if (at != row) throw GpuEngine.unsupported(n, "Split outputs cover " + at + " of the input's " + row + " bytes per row");
        return new SplitPlan(outer, row, offsets, widths);
    }

    static GpuEngine.Layer split(GpuEngine e, Node n) {
        Value x = n.input(0);
        Layout layout = e.layoutOf(x);
        for (Value y : n.outputs())
            if (e.layoutOf(y) != layout) throw GpuEngine.unsupported(n, "Split output %" + y.name() + " is " + e.layoutOf(y).text() + ", the input " + layout.text());
        SplitPlan p = splitPlan(n, layout, e.precision.storage().bytes());
        DeviceBuffer xb = e.act(x);
        List<DeviceBuffer> ys = new ArrayList<>();
        for (Value y : n.outputs()) ys.add(e.act(y));
        // the widest word dividing the row, every width (so every offset, a sum of widths) and every address
        long[] sizes = new long[2 + 2 * ys.size()];
        sizes[0] = p.rowBytes();
        sizes[1] = xb.address();
        for (int j = 0; j < ys.size(); j++) { sizes[2 + 2 * j] = p.widthBytes()[j]; sizes[3 + 2 * j] = ys.get(j).address(); }
        int word = CnnKernels.wordBytes(sizes);
        return new GpuEngine.Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.SPLIT, n.output()); }
            @Override public void enqueue(CudaStream s) {
                for (int j = 0; j < ys.size(); j += CnnKernels.SPLIT_PARTS) {
                    int end = Math.min(ys.size(), j + CnnKernels.SPLIT_PARTS);
                    CnnKernels.splitCopy(e.compiler, word, xb, p.outer(), p.rowBytes(), p.offsetBytes()[j], ys.subList(j, end),
                            java.util.Arrays.copyOfRange(p.widthBytes(), j, end), s);
                }
            }
        };
    }

    static GpuEngine.Layer lrn(GpuEngine e, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        if (d.length < 3) throw GpuEngine.unsupported(n, "LRN of a rank-" + d.length + " tensor (needs [N, C, spatial...])");
        Attributes a = n.attrs();
        int size = (int) a.getInt("size", 0);
        if (size < 1) throw GpuEngine.unsupported(n, "LRN size " + size);
        float alpha = a.getFloat("alpha", 1e-4f), beta = a.getFloat("beta", 0.75f), bias = a.getFloat("bias", 1f);
        Layout layout = e.layoutOf(x);
        if (e.layoutOf(y) != layout) throw GpuEngine.unsupported(n, "LRN input " + layout.text() + ", output " + e.layoutOf(y).text());
        long inner = x.type().numElements() / ((long) d[0] * d[1]);
        DeviceBuffer xb = e.act(x), yb = e.act(y);
        DType t = e.precision.storage();
        boolean nhwc = layout == Layout.NHWC;
        return new GpuEngine.Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.LRN, y); }
            @Override public void enqueue(CudaStream s) { CnnKernels.lrn(e.compiler, t, xb, yb, d[0], d[1], inner, nhwc, size, alpha, beta, bias, s); }
        };
    }

    /** ReduceMean over axes {2, 3} of a rank-4 tensor (any keepdims): a global average pool. */
    static GpuEngine.Layer reduceMean(GpuEngine e, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        long[] axes = n.attrs().has("axes") ? n.attrs().getInts("axes") : null;
        if (axes == null && n.numInputs() > 1 && n.input(1) != null) {
            Value av = n.input(1);
            if (av.constantValue() == null) throw GpuEngine.unsupported(n, "ReduceMean axes %" + av.name() + " are not a constant");
            axes = new long[(int) av.type().numElements()];
            for (int i = 0; i < axes.length; i++) axes[i] = av.constantValue().getLong(i);
        }
        java.util.TreeSet<Long> set = new java.util.TreeSet<>();
        if (axes != null) for (long ax : axes) set.add(ax < 0 ? ax + d.length : ax);
        if (d.length != 4 || !set.equals(new java.util.TreeSet<>(List.of(2L, 3L))))
            throw GpuEngine.unsupported(n, "ReduceMean over axes " + set + " of " + x.type().shape() + " (supported: the spatial axes {2, 3} of a rank-4 tensor)");
        Layout layout = e.layoutOf(x);
        Pool2d.Window w = new Pool2d.Window(d[0], d[1], d[2], d[3], 1, 1, d[2], d[3], 1, 1, 0, 0, 0, 0, 1, 1, false);
        DeviceBuffer xb = e.act(x), yb = e.act(y);
        DType t = e.precision.storage();
        return new GpuEngine.Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.POOL_GLOBAL, y); }
            @Override public void enqueue(CudaStream s) { Pool2d.run(e.compiler, t, Pool2d.Mode.AVG, layout, w, xb, yb, s); }
        };
    }

    /** f16 NHWC max pooling with C % 8 == 0 and 16-byte aligned buffers runs 8 channels per thread (the tessel.pool.max/nhwc8 variant). */
    static boolean vectorMaxPool(DType t, Layout layout, Pool2d.Window w, DeviceBuffer xb, DeviceBuffer yb) {
        return t == DType.F16 && layout == Layout.NHWC && w.c() % 8 == 0
                && xb.address() % 16 == 0 && yb.address() % 16 == 0;
    }

    static GpuEngine.Layer maxPoolNhwc8(GpuEngine e, Node n, Pool2d.Window w, DeviceBuffer xb, DeviceBuffer yb) {
        return new GpuEngine.Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.variant(GpuTactics.POOL_MAX, "nhwc8"), n.output()); }
            @Override public void enqueue(CudaStream s) { CnnKernels.maxPoolNhwc8(e.compiler, w, xb, yb, s); }
        };
    }
}
