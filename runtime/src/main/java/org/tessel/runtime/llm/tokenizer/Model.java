package org.tessel.runtime.llm.tokenizer;

import java.util.List;
import java.util.Map;

/** A tokenizer.json's {@code model}: the vocabulary and how one pre-tokenized piece becomes ids. */
sealed interface Model permits BpeModel, WordPieceModel, UnigramModel {
    /** Id to token string, as long as the largest id plus one (null where the vocabulary skips an id). */
    String[] tokens();

    /** The id of a token string, or null (the library's token_to_id). */
    Integer id(String token);

    /** Appends the ids of one non-empty piece. */
    void tokenize(String piece, List<Integer> ids);

    /** A few words: the model type and its sizes. */
    String describe();

    static Model of(Map<String, Object> model, Fields f) {
        Object type = model.get("type");
        if (type == null) throw f.error("model.type", "missing (supported: BPE, WordPiece, Unigram)");
        return switch (f.string(type, "model.type")) {
            case "BPE" -> new BpeModel(model, f);
            case "WordPiece" -> new WordPieceModel(model, f);
            case "Unigram" -> new UnigramModel(model, f);
            default -> throw f.error("model.type", "'" + type + "' is not supported (supported: BPE, WordPiece, Unigram)");
        };
    }

    /** A {@code {token: id}} vocabulary as a map and its id-to-token array. */
    static String[] inverse(Map<String, Integer> vocab) {
        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        String[] tokens = new String[size];
        for (var e : vocab.entrySet()) tokens[e.getValue()] = e.getKey();
        return tokens;
    }

    static Map<String, Integer> vocab(Map<String, Object> model, Fields f) {
        Map<String, Object> v = f.required(model.get("vocab"), "model.vocab");
        Map<String, Integer> vocab = new java.util.HashMap<>();
        for (var e : v.entrySet()) vocab.put(e.getKey(), f.id(e.getValue(), "model.vocab." + e.getKey()));
        return vocab;
    }

    /** The ids of the {@code <0xNN>} tokens of a string's UTF-8 bytes, or null when one is missing (byte fallback). */
    static List<Integer> byteTokens(String s, Map<String, Integer> vocab) {
        List<Integer> ids = new java.util.ArrayList<>();
        for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            Integer id = vocab.get(String.format("<0x%02X>", b & 0xff));
            if (id == null) return null;
            ids.add(id);
        }
        return ids;
    }
}
