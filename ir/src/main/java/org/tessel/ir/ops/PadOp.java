package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * ONNX Pad (opset 21 form): pads, constant_value and axes are inputs; modes constant, reflect
 * (mirror without repeating the edge), edge and wrap. Negative pads crop; as in onnxruntime the
 * crop happens first, so reflect and wrap read from the cropped extent.
 */
public final class PadOp extends BaseOp {
    public PadOp() {
        super(def("Pad", "pads (or crops) a tensor at both ends of chosen axes")
                .inputs(2, 4, "data", "pads", "constant_value", "axes")
                .traits(Trait.DATA_MOVEMENT)
                .stringAttr("mode", "constant", "constant, reflect, edge or wrap"));
    }

    enum Mode { CONSTANT, REFLECT, EDGE, WRAP }

    static Mode mode(String s) {
        return switch (s) {
            case "constant" -> Mode.CONSTANT;
            case "reflect" -> Mode.REFLECT;
            case "edge" -> Mode.EDGE;
            case "wrap" -> Mode.WRAP;
            default -> throw new OpException("attribute 'mode' must be constant, reflect, edge or wrap, got '" + s + "'");
        };
    }

    /** Begin and end pads for every axis of the data, from the pads and axes inputs (the GPU engine's Pad plan reads them too). */
    public static long[][] fullPads(Shape data, Tensor pads, Tensor axes) {
        int r = data.rank();
        if (pads.rank() != 1) throw new OpException("input pads must be 1-D, got shape " + pads.shape());
        if (pads.dtype() != DType.I64) throw new OpException("input pads must be i64, got " + pads.dtype().text());
        int[] ax;
        if (axes == null) {
            ax = new int[r];
            for (int i = 0; i < r; i++) ax[i] = i;
        } else {
            if (!axes.dtype().isInteger() || axes.rank() != 1) throw new OpException("input axes must be a 1-D integer tensor, got " + axes.type());
            ax = new int[axes.size()];
            boolean[] seen = new boolean[r];
            for (int i = 0; i < ax.length; i++) {
                ax[i] = OpUtil.axis(axes.getLong(i), r, "axis");
                if (seen[ax[i]]) throw new OpException("input axes names axis " + ax[i] + " twice: " + Arrays.toString(OpUtil.longs(axes)));
                seen[ax[i]] = true;
            }
        }
        if (pads.size() != 2 * ax.length)
            throw new OpException("input pads must have " + 2 * ax.length + " values (begin and end for each of " + ax.length + " axes), got " + pads.size());
        long[][] p = new long[2][r];
        for (int i = 0; i < ax.length; i++) {
            p[0][ax[i]] = pads.getLong(i);
            p[1][ax[i]] = pads.getLong(i + ax.length);
        }
        return p;
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType data = ctx.input(0);
        Mode mode = mode(ctx.attrs().getString("mode", "constant"));
        Tensor pads = ctx.requireConstant(1, "pads");
        Tensor axes = ctx.hasInput(3) ? ctx.requireConstant(3, "axes") : null;
        if (ctx.hasInput(2)) {
            TensorType cv = ctx.input(2);
            NnSupport.requireSameDType("constant_value", cv, "data", data.dtype());
            if (cv.numElements() > 1) throw new OpException("input constant_value must be a scalar, got shape " + cv.shape());
        }
        long[][] p = fullPads(data.shape(), pads, axes);
        int[] out = new int[data.rank()];
        for (int i = 0; i < out.length; i++) {
            long n = data.shape().dim(i), o = n + p[0][i] + p[1][i];
            if (o < 0) throw new OpException("pads " + Arrays.toString(OpUtil.longs(pads)) + " crop axis " + i + " of size " + n + " below zero");
            long kept = n - Math.max(0, -p[0][i]) - Math.max(0, -p[1][i]);
            if (mode != Mode.CONSTANT && kept <= 0 && o > 0)
                throw new OpException("axis " + i + " has no elements left to pad from in mode " + mode.name().toLowerCase(java.util.Locale.ROOT));
            out[i] = Math.toIntExact(o);
        }
        return List.of(TensorType.of(data.dtype(), Shape.of(out)));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor data = ctx.input(0);
        Mode mode = mode(ctx.attrs().getString("mode", "constant"));
        long[][] p = fullPads(data.shape(), ctx.input(1), ctx.hasInput(3) ? ctx.input(3) : null);
        Shape outShape = ctx.outputType(0).shape();
        int r = data.rank();
        // per axis: output index -> input index, or -1 for the constant
        int[][] map = new int[r][];
        for (int a = 0; a < r; a++) {
            int n = data.shape().dim(a);
            int lo = (int) Math.max(0, -p[0][a]), len = n - lo - (int) Math.max(0, -p[1][a]);
            int shift = (int) Math.max(0, p[0][a]);
            map[a] = new int[outShape.dim(a)];
            for (int o = 0; o < map[a].length; o++) {
                int i = o - shift;
                int src = switch (mode) {
                    case CONSTANT -> i >= 0 && i < len ? i : -1;
                    case EDGE -> Math.clamp(i, 0, len - 1);
                    case WRAP -> Math.floorMod(i, len);
                    case REFLECT -> {
                        if (len == 1) yield 0;
                        int m = Math.floorMod(i, 2 * (len - 1));
                        yield m < len ? m : 2 * (len - 1) - m;
                    }
                };
                map[a][o] = src < 0 ? -1 : lo + src;
            }
        }
        int total = (int) outShape.numElements();
        int[] src = new int[total];
        int[] strides = data.shape().strides(), counter = new int[r];
        for (int o = 0; o < total; o++) {
            int s = 0;
            for (int a = 0; a < r && s >= 0; a++) {
                int m = map[a][counter[a]];
                s = m < 0 ? -1 : s + m * strides[a];
            }
            src[o] = s;
            for (int a = r - 1; a >= 0; a--) {
                if (++counter[a] < outShape.dim(a)) break;
                counter[a] = 0;
            }
        }
        Tensor cv = ctx.hasInput(2) && ctx.input(2).size() > 0 ? ctx.input(2) : null;
        Tensor out = Tensor.zeros(data.dtype(), outShape);
        switch (data.dtype().storage()) {
            case FLOAT -> {
                float[] in = data.floats(), y = out.floats();
                float c = cv == null ? 0f : cv.floats()[0];
                for (int o = 0; o < total; o++) y[o] = src[o] < 0 ? c : in[src[o]];
            }
            case DOUBLE -> {
                double[] in = data.doubles(), y = out.doubles();
                double c = cv == null ? 0 : cv.doubles()[0];
                for (int o = 0; o < total; o++) y[o] = src[o] < 0 ? c : in[src[o]];
            }
            case LONG -> {
                long[] in = data.longs(), y = out.longs();
                long c = cv == null ? 0 : cv.longs()[0];
                for (int o = 0; o < total; o++) y[o] = src[o] < 0 ? c : in[src[o]];
            }
        }
        return List.of(out);
    }
}
