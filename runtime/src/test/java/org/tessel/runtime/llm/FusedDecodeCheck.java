package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * One decode step through {@link PagedAttentionKernel#appendAndDecode} (the append fused into the attention kernel)
 * checked three ways, for the emulated-device test and the GPU test alike. The pools hold every cached token (written by
 * the append kernel) and NaN everywhere else, the new tokens' slots included, so a kernel that read the new token from
 * the pool, which it cannot see written, gives NaN. Rows: new tokens at context lengths 1, 17, 64 (the last token of a
 * 64-token partition), 65 (the first of the next), 150 (the third partition), a padding row (slot -1) of 20 cached tokens
 * whose new rows hold 7.0 (neither written nor read: its position 19 comes from the pool) and an empty padding row; the
 * new rows {@code row + 8} elements apart. Under the planner's plan, 64- and 128-token partitions (split, with the
 * reduction) and one 512-token partition: (1) output and both pools bit for bit those of {@link PagedAttentionKernel#append} then
 * {@link PagedAttentionKernel#decode}; (2) the pools equal what they held before except at the new slots, which hold
 * the CPU {@link PagedKvCache}'s values (FP8: its E4M3 codes); (3) the output within the f16 (2e-3) or bf16 (8e-3) bound
 * of {@link PagedAttention#decode} on the CPU cache, new tokens included.
 */
final class FusedDecodeCheck {
    private FusedDecodeCheck() {}

    static final int[] LENGTHS = {1, 17, 64, 65, 150, 20, 0};
    /** Rows without a new token (slot -1): the padding row of 20 cached tokens and the empty one. */
    static final boolean[] PADDING = {false, false, false, false, false, true, true};

    /** Runs the checks for q/out type {@code t}, pools of {@code kv} (t or f8e4m3), heads / kvh of size hd, blocks of bs; returns a summary line. */
    static String check(KernelCompiler kc, DType t, DType kv, int heads, int kvh, int hd, int bs) {
        boolean fp8 = kv == DType.F8E4M3;
        String what = "fused append+decode " + t.text() + (fp8 ? " kv f8e4m3" : "") + " H" + heads + "/" + kvh + " D" + hd + " bs" + bs;
        CudaStream s = CudaStream.DEFAULT;
        SplittableRandom r = new SplittableRandom(31 + heads + hd + bs + (fp8 ? 7 : 0) + (t == DType.BF16 ? 3 : 0));
        int n = LENGTHS.length, total = 0, row = kvh * hd, ld = row + 8;
        for (int len : LENGTHS) total += (len + bs - 1) / bs;
        float ks = 0.004f, vs = 0.0031f; // |k| up to ~3: some saturate at 448 * ks
        PagedKvCache cpu = fp8 ? new PagedKvCache(1, kvh, hd, bs, total + 3, KvCacheFormat.fp8(new float[] {ks}, new float[] {vs}))
                : new PagedKvCache(1, kvh, hd, bs, total + 3);
        List<String> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) seqs.add("s" + i);
        for (String seq : seqs) cpu.reserve(seq, 0);
        for (int at = 0; at < 150; at += bs) // a block at a time, round robin: scattered tables
            for (int i = 0; i < n; i++)
                if (at < LENGTHS[i]) cpu.reserve(seqs.get(i), Math.min(at + bs, LENGTHS[i]));
        List<Float> cachedK = new ArrayList<>(), cachedV = new ArrayList<>();
        List<Integer> cachedSlots = new ArrayList<>();
        float[] kNew = new float[n * ld], vNew = new float[n * ld];
        Arrays.fill(kNew, 7f);
        Arrays.fill(vNew, 7f);
        int[] slots = new int[n];
        for (int i = 0; i < n; i++) {
            slots[i] = -1;
            for (int p = 0; p < LENGTHS[i]; p++) {
                float[][] k = new float[1][row], v = new float[1][row];
                for (int e = 0; e < row; e++) {
                    k[0][e] = PagedAttentionGpuTest.round(t, 0.8 * r.nextGaussian());
                    v[0][e] = PagedAttentionGpuTest.round(t, 0.5 + 0.4 * r.nextGaussian());
                }
                if (p == LENGTHS[i] - 1 && fp8) k[0][1] = PagedAttentionGpuTest.round(t, -3.0); // the new key saturates
                int slot = cpu.allocator().nextSlot(seqs.get(i));
                if (p == LENGTHS[i] - 1 && !PADDING[i]) {
                    slots[i] = slot;
                    System.arraycopy(k[0], 0, kNew, i * ld, row);
                    System.arraycopy(v[0], 0, vNew, i * ld, row);
                } else {
                    for (int e = 0; e < row; e++) {
                        cachedK.add(k[0][e]);
                        cachedV.add(v[0][e]);
                    }
                    cachedSlots.add(slot);
                }
                cpu.append(seqs.get(i), k, v);
            }
        }
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(t, kv, heads, kvh, hd, bs, cpu.numBlocks());
        assertTrue(c.group() / c.headsPerBlock() > 1, what + ": several head groups share a KV head");
        PagedAttentionKernel.validateSlots(c, slots);
        float sk = fp8 ? ks : 1f, sv = fp8 ? vs : 1f;
        float[] q = new float[n * heads * hd];
        for (int i = 0; i < q.length; i++) q[i] = PagedAttentionGpuTest.round(t, 1.5 * r.nextGaussian());
        float[] want = new float[q.length];
        for (int i = 0; i < n; i++)
            System.arraycopy(PagedAttention.decode(cpu, seqs.get(i), 0, Arrays.copyOfRange(q, i * heads * hd, (i + 1) * heads * hd), heads), 0, want, i * heads * hd, heads * hd);
        List<List<Integer>> tables = new ArrayList<>();
        for (String seq : seqs) tables.add(cpu.blockTable(seq));
        int maxBlocks = PagedAttentionKernel.maxBlocks(tables);
        int[] packed = PagedAttentionKernel.packBlockTables(tables, maxBlocks);
        PagedAttentionKernel.validate(c, LENGTHS, packed, maxBlocks);
        int cached = cachedSlots.size(), hpb = c.headsPerBlock();
        float[] ck = new float[cached * row], cv = new float[cached * row];
        for (int i = 0; i < ck.length; i++) { ck[i] = cachedK.get(i); cv[i] = cachedV.get(i); }
        int pb = (int) c.poolBytes();
        byte[] before = new byte[pb], beforeV = new byte[pb];
        StringBuilder summary = new StringBuilder(what);
        try (DeviceBuffer dk = DeviceBuffer.allocate(pb); DeviceBuffer dv = DeviceBuffer.allocate(pb);
             DeviceBuffer ck16 = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, ck)); DeviceBuffer cv16 = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, cv));
             DeviceBuffer cs = DeviceBuffer.allocate(4L * cached); DeviceBuffer kn = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, kNew));
             DeviceBuffer vn = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, vNew)); DeviceBuffer ds = DeviceBuffer.allocate(4L * n);
             DeviceBuffer dq = DeviceBuffer.ofShorts(PagedAttentionGpuTest.bits(t, q)); DeviceBuffer dt = DeviceBuffer.allocate(4L * packed.length);
             DeviceBuffer dl = DeviceBuffer.allocate(4L * n)) {
            dk.fill((byte) 0xFF); // NaN in f16, bf16 and E4M3
            dv.fill((byte) 0xFF);
            cs.copyFrom(cachedSlots.stream().mapToInt(Integer::intValue).toArray());
            PagedAttentionKernel.append(kc, c, cached, ck16, row, cv16, row, cs, dk, dv, sk, sv, s);
            dk.copyTo(before);
            dv.copyTo(beforeV);
            ds.copyFrom(slots);
            dt.copyFrom(packed);
            dl.copyFrom(LENGTHS);
            byte[] wantK = withNewSlots(before, cpu, false, slots, c), wantV = withNewSlots(beforeV, cpu, true, slots, c);
            for (PagedAttentionKernel.Plan p : List.of(PagedAttentionKernel.plan(c, n, 150, kc.context().device().smCount()),
                    new PagedAttentionKernel.Plan(n, heads, hd, hpb, 64, 3), new PagedAttentionKernel.Plan(n, heads, hd, hpb, 128, 2),
                    new PagedAttentionKernel.Plan(n, heads, hd, hpb, 512, 1))) {
                String how = what + " partition " + p.partitionSize() + " x" + p.partitions();
                try (DeviceBuffer out = GpuTestSupport.poisoned(t, q.length); DeviceBuffer out2 = GpuTestSupport.poisoned(t, q.length);
                     DeviceBuffer ws = DeviceBuffer.allocate(Math.max(1, p.workspaceBytes()))) {
                    dk.copyFrom(before);
                    dv.copyFrom(beforeV);
                    PagedAttentionKernel.appendAndDecode(kc, c, p, dq, kn, ld, vn, ld, ds, dk, dv, sk, sv, dt, dl, maxBlocks, out, p.split() ? ws : null, s);
                    byte[] fusedK = new byte[pb], fusedV = new byte[pb];
                    dk.copyTo(fusedK);
                    dv.copyTo(fusedV);
                    assertArrayEquals(wantK, fusedK, how + ": the K pool holds the new keys at their slots and nothing else changed");
                    assertArrayEquals(wantV, fusedV, how + ": the V pool holds the new values at their slots and nothing else changed");
                    Tensor got = HostTensors.download(out, t, Shape.of(n, heads, hd));
                    PagedAttentionGpuTest.compare(how, t, got, Tensor.ofFloats(Shape.of(n, heads, hd), want));
                    // the two launches on the same pools: the same bits
                    dk.copyFrom(before);
                    dv.copyFrom(beforeV);
                    PagedAttentionKernel.append(kc, c, n, kn, ld, vn, ld, ds, dk, dv, sk, sv, s);
                    PagedAttentionKernel.decode(kc, c, p, dq, dk, dv, sk, sv, dt, dl, maxBlocks, out2, p.split() ? ws : null, s);
                    byte[] twoK = new byte[pb], twoV = new byte[pb];
                    dk.copyTo(twoK);
                    dv.copyTo(twoV);
                    assertArrayEquals(twoK, fusedK, how + ": K pool as append then decode leave it");
                    assertArrayEquals(twoV, fusedV, how + ": V pool as append then decode leave it");
                    short[] a = new short[q.length], b = new short[q.length];
                    out.copyTo(a);
                    out2.copyTo(b);
                    assertArrayEquals(b, a, how + ": output bit for bit that of append then decode");
                    GpuTestSupport.Error e = GpuTestSupport.error(got, Tensor.ofFloats(Shape.of(n, heads, hd), want));
                    summary.append(String.format("; %d x%d max abs err %.2e", p.partitionSize(), p.partitions(), e.maxAbs()));
                }
            }
            // the fused launch checks its new rows before launching
            var ex = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.appendAndDecode(kc, c,
                    new PagedAttentionKernel.Plan(n, heads, hd, hpb, 512, 1), dq, kn, row + 4, vn, ld, ds, dk, dv, sk, sv, dt, dl, maxBlocks, dq, null, s));
            assertEquals("tessel.paged_attention (fused append): row strides " + (row + 4) + " and " + ld + " must be multiples of 8 of at least " + row, ex.getMessage());
        }
        return summary.toString();
    }

    /** A pool's bytes before the step with each new slot's rows replaced by the CPU cache's (its f16/bf16 bits, or its E4M3 codes). */
    private static byte[] withNewSlots(byte[] before, PagedKvCache cpu, boolean value, int[] slots, PagedAttentionKernel.Config c) {
        byte[] want = before.clone();
        int bs = c.blockSize(), hd = c.headDim(), eb = c.kvDtype().bytes();
        byte[] codes = c.fp8() ? (value ? cpu.valueCodes(0) : cpu.keyCodes(0)) : null;
        short[] bits = c.fp8() ? null : PagedAttentionGpuTest.bits(c.dtype(), value ? cpu.values(0) : cpu.keys(0));
        for (int slot : slots) {
            if (slot < 0) continue;
            for (int h = 0; h < c.kvHeads(); h++) {
                int at = cpu.offset(slot / bs, h, slot % bs);
                for (int d = 0; d < hd; d++) {
                    if (codes != null) want[at + d] = codes[at + d];
                    else {
                        want[(at + d) * eb] = (byte) bits[at + d];
                        want[(at + d) * eb + 1] = (byte) (bits[at + d] >> 8);
                    }
                }
            }
        }
        return want;
    }
}
