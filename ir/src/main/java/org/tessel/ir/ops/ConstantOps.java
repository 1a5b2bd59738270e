package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Ops that produce data from attributes: Constant (a literal in one of ONNX's value_* forms) and
 * ConstantOfShape (a shape filled with one value). Both are fully known at build time, so passes
 * usually fold them into graph constants.
 */
final class ConstantOps {
    private ConstantOps() {}

    static List<OpSchema> all() { return List.of(new Constant(), new ConstantOfShape()); }

    static final class Constant extends BaseOp {
        private static final List<String> FORMS = List.of("value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings");

        Constant() {
            super(def("Constant", "a literal tensor given by exactly one value_* attribute").inputs(0, 0)
                    .attr(AttrSpec.optional("value", AttrValue.Kind.TENSOR, "the tensor"))
                    .attr(AttrSpec.optional("value_float", AttrValue.Kind.FLOAT, "an f32 scalar"))
                    .attr(AttrSpec.optional("value_floats", AttrValue.Kind.FLOATS, "a 1-D f32 tensor"))
                    .attr(AttrSpec.optional("value_int", AttrValue.Kind.INT, "an i64 scalar"))
                    .attr(AttrSpec.optional("value_ints", AttrValue.Kind.INTS, "a 1-D i64 tensor"))
                    .attr(AttrSpec.optional("value_string", AttrValue.Kind.STRING, "a string scalar (unsupported: Tessel has no string type)"))
                    .attr(AttrSpec.optional("value_strings", AttrValue.Kind.STRINGS, "a 1-D string tensor (unsupported: Tessel has no string type)")));
        }

        /** The literal the attributes describe; a fresh tensor for the list forms. */
        static Tensor literal(Attributes a) {
            List<String> given = new ArrayList<>();
            for (String f : FORMS) if (a.has(f)) given.add(f);
            if (given.size() != 1)
                throw new OpException("needs exactly one of the attributes " + FORMS + ", got " + (given.isEmpty() ? "none" : given));
            return switch (given.getFirst()) {
                case "value" -> a.getTensor("value");
                case "value_float" -> Tensor.ofFloats(Shape.scalar(), a.getFloat("value_float", 0f));
                case "value_floats" -> {
                    float[] v = a.getFloats("value_floats");
                    yield Tensor.ofFloats(Shape.of(v.length), v);
                }
                case "value_int" -> Tensor.ofLongs(DType.I64, Shape.scalar(), a.getInt("value_int", 0));
                case "value_ints" -> {
                    long[] v = a.getInts("value_ints");
                    yield Tensor.ofLongs(DType.I64, Shape.of(v.length), v);
                }
                default -> throw new OpException("attribute " + given.getFirst() + " holds strings, which Tessel does not support (no string element type)");
            };
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) { return List.of(literal(ctx.attrs()).type()); }

        @Override public List<Tensor> evaluate(EvalContext ctx) { return OpUtil.one(literal(ctx.attrs())); }
    }

    static final class ConstantOfShape extends BaseOp {
        ConstantOfShape() {
            super(def("ConstantOfShape", "a tensor of the given shape filled with value (default f32 0)")
                    .inputs(1, 1, "input")
                    .attr(AttrSpec.optional("value", AttrValue.Kind.TENSOR, "one-element tensor giving the fill value and the element type")));
        }

        private static Tensor fill(Attributes a) {
            Tensor v = a.getTensor("value");
            if (v == null) return Tensor.scalar(DType.F32, 0);
            if (v.size() != 1) throw new OpException("attribute value must hold exactly one element, got shape " + v.shape());
            return v;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            long[] dims = ShapeOps.readInts(ctx.requireConstant(0, "input"), "input", false, DType.I64);
            Shape s = ShapeOps.toShape(dims, "shape " + Arrays.toString(dims).replace(" ", ""));
            return List.of(TensorType.of(fill(ctx.attrs()).dtype(), s));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor v = fill(ctx.attrs());
            Tensor out = Tensor.zeros(ctx.outputType(0));
            switch (v.dtype().storage()) {
                case FLOAT -> Arrays.fill(out.floats(), v.floats()[0]);
                case DOUBLE -> Arrays.fill(out.doubles(), v.doubles()[0]);
                case LONG -> Arrays.fill(out.longs(), v.longs()[0]);
            }
            return OpUtil.one(out);
        }
    }
}
