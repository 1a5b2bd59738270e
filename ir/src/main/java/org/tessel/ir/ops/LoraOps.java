package org.tessel.ir.ops;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * {@code tessel.LoraDelta}: the low-rank term of several LoRA adapters (Hu et al. 2021) served over
 * one base weight at once, each batch row choosing its adapter (S-LoRA / Punica's batched gather,
 * BGMV). For x [batch, ..., K] it gives delta [batch, ..., N] with
 *
 * <pre>  delta[b, ...] = scales[a - 1] * (x[b, ...] · lora_a[a - 1]ᵀ) · lora_b[a - 1]ᵀ,  a = adapter_ids[b]</pre>
 *
 * and zeros where {@code adapter_ids[b] == 0} (the base model alone). The adapters are stacked:
 * {@code lora_a} [S, R, K] (each adapter's A [r, K] in slot s, padded with zero rows to the largest
 * rank R), {@code lora_b} [S, N, R] (B [N, r], padded with zero columns), {@code scales} f32 [S]
 * (alpha / r). An adapter id outside [0, S] is refused naming the row. The lora pass adds this delta
 * to a projection's MatMul output, so y = x·W + delta.
 *
 * <p>Reference semantics in f32: u = x·Aᵀ summed in k order, v = u·Bᵀ summed in r order, delta =
 * scale * v; zero padding adds exact zeros, so a rank-r adapter padded to R gives its own value. The
 * CPU engine's kernel gives the same values bit for bit.
 */
public final class LoraOps {
    private LoraOps() {}

    public static final String DELTA = "tessel.LoraDelta";
    static final Set<DType> ID_TYPES = EnumSet.of(DType.I64, DType.I32);

    /** rows: x's leading dim (the batch), tokens: the elements of a row's middle dims, and the stacked dims. */
    public record Dims(int batch, int tokens, int k, int n, int slots, int rank, Shape out) {}

    /** Checks the inputs against each other; every message names the input at fault and the shapes. */
    public static Dims check(TensorType x, TensorType a, TensorType b, TensorType scales, TensorType ids) {
        NnSupport.requireDType("x", x.dtype(), QuantizedMatMulOps.ACTIVATION_TYPES);
        if (x.rank() < 2) throw new OpException("x must be [batch, ..., K] (rank at least 2), got " + x);
        if (a.rank() != 3 || a.dtype() != DType.F32) throw new OpException("lora_a must be f32 [adapters, rank, K], got " + a);
        int slots = a.shape().dim(0), rank = a.shape().dim(1), k = x.shape().dim(-1);
        if (a.shape().dim(2) != k) throw new OpException("lora_a " + a + " must have K=" + k + " columns (x " + x + ")");
        if (b.rank() != 3 || b.dtype() != DType.F32 || b.shape().dim(0) != slots || b.shape().dim(2) != rank)
            throw new OpException("lora_b must be f32 [adapters, N, rank] = [" + slots + ", N, " + rank + "] (lora_a " + a + "), got " + b);
        if (scales.dtype() != DType.F32 || !scales.shape().equals(Shape.of(slots))) throw new OpException("scales must be f32 [" + slots + "], got " + scales);
        int batch = x.shape().dim(0);
        if (!ID_TYPES.contains(ids.dtype()) || !ids.shape().equals(Shape.of(batch)))
            throw new OpException("adapter_ids must be i64 or i32 [batch] = [" + batch + "] (x " + x + "), got " + ids);
        int n = b.shape().dim(1);
        int[] out = x.shape().dims().clone();
        out[out.length - 1] = n;
        long tokens = batch == 0 ? 0 : x.numElements() / batch / Math.max(1, k);
        return new Dims(batch, (int) tokens, k, n, slots, rank, Shape.of(out));
    }

    /** The adapter slot (0-based) of each batch row, -1 for none; an id outside [0, slots] is refused naming its row. */
    public static int[] slots(long[] ids, int slots) {
        int[] s = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > slots)
                throw new OpException("adapter_ids[" + i + "] = " + ids[i] + " is outside [0, " + slots + "] (0: no adapter, 1.." + slots + ": the stacked adapters)");
            s[i] = (int) ids[i] - 1;
        }
        return s;
    }

    /** Multi-adapter LoRA delta; see {@link LoraOps}. */
    public static final class LoraDelta extends BaseOp {
        LoraDelta() {
            super(def("LoraDelta", "Per-row LoRA term scale[a] * (x · A[a]ᵀ) · B[a]ᵀ of stacked adapters chosen by adapter_ids (0: none): [batch, ..., N]")
                    .domain(TesselOps.DOMAIN).inputs(5, 5, "x", "lora_a", "lora_b", "scales", "adapter_ids"));
        }

        static Dims check(InferenceContext ctx) { return LoraOps.check(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4)); }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            return List.of(TensorType.of(ctx.input(0).dtype(), check(ctx).out()));
        }

        /** Charged at the dense worst case: every row through an adapter of the stacked rank. */
        @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
            Dims d = check(ctx);
            return Math.multiplyExact((long) d.batch() * d.tokens() * d.rank(), (long) d.k() + d.n());
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), a = ctx.input(1), b = ctx.input(2), s = ctx.input(3), ids = ctx.input(4);
            Dims d = LoraOps.check(x.type(), a.type(), b.type(), s.type(), ids.type());
            int[] slot = slots(ids.longs(), d.slots());
            float[] xs = x.floats(), as = a.floats(), bs = b.floats(), sc = s.floats();
            int k = d.k(), n = d.n(), r = d.rank();
            float[] y = new float[d.batch() * d.tokens() * n];
            for (int row = 0; row < d.batch(); row++) {
                if (slot[row] < 0) continue;
                int aBase = slot[row] * r * k, bBase = slot[row] * n * r;
                for (int t = 0; t < d.tokens(); t++) {
                    int xi = (row * d.tokens() + t) * k, yi = (row * d.tokens() + t) * n;
                    float[] u = new float[r];
                    for (int q = 0; q < r; q++) {
                        float acc = 0;
                        for (int c = 0; c < k; c++) acc += xs[xi + c] * as[aBase + q * k + c];
                        u[q] = acc;
                    }
                    for (int j = 0; j < n; j++) {
                        float acc = 0;
                        for (int q = 0; q < r; q++) acc += u[q] * bs[bBase + j * r + q];
                        y[yi + j] = sc[slot[row]] * acc;
                    }
                }
            }
            return List.of(Tensor.ofFloats(x.dtype(), d.out(), y));
        }
    }

    static List<OpSchema> all() { return List.of(new LoraDelta()); }
}
