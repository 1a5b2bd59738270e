package org.tessel.ir.onnx;

import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * A batch size asked of a model exported with a fixed batch dimension (most exporters write 1).
 * The model is imported twice, with every input's first dimension set to 1 and to N; it is
 * rebatched only when every value computed from the inputs has, at N, its batch-1 shape with the
 * first dimension N times larger. A node where that fails (a Reshape to a constant shape such as
 * [1, 2048], a reduction over the batch) pins the batch: it is named and the import refused, as
 * is an import that fails at N. An input whose fixed first dimension is neither 1 nor N is refused.
 */
final class Rebatching {
    private Rebatching() {}

    /**
     * True when some input's first dimension is fixed at 1 and the batch size asked is another;
     * refuses a fixed first dimension that is neither 1 nor the batch size.
     */
    static boolean needed(ModelProto model, OnnxImporter.Options opt) {
        int n = opt.batchSize();
        GraphProto gp = model.getGraph();
        Set<String> initializers = new HashSet<>();
        for (TensorProto t : gp.getInitializerList()) initializers.add(t.getName());
        boolean fixedOne = false;
        for (ValueInfoProto vi : gp.getInputList()) {
            if (initializers.contains(vi.getName()) || opt.constantInputs().containsKey(vi.getName()) || !vi.getType().hasTensorType()) continue;
            List<TensorShapeProto.Dimension> ds = vi.getType().getTensorType().getShape().getDimList();
            if (ds.isEmpty() || !ds.getFirst().hasDimValue()) continue;
            long first = ds.getFirst().getDimValue();
            if (first == n) continue;
            if (first != 1)
                throw new OnnxImportException(Kind.INVALID_MODEL, "batch", "batch size " + n + " was asked, but graph input '" + vi.getName() + "' has a fixed batch dimension of "
                        + first + "; only a model exported with a symbolic batch dimension (or a fixed 1 the graph scales from) can be built for other batch sizes");
            fixedOne = true;
        }
        return fixedOne && n != 1;
    }

    /** The model at batch n, imported by {@code importAt}, when it scales from batch 1; else refused naming the node that pins the batch. */
    static Graph rebatch(ModelProto model, int n, IntFunction<Graph> importAt) {
        Graph one = importAt.apply(1);
        String why = "batch size " + n + " was asked of a model whose inputs have a fixed batch dimension of 1, and it cannot be rebatched: ";
        String advice = "; export the model with a symbolic batch dimension to build other batch sizes";
        Graph many;
        try {
            many = importAt.apply(n);
        } catch (IrException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, "batch", why + "at batch " + n + ", " + e.getMessage() + advice, e);
        }
        Set<Value> fromInputs = Collections.newSetFromMap(new IdentityHashMap<>());
        fromInputs.addAll(many.inputs());
        for (Node node : many.nodes()) {
            boolean dependent = false;
            for (Value in : node.inputs()) if (in != null && fromInputs.contains(in)) { dependent = true; break; }
            if (!dependent) continue;
            for (Value out : node.outputs()) {
                fromInputs.add(out);
                Value ref = one.value(out.name());
                if (ref == null) continue;
                if (!scaled(ref.type().shape(), out.type().shape(), n))
                    throw new OnnxImportException(Kind.INVALID_MODEL, "batch", why + node.describe() + " does not scale with the batch: its result %" + out.name() + " is "
                            + ref.type() + " at batch 1 and " + out.type() + " at batch " + n + advice);
            }
        }
        return many;
    }

    /** True when {@code many} is {@code one} with the first dimension n times larger. */
    private static boolean scaled(Shape one, Shape many, int n) {
        if (one.rank() == 0 || one.rank() != many.rank() || (long) one.dim(0) * n != many.dim(0)) return false;
        for (int i = 1; i < one.rank(); i++) if (one.dim(i) != many.dim(i)) return false;
        return true;
    }
}
