package org.tessel.benchmarks;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Large synthetic graphs for pass-pipeline benchmarks: a long residual network of small blocks
 * that gives every standard pass work (BN to fold, bias adds, identities, reshape pairs,
 * elementwise chains, residual fusion), with tiny tensors so the time is the passes', not
 * arithmetic's.
 */
public final class SyntheticGraphs {
    private SyntheticGraphs() {}

    /**
     * A linear chain of {@code nodes} nodes on a tiny tensor, repeating Relu, Identity, Softmax,
     * Add(bias): identities to remove, Add+Relu pairs to fuse, a Softmax between them that does not
     * fuse, and one buffer per unfused node for the memory planner.
     */
    public static Graph chain(int nodes) {
        NetworkBuilder b = new NetworkBuilder("chain" + nodes, OpRegistry.global(), 1);
        Value x = b.input("x", DType.F32, 1, 8);
        Value bias = b.constant("bias", Tensor.full(DType.F32, Shape.of(8), 0.5f));
        for (int i = 0; i < nodes; i++) {
            x = switch (i % 4) {
                case 0 -> b.relu(x);
                case 1 -> b.op("Identity", null, x);
                case 2 -> b.softmax(x, 1);
                default -> b.add(x, bias);
            };
        }
        return b.output(x).build();
    }

    /** About {@code nodes} nodes: blocks of 10 nodes each. */
    public static Graph residualChain(int nodes, long seed) {
        NetworkBuilder b = new NetworkBuilder("synthetic" + nodes, OpRegistry.global(), seed);
        int c = 8;
        Value x = b.input("x", DType.F32, 1, c, 4, 4);
        Value one = b.constant("one", Tensor.full(DType.F32, Shape.of(c), 1));
        Value zero = b.constant("zero", Tensor.zeros(DType.F32, Shape.of(c)));
        for (int i = 0; i < nodes / 10; i++) {
            b.scope("block" + i + ".");
            Value conv = b.conv(x, b.randomWeights("w", c, c, 1, 1), null, 1, 0);
            Value bn = b.batchNorm(conv, one, zero, zero, one, 1e-5f);
            Value biased = b.add(bn, b.constant("bias", b.randomUniform(Shape.of(c, 1, 1), -0.1f, 0.1f)));
            Value res = b.relu(b.add(biased, x));
            Value id = b.op("Identity", null, res);
            Value flat = b.reshape(b.reshape(id, 1, c * 16), 1, c, 4, 4);
            Value gate = b.mul(b.sigmoid(flat), flat);
            x = gate;
        }
        return b.output(x).build();
    }
}
