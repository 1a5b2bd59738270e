package org.tessel.tactics.lora;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.LoraOps;

/** tessel.lora.bgmv: the op it takes, FP32 only, f32 activations, constant adapters, the rank bound, a finite price. */
class LoraTacticTest {
    static Node delta(DType x, int rank, boolean constantB) {
        Graph g = new Graph("lora");
        Value xv = g.addInput("x", TensorType.of(x, Shape.of(4, 1, 32)));
        Value ids = g.addInput("ids", TensorType.of(DType.I64, Shape.of(4)));
        Value b = constantB ? g.addConstant("b", Tensor.zeros(DType.F32, Shape.of(2, 48, rank))) : g.addInput("b", TensorType.of(DType.F32, Shape.of(2, 48, rank)));
        Node n = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta", List.of(xv, g.addConstant("a", Tensor.zeros(DType.F32, Shape.of(2, rank, 32))), b,
                g.addConstant("s", Tensor.zeros(DType.F32, Shape.of(2))), ids), Attributes.empty(), 1);
        g.setOutputs(List.of(n.output()));
        return n;
    }

    @Test void takesF32DeltasWithConstantAdaptersUpToRank64() {
        LoraTactic t = LoraTactic.BGMV;
        assertNull(t.whyNot(delta(DType.F32, 64, true), Precision.FP32, Layout.ANY));
        assertEquals("FP32 only (got fp16)", t.whyNot(delta(DType.F32, 8, true), Precision.FP16, Layout.ANY));
        assertEquals("computes f32 (x is f16)", t.whyNot(delta(DType.F16, 8, true), Precision.FP32, Layout.ANY));
        assertEquals("needs the stacked adapters and scales as constants (lora_b is computed)", t.whyNot(delta(DType.F32, 8, false), Precision.FP32, Layout.ANY));
        assertEquals("keeps a row's x·Aᵀ in shared memory: stacked rank at most 64 (got 65)", t.whyNot(delta(DType.F32, 65, true), Precision.FP32, Layout.ANY));
        Node n = delta(DType.F32, 16, true);
        double us = t.cost(new CostModel(DeviceSpec.h100Sxm()), n, Precision.FP32, Layout.ANY, true).totalUs();
        assertTrue(us > 0 && Double.isFinite(us), us + " us");
    }
}
