package org.tessel.passes;

/** An option a pass accepts, e.g. {@code fold-constants{max-elements=4096}}. */
public record PassOption(String name, String defaultValue, String help) {}
