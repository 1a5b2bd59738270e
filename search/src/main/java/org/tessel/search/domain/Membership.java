package org.tessel.search.domain;

/** A non-root member of a fusion candidate: when the candidate is fused, this node shares the root's format. */
public record Membership(int candidate, int node, int root) {}
