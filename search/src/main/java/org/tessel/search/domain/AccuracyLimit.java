package org.tessel.search.domain;

/** The accuracy budget in units of 1e-6 of error: the most the plan's summed per-node errors may reach. */
public record AccuracyLimit(long units) {}
