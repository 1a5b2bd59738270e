package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tessel.ir.NetworkBuilder.attrs;
import static org.tessel.ir.ops.NnOpsTest.assertMessage;
import static org.tessel.ir.ops.NnOpsTest.error;
import static org.tessel.ir.ops.NnOpsTest.eval1;
import static org.tessel.ir.ops.NnOpsTest.random;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * tessel.RotaryEmbedding against its definition written out in ONNX ops (Split, Neg, Concat, Mul, Add) and against
 * ONNX RotaryEmbedding with the same angles; hand values; shape errors of both forms.
 */
class RotaryEmbeddingOpsTest {
    /** x * cos + concat(-x2, x1) * sin, as the zoo's decoders write it. */
    private static Tensor decomposed(Tensor x, Tensor cos, Tensor sin) {
        NetworkBuilder b = new NetworkBuilder("rope");
        Value xv = b.constant("x", x), c = b.constant("cos", cos), s = b.constant("sin", sin);
        int d = x.shape().dim(-1);
        List<Value> h = b.split(xv, -1, d / 2, d / 2);
        Value rot = b.concat(-1, b.op("Neg", Attributes.empty(), h.get(1)), h.get(0));
        b.output(b.add(b.mul(xv, c), b.mul(rot, s)));
        return new ReferenceInterpreter().run(b.build(), List.of()).getFirst();
    }

    private static void assertClose(Tensor want, Tensor got, double tol) {
        assertEquals(want.shape(), got.shape());
        for (int i = 0; i < want.size(); i++)
            assertEquals(want.getDouble(i), got.getDouble(i), tol, "element " + i);
    }

    @Test void halfRotationIsTheDecomposedFormOverBroadcastShapes() {
        SplittableRandom r = new SplittableRandom(7);
        // [batch, heads, seq, D] with cos [batch, 1, seq, D] (contiguous decoder), [batch, seq, heads, D] with [batch, seq, 1, D] (paged)
        int[][][] cases = {{{2, 3, 5, 8}, {2, 1, 5, 8}}, {{2, 5, 3, 8}, {2, 5, 1, 8}}, {{4, 6}, {6}}, {{3, 4, 16}, {3, 4, 16}}};
        for (int[][] c : cases)
            for (DType t : List.of(DType.F32, DType.F16, DType.F64)) {
                Tensor x = random(r, t, c[0]), cos = random(r, t, c[1]), sin = random(r, t, c[1]);
                Tensor got = eval1("tessel.RotaryEmbedding", Attributes.empty(), x, cos, sin);
                assertClose(decomposed(x, cos, sin), got, t == DType.F16 ? 2e-3 : 1e-6);
            }
    }

    @Test void halfRotationHandValues() {
        // x = (1, 2, 3, 4): rotate_half = (-3, -4, 1, 2)
        Tensor x = Tensor.ofFloats(Shape.of(4), 1, 2, 3, 4), cos = Tensor.ofFloats(Shape.of(4), 1, 0.5f, 2, 0), sin = Tensor.ofFloats(Shape.of(4), 0, 1, 1, 3);
        Tensor y = eval1("tessel.RotaryEmbedding", Attributes.empty(), x, cos, sin);
        assertEquals(List.of(1.0, 1 - 4.0, 6 + 1.0, 0 + 6.0), List.of(y.getDouble(0), y.getDouble(1), y.getDouble(2), y.getDouble(3)));
    }

    @Test void onnxRotaryEmbeddingAgreesWithTheHalfRotationOnDuplicatedAngles() {
        SplittableRandom r = new SplittableRandom(3);
        int batch = 2, heads = 3, seq = 4, d = 8, maxPos = 10;
        Tensor x = random(r, DType.F32, batch, heads, seq, d);
        Tensor cache = random(r, DType.F32, maxPos, d / 2), sinCache = random(r, DType.F32, maxPos, d / 2);
        long[] pos = new long[batch * seq];
        for (int i = 0; i < pos.length; i++) pos[i] = r.nextInt(maxPos);
        Tensor positions = Tensor.ofLongs(DType.I64, Shape.of(batch, seq), pos);
        // full-width cos/sin [batch, 1, seq, D]: each half the cache row of the token's position
        Tensor cos = Tensor.zeros(DType.F32, Shape.of(batch, 1, seq, d)), sin = Tensor.zeros(DType.F32, Shape.of(batch, 1, seq, d));
        for (int b = 0; b < batch; b++)
            for (int s = 0; s < seq; s++)
                for (int i = 0; i < d; i++) {
                    int row = (int) pos[b * seq + s];
                    cos.setDouble((b * seq + s) * d + i, cache.getDouble(row * d / 2 + i % (d / 2)));
                    sin.setDouble((b * seq + s) * d + i, sinCache.getDouble(row * d / 2 + i % (d / 2)));
                }
        Tensor onnx = eval1("RotaryEmbedding", Attributes.empty(), x, cache, sinCache, positions);
        assertClose(eval1("tessel.RotaryEmbedding", Attributes.empty(), x, cos, sin), onnx, 1e-6);
        // 3-D X [batch, seq, heads * D] is the 4-D result's [batch, seq, heads, D] view
        Tensor x3 = Tensor.zeros(DType.F32, Shape.of(batch, seq, heads * d));
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int s = 0; s < seq; s++)
                    for (int i = 0; i < d; i++) x3.setDouble(((b * seq + s) * heads + h) * d + i, x.getDouble(((b * heads + h) * seq + s) * d + i));
        Tensor y3 = eval1("RotaryEmbedding", attrs("num_heads", 3L), x3, cache, sinCache, positions);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int s = 0; s < seq; s++)
                    for (int i = 0; i < d; i++)
                        assertEquals(onnx.getDouble(((b * heads + h) * seq + s) * d + i), y3.getDouble(((b * seq + s) * heads + h) * d + i), 0);
    }

    @Test void partialRotationCopiesTheRestAndInterleavedPairsNeighbours() {
        // one token, one head of 6: rotary_embedding_dim 4 rotates (x0, x2) and (x1, x3) by angle columns 0 and 1, copies x4, x5
        Tensor x = Tensor.ofFloats(Shape.of(1, 1, 1, 6), 1, 2, 3, 4, 5, 6);
        Tensor cos = Tensor.ofFloats(Shape.of(1, 1, 2), 0, 1), sin = Tensor.ofFloats(Shape.of(1, 1, 2), 1, 0);
        Tensor y = eval1("RotaryEmbedding", attrs("rotary_embedding_dim", 4L), x, cos, sin);
        assertEquals(List.of(-3.0, 2.0, 1.0, 4.0, 5.0, 6.0), java.util.stream.IntStream.range(0, 6).mapToObj(y::getDouble).toList());
        Tensor yi = eval1("RotaryEmbedding", attrs("rotary_embedding_dim", 4L, "interleaved", 1L), x, cos, sin);
        // pairs (x0, x1) at column 0 (a 90 degree turn) and (x2, x3) at column 1 (unchanged)
        assertEquals(List.of(-2.0, 1.0, 3.0, 4.0, 5.0, 6.0), java.util.stream.IntStream.range(0, 6).mapToObj(yi::getDouble).toList());
    }

    @Test void shapeErrorsNameTheInputAndTheShapes() {
        SplittableRandom r = new SplittableRandom(1);
        Tensor x = random(r, DType.F32, 1, 2, 3, 8);
        assertMessage(error("tessel.RotaryEmbedding", Attributes.empty(), random(r, DType.F32, 2, 7), random(r, DType.F32, 7), random(r, DType.F32, 7)),
                "input X [2,7] must have an even last dimension");
        assertMessage(error("tessel.RotaryEmbedding", Attributes.empty(), x, random(r, DType.F32, 1, 1, 3, 4), random(r, DType.F32, 1, 1, 3, 4)),
                "inputs cos and sin [1,1,3,4] must broadcast onto X [1,2,3,8]");
        assertMessage(error("tessel.RotaryEmbedding", Attributes.empty(), x, random(r, DType.F32, 1, 1, 3, 8), random(r, DType.F32, 1, 2, 3, 8)),
                "inputs cos [1,1,3,8] and sin [1,2,3,8] must have one shape");
        assertMessage(error("tessel.RotaryEmbedding", Attributes.empty(), x, random(r, DType.F16, 1, 1, 3, 8), random(r, DType.F16, 1, 1, 3, 8)), "inputs X and cos");
        Tensor cache = random(r, DType.F32, 1, 3, 4);
        assertMessage(error("RotaryEmbedding", Attributes.empty(), random(r, DType.F32, 1, 3, 16), cache, cache), "needs attribute 'num_heads' > 0");
        assertMessage(error("RotaryEmbedding", attrs("rotary_embedding_dim", 5L), x, cache, cache), "'rotary_embedding_dim'=5 must be 0 or an even number up to the head size 8");
        assertMessage(error("RotaryEmbedding", Attributes.empty(), x, random(r, DType.F32, 1, 3, 3), random(r, DType.F32, 1, 3, 3)), "hold 3 angles a row; rotating 8 elements of each head needs 4");
        assertMessage(error("RotaryEmbedding", Attributes.empty(), x, random(r, DType.F32, 2, 3, 4), random(r, DType.F32, 2, 3, 4)), "without position_ids, cos_cache and sin_cache must be [batch, seq, rot/2] = [1, 3, 4]");
        Tensor pos = Tensor.ofLongs(DType.I64, Shape.of(1, 3), 0, 1, 9);
        assertMessage(error("RotaryEmbedding", Attributes.empty(), x, random(r, DType.F32, 4, 4), random(r, DType.F32, 4, 4), pos), "position_ids[0, 2] = 9 is outside the caches' 4 positions");
        assertMessage(error("RotaryEmbedding", Attributes.empty(), x, cache, cache, pos), "with position_ids, cos_cache and sin_cache must be 2-D");
    }
}
