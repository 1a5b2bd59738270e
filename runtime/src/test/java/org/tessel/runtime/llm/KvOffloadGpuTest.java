package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.engine.GpuEngine;

/**
 * KV offload on the GPU runner ({@link GpuKvOffload}: pinned host memory, copies on a stream of their own; emulated
 * with {@code -Dtessel.test.device=emulated}): a device pool round trip is bit for bit into other blocks; three 2-turn
 * sessions at batch 2 in a cache too small for all of them give every turn the tokens the session gets alone in a
 * roomy cache, with sessions offloaded and prefetched; a zero host budget is refused.
 */
@Tag("gpu")
class KvOffloadGpuTest {
    private static final long SEED = 3;

    @Test void gpuSessionsUnderPressureGetTheirTokensAlone() {
        CudaContext ctx = org.tessel.runtime.gpu.GpuTestSupport.requireGpu();
        String model = "llama-tiny";
        List<Session> sessions = new ArrayList<>();
        for (Session s : KvOffloadTest.sessions(3)) sessions.add(new Session(s.id(), 0, s.turns().subList(0, 2)));
        try (GpuDecoderRunner gpu = GpuDecoderRunnerGpuTest.gpuRunner(model, ctx)) {
            List<BatchScheduler.Outcome> alone = new ArrayList<>();
            for (Session s : sessions)
                try (GpuPagedKvCache roomy = gpu.newCache(4, 16); GpuKvOffload off = new GpuKvOffload(roomy, 1 << 20)) {
                    alone.addAll(new BatchScheduler(gpu, roomy, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(off).runSessions(List.of(s)).outcomes());
                }
            // 7 blocks of 4: one idle session holds 3 while the other two grow to 3 each at batch 2
            try (GpuPagedKvCache tight = gpu.newCache(4, 7); GpuKvOffload off = new GpuKvOffload(tight, 1 << 20)) {
                BatchScheduler.Report r = new BatchScheduler(gpu, tight, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(off).runSessions(sessions);
                KvOffloadTest.assertSameTokens(alone, r.outcomes(), "GPU offload");
                assertTrue(r.reuse().offloads() > 0 && r.reuse().prefetches() > 0, r.reuse().toString());
                assertEquals(r.reuse().bytesOffloaded(), off.bytesOffloaded());
                assertEquals(tight.numBlocks(), tight.freeBlocks());
                System.out.println("GPU (" + ctx.device().name() + ") 3 sessions x 2 turns, 7 blocks of 4: " + r.reuse());
            }
            try (GpuPagedKvCache c = gpu.newCache(4, 8)) {
                var e = assertThrows(IllegalArgumentException.class, () -> new GpuKvOffload(c, 0));
                assertTrue(e.getMessage().contains("KV offload needs a host memory budget"), e.getMessage());
            }
        }
    }

    /** The device pools' bytes of a sequence survive an offload and a prefetch into other blocks. */
    @Test void aDeviceRoundTripIsBitForBit() {
        CudaContext ctx = org.tessel.runtime.gpu.GpuTestSupport.requireGpu();
        try (GpuDecoderRunner gpu = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx); GpuPagedKvCache c = gpu.newCache(4, 8);
             GpuKvOffload off = new GpuKvOffload(c, 4 * 2L * c.layers() * c.config().blockBytes())) {
            gpu.step(List.of(new DecoderRunner.Row("a", new long[] {1, 2, 3, 4, 5, 6}), new DecoderRunner.Row("b", new long[] {9, 8, 7})), c);
            byte[][] before = blocks(c, c.blockTable("a"));
            List<Integer> table = List.copyOf(c.blockTable("a"));
            off.offload("a");
            c.reserve("b", 6); // b takes a's old blocks
            gpu.step(List.of(new DecoderRunner.Row("b", new long[] {1, 1, 1, 1, 1, 1})), c);
            off.prefetch("a");
            off.awaitPrefetch("a");
            assertNotEquals(table, c.blockTable("a"));
            byte[][] after = blocks(c, c.blockTable("a"));
            for (int i = 0; i < before.length; i++) assertArrayEquals(before[i], after[i], "pool block copy " + i);
        }
    }

    private static byte[][] blocks(GpuPagedKvCache c, List<Integer> table) {
        long bb = c.config().blockBytes();
        byte[][] out = new byte[2 * c.layers() * table.size()][(int) bb];
        int i = 0;
        for (int l = 0; l < c.layers(); l++)
            for (int b : table) {
                byte[] all = new byte[(int) c.config().poolBytes()];
                c.keys(l).copyTo(all);
                System.arraycopy(all, (int) (b * bb), out[i++], 0, (int) bb);
                c.values(l).copyTo(all);
                System.arraycopy(all, (int) (b * bb), out[i++], 0, (int) bb);
            }
        return out;
    }
}
