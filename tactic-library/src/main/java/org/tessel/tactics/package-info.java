/**
 * The tactic catalogue: for each op kind and fused pattern, the implementations that exist, with
 * stable ids, what they support ({@link org.tessel.tactics.Tactic#whyNot}), their workspace and
 * cost features. One subpackage per family (conv, gemm, attention, eltwise, norm, pool, data,
 * cpu); plugins add tactics through {@link org.tessel.tactics.TacticProvider}.
 */
package org.tessel.tactics;
