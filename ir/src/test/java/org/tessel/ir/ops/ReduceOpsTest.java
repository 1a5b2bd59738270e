package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.ops.ElementwiseOpsTest.assertClose;
import static org.tessel.ir.ops.ElementwiseOpsTest.attrs;
import static org.tessel.ir.ops.ElementwiseOpsTest.bools;
import static org.tessel.ir.ops.ElementwiseOpsTest.dims;
import static org.tessel.ir.ops.ElementwiseOpsTest.f16;
import static org.tessel.ir.ops.ElementwiseOpsTest.f32;
import static org.tessel.ir.ops.ElementwiseOpsTest.failure;
import static org.tessel.ir.ops.ElementwiseOpsTest.floats;
import static org.tessel.ir.ops.ElementwiseOpsTest.infer;
import static org.tessel.ir.ops.ElementwiseOpsTest.ints;
import static org.tessel.ir.ops.ElementwiseOpsTest.longs;
import static org.tessel.ir.ops.ElementwiseOpsTest.run;
import static org.tessel.ir.ops.ElementwiseOpsTest.runAll;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.Trait;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/** Reductions, softmax family, layer and RMS normalization checked against hand-computed values and error messages. */
class ReduceOpsTest {
    static final List<String> OPS = List.of("Softmax", "LogSoftmax", "Hardmax", "ArgMax", "ArgMin", "LayerNormalization", "RMSNormalization", "ReduceMean", "ReduceSum", "ReduceMax",
            "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp");

    static Tensor axes(long... a) { return Tensor.ofLongs(DType.I64, Shape.of(a.length), a); }

    @Test void everyOpIsRegisteredAndPure() {
        for (String name : OPS) {
            OpSchema s = OpRegistry.global().find(name).orElseThrow(() -> new AssertionError(name + " is not registered"));
            assertEquals("tessel-builtin", OpRegistry.global().providerOf(name));
            assertTrue(s.has(Trait.PURE), name);
            assertTrue(!s.has(Trait.ELEMENTWISE), name + " is not elementwise");
        }
        assertEquals(OPS.size(), new ReduceOps().ops().size());
    }

    // ---- softmax -----------------------------------------------------------------------------

    @Test void softmaxAlongTheLastAxisByDefault() {
        Tensor y = run("Softmax", f32(dims(2, 3), 1, 2, 3, 0, 0, 0));
        // e^k / (e + e^2 + e^3)
        double s = Math.exp(1) + Math.exp(2) + Math.exp(3);
        assertClose(new float[] {(float) (Math.exp(1) / s), (float) (Math.exp(2) / s), (float) (Math.exp(3) / s), 1 / 3f, 1 / 3f, 1 / 3f}, y, 1e-7f);
    }

    @Test void softmaxOnAnInnerAxisAndLargeNumbers() {
        // axis 0 of [2,2]: each column normalized on its own
        Tensor y = run("Softmax", attrs("axis", 0), f32(dims(2, 2), 0, 1, 0, 3));
        double e2 = Math.exp(2);
        assertClose(new float[] {0.5f, (float) (1 / (1 + e2)), 0.5f, (float) (e2 / (1 + e2))}, y, 1e-7f);
        // without subtracting the maximum exp(1000) would overflow
        assertClose(new float[] {(float) (1 / (1 + Math.E)), (float) (Math.E / (1 + Math.E))}, run("Softmax", f32(1000, 1001)), 1e-7f);
        Tensor l = run("LogSoftmax", f32(1000, 1001));
        assertClose(new float[] {(float) -Math.log1p(Math.E), (float) (1 - Math.log1p(Math.E))}, l, 1e-5f);
        // f16 results land on f16 values
        Tensor h = run("Softmax", f16(0, 0, 0));
        assertEquals(DType.F16, h.dtype());
        assertEquals(Tensor.round(DType.F16, 1 / 3f), h.floats()[0]);
    }

    @Test void softmaxRefusesBadInput() {
        assertEquals("attribute 'axis' 2 is out of range for rank 2", failure("Softmax", attrs("axis", 2), f32(dims(1, 2), 1, 2)));
        assertEquals("input input must be f32, f16, bf16 or f64, got i32", failure("LogSoftmax", Attributes.empty(), ints(DType.I32, 1)));
    }

    @Test void hardmaxMarksTheFirstMaximum() {
        Tensor y = run("Hardmax", f32(dims(2, 3), 1, 3, 3, -1, Float.NaN, 2));
        assertArrayEquals(new float[] {0, 1, 0, 0, 1, 0}, floats(y));
        assertArrayEquals(new float[] {0, 1, 1, 1, 0, 0}, floats(run("Hardmax", attrs("axis", 0), f32(dims(2, 3), 1, 3, 0, 2, 3, -1))));
    }

    @Test void argMaxAndArgMin() {
        Tensor x = f32(dims(2, 3), 2, 7, 7, 5, 1, 1);
        Tensor am = run("ArgMax", attrs("axis", 1), x);
        assertEquals(DType.I64, am.dtype());
        assertEquals(Shape.of(2, 1), am.shape());
        assertArrayEquals(new long[] {1, 0}, longs(am));
        assertArrayEquals(new long[] {2, 0}, longs(run("ArgMax", attrs("axis", -1, "select_last_index", 1), x)));
        assertArrayEquals(new long[] {0, 1}, longs(run("ArgMin", attrs("axis", 1, "keepdims", 0), x)));
        assertArrayEquals(new long[] {0, 2}, longs(run("ArgMin", attrs("axis", 1, "keepdims", 0, "select_last_index", 1), x)));
        Tensor cols = run("ArgMax", attrs("keepdims", 0), x);
        assertEquals(Shape.of(3), cols.shape());
        assertArrayEquals(new long[] {1, 0, 0}, longs(cols));
        // NaN is the extreme for both, as in numpy
        assertArrayEquals(new long[] {1}, longs(run("ArgMin", f32(1, Float.NaN, 0))));
        long big = 1L << 60;
        assertArrayEquals(new long[] {1}, longs(run("ArgMax", ints(DType.I64, big, big + 1))));
        assertEquals("attribute 'axis' 2 is out of range for rank 2", failure("ArgMax", attrs("axis", 2), x));
    }

    // ---- layer normalization -----------------------------------------------------------------

    @Test void layerNormalizationOverTheLastAxis() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 0, 3, 6);
        Tensor scale = f32(1, 2, 3), bias = f32(0, 0, 1);
        List<Tensor> out = runAll("LayerNormalization", attrs("epsilon", 0f), 3, x, scale, bias);
        // row 0: mean 2, variance 2/3, normalized (-1, 0, 1) * sqrt(3/2); row 1: mean 3, variance 6, (-3, 0, 3) / sqrt 6
        float r0 = (float) Math.sqrt(1.5), r1 = (float) (1 / Math.sqrt(6));
        assertClose(new float[] {-r0, 0, 3 * r0 + 1, -3 * r1, 0, 9 * r1 + 1}, out.get(0), 1e-6f);
        assertEquals(Shape.of(2, 1), out.get(1).shape());
        assertClose(new float[] {2, 3}, out.get(1), 0);
        assertEquals(DType.F32, out.get(2).dtype());
        assertClose(new float[] {r0, r1}, out.get(2), 1e-6f);
    }

    @Test void layerNormalizationOfAConstantRowIsTheBias() {
        List<Tensor> out = runAll("LayerNormalization", Attributes.empty(), 3, f32(dims(1, 3), 2, 2, 2), f32(5, 5, 5), f32(1, 2, 3));
        assertClose(new float[] {1, 2, 3}, out.get(0), 0);
        // variance 0: the default epsilon alone decides InvStdDev
        assertEquals((float) (1 / Math.sqrt(1e-5f)), out.get(2).floats()[0], 1e-3f);
    }

    @Test void layerNormalizationFromAnEarlierAxisWithoutBias() {
        // axis 0: the whole [2,2] tensor is one group; mean 2.5, var 1.25
        Tensor x = f32(dims(2, 2), 1, 2, 3, 4);
        Tensor y = run("LayerNormalization", attrs("axis", 0, "epsilon", 0f), x, f32(dims(2, 2), 1, 1, 1, 1));
        float s = (float) Math.sqrt(1.25);
        assertClose(new float[] {-1.5f / s, -0.5f / s, 0.5f / s, 1.5f / s}, y, 1e-6f);
        // the scale may be a single value broadcast everywhere
        assertClose(new float[] {-3 / s, -1 / s, 1 / s, 3 / s}, run("LayerNormalization", attrs("axis", 0, "epsilon", 0f), x, f32(2)), 1e-6f);
        List<Tensor> stats = runAll("LayerNormalization", attrs("axis", -2), 2, x, f32(1, 1));
        assertEquals(Shape.of(1, 1), stats.get(1).shape());
        assertEquals(2.5f, stats.get(1).floats()[0]);
    }

    @Test void layerNormalizationRefusesBadInput() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        assertEquals("input Scale of shape [2] cannot be broadcast to X's shape [2,3]", failure("LayerNormalization", Attributes.empty(), x, f32(1, 2)));
        assertEquals("inputs X and B: element types differ (f32 vs f64)",
                failure("LayerNormalization", Attributes.empty(), x, f32(1, 1, 1), ElementwiseOpsTest.f64(0, 0, 0)));
        String msg = assertThrows(org.tessel.api.OpException.class, () -> runAll("LayerNormalization", attrs("stash_type", 8), 2, x, f32(1, 1, 1))).getMessage();
        assertTrue(msg.contains("STRING"), msg);
        assertEquals("attribute 'axis' -3 is out of range for rank 2", failure("LayerNormalization", attrs("axis", -3), x, f32(1, 1, 1)));
    }

    // ---- RMS normalization -------------------------------------------------------------------

    @Test void rmsNormalizationOverTheLastAxis() {
        Tensor x = f32(dims(2, 3), 1, 2, 2, 0, 3, -4);
        // row 0: mean of squares 3, rms sqrt 3; row 1: 25/3, rms 5/sqrt 3 (epsilon 0)
        Tensor y = run("RMSNormalization", attrs("epsilon", 0f), x, f32(1, 2, 3));
        float a = (float) (1 / Math.sqrt(3)), b = (float) (Math.sqrt(3) / 5);
        assertClose(new float[] {a, 4 * a, 6 * a, 0, 6 * b, -12 * b}, y, 1e-6f);
        // the default epsilon 1e-5 is added to the mean of squares: a zero row stays zero, a tiny one is damped
        Tensor z = run("RMSNormalization", Attributes.empty(), f32(dims(1, 2), 1e-3f, 1e-3f), f32(1, 1));
        assertEquals(1e-3 / Math.sqrt(1e-6 + 1e-5), z.floats()[0], 1e-6);
    }

    @Test void rmsNormalizationFromAnEarlierAxisWithAFullScale() {
        // axis 0: the whole [2,2] tensor is one group; mean of squares (1 + 4 + 9 + 16) / 4 = 7.5
        Tensor x = f32(dims(2, 2), 1, 2, 3, 4);
        float r = (float) Math.sqrt(7.5);
        assertClose(new float[] {1 / r, 2 / r, 3 / r, 4 / r}, run("RMSNormalization", attrs("axis", 0, "epsilon", 0f), x, f32(dims(2, 2), 1, 1, 1, 1)), 1e-6f);
        assertClose(new float[] {2 / r, 4 / r, 6 / r, 8 / r}, run("RMSNormalization", attrs("axis", -2, "epsilon", 0f), x, f32(2)), 1e-6f);
        // Y takes Scale's element type (ONNX's V), X may be another float type
        Tensor y = run("RMSNormalization", attrs("epsilon", 0f), x, ElementwiseOpsTest.f64(1, 1));
        assertEquals(DType.F64, y.dtype());
        assertEquals(1 / Math.sqrt(2.5), y.getDouble(0), 1e-7);
    }

    @Test void rmsNormalizationRefusesBadInput() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        assertEquals("input Scale of shape [2] cannot be broadcast to X's shape [2,3]", failure("RMSNormalization", Attributes.empty(), x, f32(1, 2)));
        assertEquals("attribute 'axis' 2 is out of range for rank 2", failure("RMSNormalization", attrs("axis", 2), x, f32(1, 1, 1)));
        String msg = failure("RMSNormalization", attrs("stash_type", 7), x, f32(1, 1, 1));
        assertTrue(msg.startsWith("attribute 'stash_type' must name a floating type"), msg);
        msg = failure("RMSNormalization", Attributes.empty(), ints(DType.I64, 1, 2, 3), f32(1, 1, 1));
        assertTrue(msg.startsWith("input X"), msg);
    }

    @Test void builderHelpersRunThroughTheInterpreter() {
        NetworkBuilder b = new NetworkBuilder("t");
        Value x = b.input("x", DType.F32, 1, 2, 3);
        Value y = b.softmax(b.layerNorm(x, b.constant("g", Shape.of(3), 1, 1, 1), b.constant("beta", Shape.of(3), 0, 0, 0), -1, 1e-5f), -1);
        org.tessel.ir.Graph g = b.output(y).build();
        Tensor in = f32(dims(1, 2, 3), 1, 2, 3, 4, 4, 4);
        Tensor out = new org.tessel.ir.ReferenceInterpreter().run(g, java.util.Map.of("x", in)).get(y.name());
        Tensor norm = run("LayerNormalization", Attributes.empty(), in, f32(1, 1, 1), f32(0, 0, 0));
        assertArrayEquals(floats(run("Softmax", norm)), floats(out));
        // the second row is constant: normalized to zeros, so its softmax is uniform
        assertClose(new float[] {1 / 3f, 1 / 3f, 1 / 3f}, Tensor.ofFloats(Shape.of(3), java.util.Arrays.copyOfRange(floats(out), 3, 6)), 1e-6f);
    }

    // ---- reductions --------------------------------------------------------------------------

    @Test void reduceSumAxesKeepdimsAndNoop() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        Tensor cols = run("ReduceSum", x, axes(0));
        assertEquals(Shape.of(1, 3), cols.shape());
        assertArrayEquals(new float[] {5, 7, 9}, floats(cols));
        Tensor rows = run("ReduceSum", attrs("keepdims", 0), x, axes(-1));
        assertEquals(Shape.of(2), rows.shape());
        assertArrayEquals(new float[] {6, 15}, floats(rows));
        // no axes: everything
        Tensor all = run("ReduceSum", attrs("keepdims", 0), x);
        assertEquals(Shape.scalar(), all.shape());
        assertArrayEquals(new float[] {21}, floats(all));
        assertEquals(Shape.of(1, 1), run("ReduceSum", x, axes()).shape());
        // empty axes with noop_with_empty_axes: the identity
        Tensor same = run("ReduceSum", attrs("noop_with_empty_axes", 1), x, axes());
        assertEquals(x.shape(), same.shape());
        assertArrayEquals(floats(x), floats(same));
        Tensor both = run("ReduceSum", attrs("noop_with_empty_axes", 1), x, axes(1, 0));
        assertArrayEquals(new float[] {21}, floats(both));
    }

    @Test void reduceMeanAndMaxOnInnerAxes() {
        Tensor x = f32(dims(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8);
        Tensor m = run("ReduceMean", attrs("keepdims", 0), x, axes(0, 2));
        assertArrayEquals(new float[] {3.5f, 5.5f}, floats(m));
        Tensor mx = run("ReduceMax", x, axes(1));
        assertEquals(Shape.of(2, 1, 2), mx.shape());
        assertArrayEquals(new float[] {3, 4, 7, 8}, floats(mx));
        assertTrue(Float.isNaN(floats(run("ReduceMax", f32(1, Float.NaN, 3)))[0]), "NaN propagates");
    }

    @Test void integerAndBoolReductions() {
        assertArrayEquals(new long[] {-7}, longs(run("ReduceMax", ints(DType.I8, -8, -7, -100))));
        assertArrayEquals(new long[] {1, 0}, longs(run("ReduceMax", attrs("keepdims", 0), Tensor.ofLongs(DType.BOOL, Shape.of(2, 2), 0, 1, 0, 0), axes(1))));
        assertArrayEquals(new long[] {0}, longs(run("ReduceMin", bools(1, 0, 1))));
        // integer sums are exact in 64 bits and wrap to the type
        assertArrayEquals(new long[] {-2147483648L}, longs(run("ReduceSum", ints(DType.I32, Integer.MAX_VALUE, 1))));
        long big = (1L << 53) + 1;
        assertArrayEquals(new long[] {big + 2}, longs(run("ReduceSum", ints(DType.I64, big, 2))));
        // integer mean truncates like a cast
        assertArrayEquals(new long[] {2}, longs(run("ReduceMean", ints(DType.I32, 1, 2, 4))));
        assertEquals("input data must be f32, f16, bf16, f64, i32 or i64, got i8", failure("ReduceSum", Attributes.empty(), ints(DType.I8, 1)));
    }

    @Test void reducingAnEmptySetGivesTheIdentity() {
        Tensor empty = Tensor.zeros(DType.F32, Shape.of(2, 0));
        assertArrayEquals(new float[] {0, 0}, floats(run("ReduceSum", attrs("keepdims", 0), empty, axes(1))));
        assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, floats(run("ReduceMax", attrs("keepdims", 0), empty, axes(1))));
        assertArrayEquals(new float[] {1, 1}, floats(run("ReduceProd", attrs("keepdims", 0), empty, axes(1))));
        assertTrue(Float.isNaN(floats(run("ReduceMean", attrs("keepdims", 0), empty, axes(1)))[0]));
        assertArrayEquals(new long[] {-128}, longs(run("ReduceMax", Tensor.zeros(DType.I8, Shape.of(0)))));
        assertArrayEquals(new long[] {255}, longs(run("ReduceMin", Tensor.zeros(DType.U8, Shape.of(0)))));
        assertArrayEquals(new long[] {0}, longs(run("ReduceMax", Tensor.zeros(DType.BOOL, Shape.of(0)))));
        // reducing a dimension that is not empty keeps the empty one
        Tensor kept = run("ReduceSum", Tensor.zeros(DType.F32, Shape.of(0, 3)), axes(1));
        assertEquals(Shape.of(0, 1), kept.shape());
    }

    @Test void otherReductionKinds() {
        Tensor x = f32(dims(2, 2), 1, -2, 3, 4);
        Tensor ax = axes(1);
        Attributes flat = attrs("keepdims", 0);
        assertArrayEquals(new float[] {-2, 3}, floats(run("ReduceMin", flat, x, ax)));
        assertArrayEquals(new float[] {-2, 12}, floats(run("ReduceProd", flat, x, ax)));
        assertArrayEquals(new float[] {5, 25}, floats(run("ReduceSumSquare", flat, x, ax)));
        assertArrayEquals(new float[] {3, 7}, floats(run("ReduceL1", flat, x, ax)));
        assertClose(new float[] {(float) Math.sqrt(5), 5}, run("ReduceL2", flat, x, ax), 1e-6f);
        assertClose(new float[] {(float) Math.log(7)}, run("ReduceLogSum", flat, f32(3, 4)), 1e-6f);
        assertClose(new float[] {(float) (1000 + Math.log1p(Math.exp(-1)))}, run("ReduceLogSumExp", flat, f32(1000, 999)), 1e-3f);
        assertArrayEquals(new long[] {6, 7}, longs(run("ReduceL1", flat, ints(DType.I64, dims(2, 2), -1, 5, 3, -4), ax)));
    }

    @Test void badAxesAreRefused() {
        Tensor x = f32(dims(2, 3), 1, 2, 3, 4, 5, 6);
        assertEquals("axis 2 is out of range for rank 2", failure("ReduceSum", Attributes.empty(), x, axes(2)));
        assertEquals("axes names dimension 1 twice: [1, -1]", failure("ReduceMean", Attributes.empty(), x, axes(1, -1)));
        assertEquals("axes must be an integer tensor, got f32", failure("ReduceMax", Attributes.empty(), x, f32(1)));
        // axes decide the output shape, so they must be known when the graph is built
        NetworkBuilder b = new NetworkBuilder("t");
        Value in = b.input("x", DType.F32, 2, 3);
        Value ax = b.input("axes", DType.I64, 1);
        IrException e = assertThrows(IrException.class, () -> b.op("ReduceSum", Attributes.empty(), in, ax));
        assertEquals("node 'reducesum' (ReduceSum): axes (input 1) must be a constant: Tessel works with static shapes", e.getMessage());
        assertEquals(Shape.of(2, 1), infer("ReduceSum", Attributes.empty(), x, axes(1)).shape());
    }
}
