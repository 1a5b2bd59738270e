package org.tessel.tactics;

/** Where a tactic's kernel runs. */
public enum Backend { CPU, GPU }
