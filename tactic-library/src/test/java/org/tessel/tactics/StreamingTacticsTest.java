package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;
import static org.tessel.cost.Precision.*;

import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.eltwise.EltwiseTactics;
import org.tessel.tactics.norm.NormTactics;
import org.tessel.tactics.pool.PoolTactics;

/** Elementwise, normalization, pooling and data-movement tactics: what they take and refuse. */
class StreamingTacticsTest {
    static final CostModel H100 = new CostModel(DeviceSpec.h100Sxm());

    @Test void viewsAreFreeButNotForNhwcImages() {
        NetworkBuilder b = new NetworkBuilder("v");
        Value x = b.input("x", DType.F32, 8, 2048, 1, 1);
        Node flat = b.node("Flatten", "flat", Attributes.empty(), 1, x);
        assertNull(DataMovementTactics.VIEW.whyNot(flat, FP16, Layout.NCHW));
        assertEquals(Cost.ZERO, DataMovementTactics.VIEW.cost(H100, flat, FP16, Layout.NCHW, false));
        assertEquals("reshaping an NHWC image is not a view of its buffer (logical order is NCHW)",
                DataMovementTactics.VIEW.whyNot(flat, FP16, Layout.NHWC));
        assertNull(DataMovementTactics.COPY.whyNot(flat, FP16, Layout.NHWC));
        assertTrue(DataMovementTactics.COPY.cost(H100, flat, FP16, Layout.NHWC, false).totalUs() > 0);
        // INT8 tensors move through views and copies too
        assertNull(DataMovementTactics.VIEW.whyNot(flat, INT8, Layout.NCHW));
    }

    @Test void eltwiseComputesInFloatingPointOnly() {
        NetworkBuilder b = new NetworkBuilder("e");
        Node relu = b.node("Relu", "r", Attributes.empty(), 1, b.input("x", DType.F32, 1024));
        assertNull(EltwiseTactics.ELTWISE.whyNot(relu, BF16, Layout.ANY));
        assertEquals("supports FP32, TF32, FP16, BF16 only (got int8)", EltwiseTactics.ELTWISE.whyNot(relu, INT8, Layout.ANY));
        // an integer comparison has nothing to round: any precision is fine
        Value ids = b.input("ids", DType.I64, 1024);
        Node eq = b.node("Equal", "eq", Attributes.empty(), 1, ids, ids);
        assertNull(EltwiseTactics.ELTWISE.whyNot(eq, INT8, Layout.ANY));
        // ...but the engine's kernels hold no f64, and (de)quantization is per tensor
        Node neg = b.node("Neg", "neg", Attributes.empty(), 1, b.input("d", DType.F64, 8));
        assertEquals("the GPU engine holds no f64 values (%d); its elementwise kernels take f32, f16, bf16, i8, u8, i32, i64 and bool",
                EltwiseTactics.ELTWISE.whyNot(neg, FP32, Layout.ANY));
        Node hardmax = b.node("Hardmax", "hm", Attributes.empty(), 1, relu.output());
        assertEquals("tessel.eltwise implements elementwise ops, not Hardmax", EltwiseTactics.ELTWISE.whyNot(hardmax, FP32, Layout.ANY));
        Value m = b.input("m", DType.F32, 4, 3);
        Node perAxis = b.node("QuantizeLinear", "qa", Attributes.builder().put("axis", 1L).build(), 1, m, b.constant("s3", org.tessel.api.Tensor.ofFloats(org.tessel.api.Shape.of(3), 1f, 2f, 3f)));
        assertEquals("the elementwise kernels (de)quantize per tensor only; node 'qa' has a scale of shape [3] (per-axis and blocked run on the CPU)",
                EltwiseTactics.ELTWISE.whyNot(perAxis, FP32, Layout.ANY));
        Node perTensor = b.node("QuantizeLinear", "qt", Attributes.empty(), 1, m, b.constant("s1", org.tessel.api.Tensor.ofFloats(org.tessel.api.Shape.scalar(), 0.5f)));
        assertNull(EltwiseTactics.ELTWISE.whyNot(perTensor, FP16, Layout.ANY));
        Node sub = b.node("Sub", "sub", Attributes.empty(), 1, relu.output(), relu.output());
        assertNull(EltwiseTactics.ELTWISE.whyNot(sub, FP16, Layout.ANY));
        // casts have their own tactic
        Node cast = b.node("Cast", "c", Attributes.builder().put("to", 10L).build(), 1, relu.output());
        assertFalse(EltwiseTactics.ELTWISE.appliesTo(cast));
        assertTrue(DataMovementTactics.CAST.appliesTo(cast));
        // FP16 halves the bytes of a memory-bound op
        double fp32 = EltwiseTactics.ELTWISE.cost(H100, b.node("Relu", "big", Attributes.empty(), 1, b.input("y", DType.F32, 1 << 24)), FP32, Layout.ANY, true).memoryUs();
        double fp16 = EltwiseTactics.ELTWISE.cost(H100, b.node("Relu", "big2", Attributes.empty(), 1, b.input("z", DType.F32, 1 << 24)), FP16, Layout.ANY, true).memoryUs();
        assertEquals(2.0, (fp32 - 0.5) / (fp16 - 0.5), 1e-9, "less the least kernel latency, FP32 moves twice the bytes");
    }

    @Test void softmaxAndLayerNormLimits() {
        NetworkBuilder b = new NetworkBuilder("n");
        Node rowSoftmax = b.node("Softmax", "s", Attributes.empty(), 1, b.input("x", DType.F32, 128, 1000));
        Node wide = b.node("Softmax", "w", Attributes.empty(), 1, b.input("y", DType.F32, 4, 4096));
        Node channel = b.node("Softmax", "c", Attributes.builder().put("axis", 1L).build(), 1, b.input("z", DType.F32, 2, 10, 7, 7));
        // the engine's softmax: one CTA per row of any length, the last axis only (no other softmax kernel)
        assertNull(NormTactics.SOFTMAX.whyNot(rowSoftmax, FP16, Layout.ANY));
        assertNull(NormTactics.SOFTMAX.whyNot(wide, FP16, Layout.ANY));
        assertEquals("normalizes the last axis only (got axis 1 of rank 4)", NormTactics.SOFTMAX.whyNot(channel, FP16, Layout.ANY));
        Node logSoftmax = b.node("LogSoftmax", "ls", Attributes.empty(), 1, b.input("q", DType.F32, 4, 10));
        assertFalse(NormTactics.SOFTMAX.appliesTo(logSoftmax));
        Value h = b.input("h", DType.F32, 4, 16384, 8);
        Node ln = b.node("LayerNormalization", "ln", Attributes.builder().put("axis", 1L).build(), 1, h, b.randomWeights("g", 16384, 8), b.randomWeights("bb", 16384, 8));
        assertEquals("normalizes the last axis only (got axis 1 of rank 3)", NormTactics.LAYERNORM.whyNot(ln, FP16, Layout.ANY));
    }

    @Test void dataMovementReductionAndAxisLimits() {
        NetworkBuilder b = new NetworkBuilder("d");
        Value x = b.input("x", DType.F32, 2, 3, 8, 8);
        Node slice = b.node("Slice", "sl", Attributes.empty(), 1, x, b.longs("st", 1), b.longs("en", 3), b.longs("ax", 2));
        assertNull(DataMovementTactics.SLICE.whyNot(slice, FP16, Layout.NCHW));
        Node computedFill = b.node("Pad", "pc", Attributes.empty(), 1, x, b.longs("pads0", 0, 0, 1, 1, 0, 0, 1, 1), b.input("cv", DType.F32));
        assertEquals("needs constant pads, constant_value and axes (input 2 %cv is computed)", DataMovementTactics.PAD.whyNot(computedFill, FP16, Layout.NCHW));
        Value nhwc = b.input("img", DType.F32, 1, 3, 4, 4);
        Node nhwcPad = b.node("Pad", "pd", Attributes.empty(), 1, nhwc, b.longs("pads", 0, 0, 1, 1, 0, 0, 1, 1));
        nhwc.setType(nhwc.type().withLayout(Layout.NHWC)); // as assign-layouts leaves an image between NHWC convolutions
        assertEquals("moves channels-first tensors only (input %img is nhwc)", DataMovementTactics.PAD.whyNot(nhwcPad, FP16, Layout.NHWC));
        Node gather = b.node("GatherElements", "ge", Attributes.builder().put("axis", 1L).build(), 1, x, b.input("idx", DType.I64, 2, 2, 8, 8));
        assertNull(DataMovementTactics.GATHER_ELEMENTS.whyNot(gather, FP16, Layout.NCHW));
        // Tile: a window copy (integer data at every precision); GatherND: data up to 8 axes, indices of any rank, computed or not
        Node tile = b.node("Tile", "tl", Attributes.empty(), 1, x, b.longs("reps", 1, 2, 1, 3));
        assertTrue(DataMovementTactics.TILE.appliesTo(tile));
        assertFalse(DataMovementTactics.EXPAND.appliesTo(tile));
        assertNull(DataMovementTactics.TILE.whyNot(tile, FP16, Layout.NCHW));
        assertNull(DataMovementTactics.TILE.whyNot(b.node("Tile", "ti", Attributes.empty(), 1, b.input("tids", DType.I64, 4), b.longs("r1", 3)), FP16, Layout.NCHW));
        Value nine = b.input("nine", DType.F32, 1, 1, 1, 1, 1, 1, 1, 1, 2);
        assertEquals("takes up to 8 axes (got rank 9)",
                DataMovementTactics.TILE.whyNot(b.node("Tile", "t9", Attributes.empty(), 1, nine, b.longs("r9", 1, 1, 1, 1, 1, 1, 1, 1, 2)), FP32, Layout.NCHW));
        Node gnd = b.node("GatherND", "gn", Attributes.builder().put("batch_dims", 1L).build(), 1, x, b.input("tuples", DType.I64, 2, 5, 4, 3, 2, 1, 1, 1, 2));
        assertTrue(DataMovementTactics.GATHER_ND.appliesTo(gnd));
        assertNull(DataMovementTactics.GATHER_ND.whyNot(gnd, FP16, Layout.NCHW));
        assertEquals("takes data of up to 8 axes (got rank 9)",
                DataMovementTactics.GATHER_ND.whyNot(b.node("GatherND", "g9", Attributes.empty(), 1, nine, b.input("t9i", DType.I64, 1, 1)), FP32, Layout.NCHW));
        Node nhwcGnd = b.node("GatherND", "gh", Attributes.empty(), 1, nhwc, b.input("ti2", DType.I64, 2, 1));
        assertEquals("moves channels-first tensors only (input %img is nhwc)", DataMovementTactics.GATHER_ND.whyNot(nhwcGnd, FP16, Layout.NHWC));
        // every Reduce* op, any axes; integer data is refused, bool only for ReduceMax / ReduceMin
        Node l2 = b.node("ReduceL2", "l2", Attributes.empty(), 1, x, b.longs("rax", 1, 3));
        assertNull(DataMovementTactics.REDUCE.whyNot(l2, FP16, Layout.NCHW));
        Node intSum = b.node("ReduceSum", "is", Attributes.empty(), 1, b.input("ids", DType.I32, 4, 5), b.longs("rax2", 1));
        assertNull(DataMovementTactics.REDUCE.whyNot(intSum, FP32, Layout.NCHW));
        Node intMean = b.node("ReduceMean", "im", Attributes.empty(), 1, b.input("ids2", DType.I64, 4, 5), b.longs("rax4", 1));
        assertEquals("reduces floating data; integers in ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1; bool in ReduceMax, ReduceMin (got i64)",
                DataMovementTactics.REDUCE.whyNot(intMean, FP32, Layout.NCHW));
        Node emptyMax = b.node("ReduceMax", "em", Attributes.empty(), 1, b.input("none", DType.I64, 3, 0), b.longs("rax5", 1));
        assertEquals("an empty ReduceMax of i64 data: its identity does not fit the device's i32 integers", DataMovementTactics.REDUCE.whyNot(emptyMax, FP32, Layout.NCHW));
        Node boolMax = b.node("ReduceMax", "bm", Attributes.empty(), 1, b.input("flags", DType.BOOL, 4, 5), b.longs("rax3", 1));
        assertNull(DataMovementTactics.REDUCE.whyNot(boolMax, FP32, Layout.NCHW));
        // LogSoftmax / Hardmax along any axis; ArgMax on floating data with a non-empty axis
        Node ls = b.node("LogSoftmax", "ls", Attributes.builder().put("axis", 1L).build(), 1, x);
        assertNull(NormTactics.LOGSOFTMAX.whyNot(ls, FP16, Layout.NCHW));
        assertFalse(NormTactics.LOGSOFTMAX.appliesTo(b.node("Softmax", "sm", Attributes.empty(), 1, x)));
        Node argInts = b.node("ArgMax", "am", Attributes.empty(), 1, b.input("ints", DType.I64, 3, 4));
        assertNull(DataMovementTactics.ARGMAX.whyNot(argInts, FP32, Layout.NCHW));
        assertNull(DataMovementTactics.ARGMIN.whyNot(b.node("ArgMin", "an", Attributes.builder().put("axis", -1L).build(), 1, x), FP32, Layout.NCHW));
        Node bigFill = b.node("ConstantOfShape", "cs", Attributes.builder().put("value", org.tessel.api.Tensor.ofLongs(DType.I64, org.tessel.api.Shape.of(1), 1L << 40)).build(), 1,
                b.longs("shape", 4, 4));
        assertEquals("value 1099511627776 is outside the i32 range of device integers", DataMovementTactics.FILL.whyNot(bigFill, FP32, Layout.ANY));
    }

    @Test void poolingLimits() {
        NetworkBuilder b = new NetworkBuilder("p");
        Value x = b.input("x", DType.F32, 1, 64, 112, 112);
        Node mp = b.node("MaxPool", "mp", Attributes.builder().put("kernel_shape", 3, 3).put("strides", 2, 2).put("pads", 1, 1, 1, 1).build(), 1, x);
        assertNull(PoolTactics.MAX.whyNot(mp, FP16, Layout.NHWC));
        assertFalse(PoolTactics.AVG.appliesTo(mp));
        Node withIdx = b.node("MaxPool", "mpi", Attributes.builder().put("kernel_shape", 2, 2).build(), 2, x);
        assertEquals("does not return MaxPool's indices output", PoolTactics.MAX.whyNot(withIdx, FP16, Layout.NHWC));
        Node mp1 = b.node("MaxPool", "mp1", Attributes.builder().putInts("kernel_shape", 3).build(), 1, b.input("seq", DType.F32, 1, 8, 100));
        assertEquals("2-D pooling only (got 1-D)", PoolTactics.MAX.whyNot(mp1, FP16, Layout.NCHW));
        assertEquals("needs NCHW or NHWC layout (got ANY)", PoolTactics.MAX.whyNot(mp, FP16, Layout.ANY));
        // a ReduceMean over H and W is the engine's global pool, not its reduction
        Node mean = b.node("ReduceMean", "rm", Attributes.builder().putInts("axes", 2, 3).build(), 1, x);
        assertNull(PoolTactics.GLOBAL.whyNot(mean, FP16, Layout.NCHW));
        assertEquals("a ReduceMean over the spatial axes runs as tessel.pool.global", DataMovementTactics.REDUCE.whyNot(mean, FP16, Layout.NCHW));
    }

    @Test void reformatNodesHaveTheirTactic() {
        NetworkBuilder b = new NetworkBuilder("r");
        Value x = b.input("x", DType.F32, 1, 64, 56, 56);
        Node r = b.node("tessel.Reformat", "to_nhwc", Attributes.builder().put("to", "nhwc").build(), 1, x);
        assertNull(DataMovementTactics.REFORMAT.whyNot(r, FP16, Layout.NHWC));
        // the tactic moves the bytes the model's edge cost moves
        double edge = H100.reformatUs(x.type().withDType(DType.F16), true);
        assertEquals(edge, DataMovementTactics.REFORMAT.cost(H100, r, FP16, Layout.NHWC, true).totalUs(), 1e-9);
    }
}
