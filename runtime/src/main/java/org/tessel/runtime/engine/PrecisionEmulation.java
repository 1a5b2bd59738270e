package org.tessel.runtime.engine;

import java.util.Set;
import org.tessel.api.DType;
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
            case INT8 -> throw new IllegalArgumentException("INT8 is not emulated");
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
