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
 * @param constants per input, the constant already rounded, or null for a computed input
 */
record CpuLayer(Node node, LayerPlan plan, Precision precision, List<Rounding> casts, List<Rounding> compute, Rounding output, List<Tensor> constants) {
    /**
     * The layer for a node at a precision; {@code casts} gives the rounding of the plan's casts on its
     * inputs (null or shorter: none).
     */
    static CpuLayer of(Node n, LayerPlan plan, Precision p, List<Rounding> casts) {
        List<Rounding> cs = new ArrayList<>(), comp = new ArrayList<>();
        List<Tensor> consts = new ArrayList<>();
        for (int k = 0; k < n.numInputs(); k++) {
            Rounding c = casts != null && k < casts.size() ? casts.get(k) : Rounding.NONE;
            Rounding r = PrecisionEmulation.inputs(n, p);
            cs.add(c);
            comp.add(r);
            Value v = n.input(k);
            consts.add(v != null && v.isConstant() && (c != Rounding.NONE || r != Rounding.NONE) ? r.apply(c.apply(v.constantValue())) : null);
        }
        return new CpuLayer(n, plan, p, cs, comp, PrecisionEmulation.outputs(p), Collections.unmodifiableList(Arrays.asList(consts.toArray(new Tensor[0]))) /* nulls allowed */);
    }

    /** True when TF32 must be emulated inside a fused body (its tensor-core nodes round their operands, the rest do not). */
    boolean tf32Body() { return precision == Precision.TF32 && PrecisionEmulation.hasTensorCoreOp(node); }

    /** Runs the layer on its inputs (in node-input order; constants among them are replaced by their rounded copies). */
    List<Tensor> run(ReferenceInterpreter interpreter, List<Tensor> ins) {
        List<Tensor> rin = new ArrayList<>(ins.size());
        for (int k = 0; k < ins.size(); k++) {
            Tensor fixed = constants.get(k);
            rin.add(fixed != null ? fixed : compute.get(k).apply(casts.get(k).apply(ins.get(k))));
        }
        List<Tensor> outs = tf32Body() ? runTf32Body(interpreter, node, rin) : interpreter.evaluate(node, rin);
        if (output == Rounding.NONE) return outs;
        List<Tensor> rounded = new ArrayList<>(outs.size());
        for (Tensor t : outs) rounded.add(output.apply(t));
        return rounded;
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
