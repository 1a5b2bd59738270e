package org.tessel.runtime.engine.profile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;

/**
 * One optimization profile, as TensorRT has them: for each input with sizes that may vary, the
 * smallest, the typical and the largest shape. The engine's plan for the profile is solved at the
 * opt shapes and must be valid from min to max; a run may use any shape inside the range.
 *
 * @param inputs the ranges by input name, in the order given
 */
public record OptimizationProfile(Map<String, Range> inputs) {
    public OptimizationProfile {
        inputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        if (inputs.isEmpty()) throw new IllegalArgumentException("an optimization profile needs at least one input");
    }

    /** One input's range; every dimension has min <= opt <= max. */
    public record Range(Shape min, Shape opt, Shape max) {
        public boolean contains(Shape s) {
            if (s.rank() != min.rank()) return false;
            for (int i = 0; i < s.rank(); i++) if (s.dim(i) < min.dim(i) || s.dim(i) > max.dim(i)) return false;
            return true;
        }

        @Override public String toString() { return text(min) + ".." + text(opt) + ".." + text(max); }
    }

    /** Which of min, opt and max. */
    public enum Point { MIN, OPT, MAX }

    /** The shapes at min, opt or max, by input name. */
    public Map<String, Shape> at(Point p) {
        Map<String, Shape> m = new LinkedHashMap<>();
        inputs.forEach((k, r) -> m.put(k, switch (p) { case MIN -> r.min(); case OPT -> r.opt(); case MAX -> r.max(); }));
        return m;
    }

    /**
     * The profile from the three shape lists of the command line (each {@code NAME:DxD,...}): the same
     * inputs in each, ranks that agree, and min <= opt <= max in every dimension, or a refusal naming
     * the profile, the input and the dimension.
     */
    public static OptimizationProfile of(int index, Map<String, Shape> min, Map<String, Shape> opt, Map<String, Shape> max) {
        String where = "profile " + index;
        if (!min.keySet().equals(opt.keySet()) || !min.keySet().equals(max.keySet()))
            throw new IllegalArgumentException(where + ": --min-shapes, --opt-shapes and --max-shapes must name the same inputs; they name "
                    + min.keySet() + ", " + opt.keySet() + " and " + max.keySet());
        Map<String, Range> ranges = new LinkedHashMap<>();
        for (String name : min.keySet()) {
            Shape lo = min.get(name), mid = opt.get(name), hi = max.get(name);
            if (lo.rank() != mid.rank() || lo.rank() != hi.rank())
                throw new IllegalArgumentException(where + ": input '" + name + "' has rank " + lo.rank() + " at min, " + mid.rank() + " at opt and " + hi.rank() + " at max");
            for (int i = 0; i < lo.rank(); i++)
                if (!(lo.dim(i) <= mid.dim(i) && mid.dim(i) <= hi.dim(i)))
                    throw new IllegalArgumentException(where + ": input '" + name + "' dimension " + i + " must have min <= opt <= max, got "
                            + lo.dim(i) + ", " + mid.dim(i) + ", " + hi.dim(i));
            ranges.put(name, new Range(lo, mid, hi));
        }
        return new OptimizationProfile(ranges);
    }

    /**
     * Shapes as trtexec writes them: {@code NAME:DxDx...[,NAME:DxD...]}; {@code flag} names the option in errors.
     * Every size is at least 1 (a 0-sized dimension would be a tensor of nothing).
     */
    public static Map<String, Shape> parseShapes(String spec, String flag) {
        Map<String, Shape> out = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) continue;
            int colon = p.lastIndexOf(':');
            if (colon <= 0 || colon == p.length() - 1) throw new IllegalArgumentException(flag + " '" + p + "': expected NAME:DxDx..., e.g. input:1x3x224x224");
            String name = p.substring(0, colon);
            String[] ds = p.substring(colon + 1).split("x", -1);
            int[] dims = new int[ds.length];
            for (int i = 0; i < ds.length; i++) {
                try {
                    dims[i] = Integer.parseInt(ds[i].strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(flag + " '" + p + "': '" + ds[i] + "' is not a dimension size");
                }
                if (dims[i] < 1) throw new IllegalArgumentException(flag + " '" + p + "': dimension " + i + " of input '" + name + "' must be at least 1, got " + dims[i]);
            }
            if (out.put(name, Shape.of(dims)) != null) throw new IllegalArgumentException(flag + ": input '" + name + "' is given twice");
        }
        if (out.isEmpty()) throw new IllegalArgumentException(flag + " '" + spec + "': no shapes; expected NAME:DxDx..., e.g. input:1x3x224x224");
        return out;
    }

    /** True when every input of the profile is given a shape inside its range (others are checked by the model's static dims). */
    public boolean contains(Map<String, Shape> shapes) {
        for (var e : inputs.entrySet()) {
            Shape s = shapes.get(e.getKey());
            if (s == null || !e.getValue().contains(s)) return false;
        }
        return true;
    }

    /** "x:1x3x224x224..4x3x224x224..8x3x224x224" for every input. */
    @Override public String toString() {
        List<String> parts = new ArrayList<>();
        inputs.forEach((k, r) -> parts.add(k + ":" + r));
        return String.join(", ", parts);
    }

    /** "1x3x224x224" */
    public static String text(Shape s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.rank(); i++) b.append(i == 0 ? "" : "x").append(s.dim(i));
        return b.toString();
    }

    /** "x:1x3x224x224,mask:1x16" */
    public static String text(Map<String, Shape> shapes) {
        List<String> parts = new ArrayList<>();
        shapes.forEach((k, s) -> parts.add(k + ":" + text(s)));
        return String.join(",", parts);
    }
}
