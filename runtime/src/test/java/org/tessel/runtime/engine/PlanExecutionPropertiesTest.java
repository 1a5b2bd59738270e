package org.tessel.runtime.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.passes.PassManager;
import org.tessel.passes.RandomGraphs;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The CPU backend executes any legal plan: random well-typed graphs (the passes' generator, through
 * the standard pipeline so there are fused nodes and reformats), each with a random legal plan (per
 * node a random tactic that supports it at a random precision), give the reference interpreter's
 * outputs within the tolerance of the plan's least precise node.
 *
 * <p>Tolerances, as relative L2 error of each output, measured against max(||want||, RMS 1): values
 * stay O(1) (inputs in [-2, 2], weights in [-1.5, 1.5]) and rounding errs relative to the operands,
 * so a result that cancels to near zero is held to an error at the scale of its operands (without
 * that floor, BF16 plans reached 0.10 on cancelling outputs). Each planned node rounds a value at
 * most once by the unit roundoff u of its precision (its outputs are rounded to the type its
 * consumers round them to again, exactly), and the ops of these graphs pass errors on with O(1)
 * gain, so about 20 rounding steps bound the error: 20u, i.e. 9.8e-3 for FP16 and TF32 (u = 2^-11)
 * and 7.8e-2 for BF16 (u = 2^-8). FP32 plans run the reference itself and are held to 1e-5.
 * Over 2 x 5,000 tries the largest errors were 1.7e-3 (TF32), 3.0e-3 (FP16) and 8.2e-2 (BF16).
 *
 * <p>Some graphs are ill-conditioned whatever the backend: a LayerNorm over a few nearly equal values
 * (sigmoid outputs) amplifies any rounding by 1/sigma. For those the error may instead be up to
 * {@link #CONDITIONED} times the graph's own sensitivity: the FP32 reference with every computed
 * value perturbed at random by up to twice the roundoff (the largest of three such runs). Random
 * perturbations underestimate rounding that errs the same way on a row of equal values, hence the
 * factor. 3 outputs in 10,000 tries needed it; a plan executed wrongly (a node skipped, a wrong
 * rounding type) errs by O(1), beyond both bounds, and {@link PlanExecutionTest} pins the
 * rounding itself.
 */
class PlanExecutionPropertiesTest {
    static final Map<Precision, Double> TOLERANCE = new EnumMap<>(Map.of(Precision.FP32, 1e-5, Precision.TF32, 20 * Precision.TF32.relativeError(),
            Precision.FP16, 20 * Precision.FP16.relativeError(), Precision.BF16, 20 * Precision.BF16.relativeError()));

    private static final Map<Precision, Double> worst = new EnumMap<>(Precision.class);
    private static final Map<Precision, Integer> plans = new EnumMap<>(Precision.class);
    private static int nonReferenceTactics, layers, illConditioned;
    /** How many times the perturbed reference's error an ill-conditioned graph's plan may have. */
    static final double CONDITIONED = 8;

    @Provide Arbitrary<List<Integer>> programs() {
        return Arbitraries.integers().between(0, 1_000_000).list().ofMinSize(1).ofMaxSize(10);
    }

    @Property(tries = 100)
    void anyLegalPlanComputesTheReferenceWithinItsPrecision(@ForAll("programs") List<Integer> program, @ForAll long seed) {
        Graph g = RandomGraphs.build(program);
        new PassManager().run(g, StandardPipelines.STANDARD);
        EnginePlan plan = PlanExecutionTest.randomPlan(g, new SplittableRandom(seed));
        List<Tensor> in = inputs(g, seed);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        List<Tensor> got = Engine.buildCpu(g, plan).createContext().run(in);

        Precision loosest = Precision.FP32;
        for (PlannedNode p : plan.nodes()) if (p.precision().relativeError() > loosest.relativeError()) loosest = p.precision();
        double tol = TOLERANCE.get(loosest);
        List<List<Tensor>> nudged = new ArrayList<>();
        for (int run = 0; run < 3; run++) nudged.add(perturbedReference(g, in, 2 * loosest.relativeError(), seed + run));
        for (int k = 0; k < want.size(); k++) {
            double err = relativeL2(want.get(k), got.get(k));
            double sensitivity = 0;
            for (List<Tensor> n : nudged) sensitivity = Math.max(sensitivity, relativeL2(want.get(k), n.get(k)));
            double bound = Math.max(tol, CONDITIONED * sensitivity);
            worst.merge(loosest, err, Math::max);
            if (err > tol) illConditioned++;
            Value o = g.outputs().get(k);
            assertTrue(err <= bound, "output %" + o.name() + ": relative L2 error " + err + " > " + tol + " (precisions " + plan.precisionMix()
                    + "), and more than " + CONDITIONED + "x the error " + sensitivity + " of the reference perturbed at " + loosest.text() + "'s roundoff (x2)\n" + plan.render());
        }
        plans.merge(loosest, 1, Integer::sum);
        for (PlannedNode p : plan.nodes()) if (!p.tacticId().equals(Engine.CPU_REFERENCE)) nonReferenceTactics++;
        layers += plan.nodes().size();
    }

    @AfterContainer static void report() {
        System.out.println("plan execution properties: plans by least precise node " + plans + ", largest relative L2 error " + worst
                + ", " + nonReferenceTactics + " of " + layers + " layers with a non-reference tactic, "
                + illConditioned + " outputs beyond the fixed tolerance but within " + CONDITIONED + "x their sensitivity");
    }

    /** ||got - want|| / max(||want||, sqrt(n)); non-finite expected values must be matched exactly. */
    static double relativeL2(Tensor want, Tensor got) {
        assertEquals(want.shape(), got.shape());
        if (!want.dtype().isFloating()) {
            assertTrue(want.dataEquals(got), "integer outputs are exact");
            return 0;
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i), a = got.getDouble(i);
            if (!Double.isFinite(w)) { assertEquals(w, a, "element " + i); continue; }
            diff += (a - w) * (a - w);
            norm += w * w;
        }
        return Math.sqrt(diff) / Math.max(Math.sqrt(norm), Math.sqrt(want.size()));
    }

    /**
     * The FP32 reference with every graph input and every f32 value a node computes multiplied by
     * (1 + e), e uniform in [-u, u]: what rounding at unit roundoff u could do to this graph, at most
     * about twice over (round-to-nearest errs by at most u). Aliased data (a reshape's output is its
     * input's array) is perturbed once; constants are never touched.
     */
    static List<Tensor> perturbedReference(Graph g, List<Tensor> in, double u, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
        java.util.Set<float[]> done = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Value c : g.constants()) if (c.constantValue().dtype() == DType.F32) done.add(c.constantValue().floats());
        List<Tensor> nudgedIn = new ArrayList<>();
        for (Tensor t : in) {
            Tensor c = t.copy();
            if (c.dtype() == DType.F32) nudge(c.floats(), u, r, done);
            nudgedIn.add(c);
        }
        return new ReferenceInterpreter().withListener((n, outs, nanos) -> {
            for (Tensor t : outs) if (t.dtype() == DType.F32 && !done.contains(t.floats())) nudge(t.floats(), u, r, done);
        }).run(g, nudgedIn);
    }

    private static void nudge(float[] f, double u, SplittableRandom r, java.util.Set<float[]> done) {
        for (int i = 0; i < f.length; i++) f[i] = (float) (f[i] * (1 + u * r.nextDouble(-1, 1)));
        done.add(f);
    }

    static List<Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> out = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-2, 2));
            out.add(t);
        }
        return out;
    }
}
