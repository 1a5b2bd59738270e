package org.tessel.runtime.llm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * {@code tessel.paged_prefill} (query tiles of 32 new tokens, or 16 at head size 256, walking key tiles once for the tile)
 * against causal attention computed on the host in double precision from the same stored values: chunks longer than
 * one query tile after a cached past (keys spanning many tiles and scattered blocks), a chunk padded after its real
 * tokens (padding outputs 0), a chunk with no past, grouped-query heads, f16 and bf16, head sizes 64, 128 and 256.
 */
@Tag("gpu")
class PagedPrefillGpuTest {
    /** Per row: tokens cached before the step, real new tokens (the step's chunk is the longest row's, padded). */
    static final int[][] ROWS = {{150, 70}, {0, 80}, {33, 5}};

    @Test void chunksAttendCausallyOverTheirPagedPast() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (DType t : new DType[] {DType.F16, DType.BF16})
            for (int hd : new int[] {64, 128})
                checks.check("prefill " + t.text() + " D" + hd, () -> oneConfig(kc, PagedAttentionKernel.PrefillForm.TILED, t, 8, 2, hd, 16));
        checks.check("prefill f16 D256", () -> oneConfig(kc, PagedAttentionKernel.PrefillForm.TILED, DType.F16, 4, 2, 256, 16));
        checks.done();
    }

    /**
     * The tensor-core form ({@code tessel.attention.paged/mma}, paged_prefill_mma.cu: query tiles of 64, key tiles of 64
     * through the block table) against the same host reference and bounds: head sizes 16, 64 (two copy stages) and 128
     * (one), blocks of 16 and 8; bf16 refused naming why.
     */
    @Test void theTensorCoreFormAttendsAsTheHostDoes() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (int hd : new int[] {16, 64, 128})
            checks.check("prefill mma f16 D" + hd, () -> oneConfig(kc, PagedAttentionKernel.PrefillForm.MMA, DType.F16, 8, 2, hd, 16));
        checks.check("prefill mma f16 D64 blocks of 8", () -> oneConfig(kc, PagedAttentionKernel.PrefillForm.MMA, DType.F16, 4, 4, 64, 8));
        checks.check("prefill mma bf16 refused", () -> {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> oneConfig(kc, PagedAttentionKernel.PrefillForm.MMA, DType.BF16, 8, 2, 64, 16));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("f16"), e.getMessage());
        });
        checks.done();
    }

    static void oneConfig(KernelCompiler kc, PagedAttentionKernel.PrefillForm form, DType t, int heads, int kvh, int hd, int bs) {
        SplittableRandom r = new SplittableRandom(11 + hd);
        int batch = ROWS.length, n = 0, blocksUsed = 0;
        for (int[] row : ROWS) {
            n = Math.max(n, row[1]);
            blocksUsed += (row[0] + row[1] + bs - 1) / bs;
        }
        int numBlocks = blocksUsed + 5;
        List<Integer> free = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) free.add(i);
        Collections.shuffle(free, new java.util.Random(5)); // scattered blocks
        int maxBlocks = 0;
        List<int[]> tables = new ArrayList<>();
        for (int[] row : ROWS) {
            int[] tb = new int[(row[0] + row[1] + bs - 1) / bs];
            for (int j = 0; j < tb.length; j++) tb[j] = free.removeFirst();
            tables.add(tb);
            maxBlocks = Math.max(maxBlocks, tb.length);
        }
        float[] kPool = new float[numBlocks * kvh * bs * hd], vPool = new float[kPool.length];
        for (int i = 0; i < kPool.length; i++) {
            kPool[i] = PagedAttentionGpuTest.round(t, 0.9 * r.nextGaussian());
            vPool[i] = PagedAttentionGpuTest.round(t, 0.3 + 0.5 * r.nextGaussian());
        }
        float[] q = new float[batch * n * heads * hd];
        for (int i = 0; i < q.length; i++) q[i] = PagedAttentionGpuTest.round(t, 1.2 * r.nextGaussian());
        int[] packed = new int[batch * maxBlocks], slots = new int[batch * n], lens = new int[batch];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(tables.get(b), 0, packed, b * maxBlocks, tables.get(b).length);
            lens[b] = ROWS[b][0] + ROWS[b][1];
            for (int i = 0; i < n; i++) {
                int p = ROWS[b][0] + i;
                slots[b * n + i] = i < ROWS[b][1] ? tables.get(b)[p / bs] * bs + p % bs : -1;
            }
        }
        // the host's causal attention, in double, over the values as stored
        float[] want = new float[q.length];
        double scale = 1 / Math.sqrt(hd);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < ROWS[b][1]; i++)
                for (int h = 0; h < heads; h++) {
                    int g = h / (heads / kvh), pos = ROWS[b][0] + i;
                    int qo = ((b * n + i) * heads + h) * hd;
                    double[] s = new double[pos + 1];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k <= pos; k++) {
                        int ko = ((tables.get(b)[k / bs] * kvh + g) * bs + k % bs) * hd;
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += (double) q[qo + d] * kPool[ko + d];
                        s[k] = dot * scale;
                        mx = Math.max(mx, s[k]);
                    }
                    double sum = 0;
                    for (int k = 0; k <= pos; k++) sum += s[k] = Math.exp(s[k] - mx);
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int k = 0; k <= pos; k++) acc += s[k] * vPool[((tables.get(b)[k / bs] * kvh + g) * bs + k % bs) * hd + d];
                        want[qo + d] = (float) (acc / sum);
                    }
                }
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(t, heads, kvh, hd, bs, numBlocks);
        try (DeviceBuffer dk = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, kPool)); DeviceBuffer dv = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, vPool));
             DeviceBuffer dq = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, q)); DeviceBuffer dt = DeviceBuffer.allocate(4L * packed.length);
             DeviceBuffer ds = DeviceBuffer.allocate(4L * slots.length); DeviceBuffer dl = DeviceBuffer.allocate(4L * batch);
             DeviceBuffer out = GpuTestSupport.poisoned(t, q.length)) {
            dt.copyFrom(packed);
            ds.copyFrom(slots);
            dl.copyFrom(lens);
            PagedAttentionKernel.prefill(kc, c, form, batch, n, dq, dk, dv, 1f, 1f, dt, ds, dl, maxBlocks, out, CudaStream.DEFAULT);
            Shape shape = Shape.of(batch, n, heads, hd);
            PagedAttentionGpuTest.compare("paged prefill " + form.variant + " " + t.text() + " H" + heads + "/" + kvh + " D" + hd, t, HostTensors.download(out, t, shape), Tensor.ofFloats(shape, want));
        }
        // the same rows packed (each row's real tokens after the last's, 7 padding tokens at the end, then a row feeding
        // none): the same outputs at the packed positions, zeros for the padding
        int real = 0;
        for (int[] row : ROWS) real += row[1];
        int tokens = real + 7, rows = batch + 1, row = heads * hd;
        float[] pq = new float[tokens * row], pwant = new float[tokens * row];
        int[] pslots = new int[tokens], starts = new int[rows + 1], ptables = new int[rows * maxBlocks], plens = new int[rows];
        java.util.Arrays.fill(pslots, -1);
        System.arraycopy(packed, 0, ptables, 0, packed.length);
        System.arraycopy(lens, 0, plens, 0, batch);
        for (int b = 0, at = 0; b < batch; b++) {
            starts[b] = at;
            for (int i = 0; i < ROWS[b][1]; i++, at++) {
                System.arraycopy(q, (b * n + i) * row, pq, at * row, row);
                System.arraycopy(want, (b * n + i) * row, pwant, at * row, row);
                pslots[at] = slots[b * n + i];
            }
            starts[b + 1] = at;
        }
        starts[rows] = real;
        try (DeviceBuffer dk = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, kPool)); DeviceBuffer dv = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, vPool));
             DeviceBuffer dq = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, pq)); DeviceBuffer dt = DeviceBuffer.allocate(4L * ptables.length);
             DeviceBuffer ds = DeviceBuffer.allocate(4L * tokens); DeviceBuffer dl = DeviceBuffer.allocate(4L * rows); DeviceBuffer dst = DeviceBuffer.allocate(4L * (rows + 1));
             DeviceBuffer out = GpuTestSupport.poisoned(t, pq.length)) {
            dt.copyFrom(ptables);
            ds.copyFrom(pslots);
            dl.copyFrom(plens);
            dst.copyFrom(starts);
            PagedAttentionKernel.prefillPacked(kc, c, form, rows, tokens, dst, dq, dk, dv, 1f, 1f, dt, ds, dl, maxBlocks, out, CudaStream.DEFAULT);
            Shape shape = Shape.of(tokens, heads, hd);
            PagedAttentionGpuTest.compare("packed paged prefill " + form.variant + " " + t.text() + " H" + heads + "/" + kvh + " D" + hd, t, HostTensors.download(out, t, shape),
                    Tensor.ofFloats(shape, pwant));
        }
    }
}
