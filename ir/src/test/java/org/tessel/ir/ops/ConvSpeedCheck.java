package org.tessel.ir.ops;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.NetworkBuilder;

/**
 * Timing harness (not a test): runs the convolutions of ResNet-50 v1.5 at batch 1, 224x224,
 * through {@link ConvOp}'s reference implementation on the calling thread and prints time and
 * GFLOP/s per layer kind and in total. Times are the thread's CPU time (so other processes
 * competing for the core do not inflate them) next to the wall-clock time of each round. Run with
 * {@code java -cp ir/target/classes:ir/target/test-classes:plugins-api/target/classes org.tessel.ir.ops.ConvSpeedCheck [rounds]}.
 */
public final class ConvSpeedCheck {
    private ConvSpeedCheck() {}

    /** One conv layer: input channels and size, output channels, kernel, stride, pad, and how often ResNet-50 has it. */
    record Layer(String name, int c, int hw, int m, int k, int stride, int pad, int count) {
        long macs() {
            int out = (hw + 2 * pad - k) / stride + 1;
            return (long) m * out * out * c * k * k * count;
        }
    }

    static List<Layer> resnet50() {
        List<Layer> l = new ArrayList<>();
        l.add(new Layer("conv1 7x7/2", 3, 224, 64, 7, 2, 3, 1));
        int[] blocks = {3, 4, 6, 3}, widths = {64, 128, 256, 512};
        int in = 64, hw = 56;
        for (int s = 0; s < 4; s++) {
            int w = widths[s], out = 4 * w, stride = s == 0 ? 1 : 2;
            String st = "stage" + (s + 1) + " ";
            l.add(new Layer(st + "1x1 reduce (first)", in, hw, w, 1, 1, 0, 1));
            l.add(new Layer(st + "3x3 (first, stride " + stride + ")", w, hw, w, 3, stride, 1, 1));
            l.add(new Layer(st + "1x1 downsample", in, hw, out, 1, stride, 0, 1));
            hw /= stride;
            l.add(new Layer(st + "1x1 expand", w, hw, out, 1, 1, 0, blocks[s]));
            l.add(new Layer(st + "1x1 reduce", out, hw, w, 1, 1, 0, blocks[s] - 1));
            l.add(new Layer(st + "3x3", w, hw, w, 3, 1, 1, blocks[s] - 1));
            in = out;
        }
        return l;
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        ConvOp conv = new ConvOp();
        NetworkBuilder rnd = new NetworkBuilder("weights");
        List<Layer> layers = resnet50();
        List<EvalContext> ctxs = new ArrayList<>();
        for (Layer l : layers) {
            Tensor x = rnd.randomUniform(Shape.of(1, l.c(), l.hw(), l.hw()), -1, 1);
            Tensor w = rnd.randomNormal(Shape.of(l.m(), l.c(), l.k(), l.k()), 0.05f);
            Tensor b = rnd.randomNormal(Shape.of(l.m()), 0.1f);
            Attributes a = NetworkBuilder.attrs("strides", new int[] {l.stride(), l.stride()}, "pads", new int[] {l.pad(), l.pad(), l.pad(), l.pad()});
            List<Tensor> ins = List.of(x, w, b);
            List<TensorType> types = conv.inferTypes(new InferenceContext("c", ins.stream().map(Tensor::type).toList(), ins, a, 1));
            ctxs.add(new EvalContext(l.name(), ins, a, types));
        }
        long totalMacs = layers.stream().mapToLong(Layer::macs).sum();
        System.out.printf("ResNet-50 convolutions: %d layer kinds, %.3f G MACs per image%n", layers.size(), totalMacs / 1e9);
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        double best = Double.MAX_VALUE;
        long[] perLayer = new long[layers.size()];
        for (int round = 0; round < rounds; round++) {
            long w0 = System.nanoTime(), t0 = cpu.getCurrentThreadCpuTime();
            for (int i = 0; i < layers.size(); i++) {
                long s = cpu.getCurrentThreadCpuTime();
                for (int rep = 0; rep < layers.get(i).count(); rep++) conv.evaluate(ctxs.get(i));
                perLayer[i] = cpu.getCurrentThreadCpuTime() - s;
            }
            double secs = (cpu.getCurrentThreadCpuTime() - t0) / 1e9, wall = (System.nanoTime() - w0) / 1e9;
            best = Math.min(best, secs);
            System.out.printf("round %d: %.3f s CPU (%.3f s wall), %.2f GFLOP/s%n", round + 1, secs, wall, 2.0 * totalMacs / secs / 1e9);
        }
        System.out.println("last round per layer kind:");
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            System.out.printf("  %-34s x%d  %8.1f ms  %6.2f GFLOP/s%n", l.name(), l.count(), perLayer[i] / 1e6, 2.0 * l.macs() / perLayer[i]);
        }
        System.out.printf("best: %.3f s CPU for all convolutions, %.2f GFLOP/s (dtype %s, one thread)%n", best, 2.0 * totalMacs / best / 1e9, DType.F32.text());
    }
}
