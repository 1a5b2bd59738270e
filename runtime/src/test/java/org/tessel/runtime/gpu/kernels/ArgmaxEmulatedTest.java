package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.llm.Sampler;

/**
 * The device's greedy pick ({@code tessel_argmax}) on the emulated device against {@link Sampler#greedy} on the host:
 * rows of a vocabulary that is no multiple of the block (32,000 and 1,003 logits), in f32, f16 and bf16, with ties
 * planted at both ends (the lowest index wins), a row of -inf but one, and NaN logits (never picked).
 */
class ArgmaxEmulatedTest {
    static CudaContext ctx;
    static KernelCompiler kc;

    @BeforeAll static void open() {
        ctx = CudaContext.emulated(2, 1L << 28);
        kc = new KernelCompiler(ctx);
    }

    @AfterAll static void close() {
        kc.close();
        ctx.close();
    }

    @Test void theDevicesGreedyPickIsTheHosts() {
        SplittableRandom r = new SplittableRandom(5);
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16})
            for (int n : new int[] {32_000, 1_003}) {
                int rows = 5;
                float[] logits = new float[rows * n];
                for (int i = 0; i < logits.length; i++) logits[i] = round(t, (float) r.nextGaussian() * 4);
                // row 1: the maximum twice, far apart (the lower index wins); row 2: ties in every thread's share
                logits[n + 7] = logits[n + n - 3] = 100f;
                for (int i = 0; i < n; i++) logits[2 * n + i] = round(t, (float) (i % 5));
                // row 3: -inf everywhere but one; row 4: NaNs before and after its maximum
                for (int i = 0; i < n; i++) logits[3 * n + i] = Float.NEGATIVE_INFINITY;
                logits[3 * n + n / 2] = -1e3f;
                logits[4 * n] = Float.NaN;
                logits[4 * n + 11] = 50f;
                logits[4 * n + 12] = Float.NaN;
                int[] want = new int[rows];
                for (int row = 0; row < rows; row++) {
                    float[] one = java.util.Arrays.copyOfRange(logits, row * n, (row + 1) * n);
                    if (row == 4) one[0] = -Float.MAX_VALUE; // Sampler.greedy keeps index 0 when it is NaN; the device skips NaN
                    want[row] = Sampler.greedy().next(one);
                }
                try (DeviceBuffer d = upload(t, logits); DeviceBuffer out = DeviceBuffer.allocate(4L * rows)) {
                    Argmax.run(kc, t, d, rows, n, out, CudaStream.DEFAULT);
                    int[] got = new int[rows];
                    out.copyTo(got);
                    assertArrayEquals(want, got, t.text() + " n=" + n);
                    assertTrue(got[1] == 7 && got[3] == n / 2 && got[4] == 11, t.text() + " n=" + n + ": " + java.util.Arrays.toString(got));
                }
            }
    }

    @Test void sizesThatDoNotFitAreRefused() {
        try (DeviceBuffer d = DeviceBuffer.allocate(16); DeviceBuffer out = DeviceBuffer.allocate(4)) {
            assertThrows(IllegalArgumentException.class, () -> Argmax.run(kc, DType.F32, d, 1, 5, out, CudaStream.DEFAULT));
            assertThrows(IllegalArgumentException.class, () -> Argmax.run(kc, DType.F32, d, 2, 2, out, CudaStream.DEFAULT));
            assertThrows(IllegalArgumentException.class, () -> Argmax.run(kc, DType.I32, d, 1, 4, out, CudaStream.DEFAULT));
        }
    }

    static float round(DType t, float v) { return org.tessel.api.Tensor.round(t, v); }

    static DeviceBuffer upload(DType t, float[] v) {
        if (t == DType.F32) return DeviceBuffer.ofFloats(v);
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++)
            h[i] = t == DType.F16 ? Float.floatToFloat16(v[i]) : (short) (Float.floatToRawIntBits(v[i]) >>> 16);
        return DeviceBuffer.ofShorts(h);
    }
}
