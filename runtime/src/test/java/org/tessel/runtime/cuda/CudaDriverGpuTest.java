package org.tessel.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.ffm.Nvrtc;
import org.tessel.runtime.cuda.ffm.NvrtcException;
import org.tessel.runtime.gpu.GpuTestSupport;

/** The JCuda device layer and NVRTC on a real GPU. */
@Tag("gpu")
class CudaDriverGpuTest {
    static final String SCALE = """
            extern "C" __global__ void scale_add(const float* x, float* y, float a, float b, int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) y[i] = a * x[i] + b;
            }
            """;

    @Test void deviceReportsItself() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        CudaDevice d = ctx.device();
        System.out.println("RESULT|device|" + d + "|driver " + CudaDevice.driverVersion() + "|NVRTC " + java.util.Arrays.toString(Nvrtc.get().version()));
        assertTrue(d.smCount() > 0);
        assertTrue(d.computeMajor() >= 7, "compute capability " + d.computeMajor() + "." + d.computeMinor());
        assertTrue(d.name().length() > 0);
        long[] mem = ctx.memoryInfo();
        assertTrue(mem[0] > 0 && mem[0] <= mem[1]);
    }

    @Test void copiesRoundTripEveryElementType() {
        GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(1);
        float[] f = new float[1000];
        for (int i = 0; i < f.length; i++) f[i] = (float) r.nextGaussian();
        short[] s = new short[777];
        for (int i = 0; i < s.length; i++) s[i] = (short) r.nextInt();
        byte[] b = new byte[333];
        r.nextBytes(b);
        try (DeviceBuffer df = DeviceBuffer.ofFloats(f); DeviceBuffer ds = DeviceBuffer.ofShorts(s); DeviceBuffer db = DeviceBuffer.ofBytes(b);
             DeviceBuffer copy = DeviceBuffer.allocate(df.bytes())) {
            float[] f2 = new float[f.length];
            df.copyTo(f2);
            assertArrayEquals(f, f2);
            short[] s2 = new short[s.length];
            ds.copyTo(s2);
            assertArrayEquals(s, s2);
            byte[] b2 = new byte[b.length];
            db.copyTo(b2);
            assertArrayEquals(b, b2);
            copy.copyFrom(df);
            float[] f3 = new float[f.length];
            copy.copyTo(f3);
            assertArrayEquals(f, f3);
            // a view writes into its parent at the right offset
            DeviceBuffer tail = copy.slice(400, 400);
            tail.copyFrom(new float[] {1, 2, 3});
            copy.copyTo(f3);
            assertEquals(1f, f3[100]);
            assertEquals(3f, f3[102]);
            assertEquals(copy.address() + 400, tail.address());
            assertThrows(IllegalArgumentException.class, () -> db.copyFrom(new float[100]));
        }
    }

    /** Pinned staging at offsets ({@link PinnedStagingEmulatedTest#check}) through JCuda's pinned memory. */
    @Test void pinnedStagingKeepsEveryOffsetApart() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        PinnedStagingEmulatedTest.check();
        System.out.println("RESULT|pinned staging at offsets 0, 1024, 2048, 3074 (" + ctx.device().name() + ")|ok");
    }

    @Test void launchesAnNvrtcKernelTimesItAndReplaysAGraph() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String ptx = Nvrtc.get().compileToPtx(SCALE, "scale_add.cu", ctx.device().computeArch(), List.of());
        int n = 1 << 20;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 1000;
        try (CudaModule m = CudaModule.loadPtx("scale_add", ptx); CudaStream stream = CudaStream.create();
             DeviceBuffer dx = DeviceBuffer.ofFloats(x); DeviceBuffer dy = DeviceBuffer.allocate(4L * n);
             CudaEvent start = new CudaEvent(); CudaEvent stop = new CudaEvent()) {
            CudaKernel k = m.kernel("scale_add");
            assertTrue(k.registers() > 0);
            start.record(stream);
            k.launch((n + 255) / 256, 256, 0, stream, CudaKernel.args().ptr(dx).ptr(dy).f32(2f).f32(1f).i32(n));
            stop.record(stream);
            float ms = stop.elapsedSince(start);
            assertTrue(ms > 0 && ms < 1000, "elapsed " + ms + " ms");
            float[] y = new float[n];
            dy.copyTo(y);
            for (int i = 0; i < n; i += 4097) assertEquals(2f * x[i] + 1f, y[i]);
            // capture y = 3 y + 0, twice, then replay the graph twice: y_final = 81 * y
            dy.copyFrom(x);
            try (CudaGraph g = CudaGraph.capture(stream, () -> {
                for (int rep = 0; rep < 2; rep++)
                    k.launch((n + 255) / 256, 256, 0, stream, CudaKernel.args().ptr(dy).ptr(dy).f32(3f).f32(0f).i32(n));
            })) {
                float[] before = new float[n];
                dy.copyTo(before);
                assertArrayEquals(x, before, "capturing must not run the work");
                g.launch(stream);
                g.launch(stream);
                stream.synchronize();
            }
            dy.copyTo(y);
            for (int i = 0; i < n; i += 4097) assertEquals(81f * x[i], y[i]);
            System.out.println("RESULT|driver: launch, events, graph replay|f32|[" + n + "]|0|0|0|ok");
        }
        assertTrue(ctx.memoryInfo()[0] > 0);
    }

    @Test void nvrtcErrorsCarryTheCompilerLog() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        NvrtcException e = assertThrows(NvrtcException.class, () -> Nvrtc.get().compileToPtx(
                "extern \"C\" __global__ void broken(float* y) { y[0] = undefined_name; }", "broken.cu", ctx.device().computeArch(), List.of()));
        assertTrue(e.getMessage().contains("broken.cu"), e.getMessage());
        assertTrue(e.log().contains("undefined_name"), e.log());
    }

    @Test void launchErrorsNameTheKernelAndTheResult() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String ptx = Nvrtc.get().compileToPtx(SCALE, "scale_add.cu", ctx.device().computeArch(), List.of());
        try (CudaModule m = CudaModule.loadPtx("scale_add", ptx)) {
            CudaException e = assertThrows(CudaException.class, () -> m.kernel("no_such_kernel"));
            assertTrue(e.getMessage().contains("cuModuleGetFunction") && e.getMessage().contains("CUDA_ERROR_NOT_FOUND"), e.getMessage());
            CudaKernel k = m.kernel("scale_add");
            CudaException big = assertThrows(CudaException.class, () -> k.launch(1, 4096, 0, CudaStream.DEFAULT,
                    CudaKernel.args().ptr(0).ptr(0).f32(1).f32(0).i32(0)));
            assertTrue(big.getMessage().contains("scale_add") && big.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), big.getMessage());
        }
    }
}
