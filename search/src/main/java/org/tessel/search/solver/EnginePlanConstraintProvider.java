package org.tessel.search.solver;

import static ai.timefold.solver.core.api.score.stream.ConstraintCollectors.sumLong;
import static ai.timefold.solver.core.api.score.stream.Joiners.equal;
import static ai.timefold.solver.core.api.score.stream.Joiners.filtering;
import static ai.timefold.solver.core.api.score.stream.Joiners.lessThan;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import ai.timefold.solver.core.api.score.stream.Constraint;
import ai.timefold.solver.core.api.score.stream.ConstraintFactory;
import ai.timefold.solver.core.api.score.stream.ConstraintProvider;
import ai.timefold.solver.core.api.score.stream.uni.UniConstraintStream;
import org.tessel.search.Rules;
import org.tessel.search.domain.AccuracyLimit;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.LiveTensor;
import org.tessel.search.domain.MemoryBudget;
import org.tessel.search.domain.Membership;
import org.tessel.search.domain.NodeDecision;
import org.tessel.search.domain.PrecisionPin;
import org.tessel.search.domain.Use;

/**
 * The score of an engine plan as constraint streams: hard rules (violations; memory excess in
 * KiB), then soft rules (predicted latency in picoseconds). Each rule matches what
 * {@link org.tessel.search.PlanEvaluator} computes from scratch.
 */
public final class EnginePlanConstraintProvider implements ConstraintProvider {

    @Override public Constraint[] defineConstraints(ConstraintFactory f) {
        return new Constraint[] {
                tacticSupportsChoice(f), userPrecisionRespected(f), fusedCandidatesDoNotOverlap(f),
                fusedMembersShareRootFormat(f), fusedGroupHasTactic(f), inGroupChoiceIsFused(f), memoryWithinBudget(f), accuracyWithinBudget(f),
                nodeLatency(f), fusedGroupLatency(f), reformatOnEdge(f), castOnEdge(f),
                conversionFromGraphInput(f), conversionToGraphOutput(f)
        };
    }

    // ---- hard

    /** A node's choice must be one its tactic supports (precision, layout, shape), and made for that node. */
    Constraint tacticSupportsChoice(ConstraintFactory f) {
        return f.forEach(NodeDecision.class)
                .filter(d -> !d.choice().supported() || d.choice().node() != d.index())
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((d, s) -> new ScoreTerm(d.name(), d.choice().supported() ? "choice made for node " + d.choice().node() : d.choice().tacticId() + ": " + d.choice().whyNot(), 1))
                .asConstraint(Rules.TACTIC_SUPPORTS_CHOICE);
    }

    /** A node the user pinned to some precisions computes in one of them. */
    Constraint userPrecisionRespected(ConstraintFactory f) {
        return f.forEach(NodeDecision.class)
                .join(PrecisionPin.class, equal(NodeDecision::index, PrecisionPin::node))
                .filter((d, pin) -> !pin.allows(d.choice().precision()))
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((d, pin, s) -> new ScoreTerm(d.name(), d.choice().precision() + " breaks pin " + pin.rule(), 1))
                .asConstraint(Rules.USER_PRECISION);
    }

    /** Two fused candidates may not share a node. */
    Constraint fusedCandidatesDoNotOverlap(ConstraintFactory f) {
        return f.forEach(FusionDecision.class).filter(FusionDecision::isFused)
                .join(f.forEach(FusionDecision.class).filter(FusionDecision::isFused),
                        lessThan(FusionDecision::index), filtering(FusionDecision::overlaps))
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((a, b, s) -> new ScoreTerm(a.kind() + "#" + a.index(), "overlaps " + b.kind() + "#" + b.index(), 1))
                .asConstraint(Rules.FUSED_NO_OVERLAP);
    }

    /** Every member of a fused group computes at the root's precision and layout. */
    Constraint fusedMembersShareRootFormat(ConstraintFactory f) {
        return f.forEach(Membership.class)
                .join(f.forEach(FusionDecision.class).filter(FusionDecision::isFused), equal(Membership::candidate, FusionDecision::index))
                .join(NodeDecision.class, equal((m, fd) -> m.node(), NodeDecision::index))
                .join(NodeDecision.class, equal((m, fd, member) -> m.root(), NodeDecision::index))
                .filter((m, fd, member, root) -> !member.format().agrees(root.format()))
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((m, fd, member, root, s) -> new ScoreTerm(member.name(), member.format() + " in " + fd.kind() + " rooted at " + root.name() + " (" + root.format() + ")", 1))
                .asConstraint(Rules.FUSED_MEMBERS_SHARE_FORMAT);
    }

    /** A fused group needs a fused tactic at its root's format. */
    Constraint fusedGroupHasTactic(ConstraintFactory f) {
        return fusedWithRoot(f)
                .filter((fd, root) -> fd.fusedChoice(root.format()) == null)
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((fd, root, s) -> new ScoreTerm(root.name(), "no fused " + fd.kind() + " tactic at " + root.format(), 1))
                .asConstraint(Rules.FUSED_GROUP_HAS_TACTIC);
    }

    /** A node at an in-group choice has no tactic of its own there: a fused group must run it. */
    Constraint inGroupChoiceIsFused(ConstraintFactory f) {
        return f.forEach(NodeDecision.class)
                .filter(d -> d.choice().inGroup())
                .ifNotExists(fusedMembers(f), equal(NodeDecision::index, i -> i))
                .penalizeLong(HardSoftLongScore.ONE_HARD)
                .justifyWith((d, s) -> new ScoreTerm(d.name(), "no standalone tactic at " + d.format() + " and no fused group runs it", 1))
                .asConstraint(Rules.IN_GROUP_CHOICE_FUSED);
    }

    /** Activations alive at each step, at their producers' storage types, plus the step's workspace, fit the budget (excess in KiB). */
    Constraint memoryWithinBudget(ConstraintFactory f) {
        return f.forEach(LiveTensor.class)
                .join(NodeDecision.class, equal(LiveTensor::producer, NodeDecision::index))
                .groupBy((t, d) -> t.step(), sumLong((t, d) -> t.bytes(d.format())))
                .join(NodeDecision.class, equal((step, bytes) -> step, NodeDecision::index))
                .join(MemoryBudget.class)
                .filter((step, bytes, d, b) -> stepBytes(bytes, d) > b.bytes())
                .penalizeLong(HardSoftLongScore.ONE_HARD, (step, bytes, d, b) -> Rules.excessKiB(stepBytes(bytes, d) - b.bytes()))
                .justifyWith((step, bytes, d, b, s) -> new ScoreTerm(d.name(), stepBytes(bytes, d) + " bytes at this step, budget " + b.bytes(), Rules.excessKiB(stepBytes(bytes, d) - b.bytes())))
                .asConstraint(Rules.MEMORY_WITHIN_BUDGET);
    }

    /** The plan's predicted error, its nodes' errors at their chosen precisions summed, keeps the accuracy budget (excess in units of 1e-6). */
    Constraint accuracyWithinBudget(ConstraintFactory f) {
        return f.forEach(NodeDecision.class)
                .groupBy(sumLong(NodeDecision::errorUnits))
                .join(AccuracyLimit.class)
                .filter((units, limit) -> units > limit.units())
                .penalizeLong(HardSoftLongScore.ONE_HARD, (units, limit) -> units - limit.units())
                .justifyWith((units, limit, s) -> new ScoreTerm("plan", "predicted error " + units + " units over the budget of " + limit.units(), units - limit.units()))
                .asConstraint(Rules.ACCURACY_WITHIN_BUDGET);
    }

    private static long stepBytes(long live, NodeDecision d) { return live + d.stepBaseBytes() + d.choice().workspaceBytes(); }

    // ---- soft

    /** A node outside every fused group costs its own choice's latency. */
    Constraint nodeLatency(ConstraintFactory f) {
        return f.forEach(NodeDecision.class)
                .ifNotExists(fusedMembers(f), equal(NodeDecision::index, i -> i))
                .penalizeLong(HardSoftLongScore.ONE_SOFT, d -> d.choice().latencyPs())
                .justifyWith((d, s) -> new ScoreTerm(d.name(), d.choice().tacticId() + " " + d.format(), d.choice().latencyPs()))
                .asConstraint(Rules.NODE_LATENCY);
    }

    /** A fused group costs the fastest fused tactic at its root's format, instead of its members. */
    Constraint fusedGroupLatency(ConstraintFactory f) {
        return fusedWithRoot(f)
                .filter((fd, root) -> fd.fusedChoice(root.format()) != null)
                .penalizeLong(HardSoftLongScore.ONE_SOFT, (fd, root) -> fd.fusedChoice(root.format()).latencyPs())
                .justifyWith((fd, root, s) -> {
                    FusedChoice fc = fd.fusedChoice(root.format());
                    return new ScoreTerm(root.name(), fd.kind() + " fused by " + fc.tacticId() + " " + fc.format(), fc.latencyPs());
                })
                .asConstraint(Rules.FUSED_GROUP_LATENCY);
    }

    /** An image tensor whose producer and consumer use different layouts is reformatted on the way. */
    Constraint reformatOnEdge(ConstraintFactory f) {
        return internalUses(f, true)
                .filter((u, p, c) -> u.reformatPs(p.format(), c.format()) > 0)
                .penalizeLong(HardSoftLongScore.ONE_SOFT, (u, p, c) -> u.reformatPs(p.format(), c.format()))
                .justifyWith((u, p, c, s) -> new ScoreTerm(c.name(), "reformat %" + u.value() + " " + p.format().imageLayout().text() + "->" + c.format().imageLayout().text(), u.reformatPs(p.format(), c.format())))
                .asConstraint(Rules.REFORMAT_ON_EDGE);
    }

    /** A floating tensor whose producer and consumer store different types is cast on the way. */
    Constraint castOnEdge(ConstraintFactory f) {
        return internalUses(f, false)
                .filter((u, p, c) -> u.castPs(p.format(), c.format()) > 0)
                .penalizeLong(HardSoftLongScore.ONE_SOFT, (u, p, c) -> u.castPs(p.format(), c.format()))
                .justifyWith((u, p, c, s) -> new ScoreTerm(c.name(), "cast %" + u.value() + " " + p.format().precision().storage().text() + "->" + c.format().precision().storage().text(), u.castPs(p.format(), c.format())))
                .asConstraint(Rules.CAST_ON_EDGE);
    }

    /** Graph inputs arrive in their declared type and channels-first; a consumer that differs pays the conversion. */
    Constraint conversionFromGraphInput(ConstraintFactory f) {
        return f.forEach(Use.class).filter(Use::fromGraphInput)
                .join(NodeDecision.class, equal(Use::consumer, NodeDecision::index))
                .filter((u, c) -> u.conversionPs(u.fixedSource(), c.format()) > 0)
                .penalizeLong(HardSoftLongScore.ONE_SOFT, (u, c) -> u.conversionPs(u.fixedSource(), c.format()))
                .justifyWith((u, c, s) -> new ScoreTerm(c.name(), "convert input %" + u.value() + " " + u.fixedSource() + "->" + c.format(), u.conversionPs(u.fixedSource(), c.format())))
                .asConstraint(Rules.INPUT_CONVERSION);
    }

    /** Graph outputs leave in their declared type and channels-first; a producer that differs pays the conversion. */
    Constraint conversionToGraphOutput(ConstraintFactory f) {
        return f.forEach(Use.class).filter(Use::toGraphOutput)
                .join(NodeDecision.class, equal(Use::producer, NodeDecision::index))
                .filter((u, p) -> u.conversionPs(p.format(), u.fixedTarget()) > 0)
                .penalizeLong(HardSoftLongScore.ONE_SOFT, (u, p) -> u.conversionPs(p.format(), u.fixedTarget()))
                .justifyWith((u, p, s) -> new ScoreTerm(p.name(), "convert output %" + u.value() + " " + p.format() + "->" + u.fixedTarget(), u.conversionPs(p.format(), u.fixedTarget())))
                .asConstraint(Rules.OUTPUT_CONVERSION);
    }

    /** The node indices of every fused group's members. */
    private static UniConstraintStream<Integer> fusedMembers(ConstraintFactory f) {
        return f.forEach(FusionDecision.class).filter(FusionDecision::isFused).flattenLast(FusionDecision::memberList);
    }

    private static ai.timefold.solver.core.api.score.stream.bi.BiConstraintStream<FusionDecision, NodeDecision> fusedWithRoot(ConstraintFactory f) {
        return f.forEach(FusionDecision.class).filter(FusionDecision::isFused)
                .join(NodeDecision.class, equal(FusionDecision::root, NodeDecision::index));
    }

    private static ai.timefold.solver.core.api.score.stream.tri.TriConstraintStream<Use, NodeDecision, NodeDecision> internalUses(ConstraintFactory f, boolean images) {
        return f.forEach(Use.class).filter(u -> u.internal() && (images ? u.image() : u.floating()))
                .join(NodeDecision.class, equal(Use::producer, NodeDecision::index))
                .join(NodeDecision.class, equal((u, p) -> u.consumer(), NodeDecision::index));
    }
}
