package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Rotary position embeddings (RoPE, Su et al. 2021) in two forms: ONNX's {@code RotaryEmbedding} (opset 23), with its
 * half-width cos/sin caches indexed by position ids, and Tessel's {@code tessel.RotaryEmbedding}, the form decoders are
 * written in and {@code recognize-composites} finds: {@code x * cos + rotate_half(x) * sin} with full-width cos and sin
 * broadcast onto x, which the GPU runs as one kernel ({@code tessel.rope}). Both compute in double.
 */
public final class RotaryEmbeddingOps {
    private RotaryEmbeddingOps() {}

    /** The qualified name of Tessel's form. */
    public static final String HALF_ROTATION = TesselOps.DOMAIN + ".RotaryEmbedding";

    /**
     * ONNX RotaryEmbedding (opset 23). X is [batch, heads, seq, head_size] or [batch, seq, heads * head_size] (then
     * {@code num_heads} says how many heads); the first {@code rotary_embedding_dim} (0: all) elements of each head are
     * rotated, the rest copied. With position_ids [batch, seq] the caches are [max_position + 1, >= rot/2] and row
     * position_ids[b, s] serves token (b, s); without, they are [batch, seq, >= rot/2]. Pair i is (i, i + rot/2), or
     * (2i, 2i + 1) when {@code interleaved}: (a, b) becomes (a cos - b sin, a sin + b cos) with cos, sin at column i.
     */
    public static final class RotaryEmbedding extends BaseOp {
        RotaryEmbedding() {
            super(def("RotaryEmbedding", "rotates pairs of each head's elements by position-dependent angles (RoPE)")
                    .inputs(3, 4, "X", "cos_cache", "sin_cache", "position_ids")
                    .intAttr("interleaved", 0, "1: pairs are adjacent elements (2i, 2i+1); 0: halves (i, i + rot/2)")
                    .intAttr("num_heads", 0, "heads of a 3-D X [batch, seq, heads * head_size]")
                    .intAttr("rotary_embedding_dim", 0, "leading elements of each head that are rotated (0: the whole head)"));
        }

        /** X's layout as [batch, heads, seq, head_size] with the rotated width; {@code threeD}: X is [batch, seq, heads * head_size]. */
        public record Geometry(int batch, int heads, int seq, int headSize, int rot, boolean threeD) {}

        /** X's geometry under attributes num_heads and rotary_embedding_dim; an OpException names what does not fit. */
        public static Geometry geometry(Shape x, long numHeads, long rotAttr) {
            int batch, heads, seq, headSize;
            boolean threeD = x.rank() == 3;
            if (threeD) {
                if (numHeads <= 0)
                    throw new OpException("a 3-D input X " + x + " ([batch, seq, hidden]) needs attribute 'num_heads' > 0, got " + numHeads);
                if (x.dim(2) % numHeads != 0)
                    throw new OpException("input X's hidden size " + x.dim(2) + " is not a multiple of num_heads=" + numHeads);
                batch = x.dim(0); seq = x.dim(1); heads = (int) numHeads; headSize = x.dim(2) / heads;
            } else if (x.rank() == 4) {
                batch = x.dim(0); heads = x.dim(1); seq = x.dim(2); headSize = x.dim(3);
                if (numHeads != 0 && numHeads != heads)
                    throw new OpException("attribute 'num_heads'=" + numHeads + " disagrees with X " + x + " ([batch, heads, seq, head_size]: " + heads + " heads)");
            } else {
                throw new OpException("input X must be 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head_size], got shape " + x);
            }
            int rot = rotAttr == 0 ? headSize : (int) rotAttr;
            if (rotAttr < 0 || rot > headSize || rot % 2 != 0)
                throw new OpException("attribute 'rotary_embedding_dim'=" + rotAttr + " must be 0 or an even number up to the head size " + headSize);
            return new Geometry(batch, heads, seq, headSize, rot, threeD);
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), cos = ctx.input(1), sin = ctx.input(2);
            DTypeSets.require("input X", x.dtype(), DTypeSets.FLOATS);
            OpUtil.requireSameDType("inputs X and cos_cache", x.dtype(), cos.dtype());
            OpUtil.requireSameDType("inputs X and sin_cache", x.dtype(), sin.dtype());
            Geometry g = geometry(x.shape(), ctx.attrs().getInt("num_heads", 0), ctx.attrs().getInt("rotary_embedding_dim", 0));
            if (!cos.shape().equals(sin.shape()))
                throw new OpException("inputs cos_cache " + cos.shape() + " and sin_cache " + sin.shape() + " must have one shape");
            boolean positions = ctx.hasInput(3);
            if (positions) {
                TensorType p = ctx.input(3);
                DTypeSets.require("input position_ids", p.dtype(), java.util.EnumSet.of(DType.I64));
                if (!p.shape().equals(Shape.of(g.batch(), g.seq())))
                    throw new OpException("input position_ids must be [batch, seq] = [" + g.batch() + ", " + g.seq() + "], got " + p.shape());
                if (cos.rank() != 2)
                    throw new OpException("with position_ids, cos_cache and sin_cache must be 2-D [max_position + 1, rot/2], got " + cos.shape());
            } else if (cos.rank() != 3 || cos.shape().dim(0) != g.batch() || cos.shape().dim(1) != g.seq()) {
                throw new OpException("without position_ids, cos_cache and sin_cache must be [batch, seq, rot/2] = [" + g.batch() + ", " + g.seq() + ", "
                        + g.rot() / 2 + "], got " + cos.shape());
            }
            if (cos.shape().dim(-1) < g.rot() / 2)
                throw new OpException("cos_cache and sin_cache " + cos.shape() + " hold " + cos.shape().dim(-1) + " angles a row; rotating "
                        + g.rot() + " elements of each head needs " + g.rot() / 2);
            return List.of(TensorType.of(x.dtype(), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), cos = ctx.input(1), sin = ctx.input(2), pos = ctx.hasInput(3) ? ctx.input(3) : null;
            Geometry g = geometry(x.shape(), ctx.attrs().getInt("num_heads", 0), ctx.attrs().getInt("rotary_embedding_dim", 0));
            boolean interleaved = ctx.attrs().getInt("interleaved", 0) != 0;
            int half = g.rot() / 2, cacheWidth = cos.shape().dim(-1), maxPos = pos == null ? 0 : cos.shape().dim(0);
            Tensor y = Tensor.zeros(x.dtype(), x.shape());
            for (int b = 0; b < g.batch(); b++)
                for (int s = 0; s < g.seq(); s++) {
                    int row;
                    if (pos == null) row = b * g.seq() + s;
                    else {
                        long p = pos.getLong(b * g.seq() + s);
                        if (p < 0 || p >= maxPos)
                            throw new OpException("position_ids[" + b + ", " + s + "] = " + p + " is outside the caches' " + maxPos + " positions");
                        row = (int) p;
                    }
                    for (int h = 0; h < g.heads(); h++) {
                        // the head's first element: [b, s, h * head_size] for 3-D X, [b, h, s, 0] for 4-D
                        int base = g.threeD() ? (b * g.seq() + s) * g.heads() * g.headSize() + h * g.headSize()
                                : ((b * g.heads() + h) * g.seq() + s) * g.headSize();
                        for (int i = 0; i < half; i++) {
                            int i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
                            double c = cos.getDouble(row * cacheWidth + i), sn = sin.getDouble(row * cacheWidth + i);
                            double a = x.getDouble(base + i1), bb = x.getDouble(base + i2);
                            Kernels.store(y, base + i1, a * c - bb * sn);
                            Kernels.store(y, base + i2, a * sn + bb * c);
                        }
                        for (int i = g.rot(); i < g.headSize(); i++) Kernels.store(y, base + i, x.getDouble(base + i));
                    }
                }
            return List.of(y);
        }
    }

    /**
     * {@code tessel.RotaryEmbedding}: {@code Y = X * cos + rotate_half(X) * sin} over X's last axis (D, even), where
     * rotate_half(X) = concat(-X[..., D/2:], X[..., :D/2]); cos and sin, of one shape with last dimension D, broadcast onto
     * X (ONNX's unidirectional broadcasting). So for i < D/2: y_i = x_i cos_i - x_{i+D/2} sin_i and
     * y_{i+D/2} = x_{i+D/2} cos_{i+D/2} + x_i sin_{i+D/2}.
     */
    public static final class HalfRotation extends BaseOp {
        HalfRotation() {
            super(def("RotaryEmbedding", "x * cos + rotate_half(x) * sin over the last axis, cos and sin broadcast onto x (RoPE)")
                    .domain(TesselOps.DOMAIN).inputs(3, 3, "X", "cos", "sin"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), cos = ctx.input(1), sin = ctx.input(2);
            DTypeSets.require("input X", x.dtype(), DTypeSets.FLOATS);
            OpUtil.requireSameDType("inputs X and cos", x.dtype(), cos.dtype());
            OpUtil.requireSameDType("inputs X and sin", x.dtype(), sin.dtype());
            if (x.rank() < 1 || x.shape().dim(-1) % 2 != 0)
                throw new OpException("input X " + x.shape() + " must have an even last dimension (the rotated halves)");
            if (!cos.shape().equals(sin.shape()))
                throw new OpException("inputs cos " + cos.shape() + " and sin " + sin.shape() + " must have one shape");
            if (cos.rank() < 1 || cos.shape().dim(-1) != x.shape().dim(-1) || !Kernels.broadcastsOnto(cos.shape(), x.shape()))
                throw new OpException("inputs cos and sin " + cos.shape() + " must broadcast onto X " + x.shape() + " with X's last dimension " + x.shape().dim(-1));
            return List.of(TensorType.of(x.dtype(), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), cos = ctx.input(1), sin = ctx.input(2);
            int d = x.shape().dim(-1), half = d / 2, rows = d == 0 ? 0 : x.size() / d;
            int[] at = cos.size() == x.size() ? null : Kernels.index(cos.shape(), x.shape());
            Tensor y = Tensor.zeros(x.dtype(), x.shape());
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < half; i++) {
                    int lo = r * d + i, hi = lo + half;
                    int cl = at == null ? lo : at[lo], ch = at == null ? hi : at[hi];
                    double a = x.getDouble(lo), b = x.getDouble(hi);
                    Kernels.store(y, lo, a * cos.getDouble(cl) - b * sin.getDouble(cl));
                    Kernels.store(y, hi, b * cos.getDouble(ch) + a * sin.getDouble(ch));
                }
            return List.of(y);
        }
    }
}
