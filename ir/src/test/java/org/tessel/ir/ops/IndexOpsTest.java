package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tessel.ir.ops.TensorOpsTest.assertMessage;
import static org.tessel.ir.ops.TensorOpsTest.error;
import static org.tessel.ir.ops.TensorOpsTest.eval;
import static org.tessel.ir.ops.TensorOpsTest.eval1;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** Hand-checked values and error messages for {@link IndexOps}: Range, Trilu, CumSum, CumProd, OneHot, TopK, ScatterElements, ScatterND. */
class IndexOpsTest {
    static Tensor i64(long... v) { return Tensor.ofLongs(DType.I64, Shape.of(v.length), v); }
    static Tensor i64s(long v) { return Tensor.ofLongs(DType.I64, Shape.scalar(), v); }
    static Tensor i32s(long v) { return Tensor.ofLongs(DType.I32, Shape.scalar(), v); }
    static Tensor f32s(float v) { return Tensor.ofFloats(DType.F32, Shape.scalar(), new float[] {v}); }
    static Tensor f32(int[] dims, float... v) { return Tensor.ofFloats(DType.F32, Shape.of(dims), v); }
    static Attributes a() { return Attributes.empty(); }

    @Test void rangeCountsAndValues() {
        assertArrayEquals(new long[] {10, 7, 4}, eval1("Range", a(), i32s(10), i32s(1), i32s(-3)).longs());
        assertArrayEquals(new float[] {1f, 1.5f, 2f, 2.5f}, eval1("Range", a(), f32s(1), f32s(2.75f), f32s(0.5f)).floats());
        assertEquals(0, eval1("Range", a(), i64s(5), i64s(1), i64s(2)).size(), "an empty range going the wrong way");
        assertMessage(error("Range", a(), 1, i64s(0), i64s(4), i64s(0)), "delta must not be 0");
        assertMessage(error("Range", a(), 1, i64s(0), i32s(4), i64s(1)), "limit and start", "i32 vs i64");
        assertMessage(error("Range", a(), 1, i64(0, 1), i64s(4), i64s(1)), "start must be a scalar", "[2]");
        assertMessage(error("Range", a(), 1, f32s(0), f32s(1e12f), f32s(1e-3f)), "would have", "elements");
    }

    @Test void triluKeepsItsTriangle() {
        Tensor x = f32(new int[] {2, 3}, 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new float[] {1, 2, 3, 0, 5, 6}, eval1("Trilu", a(), x).floats());
        assertArrayEquals(new float[] {1, 0, 0, 4, 5, 0}, eval1("Trilu", Attributes.builder().put("upper", 0L).build(), x).floats());
        assertArrayEquals(new float[] {0, 0, 3, 0, 0, 0}, eval1("Trilu", a(), x, i64s(2)).floats());
        assertArrayEquals(new float[] {0, 0, 0, 4, 0, 0}, eval1("Trilu", Attributes.builder().put("upper", 0L).build(), x, i64s(-1)).floats());
        assertMessage(error("Trilu", a(), 1, f32(new int[] {3}, 1, 2, 3)), "rank >= 2");
        assertMessage(error("Trilu", a(), 1, x, i32s(1)), "k must be of type [i64]");
    }

    @Test void cumSumAndCumProdRunExclusiveAndReversed() {
        Tensor x = f32(new int[] {2, 3}, 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new float[] {1, 3, 6, 4, 9, 15}, eval1("CumSum", a(), x, i32s(1)).floats());
        assertArrayEquals(new float[] {1, 2, 3, 5, 7, 9}, eval1("CumSum", a(), x, i64s(-2)).floats());
        Attributes exRev = Attributes.builder().put("exclusive", 1L).put("reverse", 1L).build();
        assertArrayEquals(new float[] {5, 3, 0, 11, 6, 0}, eval1("CumSum", exRev, x, i32s(1)).floats());
        assertArrayEquals(new float[] {6, 3, 1, 30, 6, 1}, eval1("CumProd", exRev, x, i32s(1)).floats());
        assertArrayEquals(new long[] {2, 6, 24}, eval1("CumProd", a(), Tensor.ofLongs(DType.I64, Shape.of(3), 2, 3, 4), i64s(0)).longs());
        assertMessage(error("CumSum", a(), 1, x, i64s(2)), "axis 2 is out of range for rank 2");
        assertMessage(error("CumSum", a(), 1, x, f32s(0)), "axis must be of type [i32,i64]");
        assertMessage(error("CumProd", a(), 1, Tensor.ofLongs(DType.BOOL, Shape.of(1), 1), i64s(0)), "input x must be", "got bool");
    }

    @Test void oneHotPlacesOnAndOffValues() {
        Tensor values = f32(new int[] {2}, -1, 5);
        Tensor y = eval1("OneHot", a(), i64(0, -1, 7), i64s(3), values);
        assertEquals(Shape.of(3, 3), y.shape());
        assertArrayEquals(new float[] {5, -1, -1, -1, -1, 5, -1, -1, -1}, y.floats(), "-1 counts from depth, 7 is out of range: all off");
        Tensor z = eval1("OneHot", Attributes.builder().put("axis", 0L).build(), i64(1, 0), f32s(2.9f), values);
        assertEquals(Shape.of(2, 2), z.shape(), "a fractional depth truncates");
        assertArrayEquals(new float[] {-1, 5, 5, -1}, z.floats());
        assertMessage(error("OneHot", a(), 1, i64(0), i64s(0), values), "depth must be at least 1");
        assertMessage(error("OneHot", a(), 1, i64(0), i64s(2), f32(new int[] {3}, 0, 1, 2)), "values must be [off_value, on_value]", "[3]");
        assertMessage(error("OneHot", Attributes.builder().put("axis", 2L).build(), 1, i64(0), i64s(2), values), "attribute 'axis' 2 is out of range for rank 2");
    }

    @Test void topKOrdersTiesByIndexAndNaNAboveNumbers() {
        Tensor x = f32(new int[] {2, 4}, 3, 1, 3, Float.NaN, 0, -2, 7, 0);
        List<Tensor> big = eval("TopK", a(), 2, x, i64(3));
        assertArrayEquals(new long[] {3, 0, 2, 2, 0, 3}, big.get(1).longs());
        List<Tensor> small = eval("TopK", Attributes.builder().put("largest", 0L).put("axis", 0L).build(), 2, x, i64(1));
        assertArrayEquals(new float[] {0, -2, 3, 0}, small.get(0).floats());
        assertArrayEquals(new long[] {1, 1, 0, 1}, small.get(1).longs());
        assertMessage(error("TopK", a(), 2, x, i64(5)), "K 5 is out of range for an axis of 4 elements");
        assertMessage(error("TopK", a(), 2, x, i64(1, 2)), "K must be a scalar (one element)", "[2]");
    }

    @Test void scatterElementsWritesAndReduces() {
        Tensor data = f32(new int[] {2, 3}, 0, 0, 0, 0, 0, 0);
        Tensor idx = Tensor.ofLongs(DType.I64, Shape.of(2, 2), 2, -3, 1, 1);
        Tensor upd = f32(new int[] {2, 2}, 1, 2, 3, 4);
        assertArrayEquals(new float[] {2, 0, 1, 0, 4, 0}, eval1("ScatterElements", Attributes.builder().put("axis", 1L).build(), data, idx, upd).floats());
        assertArrayEquals(new float[] {2, 0, 1, 0, 7, 0},
                eval1("ScatterElements", Attributes.builder().put("axis", 1L).put("reduction", "add").build(), data, idx, upd).floats());
        assertMessage(error("ScatterElements", a(), 1, data, Tensor.ofLongs(DType.I64, Shape.of(2, 2), 0, 2, 1, 0), upd), "index 2 at indices[0,1] is out of range for axis 0 of size 2");
        assertMessage(error("ScatterElements", Attributes.builder().put("reduction", "sum").build(), 1, data, idx, upd), "'reduction' must be none, add, mul, max or min, got 'sum'");
        assertMessage(error("ScatterElements", a(), 1, data, idx, f32(new int[] {4}, 1, 2, 3, 4)), "indices shape [2,2] and updates shape [4] must be equal");
    }

    @Test void scatterNdWritesSlicesAndReduces() {
        Tensor data = f32(new int[] {3, 2}, 1, 1, 1, 1, 1, 1);
        Tensor idx = Tensor.ofLongs(DType.I64, Shape.of(2, 1), 2, -3);
        Tensor upd = f32(new int[] {2, 2}, 5, 6, 7, 8);
        assertArrayEquals(new float[] {7, 8, 1, 1, 5, 6}, eval1("ScatterND", a(), data, idx, upd).floats());
        assertArrayEquals(new float[] {7, 8, 1, 1, 5, 6}, eval1("ScatterND", Attributes.builder().put("reduction", "mul").build(), data, idx, upd).floats());
        Tensor pts = Tensor.ofLongs(DType.I64, Shape.of(2, 2), 0, 1, 0, 1);
        assertArrayEquals(new float[] {1, 14, 1, 1, 1, 1},
                eval1("ScatterND", Attributes.builder().put("reduction", "add").build(), data, pts, f32(new int[] {2}, 5, 8)).floats());
        assertMessage(error("ScatterND", a(), 1, data, idx, f32(new int[] {2, 3}, 1, 2, 3, 4, 5, 6)), "updates must have shape [2,2]", "got [2,3]");
        assertMessage(error("ScatterND", a(), 1, data, Tensor.ofLongs(DType.I64, Shape.of(1, 3), 0, 0, 0), f32(new int[] {1}, 1)), "index tuples of length 3", "exceed data's rank 2");
        assertMessage(error("ScatterND", a(), 1, data, Tensor.ofLongs(DType.I64, Shape.of(1, 1), 3), f32(new int[] {1, 2}, 1, 2)), "index 3 at indices[0,0] is out of range for axis 0 of size 3");
    }
}
