package org.tessel.runtime.gpu.engine;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.gpu.kernels.EltwiseCodegen;
import org.tessel.runtime.gpu.kernels.Gemv;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.gemm.GemvTactic;

/**
 * What a GEMV layer ({@code tessel.gemv}, {@code tessel.gemv.weight_only}) reads around its product {@code mm}, as the
 * catalogue's support rule checked it: the activations its x loader reads ({@code xs}, each of A's shape: A itself, the
 * RMSNorm's input, or the elementwise prologue's inputs), the norm (its epsilon and scale) or the generated prologue, and
 * the bias and residual the epilogue adds. Graph values, not body values.
 */
record GemvGroup(List<Value> xs, Gemv.RmsNorm rms, Value normScale, Gemv.Prologue prologue, Value bias, Value residual) {

    /** The graph value a body value stands for (itself outside a fused group). */
    static Value outer(Node n, Value v) {
        if (n.body() == null) return v;
        Value o = NodeFacts.outer(n, v);
        return o != null ? o : v;
    }

    /**
     * The group of the GEMV node {@code n} around its product {@code mm}, activations stored as {@code storage}: under f16
     * and bf16 the prologue's exponentials and sigmoid divisions are CUDA's intrinsics (the x loader evaluates the tree
     * once per block, and the result is rounded to the storage type once), in f32 as the elementwise kernels compute them.
     */
    static GemvGroup of(Node n, Node mm, org.tessel.api.DType storage) {
        List<Value> xs = List.of(outer(n, mm.input(0)));
        Gemv.RmsNorm rms = null;
        Value scale = null;
        Node norm = GemvTactic.rmsNorm(n);
        if (norm != null) {
            // last axis, f32 statistics, a constant scale of K values
            xs = List.of(outer(n, norm.input(0)));
            scale = outer(n, norm.input(1));
            rms = new Gemv.RmsNorm(norm.attrs().getFloat("epsilon", 1e-5f));
        }
        List<Node> prologue = GemvTactic.prologue(n, mm);
        Gemv.Prologue pro = null;
        if (!prologue.isEmpty()) {
            // generated ops on inputs of A's shape and scalar constants (literals)
            List<Value> ins = GemvTactic.prologueInputs(n, prologue);
            Map<Value, Tensor> literals = new IdentityHashMap<>();
            for (Node b : prologue)
                for (Value v : b.inputs())
                    if (v != null && NodeFacts.isConstant(n, v)) literals.put(v, outer(n, v).constantValue());
            pro = new Gemv.Prologue(EltwiseCodegen.inlineOps(prologue, ins, literals, mm.input(0), "const float r", "        ", storage != org.tessel.api.DType.F32), ins.size());
            xs = ins.stream().map(v -> outer(n, v)).toList();
        }
        Value bias = null, residual = null;
        if (n.body() != null) {
            // Adds after the product: one constant bias [N] and one computed residual at most
            Value cur = mm.output();
            List<Node> ns = n.body().nodes();
            for (Node b : ns.subList(ns.indexOf(mm) + 1, ns.size())) {
                Value other = outer(n, b.input(0) == cur ? b.input(1) : b.input(0));
                if (other.isConstant()) bias = other;
                else residual = other;
                cur = b.output();
            }
        }
        return new GemvGroup(xs, rms, scale, pro, bias, residual);
    }
}
