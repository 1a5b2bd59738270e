package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * tessel.fp8_epilogue on the emulated device (a CPU test of the kernel's logic and launch, not of speed): for every
 * activation, with and without bias and residual, each E4M3 code equals the host computation {@link Fp8Epilogue#reference}
 * (GELU and Tanh through libm may differ from Java's by an ulp, which moves a code at most one step; counted and bounded).
 */
class Fp8EpilogueTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 26); }

    @AfterAll static void close() { ctx.close(); }

    /** 48 channels take the 4-wide form (a thread per 4 elements), 47 the one-element form. */
    @Test void codesMatchTheHostComputation() {
        for (int ch : new int[] {48, 47})
            for (DType accType : new DType[] {DType.F32, DType.BF16}) codesMatchTheHostComputation(37, ch, accType);
    }

    /** As above with the GEMM's results in {@code accType} (bf16: the values rounded to bf16 first, as cuBLASLt writes them). */
    private void codesMatchTheHostComputation(int rows, int ch, DType accType) {
        int n = rows * ch;
        SplittableRandom r = new SplittableRandom(5);
        float[] acc = new float[n], bias = new float[ch];
        byte[] res = new byte[n];
        for (int i = 0; i < n; i++) acc[i] = Tensor.round(accType, (float) r.nextDouble(-6, 6));
        short[] accBf16 = new short[n];
        for (int i = 0; i < n; i++) accBf16[i] = (short) (Float.floatToRawIntBits(acc[i]) >>> 16);
        for (int c = 0; c < ch; c++) bias[c] = (float) r.nextDouble(-1, 1);
        for (int i = 0; i < n; i++) res[i] = (byte) Float8E4M3.toBits((float) r.nextDouble(-200, 200), true);
        float sr = 0.01f, sy = 7f / 448;
        try (KernelCompiler kc = new KernelCompiler(ctx); DeviceBuffer a = accType == DType.BF16 ? DeviceBuffer.ofShorts(accBf16) : DeviceBuffer.ofFloats(acc); DeviceBuffer b = DeviceBuffer.ofFloats(bias);
             DeviceBuffer rb = DeviceBuffer.ofBytes(res); DeviceBuffer y = DeviceBuffer.allocate(n)) {
            for (Fp8Epilogue.Activation act : Fp8Epilogue.Activation.values())
                for (boolean withBias : new boolean[] {false, true})
                    for (boolean withRes : new boolean[] {false, true}) {
                        Fp8Epilogue.run(kc, a, accType, rows, ch, new Fp8Epilogue.Params(withBias ? b : null, withRes ? rb : null, sr, act, sy), y, CudaStream.DEFAULT);
                        byte[] got = new byte[n];
                        y.copyTo(got);
                        int off = 0, far = 0;
                        for (int i = 0; i < n; i++) {
                            int want = Fp8Epilogue.reference(acc[i], withBias ? bias[i % ch] : null, withRes ? (res[i] & 0xff) : null, sr, act, sy);
                            int g = got[i] & 0xff;
                            if (g != want) {
                                off++;
                                // one E4M3 step apart: adjacent on the code line (sign and magnitude; +0 and -0 the same point)
                                if (Math.abs(codeLine(g) - codeLine(want)) > 1) far++;
                            }
                        }
                        String what = ch + " channels, " + accType.text() + " results, " + act + (withBias ? " bias" : "") + (withRes ? " residual" : "");
                        boolean transcendental = act == Fp8Epilogue.Activation.GELU_ERF || act == Fp8Epilogue.Activation.GELU_TANH || act == Fp8Epilogue.Activation.TANH;
                        assertEquals(0, far, what + ": codes more than one E4M3 step from the host's");
                        if (!transcendental) assertEquals(0, off, what + ": codes that differ from the host's");
                        else assertTrue(off <= n / 100, what + ": " + off + " codes one step off (libm vs Java)");
                    }
        }
    }

    @Test void badBuffersAndScalesAreRefusedNamingThem() {
        try (KernelCompiler kc = new KernelCompiler(ctx); DeviceBuffer a = DeviceBuffer.allocate(4 * 8); DeviceBuffer y = DeviceBuffer.allocate(4)) {
            var small = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Epilogue.run(kc, a, 2, 4, new Fp8Epilogue.Params(null, null, 1f, Fp8Epilogue.Activation.NONE, 1f), y, CudaStream.DEFAULT));
            assertTrue(small.getMessage().contains("tessel.fp8_epilogue output (e4m3)"), small.getMessage());
            var scale = assertThrows(IllegalArgumentException.class, () -> new Fp8Epilogue.Params(null, null, 1f, Fp8Epilogue.Activation.RELU, 0f));
            assertTrue(scale.getMessage().contains("tessel.fp8_epilogue output"), scale.getMessage());
        }
    }

    /** An E4M3 code's place on the line of representable values: its magnitude bits, negated for a negative code. */
    private static int codeLine(int code) { return (code & 0x80) != 0 ? -(code & 0x7f) : code & 0x7f; }
}
