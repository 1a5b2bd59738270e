package org.tessel.tactics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.TensorType;
import org.tessel.cost.Calibration;
import org.tessel.cost.CostModel;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Rebuilds the node a calibration row measured from its op and shape string, so the cost model
 * can re-predict the row under other parameters ({@link #predictor}). The shape strings, which
 * the GPU measurements write too:
 * <ul>
 * <li>MatMul, Gemm: {@code M=128,N=768,K=768} (optionally {@code batch=12})</li>
 * <li>Conv: {@code N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=1,pad=1} (optionally {@code group=})</li>
 * <li>any elementwise op (Relu, Add, Gelu...): {@code elements=1048576}</li>
 * <li>Softmax, LayerNormalization: {@code rows=4096,cols=768}</li>
 * </ul>
 * Errors name the row's op and shape and the key that is missing or bad.
 */
public final class CalibrationNodes {
    private CalibrationNodes() {}

    /** The node of a one-node graph that a row measured. */
    public static Node node(String op, String shape) { return build(op, shape); }

    /**
     * Predicts a row with its own tactic from {@code catalog}, in a CUDA graph when
     * {@code cudaGraphs} (how the H200 table was measured). The predictor keeps the nodes it
     * builds, since a fit predicts every row many times.
     */
    public static Calibration.Predictor predictor(TacticCatalog catalog, boolean cudaGraphs) {
        Map<String, Node> nodes = new ConcurrentHashMap<>();
        return (row, model) -> predict(catalog, row, nodes.computeIfAbsent(row.op() + " " + row.shape(), k -> build(row.op(), row.shape())), model, cudaGraphs);
    }

    public static double predict(TacticCatalog catalog, Calibration.Row row, CostModel model, boolean cudaGraphs) {
        return predict(catalog, row, build(row.op(), row.shape()), model, cudaGraphs);
    }

    private static double predict(TacticCatalog catalog, Calibration.Row row, Node n, CostModel model, boolean cudaGraphs) {
        Tactic t = catalog.byId(row.tacticId());
        Layout l = NodeFacts.layoutMatters(n) ? row.layout() : Layout.ANY;
        String why = t.whyNot(n, row.precision(), l);
        if (why != null)
            throw new IllegalArgumentException("calibration row " + row.op() + " " + row.shape() + " " + row.precision().text() + ": " + t.id() + " cannot run it: " + why);
        return t.cost(model, n, row.precision(), l, cudaGraphs).totalUs();
    }

    /** Fills each row's predicted time under the model. */
    public static List<Calibration.Row> withPredictions(TacticCatalog catalog, List<Calibration.Row> rows, CostModel model, boolean cudaGraphs) {
        List<Calibration.Row> out = new ArrayList<>(rows.size());
        for (Calibration.Row r : rows) out.add(r.withPredicted(predict(catalog, r, model, cudaGraphs)));
        return out;
    }

    private static Node build(String op, String shape) {
        Map<String, Long> k = keys(op, shape);
        Graph g = new Graph("calibration");
        OpRegistry reg = OpRegistry.global();
        try {
            return switch (op) {
                case "MatMul", "Gemm" -> {
                    long batch = k.getOrDefault("batch", 1L);
                    int m = dim(k, "M", op, shape), n = dim(k, "N", op, shape), kk = dim(k, "K", op, shape);
                    Value a = batch == 1 ? g.addInput("a", TensorType.of(DType.F32, m, kk)) : g.addInput("a", TensorType.of(DType.F32, (int) batch, m, kk));
                    Value b = g.addInput("b", TensorType.of(DType.F32, kk, n));
                    if (op.equals("Gemm") && batch != 1) throw new IllegalArgumentException("Gemm takes no batch");
                    yield g.addNode(reg.get(op), op.toLowerCase(), List.of(a, b), Attributes.empty(), 1);
                }
                case "Conv" -> {
                    int group = k.containsKey("group") ? dim(k, "group", op, shape) : 1;
                    Value x = g.addInput("x", TensorType.of(DType.F32, dim(k, "N", op, shape), dim(k, "C", op, shape), dim(k, "H", op, shape), dim(k, "W", op, shape)));
                    Value w = g.addInput("w", TensorType.of(DType.F32, dim(k, "K", op, shape), dim(k, "C", op, shape) / group, dim(k, "R", op, shape), dim(k, "S", op, shape)));
                    long s = k.getOrDefault("stride", 1L), p = k.getOrDefault("pad", 0L);
                    Attributes at = Attributes.builder().put("strides", s, s).put("pads", p, p, p, p).put("group", (long) group).build();
                    yield g.addNode(reg.get("Conv"), "conv", List.of(x, w), at, 1);
                }
                case "Softmax", "LogSoftmax", "LayerNormalization" -> {
                    int rows = dim(k, "rows", op, shape), cols = dim(k, "cols", op, shape);
                    Value x = g.addInput("x", TensorType.of(DType.F32, rows, cols));
                    List<Value> ins = new ArrayList<>(List.of(x));
                    if (op.equals("LayerNormalization")) {
                        ins.add(g.addInput("scale", TensorType.of(DType.F32, cols)));
                        ins.add(g.addInput("bias", TensorType.of(DType.F32, cols)));
                    }
                    yield g.addNode(reg.get(op), op.toLowerCase(), ins, Attributes.builder().put("axis", -1L).build(), 1);
                }
                default -> {
                    var schema = reg.find(op).orElseThrow(() -> new IllegalArgumentException("unknown op"));
                    if (!schema.has(org.tessel.api.Trait.ELEMENTWISE))
                        throw new IllegalArgumentException("no shape form for this op (MatMul, Gemm, Conv, Softmax, LogSoftmax, LayerNormalization or an elementwise op)");
                    int e = dim(k, "elements", op, shape);
                    List<Value> ins = new ArrayList<>();
                    for (int i = 0; i < schema.minInputs(); i++) ins.add(g.addInput("x" + i, TensorType.of(DType.F32, e)));
                    yield g.addNode(schema, op.toLowerCase(), ins, Attributes.empty(), 1);
                }
            };
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("calibration row " + op + " '" + shape + "': " + e.getMessage(), e);
        }
    }

    private static int dim(Map<String, Long> k, String key, String op, String shape) {
        Long v = k.get(key);
        if (v == null) throw new IllegalArgumentException("missing key '" + key + "'");
        if (v < 1 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("key '" + key + "' out of range: " + v);
        return (int) (long) v;
    }

    private static Map<String, Long> keys(String op, String shape) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String part : shape.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) continue;
            int eq = p.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException("calibration row " + op + " '" + shape + "': '" + p + "' is not KEY=VALUE");
            try {
                out.put(p.substring(0, eq).trim(), Long.parseLong(p.substring(eq + 1).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("calibration row " + op + " '" + shape + "': key '" + p.substring(0, eq).trim() + "' is not a whole number");
            }
        }
        return out;
    }
}
