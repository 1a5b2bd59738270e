package org.tessel.search.solver;

import ai.timefold.solver.core.api.solver.SolverFactory;
import ai.timefold.solver.core.impl.solver.DefaultSolverFactory;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.search.Assignment;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.NodeDecision;

/**
 * Measures incremental score calculation on its own: random single-variable moves (a node's
 * choice, or a candidate's fuse flag), each scored and undone, as local search does. The JMH
 * benchmark and the `search --score-speed` report use it.
 */
public final class ScoreSpeed implements AutoCloseable {
    private final ai.timefold.solver.core.impl.score.director.AbstractScoreDirector<EnginePlan, ?, ?> sd;
    private final EnginePlan working;
    private final SplittableRandom random;

    public ScoreSpeed(SearchProblem p, Assignment start, long seed) {
        DefaultSolverFactory<EnginePlan> f = (DefaultSolverFactory<EnginePlan>) SolverFactory.<EnginePlan>create(TimefoldSearch.config(SearchOptions.defaults()));
        this.sd = f.getScoreDirectorFactory().buildScoreDirector();
        this.working = p.solution(start);
        this.sd.setWorkingSolution(working);
        this.sd.calculateScore();
        this.random = new SplittableRandom(seed);
    }

    /** One move: change a random variable, score, change it back, score. Returns the moved score's soft part. */
    public long move() {
        List<NodeDecision> nodes = working.nodes();
        List<FusionDecision> fusions = working.fusions();
        if (fusions.isEmpty() || random.nextInt(4) > 0) {
            NodeDecision d = nodes.get(random.nextInt(nodes.size()));
            Choice old = d.choice();
            Choice c = d.getChoices().get(random.nextInt(d.getChoices().size()));
            set(d, c);
            long s = ((ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore) sd.calculateScore().raw()).softScore();
            set(d, old);
            sd.calculateScore();
            return s;
        }
        FusionDecision fd = fusions.get(random.nextInt(fusions.size()));
        Boolean old = fd.getFused();
        setFused(fd, !fd.isFused());
        long s = ((ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore) sd.calculateScore().raw()).softScore();
        setFused(fd, old);
        sd.calculateScore();
        return s;
    }

    /** Moves per second over roughly the given time (after the same time of warm-up). */
    public double movesPerSecond(double seconds) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) move();
        long n = 0;
        long t0 = System.nanoTime();
        end = t0 + (long) (seconds * 1e9);
        while (System.nanoTime() < end) { move(); n++; }
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    private void set(NodeDecision d, Choice c) {
        sd.beforeVariableChanged(d, "choice");
        d.setChoice(c);
        sd.afterVariableChanged(d, "choice");
    }

    private void setFused(FusionDecision f, Boolean v) {
        sd.beforeVariableChanged(f, "fused");
        f.setFused(v);
        sd.afterVariableChanged(f, "fused");
    }

    @Override public void close() { sd.close(); }
}
