package org.tessel.ir.zoo;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.InferenceContext;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Size and cost of a graph, computed the way papers report them so the zoo can be checked against
 * published figures.
 *
 * <p>{@code parameters} counts the elements of the floating-point constants that nodes read as
 * weights: every such constant of rank 1 or more, except BatchNormalization's running mean and
 * variance (statistics, not trained parameters, and left out of published counts). Scalars (a
 * Clip bound, an attention scale) are hyper-parameters, not weights. {@code weightBytes} is the
 * storage of every floating-point constant nodes read, statistics and scalars included; integer
 * constants (shapes, axes, indices) are left out. {@code macs} sums each op's own cost hint
 * ({@link org.tessel.api.OpSchema#macs}), recursing into fused bodies; {@code flops} is twice that.
 */
public record ModelStats(long parameters, long macs, long flops, int nodes, Map<String, Integer> opHistogram, long weightBytes) {
    public ModelStats {
        opHistogram = Collections.unmodifiableMap(new LinkedHashMap<>(opHistogram));
    }

    public static ModelStats of(Graph g) {
        Set<Value> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        long params = 0, bytes = 0;
        for (Node n : g.nodes()) {
            for (int i = 0; i < n.numInputs(); i++) {
                Value v = n.input(i);
                if (v == null || !v.isConstant() || !v.type().dtype().isFloating() || !seen.add(v)) continue;
                bytes += v.type().bytes();
                if (v.type().rank() > 0 && !isRunningStatistic(n, i)) params += v.type().numElements();
            }
        }
        long macs, flops;
        try {
            macs = macs(g);
            flops = Math.multiplyExact(2, macs);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(g.name() + ": its FLOPs do not fit a 64-bit count (more than 9.2e18); the sizes are too large to count");
        }
        return new ModelStats(params, macs, flops, g.nodes().size(), g.opHistogram(), bytes);
    }

    private static boolean isRunningStatistic(Node n, int input) {
        return n.opName().equals("BatchNormalization") && (input == 3 || input == 4);
    }

    private static long macs(Graph g) {
        long total = 0;
        for (Node n : g.nodes()) {
            if (n.body() != null) {
                total = Math.addExact(total, macs(n.body()));
                continue;
            }
            List<TensorType> ins = n.inputs().stream().map(v -> v == null ? null : v.type()).toList();
            List<Tensor> consts = n.inputs().stream().map(v -> v == null ? null : v.inferenceValue()).toList();
            List<TensorType> outs = n.outputs().stream().map(Value::type).toList();
            total = Math.addExact(total, n.op().macs(new InferenceContext(n.name(), ins, consts, n.attrs(), outs.size()), outs));
        }
        return total;
    }

    /** One line: "25.557 M parameters, 4.089 G MACs, 175 nodes, 102.3 MB of weights". */
    @Override public String toString() {
        return String.format("%.3f M parameters, %.3f G MACs, %d nodes, %.1f MB of weights",
                parameters / 1e6, macs / 1e9, nodes, weightBytes / 1e6);
    }
}
