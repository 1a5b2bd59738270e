package org.tessel.runtime.engine;

import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;


/**
 * How the CPU backend makes the reference implementation of a node behave like a kernel that
 * computes at a reduced precision. The reference computes in f32 (or wider); a GPU kernel at FP16
 * or BF16 reads and writes its activations and weights in that storage type, and a TF32 tensor-core
 * kernel rounds the operands of its multiplies to a 10-bit mantissa while accumulating in f32. So:
 * round the floating inputs to the storage type before computing, and the outputs after; at TF32
 * round only the operands of the contractions that run on tensor cores. Accumulation stays f32 in
 * every case, as it does in the tensor-core kernels the plan's tactics name. Values keep their
 * logical f32 type; only their contents are rounded.
 *
 * <p>INT8 is emulated by fake quantization, as ONNX's QuantizeLinear/DequantizeLinear pairs define
 * it: an INT8 node's floating activation inputs and outputs are quantized with their per-tensor
 * scale from the plan's quantization table (x/scale rounded to nearest even, clamped to [-127, 127],
 * times scale), and the weights of its convolutions and matrix multiplies per output channel with
 * scale = amax/127 over the channel, or at the channel scales the plan gives for the weight (a Q/DQ
 * model's own, {@code QuantizationTable#weights}). The contraction then runs on the dequantized values in f32
 * (each product of two int8 codes is exact; the sums are f32 sums, not int32 ones), and the
 * epilogue (bias, activation, residual) in f32 on the dequantized result.
 *
 * <p>FP8 (E4M3) is emulated the same way with E4M3 in place of int8: activations at their per-tensor
 * scale (scale = amax/448; x/scale in f32, rounded to the nearest E4M3 value, ties to even,
 * saturating at +-448, times scale), and each contraction's weight at one per-tensor scale (its
 * amax/448; or per channel at the plan's scales for a Q/DQ model's weight), since cuBLASLt's FP8 matmul on Hopper takes one scalar scale per operand
 * ({@code CUBLASLT_MATMUL_DESC_A_SCALE_POINTER} / {@code B_SCALE_POINTER}). The products of two E4M3
 * values are exact in f32, so again only the f32 sums differ from the tensor cores' accumulation.
 */
public final class PrecisionEmulation {
    private PrecisionEmulation() {}

    /** Ops whose operands a TF32 kernel rounds: the ones that run on tensor cores (matrix multiplies and convolutions). */
    public static final Set<String> TENSOR_CORE_OPS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul");

    /** One way of rounding f32 values. */
    public enum Rounding {
        NONE, TF32, F16, BF16;

        public float apply(float v) {
            return switch (this) {
                case NONE -> v;
                case TF32 -> roundTf32(v);
                case F16 -> Tensor.round(DType.F16, v);
                case BF16 -> Tensor.roundBf16(v);
            };
        }

        /**
         * The tensor rounded, as a new f32 tensor (inputs may be constants or another layer's
         * output, which must not change); tensors of any other type are returned as they are.
         */
        public Tensor apply(Tensor t) {
            if (this == NONE || t == null || t.dtype() != DType.F32) return t;
            float[] src = t.floats(), out = new float[src.length];
            for (int i = 0; i < src.length; i++) out[i] = apply(src[i]);
            return Tensor.ofFloats(DType.F32, t.shape(), out);
        }

        /** The rounding that stores a value as this element type (NONE for f32 and f64). */
        public static Rounding toStorage(DType t) {
            return switch (t) {
                case F16 -> F16;
                case BF16 -> BF16;
                default -> NONE;
            };
        }
    }

    /** Round-to-nearest-even to TF32: an f32 with the low 13 of its 23 mantissa bits cleared (8-bit exponent, 10-bit mantissa). */
    public static float roundTf32(float v) {
        if (Float.isNaN(v) || Float.isInfinite(v)) return v;
        int bits = Float.floatToRawIntBits(v);
        int lsb = (bits >>> 13) & 1;
        bits += 0xFFF + lsb; // a carry into the exponent is the correct rounding up (to infinity at the top)
        return Float.intBitsToFloat(bits & ~0x1FFF);
    }

    /** Rounding of the floating inputs of {@code n} (an unfused node or a node of a fused body) at precision {@code p}. */
    public static Rounding inputs(Node n, Precision p) {
        return switch (p) {
            case FP32 -> Rounding.NONE;
            case TF32 -> TENSOR_CORE_OPS.contains(n.opName()) ? Rounding.TF32 : Rounding.NONE;
            case FP16, BF16 -> Rounding.toStorage(p.storage());
            // an INT8 or FP8 node quantizes its inputs with per-tensor scales, not by a rounding of its own: see CpuLayer
            case INT8, FP8 -> Rounding.NONE;
        };
    }

    /**
     * The int8 code of {@code v} at {@code scale}: v/scale (an f32 division, as ONNX's QuantizeLinear
     * divides in x's type) rounded to nearest even, clamped to [-127, 127] (symmetric int8).
     */
    public static int quantize(float v, float scale) {
        double q = Math.rint(v / scale);
        if (Double.isNaN(q)) return 0;
        return (int) Math.max(-127, Math.min(127, q));
    }

    /** {@code t} quantized to int8 at one scale and dequantized, as a new f32 tensor (QuantizeLinear then DequantizeLinear). */
    public static Tensor fakeQuantize(Tensor t, float scale) {
        if (t == null || t.dtype() != DType.F32) return t;
        float[] src = t.floats(), out = new float[src.length];
        for (int i = 0; i < src.length; i++) out[i] = quantize(src[i], scale) * scale;
        return Tensor.ofFloats(DType.F32, t.shape(), out);
    }

    /**
     * {@code t} quantized at one scale in a quantized precision and dequantized, as a new f32 tensor:
     * INT8 as {@link #fakeQuantize(Tensor, float)}, FP8 as {@link #fakeQuantizeFp8(float, float)}.
     */
    public static Tensor fakeQuantize(Tensor t, float scale, Precision p) {
        if (p == Precision.INT8) return fakeQuantize(t, scale);
        if (p != Precision.FP8) throw new IllegalArgumentException(p.text() + " is not a quantized precision");
        if (t == null || t.dtype() != DType.F32) return t;
        float[] src = t.floats(), out = new float[src.length];
        for (int i = 0; i < src.length; i++) out[i] = fakeQuantizeFp8(src[i], scale);
        return Tensor.ofFloats(DType.F32, t.shape(), out);
    }

    /**
     * {@code v} through E4M3 at {@code scale}: v/scale (an f32 division, as ONNX's QuantizeLinear into
     * float8 divides) rounded to nearest even E4M3, saturating at +-448 (ONNX's default
     * {@code saturate=1}), times scale (DequantizeLinear).
     */
    public static float fakeQuantizeFp8(float v, float scale) {
        return Float8E4M3.round(v / scale) * scale;
    }

    /** The per-tensor FP8 scale of a weight: its largest magnitude / 448 (1 for an all-zero weight). */
    public static float fp8TensorScale(Tensor w) {
        float amax = 0;
        for (float v : w.floats()) amax = Math.max(amax, Math.abs(v));
        return amax > 0 && Float.isFinite(amax) ? amax / Float8E4M3.MAX : 1f;
    }

    /**
     * A contraction's weight as a node at a quantized precision computes with it, as a new f32 tensor:
     * at INT8 quantized per output channel along {@code axis}, at FP8 per tensor (amax/448).
     */
    public static Tensor fakeQuantizeWeight(Tensor w, int axis, Precision p) {
        return fakeQuantizeWeight(w, axis, p, null);
    }

    /**
     * As above at given scales, one per output channel along {@code axis} (the plan's, from a Q/DQ
     * model: {@code QuantizationTable#weightScales}), or null for the weight's own (INT8: amax/127 per
     * channel; FP8: amax/448 for the tensor). A weight folded from a model's codes at these scales
     * (code * scale in f32) comes back as exactly those codes.
     */
    public static Tensor fakeQuantizeWeight(Tensor w, int axis, Precision p, float[] scales) {
        if (w.dtype() != DType.F32) return w;
        if (scales == null) {
            if (p == Precision.INT8) return fakeQuantizePerChannel(w, axis);
            return fakeQuantize(w, fp8TensorScale(w), p);
        }
        if (!p.quantized()) throw new IllegalArgumentException(p.text() + " is not a quantized precision");
        int[] d = w.shape().dims();
        int ch = d[axis], inner = 1;
        for (int i = axis + 1; i < d.length; i++) inner *= d[i];
        if (scales.length != ch) throw new IllegalArgumentException(scales.length + " channel scales for a weight " + w.shape() + " with " + ch + " channels on axis " + axis);
        float[] src = w.floats(), out = new float[src.length];
        for (int i = 0; i < src.length; i++) {
            float sc = scales[(i / inner) % ch];
            out[i] = p == Precision.INT8 ? quantize(src[i], sc) * sc : fakeQuantizeFp8(src[i], sc);
        }
        return Tensor.ofFloats(DType.F32, w.shape(), out);
    }

    /**
     * The per-channel scales of a weight along {@code axis}: the channel's largest magnitude / 127
     * (1 for an all-zero channel, whose codes are all 0 at any scale).
     */
    public static float[] channelScales(Tensor w, int axis) {
        int[] d = w.shape().dims();
        int ch = d[axis], inner = 1;
        for (int i = axis + 1; i < d.length; i++) inner *= d[i];
        float[] src = w.floats(), amax = new float[ch];
        for (int i = 0; i < src.length; i++) {
            int c = (i / inner) % ch;
            amax[c] = Math.max(amax[c], Math.abs(src[i]));
        }
        float[] s = new float[ch];
        for (int c = 0; c < ch; c++) s[c] = amax[c] > 0 && Float.isFinite(amax[c]) ? amax[c] / 127f : 1f;
        return s;
    }

    /** A weight quantized per channel along {@code axis} (symmetric, scale = amax/127) and dequantized, as a new f32 tensor. */
    public static Tensor fakeQuantizePerChannel(Tensor w, int axis) {
        if (w.dtype() != DType.F32) return w;
        int[] d = w.shape().dims();
        int ch = d[axis], inner = 1;
        for (int i = axis + 1; i < d.length; i++) inner *= d[i];
        float[] s = channelScales(w, axis), src = w.floats(), out = new float[src.length];
        for (int i = 0; i < src.length; i++) {
            float sc = s[(i / inner) % ch];
            out[i] = quantize(src[i], sc) * sc;
        }
        return Tensor.ofFloats(DType.F32, w.shape(), out);
    }

    /**
     * The axis of a contraction's weight input (input 1) that holds its output channels, or -1 when
     * the node is not a contraction with a weight: Conv's W is [Cout, Cin/g, ...] (axis 0),
     * ConvTranspose's [Cin, Cout/g, ...] (axis 1), Gemm's B is [K, N] or with transB [N, K], MatMul's
     * B [..., K, N] (its last axis).
     */
    public static int weightChannelAxis(Node n) {
        if (n.numInputs() < 2 || n.input(1) == null) return -1;
        int rank = n.input(1).type().rank();
        return switch (n.opName()) {
            case "Conv" -> 0;
            case "ConvTranspose" -> 1;
            case "Gemm" -> rank == 2 ? (n.attrs().getInt("transB", 0) != 0 ? 0 : 1) : -1;
            case "MatMul" -> rank >= 2 ? rank - 1 : -1;
            default -> -1;
        };
    }

    /** Rounding of the outputs a node stores at precision {@code p}: the storage type's (TF32 stores f32). */
    public static Rounding outputs(Precision p) {
        return Rounding.toStorage(p.storage());
    }

    /** True when a fused node's body has a tensor-core op, so TF32 must be emulated per body node. */
    public static boolean hasTensorCoreOp(Node fused) {
        if (fused.body() == null) return false;
        for (Node b : fused.body().nodes()) if (TENSOR_CORE_OPS.contains(b.opName()) || hasTensorCoreOp(b)) return true;
        return false;
    }
}
