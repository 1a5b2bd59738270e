package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.Zoo;

/**
 * KV offload of idle sessions on the CPU runner: a host round trip restores every key and value bit for bit into
 * other blocks (f32 and FP8 caches); four 3-turn sessions at batch 2 in a cache too small for all their contexts give
 * every turn exactly the tokens the session gets alone in a roomy cache, under offload (sessions offloaded and
 * prefetched, fewer tokens recomputed), under a host pool too small for any session (dropped, recomputed) and under
 * the recompute policy; bad input refused naming what is wrong.
 */
class KvOffloadTest {
    private static final long SEED = 3;
    private static final String MODEL = "llama-tiny";

    static DecoderRunner runner() { return new DecoderRunner(MODEL, Zoo.decoder(MODEL, 0), SEED); }

    @Test void aRoundTripRestoresEveryBlockBitForBitIntoOtherBlocks() {
        for (KvCacheFormat f : List.of(KvCacheFormat.NATIVE, KvCacheFormat.fp8(2, 0.01f))) {
            PagedKvCache c = new PagedKvCache(2, 2, 16, 4, 8, f);
            SplittableRandom r = new SplittableRandom(4);
            c.reserve("a", 6);
            c.reserve("b", 5);
            for (String seq : List.of("a", "b"))
                for (int p = 0; p < (seq.equals("a") ? 6 : 5); p++) {
                    float[][] k = new float[2][32], v = new float[2][32];
                    for (int l = 0; l < 2; l++)
                        for (int e = 0; e < 32; e++) {
                            k[l][e] = (float) r.nextGaussian();
                            v[l][e] = (float) r.nextGaussian();
                        }
                    c.append(seq, k, v);
                }
            float[][] before = snapshot(c, "a", 6);
            List<Integer> table = List.copyOf(c.blockTable("a"));
            CpuKvOffload off = new CpuKvOffload(c, 4 * (2L * 2 * 2 * 4 * 16 * (f.quantized() ? 1 : 4)));
            assertTrue(off.canHold("a"));
            long moved = off.offload("a");
            assertEquals(2 * off.blockBytes(), moved);
            assertTrue(!c.contains("a") && off.holds("a") && off.tokens("a") == 6);
            c.reserve("b", 9); // b takes a's old blocks
            off.prefetch("a");
            off.awaitPrefetch("a");
            assertNotEquals(table, c.blockTable("a"), "other blocks: the table is rewritten");
            assertEquals(6, c.length("a"));
            float[][] after = snapshot(c, "a", 6);
            for (int i = 0; i < before.length; i++) assertArrayEquals(before[i], after[i], f + " row " + i);
            assertEquals(0, off.hostUsedBytes());
        }
    }

    private static float[][] snapshot(PagedKvCache c, String seq, int len) {
        float[][] out = new float[2 * len * 2 * 2][16];
        int i = 0;
        for (int l = 0; l < 2; l++)
            for (int p = 0; p < len; p++)
                for (int h = 0; h < 2; h++)
                    for (int kv = 0; kv < 2; kv++) c.read(seq, l, p, h, kv == 1, out[i++], 0);
        return out;
    }

    /** Four sessions of 3 turns: a 6-token prompt, then 3 new tokens per turn, 5 tokens out each, think time 0.05 s. */
    static List<Session> sessions(int count) {
        SplittableRandom r = new SplittableRandom(21);
        List<Session> out = new ArrayList<>();
        for (int s = 0; s < count; s++) {
            List<Session.Turn> turns = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                long[] t = new long[k == 0 ? 6 : 3];
                for (int i = 0; i < t.length; i++) t[i] = r.nextInt(512);
                turns.add(new Session.Turn(t, 5, 0.05));
            }
            out.add(new Session("s" + s, 0, turns));
        }
        return out;
    }

    static void assertSameTokens(List<BatchScheduler.Outcome> want, List<BatchScheduler.Outcome> got, String what) {
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).request().id(), got.get(i).request().id());
            assertArrayEquals(want.get(i).output(), got.get(i).output(), what + ": " + got.get(i).request().id());
        }
    }

    @Test void sessionsUnderMemoryPressureGetTheirTokensAloneWithOffloadDropsAndRecompute() {
        DecoderRunner runner = runner();
        List<Session> sessions = sessions(4);
        List<BatchScheduler.Outcome> alone = new ArrayList<>();
        for (Session s : sessions) {
            PagedKvCache roomy = runner.newCache(4, 32);
            try (CpuKvOffload off = new CpuKvOffload(roomy, 1 << 20)) {
                BatchScheduler.Report r = new BatchScheduler(runner, roomy, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(off).runSessions(List.of(s));
                assertEquals(0, r.reuse().offloads() + r.reuse().drops(), "no pressure alone");
                assertEquals(10 + 18, r.reuse().reusedTokens(), "turn 1 reuses 6 + 5 - 1 cached tokens (the last output was never fed), turn 2 14 + 5 - 1");
                alone.addAll(r.outcomes());
            }
        }
        // 10 blocks of 4: two idle sessions hold 3 blocks each while the other two grow to 3 each, at batch 2
        PagedKvCache tight = runner.newCache(4, 10);
        BatchScheduler.Report offloaded;
        try (CpuKvOffload off = new CpuKvOffload(tight, 1 << 20)) {
            offloaded = new BatchScheduler(runner, tight, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(off).runSessions(sessions);
        }
        assertSameTokens(alone, offloaded.outcomes(), "offload");
        BatchScheduler.Reuse o = offloaded.reuse();
        assertTrue(o.offloads() > 0 && o.prefetches() > 0 && o.bytesOffloaded() > 0 && o.bytesPrefetched() > 0, o.toString());
        assertEquals(tight.numBlocks(), tight.freeBlocks(), "every block back");

        PagedKvCache tight2 = runner.newCache(4, 10);
        BatchScheduler.Report tiny;
        try (CpuKvOffload off = new CpuKvOffload(tight2, 2 * 2 * 2 * 4 * 16 * 4)) { // one block: no session fits
            tiny = new BatchScheduler(runner, tight2, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(off).runSessions(sessions);
        }
        assertSameTokens(alone, tiny.outcomes(), "drops");
        assertTrue(tiny.reuse().drops() > 0 && tiny.reuse().offloads() == 0, tiny.reuse().toString());

        BatchScheduler.Report recompute = new BatchScheduler(runner, runner.newCache(4, 10), BatchScheduler.Policy.IN_FLIGHT, 2, 8).runSessions(sessions);
        assertSameTokens(alone, recompute.outcomes(), "recompute");
        assertEquals(0, recompute.reuse().reusedTokens());
        assertTrue(recompute.reuse().recomputedTokens() > o.recomputedTokens(),
                "offload recomputes fewer tokens: " + o.recomputedTokens() + " against " + recompute.reuse().recomputedTokens());
        System.out.printf("4 sessions x 3 turns, 10 blocks of 4, batch 2: recompute %s%n  offload %s%n  host too small %s%n", recompute.reuse(), o, tiny.reuse());
    }

    @Test void badInputIsRefusedNamingWhatIsWrong() {
        DecoderRunner runner = runner();
        PagedKvCache cache = runner.newCache(4, 40);
        var e = assertThrows(IllegalArgumentException.class, () -> new CpuKvOffload(cache, 0));
        assertTrue(e.getMessage().contains("KV offload needs a host memory budget"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new CpuKvOffload(cache, 100));
        assertTrue(e.getMessage().contains("holds no block"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 2, 8).withOffload(null));
        assertTrue(e.getMessage().contains("host memory budget"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 2, 8)
                .withOffload(new CpuKvOffload(runner.newCache(4, 40), 1 << 20)));
        assertTrue(e.getMessage().contains("another cache"), e.getMessage());
        List<Session.Turn> turns = List.of(new Session.Turn(new long[60], 10, 0), new Session.Turn(new long[40], 10, 0), new Session.Turn(new long[5], 10, 0));
        BatchScheduler.Report r = new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 2, 8)
                .runSessions(List.of(new Session("long", 0, turns), sessions(1).getFirst()));
        BatchScheduler.Outcome refused = r.outcomes().getFirst();
        assertTrue(refused.refused());
        assertEquals("session long, turn 2 (request long/2): its context reaches 135 tokens (earlier turns and outputs, 5 new, up to 10 out), more than llama-tiny's 128 positions",
                refused.refusal());
        assertEquals(4, r.outcomes().size(), "the other session's 3 turns ran");
        assertTrue(r.outcomes().stream().skip(1).noneMatch(BatchScheduler.Outcome::refused));
    }
}
