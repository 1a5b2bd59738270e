package org.tessel.cli;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * ONNX Runtime (its CPU execution provider) as a peer: runs an ONNX model on Tessel tensors. Extra
 * tensors can be asked for by name: they are added to the model's outputs in memory (ORT cannot
 * return a value that is not a graph output), which also keeps ORT from fusing them away.
 */
final class OrtRunner implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String what;
    /** The extra tensors that were made outputs (those the model's nodes produce). */
    final List<String> extra;

    private OrtRunner(OrtEnvironment env, OrtSession session, String what, List<String> extra) {
        this.env = env;
        this.session = session;
        this.what = what;
        this.extra = extra;
    }

    /** The ONNX Runtime version this build runs. */
    static String version() {
        return OrtEnvironment.getEnvironment().getVersion();
    }

    /**
     * A session for the model in {@code bytes}, with each of {@code extraOutputs} (name and element
     * type) that a node of the model produces made an output as well; {@code what} names the model in errors.
     */
    static OrtRunner open(byte[] bytes, Map<String, DType> extraOutputs, String what) {
        ModelProto m;
        try {
            m = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(what + ": not an ONNX model: " + e.getMessage(), e);
        }
        List<String> added = new ArrayList<>();
        if (!extraOutputs.isEmpty()) {
            GraphProto.Builder g = m.getGraph().toBuilder();
            Set<String> produced = new HashSet<>(), outputs = new HashSet<>();
            for (NodeProto n : g.getNodeList()) produced.addAll(n.getOutputList());
            for (ValueInfoProto o : g.getOutputList()) outputs.add(o.getName());
            for (var e : extraOutputs.entrySet()) {
                if (!produced.contains(e.getKey()) || outputs.contains(e.getKey())) continue;
                g.addOutput(ValueInfoProto.newBuilder().setName(e.getKey())
                        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(e.getValue().onnxCode()))));
                added.add(e.getKey());
            }
            m = m.toBuilder().setGraph(g).build();
            bytes = m.toByteArray();
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try {
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            return new OrtRunner(env, env.createSession(bytes, o), what, List.copyOf(added));
        } catch (OrtException e) {
            throw new IllegalArgumentException("onnxruntime cannot load " + what + ": " + firstLine(e.getMessage()), e);
        }
    }

    /** Runs on inputs by name; returns the requested outputs (the model's, then the extra ones) by name. */
    Map<String, Tensor> run(Map<String, Tensor> inputs, Collection<String> wanted) {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try {
            Set<String> names = session.getInputNames();
            for (var e : inputs.entrySet()) {
                if (!names.contains(e.getKey()))
                    throw new IllegalArgumentException("onnxruntime: " + what + " has no input '" + e.getKey() + "' (its inputs: " + names + ")");
                feeds.put(e.getKey(), toOrt(e.getValue()));
            }
            Set<String> want = new java.util.LinkedHashSet<>(wanted);
            want.retainAll(session.getOutputNames());
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (OrtSession.Result r = session.run(feeds, want)) {
                for (var e : r) out.put(e.getKey(), fromOrt(e.getValue(), e.getKey()));
            }
            return out;
        } catch (OrtException e) {
            throw new IllegalArgumentException("onnxruntime failed on " + what + ": " + firstLine(e.getMessage()), e);
        } finally {
            for (OnnxTensor t : feeds.values()) t.close();
        }
    }

    private OnnxTensor toOrt(Tensor t) throws OrtException {
        byte[] raw = OnnxTensors.toProto(t, "").getRawData().toByteArray();
        ByteBuffer b = ByteBuffer.allocateDirect(raw.length).order(ByteOrder.nativeOrder());
        b.put(ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN)).rewind();
        return OnnxTensor.createTensor(env, b, t.shape().longDims(), javaType(t.dtype()));
    }

    private static Tensor fromOrt(OnnxValue v, String name) throws OrtException {
        if (!(v instanceof OnnxTensor t)) throw new IllegalArgumentException("onnxruntime: output '" + name + "' is not a tensor (" + v.getType() + ")");
        TensorInfo info = t.getInfo();
        DType d = switch (info.type) {
            case FLOAT -> DType.F32;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            case DOUBLE -> DType.F64;
            case INT64 -> DType.I64;
            case INT32 -> DType.I32;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case BOOL -> DType.BOOL;
            default -> throw new IllegalArgumentException("onnxruntime: output '" + name + "' has element type " + info.type + ", which Tessel has not");
        };
        ByteBuffer b = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        TensorProto.Builder p = TensorProto.newBuilder().setDataType(d.onnxCode()).setRawData(ByteString.copyFrom(raw));
        for (long x : info.getShape()) p.addDims(x);
        return OnnxTensors.fromProto(p.build(), "onnxruntime output '" + name + "'");
    }

    private static OnnxJavaType javaType(DType d) {
        return switch (d) {
            case F32 -> OnnxJavaType.FLOAT;
            case F16 -> OnnxJavaType.FLOAT16;
            case BF16 -> OnnxJavaType.BFLOAT16;
            case F64 -> OnnxJavaType.DOUBLE;
            case I64 -> OnnxJavaType.INT64;
            case I32 -> OnnxJavaType.INT32;
            case I8 -> OnnxJavaType.INT8;
            case U8 -> OnnxJavaType.UINT8;
            case BOOL -> OnnxJavaType.BOOL;
            case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> throw new IllegalArgumentException("onnxruntime's Java API 1.20 takes no float8 tensors (got an " + d.text() + " input); give the model f32 inputs");
        };
    }

    private static String firstLine(String s) {
        if (s == null) return "no message";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("onnxruntime: closing the session: " + e.getMessage(), e);
        }
    }
}
