package org.tessel.runtime.gpu.kernels;

import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaGraph;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;

/**
 * {@code tessel.attention.mma} (tensor cores, f16) and {@code tessel.attention.bshd} (CUDA cores, the
 * f32/tf32 engines' path) against the reference interpreter on the engine's attention body: Q, K, V
 * as [B, S, H*D] rows, head split by Reshape + Transpose, additive key mask [B, 1, 1, Sk] of 0 and
 * -10000 (batch 0's keys all masked in one case), merge heads back to [B, Sq, H*D]. Then both
 * kernels timed at BERT's shapes (CUDA graph of 20 launches, median of 20 replays).
 */
@Tag("gpu")
class MmaAttentionGpuTest {
    /** The attention body the fusion pass produces (see AttentionBody), in f32 for the reference. */
    static Graph body(int bsz, int heads, int sq, int sk, int d, float scale, int maskBatch) {
        NetworkBuilder b = new NetworkBuilder("attention");
        int hd = heads * d;
        Value q = b.input("q", DType.F32, bsz, sq, hd), k = b.input("k", DType.F32, bsz, sk, hd), v = b.input("v", DType.F32, bsz, sk, hd);
        Value m = b.input("mask", DType.F32, maskBatch, 1, 1, sk);
        Value qh = b.transpose(b.reshape(q, bsz, sq, heads, d), 0, 2, 1, 3);
        Value kh = b.transpose(b.reshape(k, bsz, sk, heads, d), 0, 2, 3, 1);
        Value vh = b.transpose(b.reshape(v, bsz, sk, heads, d), 0, 2, 1, 3);
        Value scores = b.add(b.mul(b.matmul(qh, kh), b.scalar("scale", DType.F32, scale)), m);
        Value ctx = b.matmul(b.softmax(scores, -1), vh);
        return b.output(b.reshape(b.transpose(ctx, 0, 2, 1, 3), bsz, sq, hd)).build();
    }

    @Test void tensorCoreAttentionMatchesTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        CudaStream s = CudaStream.DEFAULT;
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(55);
        // batch, heads, seqQ, seqK, headDim, mask (0 none, 1 per batch, 2 one row broadcast, 3 per batch with batch 0 all masked)
        int[][] cases = {
            {1, 12, 128, 128, 64, 1}, {4, 12, 128, 128, 64, 1}, {32, 12, 128, 128, 64, 1},
            {1, 4, 50, 50, 64, 0}, {4, 6, 50, 50, 64, 3}, {32, 2, 50, 50, 64, 1},
            {1, 2, 384, 384, 64, 1}, {4, 3, 384, 384, 64, 2}, {32, 1, 384, 384, 64, 1},
            {2, 4, 77, 130, 32, 1}, {3, 2, 65, 64, 128, 1}, {2, 3, 17, 200, 16, 0},
        };
        for (int[] c : cases)
            for (DType t : new DType[] {DType.F16, DType.F32}) {
                String kernel = t == DType.F16 ? "tessel.attention.mma" : "tessel.attention.bshd";
                String what = kernel + " " + t.text() + " B" + c[0] + " H" + c[1] + " Sq" + c[2] + " Sk" + c[3] + " D" + c[4] + " mask" + c[5];
                checks.check(what, () -> checkCase(kc, s, r, c, t, what));
            }
        checks.done();
    }

    /** One case {batch, heads, seqQ, seqK, headDim, mask kind} at {@code t}: the tensor-core kernel (f16) or the CUDA-core one against the reference. */
    static void checkCase(KernelCompiler kc, CudaStream s, SplittableRandom r, int[] c, DType t, String what) {
        int bsz = c[0], heads = c[1], sq = c[2], sk = c[3], d = c[4], hd = heads * d;
        int maskBatch = c[5] == 2 ? 1 : bsz;
        float scale = (float) (1 / Math.sqrt(d));
        Tensor qv = GpuTestSupport.random(r, t, Shape.of(bsz, sq, hd), -2, 2), kv = GpuTestSupport.random(r, t, Shape.of(bsz, sk, hd), -2, 2),
                vv = GpuTestSupport.random(r, t, Shape.of(bsz, sk, hd), -1, 1);
        float[] mask = new float[maskBatch * sk];
        for (int bi = 0; bi < maskBatch; bi++)
            for (int j = 0; j < sk; j++) {
                boolean off = c[5] != 0 && (c[5] == 3 && bi == 0 || j >= sk - 1 - (bi * 7) % Math.max(1, sk / 2) || r.nextInt(10) == 0);
                mask[bi * sk + j] = off ? -10000f : 0f;
            }
        Tensor mt = Tensor.ofFloats(Shape.of(maskBatch, 1, 1, sk), mask);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("q", GpuTestSupport.asF32(qv)); in.put("k", GpuTestSupport.asF32(kv)); in.put("v", GpuTestSupport.asF32(vv)); in.put("mask", mt);
        Tensor want = GpuTestSupport.reference(body(bsz, heads, sq, sk, d, scale, maskBatch), in).values().iterator().next();
        boolean masked = c[5] != 0;
        TransformerKernels.AttentionStrides ld = new TransformerKernels.AttentionStrides(hd, hd, hd, hd, maskBatch == 1 ? 0 : sk);
        try (DeviceBuffer dq = HostTensors.upload(qv); DeviceBuffer dk = HostTensors.upload(kv); DeviceBuffer dv = HostTensors.upload(vv);
             DeviceBuffer dm = HostTensors.upload(mt, t); DeviceBuffer dout = GpuTestSupport.poisoned(t, want.size())) {
            if (t == DType.F16) MmaAttention.run(kc, t, bsz, heads, sq, sk, d, scale, dq, dk, dv, masked ? dm : null, dout, ld, s);
            else TransformerKernels.attention(kc, t, bsz, heads, sq, sk, d, scale, dq, dk, dv, masked ? dm : null, dout, ld, s);
            assertClose(what, HostTensors.download(dout, t, want.shape()), want, t == DType.F32 ? 1e-3 : 1e-2);
        }
    }

    /**
     * torch SDPA's body as torch.dynamo exports it (bert_tiny_dynamo): Q and K^T each multiplied by c, K
     * transposed through Reshape [B*H,Sk,D] / Transpose[0,2,1] / Reshape [B,H,D,Sk], an additive per-query
     * mask [maskBatch,1,Sq,Sk] broadcast over heads, and, with {@code guard}, Where(IsNaN(softmax), 0, softmax).
     */
    static Graph sdpaBody(int bsz, int heads, int sq, int sk, int d, float c, int maskBatch, boolean guard) {
        NetworkBuilder b = new NetworkBuilder("sdpa");
        int hd = heads * d;
        Value q = b.input("q", DType.F32, bsz, sq, hd), k = b.input("k", DType.F32, bsz, sk, hd), v = b.input("v", DType.F32, bsz, sk, hd);
        Value m = b.input("mask", DType.F32, maskBatch, 1, sq, sk);
        Value qh = b.transpose(b.reshape(q, bsz, sq, heads, d), 0, 2, 1, 3);
        Value kh = b.reshape(b.transpose(b.reshape(b.transpose(b.reshape(k, bsz, sk, heads, d), 0, 2, 1, 3), bsz * heads, sk, d), 0, 2, 1), bsz, heads, d, sk);
        Value vh = b.transpose(b.reshape(v, bsz, sk, heads, d), 0, 2, 1, 3);
        Value cc = b.scalar("c", DType.F32, c);
        Value p = b.softmax(b.add(b.matmul(b.mul(qh, cc), b.mul(kh, cc)), m), -1);
        if (guard) p = b.op("Where", org.tessel.api.Attributes.empty(), b.op("IsNaN", org.tessel.api.Attributes.empty(), p), b.scalar("zero", DType.F32, 0), p);
        Value ctx = b.matmul(p, vh);
        return b.output(b.reshape(b.transpose(ctx, 0, 2, 1, 3), bsz, sq, hd)).build();
    }

    /**
     * Both kernels with a per-query mask ([B|1, Sq, Sk] strides, broadcast over heads) against the reference
     * interpreter on {@link #sdpaBody}: mask values in [-1, 1) (so a wrong row or batch stride shows), -inf
     * holes, a causal band, and whole rows of -inf. With the guard those rows must be exactly 0; without it,
     * NaN exactly where the reference's Softmax gives NaN (and every other element within tolerance).
     */
    @Test void perQueryMaskAndNanGuardMatchTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        CudaStream s = CudaStream.DEFAULT;
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(57);
        // batch, heads, seqQ, seqK, headDim, mask batch (1: broadcast over the batch)
        int[][] cases = {{2, 2, 16, 16, 64, 2}, {3, 4, 77, 130, 64, 3}, {2, 3, 130, 65, 32, 2}, {1, 2, 200, 200, 128, 1}, {4, 12, 128, 128, 64, 1}, {2, 2, 33, 40, 16, 2}};
        String[] kernels = {"tessel.attention.mma f16", "tessel.attention.bshd f32", "tessel.attention.bshd f16"};
        for (int[] c : cases)
            for (String kernel : kernels)
                for (boolean guard : new boolean[] {true, false}) {
                    DType t = kernel.endsWith("f16") ? DType.F16 : DType.F32;
                    boolean mma = kernel.contains("mma");
                    String what = kernel + " per-query mask B" + c[0] + " H" + c[1] + " Sq" + c[2] + " Sk" + c[3] + " D" + c[4] + " maskB" + c[5] + (guard ? " guard" : " no-guard");
                    checks.check(what, () -> {
                        int bsz = c[0], heads = c[1], sq = c[2], sk = c[3], d = c[4], hd = heads * d, mb = c[5];
                        float cs = (float) Math.sqrt(1 / Math.sqrt(d));
                        Tensor qv = GpuTestSupport.random(r, t, Shape.of(bsz, sq, hd), -2, 2), kv = GpuTestSupport.random(r, t, Shape.of(bsz, sk, hd), -2, 2),
                                vv = GpuTestSupport.random(r, t, Shape.of(bsz, sk, hd), -1, 1);
                        float[] mask = new float[mb * sq * sk];
                        int emptyRows = 0;
                        for (int bi = 0; bi < mb; bi++)
                            for (int i = 0; i < sq; i++) {
                                boolean empty = (i + 3 * bi) % 7 == 3;
                                emptyRows += empty ? 1 : 0;
                                for (int j = 0; j < sk; j++) {
                                    boolean off = empty || j > i + 5 + bi || r.nextInt(8) == 0;
                                    if (j == 0 && !empty) off = false; // every other row keeps a key
                                    float val = (float) (r.nextDouble() * 2 - 1);
                                    mask[(bi * sq + i) * sk + j] = off ? Float.NEGATIVE_INFINITY : val;
                                }
                            }
                        if (emptyRows == 0) throw new AssertionError("no fully masked row in the case");
                        Tensor mt = Tensor.ofFloats(Shape.of(mb, 1, sq, sk), mask);
                        Map<String, Tensor> in = new LinkedHashMap<>();
                        in.put("q", GpuTestSupport.asF32(qv)); in.put("k", GpuTestSupport.asF32(kv)); in.put("v", GpuTestSupport.asF32(vv)); in.put("mask", mt);
                        Tensor want = GpuTestSupport.reference(sdpaBody(bsz, heads, sq, sk, d, cs, mb, guard), in).values().iterator().next();
                        TransformerKernels.AttentionStrides ld = new TransformerKernels.AttentionStrides(hd, hd, hd, hd, mb == 1 ? 0 : (long) sq * sk, sk);
                        try (DeviceBuffer dq = HostTensors.upload(qv); DeviceBuffer dk = HostTensors.upload(kv); DeviceBuffer dv = HostTensors.upload(vv);
                             DeviceBuffer dm = HostTensors.upload(mt, t); DeviceBuffer dout = GpuTestSupport.poisoned(t, want.size())) {
                            if (mma) MmaAttention.run(kc, t, bsz, heads, sq, sk, d, cs * cs, dq, dk, dv, dm, dout, ld, guard, s);
                            else TransformerKernels.attention(kc, t, bsz, heads, sq, sk, d, cs * cs, dq, dk, dv, dm, dout, ld, guard, s);
                            Tensor got = HostTensors.download(dout, t, want.shape());
                            // fully masked rows: exactly 0 under the guard, NaN (where the reference is NaN) without it
                            float[] g = new float[got.size()], w = new float[want.size()];
                            int special = 0;
                            for (int i = 0; i < g.length; i++) {
                                g[i] = got.getFloat(i);
                                w[i] = want.getFloat(i);
                                if (Float.isNaN(w[i])) {
                                    if (guard) throw new AssertionError("the guarded reference has NaN at " + i);
                                    if (!Float.isNaN(g[i])) throw new AssertionError("element " + i + " is " + g[i] + ", the reference (no guard) gives NaN");
                                    g[i] = w[i] = 0;
                                    special++;
                                } else if (Float.isNaN(g[i])) throw new AssertionError("element " + i + " is NaN, the reference gives " + w[i]);
                            }
                            int rowElems = hd; // each fully masked (batch, query) row is H*D outputs
                            int expectedSpecial = guard ? 0 : emptyRows * (mb == 1 ? bsz : 1) * rowElems;
                            if (special != expectedSpecial) throw new AssertionError(special + " NaN outputs, expected " + expectedSpecial);
                            if (guard) {
                                // the guarded empty rows: exactly 0
                                for (int bi = 0; bi < bsz; bi++)
                                    for (int i = 0; i < sq; i++)
                                        if ((i + 3 * (mb == 1 ? 0 : bi)) % 7 == 3)
                                            for (int e = 0; e < hd; e++)
                                                if (g[(bi * sq + i) * hd + e] != 0f) throw new AssertionError("guarded empty row b" + bi + " q" + i + " gives " + g[(bi * sq + i) * hd + e]);
                            }
                            assertClose(what, Tensor.ofFloats(want.shape(), g), Tensor.ofFloats(want.shape(), w), t == DType.F32 ? 1e-3 : 1e-2);
                        }
                    });
                }
        checks.done();
    }

    @Test void tensorCoreAndCudaCoreAttentionTimes() {
        KernelCompiler kc = GpuTestSupport.compiler();
        SplittableRandom r = new SplittableRandom(56);
        // batch, heads, seq, headDim
        int[][] shapes = {{1, 12, 128, 64}, {2, 12, 128, 64}, {4, 12, 128, 64}, {8, 12, 128, 64}, {32, 12, 128, 64}, {1, 12, 384, 64}, {32, 12, 384, 64}, {1, 3, 197, 64}};
        try (CudaStream s = CudaStream.create()) {
            for (int[] c : shapes) {
                int bsz = c[0], heads = c[1], seq = c[2], d = c[3], hd = heads * d;
                float scale = (float) (1 / Math.sqrt(d));
                long n = (long) bsz * seq * hd;
                TransformerKernels.AttentionStrides ld = new TransformerKernels.AttentionStrides(hd, hd, hd, hd, seq);
                try (DeviceBuffer dq = HostTensors.upload(GpuTestSupport.random(r, DType.F16, Shape.of((int) n), -2, 2));
                     DeviceBuffer dk = HostTensors.upload(GpuTestSupport.random(r, DType.F16, Shape.of((int) n), -2, 2));
                     DeviceBuffer dv = HostTensors.upload(GpuTestSupport.random(r, DType.F16, Shape.of((int) n), -1, 1));
                     DeviceBuffer dm = HostTensors.upload(Tensor.ofFloats(Shape.of(bsz * seq), new float[bsz * seq]), DType.F16);
                     DeviceBuffer o1 = DeviceBuffer.allocate(2 * n); DeviceBuffer o2 = DeviceBuffer.allocate(2 * n)) {
                    double bshd = graphUs(s, () -> TransformerKernels.attention(kc, DType.F16, bsz, heads, seq, seq, d, scale, dq, dk, dv, dm, o1, ld, s));
                    double mma = graphUs(s, () -> MmaAttention.run(kc, DType.F16, bsz, heads, seq, seq, d, scale, dq, dk, dv, dm, o2, ld, s));
                    Tensor a = HostTensors.download(o1, DType.F16, Shape.of((int) n)), b = HostTensors.download(o2, DType.F16, Shape.of((int) n));
                    double flops = 4.0 * bsz * heads * seq * seq * d;
                    System.out.printf("BENCH|attention|f16 B%d H%d S%d D%d|bshd_us=%.2f|mma_us=%.2f|speedup=%.2f|mma_tflops=%.1f|mma_vs_bshd_relL2=%.2e%n",
                            bsz, heads, seq, d, bshd, mma, bshd / mma, flops / (mma * 1e6), GpuTestSupport.error(b, a).relL2());
                }
            }
        }
    }

    /** Microseconds per launch: 20 launches captured in one CUDA graph, median of 20 replays after 3. */
    static double graphUs(CudaStream s, Runnable work) {
        work.run();
        s.synchronize();
        int per = 20, reps = 20;
        try (CudaGraph g = CudaGraph.capture(s, () -> { for (int i = 0; i < per; i++) work.run(); });
             CudaEvent a = new CudaEvent(); CudaEvent z = new CudaEvent()) {
            for (int i = 0; i < 3; i++) g.launch(s);
            double[] t = new double[reps];
            for (int i = 0; i < reps; i++) {
                a.record(s);
                g.launch(s);
                z.record(s);
                z.synchronize();
                t[i] = z.elapsedSince(a);
            }
            Arrays.sort(t);
            return t[reps / 2] * 1000 / per;
        }
    }
}
