package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/** ModelStats on a hand-built graph whose counts are worked out by hand. */
class ModelStatsTest {
    @Test
    void countsWeightsStatisticsAndCostAsPapersDo() {
        NetworkBuilder b = new NetworkBuilder("stats");
        Value x = b.input("x", DType.F32, 2, 3, 8, 8);
        // conv 3->4, 3x3, pad 1: 108 weights + 4 bias; output [2,4,8,8]
        Value y = b.conv(x, b.randomWeights("w", 4, 3, 3, 3), b.normalWeights("bias", 0.1f, 4), 1, 1);
        // BN: gamma and beta are parameters, running mean and variance are not
        y = b.batchNorm(y, b.uniformWeights("g", 0.9f, 1.1f, 4), b.normalWeights("be", 0.1f, 4),
                b.normalWeights("m", 0.1f, 4), b.uniformWeights("v", 0.9f, 1.1f, 4), 1e-5f);
        y = b.clip(y, 0, 6);                               // two scalar bounds: not parameters
        y = b.reshape(y, 2, 256);                          // an i64 shape: neither
        Value w = b.randomWeights("fc", 5, 256);           // Gemm [2,256] x [256,5]^T: 1280 weights
        Graph g = b.output(b.gemm(y, w, null, true)).build();

        ModelStats s = ModelStats.of(g);
        assertEquals(108 + 4 + 4 + 4 + 1280, s.parameters());
        assertEquals(4L * (108 + 4 + 4 * 4 + 2 + 1280), s.weightBytes(), "every floating constant, statistics and scalars included");
        long conv = 2L * 4 * 8 * 8 * (3 * 3 * 3);
        long gemm = 2L * 5 * 256;
        assertEquals(conv + gemm, s.macs(), "Conv: output elements x (C_in/group x kH x kW); Gemm: M x N x K");
        assertEquals(2 * s.macs(), s.flops());
        assertEquals(5, s.nodes());
        assertEquals(Map.of("Conv", 1, "BatchNormalization", 1, "Clip", 1, "Reshape", 1, "Gemm", 1), s.opHistogram());
    }

    @Test
    void sharedWeightsCountOnce() {
        NetworkBuilder b = new NetworkBuilder("shared");
        Value x = b.input("x", DType.F32, 1, 4);
        Value w = b.constant("w", b.randomNormal(Shape.of(4, 4), 1));
        Graph g = b.output(b.matmul(b.matmul(x, w), w)).build();
        ModelStats s = ModelStats.of(g);
        assertEquals(16, s.parameters());
        assertEquals(64, s.weightBytes());
        assertEquals(2 * 16, s.macs());
    }
}
