package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * {@code tessel.paged_attention} and {@code tessel.paged_kv_append} against the CPU reference
 * {@link PagedAttention#decode} on a {@link PagedKvCache} holding the same (rounded) keys and values
 * with scattered block tables: contexts 0, 1, 17, 300 and 4097 in one batch, block sizes 16 and 32,
 * 32 heads / 8 KV heads, 12 / 12 and 32 / 4 (TinyLlama's group of 8: eight heads per block), head sizes 64 and 128, f16 and bf16, under the planner's
 * partitioning, forced 64- and 512-token partitions (split, with the reduction kernel) and one
 * partition (short contexts). Bound: max abs error 2e-3 (f16) and 8e-3 (bf16, whose output rounding
 * alone is up to 3.9e-3 at |out| < 2) on outputs of magnitude up to ~1.5 (V has a per-dimension bias in
 * [-1, 1] so long contexts do not average to 0), plus GpuTestSupport's relative L2 bound.
 * Then {@link GpuPagedKvCache} over 40 decode steps with sequences joining and leaving: the append
 * kernel's slots bit for bit (every other slot keeps its poison) and attention equal to the CPU cache's. Then the
 * decode step's append fused into the attention kernel ({@link FusedDecodeCheck}).
 */
@Tag("gpu")
class PagedAttentionGpuTest {
    static final int[] LENGTHS = {0, 1, 17, 300, 4097};

    static double bound(DType t) { return t == DType.F16 ? 2e-3 : 8e-3; }

    static float round(DType t, double v) {
        return t == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16((float) v)) : Float.intBitsToFloat((HostTensors.toBf16(new float[] {(float) v})[0] & 0xFFFF) << 16);
    }

    static short[] bits(DType t, float[] v) { return t == DType.F16 ? HostTensors.toF16(v) : HostTensors.toBf16(v); }

    @Test void decodeMatchesTheCpuReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        CudaStream s = CudaStream.DEFAULT;
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        int sms = kc.context().device().smCount();
        for (DType t : new DType[] {DType.F16, DType.BF16})
            for (int[] hk : new int[][] {{32, 8}, {12, 12}, {32, 4}})
                for (int hd : new int[] {64, 128})
                    for (int bs : new int[] {16, 32}) {
                        int heads = hk[0], kvh = hk[1];
                        String what = "tessel.paged_attention " + t.text() + " H" + heads + "/" + kvh + " D" + hd + " bs" + bs;
                        checks.check(what, () -> oneConfig(kc, s, sms, t, heads, kvh, hd, bs, what));
                    }
        checks.done();
    }

    private static void oneConfig(KernelCompiler kc, CudaStream s, int sms, DType t, int heads, int kvh, int hd, int bs, String what) {
        SplittableRandom r = new SplittableRandom(1400 + heads * 7 + hd + bs + (t == DType.BF16 ? 1 : 0));
        int n = LENGTHS.length, total = 0;
        for (int len : LENGTHS) total += (len + bs - 1) / bs;
        PagedKvCache cpu = new PagedKvCache(1, kvh, hd, bs, total + 8);
        List<String> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) seqs.add("s" + i);
        // reserve a block at a time, round robin, so every table is scattered through the pool
        for (int i = 0; i < n; i++) cpu.reserve(seqs.get(i), 0);
        for (int at = 0; at < 4097; at += bs)
            for (int i = 0; i < n; i++)
                if (at < LENGTHS[i]) cpu.reserve(seqs.get(i), Math.min(at + bs, LENGTHS[i])); // nothing appended yet: the total so far
        float[] bias = new float[kvh * hd];
        for (int i = 0; i < bias.length; i++) bias[i] = (float) (2 * r.nextDouble() - 1);
        for (int i = 0; i < n; i++)
            for (int p = 0; p < LENGTHS[i]; p++) {
                float[][] k = new float[1][kvh * hd], v = new float[1][kvh * hd];
                for (int e = 0; e < kvh * hd; e++) {
                    k[0][e] = round(t, 2 * r.nextDouble() - 1);
                    v[0][e] = round(t, bias[e] + 0.5 * (2 * r.nextDouble() - 1));
                }
                cpu.append(seqs.get(i), k, v);
            }
        assertTrue(cpu.blockTable("s4").stream().anyMatch(b -> b < cpu.blockTable("s3").getLast()), "tables interleave");
        float[] q = new float[n * heads * hd];
        for (int i = 0; i < q.length; i++) q[i] = round(t, 1.5 * r.nextGaussian());
        float[] want = new float[q.length];
        for (int i = 0; i < n; i++) {
            float[] qi = java.util.Arrays.copyOfRange(q, i * heads * hd, (i + 1) * heads * hd);
            System.arraycopy(PagedAttention.decode(cpu, seqs.get(i), 0, qi, heads), 0, want, i * heads * hd, heads * hd);
        }
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(t, heads, kvh, hd, bs, cpu.numBlocks());
        List<List<Integer>> tables = new ArrayList<>();
        for (String seq : seqs) tables.add(cpu.blockTable(seq));
        int maxBlocks = PagedAttentionKernel.maxBlocks(tables);
        int[] packed = PagedAttentionKernel.packBlockTables(tables, maxBlocks);
        PagedAttentionKernel.validate(c, LENGTHS, packed, maxBlocks);
        int hpb = c.headsPerBlock();
        try (DeviceBuffer dk = DeviceBuffer.ofShorts(bits(t, cpu.keys(0))); DeviceBuffer dv = DeviceBuffer.ofShorts(bits(t, cpu.values(0)));
             DeviceBuffer dq = DeviceBuffer.ofShorts(bits(t, q)); DeviceBuffer dt = DeviceBuffer.allocate(4L * packed.length);
             DeviceBuffer dl = DeviceBuffer.allocate(4L * n)) {
            dt.copyFrom(packed);
            dl.copyFrom(LENGTHS);
            Map<String, PagedAttentionKernel.Plan> plans = new LinkedHashMap<>();
            plans.put("planned", PagedAttentionKernel.plan(c, n, 4097, sms));
            plans.put("p64", new PagedAttentionKernel.Plan(n, heads, hd, hpb, 64, (4097 + 63) / 64));
            plans.put("p512", new PagedAttentionKernel.Plan(n, heads, hd, hpb, 512, (4097 + 511) / 512));
            for (var e : plans.entrySet()) {
                PagedAttentionKernel.Plan p = e.getValue();
                try (DeviceBuffer out = GpuTestSupport.poisoned(t, q.length); DeviceBuffer ws = DeviceBuffer.allocate(Math.max(1, p.workspaceBytes()))) {
                    PagedAttentionKernel.decode(kc, c, p, dq, dk, dv, dt, dl, maxBlocks, out, ws, s);
                    compare(what + " " + e.getKey() + " (partition " + p.partitionSize() + " x" + p.partitions() + ")", t,
                            HostTensors.download(out, t, Shape.of(n, heads, hd)), Tensor.ofFloats(Shape.of(n, heads, hd), want));
                }
            }
            // the short sequences (0, 1, 17, 300 tokens) in one partition: no reduction kernel
            int shortN = n - 1;
            PagedAttentionKernel.Plan single = new PagedAttentionKernel.Plan(shortN, heads, hd, hpb, 512, 1);
            try (DeviceBuffer out = GpuTestSupport.poisoned(t, (long) shortN * heads * hd)) {
                PagedAttentionKernel.decode(kc, c, single, dq, dk, dv, dt, dl, maxBlocks, out, null, s);
                compare(what + " single partition, contexts <= 300", t, HostTensors.download(out, t, Shape.of(shortN, heads, hd)),
                        Tensor.ofFloats(Shape.of(shortN, heads, hd), java.util.Arrays.copyOf(want, shortN * heads * hd)));
            }
        }
    }

    /**
     * The decode step's append fused into the attention kernel ({@link FusedDecodeCheck}): f16, bf16 and FP8 pools (f16
     * and bf16 q), heads 18 / 2 and 32 / 2 (several thread blocks per KV head), head sizes 64 and 128, blocks of 16 and 7.
     */
    @Test void fusedAppendDecodeEqualsAppendThenDecode() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (DType t : new DType[] {DType.F16, DType.BF16})
            for (DType kv : new DType[] {t, DType.F8E4M3})
                for (int[] g : new int[][] {{18, 2, 64, 16}, {32, 2, 128, 7}})
                    checks.check("fused " + t.text() + " kv " + kv.text() + " H" + g[0] + "/" + g[1] + " D" + g[2] + " bs" + g[3],
                            () -> System.out.println(FusedDecodeCheck.check(kc, t, kv, g[0], g[1], g[2], g[3])));
        checks.done();
    }

    static void compare(String what, DType t, Tensor got, Tensor want) {
        GpuTestSupport.Error e = GpuTestSupport.assertClose(what, got, want, GpuTestSupport.tolerance(t));
        if (e.maxAbs() > bound(t)) throw new AssertionError(what + ": max abs error " + e.maxAbs() + " over the bound " + bound(t) + " (max |out| " + e.maxRef() + ")");
    }

    /**
     * 40 decode steps through {@link GpuPagedKvCache} (2 layers, f16 and bf16, 8 heads / 2 KV heads, head
     * size 64, blocks of 16) beside a CPU cache given the same tokens: sequences start at different steps,
     * one is freed at step 25 and a newcomer takes its blocks. Each step and layer: append, attention,
     * compared with the CPU reference; at the end both pools bit for bit at every written slot and
     * the poison (0xFFFF) everywhere else.
     */
    @Test void cacheAppendsExactlyAndAttendsLikeTheCpuCache() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (DType t : new DType[] {DType.F16, DType.BF16})
            checks.check("GpuPagedKvCache decode steps " + t.text(), () -> steps(kc, t));
        checks.done();
    }

    private static void steps(KernelCompiler kc, DType t) {
        int layers = 2, heads = 8, kvh = 2, hd = 64, bs = 16, blocks = 24, row = kvh * hd;
        SplittableRandom r = new SplittableRandom(14);
        CudaStream s = CudaStream.DEFAULT;
        PagedKvCache cpu = new PagedKvCache(layers, kvh, hd, bs, blocks);
        try (GpuPagedKvCache gpu = new GpuPagedKvCache(kc, t, layers, heads, kvh, hd, bs, blocks)) {
            for (int l = 0; l < layers; l++) { gpu.keys(l).fill((byte) 0xFF); gpu.values(l).fill((byte) 0xFF); }
            Set<Long> written = new HashSet<>(); // layer * slots + block * bs + slot
            List<String> live = new ArrayList<>(List.of("a"));
            double worst = 0;
            for (int step = 0; step < 40; step++) {
                if (step == 3) live.add("b");
                if (step == 10) live.add("c");
                if (step == 25) { live.remove("a"); cpu.free("a"); gpu.free("a"); live.add("d"); }
                GpuPagedKvCache.Step st = gpu.beginDecodeStep(live, s);
                int batch = live.size();
                float[][] k = new float[layers][batch * row], v = new float[layers][batch * row], q = new float[layers][batch * heads * hd];
                for (int l = 0; l < layers; l++) {
                    for (int i = 0; i < batch * row; i++) { k[l][i] = round(t, 2 * r.nextDouble() - 1); v[l][i] = round(t, 2 * r.nextDouble() - 1); }
                    for (int i = 0; i < q[l].length; i++) q[l][i] = round(t, 2 * r.nextGaussian());
                }
                for (int b = 0; b < batch; b++) {
                    String seq = live.get(b);
                    cpu.reserve(seq, 1);
                    float[][] kt = new float[layers][], vt = new float[layers][];
                    for (int l = 0; l < layers; l++) {
                        kt[l] = java.util.Arrays.copyOfRange(k[l], b * row, (b + 1) * row);
                        vt[l] = java.util.Arrays.copyOfRange(v[l], b * row, (b + 1) * row);
                        written.add((long) l * blocks * bs + st.slots()[b]);
                    }
                    cpu.append(seq, kt, vt);
                    assertEquals(cpu.blockTable(seq), gpu.blockTable(seq), "the same allocator decisions");
                    assertEquals(cpu.length(seq), st.contextLens()[b]);
                }
                for (int l = 0; l < layers; l++) {
                    try (DeviceBuffer dk = DeviceBuffer.ofShorts(bits(t, k[l])); DeviceBuffer dv = DeviceBuffer.ofShorts(bits(t, v[l]));
                         DeviceBuffer dq = DeviceBuffer.ofShorts(bits(t, q[l])); DeviceBuffer out = GpuTestSupport.poisoned(t, (long) batch * heads * hd)) {
                        gpu.append(st, l, dk, dv, s);
                        gpu.attention(st, l, dq, out, s);
                        float[] want = new float[batch * heads * hd];
                        for (int b = 0; b < batch; b++)
                            System.arraycopy(PagedAttention.decode(cpu, live.get(b), l, java.util.Arrays.copyOfRange(q[l], b * heads * hd, (b + 1) * heads * hd), heads),
                                    0, want, b * heads * hd, heads * hd);
                        GpuTestSupport.Error e = GpuTestSupport.error(HostTensors.download(out, t, Shape.of(batch, heads, hd)), Tensor.ofFloats(Shape.of(batch, heads, hd), want));
                        if (e.nonFinite() > 0 || e.maxAbs() > bound(t))
                            throw new AssertionError("step " + step + " layer " + l + ": max abs error " + e.maxAbs() + ", " + e.nonFinite() + " non-finite");
                        worst = Math.max(worst, e.maxAbs());
                    }
                }
                gpu.endDecodeStep(st);
            }
            assertEquals(cpu.liveTokens(), gpu.liveTokens());
            // the pools bit for bit: written slots equal the CPU cache's values, the rest still poisoned
            int mismatches = 0, poisonLost = 0;
            for (int l = 0; l < layers; l++)
                for (boolean value : new boolean[] {false, true}) {
                    short[] got = new short[(int) gpu.config().poolElements()];
                    (value ? gpu.values(l) : gpu.keys(l)).copyTo(got);
                    short[] want = bits(t, value ? cpu.values(l) : cpu.keys(l));
                    for (int blk = 0; blk < blocks; blk++)
                        for (int h = 0; h < kvh; h++)
                            for (int sl = 0; sl < bs; sl++)
                                for (int d = 0; d < hd; d++) {
                                    int i = cpu.offset(blk, h, sl) + d;
                                    if (written.contains((long) l * blocks * bs + blk * bs + sl)) mismatches += got[i] != want[i] ? 1 : 0;
                                    else poisonLost += got[i] != (short) 0xFFFF ? 1 : 0;
                                }
                }
            System.out.printf("RESULT|GpuPagedKvCache 40 steps %s|%s|-|%.3e|-|%.0e|%s%n", t.text(), t.text(), worst, bound(t),
                    mismatches == 0 && poisonLost == 0 ? "ok" : "FAIL " + mismatches + " slot mismatches, " + poisonLost + " untouched slots changed");
            assertEquals(0, mismatches, "appended values bit for bit");
            assertEquals(0, poisonLost, "slots never appended keep their poison");
            // refusals before launch: a context longer than the block table
            PagedAttentionKernel.Config c = gpu.config();
            var ex = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validate(c, new int[] {33}, new int[] {0, 1}, 2));
            assertTrue(ex.getMessage().contains("longer than its block table"), ex.getMessage());
        }
    }
}
