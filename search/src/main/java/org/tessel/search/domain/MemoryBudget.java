package org.tessel.search.domain;

/** The most bytes of activations plus workspace the engine may hold at any step. */
public record MemoryBudget(long bytes) {}
