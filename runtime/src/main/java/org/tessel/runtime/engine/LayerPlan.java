package org.tessel.runtime.engine;

/** What the builder chose for one node: the tactic that runs it, its compute precision and output layout. */
public record LayerPlan(String node, String tactic, String precision, String layout) {}
