package org.tessel.search.solver;

import ai.timefold.solver.core.api.score.stream.ConstraintJustification;

/**
 * Why a constraint matched: the node (or fused group, named by its root) it is charged to, the
 * rule's detail ("cudnn.conv.x fp16/nhwc", "%x n3->n4 nchw->nhwc") and the amount (picoseconds
 * for soft rules, violations or KiB for hard ones). Explanations group these by node.
 */
public record ScoreTerm(String node, String detail, long amount) implements ConstraintJustification {}
