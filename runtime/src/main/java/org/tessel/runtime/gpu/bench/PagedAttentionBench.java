package org.tessel.runtime.gpu.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaGraph;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * Decode-step time and achieved memory bandwidth of {@code tessel.paged_attention} at a
 * llama-1b-like shape (32 query heads / 8 KV heads, head size 64, f16, blocks of 16 tokens) for
 * batch 1, 8, 64 and contexts 512, 4096, 16384 (every sequence of the batch that long).
 *
 * <p>Each sequence's blocks are a random subset of one 2 GiB pool pair filled with random values. The
 * time is the median over 20 replays of a CUDA graph of 20 decode steps (attention plus, when split,
 * the reduction), after 3 warm-up replays, by CUDA events; the 20 steps of a graph rotate over up
 * to 20 disjoint sets of block tables so consecutive steps read different memory (configurations
 * whose rotation still fits in the 50 MB L2 are marked: their bandwidth is partly L2's). Bytes
 * are the K and V rows read: batch x context x kvHeads x headDim x 2 bytes x 2. Each configuration is timed again with
 * every sequence's blocks laid out in order in the pool, as a contiguous cache holds them (the same kernel): the ratio
 * is what paging costs; {@code benchmarks/peers/attention_peer.py} times PyTorch's attention over a contiguous cache at
 * the same shapes. {@code ATTN|...} lines carry the figures for the GPU script. The peak is the
 * H200's HBM3e 4.8 TB/s ({@code --peak-gbs N} changes it). {@code --kv fp8} runs the FP8 E4M3 cache instead (pools of
 * random codes, one byte an element: half the bytes of f16 per step; scales 1/448).
 *
 * <p>{@code --sweep}: llama-1b's decode instead (32 query heads / 4 KV heads, head size 64, f16, blocks of 16), batch 1 at
 * contexts 128 to 1024, every partition size from 16 to 512 tokens timed the same way, beside the size
 * {@link PagedAttentionKernel#plan} picks (marked): where a single sequence's short context is latency-bound.
 *
 * <p>Run: {@code java -cp <runtime classpath> org.tessel.runtime.gpu.bench.PagedAttentionBench}.
 */
public final class PagedAttentionBench {
    private PagedAttentionBench() {}

    static final int HEADS = 32, KV_HEADS = 8, HEAD_DIM = 64, BLOCK_SIZE = 16, STEPS_PER_GRAPH = 20, REPLAYS = 20;
    static final int[] BATCHES = {1, 8, 64}, CONTEXTS = {512, 4096, 16384};
    static final long L2_BYTES = 50L << 20;

    /** One configuration's figures; {@code inOrderUs} the same step over blocks laid out in order (NaN: not timed). */
    record Row(int batch, int context, PagedAttentionKernel.Plan plan, double us, double launchUs, long bytes, boolean l2, double peakGbs, double inOrderUs) {
        double gbs() { return bytes / us / 1e3; }
    }

    public static void main(String[] args) {
        double peak = 4800;
        DType kv = DType.F16;
        if (java.util.Arrays.asList(args).contains("--sweep")) { sweep(); return; }
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--peak-gbs")) peak = Double.parseDouble(args[i + 1]);
            if (args[i].equals("--kv")) {
                if (!args[i + 1].equals("fp8") && !args[i + 1].equals("f16")) throw new IllegalArgumentException("--kv takes f16 or fp8, got " + args[i + 1]);
                kv = args[i + 1].equals("fp8") ? DType.F8E4M3 : DType.F16;
            }
        }
        Backend.Gpu gpu = gpuOrExit();
        CudaContext ctx = gpu.context();
        System.out.println("device: " + gpu.describe() + ", " + ctx.device().smCount() + " SMs");
        int maxBlocksPerSeq = CONTEXTS[CONTEXTS.length - 1] / BLOCK_SIZE;
        int numBlocks = BATCHES[BATCHES.length - 1] * maxBlocksPerSeq;
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(DType.F16, kv, HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE, numBlocks);
        List<Row> rows = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(14);
        long t0 = System.nanoTime();
        try (CudaStream s = CudaStream.create(); KernelCompiler kc = new KernelCompiler(ctx);
             DeviceBuffer kPool = DeviceBuffer.allocate(c.poolBytes()); DeviceBuffer vPool = DeviceBuffer.allocate(c.poolBytes())) {
            fillRandom(kPool, c.fp8(), r);
            fillRandom(vPool, c.fp8(), r);
            CudaStream.DEFAULT.synchronize(); // the fills run on the legacy stream, which s does not wait for
            for (int batch : BATCHES)
                for (int context : CONTEXTS) {
                    try {
                        Row paged = one(kc, s, c, kPool, vPool, batch, context, r, peak);
                        Row inOrder = one(kc, s, c, kPool, vPool, batch, context, r, peak, paged.plan(), true);
                        Row row = new Row(batch, context, paged.plan(), paged.us(), paged.launchUs(), paged.bytes(), paged.l2(), peak, inOrder.us());
                        rows.add(row);
                        System.out.printf("B%d ctx%d: %s partitions of %d, %d blocks: %.2f us per step (graph), %.2f us launched from Java, %.1f MB K/V, %.0f GB/s%s%n",
                                batch, context, row.plan().partitions(), row.plan().partitionSize(), row.plan().blocks(), row.us(), row.launchUs(), row.bytes() / 1e6, row.gbs(),
                                row.l2() ? " (fits L2)" : "");
                    } catch (RuntimeException e) {
                        System.out.println("B" + batch + " ctx" + context + " failed: " + e);
                    }
                }
        }
        System.out.printf("%n== tessel.paged_attention decode step, q f16, KV " + (c.fp8() ? "fp8 e4m3" : "f16") + ", %d heads / %d KV heads, head size %d, blocks of %d tokens; median of %d CUDA-graph replays of %d steps"
                + " (%.0f s in all) ==%n", HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE, REPLAYS, STEPS_PER_GRAPH, (System.nanoTime() - t0) / 1e9);
        System.out.printf("| %5s | %7s | %8s | %8s | %-14s | %9s | %9s | %10s | %8s | %12s | %9s | %7s |%n", "batch", "context", "heads/kv", "head_dim", "partitions", "us/step",
                "K/V MB", "GB/s", "% peak", "in order us", "paged/in", "note");
        System.out.printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%n", "-".repeat(7), "-".repeat(9), "-".repeat(10), "-".repeat(10), "-".repeat(16), "-".repeat(11),
                "-".repeat(11), "-".repeat(12), "-".repeat(10), "-".repeat(14), "-".repeat(11), "-".repeat(9));
        for (Row row : rows) {
            System.out.printf("| %5d | %7d | %8s | %8d | %-14s | %9.2f | %9.1f | %10.0f | %7.1f%% | %12.2f | %8.3fx | %7s |%n", row.batch(), row.context(), HEADS + "/" + KV_HEADS, HEAD_DIM,
                    row.plan().partitions() + " x " + row.plan().partitionSize(), row.us(), row.bytes() / 1e6, row.gbs(), 100 * row.gbs() / row.peakGbs(), row.inOrderUs(),
                    row.us() / row.inOrderUs(), row.l2() ? "L2" : "");
            System.out.printf(java.util.Locale.ROOT, "ATTN|tessel|%d|%d|%.2f|%.0f|paged%n", row.batch(), row.context(), row.us(), row.gbs());
            System.out.printf(java.util.Locale.ROOT, "ATTN|tessel-in-order|%d|%d|%.2f|%.0f|blocks in order%n", row.batch(), row.context(), row.inOrderUs(), row.bytes() / row.inOrderUs() / 1e3);
        }
        if (rows.size() != BATCHES.length * CONTEXTS.length) System.exit(1);
    }

    /** Random f16 values in [-1, 1), or random E4M3 codes (no NaN): a 32 MiB chunk uploaded once and copied over the buffer. */
    static void fillRandom(DeviceBuffer b, boolean fp8, SplittableRandom r) {
        int n = 16 << 20;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (2 * r.nextDouble() - 1);
        byte[] codes = new byte[2 * n];
        for (int i = 0; i < codes.length; i++) {
            int code = r.nextInt(256);
            codes[i] = (byte) ((code & 0x7f) == 0x7f ? code - 1 : code); // S.1111.111 is NaN: the next code down
        }
        try (DeviceBuffer chunk = fp8 ? DeviceBuffer.allocate(codes.length) : DeviceBuffer.ofShorts(HostTensors.toF16(v))) {
            if (fp8) chunk.copyFrom(codes);
            for (long at = 0; at < b.bytes(); at += chunk.bytes()) {
                long len = Math.min(chunk.bytes(), b.bytes() - at);
                b.slice(at, len).copyFrom(chunk.slice(0, len));
            }
        }
    }

    /** The GPU backend, or the process exits (status 2) saying there is none. */
    static Backend.Gpu gpuOrExit() {
        Backend b = Backend.detect();
        if (b instanceof Backend.Gpu gpu) return gpu;
        System.out.println("PagedAttentionBench needs a CUDA GPU: " + b.describe());
        System.exit(2);
        throw new IllegalStateException("unreachable");
    }

    /** llama-1b's batch-1 decode attention at several contexts, every partition size timed (see the class comment). */
    static void sweep() {
        Backend.Gpu gpu = gpuOrExit();
        CudaContext ctx = gpu.context();
        int[] contexts = {128, 256, 512, 1024}, sizes = {16, 32, 64, 128, 256, 512};
        PagedAttentionKernel.Config c = new PagedAttentionKernel.Config(DType.F16, DType.F16, 32, 4, HEAD_DIM, BLOCK_SIZE, 4096);
        SplittableRandom r = new SplittableRandom(15);
        System.out.println("device: " + gpu.describe() + ", " + ctx.device().smCount() + " SMs; llama-1b decode attention (32 heads / 4 KV heads, head 64, f16, blocks of 16), batch 1");
        try (CudaStream s = CudaStream.create(); KernelCompiler kc = new KernelCompiler(ctx);
             DeviceBuffer kPool = DeviceBuffer.allocate(c.poolBytes()); DeviceBuffer vPool = DeviceBuffer.allocate(c.poolBytes())) {
            fillRandom(kPool, false, r);
            fillRandom(vPool, false, r);
            CudaStream.DEFAULT.synchronize();
            for (int context : contexts) {
                PagedAttentionKernel.Plan chosen = PagedAttentionKernel.plan(c, 1, context, ctx.device().smCount());
                StringBuilder line = new StringBuilder(String.format(java.util.Locale.ROOT, "SWEEP|ctx %d|", context));
                for (int size : sizes) {
                    int parts = (context + size - 1) / size;
                    var plan = new PagedAttentionKernel.Plan(1, c.heads(), c.headDim(), c.headsPerBlock(), size, parts);
                    Row row = one(kc, s, c, kPool, vPool, 1, context, r, 4800, plan);
                    line.append(String.format(java.util.Locale.ROOT, " %d x %d: %.2f us%s;", parts, size, row.us(), size == chosen.partitionSize() ? " (planned)" : ""));
                }
                System.out.println(line);
            }
        }
    }

    static Row one(KernelCompiler kc, CudaStream s, PagedAttentionKernel.Config c, DeviceBuffer kPool, DeviceBuffer vPool, int batch, int context,
                   SplittableRandom r, double peak) {
        return one(kc, s, c, kPool, vPool, batch, context, r, peak, PagedAttentionKernel.plan(c, batch, context, kc.context().device().smCount()));
    }

    static Row one(KernelCompiler kc, CudaStream s, PagedAttentionKernel.Config c, DeviceBuffer kPool, DeviceBuffer vPool, int batch, int context,
                   SplittableRandom r, double peak, PagedAttentionKernel.Plan plan) {
        return one(kc, s, c, kPool, vPool, batch, context, r, peak, plan, false);
    }

    /**
     * One configuration timed; {@code inOrder} lays each sequence's blocks out one after another in the pool (as a
     * contiguous cache would hold them, the same kernel reading them), else they are a random subset of it (paged).
     */
    static Row one(KernelCompiler kc, CudaStream s, PagedAttentionKernel.Config c, DeviceBuffer kPool, DeviceBuffer vPool, int batch, int context,
                   SplittableRandom r, double peak, PagedAttentionKernel.Plan plan, boolean inOrder) {
        int perSeq = (context + BLOCK_SIZE - 1) / BLOCK_SIZE, perSet = batch * perSeq;
        int sets = Math.max(1, Math.min(STEPS_PER_GRAPH, c.numBlocks() / perSet));
        // a random permutation of the pool (or the pool in order), cut into disjoint table sets
        int[] perm = new int[c.numBlocks()];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        if (!inOrder)
            for (int i = perm.length - 1; i > 0; i--) { int j = r.nextInt(i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
        int[] lens = new int[batch];
        Arrays.fill(lens, context);
        long bytes = (long) batch * context * c.kvBytesPerToken();
        DeviceBuffer[] tables = new DeviceBuffer[sets];
        try (DeviceBuffer dl = DeviceBuffer.allocate(4L * batch); DeviceBuffer dq = DeviceBuffer.allocate(2L * batch * HEADS * HEAD_DIM);
             DeviceBuffer out = DeviceBuffer.allocate(2L * batch * HEADS * HEAD_DIM); DeviceBuffer ws = DeviceBuffer.allocate(Math.max(1, plan.workspaceBytes()))) {
            dl.copyFrom(lens);
            float[] q = new float[batch * HEADS * HEAD_DIM];
            for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
            dq.copyFrom(HostTensors.toF16(q));
            for (int k = 0; k < sets; k++) {
                int[] packed = Arrays.copyOfRange(perm, k * perSet, (k + 1) * perSet);
                PagedAttentionKernel.validate(c, lens, packed, perSeq);
                tables[k] = DeviceBuffer.allocate(4L * packed.length);
                tables[k].copyFrom(packed);
            }
            CudaStream.DEFAULT.synchronize(); // the uploads, likewise
            int[] next = {0};
            float scale = c.fp8() ? 1f / 448 : 1f;
            Runnable step = () -> PagedAttentionKernel.decode(kc, c, plan, dq, kPool, vPool, scale, scale, tables[next[0]++ % sets], dl, perSeq, out, ws, s);
            // compile and warm up outside the timings
            for (int i = 0; i < 3; i++) step.run();
            s.synchronize();
            double launchUs;
            try (CudaEvent a = new CudaEvent(); CudaEvent z = new CudaEvent()) {
                double[] t = new double[REPLAYS];
                for (int i = 0; i < REPLAYS; i++) {
                    a.record(s);
                    step.run();
                    z.record(s);
                    z.synchronize();
                    t[i] = z.elapsedSince(a) * 1000;
                }
                Arrays.sort(t);
                launchUs = t[REPLAYS / 2];
            }
            double us;
            next[0] = 0;
            try (CudaGraph g = CudaGraph.capture(s, () -> { for (int i = 0; i < STEPS_PER_GRAPH; i++) step.run(); });
                 CudaEvent a = new CudaEvent(); CudaEvent z = new CudaEvent()) {
                for (int i = 0; i < 3; i++) g.launch(s);
                double[] t = new double[REPLAYS];
                for (int i = 0; i < REPLAYS; i++) {
                    a.record(s);
                    g.launch(s);
                    z.record(s);
                    z.synchronize();
                    t[i] = z.elapsedSince(a) * 1000.0 / STEPS_PER_GRAPH;
                }
                Arrays.sort(t);
                us = t[REPLAYS / 2];
            }
            boolean l2 = bytes * Math.min(sets, STEPS_PER_GRAPH) <= 2 * L2_BYTES;
            return new Row(batch, context, plan, us, launchUs, bytes, l2, peak, Double.NaN);
        } finally {
            for (DeviceBuffer t : tables) if (t != null) t.close();
        }
    }
}
