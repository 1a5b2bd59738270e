package org.tessel.ir.onnx;

import com.google.protobuf.ByteString;
import java.util.List;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.ir.ops.BaseOp;

/** Builders for hand-made ONNX models in tests, and a tiny test-only op domain. */
final class OnnxModels {
    private OnnxModels() {}

    static final int FLOAT = 1, INT64 = 7, UINT16 = 4;

    static ModelProto model(long opset, GraphProto.Builder g) {
        return ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("test").setVersion(1)).setGraph(g).build();
    }

    static GraphProto.Builder graph(String name) { return GraphProto.newBuilder().setName(name); }

    /** A tensor value info; a String dim is symbolic, a Number is fixed. */
    static ValueInfoProto tensor(String name, int elemType, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            if (d instanceof String p) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(p));
            else s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
        }
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(s))).build();
    }

    static NodeProto.Builder node(String op, String name, List<String> ins, List<String> outs, AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).addAllInput(ins).addAllOutput(outs);
        if (name != null) b.setName(name);
        for (AttributeProto a : attrs) b.addAttribute(a);
        return b;
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto stringAttr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto intsAttr(String name, long... v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) b.addInts(x);
        return b.build();
    }

    static AttributeProto tensorAttr(String name, Tensor t) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(OnnxTensors.toProto(t, "")).build();
    }

    /** test.Scale: y = alpha * x, for tests that must not depend on the built-in ops. */
    static final class Scale extends BaseOp {
        Scale() {
            super(def("Scale", "alpha * x").domain("test").inputs(1, 1, "X")
                    .attr(AttrSpec.optional("alpha", AttrValue.Kind.FLOAT, AttrValue.of(1f), "factor")));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            if (!ctx.input(0).dtype().isFloating()) throw new OpException("input X must be floating, got " + ctx.input(0).dtype().text());
            return List.of(TensorType.of(ctx.input(0).dtype(), ctx.input(0).shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Tensor y = Tensor.zeros(ctx.outputType(0));
            float a = ctx.attrs().getFloat("alpha", 1f);
            for (int i = 0; i < x.size(); i++) y.setDouble(i, a * x.getDouble(i));
            return List.of(y);
        }
    }

    /** test.Tagged: identity that carries one attribute of every kind, for round-trip tests. */
    static final class Tagged extends BaseOp {
        Tagged() {
            super(def("Tagged", "identity with attributes of every kind").domain("test").inputs(1, 1, "X")
                    .intAttr("i", 0, "int").floatAttr("f", 0f, "float").stringAttr("s", "", "string").intsAttr("is", "ints")
                    .floatsAttr("fs", "floats").attr(AttrSpec.optional("ss", AttrValue.Kind.STRINGS, "strings"))
                    .attr(AttrSpec.optional("t", AttrValue.Kind.TENSOR, "tensor")));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) { return List.of(TensorType.of(ctx.input(0).dtype(), ctx.input(0).shape())); }

        @Override public List<Tensor> evaluate(EvalContext ctx) { return List.of(ctx.input(0)); }
    }

    /** Global ops plus the test domain's ops. */
    static OpRegistry registry() { return OpRegistry.global().with("test", List.<OpSchema>of(new Scale(), new Tagged())); }

    static OnnxImporter.Options options() { return OnnxImporter.Options.defaults().withRegistry(registry()); }
}
