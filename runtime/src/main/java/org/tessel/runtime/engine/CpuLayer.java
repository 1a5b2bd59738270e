package org.tessel.runtime.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.runtime.engine.PrecisionEmulation.Rounding;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * One layer of a CPU engine: a planned node run by emulation. Whatever tactic the plan names (a
 * cuDNN algorithm, a cuBLASLt epilogue, the CPU reference), the CPU computes the node's reference
 * semantics, with the plan's precision emulated by rounding ({@link PrecisionEmulation}) and the
 * plan's casts on its input edges applied first. Constant inputs are rounded once, when the layer
 * is made. Immutable, so the contexts of one engine share their layers.
 *
 * @param node      the node of the engine's graph
 * @param plan      the layer's plan (tactic, precision, layout), as the engine file stores it
 * @param precision the precision it computes in
 * @param casts     per input, the rounding of a cast the plan puts on that edge (NONE when it has none)
 * @param compute   per input, the rounding the precision applies before computing
 * @param output    the rounding of every output
 * @param constants per input, the constant already rounded (at INT8: a contraction's weight quantized per channel; at FP8 per tensor; at the plan's weight scales where it has them), or null for a computed input
 * @param inScales  per input, the INT8/FP8 scale its activation is quantized with (NaN: not quantized)
 * @param outScales per output, the INT8/FP8 scale it is stored with (NaN: not quantized)
 * @param bodyWeights at INT8/FP8, the weights inside a fused body quantized (empty otherwise)
 * @param kernel    the op's registered CPU kernel bound to this node ({@link CpuKernels}), run in place of the
 *                  reference semantics; null for ops without one, and at INT8/FP8 or where a constant is rounded
 */
record CpuLayer(Node node, LayerPlan plan, Precision precision, List<Rounding> casts, List<Rounding> compute, Rounding output, List<Tensor> constants,
                float[] inScales, float[] outScales, Map<Value, Tensor> bodyWeights, CpuKernel.Bound kernel) {
    /**
     * The layer for a node at a precision; {@code casts} gives the rounding of the plan's casts on its
     * inputs (null or shorter: none).
     */
    static CpuLayer of(Node n, LayerPlan plan, Precision p, List<Rounding> casts) {
        return of(n, plan, p, casts, QuantizationTable.EMPTY);
    }

    /** As above; an INT8 or FP8 layer takes its activation scales from {@code quant} (the plan's table, checked to cover it). */
    static CpuLayer of(Node n, LayerPlan plan, Precision p, List<Rounding> casts, QuantizationTable quant) {
        List<Rounding> cs = new ArrayList<>(), comp = new ArrayList<>();
        List<Tensor> consts = new ArrayList<>();
        boolean quantized = p.quantized();
        float[] inScales = new float[n.numInputs()], outScales = new float[n.outputs().size()];
        Arrays.fill(inScales, Float.NaN);
        Arrays.fill(outScales, Float.NaN);
        Map<Value, Tensor> bodyWeights = new IdentityHashMap<>();
        java.util.Set<Integer> weightInputs = new java.util.HashSet<>();
        if (quantized) {
            if (n.body() != null) {
                Graph body = n.body();
                for (Node b : body.nodes()) {
                    int axis = PrecisionEmulation.weightChannelAxis(b);
                    if (axis < 0) continue;
                    Value w = b.input(1);
                    if (w.isConstant())
                        bodyWeights.put(w, PrecisionEmulation.fakeQuantizeWeight(w.constantValue(), axis, p, quant.weightScales(w.name(), w.type().shape().dim(axis))));
                    else if (body.inputs().contains(w)) weightInputs.add(body.inputs().indexOf(w));
                }
            } else if (PrecisionEmulation.weightChannelAxis(n) >= 0) {
                weightInputs.add(1);
            }
            for (int k = 0; k < n.outputs().size(); k++) if (n.output(k).type().dtype().isFloating()) outScales[k] = quant.scale(n.output(k).name());
        }
        for (int k = 0; k < n.numInputs(); k++) {
            Rounding c = casts != null && k < casts.size() ? casts.get(k) : Rounding.NONE;
            Rounding r = PrecisionEmulation.inputs(n, p);
            cs.add(c);
            comp.add(r);
            Value v = n.input(k);
            if (quantized && v != null && v.isConstant() && weightInputs.contains(k) && v.type().dtype() == org.tessel.api.DType.F32) {
                int axis = n.body() != null ? weightAxisInBody(n.body(), k) : PrecisionEmulation.weightChannelAxis(n);
                consts.add(PrecisionEmulation.fakeQuantizeWeight(c.apply(v.constantValue()), axis, p, quant.weightScales(v.name(), v.type().shape().dim(axis))));
                continue;
            }
            if (quantized && v != null && !v.isConstant() && v.type().dtype().isFloating()) inScales[k] = quant.scale(v.name());
            consts.add(v != null && v.isConstant() && (c != Rounding.NONE || r != Rounding.NONE) ? r.apply(c.apply(v.constantValue())) : null);
        }
        // a kernel reads the node's own constants, so only where the layer does not replace them
        boolean constantsAsIs = true;
        for (Tensor c : consts) if (c != null) constantsAsIs = false;
        CpuKernel.Bound kernel = !quantized && n.body() == null && constantsAsIs ? CpuKernels.bind(n) : null;
        return new CpuLayer(n, plan, p, cs, comp, PrecisionEmulation.outputs(p), Collections.unmodifiableList(Arrays.asList(consts.toArray(new Tensor[0]))) /* nulls allowed */,
                inScales, outScales, Collections.unmodifiableMap(bodyWeights), kernel);
    }

    /** The channel axis of the contraction in {@code body} that takes body input {@code k} as its weight. */
    private static int weightAxisInBody(Graph body, int k) {
        Value in = body.inputs().get(k);
        for (Node b : body.nodes()) {
            int axis = PrecisionEmulation.weightChannelAxis(b);
            if (axis >= 0 && b.input(1) == in) return axis;
        }
        throw new IllegalStateException("body input " + k + " is no contraction's weight");
    }

    /** True when TF32 must be emulated inside a fused body (its tensor-core nodes round their operands, the rest do not). */
    boolean tf32Body() { return precision == Precision.TF32 && PrecisionEmulation.hasTensorCoreOp(node); }

    /** Runs the layer on its inputs (in node-input order; constants among them are replaced by their rounded copies). */
    List<Tensor> run(ReferenceInterpreter interpreter, List<Tensor> ins) {
        List<Tensor> rin = new ArrayList<>(ins.size());
        for (int k = 0; k < ins.size(); k++) {
            Tensor fixed = constants.get(k);
            Tensor t = fixed != null ? fixed : compute.get(k).apply(casts.get(k).apply(ins.get(k)));
            if (fixed == null && !Float.isNaN(inScales[k])) t = PrecisionEmulation.fakeQuantize(t, inScales[k], precision);
            rin.add(t);
        }
        List<Tensor> outs = kernel != null ? kernel.run(rin)
                : tf32Body() ? runTf32Body(interpreter, node, rin)
                : !bodyWeights.isEmpty() ? runBody(interpreter, node.body(), rin, bodyWeights) : interpreter.evaluate(node, rin);
        if (precision.quantized()) {
            List<Tensor> q = new ArrayList<>(outs.size());
            for (int k = 0; k < outs.size(); k++) q.add(Float.isNaN(outScales[k]) ? outs.get(k) : PrecisionEmulation.fakeQuantize(outs.get(k), outScales[k], precision));
            return q;
        }
        if (output == Rounding.NONE) return outs;
        List<Tensor> rounded = new ArrayList<>(outs.size());
        for (Tensor t : outs) rounded.add(output.apply(t));
        return rounded;
    }

    /** A fused body node by node, with some of its constants replaced (an INT8 layer's quantized weights); the rest in f32. */
    private static List<Tensor> runBody(ReferenceInterpreter interpreter, Graph body, List<Tensor> ins, Map<Value, Tensor> replaced) {
        Map<Value, Tensor> env = new IdentityHashMap<>();
        for (int i = 0; i < ins.size(); i++) env.put(body.inputs().get(i), ins.get(i));
        for (Value c : body.constants()) env.put(c, replaced.getOrDefault(c, c.constantValue()));
        for (Node b : body.nodes()) {
            List<Tensor> bin = new ArrayList<>(b.numInputs());
            for (Value v : b.inputs()) bin.add(v == null ? null : env.get(v));
            List<Tensor> outs = interpreter.evaluate(b, bin);
            for (int k = 0; k < outs.size(); k++) env.put(b.output(k), outs.get(k));
        }
        List<Tensor> out = new ArrayList<>();
        for (Value o : body.outputs()) out.add(env.get(o));
        return out;
    }

    /**
     * A fused node at TF32: its body node by node, the tensor-core nodes' operands rounded to TF32
     * and everything else (bias, activation, residual add) in f32, as the fused kernel's epilogue runs.
     */
    private static List<Tensor> runTf32Body(ReferenceInterpreter interpreter, Node fused, List<Tensor> ins) {
        Graph body = fused.body();
        Map<Value, Tensor> env = new IdentityHashMap<>();
        for (int i = 0; i < ins.size(); i++) env.put(body.inputs().get(i), ins.get(i));
        for (Value c : body.constants()) env.put(c, c.constantValue());
        for (Node b : body.nodes()) {
            Rounding r = PrecisionEmulation.inputs(b, Precision.TF32);
            List<Tensor> bin = new ArrayList<>(b.numInputs());
            for (Value v : b.inputs()) bin.add(v == null ? null : r.apply(env.get(v)));
            List<Tensor> outs = b.body() != null && PrecisionEmulation.hasTensorCoreOp(b) ? runTf32Body(interpreter, b, bin) : interpreter.evaluate(b, bin);
            for (int k = 0; k < outs.size(); k++) env.put(b.output(k), outs.get(k));
        }
        List<Tensor> out = new ArrayList<>();
        for (Value o : body.outputs()) out.add(env.get(o));
        return out;
    }
}
