package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PadOp;
import org.tessel.ir.ops.ShapeOps;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.DataMoveKernels;

/**
 * Data movement through a kernel, for any element type (moved as bits: f32, f16, bf16 storage, the device's i32
 * integers or bool bytes):
 * <ul>
 *   <li>{@code tessel.slice}, {@code tessel.pad} (constant, reflect, edge, wrap; negative pads crop first),
 *       {@code tessel.expand}, {@code tessel.tile} (each coordinate wrapping around its input axis): one window copy
 *       ({@link DataMoveKernels#windowCopy}), each output element read from the input position a per-axis table gives
 *       (uploaded once per engine);</li>
 *   <li>{@code tessel.gather_elements}: GatherElements, indices as i32;</li>
 *   <li>{@code tessel.gather_nd}: GatherND (batch_dims), indices as i32, constant or computed;</li>
 *   <li>{@code tessel.fill}: a ConstantOfShape left unfolded (too large to fold) fills its output on the GPU;</li>
 *   <li>{@code tessel.constant}: Shape (static shapes) and Constant: the value known at build time, uploaded once per
 *       engine and copied into the output.</li>
 * </ul>
 * The tensors are channels-first (a channels-last value's logical order is not its memory order), rank at most
 * {@link DataMoveKernels#MAX_RANK}; the plans are computed without a GPU ({@link #windowPlan}, {@link #constantValue}).
 */
public final class WindowLayers implements TacticImplementation {
    @Override public List<String> tacticIds() {
        return List.of(GpuTactics.SLICE, GpuTactics.PAD, GpuTactics.EXPAND, GpuTactics.TILE, GpuTactics.GATHER_ELEMENTS, GpuTactics.GATHER_ND,
                GpuTactics.FILL, GpuTactics.CONSTANT);
    }

    static String idOf(Node n) {
        if (n.body() != null) return null;
        return switch (n.opName()) {
            case "Slice" -> GpuTactics.SLICE;
            case "Pad" -> GpuTactics.PAD;
            case "Expand" -> GpuTactics.EXPAND;
            case "Tile" -> GpuTactics.TILE;
            case "GatherElements" -> GpuTactics.GATHER_ELEMENTS;
            case "GatherND" -> GpuTactics.GATHER_ND;
            case "ConstantOfShape" -> GpuTactics.FILL;
            case "Shape", "Constant" -> GpuTactics.CONSTANT;
            default -> null;
        };
    }

    @Override public boolean computes(Node n) { return idOf(n) != null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return idOf(n); }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, idOf(n) == null ? "(none)" : idOf(n));
        Value out = n.output();
        DType storage = e.storage();
        int eb = elementBytes(out, storage);
        DeviceBuffer yb = e.activation(out);
        return switch (id) {
            case GpuTactics.GATHER_ELEMENTS -> {
                Value data = n.input(0), idx = n.input(1);
                requireGatherElements(n);
                int[] dd = data.type().shape().dims(), id2 = idx.type().shape().dims();
                int axis = Operands.axis(n, n.attrs().getInt("axis", 0), dd.length);
                long[] table = DataMoveKernels.gatherElementsTable(dd, id2);
                DeviceBuffer tb = e.shared(out, "gather_elements:table", () -> longs(table));
                DeviceBuffer db = operand(e, data), ib = idx.isConstant() ? Operands.ints(e, idx) : e.activation(idx);
                yield Operands.layer(e, n, id, out, s -> DataMoveKernels.gatherElements(e.kernels(), eb, db, ib, yb, tb, dd, id2, axis, s));
            }
            case GpuTactics.GATHER_ND -> {
                Value data = n.input(0), idx = n.input(1);
                int batchDims = requireGatherNd(n);
                int[] dd = data.type().shape().dims(), id2 = idx.type().shape().dims();
                long[] table = DataMoveKernels.gatherNdTable(dd, id2, batchDims);
                DeviceBuffer tb = e.shared(out, "gather_nd:table", () -> longs(table));
                DeviceBuffer db = operand(e, data), ib = idx.isConstant() ? Operands.ints(e, idx) : e.activation(idx);
                yield Operands.layer(e, n, id, out, s -> DataMoveKernels.gatherNd(e.kernels(), eb, db, ib, yb, tb, dd, id2, batchDims, s));
            }
            case GpuTactics.FILL -> {
                long bits = fillBits(n, storage);
                long total = out.type().numElements();
                yield Operands.layer(e, n, id, out, s -> DataMoveKernels.fill(e.kernels(), eb, yb, total, bits, s));
            }
            case GpuTactics.CONSTANT -> {
                Tensor v = constantValue(n);
                DeviceBuffer src = v.dtype().isInteger() ? e.shared(out, "constant:i32", () -> ints(i32(n, v)))
                        : v.dtype() == DType.BOOL ? e.shared(out, "constant:bool", () -> DeviceBuffer.ofBytes(bools(v)))
                        : e.upload(v.dtype() == DType.F32 ? v : toF32(v), out, "constant");
                long bytes = out.type().numElements() * eb;
                yield Operands.layer(e, n, id, out, s -> { if (bytes > 0) yb.copyFromAsync(src.slice(0, bytes), s); });
            }
            default -> {
                Window w = windowPlan(n, storage);
                DeviceBuffer tb = e.shared(out, "window:table", () -> longs(w.table()));
                DeviceBuffer xb = operand(e, n.input(0));
                yield Operands.layer(e, n, id, out, s -> DataMoveKernels.windowCopy(e.kernels(), eb, xb, yb, tb, w.table(), w.edge(), w.fillBits(), s));
            }
        };
    }

    /** The device buffer of data input {@code v}: as {@link Operands#operand}, a bool constant as bytes (how bool lives on the device). */
    static DeviceBuffer operand(LayerContext e, Value v) {
        if (v.isConstant() && v.type().dtype() == DType.BOOL) return e.shared(v, "bool", () -> DeviceBuffer.ofBytes(bools(v.constantValue())));
        return Operands.operand(e, v);
    }

    private static byte[] bools(Tensor t) {
        byte[] b = new byte[Math.max(1, t.size())];
        for (int i = 0; i < t.size(); i++) b[i] = (byte) (t.getLong(i) != 0 ? 1 : 0);
        return b;
    }

    /** Bytes per element of {@code v} on the device: integers live as i32, bool as bytes, floating values in the layer's storage type. */
    static int elementBytes(Value v, DType storage) {
        DType t = v.type().dtype();
        return t.isInteger() ? 4 : t == DType.BOOL ? 1 : storage.bytes();
    }

    /** Refuses a channels-last operand naming the node (the kernels index logical, channels-first order). */
    static void requireChannelsFirst(Node n) {
        for (Value v : n.inputs())
            if (v != null && v.type().rank() >= 3 && v.type().layout() == Layout.NHWC)
                throw GpuEngineException.unsupported(n, n.opName() + " of the channels-last value %" + v.name() + " (supported: channels-first)");
        if (n.output().type().rank() >= 3 && n.output().type().layout() == Layout.NHWC)
            throw GpuEngineException.unsupported(n, n.opName() + " producing a channels-last value (supported: channels-first)");
    }

    private static void requireRank(Node n, Value v) {
        if (v.type().rank() > DataMoveKernels.MAX_RANK)
            throw GpuEngineException.unsupported(n, n.opName() + " of rank " + v.type().rank() + " (supported: up to " + DataMoveKernels.MAX_RANK + ")");
    }

    /** Checks a GatherElements node (no GPU needed; its indices are integers, as the IR checks). */
    static void requireGatherElements(Node n) {
        requireChannelsFirst(n);
        requireRank(n, n.input(0));
    }

    /** Checks a GatherND node (no GPU needed; its indices are integers and batch_dims valid, as the IR checks) and returns its batch_dims. */
    static int requireGatherNd(Node n) {
        requireChannelsFirst(n);
        requireRank(n, n.input(0));
        long b = n.attrs().getInt("batch_dims", 0);
        int r = n.input(0).type().rank(), q = n.input(1).type().rank();
        if (b < 0 || b >= Math.min(r, q)) throw GpuEngineException.unsupported(n, "GatherND batch_dims " + b + " with data of rank " + r + " and indices of rank " + q);
        return (int) b;
    }

    /** A window copy: its table (see datamove.cu), what happens outside the input, Pad's constant in the element's bits. */
    record Window(long[] table, DataMoveKernels.Edge edge, long fillBits) {}

    /**
     * A constant input {@code i} of {@code n}, or null when absent (or, where {@code emptyIsAbsent}, empty, as the reference
     * reads Pad's constant_value); throws naming it when not a constant.
     */
    private static Tensor constantInput(Node n, int i, String what, boolean emptyIsAbsent) {
        if (n.numInputs() <= i || n.input(i) == null) return null;
        Value v = n.input(i);
        if (v.constantValue() == null) throw GpuEngineException.unsupported(n, n.opName() + " " + what + " %" + v.name() + " is not a constant");
        return emptyIsAbsent && v.type().numElements() == 0 ? null : v.constantValue();
    }

    /** The window copy of a Slice, Pad, Expand or Tile node (no GPU needed); {@code storage}: the type floating elements live in. */
    static Window windowPlan(Node n, DType storage) {
        requireChannelsFirst(n);
        Value x = n.input(0), y = n.output();
        requireRank(n, x);
        requireRank(n, y);
        int[] in = x.type().shape().dims();
        return switch (n.opName()) {
            case "Slice" -> {
                int[][] w = ShapeOps.sliceWindow(x.type().shape(), constantInput(n, 1, "starts", false), constantInput(n, 2, "ends", false),
                        constantInput(n, 3, "axes", false), constantInput(n, 4, "steps", false));
                yield new Window(DataMoveKernels.sliceTable(in, w[0], w[1], w[2]), DataMoveKernels.Edge.NONE, 0);
            }
            case "Expand" -> new Window(DataMoveKernels.expandTable(in, y.type().shape().dims()), DataMoveKernels.Edge.NONE, 0);
            case "Tile" -> new Window(DataMoveKernels.tileTable(in, y.type().shape().dims()), DataMoveKernels.Edge.WRAP, 0);
            case "Pad" -> {
                String mode = n.attrs().getString("mode", "constant");
                DataMoveKernels.Edge edge = switch (mode) {
                    case "constant" -> DataMoveKernels.Edge.CONSTANT;
                    case "reflect" -> DataMoveKernels.Edge.REFLECT;
                    case "edge" -> DataMoveKernels.Edge.EDGE;
                    case "wrap" -> DataMoveKernels.Edge.WRAP;
                    default -> throw GpuEngineException.unsupported(n, "Pad mode '" + mode + "' (supported: constant, reflect, edge, wrap)");
                };
                Tensor pads = constantInput(n, 1, "pads", false), value = constantInput(n, 2, "constant_value", true), axes = constantInput(n, 3, "axes", false);
                if (pads == null) throw GpuEngineException.unsupported(n, "Pad without pads");
                long[][] p = PadOp.fullPads(x.type().shape(), pads, axes);
                long bits = value == null ? 0 : bits(n, value, x.type().dtype(), storage);
                yield new Window(DataMoveKernels.padTable(in, p[0], p[1]), edge, bits);
            }
            default -> throw GpuEngineException.unsupported(n, "op " + n.opName() + " is not a window copy (Slice, Pad, Expand, Tile)");
        };
    }

    /** The element bits of scalar {@code v} as a value of type {@code type} lives on the device: i32 for integers, a byte for bool, else {@code storage}. */
    static long bits(Node n, Tensor v, DType type, DType storage) {
        if (type == DType.BOOL) return v.getDouble(0) != 0 ? 1 : 0;
        if (type.isInteger()) {
            long x = v.getLong(0);
            if (x != (int) x) throw GpuEngineException.unsupported(n, "value " + x + " is outside the i32 range of device integers");
            return x;
        }
        float f = (float) v.getDouble(0);
        return switch (storage) {
            case F32 -> Float.floatToRawIntBits(f) & 0xffffffffL;
            case F16 -> Float.floatToFloat16(f) & 0xffffL;
            case BF16 -> Float.floatToRawIntBits(Tensor.roundBf16(f)) >>> 16;
            default -> throw GpuEngineException.unsupported(n, n.opName() + " at storage " + storage.text() + " (supported: f32, f16, bf16)");
        };
    }

    /** ConstantOfShape's value (default f32 0) in the bits its output lives in. */
    static long fillBits(Node n, DType storage) {
        Tensor v = n.attrs().getTensor("value");
        if (v == null) v = Tensor.scalar(DType.F32, 0);
        if (v.size() != 1) throw GpuEngineException.unsupported(n, "ConstantOfShape value of shape " + v.shape() + " (needs one element)");
        return bits(n, v, n.output().type().dtype(), storage);
    }

    /**
     * The value a Shape or Constant node produces, known when the engine is built: Shape reads its input's static
     * dimensions [start, end) (clamped as ONNX says), Constant is evaluated by the reference.
     */
    static Tensor constantValue(Node n) {
        if (n.opName().equals("Constant")) return new ReferenceInterpreter().evaluate(n, List.of()).getFirst();
        if (!n.opName().equals("Shape")) throw GpuEngineException.unsupported(n, "op " + n.opName() + " has no build-time value (Shape, Constant)");
        long[] all = n.input(0).type().shape().longDims();
        int r = all.length;
        long start = clampDim(n.attrs().getInt("start", 0), r), end = clampDim(n.attrs().getInt("end", r), r);
        long[] d = end <= start ? new long[0] : java.util.Arrays.copyOfRange(all, (int) start, (int) end);
        return Tensor.ofLongs(DType.I64, org.tessel.api.Shape.of(d.length), d);
    }

    /** A table of long longs on the device (little-endian, as the GPU reads it). */
    static DeviceBuffer longs(long[] t) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 * Math.max(1, t.length)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (long v : t) b.putLong(v);
        return DeviceBuffer.ofBytes(b.array());
    }

    private static DeviceBuffer ints(int[] a) {
        DeviceBuffer b = DeviceBuffer.allocate(4L * a.length);
        b.copyFrom(a);
        return b;
    }

    private static long clampDim(long v, int r) { return Math.max(0, Math.min(r, v < 0 ? v + r : v)); }

    private static int[] i32(Node n, Tensor t) {
        int[] a = new int[Math.max(1, t.size())];
        for (int i = 0; i < t.size(); i++) {
            long x = t.getLong(i);
            if (x != (int) x) throw GpuEngineException.unsupported(n, "value " + x + " is outside the i32 range of device integers");
            a[i] = (int) x;
        }
        return a;
    }

    private static Tensor toF32(Tensor t) {
        float[] f = new float[t.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) t.getDouble(i);
        return Tensor.ofFloats(DType.F32, t.shape(), f);
    }
}
