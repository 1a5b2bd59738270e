package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PagedAttentionOp;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * A decode step's paged attention with the rotary embeddings of its q and new keys (either or both) fused in (a
 * {@code rope_attention} group on {@code tessel.attention.paged}: one launch, or two with a split context), inside a GPU
 * engine planned by the joint search at the engine's precision with the attention forced onto the tactic, against the CPU engine running the
 * graph as written (f32 ropes, then the reference attention). For the emulated-device test and the GPU test alike.
 * Inputs are drawn representable in the storage type; cos and sin are those of random angles, [B, 1, 1, D] (one row a
 * sequence, shared by the heads) or [1, 1, 1, D] (one row for the batch). Checked: the plan fuses the group and the
 * engine runs the one layer; the output within {@link #bound} of the CPU engine's (absolute, outputs of magnitude ~1);
 * the pools equal the CPU engine's everywhere but the new slots, which hold the rotated new keys (and the values) within
 * the storage's rounding (f16/bf16: 2 units; FP8: one E4M3 step, as the kernel quantizes the key rounded to the storage
 * type and the reference the f32 one).
 */
final class RopeAttentionCheck {
    private RopeAttentionCheck() {}

    /**
     * The output's bound: the storage type's rounding, and with FP8 pools the new token's key and value one E4M3 step
     * (1/16 relative) apart from the reference's, which quantizes the f32 rows where the kernel quantizes them rounded
     * (the emulated device measured 1.3e-2 at a one-token context, where the output is the new value)
     */
    static double bound(GpuEngine.Precision p, boolean fp8) { return fp8 ? 3e-2 : p == GpuEngine.Precision.FP16 ? 2e-3 : 8e-3; }

    /** One step's geometry: context lengths (each >= 1, the new token last), heads, KV heads, head size, block size. */
    record Case(int[] lens, int heads, int kvHeads, int headDim, int blockSize, boolean ropeQ, boolean ropeK, boolean batchCos, boolean fp8) {
        int batch() { return lens.length; }

        int maxBlocks() {
            int m = 1;
            for (int l : lens) m = Math.max(m, (l + blockSize - 1) / blockSize);
            return m;
        }

        @Override public String toString() {
            return "rope_attention B" + batch() + " lens" + java.util.Arrays.toString(lens) + " H" + heads + "/" + kvHeads + " D" + headDim + " bs" + blockSize
                    + (ropeQ ? " q" : "") + (ropeK ? " k" : "") + (batchCos ? " cos[B,1,1,D]" : " cos[1,1,1,D]") + (fp8 ? " kv f8e4m3" : "");
        }
    }

    static final float K_SCALE = 0.01f, V_SCALE = 0.008f;

    static Graph graph(Case c) {
        int b = c.batch(), d = c.headDim(), nb = c.batch() * c.maxBlocks() + 2;
        NetworkBuilder nw = new NetworkBuilder("rope_attention");
        DType pool = c.fp8() ? DType.F8E4M3 : DType.F32;
        Value q = nw.input("q", DType.F32, b, 1, c.heads(), d), k = nw.input("k", DType.F32, b, 1, c.kvHeads(), d), v = nw.input("v", DType.F32, b, 1, c.kvHeads(), d);
        int cb = c.batchCos() ? b : 1;
        Value cos = nw.input("cos", DType.F32, cb, 1, 1, d), sin = nw.input("sin", DType.F32, cb, 1, 1, d);
        Value kp = nw.input("k_pool", pool, nb, c.kvHeads(), c.blockSize(), d), vp = nw.input("v_pool", pool, nb, c.kvHeads(), c.blockSize(), d);
        Value tables = nw.input("block_tables", DType.I32, b, c.maxBlocks()), slots = nw.input("slots", DType.I32, b, 1), lens = nw.input("context_lens", DType.I32, b);
        if (c.ropeQ()) q = nw.node(RotaryEmbeddingOps.HALF_ROTATION, "q_rope", Attributes.empty(), 1, q, cos, sin).output();
        if (c.ropeK()) k = nw.node(RotaryEmbeddingOps.HALF_ROTATION, "k_rope", Attributes.empty(), 1, k, cos, sin).output();
        Attributes attrs = c.fp8() ? Attributes.builder().put("k_scale", K_SCALE).put("v_scale", V_SCALE).build() : Attributes.empty();
        Node att = nw.node(PagedAttentionOp.NAME, "attention", attrs, 3, q, k, v, kp, vp, tables, slots, lens);
        return nw.output(att.output(0), att.output(1), att.output(2)).build();
    }

    static Tensor random(SplittableRandom r, DType storage, double sd, double mean, int... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(storage, (float) (mean + sd * r.nextGaussian()));
        return Tensor.ofFloats(DType.F32, s, v);
    }

    static Map<String, Tensor> inputs(Case c, Graph g, DType storage, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = c.batch(), d = c.headDim(), mb = c.maxBlocks(), bs = c.blockSize();
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("q", random(r, storage, 1.0, 0, b, 1, c.heads(), d));
        in.put("k", random(r, storage, 1.0, 0, b, 1, c.kvHeads(), d));
        in.put("v", random(r, storage, 0.4, 0.5, b, 1, c.kvHeads(), d));
        int cb = c.batchCos() ? b : 1;
        float[] cos = new float[cb * d], sin = new float[cb * d];
        for (int row = 0; row < cb; row++)
            for (int i = 0; i < d / 2; i++) {
                double angle = r.nextDouble(0, 2 * Math.PI);
                cos[row * d + i] = cos[row * d + i + d / 2] = Tensor.round(storage, (float) Math.cos(angle));
                sin[row * d + i] = sin[row * d + i + d / 2] = Tensor.round(storage, (float) Math.sin(angle));
            }
        in.put("cos", Tensor.ofFloats(DType.F32, Shape.of(cb, 1, 1, d), cos));
        in.put("sin", Tensor.ofFloats(DType.F32, Shape.of(cb, 1, 1, d), sin));
        Shape ps = g.inputs().stream().filter(x -> x.name().equals("k_pool")).findFirst().orElseThrow().type().shape();
        DType pool = c.fp8() ? DType.F8E4M3 : DType.F32;
        float[] kp = new float[(int) ps.numElements()], vp = new float[kp.length];
        for (int i = 0; i < kp.length; i++) {
            kp[i] = c.fp8() ? Float8E4M3.round((float) (0.8 * r.nextGaussian() / K_SCALE)) : Tensor.round(storage, (float) (0.8 * r.nextGaussian()));
            vp[i] = c.fp8() ? Float8E4M3.round((float) ((0.5 + 0.4 * r.nextGaussian()) / V_SCALE)) : Tensor.round(storage, (float) (0.5 + 0.4 * r.nextGaussian()));
        }
        in.put("k_pool", Tensor.ofFloats(pool, ps, kp));
        in.put("v_pool", Tensor.ofFloats(pool, ps, vp));
        // sequence s owns blocks s, b + s, 2b + s, ... (scattered); its new token at position lens[s] - 1
        long[] tables = new long[b * mb], slots = new long[b], lens = new long[b];
        for (int s = 0; s < b; s++) {
            for (int j = 0; j < mb; j++) tables[s * mb + j] = j * b + s;
            int pos = c.lens()[s] - 1;
            lens[s] = c.lens()[s];
            slots[s] = tables[s * mb + pos / bs] * bs + pos % bs;
        }
        in.put("block_tables", Tensor.ofLongs(DType.I32, Shape.of(b, mb), tables));
        in.put("slots", Tensor.ofLongs(DType.I32, Shape.of(b, 1), slots));
        in.put("context_lens", Tensor.ofLongs(DType.I32, Shape.of(b), lens));
        return in;
    }

    /**
     * The joint search's plan at FP32 and p, the attention forced onto tessel.attention.paged at p and the ropes held at p
     * (free, it would run this graph's ropes unfused at FP32 on its f32 inputs, since a group at p casts q, cos and sin
     * first: in a decoder everything upstream is at p already).
     */
    static PlanApplier.Applied planned(Graph g, GpuEngine.Precision p) {
        Precision at = Precision.valueOf(p.name());
        String lower = p.name().toLowerCase(java.util.Locale.ROOT);
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, at))
                .withForced(List.of(ForcedChoice.parse("tessel.PagedAttention=tessel.attention.paged:" + lower)))
                .withPrecisionRules(List.of(PrecisionRule.parse("tessel.RotaryEmbedding=" + lower)));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
    }

    /** Runs case c at precision p; returns a summary line (largest output error). */
    static String check(CudaContext ctx, Case c, GpuEngine.Precision p, long seed) {
        Graph g = graph(c);
        Map<String, Tensor> in = inputs(c, g, p.storage(), seed);
        Map<String, Tensor> want = Engine.buildCpu(g).createContext().run(in);
        PlanApplier.Applied a = planned(g, p);
        assertEquals(List.of("rope_attention"), a.plan().groups().stream().map(f -> f.kind()).toList(), c + ": the plan fuses the ropes into the attention");
        Map<String, Tensor> got;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext x = e.createExecutionContext()) {
            List<String> tactics = e.layerPlans().stream().map(l -> l.tactic()).filter(t -> !t.equals(GpuTactics.VIEW)).toList();
            assertEquals(List.of(GpuTactics.ATTENTION_PAGED), tactics.stream().distinct().toList(), c + ": one layer runs it all");
            got = x.run(in);
        }
        String out = g.outputs().get(0).name();
        double worst = 0;
        Tensor wo = want.get(out), go = got.get(out);
        for (int i = 0; i < wo.size(); i++) {
            double err = Math.abs(go.getFloat(i) - wo.getFloat(i));
            worst = Math.max(worst, err);
            assertTrue(err <= bound(p, c.fp8()), c + " " + p + " output " + i + ": " + go.getFloat(i) + " vs " + wo.getFloat(i));
        }
        double u = p == GpuEngine.Precision.FP16 ? 0x1p-10 : 0x1p-7;
        for (int j = 1; j < 3; j++) {
            String name = g.outputs().get(j).name();
            Tensor w = want.get(name), gp = got.get(name);
            for (int i = 0; i < w.size(); i++) {
                double ref = w.getFloat(i), err = Math.abs(gp.getFloat(i) - ref);
                double tol = c.fp8() ? 0.13 * Math.abs(ref) + 0x1p-9 : 2 * u * Math.abs(ref);
                assertTrue(err <= tol, c + " " + p + " pool " + name + " element " + i + ": " + gp.getFloat(i) + " vs " + ref);
            }
        }
        return c + " " + p + ": max |error| " + String.format("%.2e", worst);
    }
}
