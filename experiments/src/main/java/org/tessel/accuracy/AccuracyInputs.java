package org.tessel.accuracy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Value;
import org.tessel.ir.Graph;

/**
 * The inputs accuracy is measured on: several sets, each one tensor per graph input, either
 * generated from a seed (uniform in [-1, 1) for floating inputs, integers in [0, 10) for index
 * inputs as `tessel check` draws them, but 0 or 1 for an integer input named like a mask, whose
 * other values mean nothing and overflow FP16 through BERT's (1 - mask) * -10000) or read from files. {@code digest} identifies the data (a cache key).
 */
public record AccuracyInputs(String description, List<List<Tensor>> sets, String digest) {
    public AccuracyInputs {
        if (sets.isEmpty()) throw new IllegalArgumentException("accuracy inputs '" + description + "' hold no input set");
        sets = sets.stream().map(List::copyOf).toList();
    }

    /** {@code count} generated sets from {@code seed} (set k from seed + k). */
    public static AccuracyInputs generated(Graph g, long seed, int count) {
        if (count < 1) throw new IllegalArgumentException("at least one generated input set is needed, got " + count);
        List<List<Tensor>> sets = new ArrayList<>();
        for (int k = 0; k < count; k++) sets.add(seeded(g, seed + k, true));
        return new AccuracyInputs(count + " generated input set" + (count > 1 ? "s" : "") + " (seed " + seed + ")", sets, "generated:" + seed + ":" + count);
    }

    /** Input sets read from files (already matched to the graph's inputs), identified by their contents. */
    public static AccuracyInputs fromFiles(String description, List<List<Tensor>> sets) {
        MessageDigest md = sha256();
        for (List<Tensor> set : sets)
            for (Tensor t : set) md.update((t.type() + ":" + t.contentHash() + ";").getBytes(StandardCharsets.UTF_8));
        return new AccuracyInputs(description, sets, "files:" + HexFormat.of().formatHex(md.digest()).substring(0, 16));
    }

    /**
     * One seeded input set for {@code g}: floating values uniform in [-1, 1), booleans true, integers in [0, 10), or in {0, 1}
     * for inputs named like a mask when {@code binaryMasks} (values up to 9 in BERT's mask overflow FP16).
     */
    public static List<Tensor> seeded(Graph g, long seed, boolean binaryMasks) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> in = new ArrayList<>();
        for (Value v : g.inputs()) {
            int ints = binaryMasks && isMask(v) ? 2 : 10;
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) {
                if (t.dtype().isFloating()) t.setDouble(i, r.nextDouble(-1, 1));
                else if (t.dtype() == DType.BOOL) t.setLong(i, 1);
                else t.setLong(i, r.nextInt(ints));
            }
            in.add(t);
        }
        return in;
    }

    private static boolean isMask(Value v) { return v.name().toLowerCase(java.util.Locale.ROOT).contains("mask"); }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }
}
