package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * The FP8 E4M3 KV cache on the GPU (emulated with {@code -Dtessel.test.device=emulated}): {@code tessel.paged_kv_append}
 * into E4M3 pools writes exactly the codes the CPU {@link PagedKvCache} stores for the same f16/bf16 keys and values
 * (bit for bit, every other byte untouched); {@code tessel.paged_attention} (planned, and split into 64-token
 * partitions) and {@code tessel.paged_prefill} over those pools against {@link PagedAttention#decode} on the CPU FP8
 * cache, within the output's own rounding (2e-3 f16, 8e-3 bf16, as the f16 pools' test); then {@link GpuDecoderRunner}
 * with an FP8 cache against the CPU {@link DecoderRunner} with the same FP8 format: greedy tokens equal, at batch 1
 * and 3 and under in-flight batching. Small configurations: the emulation is slow.
 */
@Tag("gpu")
class KvCacheFp8GpuTest {
    private static final long SEED = 3;
    private static final int[] LENGTHS = {0, 1, 17, 150};

    @Test void appendAndAttentionMatchTheCpuFp8Cache() {
        KernelCompiler kc = GpuTestSupport.compiler();
        for (DType t : new DType[] {DType.F16, DType.BF16}) oneConfig(kc, t, 8, 2, 64, 16);
        oneConfig(kc, DType.F16, 4, 4, 16, 8); // head size 16: one lane holds a whole row of 16 codes
    }

    private static void oneConfig(KernelCompiler kc, DType t, int heads, int kvh, int hd, int bs) {
        String what = "FP8 KV " + t.text() + " H" + heads + "/" + kvh + " D" + hd + " bs" + bs;
        CudaStream s = CudaStream.DEFAULT;
        SplittableRandom r = new SplittableRandom(77 + hd + heads);
        int n = LENGTHS.length, total = 0;
        for (int len : LENGTHS) total += (len + bs - 1) / bs;
        float ks = 0.004f, vs = 0.0031f; // |k| up to ~2.5: 2.5 / 0.004 > 448 saturates a few
        PagedKvCache cpu = new PagedKvCache(1, kvh, hd, bs, total + 3, KvCacheFormat.fp8(new float[] {ks}, new float[] {vs}));
        List<String> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) seqs.add("s" + i);
        for (String seq : seqs) cpu.reserve(seq, 0);
        for (int at = 0; at < 150; at += bs)
            for (int i = 0; i < n; i++)
                if (at < LENGTHS[i]) cpu.reserve(seqs.get(i), Math.min(at + bs, LENGTHS[i]));
        int tokens = 0;
        for (int len : LENGTHS) tokens += len;
        float[] kNew = new float[tokens * kvh * hd], vNew = new float[kNew.length];
        int[] slots = new int[tokens];
        int tok = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < LENGTHS[i]; p++, tok++) {
                float[][] k = new float[1][kvh * hd], v = new float[1][kvh * hd];
                for (int e = 0; e < kvh * hd; e++) {
                    k[0][e] = PagedAttentionGpuTest.round(t, 0.8 * r.nextGaussian());
                    v[0][e] = PagedAttentionGpuTest.round(t, 0.5 + 0.4 * r.nextGaussian());
                }
                if (p == 3) k[0][0] = PagedAttentionGpuTest.round(t, 3.0); // beyond 448 * ks: saturates
                System.arraycopy(k[0], 0, kNew, tok * kvh * hd, kvh * hd);
                System.arraycopy(v[0], 0, vNew, tok * kvh * hd, kvh * hd);
                slots[tok] = cpu.allocator().nextSlot(seqs.get(i));
                cpu.append(seqs.get(i), k, v);
            }
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(t, DType.F8E4M3, heads, kvh, hd, bs, cpu.numBlocks());
        assertEquals(cpu.numBlocks() * (long) kvh * bs * hd, c.poolBytes(), "one byte an element");
        float[] q = new float[n * heads * hd];
        for (int i = 0; i < q.length; i++) q[i] = PagedAttentionGpuTest.round(t, 1.5 * r.nextGaussian());
        float[] want = new float[q.length];
        for (int i = 0; i < n; i++)
            System.arraycopy(PagedAttention.decode(cpu, seqs.get(i), 0, java.util.Arrays.copyOfRange(q, i * heads * hd, (i + 1) * heads * hd), heads), 0, want, i * heads * hd,
                    heads * hd);
        List<List<Integer>> tables = new ArrayList<>();
        for (String seq : seqs) tables.add(cpu.blockTable(seq));
        int maxBlocks = PagedAttentionKernel.maxBlocks(tables);
        int[] packed = PagedAttentionKernel.packBlockTables(tables, maxBlocks);
        try (DeviceBuffer dk = DeviceBuffer.allocate(c.poolBytes()); DeviceBuffer dv = DeviceBuffer.allocate(c.poolBytes());
             DeviceBuffer kn = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, kNew)); DeviceBuffer vn = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, vNew));
             DeviceBuffer ds = DeviceBuffer.allocate(4L * tokens); DeviceBuffer dq = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, q));
             DeviceBuffer dt = DeviceBuffer.allocate(4L * packed.length); DeviceBuffer dl = DeviceBuffer.allocate(4L * n)) {
            dk.fill((byte) 0);
            dv.fill((byte) 0);
            ds.copyFrom(slots);
            dt.copyFrom(packed);
            dl.copyFrom(LENGTHS);
            long row = (long) kvh * hd;
            PagedAttentionKernel.append(kc, c, tokens, kn, row, vn, row, ds, dk, dv, ks, vs, s);
            byte[] gk = new byte[(int) c.poolBytes()], gv = new byte[gk.length];
            dk.copyTo(gk);
            dv.copyTo(gv);
            assertArrayEquals(cpu.keyCodes(0), gk, what + ": K codes bit for bit");
            assertArrayEquals(cpu.valueCodes(0), gv, what + ": V codes bit for bit");
            int sat = 0;
            for (byte b : gk) if ((b & 0x7f) == 0x7e) sat++;
            assertTrue(sat > 0, what + ": saturated codes written");

            int hpb = c.headsPerBlock();
            for (PagedAttentionKernel.Plan p : List.of(PagedAttentionKernel.plan(c, n, 150, kc.context().device().smCount()),
                    new PagedAttentionKernel.Plan(n, heads, hd, hpb, 64, 3))) {
                try (DeviceBuffer out = GpuTestSupport.poisoned(t, q.length); DeviceBuffer ws = DeviceBuffer.allocate(Math.max(1, p.workspaceBytes()))) {
                    PagedAttentionKernel.decode(kc, c, p, dq, dk, dv, ks, vs, dt, dl, maxBlocks, out, p.split() ? ws : null, s);
                    PagedAttentionGpuTest.compare(what + " decode (partition " + p.partitionSize() + " x" + p.partitions() + ")", t,
                            HostTensors.download(out, t, Shape.of(n, heads, hd)), Tensor.ofFloats(Shape.of(n, heads, hd), want));
                }
            }
            // the prefill kernel with one new token per sequence, its last (already appended): the same attention
            int[] last = new int[n];
            for (int i = 0; i < n; i++) {
                int len = LENGTHS[i];
                last[i] = len == 0 ? -1 : cpu.blockTable(seqs.get(i)).get((len - 1) / bs) * bs + (len - 1) % bs;
            }
            try (DeviceBuffer dslot = DeviceBuffer.allocate(4L * n); DeviceBuffer out = GpuTestSupport.poisoned(t, q.length)) {
                dslot.copyFrom(last);
                PagedAttentionKernel.prefill(kc, c, n, 1, dq, dk, dv, ks, vs, dt, dslot, dl, maxBlocks, out, s);
                PagedAttentionGpuTest.compare(what + " prefill", t, HostTensors.download(out, t, Shape.of(n, heads, hd)), Tensor.ofFloats(Shape.of(n, heads, hd), want));
            }
            int all = tokens;
            var e = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.append(kc, c, all, kn, row, vn, row, ds, dk, dv, 0f, vs, s));
            assertTrue(e.getMessage().contains("FP8 pools need positive finite K and V scales"), e.getMessage());
        }
    }

    private static KvCacheFormat format() { return KvCacheFormat.fp8(new float[] {0.02f, 0.025f}, new float[] {0.01f, 0.012f}); }

    /**
     * Batch 3, the GPU (FP16 engines, FP8 pools) and the CPU (f32 engines, FP8 cache) fed the same tokens (the CPU's
     * greedy ones) for 5 steps: logits within 0.25 max abs (measured 0.14, a third of the FP8 cache's own error against
     * f32 in KvCacheFp8Test: the FP16 engines' keys differ from the CPU's by f16 rounding, and wherever that moves a key
     * across an E4M3 rounding boundary the stored code differs by a whole E4M3 step, 1/16 of the value), and the same greedy
     * token wherever the CPU's top-2 margin exceeds twice that step's error; then in-flight batching gives every request
     * the CPU scheduler's tokens.
     */
    @Test void gpuRunnerWithAnFp8CacheGivesTheCpuFp8RunnersTokens() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        DecoderRunner cpu = new DecoderRunner(model, Zoo.decoder(model, 0), SEED).withKvCache(format());
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
        int steps = 5;
        try (GpuDecoderRunner gpu = new GpuDecoderRunner(model, Zoo.decoder(model, 0), SEED, ctx, GpuEngine.Precision.FP16, GpuDecoderRunnerGpuTest.planner(), true, format());
             GpuPagedKvCache cache = gpu.newCache(4, 64)) {
            assertEquals(DType.F8E4M3, cache.config().kvDtype());
            assertEquals(cache.config().poolBytes(), 64L * 4 * Zoo.decoder(model, 0).kvHeads() * Zoo.decoder(model, 0).headDim(), "one byte an element");
            PagedKvCache cpuCache = cpu.newCache(4, 64);
            List<DecoderRunner.Row> rows = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) rows.add(new DecoderRunner.Row("s" + i, prompts[i]));
            double worst = 0;
            int decisive = 0, agree = 0;
            for (int k = 0; k < steps; k++) {
                List<float[]> want = cpu.step(rows, cpuCache), got = gpu.step(rows, cache);
                rows = new ArrayList<>();
                for (int i = 0; i < prompts.length; i++) {
                    float[] w = want.get(i), g = got.get(i);
                    double err = 0;
                    for (int v = 0; v < w.length; v++) err = Math.max(err, Math.abs(w[v] - g[v]));
                    worst = Math.max(worst, err);
                    float[] sorted = w.clone();
                    java.util.Arrays.sort(sorted);
                    long tw = Sampler.greedy().next(w), tg = Sampler.greedy().next(g);
                    if (sorted[sorted.length - 1] - sorted[sorted.length - 2] > 2 * err) {
                        decisive++;
                        assertEquals(tw, tg, "step " + k + ", row " + i + ": decisive margin, error " + err);
                    }
                    if (tw == tg) agree++;
                    rows.add(new DecoderRunner.Row("s" + i, new long[] {tw}));
                }
            }
            System.out.printf("GPU FP16 + FP8 KV vs CPU f32 + FP8 KV: max abs logit error %.4g, greedy agreement %d/%d (%d decisive)%n", worst, agree, steps * prompts.length, decisive);
            assertTrue(worst < 0.25, "max abs logit error " + worst);
            assertTrue(decisive >= steps * prompts.length / 2, decisive + " decisive steps");
            for (int i = 0; i < prompts.length; i++) cache.free("s" + i);
            List<Request> requests = List.of(
                    new Request("a", new long[] {5, 6, 7, 8, 9, 10}, 4, 0, Sampler.greedy()),
                    new Request("b", new long[] {300, 301}, 3, 0, Sampler.greedy()),
                    new Request("c", new long[] {42, 43, 44}, 2, 0, Sampler.greedy()));
            var cpuRun = new BatchScheduler(cpu, cpu.newCache(4, 24), BatchScheduler.Policy.IN_FLIGHT, 2, 4).run(requests);
            var gpuRun = new BatchScheduler(gpu, cache, BatchScheduler.Policy.IN_FLIGHT, 2, 4).run(requests);
            for (int i = 0; i < requests.size(); i++)
                assertArrayEquals(cpuRun.outcomes().get(i).output(), gpuRun.outcomes().get(i).output(), "in-flight request " + requests.get(i).id());
            assertEquals(cache.numBlocks(), cache.freeBlocks());
        }
        try (GpuDecoderRunner plain = GpuDecoderRunnerGpuTest.gpuRunner(model, ctx); GpuDecoderRunner fp8 = new GpuDecoderRunner(model, Zoo.decoder(model, 0), SEED, ctx,
                GpuEngine.Precision.FP16, GpuDecoderRunnerGpuTest.planner(), true, format()); GpuPagedKvCache wrong = plain.newCache(4, 8)) {
            var e = assertThrows(IllegalArgumentException.class, () -> fp8.step(List.of(new DecoderRunner.Row("x", new long[] {1})), wrong));
            assertTrue(e.getMessage().contains("make it with newCache"), e.getMessage());
        }
    }
}
