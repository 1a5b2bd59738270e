package org.tessel.passes.lora;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.io.SafeTensors;
import org.tessel.ir.Verifier;
import org.tessel.ir.ops.LoraOps;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassException;
import org.tessel.passes.PassManager;

/** The lora pass on the zoo decoders: merged-weights equality, the adapter folder format, and adapters that do not fit refused by file, layer and shape. */
class ApplyLoraTest {
    static final DecoderShape PREFILL = new DecoderShape(2, 5, 0);

    static Graph llama() { return Zoo.buildDecoder("llama-tiny", DecoderConfig.LLAMA_TINY, PREFILL, 7); }

    static Map<String, Tensor> inputs(Graph g, long... adapterIds) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        long[] ids = new long[10], mask = new long[10], pos = new long[10];
        for (int i = 0; i < 10; i++) { ids[i] = (i * 37 + 11) % 512; mask[i] = 1; pos[i] = i % 5; }
        in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 5), ids));
        in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(2, 5), mask));
        in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(2, 5), pos));
        if (adapterIds.length > 0) in.put(ApplyLora.ADAPTER_IDS, Tensor.ofLongs(DType.I64, Shape.of(2), adapterIds));
        return in;
    }

    static float[] logits(Graph g, Map<String, Tensor> in) {
        List<Tensor> ordered = new ArrayList<>();
        for (Value v : g.inputs()) ordered.add(in.get(v.name()));
        return new ReferenceInterpreter().run(g, ordered).getFirst().floats();
    }

    @Test void oneAdapterEqualsTheBaseWithItsProductMergedIntoTheWeights() {
        Graph base = llama(), adapted = llama();
        LoraAdapter a = LoraAdapter.random("math", base, List.of("q", "k", "v", "o", "mlp"), 4, 8, 1);
        assertEquals(2 * 7, a.layers().size());
        assertEquals(14, ApplyLora.apply(adapted, List.of(a), List.of("q", "k", "v", "o", "mlp"), OpRegistry.global()));
        Verifier.verify(adapted);
        // W' = W + scale · (B·A)ᵀ, W stored [K, N]
        for (LoraAdapter.Layer l : a.layers().values()) {
            Node mm = base.nodes().stream().filter(n -> n.name().equals(l.module())).findFirst().orElseThrow();
            float[] w = mm.input(1).constantValue().floats().clone(), A = l.a().floats(), B = l.b().floats();
            int k = l.k(), n = l.n(), r = l.rank();
            for (int c = 0; c < k; c++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int q = 0; q < r; q++) s += (double) B[j * r + q] * A[q * k + c];
                    w[c * n + j] += (float) (a.scale() * s);
                }
            base.setNodeInput(mm, 1, base.addConstant(l.module() + ".merged", Tensor.ofFloats(Shape.of(k, n), w)));
        }
        float[] want = logits(base, inputs(base)), got = logits(adapted, inputs(adapted, 1, 1)), plain = logits(llama(), inputs(llama()));
        double err = 0, diff = 0, norm = 0;
        for (int i = 0; i < want.length; i++) {
            err = Math.max(err, Math.abs(want[i] - got[i]));
            diff = Math.max(diff, Math.abs(plain[i] - got[i]));
            norm = Math.max(norm, Math.abs(want[i]));
        }
        assertTrue(err <= 1e-5 * Math.max(1, norm), "LoRA graph vs merged weights: max |diff| " + err + " (max |logit| " + norm + ")");
        assertTrue(diff > 100 * err + 1e-3, "the adapter must change the logits: max |diff| from the base " + diff);
        // id 0 is the base model, bit for bit
        assertArrayEquals(plain, logits(adapted, inputs(adapted, 0, 0)));
    }

    @Test void theOptionFormReadsPeftFoldersAndRefusesASecondRun(@TempDir Path dir) throws Exception {
        Graph g = llama();
        LoraAdapter a = LoraAdapter.random("a", g, List.of("q", "v"), 2, 4, 2), b = LoraAdapter.random("b", g, List.of("o"), 3, 3, 3);
        a.save(dir.resolve("a"));
        b.save(dir.resolve("b"));
        LoraAdapter back = LoraAdapter.load("a", dir.resolve("a"));
        assertEquals(a.layers().keySet(), back.layers().keySet());
        for (var l : a.layers().values()) {
            assertArrayEquals(l.a().floats(), back.layers().get(l.module()).a().floats());
            assertArrayEquals(l.b().floats(), back.layers().get(l.module()).b().floats());
        }
        assertEquals(a.scale(), back.scale());
        var report = new PassManager().run(g, "lora{adapters=a=" + dir.resolve("a") + ";b=" + dir.resolve("b") + "}");
        assertEquals(6, g.nodes().stream().filter(n -> n.opName().equals(LoraOps.DELTA)).count(), "q, v of both layers and o of both layers");
        assertNotNull(g.value(ApplyLora.ADAPTER_IDS));
        assertTrue(report.runs().getFirst().changed());
        PassException e = assertThrows(PassException.class, () -> ApplyLora.apply(g, List.of(a), List.of(), OpRegistry.global()));
        assertTrue(e.getMessage().contains("already has an input adapter_ids"), e.getMessage());
        Graph untouched = llama();
        assertFalse(new PassManager().run(untouched, "lora").runs().getFirst().changed());
        assertNull(untouched.value(ApplyLora.ADAPTER_IDS));
    }

    @Test void adaptersThatDoNotFitAreRefusedNamingFileLayerAndShape(@TempDir Path dir) throws Exception {
        Graph g = llama();
        LoraAdapter a = LoraAdapter.random("a", g, List.of("q"), 4, 4, 5);
        String q0 = "model.layers.0.self_attn.q_proj";
        // K one too wide
        Map<String, LoraAdapter.Layer> wide = new LinkedHashMap<>(a.layers());
        wide.put(q0, new LoraAdapter.Layer(q0, Tensor.zeros(DType.F32, Shape.of(4, 65)), a.layers().get(q0).b()));
        new LoraAdapter("wide", 4, 4, wide, "x").save(dir.resolve("wide"));
        PassException e = assertThrows(PassException.class, () -> new PassManager().run(llama(), "lora{adapters=wide=" + dir.resolve("wide") + "}"));
        assertTrue(e.getMessage().contains("adapter wide (" + dir.resolve("wide").resolve(LoraAdapter.WEIGHTS) + "): layer " + q0 + ": lora_A is [4,65] = [r, K], the layer takes K=64"), e.getMessage());
        // a layer the model does not have
        Map<String, LoraAdapter.Layer> unknown = new LinkedHashMap<>(a.layers());
        unknown.put("model.layers.9.self_attn.q_proj", new LoraAdapter.Layer("model.layers.9.self_attn.q_proj", a.layers().get(q0).a(), a.layers().get(q0).b()));
        e = assertThrows(PassException.class, () -> ApplyLora.apply(llama(), List.of(new LoraAdapter("u", 4, 4, unknown, "u.safetensors")), List.of(), OpRegistry.global()));
        assertTrue(e.getMessage().contains("adapter u (u.safetensors): layer model.layers.9.self_attn.q_proj is not a linear layer of llama-tiny"), e.getMessage());
        // outside the targets
        e = assertThrows(PassException.class, () -> ApplyLora.apply(llama(), List.of(a), List.of("v"), OpRegistry.global()));
        assertTrue(e.getMessage().contains("layer " + q0 + " is not among the targets [v]"), e.getMessage());
        // N wrong
        Map<String, LoraAdapter.Layer> tall = new LinkedHashMap<>(a.layers());
        tall.put(q0, new LoraAdapter.Layer(q0, a.layers().get(q0).a(), Tensor.zeros(DType.F32, Shape.of(32, 4))));
        e = assertThrows(PassException.class, () -> ApplyLora.apply(llama(), List.of(new LoraAdapter("t", 4, 4, tall, "t")), List.of(), OpRegistry.global()));
        assertTrue(e.getMessage().contains("lora_B is [32,4] = [N, r], the layer gives N=64"), e.getMessage());
        // the file's rank disagrees with its config's r
        a.save(dir.resolve("rank"));
        Files.writeString(dir.resolve("rank").resolve(LoraAdapter.CONFIG), "{\"r\": 8, \"lora_alpha\": 16}");
        IllegalArgumentException r = assertThrows(IllegalArgumentException.class, () -> LoraAdapter.load("rank", dir.resolve("rank")));
        assertTrue(r.getMessage().contains("adapter rank (" + dir.resolve("rank").resolve(LoraAdapter.WEIGHTS) + "): layer model.layers.0.self_attn.q_proj: lora_A must be [r=8, K], got [4,64]"), r.getMessage());
        // a missing file and a truncated one
        r = assertThrows(IllegalArgumentException.class, () -> LoraAdapter.load("none", dir.resolve("none")));
        assertTrue(r.getMessage().contains("is not a folder"), r.getMessage());
        Files.write(dir.resolve("rank").resolve(LoraAdapter.WEIGHTS), new byte[] {100, 0, 0, 0, 0, 0, 0, 0, '{'});
        r = assertThrows(IllegalArgumentException.class, () -> LoraAdapter.load("rank", dir.resolve("rank")));
        assertTrue(r.getMessage().contains("header length 100 does not fit the file's 9 bytes"), r.getMessage());
    }

    @Test void safetensorsReadsHalfAndBfloatTensors(@TempDir Path dir) throws Exception {
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]}}";
        var buf = java.nio.ByteBuffer.allocate(8 + header.length() + 6).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        buf.putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(-2f)).putShort((short) (Float.floatToIntBits(3.25f) >>> 16));
        Files.write(dir.resolve("t.safetensors"), buf.array());
        var c = SafeTensors.read(dir.resolve("t.safetensors"));
        assertArrayEquals(new float[] {1.5f, -2f}, c.tensors().get("h").floats());
        assertArrayEquals(new float[] {3.25f}, c.tensors().get("b").floats());
    }
}
