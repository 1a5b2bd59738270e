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
 * the filters zero-padded alike ({@code tessel.pad_channels}): cuDNN's f16 NHWC tensor-core kernels want
 * C % 8 == 0. The padded copy is a buffer of its own (outside the arena), written by every run.
 * Off with {@code -Dtessel.gpu.padChannels=false}.
 */
final class ChannelPad {
    private final DeviceBuffer src, input, weights;
    private final long pixels;
    private final int c, channels;
    private final GpuEngine e;

    private ChannelPad(GpuEngine e, DeviceBuffer src, DeviceBuffer input, DeviceBuffer weights, long pixels, int c, int channels) {
        this.e = e; this.src = src; this.input = input; this.weights = weights; this.pixels = pixels; this.c = c; this.channels = channels;
    }

    static boolean enabled() { return !"false".equals(System.getProperty("tessel.gpu.padChannels")); }

    /** The padding for this convolution, or null where none is needed. */
    static ChannelPad of(GpuEngine e, Node owner, Value x, Value w, int groups, Layout layout) {
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int c = xd[1];
        if (!enabled() || e.precision.storage() != DType.F16 || layout != Layout.NHWC || groups != 1 || c % 8 == 0 || c > 64) return null;
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
        return new ChannelPad(e, e.act(x), in, wb, pixels, c, cp);
    }

    int channels() { return channels; }
    DeviceBuffer input() { return input; }
    DeviceBuffer weights() { return weights; }

    void enqueue(CudaStream s) { CnnKernels.padChannels(e.compiler, src, input, pixels, c, channels, s); }
}
