package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.ir.io.SafeTensors;
import org.tessel.ir.zoo.DecoderConfig;

/**
 * The checkpoint forms besides model.safetensors: sharded safetensors (an index and its shards) computing the single
 * file's logits, torch.save's pytorch_model.bin, whole and sharded, read against values that numpy wrote (the fixture of
 * benchmarks/peers/make_torch_checkpoint.py), and every malformed index, shard or pickle refused by name.
 */
class CheckpointFormsTest {
    /** The fixture: bin/, bin-sharded/, expected/ (-Dtessel.torch.checkpoint=DIR reads the script's --real-torch output instead). */
    static final Path TORCH = Path.of(System.getProperty("tessel.torch.checkpoint", "src/test/resources/torch-checkpoint"));
    static final String INDEX = "model.safetensors.index.json";

    /** llama-tiny written as one model.safetensors, and as three shards of it with an index (the shards' bytes as total_size). */
    static Path shard(Path one, Path dir, String dtype) throws Exception {
        Map<String, Tensor> all = SafeTensors.read(one.resolve("model.safetensors")).tensors();
        List<String> names = new ArrayList<>(all.keySet());
        Files.createDirectories(dir);
        Files.copy(one.resolve("config.json"), dir.resolve("config.json"));
        StringBuilder map = new StringBuilder();
        long bytes = 0;
        for (int s = 0; s < 3; s++) {
            String file = "model-0000" + (s + 1) + "-of-00003.safetensors";
            Map<String, Tensor> part = new LinkedHashMap<>();
            for (String n : names.subList(s * names.size() / 3, (s + 1) * names.size() / 3)) {
                part.put(n, all.get(n));
                map.append(map.isEmpty() ? "" : ",\n    ").append('"').append(n).append("\": \"").append(file).append('"');
                bytes += all.get(n).shape().numElements() * (dtype.equals("F32") ? 4 : 2);
            }
            SafeTensors.write(dir.resolve(file), part, Map.of("format", "pt"), dtype);
        }
        Files.writeString(dir.resolve(INDEX), "{\"metadata\": {\"total_size\": " + bytes + "},\n  \"weight_map\": {\n    " + map + "\n  }\n}\n");
        return dir;
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void shardedSafetensorsComputeTheSingleFilesLogits(String dtype, @TempDir Path dir) throws Exception {
        DecoderConfig c = DecoderConfig.LLAMA_TINY;
        Path one = HfCheckpointTest.write(dir.resolve("one"), c, dtype), sharded = shard(one, dir.resolve("sharded"), dtype);
        assertFalse(Files.exists(sharded.resolve("model.safetensors")));
        assertEquals(INDEX, HfCheckpoint.weightsFile(sharded));
        HfCheckpoint a = HfCheckpoint.load(one), b = HfCheckpoint.load(sharded);
        assertEquals(a.weights().tensors().keySet(), b.weights().tensors().keySet());
        for (String n : a.weights().tensors().keySet()) assertArrayEquals(a.weights().get(n).floats(), b.weights().get(n).floats(), n);
        List<float[]> want = HfCheckpointTest.logits(HfCheckpointTest.loaded(a)), got = HfCheckpointTest.logits(HfCheckpointTest.loaded(b));
        for (int i = 0; i < want.size(); i++) assertArrayEquals(want.get(i), got.get(i), "step " + i);
    }

    @Test
    void badShardIndexesAreRefusedNamingFileAndTensor(@TempDir Path dir) throws Exception {
        Path one = HfCheckpointTest.write(dir.resolve("one"), DecoderConfig.LLAMA_TINY, "F32");
        Path good = shard(one, dir.resolve("good"), "F32");
        String index = Files.readString(good.resolve(INDEX));
        String shard1 = "model-00001-of-00003.safetensors", shard2 = "model-00002-of-00003.safetensors", shard3 = "model-00003-of-00003.safetensors";
        String first = "model.embed_tokens.weight"; // in shard 1
        long total = Long.parseLong(index.replaceAll("(?s).*\"total_size\": (\\d+).*", "$1"));

        Path notJson = copy(good, dir.resolve("notjson"));
        Files.writeString(notJson.resolve(INDEX), "{\"weight_map\": {");
        assertRefused(notJson, notJson.resolve(INDEX) + ": malformed JSON");
        Files.writeString(notJson.resolve(INDEX), "{\"metadata\": {\"total_size\": 4}}");
        assertRefused(notJson, notJson.resolve(INDEX) + ": no weight_map object");

        Path missing = copy(good, dir.resolve("missing"));
        Files.delete(missing.resolve(shard3));
        assertRefused(missing, missing.resolve(INDEX) + ": shard " + shard3 + " is missing (weight_map puts tensor ");

        Path outside = copy(good, dir.resolve("outside"));
        Files.writeString(outside.resolve(INDEX), index.replace("\"" + first + "\": \"" + shard1, "\"" + first + "\": \"../one/" + shard1));
        assertRefused(outside, outside.resolve(INDEX) + ": weight_map puts tensor " + first + " in ../one/" + shard1 + ", not the name of a .safetensors file in the folder");

        Path absent = copy(good, dir.resolve("absent"));
        Files.writeString(absent.resolve(INDEX), index.replace("\"weight_map\": {", "\"weight_map\": {\"model.layers.0.mlp.extra.weight\": \"" + shard2 + "\", "));
        assertRefused(absent, absent.resolve(shard2) + ": tensor model.layers.0.mlp.extra.weight is missing, though " + INDEX + "'s weight_map puts it in this shard");

        Path twice = copy(good, dir.resolve("twice"));
        Map<String, Tensor> s2 = new LinkedHashMap<>(SafeTensors.read(twice.resolve(shard2)).tensors());
        s2.put(first, SafeTensors.read(twice.resolve(shard1)).tensors().get(first));
        SafeTensors.write(twice.resolve(shard2), s2, Map.of());
        assertRefused(twice, twice.resolve(INDEX) + ": tensor " + first + " is in two shards, " + shard1 + " and " + shard2 + " (weight_map puts it in " + shard1 + ")");

        Path unlisted = copy(good, dir.resolve("unlisted"));
        Files.writeString(unlisted.resolve(INDEX), index.replace("\"" + first + "\": \"" + shard1 + "\",", ""));
        assertRefused(unlisted, unlisted.resolve(shard1) + ": tensor " + first + " is not in " + INDEX + "'s weight_map");

        Path moved = copy(good, dir.resolve("moved"));
        Files.writeString(moved.resolve(INDEX), index.replace("\"" + first + "\": \"" + shard1, "\"" + first + "\": \"" + shard2));
        assertRefused(moved, moved.resolve(shard1) + ": holds tensor " + first + ", which " + INDEX + "'s weight_map puts in " + shard2);

        Path size = copy(good, dir.resolve("size"));
        Files.writeString(size.resolve(INDEX), index.replace("\"total_size\": " + total, "\"total_size\": " + (total + 4)));
        assertRefused(size, size.resolve(INDEX) + ": metadata.total_size is " + (total + 4) + " bytes, but the 3 shards' tensors hold " + total);

        // a shard's own messages name the shard: a misshapen tensor
        Path shape = copy(good, dir.resolve("shape"));
        Map<String, Tensor> s3 = new LinkedHashMap<>(SafeTensors.read(shape.resolve(shard3)).tensors());
        String last = s3.keySet().iterator().next();
        s3.put(last, Tensor.ofFloats(org.tessel.api.Shape.of(3), new float[3]));
        SafeTensors.write(shape.resolve(shard3), s3, Map.of());
        long fixed = total - SafeTensors.read(good.resolve(shard3)).tensors().get(last).shape().numElements() * 4 + 12;
        Files.writeString(shape.resolve(INDEX), index.replace("\"total_size\": " + total, "\"total_size\": " + fixed));
        assertRefused(shape, shape.resolve(shard3) + ": tensor " + last + " has shape [3]");
    }

    @Test
    void torchSaveFilesHoldTheValuesNumpyWrote() throws Exception {
        HfCheckpoint expected = HfCheckpoint.load(TORCH.resolve("expected"));
        assertEquals("pytorch_model.bin", HfCheckpoint.weightsFile(TORCH.resolve("bin")));
        assertEquals("pytorch_model.bin.index.json", HfCheckpoint.weightsFile(TORCH.resolve("bin-sharded")));
        for (String form : List.of("bin", "bin-sharded")) {
            HfCheckpoint ck = HfCheckpoint.load(TORCH.resolve(form));
            assertEquals(expected.config(), ck.config());
            assertEquals(expected.weights().tensors().keySet(), ck.weights().tensors().keySet(), form);
            for (String n : expected.weights().tensors().keySet()) {
                assertEquals(expected.weights().get(n).shape(), ck.weights().get(n).shape(), form + " " + n);
                assertArrayEquals(expected.weights().get(n).floats(), ck.weights().get(n).floats(), form + " " + n);
            }
            float[] want = logits(expected), got = logits(ck);
            assertArrayEquals(want, got, form);
        }
        // what the file holds, before HfCheckpoint's transposes: the views, the shared storage and the three dtypes
        Map<String, Tensor> raw = TorchSave.read(TORCH.resolve("bin/pytorch_model.bin")).tensors();
        assertTrue(raw.containsKey("model.layers.0.self_attn.rotary_emb.inv_freq"));
        assertArrayEquals(raw.get("model.embed_tokens.weight").floats(), raw.get("lm_head.weight").floats(), "lm_head shares the embedding's storage");
        float[] gate = raw.get("model.layers.0.mlp.gate_proj.weight").floats(), v = raw.get("model.layers.0.self_attn.v_proj.weight").floats();
        for (float x : gate) assertEquals(0, Float.floatToRawIntBits(x) & 0xffff, "bf16 values");
        for (float x : v) assertEquals(x, Float.float16ToFloat(Float.floatToFloat16(x)), "f16 values");
        java.util.Set<Float> distinct = new java.util.HashSet<>();
        for (float x : raw.get("model.layers.0.self_attn.o_proj.weight").floats()) distinct.add(x);
        assertEquals(256, distinct.size(), "o_proj, a transposed view, has its 256 values");
    }

    /** The fixture's config (vocab 32): the logits of every position of a prompt, flattened. */
    private static float[] logits(HfCheckpoint ck) {
        DecoderRunner r = HfCheckpointTest.loaded(ck);
        float[][] rows = r.stepAllLogits(List.of(new DecoderRunner.Row("s", new long[] {1, 5, 9, 30, 2})), r.newCache(4, 8)).getFirst();
        float[] flat = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        return flat;
    }

    @Test
    void maliciousPicklesAreRefusedWithoutRunningThem(@TempDir Path dir) throws Exception {
        Path marker = dir.resolve("ran");
        String command = "touch " + marker;
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 2});
        p.writeBytes("cos\nsystem\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL os.system
        p.write('X');
        byte[] cmd = command.getBytes(StandardCharsets.UTF_8);
        p.writeBytes(new byte[] {(byte) cmd.length, 0, 0, 0});
        p.writeBytes(cmd);
        p.writeBytes(new byte[] {(byte) 0x85, 'R', '.'}); // TUPLE1, REDUCE, STOP
        Path evil = Files.createDirectories(dir.resolve("evil"));
        Files.copy(TORCH.resolve("bin/config.json"), evil.resolve("config.json"));
        zip(evil.resolve("pytorch_model.bin"), Map.of("archive/data.pkl", p.toByteArray(), "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII)));
        assertRefused(evil, evil.resolve("pytorch_model.bin") + ": data.pkl asks for global os.system; only torch's tensor globals are read");
        assertFalse(Files.exists(marker));

        // protocol 4's STACK_GLOBAL, builtins.eval
        ByteArrayOutputStream q = new ByteArrayOutputStream();
        q.writeBytes(new byte[] {(byte) 0x80, 4, (byte) 0x8c, 8});
        q.writeBytes("builtins".getBytes(StandardCharsets.US_ASCII));
        q.writeBytes(new byte[] {(byte) 0x8c, 4});
        q.writeBytes("eval".getBytes(StandardCharsets.US_ASCII));
        q.writeBytes(new byte[] {(byte) 0x93, ')', 'R', '.'});
        zip(evil.resolve("pytorch_model.bin"), Map.of("archive/data.pkl", q.toByteArray()));
        assertRefused(evil, "data.pkl asks for global builtins.eval");
    }

    /**
     * The opcodes a large state dict or a newer protocol brings that the tiny fixture does not: LONG_BINPUT/LONG_BINGET
     * past 256 memo entries, protocol 4's FRAME, MEMOIZE, SHORT_BINUNICODE, BINUNICODE8 and STACK_GLOBAL, LONG1 beyond
     * 32 bits, negative BININT, BINFLOAT, NONE, NEWTRUE, TUPLE3, APPENDS.
     */
    @Test
    void unpicklerReadsTheOpcodesOfLargeAndNewerPickles() {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 4, (byte) 0x95, 0, 0, 0, 0, 0, 0, 0, 0}); // PROTO 4, FRAME
        p.writeBytes(new byte[] {']', (byte) 0x94, '('}); // EMPTY_LIST, MEMOIZE (0), MARK
        for (int i = 0; i < 300; i++) {
            byte[] s = ("k" + i).getBytes(StandardCharsets.US_ASCII);
            p.writeBytes(new byte[] {'X', (byte) s.length, 0, 0, 0});
            p.writeBytes(s);
            p.writeBytes(new byte[] {'r', (byte) (i + 1), (byte) ((i + 1) >> 8), 0, 0}); // LONG_BINPUT i + 1
        }
        p.writeBytes(new byte[] {'j', 44, 1, 0, 0}); // LONG_BINGET 300: "k299"
        p.writeBytes(new byte[] {(byte) 0x8a, 6, 0, 0, 0, 0, 0, 1}); // LONG1 2^40
        p.writeBytes(new byte[] {'J', (byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff}); // BININT -2
        p.writeBytes(new byte[] {'G', 0x3f, (byte) 0xf8, 0, 0, 0, 0, 0, 0}); // BINFLOAT 1.5
        p.writeBytes(new byte[] {'N', (byte) 0x88, (byte) 0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 'z', (byte) 0x87}); // NONE, NEWTRUE, BINUNICODE8 "z", TUPLE3
        p.writeBytes(new byte[] {(byte) 0x8c, 11});
        p.writeBytes("collections".getBytes(StandardCharsets.US_ASCII));
        p.writeBytes(new byte[] {(byte) 0x8c, 11});
        p.writeBytes("OrderedDict".getBytes(StandardCharsets.US_ASCII));
        p.writeBytes(new byte[] {(byte) 0x93, ')', 'R', 'e', '.'}); // STACK_GLOBAL, EMPTY_TUPLE, REDUCE, APPENDS, STOP
        List<?> list = (List<?>) new TorchSave.Unpickler(p.toByteArray(), "test.pkl").load();
        assertEquals(306, list.size());
        assertEquals("k0", list.get(0));
        assertEquals("k299", list.get(299));
        assertEquals("k299", list.get(300));
        assertEquals(List.of(1L << 40, -2L, 1.5), list.subList(301, 304));
        assertEquals(new TorchSave.Tuple(java.util.Arrays.asList(null, true, "z")), list.get(304));
        assertInstanceOf(Map.class, list.get(305));
    }

    @Test
    void badTorchFilesAreRefusedNamingFileAndTensor(@TempDir Path dir) throws Exception {
        Path bin = TORCH.resolve("bin/pytorch_model.bin");

        Path big = folder(dir.resolve("big"), "bin");
        rewrite(bin, big.resolve("pytorch_model.bin"), r -> r.put("pytorch_model/byteorder", "big".getBytes(StandardCharsets.US_ASCII)));
        assertRefused(big, big.resolve("pytorch_model.bin") + ": byteorder is big: big-endian checkpoints are not read");

        Path longs = folder(dir.resolve("longs"), "bin");
        rewrite(bin, longs.resolve("pytorch_model.bin"), r -> r.put("pytorch_model/data.pkl", replace(r.get("pytorch_model/data.pkl"), "torch\nFloatStorage\n", "torch\nLongStorage\n")));
        assertRefused(longs, longs.resolve("pytorch_model.bin") + ": tensor model.embed_tokens.weight is int64 (torch.LongStorage); F32, F16 and BF16 tensors are read");

        Path lost = folder(dir.resolve("lost"), "bin");
        rewrite(bin, lost.resolve("pytorch_model.bin"), r -> r.remove("pytorch_model/data/3"));
        assertRefused(lost, lost.resolve("pytorch_model.bin") + ": no record pytorch_model/data/3 for the storage of tensor model.layers.0.self_attn.o_proj.weight");

        Path legacy = folder(dir.resolve("legacy"), "bin");
        Files.write(legacy.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20});
        assertRefused(legacy, legacy.resolve("pytorch_model.bin") + ": torch.save's legacy format");

        // byteorder absent (older torch): little; the records' folder named "archive" (torch.save to a stream)
        Path old = folder(dir.resolve("old"), "bin");
        rewrite(bin, old.resolve("pytorch_model.bin"), r -> {
            r.remove("pytorch_model/byteorder");
            for (String k : List.copyOf(r.keySet())) r.put(k.replace("pytorch_model/", "archive/"), r.remove(k));
        });
        HfCheckpoint expected = HfCheckpoint.load(TORCH.resolve("expected")), read = HfCheckpoint.load(old);
        for (String n : expected.weights().tensors().keySet()) assertArrayEquals(expected.weights().get(n).floats(), read.weights().get(n).floats(), n);

        Path size = folder(dir.resolve("size"), "bin-sharded");
        String index = Files.readString(size.resolve("pytorch_model.bin.index.json"));
        long total = Long.parseLong(index.replaceAll("(?s).*\"total_size\": (\\d+).*", "$1"));
        Files.writeString(size.resolve("pytorch_model.bin.index.json"), index.replace("\"total_size\": " + total, "\"total_size\": " + (total + 1024)));
        assertRefused(size, size.resolve("pytorch_model.bin.index.json") + ": metadata.total_size is " + (total + 1024) + " bytes, but the 2 shards' tensors hold " + total
                + " (a storage shared by several tensors counted once");
    }

    private static Path folder(Path to, String fixture) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(TORCH.resolve(fixture))) {
            for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName()));
        }
        return to;
    }

    private static Path copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName()));
        }
        return to;
    }

    /** A zip's records by name, edited, written again (replacing any file at {@code to}). */
    private static void rewrite(Path from, Path to, Consumer<Map<String, byte[]>> edit) throws Exception {
        Map<String, byte[]> records = new LinkedHashMap<>();
        try (ZipFile z = new ZipFile(from.toFile())) {
            for (ZipEntry e : java.util.Collections.list(z.entries())) records.put(e.getName(), z.getInputStream(e).readAllBytes());
        }
        edit.accept(records);
        zip(to, records);
    }

    private static void zip(Path to, Map<String, byte[]> records) throws Exception {
        try (OutputStream out = Files.newOutputStream(to); ZipOutputStream z = new ZipOutputStream(out)) {
            for (var e : records.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
    }

    private static byte[] replace(byte[] data, String from, String to) {
        String s = new String(data, StandardCharsets.ISO_8859_1);
        assertTrue(s.contains(from), from);
        return s.replace(from, to).getBytes(StandardCharsets.ISO_8859_1);
    }

    private static void assertRefused(Path dir, String message) {
        var e = assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.load(dir));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
