package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.tactics.data.DataMovementTactics;

/**
 * CPU checks of the {@code tessel.split} layer: its plan (rows, widths and offsets in bytes, in NCHW and
 * NHWC) fed through a Java copy of the kernel's index arithmetic, launch by launch as the layer enqueues
 * them, reproduces the reference interpreter's Split exactly; the catalogue prices the launches the
 * layer makes. The kernel itself runs in {@link SplitGpuTest}.
 */
class SplitLayerTest {
    /** Splits on channels (NCHW and NHWC), on the last axis of a rank-3 tensor, into five parts (two launches), of a batch of two. */
    static Graph cases() {
        NetworkBuilder b = new NetworkBuilder("splits", OpRegistry.global(), 1);
        Value x = b.input("x", DType.F32, 2, 8, 3, 5);
        List<Value> outs = new ArrayList<>(b.split(x, 1, 3, 5));
        Value h = b.input("h", DType.F32, 2, 7, 12);
        outs.addAll(b.split(h, -1, 2, 3, 1, 4, 2));
        Value z = b.input("z", DType.F32, 3, 4, 2, 2);
        outs.addAll(b.split(z, 0, 1, 2));
        return b.output(outs.toArray(Value[]::new)).build();
    }

    @Test void theLayersPlanThroughTheKernelsArithmeticIsTheReferenceSplit() {
        Graph g = cases();
        List<Tensor> in = MoreLayersCases.inputs(g, 5);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        int checked = 0;
        for (Layout layout : new Layout[] {Layout.NCHW, Layout.NHWC}) {
            for (Node n : g.nodes()) {
                int xi = g.inputs().indexOf(n.input(0));
                boolean image = n.input(0).type().rank() >= 3;
                Layout l = image ? layout : Layout.NCHW;
                float[] x = physical(in.get(xi), l);
                DataMovementLayers.SplitPlan p = DataMovementLayers.splitPlan(n, l, 4);
                List<float[]> ys = new ArrayList<>();
                for (Value y : n.outputs()) ys.add(new float[(int) y.type().numElements()]);
                for (int j = 0; j < ys.size(); j += CnnKernels.SPLIT_PARTS) {
                    int end = Math.min(ys.size(), j + CnnKernels.SPLIT_PARTS);
                    long[] w = new long[CnnKernels.SPLIT_PARTS];
                    for (int k = j; k < end; k++) w[k - j] = p.widthBytes()[k] / 4;
                    kernel(x, p.outer(), p.rowBytes() / 4, p.offsetBytes()[j] / 4, ys.subList(j, end), w);
                }
                for (int k = 0; k < ys.size(); k++) {
                    int oi = g.outputs().indexOf(n.output(k));
                    assertArrayEquals(physical(want.get(oi), l), ys.get(k), n.name() + " output " + k + " in " + l.text());
                    checked++;
                }
            }
        }
        assertEquals(2 * (2 + 5 + 2), checked);
    }

    /** tessel_split_copy, one launch: thread i copies input word (o, first + c) to its part. */
    private static void kernel(float[] x, long outer, long rowIn, long first, List<float[]> ys, long[] w) {
        long total = w[0] + w[1] + w[2] + w[3];
        for (long i = 0; i < outer * total; i++) {
            long o = i / total, c = i - o * total;
            float v = x[(int) (o * rowIn + first + c)];
            int part = 0;
            while (c >= w[part]) { c -= w[part]; part++; }
            ys.get(part)[(int) (o * w[part] + c)] = v;
        }
    }

    /** The tensor's elements in the order a layout stores them (NHWC: channels last). */
    private static float[] physical(Tensor t, Layout l) {
        float[] f = t.floats();
        if (l != Layout.NHWC || t.shape().rank() < 3) return f.clone();
        int[] d = t.shape().dims();
        int n = d[0], c = d[1];
        int inner = (int) (t.size() / ((long) n * c));
        float[] out = new float[f.length];
        for (int a = 0; a < n; a++) for (int ch = 0; ch < c; ch++) for (int s = 0; s < inner; s++) out[(a * inner + s) * c + ch] = f[(a * c + ch) * inner + s];
        return out;
    }

    @Test void theCataloguePricesTheLaunchesTheLayerMakes() {
        assertEquals(CnnKernels.SPLIT_PARTS, DataMovementTactics.SPLIT_PARTS_PER_LAUNCH);
        Graph g = cases();
        for (Node n : g.nodes()) {
            int launches = DataMovementTactics.SPLIT.features(n, org.tessel.cost.Precision.FP16, Layout.NCHW).kernelLaunches();
            assertEquals((n.outputs().size() + CnnKernels.SPLIT_PARTS - 1) / CnnKernels.SPLIT_PARTS, launches, n.name());
        }
        for (Node n : g.nodes()) assertEquals(GpuTactics.SPLIT, TacticImplementations.loaded().rule(null, n).tactic());
        GpuEngine.requireSupported(g);
    }
}
