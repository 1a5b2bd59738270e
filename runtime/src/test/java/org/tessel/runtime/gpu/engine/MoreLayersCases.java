package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.passes.PassStatistics;
import org.tessel.passes.layout.LayoutAssigner;
import org.tessel.passes.rules.Rewriter;

/**
 * One graph holding every Resize / Reduce / BatchNormalization case of {@link MoreLayersGpuTest}
 * (one graph input and one output per case, so one engine per layout and precision covers them all).
 */
final class MoreLayersCases {
    private MoreLayersCases() {}

    /** An output: its case name and whether f32 results must equal the reference exactly (nearest resize, max). */
    record Out(String name, boolean exact) {}

    record Cases(Graph graph, List<Out> outs) {}

    static Cases build() {
        NetworkBuilder b = new NetworkBuilder("more_layers");
        List<Out> outs = new ArrayList<>();
        // Resize: nearest (default = half_pixel + round_prefer_floor, asymmetric, half_pixel), linear (half_pixel, align_corners, asymmetric, pytorch_half_pixel)
        resize(b, outs, "r_nearest_default", new int[] {2, 3, 5, 4}, Attributes.empty(), new float[] {1, 1, 2, 3}, null);
        resize(b, outs, "r_nearest_asym_floor", new int[] {1, 4, 6, 6}, attrs("nearest", "asymmetric", "floor"), new float[] {1, 1, 2, 2}, null);
        resize(b, outs, "r_nearest_half_down", new int[] {1, 8, 7, 9}, attrs("nearest", "half_pixel", "round_prefer_floor"), null, new long[] {1, 8, 3, 5});
        resize(b, outs, "r_nearest_asym_ceil", new int[] {1, 2, 6, 8}, attrs("nearest", "asymmetric", "ceil"), new float[] {1, 1, 1.5f, 0.5f}, null);
        resize(b, outs, "r_nearest_half_c32", new int[] {1, 32, 10, 10}, attrs("nearest", "half_pixel", "round_prefer_ceil"), new float[] {1, 1, 2, 2}, null);
        resize(b, outs, "r_linear_half", new int[] {2, 3, 5, 6}, attrs("linear", "half_pixel", null), new float[] {1, 1, 2, 2}, null);
        resize(b, outs, "r_linear_align", new int[] {1, 5, 4, 7}, attrs("linear", "align_corners", null), null, new long[] {1, 5, 9, 13});
        resize(b, outs, "r_linear_asym", new int[] {1, 3, 8, 6}, attrs("linear", "asymmetric", null), new float[] {1, 1, 0.5f, 1.7f}, null);
        resize(b, outs, "r_linear_pytorch", new int[] {1, 2, 5, 3}, attrs("linear", "pytorch_half_pixel", null), null, new long[] {1, 2, 1, 6});
        // Reduce over contiguous axes (axes as the opset-18 input)
        reduce(b, outs, "ReduceSum", "sum_c", new int[] {2, 8, 5, 7}, new long[] {1}, 1);
        reduce(b, outs, "ReduceMax", "max_last", new int[] {2, 3, 4, 200}, new long[] {3}, 0);
        reduce(b, outs, "ReduceMean", "mean_12", new int[] {2, 16, 6, 5}, new long[] {1, 2}, 0);
        reduce(b, outs, "ReduceSum", "sum_rank2_last", new int[] {4, 1000}, new long[] {-1}, 1);
        reduce(b, outs, "ReduceMax", "max_all", new int[] {3, 5, 7}, null, 0);
        reduce(b, outs, "ReduceMean", "mean_pool", new int[] {2, 6, 5, 5}, new long[] {2, 3}, 1);
        reduce(b, outs, "ReduceSum", "sum_gap1", new int[] {2, 3, 1, 5}, new long[] {1, 3}, 1);
        reduce(b, outs, "ReduceMean", "mean_first", new int[] {3, 4, 10}, new long[] {0}, 0);
        reduce(b, outs, "ReduceMax", "max_c", new int[] {2, 9, 4, 4}, new long[] {1}, 1);
        // BatchNormalization: at the input, after a Concat, rank 2 and 3
        outs.add(new Out("bn_input", false));
        b.output(bn(b, "bn_input", b.input("x_bn_input", DType.F32, 2, 6, 5, 7), 6, 1e-3f));
        Value c1 = b.input("x_bn_cat1", DType.F32, 1, 3, 4, 4), c2 = b.input("x_bn_cat2", DType.F32, 1, 5, 4, 4);
        outs.add(new Out("bn_concat", false));
        b.output(bn(b, "bn_concat", b.concat(1, c1, c2), 8, 1e-5f));
        outs.add(new Out("bn_rank2", false));
        b.output(bn(b, "bn_rank2", b.input("x_bn_rank2", DType.F32, 4, 10), 10, 1e-5f));
        outs.add(new Out("bn_rank3", false));
        b.output(bn(b, "bn_rank3", b.input("x_bn_rank3", DType.F32, 2, 4, 9), 4, 1e-5f));
        // a chain: BN -> linear Resize -> ReduceMean over channels
        Value x = b.input("x_chain", DType.F32, 1, 6, 7, 5);
        Value y = bn(b, "chain_bn", x, 6, 1e-5f);
        y = b.name("chain_resize").op("Resize", attrs("linear", "half_pixel", null), y, null, b.constant("chain_scales", Shape.of(4), 1, 1, 2, 2));
        y = b.name("chain_mean").op("ReduceMean", Attributes.builder().put("keepdims", 1L).build(), y, b.longs("chain_axes", 1));
        outs.add(new Out("chain", false));
        b.output(y);
        return new Cases(b.build(), outs);
    }

    static Attributes attrs(String mode, String coord, String nearest) {
        Attributes.Builder a = Attributes.builder().put("mode", mode).put("coordinate_transformation_mode", coord);
        if (nearest != null) a.put("nearest_mode", nearest);
        return a.build();
    }

    private static void resize(NetworkBuilder b, List<Out> outs, String name, int[] dims, Attributes a, float[] scales, long[] sizes) {
        Value x = b.input("x_" + name, DType.F32, dims);
        Value s = scales == null ? null : b.constant(name + "_scales", Shape.of(4), scales);
        Value z = sizes == null ? null : b.longs(name + "_sizes", sizes);
        Value y = sizes == null ? b.name(name).op("Resize", a, x, null, s) : b.name(name).op("Resize", a, x, null, null, z);
        outs.add(new Out(name, "nearest".equals(a.getString("mode", "nearest"))));
        b.output(y);
    }

    private static void reduce(NetworkBuilder b, List<Out> outs, String op, String name, int[] dims, long[] axes, long keepdims) {
        Value x = b.input("x_" + name, DType.F32, dims);
        Attributes a = Attributes.builder().put("keepdims", keepdims).build();
        Value y = axes == null ? b.name(name).op(op, a, x) : b.name(name).op(op, a, x, b.longs(name + "_axes", axes));
        outs.add(new Out(name, op.equals("ReduceMax")));
        b.output(y);
    }

    private static Value bn(NetworkBuilder b, String name, Value x, int c, float eps) {
        Value scale = b.uniformWeights(name + "_scale", 0.5f, 1.5f, c), bias = b.uniformWeights(name + "_bias", -1f, 1f, c);
        Value mean = b.uniformWeights(name + "_mean", -0.5f, 0.5f, c), var = b.uniformWeights(name + "_var", 0.25f, 2f, c);
        return b.name(name).batchNorm(x, scale, bias, mean, var, eps);
    }

    /** The graph with every image value in {@code layout} (reformats where needed; graph outputs back in NCHW). */
    static Graph withLayout(Graph g, Layout layout) {
        Graph c = g.copy();
        new LayoutAssigner(n -> layout).assign(c, new Rewriter(c, OpRegistry.global(), new PassStatistics()));
        return c;
    }

    /** Random inputs, one per graph input. */
    static List<Tensor> inputs(Graph g, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        List<Tensor> in = new ArrayList<>();
        for (Value v : g.inputs()) {
            float[] f = new float[(int) v.type().numElements()];
            for (int i = 0; i < f.length; i++) f[i] = (float) (r.nextDouble() * 4 - 2);
            in.add(Tensor.ofFloats(DType.F32, v.type().shape(), f));
        }
        return in;
    }
}
