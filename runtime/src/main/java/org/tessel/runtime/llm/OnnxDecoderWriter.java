package org.tessel.runtime.llm;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.DecoderWeights;
import org.tessel.ir.zoo.Zoo;

/**
 * Writes a zoo Llama (seeded or trained weights) as a transformers-style decoder-with-past ONNX file with dynamic axes,
 * in standard ONNX ops (opset 21): inputs {@code input_ids} [batch, sequence_length], {@code attention_mask}
 * [batch, total_length], {@code position_ids} [batch, sequence_length], {@code past_key_values.N.key|value}
 * [batch, kv_heads, past_sequence_length, head_dim]; outputs {@code logits} [batch, sequence_length, vocab] and
 * {@code present.N.key|value} [batch, kv_heads, total_length, head_dim]. Unlike the zoo's step graphs, which are built
 * at one shape, nothing in it is fixed to a sequence length: Q/K/V reshapes copy their leading dimensions (0), the
 * causal mask compares slices of an index table cut by the inputs' shapes (as GPT-2's exported {@code bias} buffer),
 * and K/V heads are repeated by Concat. What {@link OnnxDecoder} reads, made reproducibly for its tests.
 */
public final class OnnxDecoderWriter {
    private OnnxDecoderWriter() {}

    private static final int FLOAT = 1, INT64 = 7;

    /** Writes {@code model} ({@code config}; weights from {@code seed}, or {@code weights} when not null) to {@code file}. */
    public static void write(String model, DecoderConfig c, long seed, DecoderWeights weights, Path file) throws IOException {
        org.tessel.ir.io.AtomicFiles.writeBytes(file, model(model, c, seed, weights, true).toByteArray());
    }

    /**
     * The model as a ModelProto (see the class comment); without {@code positionIds} it has no position_ids input and
     * numbers the new tokens past, past + 1, ... from its past inputs' length, as transformers does when none is given.
     */
    public static ModelProto model(String model, DecoderConfig c, long seed, DecoderWeights weights, boolean positionIds) {
        if (c.family() != DecoderConfig.Family.LLAMA) throw new IllegalArgumentException(model + ": only Llama decoders are written as ONNX decoders with past");
        Graph zoo = Zoo.buildDecoder(model, c, new DecoderShape(1, 1, 0), seed, weights);
        return new Builder(zoo, c, positionIds).build(model);
    }

    private static final class Builder {
        final Graph zoo;
        final DecoderConfig c;
        final boolean positionIds;
        final GraphProto.Builder g = GraphProto.newBuilder();
        final Set<String> initializers = new HashSet<>();
        int fresh;

        Builder(Graph zoo, DecoderConfig c, boolean positionIds) {
            this.zoo = zoo;
            this.c = c;
            this.positionIds = positionIds;
        }

        ModelProto build(String model) {
            int hd = c.headDim(), half = hd / 2, heads = c.heads(), kvh = c.kvHeads();
            g.setName(model + "_with_past");
            g.addInput(info("input_ids", INT64, "batch", "sequence_length"));
            g.addInput(info("attention_mask", INT64, "batch", "total_length"));
            if (positionIds) g.addInput(info("position_ids", INT64, "batch", "sequence_length"));
            for (int l = 0; l < c.layers(); l++)
                for (String kind : List.of("key", "value")) g.addInput(info("past_key_values." + l + "." + kind, FLOAT, "batch", kvh, "past_sequence_length", hd));

            // causal and padding mask [batch, 1, new, total]: key j is visible to new token i when j <= total - new + i and attention_mask holds 1 at j
            long[] index = new long[4 * c.maxPositions()];
            for (int i = 0; i < index.length; i++) index[i] = i;
            String table = constant("causal.index", Tensor.ofLongs(DType.I64, Shape.of(index.length), index));
            String n = node("Slice", List.of(node("Shape", List.of("input_ids")), longs("one", 1), longs("two", 2)));
            String total = node("Slice", List.of(node("Shape", List.of("attention_mask")), longs("one", 1), longs("two", 2)));
            String cols = node("Unsqueeze", List.of(node("Slice", List.of(table, longs("zero", 0), total)), longs("zero", 0)));
            String rows = node("Unsqueeze", List.of(node("Slice", List.of(table, node("Sub", List.of(total, n)), total)), longs("one", 1)));
            String causal = node("Cast", List.of(node("LessOrEqual", List.of(cols, rows))), intAttr("to", INT64));
            String visible = node("Mul", List.of(node("Unsqueeze", List.of("attention_mask", longs("axes12", 1, 2))), causal));
            String hidden = node("Sub", List.of(scalar("one_f", 1), node("Cast", List.of(visible), intAttr("to", FLOAT))));
            String mask = node("Mul", List.of(hidden, scalar("masked_value", -1e9f)));

            // rotary embedding: angles = position x inv_freq, both halves; cos and sin [batch, 1, new, head_dim]; without
            // position_ids the positions are past .. total - 1 ([1, new], shared by the rows)
            String positions = positionIds ? "position_ids" : node("Unsqueeze", List.of(node("Slice", List.of(table,
                    node("Slice", List.of(node("Shape", List.of("past_key_values.0.key")), longs("two", 2), longs("three", 3))), total)), longs("zero", 0)));
            String freqs = node("Mul", List.of(node("Unsqueeze", List.of(node("Cast", List.of(positions), intAttr("to", FLOAT)), longs("two", 2))),
                    constant("model.rotary_emb.inv_freq", tensor("model.rotary_emb.inv_freq"))));
            String emb = node("Concat", List.of(freqs, freqs), intAttr("axis", -1));
            String cos = node("Unsqueeze", List.of(node("Cos", List.of(emb)), longs("one", 1)));
            String sin = node("Unsqueeze", List.of(node("Sin", List.of(emb)), longs("one", 1)));

            String x = node("Gather", List.of(weight("model.embed_tokens.weight"), "input_ids"), intAttr("axis", 0));
            List<String> outputs = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                String p = "model.layers." + l + ".";
                String h = rmsNorm(x, p + "input_layernorm.weight");
                String q = heads(node("MatMul", List.of(h, weight(p + "self_attn.q_proj.weight"))), heads);
                String k = heads(node("MatMul", List.of(h, weight(p + "self_attn.k_proj.weight"))), kvh);
                String v = heads(node("MatMul", List.of(h, weight(p + "self_attn.v_proj.weight"))), kvh);
                q = rope(q, cos, sin, half);
                k = rope(k, cos, sin, half);
                String presentK = "present." + l + ".key", presentV = "present." + l + ".value";
                g.addNode(NodeProto.newBuilder().setOpType("Concat").setName(presentK).addInput("past_key_values." + l + ".key").addInput(k).addOutput(presentK).addAttribute(intAttr("axis", 2)));
                g.addNode(NodeProto.newBuilder().setOpType("Concat").setName(presentV).addInput("past_key_values." + l + ".value").addInput(v).addOutput(presentV).addAttribute(intAttr("axis", 2)));
                outputs.add(presentK);
                outputs.add(presentV);
                k = repeatKv(presentK, heads / kvh, heads, hd);
                v = repeatKv(presentV, heads / kvh, heads, hd);
                String scores = node("MatMul", List.of(q, node("Transpose", List.of(k), intsAttr("perm", 0, 1, 3, 2))));
                scores = node("Add", List.of(node("Div", List.of(scores, scalar("scale_divisor", (float) Math.sqrt(hd)))), mask));
                String ctx = node("MatMul", List.of(node("Softmax", List.of(scores), intAttr("axis", -1)), v));
                ctx = node("Reshape", List.of(node("Transpose", List.of(ctx), intsAttr("perm", 0, 2, 1, 3)), longs("merge_heads", 0, 0, (long) heads * hd)));
                x = node("Add", List.of(x, node("MatMul", List.of(ctx, weight(p + "self_attn.o_proj.weight")))));
                h = rmsNorm(x, p + "post_attention_layernorm.weight");
                String gate = node("MatMul", List.of(h, weight(p + "mlp.gate_proj.weight")));
                String silu = node("Mul", List.of(gate, node("Sigmoid", List.of(gate))));
                String up = node("MatMul", List.of(h, weight(p + "mlp.up_proj.weight")));
                x = node("Add", List.of(x, node("MatMul", List.of(node("Mul", List.of(silu, up)), weight(p + "mlp.down_proj.weight")))));
            }
            x = rmsNorm(x, "model.norm.weight");
            String head = c.tiedHead() ? node("Transpose", List.of(weight("model.embed_tokens.weight")), intsAttr("perm", 1, 0)) : weight("lm_head.weight");
            g.addNode(NodeProto.newBuilder().setOpType("MatMul").setName("lm_head").addInput(x).addInput(head).addOutput("logits"));
            g.addOutput(info("logits", FLOAT, "batch", "sequence_length", c.vocab()));
            for (String o : outputs) g.addOutput(info(o, FLOAT, "batch", kvh, "total_length", hd));
            return ModelProto.newBuilder().setIrVersion(10).setProducerName("tessel OnnxDecoderWriter")
                    .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(21)).setGraph(g).build();
        }

        /** [batch, new, h * head_dim] to [batch, h, new, head_dim]. */
        String heads(String x, int h) {
            return node("Transpose", List.of(node("Reshape", List.of(x, longs("heads" + h, 0, 0, h, c.headDim())))), intsAttr("perm", 0, 2, 1, 3));
        }

        /** x * cos + rotate_half(x) * sin. */
        String rope(String x, String cos, String sin, int half) {
            String x1 = fresh("rope.x1"), x2 = fresh("rope.x2");
            g.addNode(NodeProto.newBuilder().setOpType("Split").setName(x1 + ".split").addInput(x).addInput(longs("halves", half, half)).addOutput(x1).addOutput(x2)
                    .addAttribute(intAttr("axis", -1)));
            String rotated = node("Concat", List.of(node("Neg", List.of(x2)), x1), intAttr("axis", -1));
            return node("Add", List.of(node("Mul", List.of(x, cos)), node("Mul", List.of(rotated, sin))));
        }

        /** [batch, kv_heads, t, d] to [batch, heads, t, d], each K/V head repeated {@code group} times (transformers' repeat_kv). */
        String repeatKv(String x, int group, int heads, int hd) {
            if (group == 1) return x;
            String u = node("Unsqueeze", List.of(x, longs("two", 2)));
            List<String> copies = new ArrayList<>();
            for (int i = 0; i < group; i++) copies.add(u);
            return node("Reshape", List.of(node("Concat", copies, intAttr("axis", 2)), longs("repeat_kv" + heads, 0, heads, -1, hd)));
        }

        String rmsNorm(String x, String weight) {
            String mean = node("ReduceMean", List.of(node("Mul", List.of(x, x)), longs("last", -1)), intAttr("keepdims", 1));
            String rms = node("Sqrt", List.of(node("Add", List.of(mean, scalar("eps", c.eps())))));
            return node("Mul", List.of(node("Div", List.of(x, rms)), weight(weight)));
        }

        Tensor tensor(String name) {
            Value v = zoo.value(name);
            if (v == null || !v.isConstant()) throw new IllegalStateException("the zoo graph has no constant " + name);
            return v.constantValue();
        }

        String weight(String name) { return constant(name, tensor(name)); }

        String constant(String name, Tensor t) {
            if (initializers.add(name)) g.addInitializer(OnnxTensors.toProto(t, name));
            return name;
        }

        String longs(String name, long... v) { return constant("const." + name, Tensor.ofLongs(DType.I64, Shape.of(v.length), v)); }

        String scalar(String name, float v) { return constant("const." + name, Tensor.ofFloats(Shape.of(), new float[] {v})); }

        String fresh(String base) { return base + "_" + fresh++; }

        String node(String op, List<String> inputs, AttributeProto... attrs) {
            String out = fresh(op.toLowerCase(java.util.Locale.ROOT));
            NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(out).addAllInput(inputs).addOutput(out);
            for (AttributeProto a : attrs) b.addAttribute(a);
            g.addNode(b);
            return out;
        }
    }

    private static AttributeProto intAttr(String name, long v) { return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build(); }

    private static AttributeProto intsAttr(String name, long... v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) b.addInts(x);
        return b.build();
    }

    /** A tensor value info; a String dimension is symbolic, an Integer fixed. */
    private static ValueInfoProto info(String name, int elemType, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            if (d instanceof String p) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(p));
            else s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(s))).build();
    }
}
