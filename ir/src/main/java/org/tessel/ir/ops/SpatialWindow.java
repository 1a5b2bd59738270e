package org.tessel.ir.ops;

import java.util.Arrays;
import org.tessel.api.Attributes;
import org.tessel.api.OpException;

/**
 * The sliding-window geometry that Conv and the pools share: per spatial axis the kernel size,
 * stride, dilation, the padding actually applied at each end (after resolving auto_pad) and the
 * input and output sizes. Output sizes follow ONNX: {@code floor((in + pads - dilated_kernel) /
 * stride) + 1}, ceil instead of floor under ceil_mode (dropping a last window that would start in
 * the end padding, as PyTorch and onnxruntime do), {@code ceil(in / stride)} for SAME_UPPER and
 * SAME_LOWER (the odd pixel of padding goes to the end for UPPER, to the start for LOWER), no
 * padding for VALID.
 */
record SpatialWindow(int[] kernel, int[] strides, int[] dilations, int[] padBegin, int[] padEnd, int[] in, int[] out) {

    enum AutoPad { NOTSET, SAME_UPPER, SAME_LOWER, VALID }

    int rank() { return kernel.length; }

    int dilatedKernel(int i) { return (kernel[i] - 1) * dilations[i] + 1; }

    static AutoPad autoPad(Attributes a) {
        String s = a.getString("auto_pad", "NOTSET");
        return switch (s) {
            case "NOTSET", "" -> AutoPad.NOTSET;
            case "SAME_UPPER" -> AutoPad.SAME_UPPER;
            case "SAME_LOWER" -> AutoPad.SAME_LOWER;
            case "VALID" -> AutoPad.VALID;
            default -> throw new OpException("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '" + s + "'");
        };
    }

    /** An ints attribute of one value per spatial axis, each at least {@code min}; {@code dflt} everywhere when absent. */
    static int[] perAxis(Attributes a, String name, int rank, int dflt, int min) {
        long[] v = a.getInts(name);
        int[] out = new int[rank];
        if (v == null) {
            Arrays.fill(out, dflt);
            return out;
        }
        if (v.length != rank)
            throw new OpException("attribute '" + name + "' must have " + rank + " values (one per spatial axis), got " + Arrays.toString(v));
        for (int i = 0; i < rank; i++) {
            if (v[i] < min || v[i] > Integer.MAX_VALUE)
                throw new OpException("attribute '" + name + "' values must be at least " + min + ", got " + Arrays.toString(v));
            out[i] = (int) v[i];
        }
        return out;
    }

    /** The explicit pads attribute as begin/end arrays; all zero when absent. */
    static int[][] pads(Attributes a, int rank) {
        long[] p = a.getInts("pads");
        int[] begin = new int[rank], end = new int[rank];
        if (p != null) {
            if (p.length != 2 * rank)
                throw new OpException("attribute 'pads' must have " + 2 * rank + " values (begin and end per spatial axis), got " + Arrays.toString(p));
            for (int i = 0; i < rank; i++) {
                if (p[i] < 0 || p[i + rank] < 0) throw new OpException("attribute 'pads' must not be negative, got " + Arrays.toString(p));
                begin[i] = Math.toIntExact(p[i]);
                end[i] = Math.toIntExact(p[i + rank]);
            }
        }
        return new int[][] {begin, end};
    }

    /**
     * Resolves the window of a Conv or pool from its attributes (strides, dilations, pads,
     * auto_pad) for the given input spatial sizes and kernel; fails when an output size would be
     * zero or negative.
     */
    static SpatialWindow resolve(Attributes a, int[] in, int[] kernel, boolean ceilMode) {
        int r = in.length;
        int[] strides = perAxis(a, "strides", r, 1, 1);
        int[] dilations = perAxis(a, "dilations", r, 1, 1);
        AutoPad mode = autoPad(a);
        int[][] pads = pads(a, r);
        int[] begin = pads[0], end = pads[1], out = new int[r];
        for (int i = 0; i < r; i++) {
            int dk = (kernel[i] - 1) * dilations[i] + 1;
            switch (mode) {
                case SAME_UPPER, SAME_LOWER -> {
                    out[i] = Math.ceilDiv(in[i], strides[i]);
                    int total = Math.max(0, (out[i] - 1) * strides[i] + dk - in[i]);
                    begin[i] = mode == AutoPad.SAME_UPPER ? total / 2 : total - total / 2;
                    end[i] = total - begin[i];
                }
                case VALID, NOTSET -> {
                    if (mode == AutoPad.VALID) { begin[i] = 0; end[i] = 0; }
                    long span = (long) in[i] + begin[i] + end[i] - dk;
                    if (span < 0)
                        throw new OpException("spatial axis " + i + ": the dilated kernel (" + dk + ") is larger than the padded input ("
                                + ((long) in[i] + begin[i] + end[i]) + ")");
                    long o = (ceilMode ? Math.ceilDiv(span, strides[i]) : span / strides[i]) + 1;
                    // under ceil_mode a window that would start inside the end padding is dropped
                    if (ceilMode && (o - 1) * strides[i] >= (long) in[i] + begin[i]) o--;
                    out[i] = Math.toIntExact(o);
                }
            }
            if (out[i] <= 0) throw new OpException("spatial axis " + i + " of size " + in[i] + " gives an empty output");
        }
        return new SpatialWindow(kernel, strides, dilations, begin, end, in.clone(), out);
    }

    long outElements() {
        long n = 1;
        for (int o : out) n *= o;
        return n;
    }

    /** The same window padded to three spatial axes (leading axes of size 1), so kernels need only a 3-D loop nest. */
    SpatialWindow as3d() {
        int r = rank();
        if (r == 3) return this;
        if (r > 3) throw new OpException("at most 3 spatial axes are supported, got " + r);
        int lead = 3 - r;
        return new SpatialWindow(pad3(kernel, lead, 1), pad3(strides, lead, 1), pad3(dilations, lead, 1),
                pad3(padBegin, lead, 0), pad3(padEnd, lead, 0), pad3(in, lead, 1), pad3(out, lead, 1));
    }

    private static int[] pad3(int[] v, int lead, int fill) {
        int[] o = new int[3];
        Arrays.fill(o, 0, lead, fill);
        System.arraycopy(v, 0, o, lead, v.length);
        return o;
    }
}
