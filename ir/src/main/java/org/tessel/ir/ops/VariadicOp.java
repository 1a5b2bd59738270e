package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Sum, Max, Min and Mean of one or more inputs of one element type, broadcast together. The
 * inputs fold left to right through the binary kernel, each step rounded to the element type as
 * ONNX's reference does; Mean then divides by the input count.
 */
final class VariadicOp extends BaseOp {
    private final Set<DType> types;
    private final Kernels.Arith k;
    private final boolean mean;

    VariadicOp(Def def, Set<DType> types, Kernels.Arith k, boolean mean) {
        super(def);
        this.types = types;
        this.k = k;
        this.mean = mean;
    }

    private static String name(int i) { return "input " + i + " (data_" + i + ")"; }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        DType t = ctx.input(0).dtype();
        DTypeSets.require(name(0), t, types);
        List<Shape> shapes = new ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) {
            TensorType ti = ctx.input(i);
            OpUtil.requireSameDType(name(0) + " and " + name(i), t, ti.dtype());
            shapes.add(ti.shape());
        }
        return List.of(TensorType.of(t, OpUtil.broadcast(shapes.toArray(Shape[]::new))));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Shape[] shapes = new Shape[ctx.numInputs()];
        for (int i = 0; i < shapes.length; i++) shapes[i] = ctx.input(i).shape();
        Shape out = OpUtil.broadcast(shapes);
        Tensor acc = ctx.input(0);
        if (shapes.length == 1) acc = acc.copy();
        for (int i = 1; i < shapes.length; i++) acc = Kernels.arith(acc, ctx.input(i), out, k);
        if (mean && shapes.length > 1) {
            // divide in the element type, as Div would
            Tensor n = Tensor.full(acc.dtype(), Shape.scalar(), shapes.length);
            acc = Kernels.arith(acc, n, out, ElementwiseOps.DIV);
        }
        return List.of(acc);
    }
}
