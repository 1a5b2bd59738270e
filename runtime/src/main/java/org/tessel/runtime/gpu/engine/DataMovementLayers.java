package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.Reformat;
import org.tessel.runtime.gpu.kernels.TransformerKernels;

/**
 * Data movement:
 * <ul>
 *   <li>{@code tessel.view} / {@code tessel.copy}: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout alias their
 *       input where the memory plan put them in place, else copy it; which of the two runs is the memory plan's
 *       consequence, so either realizes a plan naming the other;</li>
 *   <li>{@code tessel.transpose}: Transpose of a channels-first tensor; {@code tessel.gather}: Gather (indices as
 *       i32); {@code tessel.concat}: one strided copy per input into its slice, in either layout; {@code tessel.split}
 *       (after a horizontal merge): the inverse, one kernel copying up to {@link CnnKernels#SPLIT_PARTS} outputs
 *       from their slices of the input; {@code tessel.split.view}: a Split into equal parts of the last axis of a GEMM
 *       run in its batched form ({@code batched_P}, which writes the parts one after another), or a Split whose axis has
 *       only unit dims before it (a decode step's one row: its parts lie one after another), each output aliasing
 *       its part where the memory plan sliced the input (else a plain copy of the contiguous part);</li>
 *   <li>{@code tessel.reformat.nchw_nhwc}: tessel.Reformat between NCHW and NHWC (variant {@code to_nhwc} /
 *       {@code to_nchw}), or nothing where the stem reads the network input itself ({@code absorbed_by_stem}) or both
 *       layouts store the tensor in the same order (one channel or one pixel, placed on its input: {@code view}).</li>
 * </ul>
 */
public final class DataMovementLayers implements TacticImplementation {
    /** Ops built as a view or copy; the catalogue's tessel.view and tessel.copy take the same (TacticVocabularyLintTest). */
    static final Set<String> VIEWS = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout");

    @Override public List<String> tacticIds() {
        return List.of(GpuTactics.VIEW, GpuTactics.COPY, GpuTactics.TRANSPOSE, GpuTactics.CONCAT, GpuTactics.SPLIT, GpuTactics.SPLIT_VIEW, GpuTactics.GATHER,
                GpuTactics.REFORMAT);
    }

    private static String idOf(Node n) {
        if (VIEWS.contains(n.opName())) return GpuTactics.VIEW;
        return switch (n.opName()) {
            case "Transpose" -> GpuTactics.TRANSPOSE;
            case "Concat" -> GpuTactics.CONCAT;
            case "Split" -> GpuTactics.SPLIT;
            case "Gather" -> GpuTactics.GATHER;
            case "tessel.Reformat" -> GpuTactics.REFORMAT;
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    @Override public boolean realizes(String planned, String built) {
        Set<String> viewOrCopy = Set.of(GpuTactics.VIEW, GpuTactics.COPY);
        return planned.equals(built) || viewOrCopy.contains(planned) && viewOrCopy.contains(built);
    }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = idOf(n);
        if (GpuTactics.VIEW.equals(id)) Operands.requireOneOf(n, tactic, GpuTactics.VIEW, GpuTactics.COPY);
        else if (GpuTactics.SPLIT.equals(id)) Operands.requireOneOf(n, tactic, GpuTactics.SPLIT, GpuTactics.SPLIT_VIEW);
        else Operands.requireOneOf(n, tactic, id == null ? "(none)" : id);
        if (GpuTactics.catalogueId(tactic).equals(GpuTactics.SPLIT_VIEW)) return splitView(e, n);
        return switch (id) {
            case GpuTactics.VIEW -> view(e, n);
            case GpuTactics.TRANSPOSE -> transpose(e, n);
            case GpuTactics.CONCAT -> concat(e, n);
            case GpuTactics.SPLIT -> split(e, n);
            case GpuTactics.GATHER -> gather(e, n);
            default -> reformat(e, n);
        };
    }

    /** True when the memory plan put {@code out} where {@code in} lies and no caller buffer is bound to it: out may alias in. */
    private static boolean placedOnInput(LayerContext e, Value in, Value out) {
        MemoryPlan.Allocation ai = e.placement(in), ao = e.placement(out);
        return ai != null && ao != null && ai.offset() == ao.offset() && !e.isBound(out);
    }

    private static Layer view(LayerContext e, Node n) {
        Value in = n.input(0), out = n.output();
        DeviceBuffer src = e.activation(in);
        boolean inPlace = placedOnInput(e, in, out);
        if (in.type().dtype().isInteger() && !e.isBound(out)) inPlace = true; // integer values (i32 on the device) live outside the arena
        if (inPlace) {
            e.alias(out, src);
            return Operands.layer(e, n, GpuTactics.VIEW, out, s -> {});
        }
        DeviceBuffer dst = e.activation(out);
        return Operands.layer(e, n, GpuTactics.COPY, out, s -> dst.copyFromAsync(src.slice(0, dst.bytes()), s));
    }

    /** Data movement copies bits, so INT8 tensors (int8 codes) move as bytes: views, copies, reformats, Concat and Split. */
    @Override public String int8WhyNot(Node n, String id) {
        return java.util.Set.of(GpuTactics.VIEW, GpuTactics.COPY, GpuTactics.REFORMAT, GpuTactics.CONCAT, GpuTactics.SPLIT).contains(id) ? null
                : id + " has no INT8 kernel on the GPU (views, copies, reformats, Concat and Split move int8 codes)";
    }

    /**
     * FP8 tensors are E4M3 codes at one per-tensor scale, which moving bytes keeps: views, copies and reformats (between
     * an FP8 NHWC convolution and its neighbours).
     */
    @Override public String fp8WhyNot(Node n, String id) {
        return java.util.Set.of(GpuTactics.VIEW, GpuTactics.COPY, GpuTactics.REFORMAT).contains(id) ? null
                : id + " has no FP8 kernel on the GPU (views, copies and reformats move e4m3 codes)";
    }

    private static Layer reformat(LayerContext e, Node n) {
        if (ChannelPad.absorbs(e, n))
            return Operands.layer(e, n, GpuTactics.variant(GpuTactics.REFORMAT, "absorbed_by_stem"), n.output(), s -> {});
        Value x = n.input(0), y = n.output();
        String to = n.attrs().getString("to", "");
        if (org.tessel.api.Layout.sameOrderBothWays(x.type().shape())) {
            // one channel or one pixel: both layouts hold the same bytes, and the memory plan placed y on x (as a view's)
            if (placedOnInput(e, x, y)) {
                e.alias(y, e.activation(x));
                return Operands.layer(e, n, GpuTactics.variant(GpuTactics.REFORMAT, "view"), y, s -> {});
            }
        }
        int[] d = x.type().shape().dims();
        if (d.length < 3) throw GpuEngineException.unsupported(n, "reformat of rank " + d.length + " (needs [N, C, spatial...])");
        int batch = d[0], c = d[1];
        int spatial = (int) (x.type().numElements() / ((long) batch * c));
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        return switch (to) {
            case "nhwc" -> Operands.layer(e, n, GpuTactics.variant(GpuTactics.REFORMAT, "to_nhwc"), y, s -> Reformat.nchwToNhwc(e.kernels(), t, xb, yb, batch, c, spatial, s));
            case "nchw" -> Operands.layer(e, n, GpuTactics.variant(GpuTactics.REFORMAT, "to_nchw"), y, s -> Reformat.nhwcToNchw(e.kernels(), t, xb, yb, batch, c, spatial, s));
            default -> throw GpuEngineException.unsupported(n, "reformat to '" + to + "' (supported: nhwc, nchw)");
        };
    }

    private static Layer gather(LayerContext e, Node n) {
        Value data = n.input(0), idx = n.input(1), out = n.output();
        if (!idx.type().dtype().isInteger()) throw GpuEngineException.unsupported(n, "indices %" + idx.name() + " are " + idx.type().dtype().text() + " (expected an integer type)");
        if (data.type().dtype().isInteger()) throw GpuEngineException.unsupported(n, "gathering from integer data %" + data.name());
        int[] d = data.type().shape().dims();
        int ax = Operands.axis(n, n.attrs().getInt("axis", 0), d.length);
        long outer = Operands.prod(d, 0, ax), inner = Operands.prod(d, ax + 1, d.length), nidx = idx.type().numElements();
        DeviceBuffer db = Operands.operand(e, data), ib = idx.isConstant() ? Operands.ints(e, idx) : e.activation(idx), ob = e.activation(out);
        int axisLen = d[ax];
        DType t = e.storage();
        return Operands.layer(e, n, GpuTactics.GATHER, out, s -> TransformerKernels.gather(e.kernels(), t, db, ib, ob, outer, axisLen, nidx, inner, s));
    }

    private static Layer transpose(LayerContext e, Node n) {
        Value x = n.input(0), out = n.output();
        if (x.type().layout() == Layout.NHWC || out.type().layout() == Layout.NHWC) throw GpuEngineException.unsupported(n, "Transpose of a channels-last value");
        int[] d = x.type().shape().dims();
        long[] p = n.attrs().getInts("perm", null);
        int[] perm = new int[d.length];
        for (int i = 0; i < d.length; i++) perm[i] = p == null ? d.length - 1 - i : (int) p[i];
        DeviceBuffer xb = Operands.operand(e, x), yb = e.activation(out);
        DType t = e.storage();
        return Operands.layer(e, n, GpuTactics.TRANSPOSE, out, s -> TransformerKernels.transpose(e.kernels(), t, d, perm, xb, yb, s));
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

    private static Layer concat(LayerContext e, Node n) {
        Value y = n.output();
        int r = y.type().rank();
        long axis = n.attrs().getInt("axis", 0);
        if (axis < 0) axis += r;
        if (axis < 0 || axis >= r) throw GpuEngineException.unsupported(n, "Concat axis " + n.attrs().getInt("axis", 0) + " of a rank-" + r + " tensor");
        Layout layout = e.layoutOf(y);
        int pa = physicalAxis((int) axis, r, layout);
        int[] od = physicalDims(y.type().shape().dims(), layout);
        long outer = 1;
        for (int i = 0; i < pa; i++) outer *= od[i];
        long elem = e.storage().bytes();
        long rowOut = elem;
        for (int i = pa; i < r; i++) rowOut *= od[i];
        DeviceBuffer yb = e.activation(y);
        List<Part> parts = new ArrayList<>();
        long offset = 0;
        for (Value x : n.inputs()) {
            if (x.type().rank() != r) throw GpuEngineException.unsupported(n, "Concat input %" + x.name() + " has rank " + x.type().rank() + ", the output " + r);
            if (!x.isConstant() && e.layoutOf(x) != layout)
                throw GpuEngineException.unsupported(n, "Concat input %" + x.name() + " is " + e.layoutOf(x).text() + ", the output " + layout.text());
            int[] xd = physicalDims(x.type().shape().dims(), layout);
            long inner = elem;
            for (int i = pa; i < r; i++) inner *= xd[i];
            if (inner == 0) continue;
            DeviceBuffer xb = x.isConstant() ? e.weight(x, layout) : e.activation(x);
            int word = CnnKernels.wordBytes(inner, rowOut, offset, xb.address(), yb.address());
            parts.add(new Part(xb, inner, offset, word));
            offset += inner;
        }
        if (offset != rowOut) throw GpuEngineException.unsupported(n, "Concat inputs cover " + offset + " of the output's " + rowOut + " bytes per row");
        long rows = outer, row = rowOut;
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.CONCAT, y); }
            @Override public void enqueue(CudaStream s) {
                for (Part p : parts) CnnKernels.concatCopy(e.kernels(), p.word, p.src, yb, rows, p.innerBytes, row, p.offsetBytes, s);
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
        if (axis < 0 || axis >= r) throw GpuEngineException.unsupported(n, "Split axis " + n.attrs().getInt("axis", 0) + " of a rank-" + r + " tensor");
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
            if (y.type().rank() != r) throw GpuEngineException.unsupported(n, "Split output %" + y.name() + " has rank " + y.type().rank() + ", the input " + r);
            int[] yd = physicalDims(y.type().shape().dims(), layout);
            long w = elem;
            for (int i = pa; i < r; i++) w *= yd[i];
            offsets[j] = at;
            widths[j] = w;
            at += w;
        }
        if (at != row) throw GpuEngineException.unsupported(n, "Split outputs cover " + at + " of the input's " + row + " bytes per row");
        return new SplitPlan(outer, row, offsets, widths);
    }

    /**
     * A Split whose input a GEMM in its batched form wrote as the parts one after another: output j is bytes
     * [j, j+1) * part of the input. It aliases them where the memory plan sliced the input (output j in the input's
     * buffer, so the buffer lives while any part does), else copies its part (one contiguous copy) into its own slot.
     * Refused, naming the node, where the input's producer is not planned in that batched form.
     */
    private static Layer splitView(LayerContext e, Node n) {
        Value x = n.input(0);
        int parts = n.outputs().size();
        Node producer = x.producer();
        String planned = producer == null ? null : e.planned(producer);
        int batched = planned == null ? 0 : org.tessel.tactics.gemm.GemmTactics.batchedParts(GpuTactics.parts(planned).size() > 1
                ? planned.substring(planned.indexOf('/') + 1) : "");
        org.tessel.cost.Precision p = org.tessel.cost.Precision.valueOf(e.precision().name());
        String contiguous = org.tessel.tactics.data.DataMovementTactics.contiguousPartsWhyNot(n, p);
        if (batched != parts && contiguous != null)
            throw GpuEngineException.unsupported(n, GpuTactics.SPLIT_VIEW + " reads the " + parts + " parts a GEMM in its batched form ("
                    + org.tessel.tactics.gemm.GemmTactics.batchedVariant(Math.max(2, parts)) + ") writes one after another, or parts that lie one after another; %" + x.name()
                    + " is written by " + (producer == null ? "no node (a graph input)" : producer.name() + " planned as " + planned) + ", and " + contiguous);
        DeviceBuffer xb = e.activation(x);
        long[] at = new long[parts + 1];
        if (contiguous == null) { // parts that lie one after another, at their own sizes (a channels-first layout keeps them so)
            if (x.type().rank() >= 3 && e.layoutOf(x) == Layout.NHWC)
                throw GpuEngineException.unsupported(n, GpuTactics.SPLIT_VIEW + " slices in logical (channels-first) order; %" + x.name() + " is nhwc, where the parts interleave");
            for (int j = 0; j < parts; j++) at[j + 1] = at[j] + n.output(j).type().numElements() * e.storageOf(n.output(j)).bytes();
            if (at[parts] > xb.bytes())
                throw GpuEngineException.unsupported(n, GpuTactics.SPLIT_VIEW + ": the parts hold " + at[parts] + " bytes, the input %" + x.name() + " only " + xb.bytes());
        } else { // the batched GEMM's equal parts of the last axis
            int r = x.type().rank();
            long axis = n.attrs().getInt("axis", 0);
            if ((axis < 0 ? axis + r : axis) != r - 1) throw GpuEngineException.unsupported(n, GpuTactics.SPLIT_VIEW + " splits the last axis (got axis " + axis + " of rank " + r + ")");
            for (Value y : n.outputs())
                if (!y.type().shape().equals(n.output(0).type().shape()))
                    throw GpuEngineException.unsupported(n, GpuTactics.SPLIT_VIEW + " takes equal parts (%" + y.name() + " is " + y.type().shape() + ", %" + n.output(0).name() + " " + n.output(0).type().shape() + ")");
            for (int j = 0; j <= parts; j++) at[j] = j * (xb.bytes() / parts);
        }
        MemoryPlan.Allocation ax = e.placement(x);
        List<java.util.function.Consumer<CudaStream>> copies = new ArrayList<>();
        for (int j = 0; j < parts; j++) {
            Value y = n.output(j);
            DeviceBuffer slice = xb.slice(at[j], at[j + 1] - at[j]);
            MemoryPlan.Allocation ay = e.placement(y);
            // in the input's buffer the part's slot may sit where the plan's sizes put it (a profile's engine uses its max shapes'),
            // not where this shape's data is: alias, never copy into that buffer
            if (ax != null && ay != null && ay.buffer() == ax.buffer() && !e.isBound(y)) e.alias(y, slice);
            else {
                DeviceBuffer dst = e.activation(y);
                copies.add(s -> dst.copyFromAsync(slice, s));
            }
        }
        String tactic = copies.isEmpty() ? GpuTactics.SPLIT_VIEW : GpuTactics.variant(GpuTactics.SPLIT_VIEW, "copy");
        return Operands.layer(e, n, tactic, n.output(), s -> { for (var c : copies) c.accept(s); });
    }

    private static Layer split(LayerContext e, Node n) {
        Value x = n.input(0);
        Layout layout = e.layoutOf(x);
        for (Value y : n.outputs())
            if (e.layoutOf(y) != layout) throw GpuEngineException.unsupported(n, "Split output %" + y.name() + " is " + e.layoutOf(y).text() + ", the input " + layout.text());
        SplitPlan p = splitPlan(n, layout, e.storage().bytes());
        DeviceBuffer xb = e.activation(x);
        List<DeviceBuffer> ys = new ArrayList<>();
        for (Value y : n.outputs()) ys.add(e.activation(y));
        // the widest word dividing the row, every width (so every offset, a sum of widths) and every address
        long[] sizes = new long[2 + 2 * ys.size()];
        sizes[0] = p.rowBytes();
        sizes[1] = xb.address();
        for (int j = 0; j < ys.size(); j++) { sizes[2 + 2 * j] = p.widthBytes()[j]; sizes[3 + 2 * j] = ys.get(j).address(); }
        int word = CnnKernels.wordBytes(sizes);
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.SPLIT, n.output()); }
            @Override public void enqueue(CudaStream s) {
                for (int j = 0; j < ys.size(); j += CnnKernels.SPLIT_PARTS) {
                    int end = Math.min(ys.size(), j + CnnKernels.SPLIT_PARTS);
                    CnnKernels.splitCopy(e.kernels(), word, xb, p.outer(), p.rowBytes(), p.offsetBytes()[j], ys.subList(j, end),
                            java.util.Arrays.copyOfRange(p.widthBytes(), j, end), s);
                }
            }
        };
    }
}
