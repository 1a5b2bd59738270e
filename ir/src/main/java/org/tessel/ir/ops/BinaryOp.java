package org.tessel.ir.ops;

import java.util.List;
import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * An elementwise op of two inputs of one element type with numpy broadcasting: arithmetic (the
 * result has the inputs' type) or comparison and logic (the result is bool). PRelu broadcasts
 * only its second input onto the first (ONNX's unidirectional broadcasting).
 *
 * <p>An arithmetic kernel may depend on the node's attributes and element type (Mod's fmod,
 * BitShift's direction); it is built at type inference too, so bad attributes fail early.
 */
final class BinaryOp extends BaseOp {
    /** The kernel of one use; throws OpException on bad attribute values. */
    @FunctionalInterface interface ArithFactory { Kernels.Arith of(Attributes attrs, DType type); }

    private final Set<DType> types;
    private final ArithFactory arith;
    private final Kernels.Compare compare;
    private final boolean unidirectional;

    private BinaryOp(Def def, Set<DType> types, ArithFactory arith, Kernels.Compare compare, boolean unidirectional) {
        super(def);
        this.types = types;
        this.arith = arith;
        this.compare = compare;
        this.unidirectional = unidirectional;
    }

    static BinaryOp arith(Def def, Set<DType> types, Kernels.Arith k) { return new BinaryOp(def, types, (a, t) -> k, null, false); }

    static BinaryOp arith(Def def, Set<DType> types, ArithFactory k) { return new BinaryOp(def, types, k, null, false); }

    /** Arithmetic where the second input must broadcast to the first's shape (PRelu's slope). */
    static BinaryOp arithOnto(Def def, Set<DType> types, Kernels.Arith k) { return new BinaryOp(def, types, (a, t) -> k, null, true); }

    static BinaryOp compare(Def def, Set<DType> types, Kernels.Compare k) { return new BinaryOp(def, types, null, k, false); }

    private Shape outShape(Shape a, Shape b) {
        if (unidirectional && !Kernels.broadcastsOnto(b, a))
            throw new OpException("input " + inputNames().get(1) + " of shape " + b + " cannot be broadcast to input "
                    + inputNames().get(0) + "'s shape " + a);
        return OpUtil.broadcast(a, b);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType a = ctx.input(0), b = ctx.input(1);
        DTypeSets.require("input " + inputNames().get(0), a.dtype(), types);
        OpUtil.requireSameDType("inputs " + inputNames().get(0) + " and " + inputNames().get(1), a.dtype(), b.dtype());
        if (arith != null) arith.of(ctx.attrs(), a.dtype());
        return List.of(TensorType.of(compare != null ? DType.BOOL : a.dtype(), outShape(a.shape(), b.shape())));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor a = ctx.input(0), b = ctx.input(1);
        Shape s = outShape(a.shape(), b.shape());
        return List.of(compare != null ? Kernels.compare(a, b, s, compare) : Kernels.arith(a, b, s, arith.of(ctx.attrs(), a.dtype())));
    }
}
