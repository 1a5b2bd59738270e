package org.tessel.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * The emulated device on its own (no GPU needed): host memory and its cap, launches checked as an
 * sm_90 GPU and the kernel's parameter types would check them, cooperative kernels (shared memory,
 * barriers, shuffles) against plain Java, deadlock detection, the prelude's PTX conversions in
 * software (round to nearest even), graph capture and replay, and the refusal of inline PTX.
 */
class EmulatedDeviceTest {
    static CudaContext ctx;

    /** A plain kernel, a cooperative one (block reversal through shared memory, a warp-sum per warp) and one that deadlocks. */
    static final String SOURCE = KernelCompiler.prelude() + """
            extern "C" __global__ void axpy(const float* x, float* y, float a, long long n) {
                long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) y[i] = a * x[i] + y[i];
            }
            __device__ float warp_total(float v) { return tessel_warp_sum(v); }
            extern "C" __global__ void reverse_and_sum(const float* x, float* y, float* sums) {
                extern __shared__ float buf[];
                __shared__ float red[32];
                int t = threadIdx.x, base = blockIdx.x * blockDim.x;
                buf[t] = x[base + t];
                __syncthreads();
                y[base + t] = buf[blockDim.x - 1 - t];
                float w = warp_total(x[base + t]);
                if ((t & 31) == 0) sums[blockIdx.x * (blockDim.x / 32) + t / 32] = w;
                float total = tessel_block_sum(x[base + t], red);
                if (t == 0) sums[gridDim.x * (blockDim.x / 32) + blockIdx.x] = total;
            }
            extern "C" __global__ void deadlock(float* y) {
                if (threadIdx.x % 2) __syncthreads();
                else y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
            }
            extern "C" __global__ void convert(const float* x, unsigned short* h, unsigned short* b, float* back, int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) { h[i] = tessel_f2h(x[i]); b[i] = tessel_f2bf(x[i]); back[i] = tessel_h2f(h[i]) + tessel_bf2f(b[i]); }
            }
            """;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 64L << 20); }

    @AfterAll static void close() { ctx.close(); }

    @Test void theDeviceSaysItIsEmulated() {
        assertTrue(ctx.isEmulated());
        assertTrue(ctx.device().name().startsWith("emulated sm_90 on the CPU (2 threads)"), ctx.device().name());
        assertTrue(ctx.device().toString().contains("not a GPU"), ctx.device().toString());
        assertEquals(9, ctx.device().computeMajor());
        assertEquals("compute_90", ctx.device().computeArch());
        assertEquals(0, CudaDevice.driverVersion());
    }

    @Test void memoryIsHostMemoryPoisonedAndCapped() {
        long free0 = ctx.memoryInfo()[0];
        try (DeviceBuffer b = DeviceBuffer.allocate(1024)) {
            assertEquals(0, b.address() % 256, "aligned as cudaMalloc");
            assertEquals(free0 - 1024, ctx.memoryInfo()[0]);
            float[] fresh = new float[256];
            b.copyTo(fresh);
            for (float f : fresh) assertTrue(Float.isNaN(f), "fresh device memory reads as NaN");
            float[] v = new float[256];
            for (int i = 0; i < v.length; i++) v[i] = i * 0.5f;
            b.copyFrom(v);
            DeviceBuffer s = b.slice(512, 512);
            assertEquals(b.address() + 512, s.address());
            float[] tail = new float[128];
            s.copyTo(tail);
            assertEquals(64f, tail[0]);
            s.fill32(Float.floatToRawIntBits(3f));
            b.copyTo(v);
            assertEquals(63.5f, v[127]);
            assertEquals(3f, v[128]);
        }
        assertEquals(free0, ctx.memoryInfo()[0]);
        CudaException oom = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(65L << 20));
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, oom.code());
        assertThrows(CudaException.class, () -> DeviceBuffer.allocate(1).pointer(), "no JCuda pointer for host memory");
    }

    @Test void kernelsAreClassifiedPlainOrCooperative() {
        Map<String, Boolean> k = EmulatedKernels.kernels(SOURCE.replace("extern __shared__ float buf[];", "float* buf = (float*) tessel_emu_dynamic_shared();"));
        assertEquals(Map.of("axpy", false, "reverse_and_sum", true, "deadlock", true, "convert", false), k);
        // a template called with its arguments (layernorm.cu's bodies) passes its shuffles on to the kernel
        String template = "template <int N, bool B> __device__ void body(float* x) { x[0] = __shfl_xor_sync(0xffffffff, x[0], N); }\n"
                + "template <int N> __device__ void plain(float* x) { x[0] = N; }\n"
                + "extern \"C\" __global__ void k(float* x) { body<1, true>(x); }\n"
                + "extern \"C\" __global__ void p(float* x) { plain<2>(x); }\n";
        assertEquals(Map.of("k", true, "p", false), EmulatedKernels.kernels(template));
    }

    @Test void plainAndCooperativeKernelsMatchJava() {
        try (CudaModule m = CudaModule.loadEmulated("emulated_test.cu", SOURCE);
             DeviceBuffer x = DeviceBuffer.allocate(4 * 384); DeviceBuffer y = DeviceBuffer.allocate(4 * 384); DeviceBuffer sums = DeviceBuffer.allocate(4 * 16)) {
            float[] xs = new float[384], ys = new float[384];
            for (int i = 0; i < xs.length; i++) { xs[i] = (i % 17) - 8; ys[i] = i; }
            x.copyFrom(xs);
            y.copyFrom(ys);
            m.kernel("axpy").launch(4, 128, 0, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(y).f32(2f).i64(300));
            float[] got = new float[384];
            y.copyTo(got);
            for (int i = 0; i < 384; i++) assertEquals(i < 300 ? 2 * xs[i] + i : i, got[i], "axpy element " + i);

            // 4 blocks of 96 threads (3 warps): each block reversed, one sum per warp and one per block
            m.kernel("reverse_and_sum").launch(4, 96, 96 * 4, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(y).ptr(sums));
            y.copyTo(got);
            float[] s = new float[16];
            sums.copyTo(s);
            for (int blk = 0; blk < 4; blk++) {
                float total = 0;
                for (int t = 0; t < 96; t++) {
                    assertEquals(xs[blk * 96 + 95 - t], got[blk * 96 + t], "block " + blk + " thread " + t);
                    total += xs[blk * 96 + t];
                }
                for (int w = 0; w < 3; w++) {
                    float ws = 0;
                    for (int t = 0; t < 32; t++) ws += xs[blk * 96 + w * 32 + t];
                    assertEquals(ws, s[blk * 3 + w], "warp sum " + blk + "/" + w);
                }
                assertEquals(total, s[12 + blk], 1e-4, "block sum " + blk);
            }
        }
    }

    @Test void launchesAreCheckedAsAGpuAndTheParametersWouldCheckThem() {
        try (CudaModule m = CudaModule.loadEmulated("emulated_test.cu", SOURCE); DeviceBuffer x = DeviceBuffer.allocate(4096)) {
            CudaKernel axpy = m.kernel("axpy");
            CudaException kinds = assertThrows(CudaException.class, () -> axpy.launch(1, 32, 0, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(x).f32(1f).i32(8)));
            assertTrue(kinds.getMessage().contains("(pointer, pointer, float, long long)") && kinds.getMessage().contains("(pointer, pointer, float, int)"), kinds.getMessage());
            assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, kinds.code());
            assertThrows(CudaException.class, () -> axpy.launch(1, 2048, 0, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(x).f32(1f).i64(8)));
            CudaKernel rev = m.kernel("reverse_and_sum");
            CudaException smem = assertThrows(CudaException.class, () -> rev.launch(1, 32, 64 << 10, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(x).ptr(x)));
            assertTrue(smem.getMessage().contains("setMaxDynamicSharedMemory"), smem.getMessage());
            CudaException missing = assertThrows(CudaException.class, () -> m.kernel("nope"));
            assertEquals(CUresult.CUDA_ERROR_NOT_FOUND, missing.code());
        }
    }

    @Test void threadsWaitingAtDifferentBarriersAreADeadlock() {
        try (CudaModule m = CudaModule.loadEmulated("emulated_test.cu", SOURCE); DeviceBuffer y = DeviceBuffer.allocate(4 * 64)) {
            CudaException e = assertThrows(CudaException.class, () -> m.kernel("deadlock").launch(1, 64, 0, CudaStream.DEFAULT, CudaKernel.args().ptr(y)));
            assertEquals(CUresult.CUDA_ERROR_LAUNCH_FAILED, e.code());
            assertTrue(e.getMessage().contains("deadlock in block (0,0,0)"), e.getMessage());
        }
    }

    @Test void thePreludesConversionsRoundToNearestEven() {
        float[] xs = {1f, 1.00048828125f, 1.00146484375f, 65504f, 65520f, 1e-8f, -2.5f, 3.14159265f, Float.NaN, 1.00390625f, 1.01171875f, Float.NEGATIVE_INFINITY};
        try (CudaModule m = CudaModule.loadEmulated("emulated_test.cu", SOURCE); DeviceBuffer x = DeviceBuffer.ofFloats(xs);
             DeviceBuffer h = DeviceBuffer.allocate(2L * xs.length); DeviceBuffer b = DeviceBuffer.allocate(2L * xs.length); DeviceBuffer back = DeviceBuffer.allocate(4L * xs.length)) {
            m.kernel("convert").launch(1, 32, 0, CudaStream.DEFAULT, CudaKernel.args().ptr(x).ptr(h).ptr(b).ptr(back).i32(xs.length));
            short[] hs = new short[xs.length], bs = new short[xs.length];
            h.copyTo(hs);
            b.copyTo(bs);
            for (int i = 0; i < xs.length; i++) {
                assertEquals(Float.floatToFloat16(xs[i]) & 0xFFFF, hs[i] & 0xFFFF, "f16 of " + xs[i]);
                int u = Float.floatToRawIntBits(xs[i]);
                int bf = Float.isNaN(xs[i]) ? 0x7FFF : ((u + 0x7FFF + ((u >>> 16) & 1)) >>> 16) & 0xFFFF;
                assertEquals(bf, bs[i] & 0xFFFF, "bf16 of " + xs[i]);
            }
        }
    }

    @Test void aCapturedGraphRecordsWorkAndReplaysIt() {
        String src = KernelCompiler.prelude() + "extern \"C\" __global__ void inc(float* y, int n) { int i = threadIdx.x; if (i < n) y[i] += 1.0f; }\n";
        try (CudaModule m = CudaModule.loadEmulated("emulated_inc.cu", src); DeviceBuffer y = DeviceBuffer.ofFloats(new float[8]);
             DeviceBuffer z = DeviceBuffer.allocate(32); CudaStream s = CudaStream.create(); CudaStream side = CudaStream.create();
             CudaEvent fork = CudaEvent.forOrdering(); CudaEvent join = CudaEvent.forOrdering()) {
            CudaKernel inc = m.kernel("inc");
            CudaGraph g = CudaGraph.capture(s, () -> {
                inc.launch(1, 8, 0, s, CudaKernel.args().ptr(y).i32(8));
                fork.record(s);
                side.waitFor(fork);   // the side stream joins the capture
                inc.launch(1, 8, 0, side, CudaKernel.args().ptr(y).i32(4));
                join.record(side);
                s.waitFor(join);
                z.copyFromAsync(y, s);
                assertThrows(CudaException.class, s::synchronize, "no synchronizing a stream under capture");
            });
            float[] got = new float[8];
            y.copyTo(got);
            assertArrayEquals(new float[8], got, "capture records, it does not run");
            g.launch(s);
            g.launch(s);
            s.synchronize();
            z.copyTo(got);
            assertArrayEquals(new float[] {4, 4, 4, 4, 2, 2, 2, 2}, got);
            inc.launch(1, 8, 0, side, CudaKernel.args().ptr(y).i32(8));   // after capture the side stream runs at once again
            y.copyTo(got);
            assertEquals(5f, got[0]);
            g.close();
        }
    }

    @Test void eventsTimeOnTheHost() {
        try (CudaEvent a = new CudaEvent(); CudaEvent b = new CudaEvent()) {
            assertThrows(CudaException.class, () -> b.elapsedSince(a), "events never recorded");
            a.record(CudaStream.DEFAULT);
            b.record(CudaStream.DEFAULT);
            assertTrue(b.elapsedSince(a) >= 0);
        }
    }

    @Test void inlinePtxIsRefusedNamingTheProgramAndTheFunction() {
        String src = KernelCompiler.prelude() + """
                __device__ void tile_mma(float* c, const unsigned* a) {
                    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0}, {%1}, {%2}, {%0};" : "+f"(c[0]) : "r"(a[0]), "r"(a[1]));
                }
                extern "C" __global__ void k(float* c, const unsigned* a) { tile_mma(c, a); }
                """;
        CudaException e = assertThrows(CudaException.class, () -> CudaModule.loadEmulated("tessel.test.mma", src));
        assertEquals("tessel.test.mma uses inline PTX (tensor-core mma) in tile_mma, which the emulated device cannot run", e.getMessage());
        CudaException header = assertThrows(CudaException.class, () -> CudaModule.loadEmulated("with_header.cu", "#include <cuda_fp16.h>\n" + src));
        assertTrue(header.getMessage().startsWith("with_header.cu includes <cuda_fp16.h>"), header.getMessage());
        String cpp = EmulatedKernels.translate("prelude_only.cu", KernelCompiler.prelude() + "extern \"C\" __global__ void k() {}\n").cpp();
        assertFalse(cpp.substring(cpp.indexOf("#line 1 \"prelude_only.cu\"")).contains("asm"), "the prelude's PTX conversions are replaced by host versions");
    }
}
