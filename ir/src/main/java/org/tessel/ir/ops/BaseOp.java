package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.OpSchema;
import org.tessel.api.Trait;

/**
 * Convenience base for op schemas: the declarative part (name, arity, attributes, traits) comes
 * from a {@link Def}, subclasses write inference and reference semantics.
 *
 * <pre>{@code
 * super(def("Relu", "max(x, 0) elementwise").inputs(1, 1, "X").traits(Trait.ELEMENTWISE, Trait.PURE));
 * }</pre>
 */
public abstract class BaseOp implements OpSchema {
    private final Def def;

    protected BaseOp(Def def) { this.def = def; }

    public static Def def(String name, String summary) { return new Def(name, summary); }

    @Override public String name() { return def.name; }
    @Override public String domain() { return def.domain; }
    @Override public String summary() { return def.summary; }
    @Override public int minInputs() { return def.minIn; }
    @Override public int maxInputs() { return def.maxIn; }
    @Override public int minOutputs() { return def.minOut; }
    @Override public int maxOutputs() { return def.maxOut; }
    @Override public List<AttrSpec> attributes() { return def.attrs; }
    @Override public Set<Trait> traits() { return def.traits; }
    @Override public List<String> inputNames() { return def.inputNames; }
    @Override public String toString() { return qualifiedName(); }

    /** The declarative part of an op definition. */
    public static final class Def {
        final String name;
        final String summary;
        String domain = "";
        int minIn = 1, maxIn = 1, minOut = 1, maxOut = 1;
        final List<AttrSpec> attrs = new ArrayList<>();
        Set<Trait> traits = EnumSet.of(Trait.PURE);
        List<String> inputNames = List.of();

        Def(String name, String summary) { this.name = name; this.summary = summary; }

        public Def domain(String d) { this.domain = d; return this; }
        public Def inputs(int min, int max, String... names) { minIn = min; maxIn = max; inputNames = List.of(names); return this; }
        public Def outputs(int min, int max) { minOut = min; maxOut = max; return this; }
        /** Traits; PURE is always included unless {@link #impure()} is called. */
        public Def traits(Trait... ts) { for (Trait t : ts) traits.add(t); return this; }
        public Def impure() { traits.remove(Trait.PURE); return this; }
        public Def attr(AttrSpec s) { attrs.add(s); return this; }
        public Def intAttr(String n, long dflt, String doc) { return attr(AttrSpec.optional(n, AttrValue.Kind.INT, AttrValue.of(dflt), doc)); }
        public Def floatAttr(String n, float dflt, String doc) { return attr(AttrSpec.optional(n, AttrValue.Kind.FLOAT, AttrValue.of(dflt), doc)); }
        public Def stringAttr(String n, String dflt, String doc) { return attr(AttrSpec.optional(n, AttrValue.Kind.STRING, dflt == null ? null : AttrValue.of(dflt), doc)); }
        public Def intsAttr(String n, String doc) { return attr(AttrSpec.optional(n, AttrValue.Kind.INTS, doc)); }
        public Def floatsAttr(String n, String doc) { return attr(AttrSpec.optional(n, AttrValue.Kind.FLOATS, doc)); }
        public Def requiredAttr(String n, AttrValue.Kind k, String doc) { return attr(AttrSpec.required(n, k, doc)); }
    }
}
