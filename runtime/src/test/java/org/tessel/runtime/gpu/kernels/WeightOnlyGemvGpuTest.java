package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * The weight-only GEMV on a GPU: every specialization against
 * tessel.WeightOnlyMatMul's reference at TinyLlama-1.1B's projection shapes and 1, 4 and 8 activation rows, then
 * the time of each shape at each row count (median of 50 launches after 10) with the bytes it must read, as GB/s: the
 * weights are read once for all rows of a pass, so 4 and 8 rows should take about the time of 1. Each line names the
 * default form that ran ({@link WeightOnlyGemv#form}: staged at one row; FP16 with INT4 codes, tensor cores at 4 and 8).
 */
@Tag("gpu")
class WeightOnlyGemvGpuTest {
    /** q/k/v/o (2048 x 2048), gate/up (2048 -> 5632), down (5632 -> 2048), the 32000-row head, llama-1b's merged Q/K/V (2560) and gate/up (11264). */
    static final int[][] SHAPES = {{2048, 2048}, {2048, 5632}, {5632, 2048}, {2048, 32000}, {2048, 2560}, {2048, 11264}};

    @Test void matchesTheReferenceAndReportsBandwidth() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        CudaStream s = CudaStream.DEFAULT;
        for (DType t : List.of(DType.F16, DType.BF16))
            for (int bits : new int[] {4, 8})
                for (int[] kn : SHAPES) {
                    int k = kn[0], n = kn[1], group = 128;
                    boolean symmetric = bits == 4 || n != 2048;
                    SplittableRandom r = new SplittableRandom(k * 7L + n + bits);
                    float[] w = new float[k * n];
                    for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.02);
                    var q = WeightQuantizer.quantize(w, k, n, new WeightQuantizer.Format(bits, group, symmetric), DType.F16);
                    for (int m : new int[] {1, 4, 8}) {
                        float[] x = new float[m * k];
                        for (int i = 0; i < x.length; i++) x[i] = Tensor.round(t, (float) r.nextGaussian());
                        float[] want = reference(t, q, bits, group, m, k, x);
                        byte[] codes = new byte[(int) q.codes().type().numElements()];
                        for (int i = 0; i < codes.length; i++) codes[i] = (byte) q.codes().longs()[i];
                        byte[] zeros = symmetric ? null : new byte[(int) q.zeroPoints().type().numElements()];
                        for (int i = 0; zeros != null && i < zeros.length; i++) zeros[i] = (byte) q.zeroPoints().longs()[i];
                        try (DeviceBuffer dx = DeviceBuffer.ofShorts(narrow(t, x)); DeviceBuffer dw = DeviceBuffer.ofBytes(codes);
                             DeviceBuffer ds = DeviceBuffer.ofShorts(narrow(DType.F16, q.scales().floats()));
                             DeviceBuffer dz = zeros == null ? null : DeviceBuffer.ofBytes(zeros); DeviceBuffer dy = GpuTestSupport.poisoned(t, (long) m * n)) {
                            WeightOnlyGemv.launch(kc, t, DType.F16, bits, group, m, n, k, dx, dw, ds, dz, dy, s);
                            s.synchronize();
                            short[] got = new short[m * n];
                            dy.copyTo(got);
                            double tol = t == DType.F16 ? 2e-3 : 1.6e-2;
                            for (int i = 0; i < m * n; i++) {
                                float g = t == DType.F16 ? Float.float16ToFloat(got[i]) : Float.intBitsToFloat(got[i] << 16);
                                assertEquals(want[i], g, tol * (1 + Math.abs(want[i])), t.text() + " w" + bits + " " + k + "x" + n + " m=" + m + " element " + i);
                            }
                            double us = time(kc, t, bits, group, m, n, k, dx, dw, ds, dz, dy, s);
                            long bytes = codes.length + 2L * q.scales().size() + (zeros == null ? 0 : zeros.length) + 2L * m * k + 2L * m * n;
                            System.out.printf("gemv %s w%da16 K=%d N=%d M=%d %s form: %.1f us, %.0f GB/s (f16 weights would be %.1f MB, these %.1f MB)%n",
                                    t.text(), bits, k, n, m, WeightOnlyGemv.form(t, bits, !symmetric, group, k, m), us, bytes / us / 1e3, 2.0 * k * n / 1e6, bytes / 1e6);
                        }
                    }
                }
    }

    private static double time(KernelCompiler kc, DType t, int bits, int group, int m, int n, int k, DeviceBuffer dx, DeviceBuffer dw, DeviceBuffer ds, DeviceBuffer dz,
                               DeviceBuffer dy, CudaStream s) {
        double[] us = new double[50];
        for (int i = 0; i < 60; i++) {
            try (CudaEvent a = new CudaEvent(); CudaEvent b = new CudaEvent()) {
                a.record(s);
                WeightOnlyGemv.launch(kc, t, DType.F16, bits, group, m, n, k, dx, dw, ds, dz, dy, s);
                b.record(s);
                b.synchronize();
                if (i >= 10) us[i - 10] = b.elapsedSince(a) * 1e3;
            }
        }
        java.util.Arrays.sort(us);
        return us[us.length / 2];
    }

    private static float[] reference(DType t, WeightQuantizer.Quantized q, int bits, int group, int m, int k, float[] x) {
        Graph g = new Graph("gemv");
        Value a = g.addInput("a", TensorType.of(t, Shape.of(m, k)));
        List<Value> ins = new java.util.ArrayList<>(List.of(a, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())));
        if (q.zeroPoints() != null) ins.add(g.addConstant("z", q.zeroPoints()));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", ins,
                Attributes.builder().put("bits", (long) bits).put("group_size", (long) group).build(), 1);
        g.setOutputs(List.of(node.output()));
        return new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(t, Shape.of(m, k), x))).getFirst().floats();
    }

    private static short[] narrow(DType t, float[] v) {
        short[] out = new short[v.length];
        for (int i = 0; i < v.length; i++) out[i] = t == DType.F16 ? Float.floatToFloat16(v[i]) : (short) (Float.floatToRawIntBits(v[i]) >>> 16);
        return out;
    }
}
