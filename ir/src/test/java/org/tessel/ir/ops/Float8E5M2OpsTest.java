package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.*;
import static org.tessel.ir.ops.ElementwiseOpsTest.*;

import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.OnnxTensors;

/**
 * FLOAT8E5M2 in the reference interpreter: Cast and CastLike to and from it with and without
 * {@code saturate}, QuantizeLinear/DequantizeLinear through it, and its ONNX tensors (raw codes,
 * infinities and NaN kept); the fnuz variants (no infinity, no -0, NaN 0x80) cast and quantize as
 * ONNX's Cast table says, and E8M0 is refused naming the type.
 */
class Float8E5M2OpsTest {
    private static final float INF = Float.POSITIVE_INFINITY;

    @Test void castToE5M2SaturatesOrOverflowsToInfinityAndBack() {
        Tensor x = f32(0.8191f, 1e6f, -1e6f, INF, -INF, Float.NaN, -1e-7f, 61440f, 3e-5f);
        Tensor sat = run("Cast", attrs("to", 19L), x), inf = run("Cast", attrs("to", 19L, "saturate", 0L), x);
        assertEquals(DType.F8E5M2, sat.dtype());
        assertArrayEquals(new float[] {0.875f, 57344f, -57344f, 57344f, -57344f, Float.NaN, -0f, 57344f, 0x1p-15f}, sat.floats());
        assertArrayEquals(new float[] {0.875f, INF, -INF, INF, -INF, Float.NaN, -0f, INF, 0x1p-15f}, inf.floats());
        Tensor back = run("Cast", attrs("to", 1L), inf);
        assertEquals(DType.F32, back.dtype());
        assertArrayEquals(inf.floats(), back.floats());
        // CastLike takes its target from the second input's type, and saturate as Cast
        Tensor like = run("CastLike", attrs("saturate", 0L), f32(1e6f, 0.3f), Tensor.zeros(DType.F8E5M2, Shape.of(1)));
        assertArrayEquals(new float[] {INF, 0.3125f}, like.floats());
        // f16 in: the value is rounded once (round-to-odd to f32 first)
        Tensor h = run("Cast", attrs("to", 19L), f16(0.1f, 65504f));
        assertArrayEquals(new float[] {0.09375f, 57344f}, h.floats());
    }

    @Test void quantizeAndDequantizeThroughE5M2() {
        Tensor zero = Tensor.zeros(DType.F8E5M2, Shape.of(1));
        // test_quantizelinear_e5m2's data, and one past the range: saturate=1 gives 57344, saturate=0 infinity
        Tensor x = f32(0f, 1f, 2f, 100000f, 200f, 1e6f);
        Tensor q = run("QuantizeLinear", attrs(), x, scalar(2f), zero);
        assertEquals(DType.F8E5M2, q.dtype());
        assertArrayEquals(new float[] {0f, 0.5f, 1f, 49152f, 96f, 57344f}, q.floats());
        assertEquals(INF, run("QuantizeLinear", attrs("saturate", 0L), x, scalar(2f), zero).floats()[5]);
        // output_dtype alone (no zero point) names the type
        assertEquals(DType.F8E5M2, run("QuantizeLinear", attrs("output_dtype", 19L), x, scalar(2f)).dtype());
        Tensor d = run("DequantizeLinear", attrs(), q, scalar(2f), zero);
        assertArrayEquals(new float[] {0f, 1f, 2f, 98304f, 192f, 114688f}, d.floats());
        // per axis
        Tensor q2 = run("QuantizeLinear", attrs("axis", 0L), f32(dims(2, 2), 1f, 3f, 1f, 3f), f32(1f, 4f), Tensor.zeros(DType.F8E5M2, Shape.of(2)));
        assertArrayEquals(new float[] {1f, 3f, 0.25f, 0.75f}, q2.floats());
    }

    @Test void onnxTensorsKeepE5M2Codes() {
        Tensor t = Tensor.ofFloats(DType.F8E5M2, Shape.of(6), new float[] {0.5f, -57344f, INF, -INF, Float.NaN, -0f});
        var p = OnnxTensors.toProto(t, "t");
        assertEquals(19, p.getDataType());
        byte[] raw = p.getRawData().toByteArray();
        assertArrayEquals(new byte[] {0x38, (byte) 0xFB, 0x7C, (byte) 0xFC, 0x7E, (byte) 0x80}, raw);
        Tensor back = OnnxTensors.fromProto(p, "t");
        assertEquals(DType.F8E5M2, back.dtype());
        assertArrayEquals(t.floats(), back.floats());
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(back.floats()[5]));
        // int32_data holds one code per value
        var q = org.tessel.ir.onnx.proto.Onnx.TensorProto.newBuilder().setDataType(19).addDims(2).addInt32Data(0x7C).addInt32Data(0x01).build();
        assertArrayEquals(new float[] {INF, 0x1p-16f}, OnnxTensors.fromProto(q, "t").floats());
    }

    @Test void theFnuzVariantsCastAndQuantizeAndOtherNarrowFloatsAreRefusedNamingTheType() {
        Tensor x = f32(0.8191f, 1e6f, -1e-7f, Float.NaN, INF);
        assertArrayEquals(new float[] {0.8125f, 240f, 0f, Float.NaN, 240f}, run("Cast", attrs("to", 18L), x).floats());
        assertArrayEquals(new float[] {0.8125f, Float.NaN, 0f, Float.NaN, Float.NaN}, run("Cast", attrs("to", 18L, "saturate", 0L), x).floats());
        assertArrayEquals(new float[] {0.875f, 57344f, 0f, Float.NaN, 57344f}, run("Cast", attrs("to", 20L), x).floats());
        assertEquals(0, Float.floatToRawIntBits(run("Cast", attrs("to", 20L), x).floats()[2]), "no negative zero");
        Tensor q = run("QuantizeLinear", attrs(), f32(1f, 500f), scalar(2f), Tensor.zeros(DType.F8E4M3FNUZ, Shape.scalar()));
        assertArrayEquals(new float[] {0.5f, 240f}, q.floats());
        assertArrayEquals(new float[] {1f, 480f}, run("DequantizeLinear", attrs(), q, scalar(2f)).floats());
        var p = OnnxTensors.toProto(q, "q");
        assertEquals(18, p.getDataType());
        assertArrayEquals(q.floats(), OnnxTensors.fromProto(p, "q").floats());
        assertEquals("attribute 'to' is ONNX type FLOAT8E8M0, which Tessel cannot hold (supported: " + DTypeSets.describe(DTypeSets.ALL) + ")",
                failure("Cast", attrs("to", 24L), f32(1f)));
        var e4 = org.tessel.ir.onnx.proto.Onnx.TensorProto.newBuilder().setDataType(24).addDims(1).addInt32Data(0).build();
        var e = assertThrows(org.tessel.ir.onnx.OnnxImportException.class, () -> OnnxTensors.fromProto(e4, "initializer 'w'"));
        assertTrue(e.getMessage().startsWith("initializer 'w': element type FLOAT8E8M0 is not supported"), e.getMessage());
    }
}
