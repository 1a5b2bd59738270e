package org.tessel.runtime.engine.profile;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Turns a model whose inputs have sizes that vary into a graph and an engine for one set of input
 * shapes: the recipe a profile engine's build uses at the opt, min and max shapes, and its runs at
 * any shape inside a profile, so that both make the same graph.
 *
 * <p>Tessel's IR has static shapes only: a symbolic ONNX dimension gets its size when the model is
 * imported. So the source model (ONNX, with its symbolic dimensions) is what varies, and a shape is
 * made by importing it with those sizes ({@link OnnxImporter.Options#withDim}); a fixed first
 * dimension of 1 (a zoo model, or an exporter that wrote batch 1) may vary too, as the batch, which
 * the importer allows only where every value scales with it (rebatching). The imported graph gets
 * the build's preparation pipeline and then the profile's plan ({@link PlanApplier}), which names
 * nodes and tactics, not shapes; the backend's builder then checks every planned tactic at this shape.
 *
 * @param model the self-contained ONNX model (external data read in)
 * @param name  its name in messages ("resnet50.onnx")
 */
public record ShapeSpecializer(ModelProto model, String name) {
    /** The variable a fixed first dimension of 1 becomes when a shape asks for another batch. */
    private static final String BATCH = "(batch)";

    /** The graph inputs that are not initializers, in order. */
    public List<ValueInfoProto> inputs() {
        Set<String> inits = new HashSet<>();
        for (TensorProto t : model.getGraph().getInitializerList()) inits.add(t.getName());
        List<ValueInfoProto> out = new ArrayList<>();
        for (ValueInfoProto v : model.getGraph().getInputList()) if (!inits.contains(v.getName())) out.add(v);
        return out;
    }

    /** True when some input has a symbolic dimension (one a profile must cover). */
    private static boolean symbolic(ValueInfoProto v) {
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) if (!d.hasDimValue()) return true;
        return false;
    }

    private static String shapeText(ValueInfoProto v) {
        List<String> parts = new ArrayList<>();
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList())
            parts.add(d.hasDimValue() ? String.valueOf(d.getDimValue()) : d.getDimParam().isEmpty() ? "?" : d.getDimParam());
        return "[" + String.join(",", parts) + "]";
    }

    /**
     * The size of every varying dimension these shapes give, by ONNX dimension name ({@value #BATCH}
     * for a fixed first dimension of 1 that changes); a shape for an unknown input, a wrong rank, a
     * fixed dimension given another size, a name given two sizes or an input with symbolic
     * dimensions left out is refused, naming {@code where}, the input and the dimension.
     */
    public Map<String, Long> sizes(Map<String, Shape> shapes, String where) {
        Map<String, ValueInfoProto> byName = new LinkedHashMap<>();
        for (ValueInfoProto v : inputs()) byName.put(v.getName(), v);
        for (String k : shapes.keySet())
            if (!byName.containsKey(k)) throw new IllegalArgumentException(where + ": " + name + " has no input '" + k + "' (its inputs: " + String.join(", ", byName.keySet()) + ")");
        Map<String, Long> sizes = new LinkedHashMap<>();
        Map<String, String> givenBy = new LinkedHashMap<>();
        List<String> fixedOneLeftOut = new ArrayList<>();
        for (ValueInfoProto v : byName.values()) {
            List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
            Shape s = shapes.get(v.getName());
            if (s == null) {
                if (symbolic(v))
                    throw new IllegalArgumentException(where + ": input '" + v.getName() + "' has symbolic dimensions " + shapeText(v) + " in " + name + "; give its shape");
                if (!dims.isEmpty() && dims.getFirst().getDimValue() == 1) fixedOneLeftOut.add(v.getName());
                continue;
            }
            if (s.rank() != dims.size())
                throw new IllegalArgumentException(where + ": input '" + v.getName() + "' has " + dims.size() + " dimensions " + shapeText(v) + " in " + name + ", the shape "
                        + OptimizationProfile.text(s) + " has " + s.rank());
            for (int i = 0; i < dims.size(); i++) {
                TensorShapeProto.Dimension d = dims.get(i);
                long want = s.dim(i);
                String var;
                if (d.hasDimValue()) {
                    if (d.getDimValue() == want) continue;
                    if (i != 0 || d.getDimValue() != 1)
                        throw new IllegalArgumentException(where + ": dimension " + i + " of input '" + v.getName() + "' is fixed at " + d.getDimValue() + " in " + name
                                + " " + shapeText(v) + ", the shape gives " + want);
                    var = BATCH;
                } else if (!d.getDimParam().isEmpty()) {
                    var = d.getDimParam();
                } else if (i == 0) {
                    var = BATCH;
                } else {
                    throw new IllegalArgumentException(where + ": dimension " + i + " of input '" + v.getName() + "' is symbolic and unnamed in " + name + "; Tessel cannot set it");
                }
                Long before = sizes.putIfAbsent(var, want);
                if (before != null && before != want)
                    throw new IllegalArgumentException(where + ": " + (var.equals(BATCH) ? "the batch" : "dimension '" + var + "'") + " is " + before + " for input '" + givenBy.get(var)
                            + "' and " + want + " for input '" + v.getName() + "'");
                givenBy.putIfAbsent(var, v.getName());
            }
        }
        Long batch = sizes.get(BATCH);
        if (batch != null && batch != 1 && !fixedOneLeftOut.isEmpty())
            throw new IllegalArgumentException(where + ": input '" + fixedOneLeftOut.getFirst() + "' has a fixed first dimension of 1, which changes with the batch of input '"
                    + givenBy.get(BATCH) + "'; give its shape too");
        return sizes;
    }

    /** The model imported at these shapes. */
    public Graph importAt(Map<String, Shape> shapes, String where) {
        OnnxImporter.Options o = OnnxImporter.Options.defaults();
        for (var e : sizes(shapes, where).entrySet()) o = e.getKey().equals(BATCH) ? o.withBatchSize(Math.toIntExact(e.getValue())) : o.withDim(e.getKey(), e.getValue());
        try {
            return OnnxImporter.importModel(model, name, o);
        } catch (org.tessel.ir.onnx.OnnxImportException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    /** The model imported at these shapes and run through {@code pipeline} (pass names, as the engine file stores them). */
    public Graph prepareAt(Map<String, Shape> shapes, String pipeline, String where) {
        Graph g = importAt(shapes, where);
        new PassManager().run(g, StandardPipelines.resolve(pipeline));
        return g;
    }

    /**
     * The planned graph for one set of shapes ({@link PlanApplier}'s result) and what each step to it
     * cost: import and passes (a new import), or re-typing the profile's prepared graph (shape
     * inference only); then the plan. A backend adds the steps of its engine ({@link #describe}).
     */
    public record Planned(PlanApplier.Applied applied, boolean retyped, double importMs, double passesMs, double retypeMs, double planMs) {
        /** Milliseconds to the planned graph. */
        public double totalMs() { return importMs + passesMs + retypeMs + planMs; }

        /** "12.3 ms (shape inference 1.0, plan 0.3, engine 11.0)": these steps, then the backend's ({@code engineSteps}: name to ms, in order). */
        public String describe(Map<String, Double> engineSteps) {
            Map<String, Double> steps = new LinkedHashMap<>();
            if (retyped) steps.put("shape inference", retypeMs);
            else { steps.put("import", importMs); steps.put("passes", passesMs); }
            steps.put("plan", planMs);
            steps.putAll(engineSteps);
            double total = steps.values().stream().mapToDouble(Double::doubleValue).sum();
            List<String> parts = new ArrayList<>();
            steps.forEach((k, v) -> parts.add(String.format(java.util.Locale.ROOT, "%s %.1f", k, v)));
            return String.format(java.util.Locale.ROOT, "%.1f ms (%s)", total, String.join(", ", parts));
        }
    }

    /** Imports at {@code shapes}, prepares, and applies {@code plan} (no search): the graph an engine for these shapes runs. */
    public Planned planByImport(Map<String, Shape> shapes, String pipeline, EnginePlan plan, String where) {
        long t0 = System.nanoTime();
        Graph g = importAt(shapes, where);
        long t1 = System.nanoTime();
        new PassManager().run(g, StandardPipelines.resolve(pipeline));
        long t2 = System.nanoTime();
        PlanApplier.Applied a = PlanApplier.apply(g, plan);
        long t3 = System.nanoTime();
        return new Planned(a, false, (t1 - t0) / 1e6, (t2 - t1) / 1e6, 0, (t3 - t2) / 1e6);
    }

    /**
     * Re-types {@code prepared} (this model prepared at some shapes of a shape-generic profile, see
     * {@link #shapeDependence}) for {@code shapes} and applies {@code plan}: shape inference only, no
     * import and no passes.
     */
    public Planned planByInference(Graph prepared, Map<String, Shape> shapes, EnginePlan plan, String where) {
        long t0 = System.nanoTime();
        Graph g = retype(prepared, shapes, where);
        long t1 = System.nanoTime();
        PlanApplier.Applied a = PlanApplier.apply(g, plan);
        long t2 = System.nanoTime();
        return new Planned(a, true, 0, 0, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    }

    /**
     * A copy of {@code prepared} (constants shared) whose inputs have these shapes and whose every
     * value's type is inferred again, node by node, by the ops' own shape inference; an op that
     * cannot take the new shapes refuses, naming the node.
     */
    public static Graph retype(Graph prepared, Map<String, Shape> shapes, String where) {
        Graph g = prepared.copy();
        for (org.tessel.ir.Value v : g.inputs()) {
            Shape s = shapes.get(v.name());
            if (s != null) v.setType(org.tessel.api.TensorType.of(v.type().dtype(), s).withLayout(v.type().layout()));
        }
        for (org.tessel.ir.Node n : g.nodes()) {
            List<org.tessel.api.TensorType> types;
            try {
                types = Graph.inferTypes(n.op(), n.name(), n.inputs(), n.attrs(), n.outputs().size());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(where + ": " + n.describe() + " does not take these shapes: " + e.getMessage(), e);
            }
            for (int k = 0; k < types.size(); k++) n.output(k).setType(types.get(k).withLayout(n.output(k).type().layout()));
        }
        org.tessel.ir.Verifier.verify(g);
        return g;
    }

    /**
     * Null when the prepared graph at the profile's opt shapes, re-typed for its min and max shapes,
     * has the types a new import and preparation there gives, value by value; else the first
     * difference. The build asks this before it lets runs specialise by shape inference.
     */
    public String inferenceMatchesImport(OptimizationProfile p, String pipeline, String where) {
        Graph opt = prepareAt(p.at(OptimizationProfile.Point.OPT), pipeline, where + " opt shapes");
        for (OptimizationProfile.Point pt : List.of(OptimizationProfile.Point.MIN, OptimizationProfile.Point.MAX)) {
            String at = where + " " + pt.name().toLowerCase(java.util.Locale.ROOT) + " shapes";
            Graph imported = prepareAt(p.at(pt), pipeline, at);
            Graph inferred;
            try {
                inferred = retype(opt, p.at(pt), at);
            } catch (RuntimeException e) {
                return at + ": shape inference refused: " + e.getMessage();
            }
            for (org.tessel.ir.Node n : imported.nodes())
                for (org.tessel.ir.Value o : n.outputs()) {
                    org.tessel.ir.Value v = inferred.value(o.name());
                    if (v == null || !v.type().equals(o.type())) return at + ": %" + o.name() + " is " + o.type() + " when imported, " + (v == null ? "missing" : v.type()) + " when inferred";
                }
        }
        return null;
    }

    /**
     * Null when two prepared graphs of this model, made at different shapes, differ in nothing but
     * their values' types: the same nodes, ops, wiring, attributes and constants. Then no constant
     * was computed from an input's shape (an exporter's Shape-Gather-Concat feeding a Reshape folds
     * to one at import), and a shape between them is the prepared graph re-typed. Otherwise, what differs.
     */
    public static String shapeDependence(Graph a, Graph b) {
        if (a.nodes().size() != b.nodes().size()) return a.nodes().size() + " nodes at one shape, " + b.nodes().size() + " at the other";
        for (int i = 0; i < a.nodes().size(); i++) {
            org.tessel.ir.Node x = a.nodes().get(i), y = b.nodes().get(i);
            if (!x.name().equals(y.name()) || !x.opName().equals(y.opName()) || !x.attrs().equals(y.attrs()) || x.body() != null || y.body() != null)
                return "node " + i + " is " + x.describe() + " at one shape and " + y.describe() + " at the other (or differs in attributes)";
            if (x.inputs().size() != y.inputs().size()) return x.describe() + " has different inputs";
            for (int k = 0; k < x.inputs().size(); k++) {
                org.tessel.ir.Value u = x.inputs().get(k), w = y.inputs().get(k);
                if ((u == null) != (w == null) || (u != null && !u.name().equals(w.name()))) return x.describe() + " reads different values";
            }
        }
        if (a.constants().size() != b.constants().size()) return "the graphs have " + a.constants().size() + " and " + b.constants().size() + " constants";
        for (org.tessel.ir.Value c : a.constants()) {
            org.tessel.ir.Value d = b.value(c.name());
            if (d == null || !d.isConstant() || !c.constantValue().dataEquals(d.constantValue()) || !c.type().shape().equals(d.type().shape()))
                return "constant %" + c.name() + " depends on the input shapes";
        }
        return null;
    }
}
