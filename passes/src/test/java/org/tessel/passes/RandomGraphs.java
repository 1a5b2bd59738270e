package org.tessel.passes;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Builds random well-typed graphs from a "program": a list of integers, each choosing one step
 * (an op or a small pattern the passes look for) and seeding its parameters. jqwik shrinks the
 * list, so a failing graph shrinks to a few steps. Tensors stay small so thousands of graphs run
 * in seconds. Public (and in the passes test jar) so other modules' property tests use the same graphs.
 */
public final class RandomGraphs {
    private RandomGraphs() {}

    static final int TEMPLATES = 28;

    public static Graph build(List<Integer> program) {
        SplittableRandom r0 = new SplittableRandom(program.isEmpty() ? 1 : program.get(0));
        NetworkBuilder b = new NetworkBuilder("random", OpRegistry.global(), r0.nextLong());
        List<Value> pool = new ArrayList<>();
        pool.add(b.input("x", DType.F32, r0.nextBoolean() ? new int[] {1, 4, 4, 4} : randomShape(r0)));
        if (r0.nextInt(3) == 0) pool.add(b.input("y", DType.F32, randomShape(r0)));
        for (int step : program) {
            SplittableRandom r = new SplittableRandom(step * 0x9E3779B97F4A7C15L + 7);
            Value x = pool.get(r.nextInt(pool.size()));
            try {
                List<Value> made = step(b, r, Math.floorMod(step, TEMPLATES), x, pool);
                pool.addAll(made);
            } catch (IrException e) {
                // the template does not apply to this value (a generator limit, not a pass bug): skip it
            }
        }
        Value last = pool.get(pool.size() - 1);
        if (last.isInput()) last = b.relu(last);
        b.output(last);
        Value extra = pool.get(r0.nextInt(pool.size()));
        if (extra != last && !extra.isInput() && r0.nextBoolean()) b.output(extra);
        return b.build();
    }

    static int[] randomShape(SplittableRandom r) {
        int rank = 1 + r.nextInt(4);
        int[] d = new int[rank];
        for (int i = 0; i < rank; i++) d[i] = 1 + r.nextInt(4);
        return d;
    }

    private static Value c(NetworkBuilder b, SplittableRandom r, Shape s) {
        return b.constant("k", b.randomUniform(s, -1.5f, 1.5f));
    }

    private static Value scalar(NetworkBuilder b, double v) { return b.constant("s", Tensor.scalar(DType.F32, v)); }

    private static List<Value> step(NetworkBuilder b, SplittableRandom r, int t, Value x, List<Value> pool) {
        Shape s = x.type().shape();
        int rank = s.rank();
        if (rank == 0 && t > 3) t = 0; // scalars (from full reductions) only take elementwise steps
        switch (t) {
            case 0, 1 -> {
                String[] ops = {"Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Erf", "Gelu", "HardSwish", "HardSigmoid", "LeakyRelu", "Identity", "Dropout", "Exp"};
                String op = ops[r.nextInt(ops.length)];
                Value in = op.equals("Exp") ? b.tanh(x) : x;
                return List.of(b.op(op, null, in));
            }
            case 2, 3 -> {
                String[] ops = {"Add", "Sub", "Mul", "Max", "Min", "Div"};
                String op = ops[r.nextInt(ops.length)];
                Value other = pool.get(r.nextInt(pool.size()));
                if (r.nextBoolean() || other.type().dtype() != DType.F32) {
                    int keep = r.nextInt(rank + 1);
                    int[] d = new int[keep];
                    for (int i = 0; i < keep; i++) d[i] = r.nextBoolean() ? s.dim(rank - keep + i) : 1;
                    other = c(b, r, Shape.of(d));
                }
                // the denominator is always the operand kept away from zero: dividing by an arbitrary value
                // (GELU's tail, say) amplifies rounding without bound and proves nothing about a pass
                if (op.equals("Div")) return List.of(b.op(op, null, x, b.add(b.op("Abs", null, other), scalar(b, 0.5))));
                return List.of(r.nextBoolean() ? b.op(op, null, x, other) : b.op(op, null, other, x));
            }
            case 4 -> { return List.of(b.op(r.nextBoolean() ? "Softmax" : "LogSoftmax", NetworkBuilder.attrs("axis", r.nextInt(rank)), x)); }
            case 5 -> {
                int[] perm = new int[rank];
                for (int i = 0; i < rank; i++) perm[i] = i;
                for (int i = rank - 1; i > 0; i--) { int j = r.nextInt(i + 1); int tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp; }
                return List.of(b.transpose(x, perm));
            }
            case 6 -> {
                long n = s.numElements();
                long a = 1;
                for (long k = 2; k <= n; k++) if (n % k == 0 && r.nextBoolean()) { a = k; break; }
                return List.of(r.nextBoolean() ? b.reshape(x, a, -1) : b.flatten(x, r.nextInt(rank + 1)));
            }
            case 7 -> {
                String[] ops = {"ReduceMean", "ReduceSum", "ReduceMax"};
                return List.of(b.op(ops[r.nextInt(3)], NetworkBuilder.attrs("keepdims", r.nextInt(2)), x, b.longs("axes", r.nextInt(rank))));
            }
            case 8 -> { return List.of(b.concat(r.nextInt(rank), x, r.nextBoolean() ? x : b.relu(x))); }
            case 9 -> {
                int axis = r.nextInt(rank);
                if (s.dim(axis) < 2) return List.of();
                int first = 1 + r.nextInt(s.dim(axis) - 1);
                return b.split(x, axis, first, s.dim(axis) - first);
            }
            case 10 -> {
                int axis = r.nextInt(rank);
                int start = r.nextInt(s.dim(axis)), end = start + 1 + r.nextInt(s.dim(axis) - start);
                return List.of(b.op("Slice", null, x, b.longs("starts", start), b.longs("ends", end), b.longs("axes", axis)));
            }
            case 11 -> {
                Value u = b.op("Unsqueeze", null, x, b.longs("axes", r.nextInt(rank + 1)));
                return List.of(r.nextBoolean() ? b.op("Squeeze", null, u) : u);
            }
            case 12 -> {
                int k = s.dim(-1);
                Value w = b.randomWeights("w", k, 1 + r.nextInt(5));
                if (rank == 1) return List.of();
                return List.of(b.matmul(x, w));
            }
            case 13 -> {
                if (rank != 2) return List.of();
                int n = 1 + r.nextInt(4);
                boolean tb = r.nextBoolean();
                Value w = tb ? b.randomWeights("w", n, s.dim(1)) : b.randomWeights("w", s.dim(1), n);
                return List.of(b.gemm(x, w, r.nextBoolean() ? c(b, r, Shape.of(n)) : null, tb));
            }
            case 14, 15 -> {
                if (rank != 4) return List.of();
                int cin = s.dim(1), cout = 1 + r.nextInt(6), k = r.nextBoolean() ? 1 : 3;
                boolean dw = r.nextInt(4) == 0;
                Value w = dw ? b.randomWeights("w", cin, 1, k, k) : b.randomWeights("w", cout, cin, k, k);
                Value conv = b.conv(x, w, r.nextBoolean() ? c(b, r, Shape.of(dw ? cin : cout)) : null, r.nextInt(3) == 0 ? 2 : 1, k / 2, 1, dw ? cin : 1);
                int ch = conv.type().shape().dim(1);
                if (t == 15) {
                    conv = b.batchNorm(conv, b.constant("g", b.randomUniform(Shape.of(ch), 0.5f, 1.5f)), c(b, r, Shape.of(ch)),
                            c(b, r, Shape.of(ch)), b.constant("v", b.randomUniform(Shape.of(ch), 0.5f, 2f)), 1e-5f);
                    if (r.nextBoolean()) conv = b.add(conv, c(b, r, Shape.of(ch, 1, 1)));
                    if (r.nextBoolean() && conv.type().shape().equals(s)) conv = b.add(conv, x);
                    conv = r.nextBoolean() ? b.relu(conv) : b.clip(conv, 0, 6);
                } else if (r.nextBoolean()) {
                    conv = b.add(conv, c(b, r, Shape.of(ch, 1, 1))); // a bias add fold-bias-add can take
                }
                return List.of(conv);
            }
            case 16 -> {
                if (rank != 4) return List.of();
                return switch (r.nextInt(3)) {
                    case 0 -> List.of(b.maxPool(x, 2, 1, r.nextInt(2)));
                    case 1 -> List.of(b.avgPool(x, 2, 1, 0));
                    default -> List.of(b.globalAvgPool(x));
                };
            }
            case 17 -> {
                int d = s.dim(-1);
                return List.of(b.layerNorm(x, b.constant("gamma", b.randomUniform(Shape.of(d), 0.5f, 1.5f)), c(b, r, Shape.of(d)), -1, 1e-5f));
            }
            case 18 -> { // decomposed GELU, as exporters write it
                Value e = b.op("Erf", null, b.div(x, scalar(b, Math.sqrt(2))));
                return List.of(b.mul(b.mul(x, b.add(e, scalar(b, 1))), scalar(b, 0.5)));
            }
            case 19 -> { // decomposed LayerNorm over the last axis, or RMSNorm (x * Reciprocal(Sqrt(mean(x^2) + eps)) * gamma)
                Value axes = b.longs("axes", -1);
                if (r.nextBoolean()) {
                    Value ms = b.op("ReduceMean", null, b.op("Pow", null, x, scalar(b, 2)), axes);
                    Value inv = b.op("Reciprocal", null, b.op("Sqrt", null, b.add(ms, scalar(b, 1e-5))));
                    return List.of(b.mul(c(b, r, Shape.of(s.dim(-1))), b.mul(x, inv)));
                }
                Value d = b.sub(x, b.op("ReduceMean", null, x, axes));
                Value var = b.op("ReduceMean", null, b.mul(d, d), axes);
                return List.of(b.div(d, b.op("Sqrt", null, b.add(var, scalar(b, 1e-5)))));
            }
            case 20 -> { // attention-shaped block on a rank >= 2 value
                if (rank < 2) return List.of();
                int[] perm = new int[rank];
                for (int i = 0; i < rank; i++) perm[i] = i;
                perm[rank - 1] = rank - 2;
                perm[rank - 2] = rank - 1;
                Value scores = b.div(b.matmul(x, b.transpose(x, perm)), scalar(b, 2));
                return List.of(b.matmul(b.softmax(scores, rank - 1), x));
            }
            case 21 -> { // siblings on one input
                if (rank == 4) {
                    Value a = b.conv(x, b.randomWeights("w", 2, s.dim(1), 1, 1), null, 1, 0);
                    Value c2 = b.conv(x, b.randomWeights("w", 3, s.dim(1), 1, 1), c(b, r, Shape.of(3)), 1, 0);
                    return List.of(a, c2);
                }
                if (rank < 2) return List.of();
                return List.of(b.matmul(x, b.randomWeights("w", s.dim(-1), 2)), b.matmul(x, b.randomWeights("w", s.dim(-1), 3)));
            }
            case 22 -> { // shape arithmetic
                Value d = b.op("Gather", NetworkBuilder.attrs("axis", 0), b.op("Shape", null, x), b.constant("i", Tensor.ofLongs(DType.I64, Shape.scalar(), r.nextInt(rank))));
                return List.of(b.mul(x, b.op("Cast", NetworkBuilder.attrs("to", 1), d)));
            }
            case 23 -> { // consecutive data movement
                Value f = b.flatten(x, 0);
                return List.of(b.reshape(f, s.numElements()));
            }
            case 24 -> { // precision round trip and selection
                Value h = b.op("Cast", NetworkBuilder.attrs("to", 1), b.op("Cast", NetworkBuilder.attrs("to", 10), x));
                return List.of(b.op("Where", null, b.op("Greater", null, x, scalar(b, 0)), h, b.op("Neg", null, x)));
            }
            case 26 -> { // Tile: an axis or two repeated (anchor grids, repeated masks)
                long[] reps = new long[rank];
                for (int i = 0; i < rank; i++) reps[i] = r.nextInt(3) == 0 ? 2 : 1;
                return List.of(b.op("Tile", null, x, b.longs("reps", reps)));
            }
            case 27 -> { // GatherND of constant tuples (negative coordinates among them), batch_dims below the rank
                int bd = r.nextInt(rank), k = 1 + r.nextInt(rank - bd), n = 1 + r.nextInt(3);
                int[] id = new int[bd + 2];
                for (int i = 0; i < bd; i++) id[i] = s.dim(i);
                id[bd] = n;
                id[bd + 1] = k;
                Shape is = Shape.of(id);
                long[] v = new long[(int) is.numElements()];
                for (int i = 0; i < v.length; i++) {
                    int len = s.dim(bd + i % k);
                    v[i] = r.nextInt(-len, len);
                }
                return List.of(b.op("GatherND", NetworkBuilder.attrs("batch_dims", bd), x, b.constant("tuples", Tensor.ofLongs(DType.I64, is, v))));
            }
            default -> {
                if (rank != 4) return List.of(b.clip(x, -0.5f, 0.5f));
                long[] pads = new long[8];
                pads[2] = r.nextInt(2);
                pads[7] = r.nextInt(2);
                return List.of(b.op("Pad", null, x, b.longs("pads", pads)));
            }
        }
    }
}
