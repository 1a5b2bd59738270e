package org.tessel.runtime.gpu.engine;

import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CnnKernels;

/**
 * An f16 NHWC convolution whose input has a channel count that is not a multiple of 8 (ResNet's
 * and GoogLeNet's RGB stem, C = 3) runs on the input copied into a zero-padded C' = 8k buffer with
 * the filters zero-padded alike ({@code tessel.conv.stem/nhwc_pad8/ALGO}): cuDNN's f16 NHWC tensor-core kernels want
 * C % 8 == 0. The padded copy is a buffer of its own (outside the arena), written by every run.
 */
final class ChannelPad {
    private final DeviceBuffer src, input, weights;
    private final long pixels;
    private final int c, channels;
    private final LayerContext e;

    private ChannelPad(LayerContext e, DeviceBuffer src, DeviceBuffer input, DeviceBuffer weights, long pixels, int c, int channels) {
        this.e = e; this.src = src; this.input = input; this.weights = weights; this.pixels = pixels; this.c = c; this.channels = channels;
    }

    /** True when {@code conv} (a Conv or a conv_bias_act fused node) is a one-group f16 convolution with few channels (c % 8 != 0, c <= 8). */
    private static boolean stemLike(LayerContext e, Node conv, int c) {
        Node k = conv;
        if (conv.opName().equals("tessel.Fused")) {
            if (!conv.attrs().getString("kind", "").equals("conv_bias_act") || conv.body() == null) return false;
            k = conv.body().nodes().stream().filter(b -> b.opName().equals("Conv")).findFirst().orElse(null);
            if (k == null || conv.input(0) == null) return false;
        } else if (!conv.opName().equals("Conv")) return false;
        return k.attrs().getInt("group", 1) == 1 && c % 8 != 0 && c <= 8 && e.storage() == DType.F16;
    }

    /**
     * True when this nchw-to-nhwc reformat of an f16 engine feeds only convolutions (as their data input) with
     * few channels (the stem) that run as {@code tessel.conv.stem} in a form reading NCHW (the plan's, or the
     * rule's when there is no plan), or conv_pool groups planned on {@code tessel.conv.stem_pool}: then their kernels
     * read the reformat's NCHW input themselves, and the reformat layer does nothing.
     */
    static boolean absorbs(LayerContext e, Node reformat) {
        if (!reformat.opName().equals("tessel.Reformat") || !reformat.attrs().getString("to", "").equals("nhwc")) return false;
        Value y = reformat.output();
        // the reformat's input must be a graph input: an arena value's memory may be reused once the reformat has run
        if (y.type().rank() != 4 || !e.graph().inputs().contains(reformat.input(0)) || e.graph().outputs().contains(y) || e.layoutOf(reformat.input(0)) != Layout.NCHW) return false;
        java.util.List<Node> users = e.graph().users(y);
        if (users.isEmpty()) return false;
        for (Node u : users) {
            if (u.input(0) != y) return false;
            boolean pool = ConvPoolLayers.reads(e, u);
            if (!pool && !stemLike(e, u, y.type().shape().dim(1))) return false;
            // the stem reads the uploaded input as it is stored: with f32 inputs (an FP32 engine's) and a stem at f16 the
            // reformat runs as its own layer and a cast follows
            if (e.storageOf(u.output()) != e.storageOf(reformat.input(0))) return false;
            String planned = e.planned(u);
            if (planned != null && !pool) {
                java.util.List<String> parts = GpuTactics.parts(planned);
                if (!parts.get(0).equals(GpuTactics.CONV_STEM) || parts.size() > 1 && parts.get(1).equals(VARIANT)) return false;
            }
        }
        for (Node u : users) for (int i = 1; i < u.numInputs(); i++) if (u.input(i) == y) return false;
        return true;
    }

    /** The variant of {@code tessel.conv.stem} this form reports: the NHWC input padded to a multiple of 8 channels. */
    static final String VARIANT = "nhwc_pad8";

    /** True when this convolution (input {@code x}) runs on channels padded to 8: f16 NHWC, one group, c % 8 != 0, c <= 64, its input not a stem's absorbed reformat. */
    static boolean pads(LayerContext e, Value x, int groups, Layout layout, Node owner) {
        int c = x.type().shape().dim(1);
        if (e.storage() != DType.F16 || layout != Layout.NHWC || groups != 1 || c % 8 == 0 || c > 64) return false;
        return x.producer() == null || !x.producer().opName().equals("tessel.Reformat") || stemLike(e, owner, c) && !absorbs(e, x.producer());
    }

    /** The padding for this convolution ({@link #pads} holds): the padded filters and the padded input buffer. */
    static ChannelPad of(LayerContext e, Node owner, Value x, Value w) {
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int c = xd[1];
        int cp = (c + 7) / 8 * 8;
        Tensor wt = w.constantValue();
        int k = wd[0], rs = wd[2] * wd[3];
        float[] padded = new float[k * cp * rs];
        for (int ko = 0; ko < k; ko++)
            for (int ci = 0; ci < c; ci++)
                for (int i = 0; i < rs; i++) padded[(ko * cp + ci) * rs + i] = wt.getFloat((ko * c + ci) * rs + i);
        Tensor pw = HostTensors.toChannelsLast(Tensor.ofFloats(DType.F32, Shape.of(k, cp, wd[2], wd[3]), padded));
        DeviceBuffer wb = e.upload(pw, w);
        long pixels = x.type().numElements() / c;
        DeviceBuffer in = e.keep(DeviceBuffer.allocate(pixels * cp * 2));
        in.fill((byte) 0);
        return new ChannelPad(e, e.activation(x), in, wb, pixels, c, cp);
    }

    int channels() { return channels; }
    DeviceBuffer input() { return input; }
    DeviceBuffer weights() { return weights; }

    void enqueue(CudaStream s) {
        CnnKernels.padChannels(e.kernels(), src, input, pixels, c, channels, s);
    }

    /** The layer standing for an absorbed reformat: nothing to run. */
    static Layer absorbedReformat(LayerContext e, Node n) {
        return new Layer() {
            @Override public org.tessel.runtime.engine.LayerPlan plan() { return e.plan(n, GpuTactics.variant(GpuTactics.REFORMAT, "absorbed_by_stem"), n.output()); }
            @Override public void enqueue(CudaStream s) {}
        };
    }
}
