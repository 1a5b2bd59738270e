package org.tessel.ir.ops;

import java.util.List;
import java.util.Set;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongUnaryOperator;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * An elementwise op of one input (activations, math functions, IsNaN, Not): the output has the
 * input's shape and either the input's type or a fixed one (bool for IsNaN).
 *
 * <p>The function is built per use from the node's attributes, so LeakyRelu's alpha or Gelu's
 * approximation are read once, and bad attribute values are refused at type inference.
 */
final class UnaryOp extends BaseOp {
    /** Builds the element function of one use from its attributes; throws OpException on bad values. */
    @FunctionalInterface interface Fn { DoubleUnaryOperator of(Attributes attrs); }

    private final Set<DType> types;
    private final DType fixedOut;
    private final Fn fn;
    private final LongUnaryOperator integer;

    /**
     * @param fixedOut output type, or null for the input's type
     * @param integer exact integer form of the function, or null to go through doubles
     */
    UnaryOp(Def def, Set<DType> types, DType fixedOut, Fn fn, LongUnaryOperator integer) {
        super(def);
        this.types = types;
        this.fixedOut = fixedOut;
        this.fn = fn;
        this.integer = integer;
    }

    /** A function that ignores attributes. */
    static Fn plain(DoubleUnaryOperator f) { return a -> f; }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input " + inputNames().getFirst(), x.dtype(), types);
        fn.of(ctx.attrs());
        return List.of(TensorType.of(fixedOut != null ? fixedOut : x.dtype(), x.shape()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        DTypeSets.require("input " + inputNames().getFirst(), x.dtype(), types);
        return List.of(Kernels.unary(x, fixedOut != null ? fixedOut : x.dtype(), fn.of(ctx.attrs()), integer));
    }
}
