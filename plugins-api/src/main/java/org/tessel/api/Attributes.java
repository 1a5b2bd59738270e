package org.tessel.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The attributes of a node: an immutable, insertion-ordered map. Equality ignores order. The typed
 * getters take the op's default, and fail with a message naming the attribute when the stored
 * value has another kind.
 */
public final class Attributes {
    private static final Attributes EMPTY = new Attributes(Map.of());
    private final Map<String, AttrValue> values;

    private Attributes(Map<String, AttrValue> values) { this.values = values; }

    public static Attributes empty() { return EMPTY; }

    public static Attributes of(Map<String, AttrValue> values) {
        return values.isEmpty() ? EMPTY : new Attributes(Collections.unmodifiableMap(new LinkedHashMap<>(values)));
    }

    public static Builder builder() { return new Builder(); }

    public Map<String, AttrValue> asMap() { return values; }
    public Set<String> names() { return values.keySet(); }
    public boolean has(String name) { return values.containsKey(name); }
    public boolean isEmpty() { return values.isEmpty(); }
    public Optional<AttrValue> get(String name) { return Optional.ofNullable(values.get(name)); }

    public Attributes with(String name, AttrValue v) {
        LinkedHashMap<String, AttrValue> m = new LinkedHashMap<>(values);
        m.put(name, v);
        return of(m);
    }

    public Attributes without(String name) {
        LinkedHashMap<String, AttrValue> m = new LinkedHashMap<>(values);
        m.remove(name);
        return of(m);
    }

    private <T extends AttrValue> T typed(String name, Class<T> cls) {
        AttrValue v = values.get(name);
        if (v == null) return null;
        if (!cls.isInstance(v)) throw new OpException("attribute '" + name + "' must be " + kindName(cls) + ", found " + v.kind());
        return cls.cast(v);
    }

    private static String kindName(Class<?> cls) {
        return cls.getSimpleName().toUpperCase(java.util.Locale.ROOT);
    }

    public long getInt(String name, long dflt) {
        AttrValue.Int v = typed(name, AttrValue.Int.class);
        return v == null ? dflt : v.value();
    }

    public float getFloat(String name, float dflt) {
        AttrValue v = values.get(name);
        if (v instanceof AttrValue.Int i) return i.value();     // ONNX writers sometimes store 0 for 0.0
        AttrValue.Float f = typed(name, AttrValue.Float.class);
        return f == null ? dflt : f.value();
    }

    public String getString(String name, String dflt) {
        AttrValue.Str v = typed(name, AttrValue.Str.class);
        return v == null ? dflt : v.value();
    }

    /** The ints attribute, or null when absent. */
    public long[] getInts(String name) {
        AttrValue.Ints v = typed(name, AttrValue.Ints.class);
        return v == null ? null : v.values();
    }

    public long[] getInts(String name, long[] dflt) {
        long[] v = getInts(name);
        return v == null ? dflt : v;
    }

    public float[] getFloats(String name) {
        AttrValue.Floats v = typed(name, AttrValue.Floats.class);
        return v == null ? null : v.values();
    }

    public java.util.List<String> getStrings(String name) {
        AttrValue.Strs v = typed(name, AttrValue.Strs.class);
        return v == null ? null : v.values();
    }

    public Tensor getTensor(String name) {
        AttrValue.TensorValue v = typed(name, AttrValue.TensorValue.class);
        return v == null ? null : v.value();
    }

    @Override public boolean equals(Object o) { return o instanceof Attributes a && a.values.equals(values); }
    @Override public int hashCode() { return values.hashCode(); }
    @Override public String toString() { return values.toString(); }

    public static final class Builder {
        private final LinkedHashMap<String, AttrValue> m = new LinkedHashMap<>();
        public Builder put(String name, AttrValue v) { m.put(name, v); return this; }
        public Builder put(String name, long v) { return put(name, AttrValue.of(v)); }
        public Builder put(String name, float v) { return put(name, AttrValue.of(v)); }
        public Builder put(String name, String v) { return put(name, AttrValue.of(v)); }
        public Builder put(String name, long... v) { return put(name, AttrValue.of(v)); }
        public Builder putInts(String name, int... v) { return put(name, AttrValue.ofInts(v)); }
        public Builder put(String name, float... v) { return put(name, AttrValue.of(v)); }
        public Builder put(String name, Tensor v) { return put(name, AttrValue.of(v)); }
        public Attributes build() { return of(m); }
    }
}
