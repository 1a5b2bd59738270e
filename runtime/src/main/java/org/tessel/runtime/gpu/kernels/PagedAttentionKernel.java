package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * {@code tessel.paged_attention}: decode attention (one query token per sequence) over a paged KV
 * cache, for a batch of sequences of different lengths, plus {@code tessel.paged_kv_append}, which
 * writes new tokens' keys and values into their cache slots, and {@code tessel.paged_prefill}
 * ({@link #prefill}), causal attention of a prefill chunk's tokens over the cached blocks and
 * themselves. Templates: {@code paged_attention.cu}, {@code paged_kv_append.cu}, {@code paged_prefill.cu};
 * the CPU references are {@code org.tessel.runtime.llm.PagedAttention} and {@code tessel.PagedAttention}'s
 * reference semantics. The tactic {@code tessel.attention.paged} runs them inside engines.
 *
 * <p>Layouts (element type f16 or bf16, f32 math):
 * <ul>
 *   <li>K and V pools: [numBlocks, kvHeads, blockSize, headDim], the CPU {@code PagedKvCache}'s
 *       layout (a block's slots for one KV head are contiguous);
 *   <li>block tables: int32 [batch, maxBlocks], sequence b's token t in block
 *       {@code tables[b * maxBlocks + t / blockSize]}, slot {@code t % blockSize}; entries past a
 *       sequence's blocks are never read ({@link #packBlockTables} pads with 0);
 *   <li>context lengths: int32 [batch] (tokens attended, the new one included);
 *   <li>q and out: [batch, heads, headDim]; query head h reads KV head {@code h / (heads / kvHeads)}
 *       (grouped-query attention); scale 1/sqrt(headDim).
 * </ul>
 *
 * <p>FP8 cache ({@link Config#kvDtype} f8e4m3): the pools hold E4M3 codes at one f32 scale per pool (a layer's K
 * scale and V scale), q, out and the new keys and values stay f16 or bf16. The append kernel stores
 * {@code e4m3(x / scale)}; the attention kernels read 16 codes per 16-byte load and dequantize in registers
 * ({@code code * scale}), so a decode step reads half the KV bytes of f16. Heads per block are capped at
 * {@link #MAX_HEADS_PER_BLOCK_FP8} (16 accumulators per head and lane instead of 8).
 *
 * <p>Flash-decoding split ({@link #plan}): a sequence's context is cut into partitions of
 * {@link Plan#partitionSize} tokens handled by separate thread blocks (one per partition, group of
 * query heads sharing a KV head, and sequence), so one long sequence still fills the GPU; each writes
 * its max score, sum of exponentials and normalised partial output to a workspace, and a second
 * kernel combines them. With one partition the first kernel writes the output itself.
 * {@link #appendAndDecode} fuses a decode step's append into the attention kernel (one launch fewer): the block
 * holding a sequence's new token takes it from the new rows, one block per sequence and KV head writes them.
 * With {@link Rotary} arguments it also applies the rotary embeddings of q and the new keys (a fused {@code rope_attention}
 * group; the {@code PA_ROPE} variant): each block rotates its query heads and the new key row into shared memory first.
 * Everything a launch needs is checked before it: {@link #unsupportedReason} for the configuration,
 * {@link #validate} for a step's block tables and lengths (host copies), buffer sizes and alignment.
 */
public final class PagedAttentionKernel {
    private PagedAttentionKernel() {}

    /** Threads per block of both kernels, and the largest number of query heads one block takes. */
    public static final int THREADS = 128, MAX_HEADS_PER_BLOCK = 8, MAX_HEADS_PER_BLOCK_FP8 = 4;
    /** Partition sizes tried, largest first (tokens); {@link #MAX_PARTITIONS} bounds the reduction's shared memory. */
    public static final int MAX_PARTITION = 512, MIN_PARTITION = 64, MAX_PARTITIONS = 4096;
    /** Head sizes the kernel takes: a row is headDim / 8 16-byte chunks, one per lane, which must divide a warp. */
    static final int[] HEAD_DIMS = {16, 32, 64, 128, 256};
    /** Blocks per streaming multiprocessor the planner aims for before it stops halving the partition. */
    static final int BLOCKS_PER_SM = 4;

    /** The cache's geometry and head split; the constructor refuses what the kernels cannot run. */
    public record Config(DType dtype, DType kvDtype, int heads, int kvHeads, int headDim, int blockSize, int numBlocks) {
        public Config {
            String why = unsupportedReason(dtype, heads, kvHeads, headDim, blockSize, numBlocks);
            if (why == null && kvDtype != dtype && kvDtype != DType.F8E4M3)
                why = "KV storage " + (kvDtype == null ? "null" : kvDtype.text()) + " (the pools hold " + dtype.text() + " like q, or f8e4m3 codes)";
            if (why != null) throw new IllegalArgumentException("tessel.paged_attention: " + why);
        }

        /** A cache whose pools hold {@code dtype} like q and out. */
        public Config(DType dtype, int heads, int kvHeads, int headDim, int blockSize, int numBlocks) {
            this(dtype, dtype, heads, kvHeads, headDim, blockSize, numBlocks);
        }

        /** Whether the pools hold E4M3 codes. */
        public boolean fp8() { return kvDtype == DType.F8E4M3; }

        /** Query heads per KV head. */
        public int group() { return heads / kvHeads; }

        /** Query heads one thread block takes: the largest divisor of the group up to {@link #MAX_HEADS_PER_BLOCK} ({@link #MAX_HEADS_PER_BLOCK_FP8} for FP8 pools). */
        public int headsPerBlock() { return PagedAttentionKernel.headsPerBlock(group(), fp8() ? MAX_HEADS_PER_BLOCK_FP8 : MAX_HEADS_PER_BLOCK); }

        public float scale() { return (float) (1 / Math.sqrt(headDim)); }

        /** Elements of one K (or V) pool: numBlocks * kvHeads * blockSize * headDim. */
        public long poolElements() { return (long) numBlocks * kvHeads * blockSize * headDim; }

        public long poolBytes() { return poolElements() * kvDtype.bytes(); }

        /** Bytes of K and V one token occupies over all KV heads. */
        public long kvBytesPerToken() { return 2L * kvHeads * headDim * kvDtype.bytes(); }

        /** Bytes of one block of one pool (every KV head's slots). */
        public long blockBytes() { return (long) kvHeads * blockSize * headDim * kvDtype.bytes(); }
    }

    /** Why the kernels cannot take this configuration ({@code null}: they can). */
    public static String unsupportedReason(DType t, int heads, int kvHeads, int headDim, int blockSize, int numBlocks) {
        if (t != DType.F16 && t != DType.BF16) return "storage " + (t == null ? "null" : t.text()) + " (the paged KV cache holds f16 or bf16)";
        if (heads < 1 || kvHeads < 1) return "heads " + heads + " and kv_heads " + kvHeads + " must be positive";
        if (heads % kvHeads != 0) return heads + " query heads cannot share " + kvHeads + " KV heads (heads must be a multiple of kv_heads)";
        boolean dimOk = false;
        for (int d : HEAD_DIMS) dimOk |= d == headDim;
        if (!dimOk) return "head_dim " + headDim + " is not supported (16, 32, 64, 128 or 256: a row's 16-byte chunks must split a warp evenly)";
        if (blockSize < 1) return "block size " + blockSize + " (needs at least 1 token)";
        if (numBlocks < 1) return "the cache needs at least 1 block, got " + numBlocks;
        if ((long) numBlocks * blockSize > Integer.MAX_VALUE) return numBlocks + " blocks of " + blockSize + " tokens exceed the int32 slot numbers";
        return null;
    }

    /** The largest divisor of {@code group} that is at most {@link #MAX_HEADS_PER_BLOCK}. */
    public static int headsPerBlock(int group) { return headsPerBlock(group, MAX_HEADS_PER_BLOCK); }

    private static int headsPerBlock(int group, int max) {
        for (int g = Math.min(group, max); g > 1; g--)
            if (group % g == 0) return g;
        return 1;
    }

    /** The launch shape of one decode step. */
    public record Plan(int batch, int heads, int headDim, int headsPerBlock, int partitionSize, int partitions) {
        /** Whether the step runs split (partitions > 1) and needs the reduction kernel and a workspace. */
        public boolean split() { return partitions > 1; }

        /** Dynamic shared memory of the attention kernel: the logits [hpb, partition] or the warps' outputs [4, hpb, headDim], floats. */
        public int sharedBytes() { return 4 * Math.max(headsPerBlock * partitionSize, 4 * headsPerBlock * headDim); }

        /** Bytes of the workspace: partial outputs [batch, heads, partitions, headDim] then max and sum [batch, heads, partitions], f32; 0 unsplit. */
        public long workspaceBytes() { return split() ? 4L * batch * heads * partitions * (headDim + 2) : 0; }

        /** Thread blocks of the attention kernel. */
        public long blocks() { return (long) partitions * (heads / headsPerBlock) * batch; }
    }

    /**
     * The partition size for a step: the largest of 512, 256, 128, 64 tokens that still gives at
     * least {@link #BLOCKS_PER_SM} blocks per SM over the batch's longest context (a batch of 64 long
     * sequences runs 512-token partitions; one sequence is cut finer), and one partition when the
     * longest context fits in it.
     */
    public static Plan plan(Config c, int batch, int maxContext, int smCount) {
        if (batch < 0 || batch > 65535) throw new IllegalArgumentException("tessel.paged_attention: batch " + batch + " (the grid takes 0 to 65535 sequences)");
        if (maxContext < 0) throw new IllegalArgumentException("tessel.paged_attention: negative context " + maxContext);
        if (maxContext > (long) MAX_PARTITION * MAX_PARTITIONS)
            throw new IllegalArgumentException("tessel.paged_attention: context of " + maxContext + " tokens exceeds " + MAX_PARTITIONS + " partitions of " + MAX_PARTITION);
        int hpb = c.headsPerBlock(), groups = c.heads() / hpb, ctx = Math.max(1, maxContext);
        int p = MAX_PARTITION;
        while (p > MIN_PARTITION && (long) batch * groups * ceilDiv(ctx, p) < (long) BLOCKS_PER_SM * smCount) p /= 2;
        return new Plan(batch, c.heads(), c.headDim(), hpb, p, ceilDiv(ctx, p));
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    /** Block tables [batch, maxBlocks] int32, row-major, each row padded with 0 (never read). */
    public static int[] packBlockTables(List<? extends List<Integer>> tables, int maxBlocks) {
        int[] packed = new int[Math.multiplyExact(tables.size(), maxBlocks)];
        for (int b = 0; b < tables.size(); b++) {
            List<Integer> t = tables.get(b);
            if (t.size() > maxBlocks) throw new IllegalArgumentException("sequence " + b + " has " + t.size() + " blocks, more than the table's " + maxBlocks);
            for (int i = 0; i < t.size(); i++) packed[b * maxBlocks + i] = t.get(i);
        }
        return packed;
    }

    /** The longest block table of a batch (at least 1, so a packed table is never empty). */
    public static int maxBlocks(List<? extends List<Integer>> tables) {
        int m = 1;
        for (List<Integer> t : tables) m = Math.max(m, t.size());
        return m;
    }

    /**
     * Checks a step's host-side block tables and context lengths against the cache before any launch:
     * each length in [0, maxBlocks * blockSize] (a context longer than its table is refused), and every
     * block a sequence's context touches a valid block id.
     */
    public static void validate(Config c, int[] contextLens, int[] blockTables, int maxBlocks) {
        int batch = contextLens.length;
        if (maxBlocks < 1) throw new IllegalArgumentException("tessel.paged_attention: block tables of " + maxBlocks + " entries");
        if (blockTables.length != (long) batch * maxBlocks)
            throw new IllegalArgumentException("tessel.paged_attention: block tables hold " + blockTables.length + " entries, expected batch " + batch + " x " + maxBlocks);
        long slots = (long) maxBlocks * c.blockSize();
        for (int b = 0; b < batch; b++) {
            int len = contextLens[b];
            if (len < 0) throw new IllegalArgumentException("tessel.paged_attention: sequence " + b + " has a negative context length " + len);
            if (len > slots)
                throw new IllegalArgumentException("tessel.paged_attention: sequence " + b + "'s context of " + len + " tokens is longer than its block table ("
                        + maxBlocks + " blocks of " + c.blockSize() + " tokens = " + slots + " slots)");
            for (int i = 0; i < ceilDiv(len, c.blockSize()); i++) {
                int id = blockTables[b * maxBlocks + i];
                if (id < 0 || id >= c.numBlocks())
                    throw new IllegalArgumentException("tessel.paged_attention: sequence " + b + "'s block table entry " + i + " is block " + id + ", outside the pool of " + c.numBlocks());
            }
        }
    }

    /** Slots for {@link #append}: each in [-1, numBlocks * blockSize), -1 skipping its token. */
    public static void validateSlots(Config c, int[] slots) {
        long limit = (long) c.numBlocks() * c.blockSize();
        for (int i = 0; i < slots.length; i++)
            if (slots[i] < -1 || slots[i] >= limit)
                throw new IllegalArgumentException("tessel.paged_kv_append: token " + i + "'s slot " + slots[i] + " is outside the pool's " + limit + " slots (-1 skips a token)");
    }

    /** The attention and reduction kernels for one storage type, head size, heads per block and block size. */
    public static String source(DType t, int headDim, int headsPerBlock, int blockSize) { return source(t, t, headDim, headsPerBlock, blockSize); }

    /** The attention and reduction kernels for q/out type {@code t} and pools of {@code kv} (t, or f8e4m3). */
    public static String source(DType t, DType kv, int headDim, int headsPerBlock, int blockSize) { return source(t, kv, headDim, headsPerBlock, blockSize, false); }

    /** As {@link #source(DType, DType, int, int, int)}; {@code rope}: the variant that applies rotary embeddings to q and the new keys. */
    public static String source(DType t, DType kv, int headDim, int headsPerBlock, int blockSize, boolean rope) {
        boolean fp8 = kv == DType.F8E4M3;
        return KernelCompiler.prelude() + (fp8 ? KernelCompiler.resource("fp8.cuh") : "") + "#define HEAD_DIM " + headDim + "\n#define HPB " + headsPerBlock
                + "\n#define PA_BLOCK_SIZE " + blockSize + "\n#define PA_BF16 " + (t == DType.BF16 ? 1 : 0) + "\n#define PA_FP8 " + (fp8 ? 1 : 0)
                + "\n#define PA_ROPE " + (rope ? 1 : 0) + "\n" + KernelCompiler.resource("paged_attention.cu");
    }

    public static String appendSource(int headDim) {
        return KernelCompiler.prelude() + "#define HEAD_DIM " + headDim + "\n" + KernelCompiler.resource("paged_kv_append.cu");
    }

    /** The FP8 append kernel: new keys and values of type {@code t} quantized into E4M3 pools. */
    public static String appendFp8Source(DType t, int headDim) {
        return KernelCompiler.prelude() + KernelCompiler.resource("fp8.cuh") + "#define HEAD_DIM " + headDim + "\n#define KV_FP8 1\n#define KV_IN_BF16 "
                + (t == DType.BF16 ? 1 : 0) + "\n" + KernelCompiler.resource("paged_kv_append.cu");
    }

    private static String program(Config c, Plan p, boolean rope) {
        return "tessel_paged_attention_" + c.dtype().text() + (c.fp8() ? "_kv" + c.kvDtype().text() : "") + "_d" + c.headDim() + "_g" + p.headsPerBlock()
                + "_b" + c.blockSize() + (rope ? "_rope" : "") + ".cu";
    }

    /** Checks a launch's pool scales: positive and finite for FP8 pools; exactly 1 for 16-bit pools, which take none. */
    private static void checkScales(Config c, float kScale, float vScale, String kernel) {
        if (c.fp8()) {
            if (!(kScale > 0) || !(vScale > 0) || !Float.isFinite(kScale) || !Float.isFinite(vScale))
                throw new IllegalArgumentException(kernel + ": FP8 pools need positive finite K and V scales, got " + kScale + " and " + vScale);
        } else if (kScale != 1f || vScale != 1f)
            throw new IllegalArgumentException(kernel + ": " + c.kvDtype().text() + " pools take no scales (got " + kScale + " and " + vScale + ")");
    }

    /**
     * One decode step: {@code out = softmax(q K^T / sqrt(headDim)) V} per sequence and head over the
     * first {@code contextLens[b]} tokens of sequence b's blocks. {@code blockTables} and
     * {@code contextLens} are the device copies of what {@link #validate} checked; {@code workspace}
     * holds {@link Plan#workspaceBytes} (null when the plan is not split). The plan must cover the
     * longest context ({@link #plan} for it, or partitions x partitionSize at least that long): tokens
     * past the last partition are not read. Allocates nothing, so it can be captured in a CUDA graph.
     */
    public static void decode(KernelCompiler kc, Config c, Plan p, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool,
                              DeviceBuffer blockTables, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, DeviceBuffer workspace, CudaStream s) {
        decode(kc, c, p, q, kPool, vPool, 1f, 1f, blockTables, contextLens, maxBlocks, out, workspace, s);
    }

    /** As the decode without scales, FP8 pools read at scales {@code kScale}, {@code vScale} (1 and 1 for 16-bit pools). */
    public static void decode(KernelCompiler kc, Config c, Plan p, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale,
                              DeviceBuffer blockTables, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, DeviceBuffer workspace, CudaStream s) {
        launchDecode(kc, c, p, q, null, null, null, kPool, vPool, kScale, vScale, blockTables, contextLens, maxBlocks, out, workspace, s, "tessel.paged_attention");
    }

    /**
     * {@link #append} and {@link #decode} of a decode step in one attention launch (plus the reduction when the plan is
     * split): sequence b's new key and value rows ({@code kNew}, {@code vNew}: kvHeads * headDim values at element
     * b * ldk, b * ldv) go into the pools at {@code slots[b]} (int32 on the device, -1 writes nothing; {@link
     * #validateSlots} checks the host copy), and its attention over {@code contextLens[b]} tokens takes position
     * contextLens[b] - 1, the new token's, from those rows as the pool will hold it (FP8: e4m3(x / scale), read as code *
     * scale). Each slot must be position contextLens[b] - 1's slot by b's block table (the {@code tessel.PagedAttention}
     * contract) and read by no other sequence of the step; a slot of -1 reads that position from the pool. Results equal
     * {@link #append} then {@link #decode} bit for bit. Allocates nothing, so it can be captured in a CUDA graph.
     */
    public static void appendAndDecode(KernelCompiler kc, Config c, Plan p, DeviceBuffer q, DeviceBuffer kNew, long ldk, DeviceBuffer vNew, long ldv,
                                       DeviceBuffer slots, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale, DeviceBuffer blockTables,
                                       DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, DeviceBuffer workspace, CudaStream s) {
        appendAndDecode(kc, c, p, q, null, kNew, ldk, null, vNew, ldv, slots, kPool, vPool, kScale, vScale, blockTables, contextLens, maxBlocks, out, workspace, s);
    }

    /**
     * As {@link #appendAndDecode(KernelCompiler, Config, Plan, DeviceBuffer, DeviceBuffer, long, DeviceBuffer, long, DeviceBuffer,
     * DeviceBuffer, DeviceBuffer, float, float, DeviceBuffer, DeviceBuffer, int, DeviceBuffer, DeviceBuffer, CudaStream)}, with the
     * rotary embeddings of q ({@code qRope}) and of the new keys ({@code kRope}) applied in the launch (either may be null:
     * that input is taken as it is): the kernel rotates q as it loads it and the new key rows before it stores them, with
     * the values a {@code tessel.rope} launch would write (f32 math, rounded to the storage type). q and the new keys are the
     * rows before rotation.
     */
    public static void appendAndDecode(KernelCompiler kc, Config c, Plan p, DeviceBuffer q, Rotary qRope, DeviceBuffer kNew, long ldk, Rotary kRope,
                                       DeviceBuffer vNew, long ldv, DeviceBuffer slots, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale,
                                       DeviceBuffer blockTables, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, DeviceBuffer workspace, CudaStream s) {
        boolean rope = qRope != null || kRope != null;
        String kernel = rope ? "tessel.paged_attention (fused append and rotary embedding)" : "tessel.paged_attention (fused append)";
        checkNewRows(c, p.batch(), kNew, ldk, vNew, ldv, slots, kernel);
        if (qRope != null) qRope.check(c, p.batch(), c.heads(), "q", kernel);
        if (kRope != null) kRope.check(c, p.batch(), c.kvHeads(), "new keys", kernel);
        launchDecode(kc, c, p, q, qRope, kRope, new NewRows(kNew, ldk, vNew, ldv, slots), kPool, vPool, kScale, vScale, blockTables, contextLens, maxBlocks, out, workspace, s, kernel);
    }

    /**
     * The cos and sin of one rotary embedding (storage type, like q): head h of sequence b reads its row of headDim values
     * at element {@code b * batchStride + h * headStride} (0: broadcast over that axis), as {@code tessel.RotaryEmbedding}
     * broadcasts [B, 1, 1 or heads, D] cos and sin onto [B, 1, heads, D].
     */
    public record Rotary(DeviceBuffer cos, DeviceBuffer sin, long batchStride, long headStride) {
        void check(Config c, int batch, int heads, String what, String kernel) {
            if (batchStride < 0 || headStride < 0) throw new IllegalArgumentException(kernel + ": negative cos/sin strides for " + what);
            if (batch == 0) return;
            long need = (batch - 1) * batchStride + (heads - 1) * headStride + c.headDim();
            Softmax.check(cos, c.dtype(), need, what + " cos");
            Softmax.check(sin, c.dtype(), need, what + " sin");
        }
    }

    /** A fused append's new rows, strides and slots. */
    private record NewRows(DeviceBuffer keys, long ldk, DeviceBuffer values, long ldv, DeviceBuffer slots) {}

    /** Checks {@code tokens} new rows: strides multiples of 8 of at least a row, buffers large enough and 16-byte aligned, slots int32. */
    private static void checkNewRows(Config c, int tokens, DeviceBuffer kNew, long ldk, DeviceBuffer vNew, long ldv, DeviceBuffer slots, String kernel) {
        long row = (long) c.kvHeads() * c.headDim();
        if (ldk < row || ldv < row || ldk % 8 != 0 || ldv % 8 != 0)
            throw new IllegalArgumentException(kernel + ": row strides " + ldk + " and " + ldv + " must be multiples of 8 of at least " + row);
        if (tokens < 0) throw new IllegalArgumentException(kernel + ": " + tokens + " tokens");
        if (tokens == 0) return;
        Softmax.check(kNew, c.dtype(), (tokens - 1) * ldk + row, "new keys");
        Softmax.check(vNew, c.dtype(), (tokens - 1) * ldv + row, "new values");
        Softmax.check(slots, DType.I32, tokens, "slot");
        for (DeviceBuffer b : new DeviceBuffer[] {kNew, vNew})
            if (b.address() % 16 != 0) throw new IllegalArgumentException(kernel + ": the new keys and values must be 16-byte aligned (16-byte loads)");
    }

    private static void launchDecode(KernelCompiler kc, Config c, Plan p, DeviceBuffer q, Rotary qRope, Rotary kRope, NewRows rows, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale,
                                     DeviceBuffer blockTables, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, DeviceBuffer workspace, CudaStream s, String kernel) {
        checkScales(c, kScale, vScale, kernel);
        if (p.heads() != c.heads() || p.headDim() != c.headDim() || p.headsPerBlock() != c.headsPerBlock())
            throw new IllegalArgumentException(kernel + ": the plan is for " + p.heads() + " heads of " + p.headDim() + ", the cache has " + c.heads() + " of " + c.headDim());
        if (p.partitionSize() < 1 || p.partitionSize() > MAX_PARTITION || p.partitions() < 1 || p.partitions() > MAX_PARTITIONS)
            throw new IllegalArgumentException(kernel + ": " + p.partitions() + " partitions of " + p.partitionSize() + " tokens (at most "
                    + MAX_PARTITIONS + " of at most " + MAX_PARTITION + ")");
        int batch = p.batch();
        long rowsQ = (long) batch * c.heads() * c.headDim();
        Softmax.check(q, c.dtype(), rowsQ, "query");
        Softmax.check(out, c.dtype(), rowsQ, "output");
        Softmax.check(kPool, c.kvDtype(), c.poolElements(), "K pool");
        Softmax.check(vPool, c.kvDtype(), c.poolElements(), "V pool");
        Softmax.check(blockTables, DType.I32, (long) batch * maxBlocks, "block table");
        Softmax.check(contextLens, DType.I32, batch, "context length");
        for (DeviceBuffer b : new DeviceBuffer[] {q, kPool, vPool})
            if (b.address() % 16 != 0) throw new IllegalArgumentException(kernel + ": q and the pools must be 16-byte aligned (16-byte loads)");
        if (p.split() && (workspace == null || workspace.bytes() < p.workspaceBytes()))
            throw new IllegalArgumentException(kernel + ": the split step needs a workspace of " + p.workspaceBytes() + " bytes, got "
                    + (workspace == null ? "none" : workspace.bytes()));
        if (batch == 0) return;
        boolean rope = qRope != null || kRope != null;
        CudaKernel k = kc.kernel(program(c, p, rope), () -> source(c.dtype(), c.kvDtype(), c.headDim(), p.headsPerBlock(), c.blockSize(), rope), "tessel_paged_attention");
        long parts = (long) batch * c.heads() * p.partitions();
        long ws = p.split() ? workspace.address() : 0;
        long partOut = ws, partMax = ws + 4 * parts * c.headDim(), partSum = partMax + 4 * parts;
        CudaKernel.Args args = CudaKernel.args().ptr(out).ptr(p.split() ? partOut : 0).ptr(p.split() ? partMax : 0).ptr(p.split() ? partSum : 0)
                .ptr(q).ptr(kPool).ptr(vPool).ptr(blockTables).ptr(contextLens);
        if (rows == null) args.ptr(0).ptr(0).ptr(0).ptr(0).ptr(0).i64(0).i64(0);
        else args.ptr(kPool).ptr(vPool).ptr(rows.keys()).ptr(rows.values()).ptr(rows.slots()).i64(rows.ldk()).i64(rows.ldv());
        k.launch(p.partitions(), c.heads() / p.headsPerBlock(), batch, THREADS, 1, 1, p.sharedBytes(), s,
                rotary(rotary(args.i32(c.heads()).i32(c.kvHeads()).i32(maxBlocks).i32(p.partitionSize()).f32(c.scale()).f32(kScale).f32(vScale), qRope), kRope));
        if (!p.split()) return;
        CudaKernel r = kc.kernel(program(c, p, rope), () -> source(c.dtype(), c.kvDtype(), c.headDim(), p.headsPerBlock(), c.blockSize(), rope), "tessel_paged_attention_reduce");
        r.launch(c.heads(), batch, 1, THREADS, 1, 1, 4 * p.partitions(), s,
                CudaKernel.args().ptr(out).ptr(partOut).ptr(partMax).ptr(partSum).ptr(contextLens).i32(c.heads()).i32(p.partitions()).i32(p.partitionSize()));
    }

    /** A rotary embedding's kernel arguments: cos, sin, batch and head strides (null pointers: none). */
    private static CudaKernel.Args rotary(CudaKernel.Args a, Rotary r) {
        return r == null ? a.ptr(0).ptr(0).i64(0).i64(0) : a.ptr(r.cos()).ptr(r.sin()).i64(r.batchStride()).i64(r.headStride());
    }

    /**
     * Writes {@code tokens} tokens' keys and values ({@code kNew}, {@code vNew}: token i's
     * kvHeads * headDim values at element i * ldk, i * ldv) into the pools at {@code slots[i]} =
     * block * blockSize + slot (int32 on the device, -1 skips a token; {@link #validateSlots} checks
     * the host copy).
     */
    public static void append(KernelCompiler kc, Config c, int tokens, DeviceBuffer kNew, long ldk, DeviceBuffer vNew, long ldv,
                              DeviceBuffer slots, DeviceBuffer kPool, DeviceBuffer vPool, CudaStream s) {
        append(kc, c, tokens, kNew, ldk, vNew, ldv, slots, kPool, vPool, 1f, 1f, s);
    }

    /** As the append without scales, into FP8 pools at scales {@code kScale}, {@code vScale}: e4m3(x / scale), an f32 division (1 and 1 for 16-bit pools). */
    public static void append(KernelCompiler kc, Config c, int tokens, DeviceBuffer kNew, long ldk, DeviceBuffer vNew, long ldv,
                              DeviceBuffer slots, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale, CudaStream s) {
        checkScales(c, kScale, vScale, "tessel.paged_kv_append");
        checkNewRows(c, tokens, kNew, ldk, vNew, ldv, slots, "tessel.paged_kv_append");
        if (tokens == 0) return;
        Softmax.check(kPool, c.kvDtype(), c.poolElements(), "K pool");
        Softmax.check(vPool, c.kvDtype(), c.poolElements(), "V pool");
        for (DeviceBuffer b : new DeviceBuffer[] {kPool, vPool})
            if (b.address() % 16 != 0) throw new IllegalArgumentException("tessel.paged_kv_append: the buffers must be 16-byte aligned (16-byte copies)");
        if (c.fp8()) {
            CudaKernel k = kc.kernel("tessel_paged_kv_append_" + c.dtype().text() + "_fp8_d" + c.headDim() + ".cu", () -> appendFp8Source(c.dtype(), c.headDim()), "tessel_paged_kv_append");
            k.launch(tokens, THREADS, 0, s, CudaKernel.args().ptr(kPool).ptr(vPool).ptr(kNew).ptr(vNew).ptr(slots).i32(c.kvHeads()).i32(c.blockSize()).i64(ldk).i64(ldv)
                    .f32(kScale).f32(vScale));
            return;
        }
        CudaKernel k = kc.kernel("tessel_paged_kv_append_d" + c.headDim() + ".cu", () -> appendSource(c.headDim()), "tessel_paged_kv_append");
        k.launch(tokens, THREADS, 0, s, CudaKernel.args().ptr(kPool).ptr(vPool).ptr(kNew).ptr(vNew).ptr(slots).i32(c.kvHeads()).i32(c.blockSize()).i64(ldk).i64(ldv));
    }

    /** New tokens of a row one block of the prefill kernel takes (its query tile; paged_prefill.cu's PP_QT). */
    static int prefillQueryTile(int headDim) { return headDim > 128 ? 16 : 32; }

    public static String prefillSource(DType t, int headDim) { return prefillSource(t, t, headDim); }

    public static String prefillSource(DType t, DType kv, int headDim) {
        boolean fp8 = kv == DType.F8E4M3;
        return KernelCompiler.prelude() + (fp8 ? KernelCompiler.resource("fp8.cuh") : "") + "#define HEAD_DIM " + headDim + "\n#define PP_BF16 " + (t == DType.BF16 ? 1 : 0)
                + "\n#define PP_FP8 " + (fp8 ? 1 : 0) + "\n" + KernelCompiler.resource("paged_rows.cuh") + KernelCompiler.resource("paged_prefill.cu");
    }

    /**
     * The prefill kernel's forms, the variants of {@code tessel.attention.paged} a plan names for a prefill chunk
     * (PagedAttentionTactic.PREFILL_FORMS): {@code tiled}, f32 math on CUDA cores (paged_prefill.cu: f16, bf16 or FP8
     * pools, every head size), and {@code mma}, tensor cores (paged_prefill_mma.cu: f16 pools, head sizes multiples of 16
     * up to 128), the same attention within f16 rounding of the probabilities.
     */
    public enum PrefillForm {
        TILED("tiled"), MMA("mma");

        public final String variant;
        PrefillForm(String variant) { this.variant = variant; }

        /** The form a variant names, or null. */
        public static PrefillForm ofVariant(String v) {
            for (PrefillForm f : values()) if (f.variant.equals(v)) return f;
            return null;
        }
    }

    /** Why {@code form} cannot run a prefill of this configuration (null: it can). */
    public static String prefillWhyNot(PrefillForm form, Config c) {
        if (form == PrefillForm.TILED) return null;
        if (c.dtype() != DType.F16 || c.kvDtype() != DType.F16)
            return "the mma prefill reads f16 queries and pools (mma.sync f16), not " + c.dtype().text() + " with " + c.kvDtype().text() + " pools";
        if (c.headDim() % 16 != 0 || c.headDim() > MmaAttention.MAX_HEAD_DIM)
            return "the mma prefill takes head sizes that are multiples of 16 up to " + MmaAttention.MAX_HEAD_DIM + ", not " + c.headDim();
        return null;
    }

    public static String prefillMmaSource(int headDim) {
        return KernelCompiler.prelude() + "#define HEAD_DIM " + headDim + "\n" + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("paged_rows.cuh") + KernelCompiler.resource("paged_prefill_mma.cu");
    }

    /**
     * {@code tessel.paged_prefill}: causal attention of {@code newTokens} new tokens per sequence (q and out
     * [batch, newTokens, heads, headDim]) over their sequences' blocks, the new tokens' keys and values already in
     * the pools; {@code slots} [batch, newTokens] (-1 marks padding, whose output is 0) and {@code contextLens}
     * [batch] (tokens after the step) are int32 device buffers; new token i of a row with R real tokens attends to
     * positions 0 .. contextLens[b] - R + i. Allocates nothing, so it can be captured in a CUDA graph.
     */
    public static void prefill(KernelCompiler kc, Config c, int batch, int newTokens, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool,
                               DeviceBuffer blockTables, DeviceBuffer slots, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, CudaStream s) {
        prefill(kc, c, batch, newTokens, q, kPool, vPool, 1f, 1f, blockTables, slots, contextLens, maxBlocks, out, s);
    }

    /** As the prefill without scales, FP8 pools read at scales {@code kScale}, {@code vScale} (1 and 1 for 16-bit pools). */
    public static void prefill(KernelCompiler kc, Config c, int batch, int newTokens, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool, float kScale, float vScale,
                               DeviceBuffer blockTables, DeviceBuffer slots, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, CudaStream s) {
        prefill(kc, c, PrefillForm.TILED, batch, newTokens, q, kPool, vPool, kScale, vScale, blockTables, slots, contextLens, maxBlocks, out, s);
    }

    /** As above, in {@code form} ({@link #prefillWhyNot} refuses a form that cannot run the configuration). */
    public static void prefill(KernelCompiler kc, Config c, PrefillForm form, int batch, int newTokens, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool, float kScale,
                               float vScale, DeviceBuffer blockTables, DeviceBuffer slots, DeviceBuffer contextLens, int maxBlocks, DeviceBuffer out, CudaStream s) {
        prefill(kc, c, form, batch, newTokens, null, q, kPool, vPool, kScale, vScale, blockTables, slots, contextLens, maxBlocks, out, s);
    }

    /**
     * The packed prefill: the new tokens of {@code batch} sequences packed into one run of {@code tokens} (q and out
     * [tokens, heads, headDim], {@code slots} [tokens]), sequence b's being tokens {@code queryStarts[b]} to
     * {@code queryStarts[b + 1] - 1} (an int32 device buffer of batch + 1) and the tokens past {@code queryStarts[batch]}
     * padding (output 0); no token attends across sequences. The launch covers every tile of any split of the tokens
     * among the sequences (one grid for the engine's whole bucket, so a captured graph replays any step of it).
     */
    public static void prefillPacked(KernelCompiler kc, Config c, PrefillForm form, int batch, int tokens, DeviceBuffer queryStarts, DeviceBuffer q, DeviceBuffer kPool,
                                     DeviceBuffer vPool, float kScale, float vScale, DeviceBuffer blockTables, DeviceBuffer slots, DeviceBuffer contextLens, int maxBlocks,
                                     DeviceBuffer out, CudaStream s) {
        if (queryStarts == null) throw new IllegalArgumentException("tessel.paged_prefill: a packed step needs its query starts");
        prefill(kc, c, form, batch, tokens, queryStarts, q, kPool, vPool, kScale, vScale, blockTables, slots, contextLens, maxBlocks, out, s);
    }

    /** The prefill, padded ({@code queryStarts} null: q [batch, newTokens, ..]) or packed (q [newTokens, ..] for all batch sequences). */
    private static void prefill(KernelCompiler kc, Config c, PrefillForm form, int batch, int newTokens, DeviceBuffer queryStarts, DeviceBuffer q, DeviceBuffer kPool,
                                DeviceBuffer vPool, float kScale, float vScale, DeviceBuffer blockTables, DeviceBuffer slots, DeviceBuffer contextLens, int maxBlocks,
                                DeviceBuffer out, CudaStream s) {
        String why = prefillWhyNot(form, c);
        if (why != null) throw new IllegalArgumentException("tessel.paged_prefill: " + why);
        checkScales(c, kScale, vScale, "tessel.paged_prefill");
        if (batch < 0 || newTokens < 1 || maxBlocks < 1)
            throw new IllegalArgumentException("tessel.paged_prefill: batch " + batch + ", " + newTokens + " new tokens, block tables of " + maxBlocks);
        boolean packed = queryStarts != null;
        long tokens = packed ? newTokens : (long) batch * newTokens, rows = tokens * c.heads() * c.headDim();
        Softmax.check(q, c.dtype(), rows, "query");
        Softmax.check(out, c.dtype(), rows, "output");
        Softmax.check(kPool, c.kvDtype(), c.poolElements(), "K pool");
        Softmax.check(vPool, c.kvDtype(), c.poolElements(), "V pool");
        Softmax.check(blockTables, DType.I32, (long) batch * maxBlocks, "block table");
        Softmax.check(slots, DType.I32, tokens, "slot");
        Softmax.check(contextLens, DType.I32, batch, "context length");
        if (packed) Softmax.check(queryStarts, DType.I32, batch + 1L, "query start");
        if (batch == 0) return;
        long starts = packed ? queryStarts.address() : 0L;
        if (form == PrefillForm.MMA) {
            CudaKernel k = kc.kernel("tessel_paged_prefill_mma_d" + c.headDim() + ".cu", () -> prefillMmaSource(c.headDim()), "tessel_paged_prefill_mma");
            int tiles = (newTokens + MmaAttention.BLOCK_QUERIES - 1) / MmaAttention.BLOCK_QUERIES;
            k.launch(packed ? tiles + batch + 1 : tiles, c.heads(), packed ? 1 : batch, 128, 1, 1, 0, s,
                    CudaKernel.args().ptr(out).ptr(q).ptr(kPool).ptr(vPool).ptr(blockTables).ptr(slots).ptr(contextLens)
                            .i32(newTokens).i32(c.heads()).i32(c.kvHeads()).i32(c.blockSize()).i32(maxBlocks).f32(c.scale()).ptr(starts).i32(batch));
            return;
        }
        CudaKernel k = kc.kernel("tessel_paged_prefill_" + c.dtype().text() + (c.fp8() ? "_kvf8e4m3" : "") + "_d" + c.headDim() + ".cu",
                () -> prefillSource(c.dtype(), c.kvDtype(), c.headDim()), "tessel_paged_prefill");
        int tile = prefillQueryTile(c.headDim()), tiles = (newTokens + tile - 1) / tile;
        k.launch(packed ? tiles + batch + 1 : tiles, c.heads(), packed ? 1 : batch, THREADS, 1, 1, 0, s,
                CudaKernel.args().ptr(out).ptr(q).ptr(kPool).ptr(vPool).ptr(blockTables).ptr(slots).ptr(contextLens)
                        .i32(newTokens).i32(c.heads()).i32(c.kvHeads()).i32(c.blockSize()).i32(maxBlocks).f32(c.scale()).f32(kScale).f32(vScale).ptr(starts).i32(batch));
    }
}
