package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxImportException;
import org.tessel.ir.onnx.OnnxTensors;

/**
 * Tensors in files: {@code .npy} (numpy) and {@code .pb} (one ONNX TensorProto, as in ONNX's test
 * data sets). Inputs are matched to a graph's inputs by name (the file's stem, or a TensorProto's
 * own name) or, when no file is named after an input, by order.
 */
final class TensorFiles {
    private TensorFiles() {}

    private static final Pattern ONNX_INPUT = Pattern.compile("input_(\\d+)\\.pb");

    /** Reads one .npy or .pb file. */
    static Tensor read(Path f) throws IOException {
        String n = f.getFileName().toString();
        if (!Files.isRegularFile(f)) throw new IllegalArgumentException(f + ": " + (Files.isDirectory(f) ? "is a folder, not a tensor file" : "no such file"));
        if (n.endsWith(".npy")) return Npy.read(f);
        if (n.endsWith(".pb")) {
            try {
                return OnnxTensors.readTensor(f);
            } catch (OnnxImportException e) {
                throw new IllegalArgumentException(f + ": " + e.getMessage().replaceFirst("^" + Pattern.quote(n) + ": ", ""), e);
            }
        }
        throw new IllegalArgumentException(f + ": not a tensor file (expected .npy or .pb)");
    }

    /** The name a file gives its tensor: a .pb's TensorProto name when it has one, else the file's stem. */
    private static String nameOf(Path f) throws IOException {
        String n = f.getFileName().toString();
        String stem = n.substring(0, n.lastIndexOf('.'));
        if (n.endsWith(".pb")) {
            try {
                String own = org.tessel.ir.onnx.proto.Onnx.TensorProto.parseFrom(Files.readAllBytes(f)).getName();
                if (!own.isEmpty()) return own;
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                return stem; // read() says what is wrong with it
            }
        }
        return stem;
    }

    /**
     * The files named by {@code paths}: files as given, folders expanded to their .npy and .pb files
     * (an ONNX test data set folder: its input_N.pb in N's order, its outputs left out).
     */
    static List<Path> expand(List<Path> paths, String flag) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path p : paths) {
            if (!Files.exists(p)) throw new IllegalArgumentException(flag + " " + p + ": no such file or folder");
            if (!Files.isDirectory(p)) { out.add(p); continue; }
            List<Path> in;
            try (var s = Files.list(p)) {
                in = s.filter(f -> Files.isRegularFile(f) && (f.toString().endsWith(".npy") || f.toString().endsWith(".pb"))).sorted().toList();
            }
            List<Path> onnx = in.stream().filter(f -> ONNX_INPUT.matcher(f.getFileName().toString()).matches())
                    .sorted(Comparator.comparingInt(f -> index(f))).toList();
            List<Path> use = onnx.isEmpty() ? in : onnx;
            if (use.isEmpty()) throw new IllegalArgumentException(flag + " " + p + ": the folder has no .npy or .pb files");
            out.addAll(use);
        }
        return out;
    }

    private static int index(Path f) {
        Matcher m = ONNX_INPUT.matcher(f.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : Integer.MAX_VALUE;
    }

    /**
     * One tensor per graph input, in the inputs' order, from the files: by name when every file is
     * named after an input, by order when none is; each checked against its input's type.
     */
    static List<Tensor> inputs(List<Path> paths, List<Value> inputs, String flag) throws IOException {
        List<Path> files = expand(paths, flag);
        Map<String, Value> byName = new LinkedHashMap<>();
        for (Value v : inputs) byName.put(v.name(), v);
        Map<Value, Path> chosen = new LinkedHashMap<>();
        List<Path> unnamed = new ArrayList<>();
        for (Path f : files) {
            Value v = byName.get(nameOf(f));
            if (v == null) { unnamed.add(f); continue; }
            Path before = chosen.put(v, f);
            if (before != null) throw new IllegalArgumentException(flag + ": " + before + " and " + f + " are both for input %" + v.name());
        }
        String list = inputs.stream().map(v -> "%" + v.name() + ": " + v.type()).toList().toString();
        if (!unnamed.isEmpty() && !chosen.isEmpty())
            throw new IllegalArgumentException(flag + ": " + unnamed.getFirst() + " is named after no input (inputs: " + list + "); name every file after its input, or none (then they go by order)");
        if (chosen.isEmpty()) {
            if (files.size() != inputs.size())
                throw new IllegalArgumentException(flag + ": " + files.size() + " file(s) for " + inputs.size() + " input(s) " + list + "; by order they must be as many (or name each file after its input)");
            for (int i = 0; i < files.size(); i++) chosen.put(inputs.get(i), files.get(i));
        }
        List<Tensor> out = new ArrayList<>();
        for (Value v : inputs) {
            Path f = chosen.get(v);
            if (f == null) throw new IllegalArgumentException(flag + ": no file for input %" + v.name() + " (" + v.type() + "); given: " + files);
            Tensor t = read(f);
            TensorType want = v.type();
            if (t.dtype() != want.dtype() || !t.shape().equals(want.shape()))
                throw new IllegalArgumentException(f + ": " + t.dtype().text() + t.shape() + " for input %" + v.name() + ", which is " + want.dtype().text() + want.shape());
            out.add(t);
        }
        return out;
    }

    /** A file name for a tensor named {@code name}: characters other than letters, digits, '.', '-' and '_' become '_'. */
    static String fileStem(String name) {
        String s = name.replaceAll("[^A-Za-z0-9._-]", "_");
        return s.isEmpty() || s.startsWith(".") ? "_" + s : s;
    }

    /** Writes each tensor as DIR/NAME.npy or DIR/NAME.pb (format "npy" or "pb"); returns the files. */
    static List<Path> save(Path dir, Map<String, Tensor> tensors, String format) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": exists and is not a folder");
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        java.util.Set<String> used = new java.util.HashSet<>();
        for (var e : tensors.entrySet()) {
            String stem = fileStem(e.getKey());
            while (!used.add(stem)) stem = stem + "_";
            Path f = dir.resolve(stem + "." + format);
            if (format.equals("npy")) Npy.write(f, e.getValue());
            else OnnxTensors.writeTensor(f, e.getValue(), e.getKey());
            out.add(f);
        }
        return out;
    }
}
