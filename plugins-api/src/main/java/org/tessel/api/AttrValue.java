package org.tessel.api;

import java.util.Arrays;
import java.util.List;

/** An attribute value of a node. Array-valued variants compare by content. */
public sealed interface AttrValue {
    Kind kind();

    enum Kind { INT, FLOAT, STRING, INTS, FLOATS, STRINGS, TENSOR }

    record Int(long value) implements AttrValue {
        public Kind kind() { return Kind.INT; }
    }

    record Float(float value) implements AttrValue {
        public Kind kind() { return Kind.FLOAT; }
        @Override public boolean equals(Object o) { return o instanceof Float f && java.lang.Float.compare(f.value, value) == 0; }
        @Override public int hashCode() { return java.lang.Float.hashCode(value); }
    }

    record Str(String value) implements AttrValue {
        public Kind kind() { return Kind.STRING; }
    }

    record Ints(long[] values) implements AttrValue {
        public Ints { values = values.clone(); }
        public Kind kind() { return Kind.INTS; }
        @Override public long[] values() { return values.clone(); }
        @Override public boolean equals(Object o) { return o instanceof Ints i && Arrays.equals(values, i.values); }
        @Override public int hashCode() { return Arrays.hashCode(values); }
        @Override public String toString() { return "Ints" + Arrays.toString(values); }
    }

    record Floats(float[] values) implements AttrValue {
        public Floats { values = values.clone(); }
        public Kind kind() { return Kind.FLOATS; }
        @Override public float[] values() { return values.clone(); }
        @Override public boolean equals(Object o) { return o instanceof Floats f && Arrays.equals(values, f.values); }
        @Override public int hashCode() { return Arrays.hashCode(values); }
        @Override public String toString() { return "Floats" + Arrays.toString(values); }
    }

    record Strs(List<String> values) implements AttrValue {
        public Strs { values = List.copyOf(values); }
        public Kind kind() { return Kind.STRINGS; }
    }

    record TensorValue(Tensor value) implements AttrValue {
        public Kind kind() { return Kind.TENSOR; }
        @Override public boolean equals(Object o) { return o instanceof TensorValue t && t.value.dataEquals(value); }
        @Override public int hashCode() { return value.contentHash(); }
    }

    static AttrValue of(long v) { return new Int(v); }
    static AttrValue of(float v) { return new Float(v); }
    static AttrValue of(String v) { return new Str(v); }
    static AttrValue of(long... v) { return new Ints(v); }
    static AttrValue ofInts(int... v) { return new Ints(Arrays.stream(v).asLongStream().toArray()); }
    static AttrValue of(float... v) { return new Floats(v); }
    static AttrValue of(Tensor v) { return new TensorValue(v); }
}
