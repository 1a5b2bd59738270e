package org.tessel.runtime.llm.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Model type Unigram (SentencePiece's: T5, ALBERT, XLNet, mBART): the best-scoring segmentation of each piece (Viterbi
 * over every vocabulary piece that starts at each character, as the library's optimized encoder: ties keep the path
 * found first). A character that starts no one-character piece gets an unk node scored as the lowest piece score minus
 * 10; consecutive unk nodes become one token, which is the unk id, or with byte fallback its UTF-8 bytes as
 * {@code <0xNN>} tokens when all are in the vocabulary.
 */
final class UnigramModel implements Model {
    private static final double UNK_PENALTY = 10;

    private final Fields f;
    private final String[] pieces;
    private final double[] scores;
    private final Map<String, Integer> ids = new HashMap<>();
    private final Integer unk;
    private final boolean byteFallback;
    private final double unkScore;
    private final int longest;  // UTF-16 length of the longest piece
    private final Map<String, List<String>> cache = new HashMap<>();

    UnigramModel(Map<String, Object> model, Fields f) {
        this.f = f;
        if (!(model.get("vocab") instanceof List<?> v)) throw f.error("model.vocab", model.get("vocab") == null ? "missing" : "expected a list of [piece, score]");
        pieces = new String[v.size()];
        scores = new double[v.size()];
        double min = Double.POSITIVE_INFINITY;
        int max = 0;
        for (int i = 0; i < v.size(); i++) {
            if (!(v.get(i) instanceof List<?> e && e.size() == 2 && e.get(0) instanceof String p && e.get(1) instanceof Number s))
                throw f.error("model.vocab[" + i + "]", "expected [piece, score] (a string and a number), got " + v.get(i));
            pieces[i] = p;
            scores[i] = s.doubleValue();
            ids.put(p, i);  // a repeated piece keeps its last id, as the library's map does
            min = Math.min(min, scores[i]);
            max = Math.max(max, p.length());
        }
        longest = max;
        unkScore = min - UNK_PENALTY;
        Object u = model.get("unk_id");
        unk = u == null ? null : f.id(u, "model.unk_id");
        if (unk != null && unk >= pieces.length)
            throw f.error("model.unk_id", unk + " is out of range (model.vocab has " + pieces.length + " pieces)");
        byteFallback = f.bool(model.get("byte_fallback"), "model.byte_fallback", false);
    }

    @Override public String[] tokens() { return pieces; }

    @Override public Integer id(String token) { return ids.get(token); }

    @Override public String describe() { return "Unigram, " + pieces.length + " pieces" + (byteFallback ? ", byte fallback" : ""); }

    @Override
    public void tokenize(String piece, List<Integer> out) {
        for (String s : cache.computeIfAbsent(piece, this::segment)) {
            Integer id = ids.get(s);
            if (id == null && byteFallback) {
                List<Integer> bytes = Model.byteTokens(s, ids);
                if (bytes != null) {
                    out.addAll(bytes);
                    continue;
                }
            }
            out.add(id != null ? id : requireUnk(s));
        }
    }

    private int requireUnk(String s) {
        if (unk == null) throw new IllegalArgumentException(f.source() + ": '" + s + "' has no piece in model.vocab and the tokenizer has no model.unk_id");
        return unk;
    }

    /** The best path's token strings, consecutive unk nodes fused. */
    List<String> segment(String s) {
        int n = s.length();
        double[] best = new double[n + 1];
        int[] from = new int[n + 1], id = new int[n + 1];
        java.util.Arrays.fill(from, -1);
        for (int start = 0; start < n; ) {
            int charEnd = s.offsetByCodePoints(start, 1);
            boolean single = false;
            for (int end = charEnd; end <= Math.min(n, start + longest); end = end < n ? s.offsetByCodePoints(end, 1) : n + 1) {
                Integer t = ids.get(s.substring(start, end));
                if (t == null) continue;
                double score = best[start] + scores[t];
                if (from[end] < 0 || score > best[end]) {
                    best[end] = score;
                    from[end] = start;
                    id[end] = t;
                }
                if (end == charEnd) single = true;
            }
            if (!single) {
                double score = best[start] + unkScore;
                if (from[charEnd] < 0 || score > best[charEnd]) {
                    best[charEnd] = score;
                    from[charEnd] = start;
                    id[charEnd] = requireUnk(s.substring(start, charEnd));
                }
            }
            start = charEnd;
        }
        List<String> out = new ArrayList<>();
        StringBuilder fused = new StringBuilder();
        for (int end = n; end > 0; end = from[end]) {
            String t = s.substring(from[end], end);
            if (unk != null && id[end] == unk) {
                fused.insert(0, t);
                continue;
            }
            if (!fused.isEmpty()) {
                out.add(fused.toString());
                fused.setLength(0);
            }
            out.add(t);
        }
        if (!fused.isEmpty()) out.add(fused.toString());
        Collections.reverse(out);
        return out;
    }
}
