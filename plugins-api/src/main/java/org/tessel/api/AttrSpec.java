package org.tessel.api;

/**
 * Declares one attribute of an op: its name, kind, whether it is required, its default (null
 * when none) and a line of help. The verifier rejects unknown attributes and wrong kinds.
 */
public record AttrSpec(String name, AttrValue.Kind kind, boolean required, AttrValue defaultValue, String doc) {
    public static AttrSpec required(String name, AttrValue.Kind kind, String doc) { return new AttrSpec(name, kind, true, null, doc); }
    public static AttrSpec optional(String name, AttrValue.Kind kind, AttrValue dflt, String doc) { return new AttrSpec(name, kind, false, dflt, doc); }
    public static AttrSpec optional(String name, AttrValue.Kind kind, String doc) { return new AttrSpec(name, kind, false, null, doc); }
}
