package org.tessel.accuracy;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.accuracy.ErrorModel;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Measures an engine's error against the FP32 engine on a fixed set of inputs: per floating output
 * the relative L2 error ||y - y32|| / ||y32|| over every input set together (the largest over
 * outputs is reported), and for classifier outputs (rank 2, [N, classes] with classes > 1) the
 * fraction of rows whose arg-max differs from FP32's (the largest over such outputs; NaN when the
 * model has none). Engines are CPU engines executing the plan, reduced precision emulated by rounding.
 */
final class ErrorMeter {
    private final AccuracyInputs inputs;
    private final List<List<Tensor>> reference = new ArrayList<>();
    private int engines;

    /** @param fp32 the FP32 plan, applied: its outputs are the reference */
    ErrorMeter(PlanApplier.Applied fp32, AccuracyInputs inputs) {
        this.inputs = inputs;
        Engine e = Engine.buildCpu(fp32.graph(), fp32.plan());
        for (List<Tensor> set : inputs.sets()) reference.add(e.createContext().run(set));
        engines = 1;
    }

    /** Engines built so far (the reference included). */
    int engines() { return engines; }

    AccuracyInputs inputs() { return inputs; }

    /** Rows of the first classifier output over all input sets: how many top-1 decisions a check compares (0 without one). */
    long classifierRows() {
        for (int o = 0; o < reference.getFirst().size(); o++)
            if (isClassifier(reference.getFirst().get(o))) {
                long n = 0;
                for (List<Tensor> set : reference) n += set.get(o).shape().dim(0);
                return n;
            }
        return 0;
    }

    /** Whether the model has a classifier output (top-1 is defined). */
    boolean hasClassifier() {
        for (Tensor t : reference.getFirst()) if (isClassifier(t)) return true;
        return false;
    }

    /** The error of the plan's engine. */
    ErrorModel.NodeError measure(PlanApplier.Applied planned) {
        Engine e = Engine.buildCpu(planned.graph(), planned.plan());
        engines++;
        int outs = reference.getFirst().size();
        double[] diff2 = new double[outs], ref2 = new double[outs];
        long[] rows = new long[outs], flips = new long[outs];
        for (int s = 0; s < inputs.sets().size(); s++) {
            List<Tensor> got = e.createContext().run(inputs.sets().get(s));
            for (int o = 0; o < outs; o++) {
                Tensor r = reference.get(s).get(o), g = got.get(o);
                if (!r.dtype().isFloating()) continue;
                for (int i = 0; i < r.size(); i++) {
                    double d = g.getDouble(i) - r.getDouble(i);
                    diff2[o] += d * d;
                    ref2[o] += r.getDouble(i) * r.getDouble(i);
                }
                if (isClassifier(r)) {
                    int n = r.shape().dim(0), c = r.shape().dim(1);
                    for (int row = 0; row < n; row++) {
                        rows[o]++;
                        if (argmax(r, row, c) != argmax(g, row, c)) flips[o]++;
                    }
                }
            }
        }
        double rel = 0, top1 = Double.NaN;
        for (int o = 0; o < outs; o++) {
            if (!reference.getFirst().get(o).dtype().isFloating()) continue;
            double v = ref2[o] > 0 ? Math.sqrt(diff2[o] / ref2[o]) : Math.sqrt(diff2[o]);
            if (Double.isNaN(v)) v = Double.POSITIVE_INFINITY; // a NaN output is as wrong as it gets
            rel = Math.max(rel, v);
            if (rows[o] > 0) top1 = Double.isNaN(top1) ? flips[o] / (double) rows[o] : Math.max(top1, flips[o] / (double) rows[o]);
        }
        return new ErrorModel.NodeError(rel, top1);
    }

    static boolean isClassifier(Tensor t) { return t.dtype().isFloating() && t.rank() == 2 && t.shape().dim(1) > 1; }

    private static int argmax(Tensor t, int row, int classes) {
        int best = 0;
        double bv = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < classes; k++) {
            double v = t.getDouble(row * classes + k);
            if (v > bv) { bv = v; best = k; }
        }
        return best;
    }
}
