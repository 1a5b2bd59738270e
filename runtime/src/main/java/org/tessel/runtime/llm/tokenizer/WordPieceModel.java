package org.tessel.runtime.llm.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Model type WordPiece (BERT): each piece greedily split longest-match-first, pieces after the first looked up with the
 * continuing-subword prefix ({@code ##}); a piece longer than {@code max_input_chars_per_word} characters, or one with a
 * remainder that matches nothing, is the single unk token.
 */
final class WordPieceModel implements Model {
    private final Map<String, Integer> vocab;
    private final String[] tokens;
    private final String prefix;
    private final int unk, maxChars;

    WordPieceModel(Map<String, Object> model, Fields f) {
        vocab = Model.vocab(model, f);
        tokens = Model.inverse(vocab);
        String unkToken = f.string(model.get("unk_token"), "model.unk_token");
        Integer u = vocab.get(unkToken);
        if (u == null) throw f.error("model.unk_token", "'" + unkToken + "' is not in model.vocab");
        unk = u;
        prefix = f.string(model.get("continuing_subword_prefix"), "model.continuing_subword_prefix");
        maxChars = f.id(model.get("max_input_chars_per_word"), "model.max_input_chars_per_word");
    }

    @Override public String[] tokens() { return tokens; }

    @Override public Integer id(String token) { return vocab.get(token); }

    @Override public String describe() { return "WordPiece, continuing prefix '" + prefix + "'"; }

    @Override
    public void tokenize(String piece, List<Integer> ids) {
        if (piece.codePointCount(0, piece.length()) > maxChars) {
            ids.add(unk);
            return;
        }
        List<Integer> sub = new ArrayList<>();
        for (int start = 0; start < piece.length(); ) {
            Integer found = null;
            int end = piece.length();
            while (start < end) {
                String s = piece.substring(start, end);
                found = vocab.get(start > 0 ? prefix + s : s);
                if (found != null) break;
                end = piece.offsetByCodePoints(end, -1);
            }
            if (found == null) {
                ids.add(unk);
                return;
            }
            sub.add(found);
            start = end;
        }
        ids.addAll(sub);
    }
}
