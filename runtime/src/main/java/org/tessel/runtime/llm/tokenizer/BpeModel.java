package org.tessel.runtime.llm.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Model type BPE: each piece split into characters (or their UTF-8 bytes as {@code <0xNN>} with byte fallback, or unk),
 * then the lowest-ranked adjacent pair merged, leftmost on ties, until none applies.
 */
final class BpeModel implements Model {
    private final Fields f;
    private final Map<String, Integer> vocab;
    private final String[] tokens;
    private final Map<Long, int[]> merges;  // (left id, right id) -> {rank, merged id}
    private final boolean byteFallback, fuseUnk, ignoreMerges;
    private final Integer unk;
    private final Map<String, int[]> cache = new HashMap<>();

    BpeModel(Map<String, Object> model, Fields f) {
        this.f = f;
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix"))
            if (model.get(field) != null && !"".equals(model.get(field))) throw f.error("model." + field, "'" + model.get(field) + "' is not supported");
        if (model.get("dropout") instanceof Number d && d.doubleValue() > 0) throw f.error("model.dropout", d + " is not supported (deterministic encoding only)");
        vocab = Model.vocab(model, f);
        tokens = Model.inverse(vocab);
        merges = new HashMap<>();
        List<?> ms = model.get("merges") instanceof List<?> l ? l : List.of();
        for (int rank = 0; rank < ms.size(); rank++) {
            String where = "model.merges[" + rank + "]";
            String left, right;
            if (ms.get(rank) instanceof String s) {
                String[] parts = s.split(" ", -1);
                if (parts.length != 2) throw f.error(where, "'" + s + "' is not two tokens separated by one space");
                left = parts[0];
                right = parts[1];
            } else if (ms.get(rank) instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String a && pair.get(1) instanceof String b) {
                left = a;
                right = b;
            } else throw f.error(where, "a merge is \"A B\" or [\"A\", \"B\"]");
            Integer l = vocab.get(left), r = vocab.get(right), m = vocab.get(left + right);
            if (l == null || r == null || m == null)
                throw f.error(where, "'" + (l == null ? left : r == null ? right : left + right) + "' is not in model.vocab");
            merges.putIfAbsent(key(l, r), new int[] {rank, m});
        }
        byteFallback = f.bool(model.get("byte_fallback"), "model.byte_fallback", false);
        fuseUnk = f.bool(model.get("fuse_unk"), "model.fuse_unk", false);
        ignoreMerges = f.bool(model.get("ignore_merges"), "model.ignore_merges", false);
        Object u = model.get("unk_token");
        unk = u == null ? null : vocab.get(f.string(u, "model.unk_token"));
        if (u != null && unk == null) throw f.error("model.unk_token", "'" + u + "' is not in model.vocab");
    }

    @Override public String[] tokens() { return tokens; }

    @Override public Integer id(String token) { return vocab.get(token); }

    @Override public String describe() { return "BPE, " + merges.size() + " merges" + (byteFallback ? ", byte fallback" : ""); }

    @Override
    public void tokenize(String piece, List<Integer> ids) {
        for (int id : cache.computeIfAbsent(piece, this::bpe)) ids.add(id);
    }

    private int[] bpe(String piece) {
        Integer whole = vocab.get(piece);
        if (ignoreMerges && whole != null) return new int[] {whole};
        List<Integer> word = new ArrayList<>();
        boolean lastUnk = false;
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            String ch = Character.toString(cp);
            i += ch.length();
            Integer id = vocab.get(ch);
            if (id != null) {
                word.add(id);
                lastUnk = false;
                continue;
            }
            if (byteFallback) {
                List<Integer> bytes = Model.byteTokens(ch, vocab);
                if (bytes != null) {
                    word.addAll(bytes);
                    lastUnk = false;
                    continue;
                }
            }
            if (unk == null)
                throw new IllegalArgumentException(f.source() + ": character U+" + String.format("%04X", cp) + " ('" + ch + "') is not in model.vocab and the tokenizer has no "
                        + (byteFallback ? "<0xNN> byte token for it and no " : "") + "model.unk_token");
            if (!(fuseUnk && lastUnk)) word.add(unk);
            lastUnk = true;
        }
        while (word.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE, merged = 0;
            for (int i = 0; i + 1 < word.size(); i++) {
                int[] m = merges.get(key(word.get(i), word.get(i + 1)));
                if (m != null && m[0] < bestRank) {
                    bestRank = m[0];
                    best = i;
                    merged = m[1];
                }
            }
            if (best < 0) break;
            word.set(best, merged);
            word.remove(best + 1);
        }
        return word.stream().mapToInt(Integer::intValue).toArray();
    }

    private static long key(int left, int right) { return (long) left << 32 | (right & 0xffffffffL); }
}
