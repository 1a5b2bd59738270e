package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * The paged step graphs ({@code tessel.PagedAttention} over K/V pools) against today's contiguous graphs under the
 * reference interpreter: a batched paged prefill of two prompts of different lengths (the short one padded) with
 * scattered block tables, then paged decode steps, give each sequence the logits of the contiguous prefill and
 * decode graphs, and the pools hold, at each sequence's slots, the contiguous graph's present keys and values.
 * Also the op's refusals of inconsistent inputs.
 */
class PagedDecoderTest {
    private static final long SEED = 7;
    private static final int BS = 4, BLOCKS = 12;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void pagedPrefillAndDecodeEqualTheContiguousGraphs(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        long[][] prompts = {{17, 3, 400, 99, 250, 8}, {300, 301, 302}};
        long[][] next = {{1, 511, 42}, {9, 10, 11}};
        // blocks handed out round robin so both tables are scattered through the pool
        int[][] tables = {{5, 0, 7, 2}, {9, 3, 11, 1}};
        int maxBlocks = 4, hd = c.headDim(), kvh = c.kvHeads();
        Map<String, Tensor> pools = new LinkedHashMap<>();
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) pools.put("kv_pool." + l + "." + kv, Tensor.zeros(DType.F32, Shape.of(BLOCKS, kvh, BS, hd)));
        int[] len = {0, 0};
        ReferenceInterpreter ri = new ReferenceInterpreter();
        // prefill: 6 and 3 tokens in one step of 8 new tokens (padding after each prompt)
        Map<String, Tensor> out = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(2, 8, maxBlocks, BS, BLOCKS), SEED),
                inputs(prompts, tables, len, 8, pools));
        Graph contiguous = Zoo.buildDecoder(model, c, DecoderShape.prefill(1, 6), SEED);
        for (int r = 0; r < 2; r++) {
            int n = prompts[r].length;
            Map<String, Tensor> want = ri.run(Zoo.buildDecoder(model, c, DecoderShape.prefill(1, n), SEED), contiguousInputs(prompts[r], 0, null));
            for (int i = 0; i < n; i++) assertClose(row(want.get("logits"), 0, i, 1, n), row(out.get("logits"), r, i, 2, 8), model + " prefill row " + r + " token " + i);
            for (int l = 0; l < c.layers(); l++)
                for (String kv : List.of("key", "value"))
                    for (int p = 0; p < n; p++)
                        for (int h = 0; h < kvh; h++)
                            for (int d = 0; d < hd; d++) {
                                float w = want.get("present." + l + "." + kv).getFloat((h * n + p) * hd + d);
                                float g = out.get("present_pool." + l + "." + kv).getFloat(((tables[r][p / BS] * kvh + h) * BS + p % BS) * hd + d);
                                assertEquals(w, g, 1e-4, model + " pool " + l + "." + kv + " row " + r + " position " + p);
                            }
            len[r] = n;
        }
        assertEquals(6, contiguous.value("present.0.key").type().shape().dim(2));
        // decode steps: one token per sequence, the pools carried over
        long[][] seqs = {prompts[0].clone(), prompts[1].clone()};
        for (int step = 0; step < 3; step++) {
            for (String k : pools.keySet()) pools.put(k, out.get(k.replace("kv_pool", "present_pool")));
            long[][] feed = {{next[0][step]}, {next[1][step]}};
            out = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(2, 1, maxBlocks, BS, BLOCKS), SEED), inputs(feed, tables, len, 1, pools));
            for (int r = 0; r < 2; r++) {
                long[] all = java.util.Arrays.copyOf(seqs[r], seqs[r].length + 1);
                all[seqs[r].length] = next[r][step];
                Tensor want = ri.run(Zoo.buildDecoder(model, c, DecoderShape.prefill(1, all.length), SEED), contiguousInputs(all, 0, null)).get("logits");
                assertClose(row(want, 0, all.length - 1, 1, all.length), row(out.get("logits"), r, 0, 2, 1), model + " decode step " + step + " row " + r);
                seqs[r] = all;
                len[r]++;
            }
        }
    }

    /**
     * The FP8 cache's two forms agree: the paged graph with f8e4m3 pools (the op quantizes on write, dequantizes on read)
     * and the contiguous graph rounding its new keys and values through QuantizeLinear/DequantizeLinear give the same
     * logits for a prefill of 6 tokens and 2 decode steps (1e-4; both read exactly the E4M3 values, unless a key within
     * 1e-6 of a rounding tie flips, which these seeds do not hit), every stored code times the layer's scale equals the
     * contiguous present value, and the logits differ from the native cache's (the rounding is real).
     */
    @Test void fp8PagedAndContiguousFormsAgree() {
        String model = "llama-tiny";
        DecoderConfig c = Zoo.decoder(model, 0);
        KvCacheFormat fp8 = KvCacheFormat.fp8(new float[] {0.011f, 0.013f}, new float[] {0.007f, 0.009f});
        long[] prompt = {17, 3, 400, 99, 250, 8};
        int[][] tables = {{5, 0, 7, 2}};
        int hd = c.headDim(), kvh = c.kvHeads();
        Map<String, Tensor> pools = new LinkedHashMap<>();
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) pools.put("kv_pool." + l + "." + kv, Tensor.zeros(DType.F8E4M3, Shape.of(BLOCKS, kvh, BS, hd)));
        ReferenceInterpreter ri = new ReferenceInterpreter();
        Map<String, Tensor> out = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(1, 6, 4, BS, BLOCKS), SEED, fp8), inputs(new long[][] {prompt}, tables, new int[] {0}, 6, pools));
        Map<String, Tensor> want = ri.run(Zoo.buildDecoder(model, c, DecoderShape.prefill(1, 6), SEED, null, fp8), contiguousInputs(prompt, 0, null));
        Map<String, Tensor> plain = ri.run(Zoo.buildDecoder(model, c, DecoderShape.prefill(1, 6), SEED), contiguousInputs(prompt, 0, null));
        for (int i = 0; i < 6; i++) assertClose(row(want.get("logits"), 0, i, 1, 6), row(out.get("logits"), 0, i, 1, 6), "fp8 prefill token " + i);
        double moved = 0;
        for (int i = 0; i < want.get("logits").size(); i++) moved = Math.max(moved, Math.abs(want.get("logits").getFloat(i) - plain.get("logits").getFloat(i)));
        assertTrue(moved > 1e-3, "FP8 rounding changes the logits: " + moved);
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) {
                Tensor pool = out.get("present_pool." + l + "." + kv);
                assertEquals(DType.F8E4M3, pool.dtype());
                float s = kv.equals("key") ? fp8.keyScale(l) : fp8.valueScale(l);
                for (int p = 0; p < 6; p++)
                    for (int h = 0; h < kvh; h++)
                        for (int d = 0; d < hd; d++) {
                            float w = want.get("present." + l + "." + kv).getFloat((h * 6 + p) * hd + d);
                            float g = pool.getFloat(((tables[0][p / BS] * kvh + h) * BS + p % BS) * hd + d) * s;
                            assertEquals(w, g, 1e-6, "pool " + l + "." + kv + " position " + p);
                        }
            }
        long[] seq = prompt;
        int len = 6;
        for (long tok : new long[] {42, 7}) {
            for (String k : pools.keySet()) pools.put(k, out.get(k.replace("kv_pool", "present_pool")));
            out = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(1, 1, 4, BS, BLOCKS), SEED, fp8), inputs(new long[][] {{tok}}, tables, new int[] {len}, 1, pools));
            seq = java.util.Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = tok;
            Tensor w = ri.run(Zoo.buildDecoder(model, c, DecoderShape.prefill(1, seq.length), SEED, null, fp8), contiguousInputs(seq, 0, null)).get("logits");
            assertClose(row(w, 0, seq.length - 1, 1, seq.length), row(out.get("logits"), 0, 0, 1, 1), "fp8 decode at " + len);
            len++;
        }
    }

    /**
     * A packed step (the sequences' new tokens packed into one, no padding between them) gives each sequence the logits
     * and pool contents of the padded steps: after a padded prefill of sequence 0, one packed step feeds it a decode
     * token beside sequence 1's whole prompt of 3 tokens, a sequence feeding none (a bucket's spare row) and 4 padding
     * tokens at the end; its logits [1, 3, vocab] are each sequence's last token's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void aPackedStepEqualsThePaddedSteps(String model) {
        DecoderConfig c = Zoo.decoder(model, 0);
        long[] prompt0 = {17, 3, 400, 99, 250, 8}, prompt1 = {300, 301, 302};
        int[][] tables = {{5, 0, 7, 2}, {9, 3, 11, 1}, {0, 0, 0, 0}};
        int hd = c.headDim(), kvh = c.kvHeads();
        Map<String, Tensor> pools = new LinkedHashMap<>();
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) pools.put("kv_pool." + l + "." + kv, Tensor.zeros(DType.F32, Shape.of(BLOCKS, kvh, BS, hd)));
        ReferenceInterpreter ri = new ReferenceInterpreter();
        Map<String, Tensor> out = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(1, 6, 4, BS, BLOCKS), SEED),
                inputs(new long[][] {prompt0}, new int[][] {tables[0]}, new int[] {0}, 6, pools));
        for (String k : pools.keySet()) pools.put(k, out.get(k.replace("kv_pool", "present_pool")));
        // the padded way: sequence 0's decode step, sequence 1's prefill
        Map<String, Tensor> decode = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(1, 1, 4, BS, BLOCKS), SEED),
                inputs(new long[][] {{42}}, new int[][] {tables[0]}, new int[] {6}, 1, pools));
        Map<String, Tensor> prefill = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(1, 4, 4, BS, BLOCKS), SEED),
                inputs(new long[][] {prompt1}, new int[][] {tables[1]}, new int[] {0}, 4, pools));
        // the packed way: both in one step of 8 token slots
        long[][] feed = {{42}, prompt1, {}};
        int[] len = {6, 0, 0};
        Map<String, Tensor> packed = ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(3, 8, 4, BS, BLOCKS, true), SEED), packedInputs(feed, tables, len, 8, pools));
        assertEquals(Shape.of(1, 3, c.vocab()), packed.get("logits").shape());
        assertClose(row(decode.get("logits"), 0, 0, 1, 1), row(packed.get("logits"), 0, 0, 1, 3), model + " packed decode token");
        assertClose(row(prefill.get("logits"), 0, 2, 1, 4), row(packed.get("logits"), 0, 1, 1, 3), model + " packed prefill's last token");
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) {
                Tensor p = packed.get("present_pool." + l + "." + kv);
                for (int blk : new int[] {2, 9, 3}) // sequence 0's position 6 (block 2), sequence 1's positions 0-3 (block 9)
                    for (int e = blk * kvh * BS * hd; e < (blk + 1) * kvh * BS * hd; e++) {
                        Tensor want = blk == 2 ? decode.get("present_pool." + l + "." + kv) : prefill.get("present_pool." + l + "." + kv);
                        assertEquals(want.getFloat(e), p.getFloat(e), 1e-5, model + " pool " + l + "." + kv + " block " + blk);
                    }
            }
        // a padding token with a slot is refused, naming it
        Map<String, Tensor> bad = packedInputs(feed, tables, len, 8, pools);
        long[] slots = new long[8];
        for (int i = 0; i < 8; i++) slots[i] = bad.get("slots").getLong(i);
        slots[6] = 40;
        bad.put("slots", Tensor.ofLongs(DType.I64, Shape.of(1, 8), slots));
        Exception e = assertThrows(RuntimeException.class, () -> ri.run(Zoo.buildPagedDecoder(model, c, new PagedDecoderShape(3, 8, 4, BS, BLOCKS, true), SEED), bad));
        assertTrue(message(e).contains("slots[0, 6] = 40: token 6 is past the last sequence's (query_starts[3] = 4), padding, whose slot is -1"), message(e));
    }

    /** Inputs of a packed step: sequence r feeds {@code feed[r]} after {@code len[r]} cached tokens, all packed into {@code n} token slots. */
    static Map<String, Tensor> packedInputs(long[][] feed, int[][] tables, int[] len, int n, Map<String, Tensor> pools) {
        int b = feed.length, mb = tables[0].length;
        long[] ids = new long[n], pos = new long[n], slots = new long[n], tab = new long[b * mb], lens = new long[b], starts = new long[b + 1], last = new long[b];
        java.util.Arrays.fill(slots, -1);
        int t = 0;
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < mb; j++) tab[r * mb + j] = tables[r][j];
            lens[r] = len[r] + feed[r].length;
            starts[r] = t;
            for (int i = 0; i < feed[r].length; i++, t++) {
                int p = len[r] + i;
                ids[t] = feed[r][i];
                pos[t] = p;
                slots[t] = (long) tables[r][p / BS] * BS + p % BS;
            }
            last[r] = Math.max(0, t - 1);
        }
        starts[b] = t;
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), ids));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), pos));
        in.put("block_tables", Tensor.ofLongs(DType.I64, Shape.of(b, mb), tab));
        in.put("slots", Tensor.ofLongs(DType.I64, Shape.of(1, n), slots));
        in.put("context_lens", Tensor.ofLongs(DType.I64, Shape.of(b), lens));
        in.put("query_starts", Tensor.ofLongs(DType.I64, Shape.of(b + 1), starts));
        in.put("last_tokens", Tensor.ofLongs(DType.I64, Shape.of(b), last));
        in.putAll(pools);
        return in;
    }

    @Test void theOpRefusesInconsistentInputsNamingThem() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        Graph g = Zoo.buildPagedDecoder("llama-tiny", c, new PagedDecoderShape(1, 1, 2, BS, BLOCKS), SEED);
        Map<String, Tensor> pools = new LinkedHashMap<>();
        for (int l = 0; l < c.layers(); l++)
            for (String kv : List.of("key", "value")) pools.put("kv_pool." + l + "." + kv, Tensor.zeros(DType.F32, Shape.of(BLOCKS, c.kvHeads(), BS, c.headDim())));
        Map<String, Tensor> in = inputs(new long[][] {{5}}, new int[][] {{3, 4}}, new int[] {2}, 1, pools);
        in.put("slots", Tensor.ofLongs(DType.I64, Shape.of(1, 1), 13)); // position 2 is slot 3 * 4 + 2 = 14
        Exception e = assertThrows(RuntimeException.class, () -> new ReferenceInterpreter().run(g, in));
        assertTrue(message(e).contains("slots[0, 0] = 13, but position 2 of sequence 0 is slot 14"), message(e));
        in.put("slots", Tensor.ofLongs(DType.I64, Shape.of(1, 1), 14));
        in.put("block_tables", Tensor.ofLongs(DType.I64, Shape.of(1, 2), 12, 4));
        e = assertThrows(RuntimeException.class, () -> new ReferenceInterpreter().run(g, in));
        assertTrue(message(e).contains("block_tables[0, 0] = 12 is outside the pools' 12 blocks"), message(e));
        in.put("block_tables", Tensor.ofLongs(DType.I64, Shape.of(1, 2), 3, 4));
        in.put("context_lens", Tensor.ofLongs(DType.I64, Shape.of(1), 9));
        e = assertThrows(RuntimeException.class, () -> new ReferenceInterpreter().run(g, in));
        assertTrue(message(e).contains("context_lens[0] = 9 must hold the row's 1 new tokens and fit its block table of 2 blocks of 4"), message(e));
        // shapes: a k_new with the wrong head size
        var b = new org.tessel.ir.NetworkBuilder("bad");
        Value q = b.input("q", DType.F32, 1, 1, 4, 16), k = b.input("k", DType.F32, 1, 1, 3, 16), kp = b.input("kp", DType.F32, 2, 2, 4, 16);
        Value t = b.input("t", DType.I64, 1, 2), s = b.input("s", DType.I64, 1, 1), n = b.input("n", DType.I64, 1);
        Exception shape = assertThrows(RuntimeException.class, () -> b.node("tessel.PagedAttention", "pa", null, 3, q, k, k, kp, kp, t, s, n));
        assertTrue(message(shape).contains("node 'pa' (tessel.PagedAttention): 4 query heads cannot share 3 KV heads"), message(shape));
    }

    private static String message(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) sb.append(t.getMessage()).append(" | ");
        return sb.toString();
    }

    /** Inputs of a paged step: row r feeds {@code feed[r]} after {@code len[r]} cached tokens, padded to {@code n}. */
    static Map<String, Tensor> inputs(long[][] feed, int[][] tables, int[] len, int n, Map<String, Tensor> pools) {
        int b = feed.length, mb = tables[0].length;
        long[] ids = new long[b * n], pos = new long[b * n], slots = new long[b * n], tab = new long[b * mb], lens = new long[b];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < mb; j++) tab[r * mb + j] = tables[r][j];
            lens[r] = len[r] + feed[r].length;
            for (int i = 0; i < n; i++) {
                boolean real = i < feed[r].length;
                int p = len[r] + i;
                ids[r * n + i] = real ? feed[r][i] : 0;
                pos[r * n + i] = real ? p : 0;
                slots[r * n + i] = real ? (long) tables[r][p / BS] * BS + p % BS : -1;
            }
        }
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(b, n), ids));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(b, n), pos));
        in.put("block_tables", Tensor.ofLongs(DType.I64, Shape.of(b, mb), tab));
        in.put("slots", Tensor.ofLongs(DType.I64, Shape.of(b, n), slots));
        in.put("context_lens", Tensor.ofLongs(DType.I64, Shape.of(b), lens));
        in.putAll(pools);
        return in;
    }

    static Map<String, Tensor> contiguousInputs(long[] tokens, int past, Map<String, Tensor> cache) {
        int n = tokens.length;
        long[] mask = new long[past + n], pos = new long[n];
        java.util.Arrays.fill(mask, 1);
        for (int i = 0; i < n; i++) pos[i] = past + i;
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), tokens));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(1, past + n), mask));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, n), pos));
        return in;
    }

    /** Token i of row r of logits [rows, n, vocab]. */
    static float[] row(Tensor logits, int r, int i, int rows, int n) {
        int vocab = logits.shape().dim(2);
        return java.util.Arrays.copyOfRange(logits.floats(), (r * n + i) * vocab, (r * n + i + 1) * vocab);
    }

    static void assertClose(float[] want, float[] got, String what) {
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        assertTrue(worst < 1e-4, what + ": max abs difference " + worst);
    }
}
