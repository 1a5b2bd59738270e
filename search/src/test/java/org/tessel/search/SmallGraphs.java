package org.tessel.search;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Random small graphs of the shapes the search meets: conv/pool/residual/concat image graphs
 * and gemm/bias/activation/softmax dense graphs, 3 to 10 nodes, every one priceable by the real
 * tactic catalogue. Seeded, so a failing case can be rebuilt.
 */
public final class SmallGraphs {
    private SmallGraphs() {}

    public static Graph build(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        return r.nextBoolean() ? image(seed, r) : dense(seed, r);
    }

    static Graph image(long seed, SplittableRandom r) {
        NetworkBuilder b = new NetworkBuilder("image-" + seed, org.tessel.api.OpRegistry.global(), seed);
        int c = 8 << r.nextInt(3);
        List<Value> pool = new ArrayList<>(List.of(b.input("x", DType.F32, 1, c, 16, 16)));
        int steps = 2 + r.nextInt(6);
        for (int s = 0; s < steps; s++) {
            Value x = pool.get(pool.size() - 1 - r.nextInt(Math.min(2, pool.size())));
            int cin = x.type().shape().dim(1);
            Value y = switch (r.nextInt(6)) {
                case 0, 1 -> {
                    int cout = 8 << r.nextInt(3);
                    Value conv = b.conv(x, b.heNormal("w", (long) cin * 9, cout, cin, 3, 3), b.randomWeights("b", cout), 1, 1);
                    yield r.nextBoolean() ? b.relu(conv) : conv;
                }
                case 2 -> b.relu(x);
                case 3 -> {
                    Value conv = b.conv(x, b.heNormal("w", cin, cin, cin, 1, 1), b.randomWeights("b", cin), 1, 0);
                    yield b.relu(b.add(conv, x));
                }
                case 4 -> b.maxPool(x, 3, 1, 1);
                default -> b.sigmoid(b.mul(x, b.constant("s", org.tessel.api.Shape.of(1), 0.5f)));
            };
            pool.add(y);
        }
        b.output(pool.get(pool.size() - 1));
        return b.build();
    }

    static Graph dense(long seed, SplittableRandom r) {
        NetworkBuilder b = new NetworkBuilder("dense-" + seed, org.tessel.api.OpRegistry.global(), seed);
        int k = 16 << r.nextInt(3);
        Value x = b.input("x", DType.F32, 4, k);
        int steps = 2 + r.nextInt(5);
        for (int s = 0; s < steps; s++) {
            int n = 16 << r.nextInt(3);
            int kin = x.type().shape().dim(1);
            x = switch (r.nextInt(4)) {
                case 0 -> b.gemm(x, b.heNormal("w", kin, kin, n), b.randomWeights("b", n), false);
                case 1 -> b.gelu(b.add(b.matmul(x, b.heNormal("w", kin, kin, n)), b.randomWeights("b", n)));
                case 2 -> b.relu(b.matmul(x, b.heNormal("w", kin, kin, n)));
                default -> b.tanh(x);
            };
        }
        b.output(b.softmax(x, 1));
        return b.build();
    }
}
