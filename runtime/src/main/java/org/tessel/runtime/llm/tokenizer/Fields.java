package org.tessel.runtime.llm.tokenizer;

import java.util.Map;

/** Typed reads of a tokenizer.json's fields, each failure naming the file and the field's JSON path. */
record Fields(String source) {
    IllegalArgumentException error(String field, String what) { return new IllegalArgumentException(source + ": " + field + ": " + what); }

    @SuppressWarnings("unchecked")
    static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }

    /** The object at {@code field}, or null when absent or JSON null. */
    Map<String, Object> object(Object o, String field) {
        if (o == null) return null;
        if (!(o instanceof Map<?, ?> m)) throw error(field, "expected an object, got " + o);
        return cast(m);
    }

    Map<String, Object> required(Object o, String field) {
        Map<String, Object> m = object(o, field);
        if (m == null) throw error(field, "missing");
        return m;
    }

    String string(Object o, String field) {
        if (!(o instanceof String s)) throw error(field, o == null ? "missing" : "expected a string, got " + o);
        return s;
    }

    int id(Object o, String field) {
        if (!(o instanceof Long l) || l < 0 || l > Integer.MAX_VALUE) throw error(field, "expected a non-negative integer, got " + o);
        return (int) (long) l;
    }

    double number(Object o, String field) {
        if (!(o instanceof Number n)) throw error(field, "expected a number, got " + o);
        return n.doubleValue();
    }

    /** A boolean field, {@code otherwise} when absent or null. */
    boolean bool(Object o, String field, boolean otherwise) {
        if (o == null) return otherwise;
        if (!(o instanceof Boolean b)) throw error(field, "expected true or false, got " + o);
        return b;
    }

    /** A one-character string (Metaspace's replacement, Strip's content). */
    int character(Object o, String field) {
        String s = string(o, field);
        if (s.codePointCount(0, s.length()) != 1) throw error(field, "expected one character, got '" + s + "'");
        return s.codePointAt(0);
    }

    /** A [token string, id] pair (BertProcessing's cls and sep). */
    int tokenPair(Object o, String field) {
        if (!(o instanceof java.util.List<?> l) || l.size() != 2 || !(l.get(0) instanceof String)) throw error(field, "expected [token, id], got " + o);
        return id(l.get(1), field + "[1]");
    }
}
