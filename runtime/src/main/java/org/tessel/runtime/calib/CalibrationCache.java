package org.tessel.runtime.calib;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.io.AtomicFiles;

/**
 * A calibration cache: the scales of one model's activation tensors as a text file, like
 * TensorRT's calibration cache but readable and editable by hand. The first non-comment line is the
 * header, then one {@code TENSOR SCALE} line per tensor (the name may hold spaces: the scale is the
 * last word); {@code #} starts a comment, blank lines are skipped:
 *
 * <pre>
 * # tessel calibration cache
 * tessel-calibration-cache version=1 calibrator=entropy model=resnet50 fingerprint=3f2a... format=fp8
 * input 0.0179
 * conv1.out 0.0421
 * </pre>
 *
 * {@code format} is the quantized precision the scales are for (scale = amax / 127 for int8, amax / 448
 * for fp8); a header without it is int8 (the caches written before FP8), and an INT8 cache is written
 * that way, so its bytes are as before.
 * The fingerprint is {@link ActivationCalibration#fingerprint} of the graph it was calibrated on;
 * {@link #scalesFor} checks a cache against a graph before its scales are used.
 */
public record CalibrationCache(String calibrator, String model, String fingerprint, Map<String, Float> scales, org.tessel.cost.Precision format) {
    /** The format version this Tessel writes and reads. */
    public static final int VERSION = 1;
    private static final String MAGIC = "tessel-calibration-cache";

    public CalibrationCache {
        scales = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(scales));
        if (!format.quantized()) throw new IllegalArgumentException("a calibration cache holds int8 or fp8 scales, not " + format.text());
    }

    /** An INT8 cache. */
    public CalibrationCache(String calibrator, String model, String fingerprint, Map<String, Float> scales) {
        this(calibrator, model, fingerprint, scales, org.tessel.cost.Precision.INT8);
    }

    /** The INT8 cache of a calibration of {@code g}. */
    public static CalibrationCache of(Graph g, String calibrator, Map<String, Float> scales) {
        return of(g, calibrator, scales, org.tessel.cost.Precision.INT8);
    }

    /** The cache of a calibration of {@code g} for a quantized precision (int8 or fp8). */
    public static CalibrationCache of(Graph g, String calibrator, Map<String, Float> scales, org.tessel.cost.Precision format) {
        return new CalibrationCache(calibrator, g.name(), ActivationCalibration.fingerprint(g), scales, format);
    }

    /** The file's text. */
    public String text() {
        StringBuilder sb = new StringBuilder();
        String code = format == org.tessel.cost.Precision.INT8 ? "int8 code" : "e4m3 value";
        sb.append("# tessel calibration cache: one 'TENSOR SCALE' line per activation tensor (real value = " + code + " * scale); edit freely, '#' starts a comment\n");
        sb.append(MAGIC).append(" version=").append(VERSION).append(" calibrator=").append(calibrator).append(" model=").append(model.replace(' ', '_'))
                .append(" fingerprint=").append(fingerprint);
        if (format != org.tessel.cost.Precision.INT8) sb.append(" format=").append(format.text());
        sb.append('\n');
        for (var e : scales.entrySet()) sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
        return sb.toString();
    }

    /** Writes the cache atomically (a reader never sees half a file). */
    public void write(Path file) throws IOException {
        AtomicFiles.writeString(file, text());
    }

    /** Reads a cache file; a malformed line is an error naming the file and line. */
    public static CalibrationCache read(Path file) throws IOException {
        if (!Files.isRegularFile(file))
            throw new IllegalArgumentException(file + ": " + (Files.isDirectory(file) ? "is a folder, not a calibration cache" : "no such calibration cache"));
        List<String> lines = Files.readAllLines(file);
        String calibrator = null, model = null, fingerprint = null;
        org.tessel.cost.Precision format = org.tessel.cost.Precision.INT8;
        Map<String, Float> scales = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String where = file + ":" + (i + 1);
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) line = line.substring(0, hash);
            line = line.strip();
            if (line.isEmpty()) continue;
            if (calibrator == null) {
                String[] w = line.split("\\s+");
                if (!w[0].equals(MAGIC)) throw new IllegalArgumentException(where + ": not a calibration cache: the header line must start with '" + MAGIC + "', got '" + w[0] + "'");
                Map<String, String> kv = new LinkedHashMap<>();
                for (int k = 1; k < w.length; k++) {
                    int eq = w[k].indexOf('=');
                    if (eq <= 0) throw new IllegalArgumentException(where + ": header field '" + w[k] + "' is not KEY=VALUE");
                    String key = w[k].substring(0, eq);
                    if (!Set.of("version", "calibrator", "model", "fingerprint", "format").contains(key))
                        throw new IllegalArgumentException(where + ": unknown header key '" + key + "' (version, calibrator, model, fingerprint, format)");
                    if (kv.put(key, w[k].substring(eq + 1)) != null) throw new IllegalArgumentException(where + ": header key '" + key + "' given twice");
                }
                for (String key : List.of("version", "calibrator", "model", "fingerprint"))
                    if (!kv.containsKey(key)) throw new IllegalArgumentException(where + ": the header has no '" + key + "='");
                if (!kv.get("version").equals(String.valueOf(VERSION)))
                    throw new IllegalArgumentException(where + ": calibration cache version " + kv.get("version") + " is not supported (this Tessel reads version " + VERSION + ")");
                calibrator = kv.get("calibrator");
                model = kv.get("model");
                fingerprint = kv.get("fingerprint");
                if (kv.containsKey("format")) {
                    String f = kv.get("format");
                    format = org.tessel.cost.Precision.fromText(f).filter(org.tessel.cost.Precision::quantized)
                            .orElseThrow(() -> new IllegalArgumentException(where + ": format '" + f + "' is not a quantized precision (int8, fp8)"));
                }
                continue;
            }
            int sp = Math.max(line.lastIndexOf(' '), line.lastIndexOf('\t'));
            if (sp <= 0) throw new IllegalArgumentException(where + ": expected 'TENSOR SCALE', got '" + line + "'");
            String name = line.substring(0, sp).strip(), num = line.substring(sp + 1);
            float s;
            try {
                s = Float.parseFloat(num);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": tensor '" + name + "': scale '" + num + "' is not a number");
            }
            if (!(s > 0) || Float.isInfinite(s)) throw new IllegalArgumentException(where + ": tensor '" + name + "': scale must be positive and finite, got " + num);
            if (scales.put(name, s) != null) throw new IllegalArgumentException(where + ": tensor '" + name + "' is given twice");
        }
        if (calibrator == null) throw new IllegalArgumentException(file + ": empty calibration cache (no '" + MAGIC + "' header line)");
        if (scales.isEmpty()) throw new IllegalArgumentException(file + ": the calibration cache has no tensor scales");
        return new CalibrationCache(calibrator, model, fingerprint, scales, format);
    }

    /**
     * The scales, checked against the graph they are for: every calibrated tensor of {@code g} must
     * have one (missing ones are an error naming them); names {@code g} lacks are a warning; a
     * fingerprint that differs while the names agree means another model or shape (an error).
     */
    public Map<String, Float> scalesFor(Graph g, Path file, Consumer<String> warn) {
        Set<String> want = new LinkedHashSet<>();
        for (Value v : ActivationCalibration.calibrated(g)) want.add(v.name());
        List<String> missing = new ArrayList<>(), extra = new ArrayList<>();
        for (String n : want) if (!scales.containsKey(n)) missing.add(n);
        for (String n : scales.keySet()) if (!want.contains(n)) extra.add(n);
        if (!extra.isEmpty() && extra.size() == scales.size())
            throw new IllegalArgumentException(file + ": the calibration cache is for another model ('" + model + "'): none of its " + scales.size()
                    + " tensors is in '" + g.name() + "' (e.g. " + names(extra) + ")");
        if (!missing.isEmpty())
            throw new IllegalArgumentException(file + ": the calibration cache has no scale for " + missing.size() + " tensor(s) of '" + g.name() + "': " + names(missing)
                    + " (recalibrate with --calib, or add 'TENSOR SCALE' lines)");
        if (!extra.isEmpty()) warn.accept(file + ": the calibration cache has scales for " + extra.size() + " tensor(s) '" + g.name() + "' lacks, not used: " + names(extra));
        String fp = ActivationCalibration.fingerprint(g);
        if (extra.isEmpty() && !fp.equals(fingerprint))
            throw new IllegalArgumentException(file + ": the calibration cache was made for another form of the model (fingerprint " + fingerprint + ", this graph's is " + fp
                    + ": same tensor names, other shapes or element types, e.g. another input size); recalibrate");
        Map<String, Float> out = new LinkedHashMap<>();
        for (String n : want) out.put(n, scales.get(n));
        return out;
    }

    private static String names(List<String> ns) {
        List<String> shown = ns.subList(0, Math.min(8, ns.size())).stream().map(n -> "%" + n).toList();
        return String.join(", ", shown) + (ns.size() > 8 ? String.format(Locale.ROOT, " and %d more", ns.size() - 8) : "");
    }
}
