package org.tessel.examples.gridsample;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * ONNX models with GridSample, written with the ONNX protobuf classes (as an exporter writes them),
 * and ONNX Runtime to run them: the oracle the plugin is checked against. Uses no plugin class, so the
 * command-line tests (which see the plugin only through its jar) share it.
 */
final class GridSampleModels {
    private GridSampleModels() {}

    static final int OPSET = 16;

    static ValueInfoProto value(String name, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(s))).build();
    }

    static AttributeProto attr(String name, long v) { return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build(); }

    static AttributeProto attr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(v)).build();
    }

    static NodeProto gridSample(String name, String x, String grid, String y, String mode, String padding, int align) {
        return NodeProto.newBuilder().setName(name).setOpType("GridSample").addInput(x).addInput(grid).addOutput(y)
                .addAttribute(attr("mode", mode)).addAttribute(attr("padding_mode", padding)).addAttribute(attr("align_corners", align)).build();
    }

    static ModelProto model(GraphProto g) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("tessel-example-gridsample-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET)).setGraph(g).build();
    }

    /** One GridSample: X [n, c, h, w] and grid [n, ho, wo, 2] in, Y out. */
    static byte[] single(long[] x, long[] grid, String mode, String padding, int align) {
        GraphProto g = GraphProto.newBuilder().setName("gridsample").addInput(value("X", x)).addInput(value("grid", grid))
                .addNode(gridSample("sample", "X", "grid", "Y", mode, padding, align))
                .addOutput(value("Y", grid[0], x[1], grid[1], grid[2])).build();
        return model(g).toByteArray();
    }

    static TensorProto floats(String name, Tensor t) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(1);
        for (long d : t.shape().longDims()) b.addDims(d);
        for (float f : t.floats()) b.addFloatData(f);
        return b.build();
    }

    /**
     * A spatial-transformer head, as models that need a GridSample plugin have: a 3x3 Conv and Relu over the image,
     * the features sampled at the grid (bilinear, zeros padding), then another 1x1 Conv. X [1, 3, 16, 16], grid [1, 12, 12, 2].
     */
    static byte[] transformer(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor w1 = random(r, Shape.of(8, 3, 3, 3), 0.4), b1 = random(r, Shape.of(8), 0.1), w2 = random(r, Shape.of(4, 8, 1, 1), 0.4);
        GraphProto g = GraphProto.newBuilder().setName("spatial-transformer")
                .addInput(value("image", 1, 3, 16, 16)).addInput(value("grid", 1, 12, 12, 2))
                .addInitializer(floats("w1", w1)).addInitializer(floats("b1", b1)).addInitializer(floats("w2", w2))
                .addNode(NodeProto.newBuilder().setName("features").setOpType("Conv").addInput("image").addInput("w1").addInput("b1").addOutput("f")
                        .addAttribute(AttributeProto.newBuilder().setName("pads").setType(AttributeProto.AttributeType.INTS).addAllInts(List.of(1L, 1L, 1L, 1L)))
                        .addAttribute(AttributeProto.newBuilder().setName("kernel_shape").setType(AttributeProto.AttributeType.INTS).addAllInts(List.of(3L, 3L))))
                .addNode(NodeProto.newBuilder().setName("features.relu").setOpType("Relu").addInput("f").addOutput("fr"))
                .addNode(gridSample("warp", "fr", "grid", "warped", "bilinear", "zeros", 0))
                .addNode(NodeProto.newBuilder().setName("head").setOpType("Conv").addInput("warped").addInput("w2").addOutput("out")
                        .addAttribute(AttributeProto.newBuilder().setName("kernel_shape").setType(AttributeProto.AttributeType.INTS).addAllInts(List.of(1L, 1L))))
                .addOutput(value("out", 1, 4, 12, 12)).build();
        return model(g).toByteArray();
    }

    static Tensor random(SplittableRandom r, Shape s, double scale) {
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble(-1, 1) * scale);
        return Tensor.ofFloats(DType.F32, s, v);
    }

    /** Runs a float model in ONNX Runtime (CPU): outputs by name. */
    static Map<String, Tensor> runOrt(byte[] model, Map<String, Tensor> inputs) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions(); OrtSession s = env.createSession(model, o)) {
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            try {
                for (var e : inputs.entrySet())
                    feeds.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(e.getValue().floats().clone()), e.getValue().shape().longDims()));
                Map<String, Tensor> out = new LinkedHashMap<>();
                try (OrtSession.Result res = s.run(feeds)) {
                    for (var e : res) {
                        OnnxTensor t = (OnnxTensor) e.getValue();
                        FloatBuffer fb = t.getFloatBuffer();
                        float[] data = new float[fb.remaining()];
                        fb.get(data);
                        out.put(e.getKey(), Tensor.ofFloats(DType.F32, Shape.of(t.getInfo().getShape()), data));
                    }
                }
                return out;
            } finally {
                for (OnnxTensor t : feeds.values()) t.close();
            }
        }
    }
}
