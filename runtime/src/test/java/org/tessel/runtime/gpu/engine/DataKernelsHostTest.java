package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.runtime.gpu.kernels.DataMoveKernels;
import org.tessel.runtime.gpu.kernels.KernelLaunch;
import org.tessel.runtime.gpu.kernels.MoreKernels;
import org.tessel.runtime.gpu.kernels.Softmax;

/**
 * The kernels of {@link WindowLayers}, {@code tessel.reduce} and {@link AxisLayers} run on the host (g++ over the
 * threaded CUDA shim, one compile per kernel source) on every ONNX node case of their ops and the synthetic cases of
 * {@link DataNodeCases#synthetic} (block-per-row shapes, NaN and ties, crops, negative steps), with the tables and
 * launches the layers compute ({@link WindowLayers#windowPlan} (Slice, Pad, Expand, Tile), GatherElements' and GatherND's tables, {@link MoreLayers#reducePlan},
 * {@link AxisLayers#axisPlan}, the wrappers' {@code *Launch} functions), against the reference interpreter: data
 * movement, fills, ArgMax/ArgMin and Hardmax exactly, reductions and LogSoftmax within 1e-5 relative (f32 data;
 * 1e-2 for f16/bf16 data, which the reference rounds per op). Storage f32, integers as the device's i32, bool as bytes; the window
 * copies of floating data once more in f16 storage (2-byte elements, Pad's constant in f16 bits), exactly.
 */
class DataKernelsHostTest {
    private static final String MOVE_DISPATCH = """
            if (fn == "tessel_window_copy") k = [&] { tessel_window_copy((const E*) P[0], (E*) P[1], (const long long*) P[2], S[0], S[1], S[2], S[3]); };
            else if (fn == "tessel_gather_elements") k = [&] { tessel_gather_elements((const E*) P[0], (const int*) P[1], (E*) P[2], (const long long*) P[3], S[0], S[1], S[2], S[3]); };
            else if (fn == "tessel_gather_nd") k = [&] { tessel_gather_nd((const E*) P[0], (const int*) P[1], (E*) P[2], (const long long*) P[3], S[0], S[1], S[2], S[3], S[4]); };
            else if (fn == "tessel_fill") k = [&] { tessel_fill((E*) P[0], S[0], S[1]); };
            """;
    private static final String REDUCE_DISPATCH = """
            if (fn == "tessel_reduce_rows") k = [&] { tessel_reduce_rows((const T*) P[0], (T*) P[1], S[0], S[1], S[2]); };
            else if (fn == "tessel_reduce_cols") k = [&] { tessel_reduce_cols((const T*) P[0], (T*) P[1], S[0], S[1], S[2], S[3]); };
            else if (fn == "tessel_reduce_strided") k = [&] { tessel_reduce_strided((const T*) P[0], (T*) P[1], (const long long*) P[2], S[0], S[1], S[2], S[3], S[4]); };
            else if (fn == "tessel_reduce_strided_i32") k = [&] { tessel_reduce_strided_i32((const int*) P[0], (int*) P[1], (const long long*) P[2], S[0], S[1], S[2], S[3], S[4]); };
            else if (fn == "tessel_reduce_strided_bool") k = [&] { tessel_reduce_strided_bool((const unsigned char*) P[0], (unsigned char*) P[1], (const long long*) P[2], S[0], S[1], S[2], S[3], S[4]); };
            """;
    private static final String AXIS_DISPATCH = """
            if (fn == "tessel_logsoftmax_rows") k = [&] { tessel_logsoftmax_rows((const T*) P[0], (T*) P[1], S[0], S[1]); };
            else if (fn == "tessel_logsoftmax_cols") k = [&] { tessel_logsoftmax_cols((const T*) P[0], (T*) P[1], S[0], S[1], S[2]); };
            else if (fn == "tessel_hardmax") k = [&] { tessel_hardmax((const T*) P[0], (T*) P[1], S[0], S[1], S[2]); };
            else if (fn == "tessel_arg_reduce") k = [&] { tessel_arg_reduce((const T*) P[0], (int*) P[1], S[0], S[1], S[2], S[3], S[4]); };
            else if (fn == "tessel_arg_reduce_i32") k = [&] { tessel_arg_reduce_i32((const int*) P[0], (int*) P[1], S[0], S[1], S[2], S[3], S[4]); };
            """;

    /** An output to compare once its kernel source ran: the buffer, the reference's tensor, exact or within tolerance. */
    private record Pending(String what, HostKernelRun run, int buffer, Tensor want, boolean exact) {}

    /** Bytes per element at f32 storage: integers as i32, bool as bytes, floating values as f32. */
    static int bytesOf(DType t) { return t == DType.BOOL ? 1 : 4; }

    /** A tensor as the device holds it at f32 storage. */
    static byte[] device(Tensor t) {
        ByteBuffer b = ByteBuffer.allocate(bytesOf(t.dtype()) * t.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < t.size(); i++) {
            if (t.dtype() == DType.BOOL) b.put((byte) (t.getLong(i) != 0 ? 1 : 0));
            else if (t.dtype().isInteger()) b.putInt(Math.toIntExact(t.getLong(i)));
            else b.putFloat((float) t.getDouble(i));
        }
        return b.array();
    }

    /** A floating tensor as f16 storage holds it. */
    static byte[] f16(Tensor t) {
        ByteBuffer b = ByteBuffer.allocate(2 * t.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < t.size(); i++) b.putShort(Float.floatToFloat16((float) t.getDouble(i)));
        return b.array();
    }

    static byte[] longs(long[] table) {
        ByteBuffer b = ByteBuffer.allocate(8 * table.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : table) b.putLong(v);
        return b.array();
    }

    /** Runs the reference over the case's graph and returns every value it computed (inputs and constants included). */
    static Map<Value, Tensor> referenceValues(DataNodeCases.Case c) {
        Map<Value, Tensor> values = new IdentityHashMap<>();
        for (Value v : c.graph().inputs()) values.put(v, c.inputs().get(v.name()));
        new ReferenceInterpreter().withListener((n, outs, nanos) -> {
            for (int i = 0; i < outs.size(); i++) values.put(n.output(i), outs.get(i));
        }).run(c.graph(), c.inputs());
        return values;
    }

    static Tensor valueOf(Map<Value, Tensor> values, Value v) { return v.isConstant() ? v.constantValue() : values.get(v); }

    @Test void kernelsMatchTheReferenceOnTheNodeCases(@TempDir Path dir) throws Exception {
        assumeTrue(org.tessel.runtime.gpu.kernels.KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        List<DataNodeCases.Case> cases = new ArrayList<>(DataNodeCases.load());
        assumeFalse(cases.isEmpty(), "ONNX node cases not found at " + DataNodeCases.folder() + "; skipping");
        cases.addAll(DataNodeCases.synthetic());
        HostKernelRun move = new HostKernelRun(), move1 = new HostKernelRun(), move16 = new HostKernelRun(), reduce = new HostKernelRun(), axis = new HostKernelRun();
        List<Pending> pending = new ArrayList<>(), halves = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        int constants = 0;
        for (DataNodeCases.Case c : cases) {
            Map<Value, Tensor> values = referenceValues(c);
            for (Node n : c.nodes()) {
                if (DataNodeCases.INDEX_OPS.contains(n.opName())) continue; // the index ops' kernels run in IndexEmulatedTest
                String what = c.name() + " " + n.describe();
                Tensor want = values.get(n.output());
                Tensor x = n.numInputs() > 0 ? valueOf(values, n.input(0)) : null;
                int outBytes = bytesOf(n.output().type().dtype()) * (int) n.output().type().numElements();
                HostKernelRun mv = bytesOf(n.output().type().dtype()) == 1 ? move1 : move;
                switch (n.opName()) {
                    case "Slice", "Pad", "Expand", "Tile" -> {
                        WindowLayers.Window w = WindowLayers.windowPlan(n, DType.F32);
                        int xb = mv.buffer(device(x)), yb = mv.buffer(new byte[outBytes]), tb = mv.buffer(longs(w.table()));
                        KernelLaunch l = DataMoveKernels.windowLaunch(w.table(), w.edge(), w.fillBits());
                        if (DataMoveKernels.windowTotal(w.table()) > 0) mv.launch(l, xb, yb, tb);
                        pending.add(new Pending(what, mv, yb, want, true));
                        if (x.dtype().isFloating()) { // the same copy of f16 storage: 2-byte elements, Pad's constant in f16 bits
                            WindowLayers.Window w16 = WindowLayers.windowPlan(n, DType.F16);
                            int xh = move16.buffer(f16(x)), yh = move16.buffer(new byte[outBytes / 2]), th = move16.buffer(longs(w16.table()));
                            if (DataMoveKernels.windowTotal(w16.table()) > 0) move16.launch(DataMoveKernels.windowLaunch(w16.table(), w16.edge(), w16.fillBits()), xh, yh, th);
                            halves.add(new Pending(what + " f16", move16, yh, want, true));
                        }
                    }
                    case "GatherElements" -> {
                        WindowLayers.requireGatherElements(n);
                        int[] dd = n.input(0).type().shape().dims(), id = n.input(1).type().shape().dims();
                        int ax = Operands.axis(n, n.attrs().getInt("axis", 0), dd.length);
                        int xb = mv.buffer(device(x)), ib = mv.buffer(device(valueOf(values, n.input(1)))), yb = mv.buffer(new byte[outBytes]);
                        int tb = mv.buffer(longs(DataMoveKernels.gatherElementsTable(dd, id)));
                        if (outBytes > 0) mv.launch(DataMoveKernels.gatherElementsLaunch(dd, id, ax), xb, ib, yb, tb);
                        pending.add(new Pending(what, mv, yb, want, true));
                    }
                    case "GatherND" -> {
                        int b = WindowLayers.requireGatherNd(n);
                        int[] dd = n.input(0).type().shape().dims(), id = n.input(1).type().shape().dims();
                        int xb = mv.buffer(device(x)), ib = mv.buffer(device(valueOf(values, n.input(1)))), yb = mv.buffer(new byte[outBytes]);
                        int tb = mv.buffer(longs(DataMoveKernels.gatherNdTable(dd, id, b)));
                        if (outBytes > 0) mv.launch(DataMoveKernels.gatherNdLaunch(dd, id, b), xb, ib, yb, tb);
                        pending.add(new Pending(what, mv, yb, want, true));
                    }
                    case "ConstantOfShape" -> {
                        int yb = mv.buffer(new byte[outBytes]);
                        if (outBytes > 0) mv.launch(DataMoveKernels.fillLaunch(n.output().type().numElements(), WindowLayers.fillBits(n, DType.F32)), yb);
                        pending.add(new Pending(what, mv, yb, want, true));
                    }
                    case "Shape", "Constant" -> {
                        Tensor got = WindowLayers.constantValue(n);
                        if (!got.shape().equals(want.shape())) failures.add(what + ": value " + got.shape() + ", reference " + want.shape());
                        else for (int i = 0; i < want.size(); i++) if (got.getLong(i) != want.getLong(i)) failures.add(what + " at " + i + ": " + got.getLong(i) + " vs " + want.getLong(i));
                        constants++;
                    }
                    case "ArgMax", "ArgMin", "Hardmax", "LogSoftmax" -> {
                        AxisLayers.AxisPlan p = AxisLayers.axisPlan(n);
                        int xb = axis.buffer(device(x)), yb = axis.buffer(new byte[outBytes]);
                        KernelLaunch l = switch (n.opName()) {
                            case "LogSoftmax" -> Softmax.logSoftmaxLaunch(p.outer(), p.len(), p.inner());
                            case "Hardmax" -> Softmax.hardmaxLaunch(p.outer(), p.len(), p.inner());
                            default -> Softmax.argLaunch(p.outer(), p.len(), p.inner(), n.opName().equals("ArgMin"), n.attrs().getInt("select_last_index", 0) != 0,
                                    x.dtype().isInteger());
                        };
                        if (p.outer() * p.inner() > 0) axis.launch(l, xb, yb);
                        pending.add(new Pending(what, axis, yb, want, !n.opName().equals("LogSoftmax")));
                    }
                    default -> {
                        MoreLayers.ReducePlan p = MoreLayers.reducePlan(n, false);
                        long r = p.strided() ? MoreLayers.reducedCount(p) : p.red();
                        if (r == 0 && !x.dtype().isFloating()) { // the layer's fill of the integer or bool identity
                            int yb = mv.buffer(new byte[outBytes]);
                            long bits = WindowLayers.bits(n, Tensor.ofLongs(DType.I64, org.tessel.api.Shape.scalar(), MoreLayers.identity(p.op(), x.dtype())), x.dtype(), DType.F32);
                            if (outBytes > 0) mv.launch(DataMoveKernels.fillLaunch(n.output().type().numElements(), bits), yb);
                            pending.add(new Pending(what, mv, yb, want, true));
                            continue;
                        }
                        int xb = reduce.buffer(device(x)), yb = reduce.buffer(new byte[outBytes]);
                        if (!x.dtype().isFloating()) {
                            int tb = reduce.buffer(longs(MoreKernels.stridedReduceTable(p.dims(), p.reduced())));
                            if (outBytes > 0) reduce.launch(MoreKernels.stridedReduceExactLaunch(p.op(), p.dims(), p.reduced(), x.dtype() == DType.BOOL), xb, yb, tb);
                        } else if (p.strided()) {
                            int tb = reduce.buffer(longs(MoreKernels.stridedReduceTable(p.dims(), p.reduced())));
                            if (outBytes > 0) reduce.launch(MoreKernels.stridedReduceLaunch(p.op(), p.dims(), p.reduced()), xb, yb, tb);
                        } else if (p.outer() * p.inner() > 0) {
                            reduce.launch(MoreKernels.reduceLaunch(p.op(), p.outer(), p.red(), p.inner()), xb, yb);
                        }
                        pending.add(new Pending(what, reduce, yb, want, p.op() == MoreKernels.ReduceOp.MAX || p.op() == MoreKernels.ReduceOp.MIN));
                    }
                }
            }
        }
        Map<HostKernelRun, List<byte[]>> results = new IdentityHashMap<>();
        results.put(move, move.run(Files.createDirectories(dir.resolve("datamove")), DataMoveKernels.source(4), MOVE_DISPATCH));
        results.put(reduce, reduce.run(Files.createDirectories(dir.resolve("reduce")), MoreKernels.source(DType.F32), REDUCE_DISPATCH));
        results.put(axis, axis.run(Files.createDirectories(dir.resolve("axis")), Softmax.source(DType.F32), AXIS_DISPATCH));
        if (move1.launches() > 0) results.put(move1, move1.run(Files.createDirectories(dir.resolve("datamove8")), DataMoveKernels.source(1), MOVE_DISPATCH));
        results.put(move16, move16.run(Files.createDirectories(dir.resolve("datamove16")), DataMoveKernels.source(2), MOVE_DISPATCH));
        for (Pending p : pending) compare(p, results.get(p.run()).get(p.buffer()), failures);
        for (Pending p : halves) { // f16 storage moves the f16-rounded reference bit for bit
            ByteBuffer b = ByteBuffer.wrap(results.get(move16).get(p.buffer())).order(ByteOrder.LITTLE_ENDIAN);
            double[] g = new double[p.want().size()];
            for (int i = 0; i < g.length; i++) g[i] = Float.float16ToFloat(b.getShort(2 * i));
            float[] rounded = new float[g.length];
            for (int i = 0; i < g.length; i++) rounded[i] = Tensor.round(DType.F16, (float) p.want().getDouble(i));
            String why = mismatch(g, Tensor.ofFloats(DType.F32, p.want().shape(), rounded), true, 0);
            if (why != null) failures.add(p.what() + " " + why);
        }
        System.out.println("DataKernelsHostTest: " + pending.size() + " outputs compared (" + move.launches() + " data-movement (" + move1.launches() + " more of bytes), " + reduce.launches()
                + " reduction, " + axis.launches() + " axis launches; " + halves.size() + " window copies again in f16 storage), " + constants + " build-time values");
        assertEquals(List.of(), failures);
        assertTrue(pending.size() >= 200, pending.size() + " outputs compared");
    }

    private static void compare(Pending p, byte[] got, List<String> failures) {
        ByteBuffer b = ByteBuffer.wrap(got).order(ByteOrder.LITTLE_ENDIAN);
        double[] g = new double[p.want().size()];
        for (int i = 0; i < g.length; i++) g[i] = p.want().dtype() == DType.BOOL ? got[i] : p.want().dtype().isInteger() ? b.getInt(4 * i) : b.getFloat(4 * i);
        String why = mismatch(g, p.want(), p.exact(), p.want().dtype() == DType.F32 || p.want().dtype() == DType.F64 ? 1e-5 : 1e-2);
        if (why != null) failures.add(p.what() + " " + why);
    }

    /**
     * Where {@code got} (as f32 values, or integers) differs from the reference: integers and exact outputs bit for bit
     * as f32 (NaN equal to NaN), others within {@code tol} relative (absolute below 1), infinities and NaN exactly; null when equal.
     */
    static String mismatch(double[] got, Tensor want, boolean exact, double tol) {
        if (got.length != want.size()) return "has " + got.length + " values, the reference " + want.size();
        for (int i = 0; i < got.length; i++) {
            if (want.dtype().isInteger()) {
                if ((long) got[i] != want.getLong(i)) return "at " + i + ": " + (long) got[i] + ", reference " + want.getLong(i);
                continue;
            }
            float g = (float) got[i], w = (float) want.getDouble(i);
            boolean ok = exact || Float.isNaN(w) || Float.isInfinite(w) ? Float.compare(g, w) == 0 || Float.isNaN(g) && Float.isNaN(w)
                    : Math.abs(g - w) <= tol * Math.max(1, Math.abs(w));
            if (!ok) return "at " + i + ": " + g + ", reference " + w;
        }
        return null;
    }
}
