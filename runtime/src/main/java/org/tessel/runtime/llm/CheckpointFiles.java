package org.tessel.runtime.llm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.tessel.api.Tensor;
import org.tessel.ir.io.Json;
import org.tessel.ir.io.SafeTensors;

/**
 * A checkpoint folder's tensors, in whichever of the four forms transformers' {@code save_pretrained} writes (looked for
 * in this order, as transformers does): {@code model.safetensors}; {@code model.safetensors.index.json} with its shards;
 * {@code pytorch_model.bin} (torch.save, {@link TorchSave}); {@code pytorch_model.bin.index.json} with its shards. Each
 * tensor keeps the file it came from, for messages.
 *
 * <p>An index is {@code {"metadata": {"total_size": N}, "weight_map": {"tensor": "shard file", ...}}}. Shards are read
 * one at a time. Refused, naming the index or the shard and the tensor: an index that is not JSON or has no weight_map;
 * a shard file that is missing or not a plain file name in the folder; a tensor the weight_map puts in a shard that
 * lacks it; a tensor in two shards; a tensor in a shard that the weight_map does not list, or lists in another shard;
 * and a total_size other than the shards' bytes as transformers counts them (huggingface_hub's
 * split_state_dict_into_shards: each tensor's bytes, and for tensors sharing a storage, which only .bin shards have,
 * the bytes of the storage's first tensor only; headers are not counted).
 */
record CheckpointFiles(Path source, Map<String, Tensor> tensors, Map<String, Path> files) {
    static final String SAFETENSORS = "model.safetensors", SAFETENSORS_INDEX = "model.safetensors.index.json", BIN = "pytorch_model.bin",
            BIN_INDEX = "pytorch_model.bin.index.json";
    static final List<String> FORMS = List.of(SAFETENSORS, SAFETENSORS_INDEX, BIN, BIN_INDEX);

    /** The file of {@link #FORMS} that {@code dir} holds first, or null. */
    static String form(Path dir) {
        for (String f : FORMS)
            if (Files.isRegularFile(dir.resolve(f))) return f;
        return null;
    }

    /** The folder's tensors; {@code source} is the weights file or the index (what a missing tensor's message names). */
    static CheckpointFiles read(Path dir) {
        String form = form(dir);
        if (form == null)
            throw new IllegalArgumentException(dir.resolve(SAFETENSORS) + ": missing, as are " + SAFETENSORS_INDEX + ", " + BIN + " and " + BIN_INDEX
                    + " (a checkpoint folder holds its weights in one of them)");
        Path file = dir.resolve(form);
        if (!form.endsWith(".index.json")) {
            Map<String, Tensor> tensors = one(file).tensors();
            Map<String, Path> files = new LinkedHashMap<>();
            for (String name : tensors.keySet()) files.put(name, file);
            return new CheckpointFiles(file, tensors, files);
        }
        return sharded(dir, file, form.equals(SAFETENSORS_INDEX) ? ".safetensors" : ".bin");
    }

    /** The file of a tensor (the weights file, or its shard). */
    Path file(String tensor) { return files.getOrDefault(tensor, source); }

    /** One file's tensors and its bytes as an index's total_size counts them. */
    private record Part(Map<String, Tensor> tensors, long bytes) {}

    private static Part one(Path file) {
        if (file.getFileName().toString().endsWith(".safetensors")) return new Part(SafeTensors.read(file).tensors(), safetensorsBytes(file));
        TorchSave.Contents c = TorchSave.read(file);
        return new Part(c.tensors(), c.indexedBytes());
    }

    private static CheckpointFiles sharded(Path dir, Path index, String ext) {
        String text;
        try {
            text = Files.readString(index);
        } catch (IOException e) {
            throw new IllegalArgumentException(index + ": cannot read: " + e.getMessage());
        }
        if (!(Json.parse(text, index.toString()) instanceof Map<?, ?> root) || !(root.get("weight_map") instanceof Map<?, ?> weightMap))
            throw new IllegalArgumentException(index + ": no weight_map object (an index maps each tensor's name to its shard file)");
        if (weightMap.isEmpty()) throw new IllegalArgumentException(index + ": weight_map is empty");
        Long totalSize = null;
        if (root.get("metadata") != null) {
            if (!(root.get("metadata") instanceof Map<?, ?> meta)) throw new IllegalArgumentException(index + ": metadata must be an object, got " + root.get("metadata"));
            if (meta.get("total_size") != null) {
                if (!(meta.get("total_size") instanceof Long n) || n < 0) throw new IllegalArgumentException(index + ": metadata.total_size must be a non-negative integer, got " + meta.get("total_size"));
                totalSize = n;
            }
        }
        Map<String, String> shardOf = new LinkedHashMap<>();
        for (var e : weightMap.entrySet()) {
            String name = (String) e.getKey();
            if (!(e.getValue() instanceof String shard) || shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || !shard.endsWith(ext))
                throw new IllegalArgumentException(index + ": weight_map puts tensor " + name + " in " + e.getValue() + ", not the name of a " + ext + " file in the folder");
            shardOf.put(name, shard);
        }
        TreeSet<String> shards = new TreeSet<>(shardOf.values());
        for (String shard : shards)
            if (!Files.isRegularFile(dir.resolve(shard))) {
                String first = shardOf.entrySet().stream().filter(e -> e.getValue().equals(shard)).findFirst().orElseThrow().getKey();
                throw new IllegalArgumentException(index + ": shard " + shard + " is missing (weight_map puts tensor " + first + " in it)");
            }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, List<String>> holders = new LinkedHashMap<>();
        long bytes = 0;
        for (String shard : shards) { // one shard's bytes at a time; only the tensors the weight_map places here are kept
            Part part = one(dir.resolve(shard));
            bytes += part.bytes();
            for (var e : part.tensors().entrySet()) {
                holders.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(shard);
                if (shard.equals(shardOf.get(e.getKey()))) {
                    tensors.put(e.getKey(), e.getValue());
                    files.put(e.getKey(), dir.resolve(shard));
                }
            }
        }
        for (var e : holders.entrySet()) {
            String name = e.getKey(), mapped = shardOf.get(name);
            List<String> in = e.getValue();
            if (in.size() > 1)
                throw new IllegalArgumentException(index + ": tensor " + name + " is in two shards, " + in.get(0) + " and " + in.get(1) + (mapped == null ? "" : " (weight_map puts it in " + mapped + ")"));
            if (mapped == null) throw new IllegalArgumentException(dir.resolve(in.getFirst()) + ": tensor " + name + " is not in " + index.getFileName() + "'s weight_map");
            if (!mapped.equals(in.getFirst()))
                throw new IllegalArgumentException(dir.resolve(in.getFirst()) + ": holds tensor " + name + ", which " + index.getFileName() + "'s weight_map puts in " + mapped);
        }
        for (var e : shardOf.entrySet())
            if (!tensors.containsKey(e.getKey()))
                throw new IllegalArgumentException(dir.resolve(e.getValue()) + ": tensor " + e.getKey() + " is missing, though " + index.getFileName() + "'s weight_map puts it in this shard");
        if (totalSize != null && totalSize != bytes)
            throw new IllegalArgumentException(index + ": metadata.total_size is " + totalSize + " bytes, but the " + shards.size() + " shards' tensors hold " + bytes
                    + (ext.equals(".bin") ? " (a storage shared by several tensors counted once, by its first tensor, as huggingface_hub counts)" : "")
                    + ": the index does not describe these shards");
        return new CheckpointFiles(index, tensors, files);
    }

    /** The bytes of a safetensors file's tensors (the spans of their data_offsets; the header not counted). */
    private static long safetensorsBytes(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            long n = ByteBuffer.wrap(in.readNBytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            Map<?, ?> header = (Map<?, ?>) Json.parse(new String(in.readNBytes((int) n), StandardCharsets.UTF_8), file.toString()); // SafeTensors.read checked it
            long bytes = 0;
            for (var e : header.entrySet())
                if (!e.getKey().equals("__metadata__") && ((Map<?, ?>) e.getValue()).get("data_offsets") instanceof List<?> off)
                    bytes += (Long) off.get(1) - (Long) off.get(0);
            return bytes;
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
    }
}
