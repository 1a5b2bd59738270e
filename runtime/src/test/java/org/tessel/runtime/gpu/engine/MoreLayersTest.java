package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * CPU checks of {@link MoreLayers}: the ops pass requireSupported; the host-side plans (Resize taps,
 * reduction extents, folded BatchNormalization) fed through a Java copy of the kernels' arithmetic
 * reproduce the reference interpreter (nearest and max exactly); unsupported forms are refused
 * naming the node.
 */
class MoreLayersTest {
    @Test void requireSupportedAcceptsResizeReduceBatchNorm() {
        Graph g = MoreLayersCases.build().graph();
        GpuEngine.requireSupported(g);
        GpuEngine.requireSupported(MoreLayersCases.withLayout(g, Layout.NHWC));
        for (Node n : g.nodes()) assertTrue(TacticImplementations.loaded().computes(n), n.describe());
    }

    /** Every case through the plans and a host emulation of the kernels, against the reference. */
    @Test void plansReproduceTheReference() {
        MoreLayersCases.Cases cases = MoreLayersCases.build();
        Graph g = cases.graph();
        List<Tensor> in = MoreLayersCases.inputs(g, 3);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) named.put(g.inputs().get(i).name(), in.get(i));
        Map<Value, Tensor> values = new java.util.IdentityHashMap<>();
        for (int i = 0; i < in.size(); i++) values.put(g.inputs().get(i), in.get(i));
        List<Tensor> ref = List.copyOf(new ReferenceInterpreter().run(g, named).values());
        int checked = 0;
        for (Node n : g.nodes()) {
            Tensor x = values.get(n.input(0));
            if (n.opName().equals("Concat")) { // the cases concatenate batch-1 tensors on axis 1: the flat arrays one after another
                float[] all = new float[(int) n.output().type().numElements()];
                int at = 0;
                for (Value v : n.inputs()) { float[] f = values.get(v).floats(); System.arraycopy(f, 0, all, at, f.length); at += f.length; }
                values.put(n.output(), Tensor.ofFloats(DType.F32, n.output().type().shape(), all));
                continue;
            }
            Tensor y = switch (n.opName()) {
                case "Resize" -> emulateResize(MoreLayers.resizePlan(n), x);
                case "ReduceSum", "ReduceMax", "ReduceMean" -> emulateReduce(MoreLayers.reducePlan(n), x, n);
                case "BatchNormalization" -> emulateBn(MoreLayers.batchnormPlan(g, n), x);
                default -> null;
            };
            if (y == null) continue;
            values.put(n.output(), Tensor.ofFloats(DType.F32, n.output().type().shape(), y.floats()));
            int oi = g.outputs().indexOf(n.output());
            if (oi < 0) continue;
            String what = cases.outs().get(oi).name();
            double tol = cases.outs().get(oi).exact() ? 0 : 1e-5;
            var e = org.tessel.runtime.gpu.GpuTestSupport.error(y, ref.get(oi));
            assertTrue(e.relL2() <= tol && e.maxAbs() <= Math.max(tol, 0) * 10 * e.maxRef(), what + ": " + e);
            checked++;
        }
        assertEquals(cases.outs().size(), checked, "every case output checked");
    }

    static Tensor emulateResize(MoreLayers.ResizePlan p, Tensor x) {
        int[] d = p.in();
        int oh = p.oh(), ow = p.ow();
        int[] t = p.table();
        float[] xf = x.floats(), y = new float[d[0] * d[1] * oh * ow];
        int i = 0;
        for (int n = 0; n < d[0]; n++)
            for (int c = 0; c < d[1]; c++)
                for (int h = 0; h < oh; h++)
                    for (int w = 0; w < ow; w++) {
                        int base = (n * d[1] + c) * d[2] * d[3];
                        int h0 = t[h], w0 = t[3 * oh + w];
                        if (p.nearest()) { y[i++] = xf[base + h0 * d[3] + w0]; continue; }
                        int h1 = t[oh + h], w1 = t[3 * oh + ow + w];
                        float wh = Float.intBitsToFloat(t[2 * oh + h]), ww = Float.intBitsToFloat(t[3 * oh + 2 * ow + w]);
                        float a = xf[base + h0 * d[3] + w0], b = xf[base + h0 * d[3] + w1], cc = xf[base + h1 * d[3] + w0], dd = xf[base + h1 * d[3] + w1];
                        float top = (1 - ww) * a + ww * b, bottom = (1 - ww) * cc + ww * dd;
                        y[i++] = (1 - wh) * top + wh * bottom;
                    }
        return Tensor.ofFloats(DType.F32, Shape.of(d[0], d[1], oh, ow), y);
    }

    static Tensor emulateReduce(MoreLayers.ReducePlan p, Tensor x, Node n) {
        if (p.globalPool()) {
            int[] d = x.shape().dims();
            return emulateReduce(new MoreLayers.ReducePlan(p.op(), (long) d[0] * d[1], (long) d[2] * d[3], 1, false, null, null), x, n);
        }
        float[] xf = x.floats(), y = new float[(int) (p.outer() * p.inner())];
        for (long o = 0; o < p.outer(); o++)
            for (long j = 0; j < p.inner(); j++) {
                float acc = p.op() == org.tessel.runtime.gpu.kernels.MoreKernels.ReduceOp.MAX ? Float.NEGATIVE_INFINITY : 0;
                for (long k = 0; k < p.red(); k++) {
                    float v = xf[(int) ((o * p.red() + k) * p.inner() + j)];
                    acc = p.op() == org.tessel.runtime.gpu.kernels.MoreKernels.ReduceOp.MAX ? Math.max(acc, v) : acc + v;
                }
                y[(int) (o * p.inner() + j)] = p.op() == org.tessel.runtime.gpu.kernels.MoreKernels.ReduceOp.MEAN ? acc / p.red() : acc;
            }
        return Tensor.ofFloats(DType.F32, n.output().type().shape(), y);
    }

    static Tensor emulateBn(MoreLayers.BatchNormPlan p, Tensor x) {
        float[] xf = x.floats(), y = new float[xf.length];
        for (int i = 0; i < xf.length; i++) {
            int c = (int) ((i / p.inner()) % p.c());
            y[i] = Math.fma(xf[i], p.affine()[c], p.affine()[p.c() + c]);
        }
        return Tensor.ofFloats(DType.F32, x.shape(), y);
    }

    @Test void reductionExtents() {
        Graph g = MoreLayersCases.build().graph();
        Map<String, long[]> want = Map.of("sum_c", new long[] {2, 8, 35}, "max_last", new long[] {24, 200, 1}, "mean_12", new long[] {2, 96, 5},
                "sum_rank2_last", new long[] {4, 1000, 1}, "max_all", new long[] {1, 105, 1}, "sum_gap1", new long[] {2, 15, 1}, "mean_first", new long[] {1, 3, 40});
        int seen = 0;
        for (Node n : g.nodes()) {
            long[] w = want.get(n.name());
            if (w == null) continue;
            MoreLayers.ReducePlan p = MoreLayers.reducePlan(n);
            assertFalse(p.globalPool(), n.name());
            assertEquals(List.of(w[0], w[1], w[2]), List.of(p.outer(), p.red(), p.inner()), n.name());
            seen++;
        }
        assertEquals(want.size(), seen);
        Node pool = g.nodes().stream().filter(n -> n.name().equals("mean_pool")).findFirst().orElseThrow();
        assertTrue(MoreLayers.reducePlan(pool).globalPool(), "ReduceMean over {2, 3} stays the global pool");
    }

    private static Node only(Graph g, String op) { return g.nodes().stream().filter(n -> n.opName().equals(op)).findFirst().orElseThrow(); }

    private static void refused(Runnable r, String node, String why) {
        var e = assertThrows(GpuEngineException.class, r::run);
        assertTrue(e.getMessage().contains(node) && e.getMessage().contains(why), e.getMessage());
    }

    @Test void unsupportedFormsAreRefusedNamingTheNode() {
        for (String[] c : new String[][] {{"cubic", "half_pixel", "mode 'cubic'"}, {"linear", "tf_crop_and_resize", "tf_crop_and_resize"}}) {
            NetworkBuilder b = new NetworkBuilder("refuse");
            Value x = b.input("x", DType.F32, 1, 2, 4, 4);
            Value roi = b.constant("roi", Shape.of(8), 0, 0, 0, 0, 1, 1, 1, 1);
            b.output(b.name("my_resize").op("Resize", Attributes.builder().put("mode", c[0]).put("coordinate_transformation_mode", c[1]).build(),
                    x, roi, b.constant("s", Shape.of(4), 1, 1, 2, 2)));
            refused(() -> MoreLayers.resizePlan(only(b.build(), "Resize")), "my_resize", c[2]);
        }
        NetworkBuilder b = new NetworkBuilder("refuse");
        Value x = b.input("x", DType.F32, 1, 2, 4, 4);
        b.output(b.name("chan_resize").op("Resize", Attributes.empty(), x, null, b.constant("s", Shape.of(4), 1, 2, 1, 1)));
        b.output(b.name("gappy_sum").op("ReduceSum", Attributes.empty(), x, b.longs("ax", 1, 3)));
        b.output(b.name("int_mean").op("ReduceMean", Attributes.empty(), b.input("ids", DType.I32, 3, 5), b.longs("ax1", 1)));
        Value s = b.input("scale", DType.F32, 2);
        b.output(b.name("bn_var_scale").op("BatchNormalization", Attributes.empty(), x, s, b.uniformWeights("bb", 0, 1, 2), b.uniformWeights("m", 0, 1, 2), b.uniformWeights("v", 1, 2, 2)));
        Graph g = b.build();
        refused(() -> MoreLayers.resizePlan(only(g, "Resize")), "chan_resize", "H and W only");
        MoreLayers.ReducePlan gappy = MoreLayers.reducePlan(only(g, "ReduceSum"));
        assertTrue(gappy.strided() && java.util.Arrays.equals(new boolean[] {false, true, false, true}, gappy.reduced()), "non-contiguous axes run the strided kernel");
        refused(() -> MoreLayers.reducePlan(only(g, "ReduceMean")), "int_mean", "ReduceMean of i32 data %ids (supported: floating data; integers in ReduceSum");
        refused(() -> MoreLayers.batchnormPlan(g, only(g, "BatchNormalization")), "bn_var_scale", "scale %scale is not a constant");
    }
}
