package org.tessel.passes.approx;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.passes.PassManager;

/** approximate-gelu: exact GELUs (top level, decomposed and recognized, inside fused bodies) become tanh ones, within its bound. */
class ApproximateGeluTest {
    static Tensor uniform(Shape s, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + r.nextDouble() * (hi - lo));
        return Tensor.ofFloats(s, v);
    }

    static Tensor scalar(float v) { return Tensor.ofFloats(Shape.of(), new float[] {v}); }

    /** x -> Gelu (exact) -> y; x -> Gelu (tanh) -> z. */
    static Graph twoGelus() {
        NetworkBuilder b = new NetworkBuilder("gelus");
        Value x = b.input("x", DType.F32, 4, 4096);
        Value y = b.name("exact").gelu(x);
        Value z = b.name("tanh").op("Gelu", Attributes.builder().put("approximate", "tanh").build(), x);
        return b.output(y).output(z).build();
    }

    static Node node(Graph g, String name) { return g.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow(); }

    @Test void turnsExactGelusIntoTanhOnesWithinTheBound() {
        Graph g = twoGelus();
        Tensor x = uniform(Shape.of(4, 4096), 1, -8, 8);
        List<Tensor> before = new ReferenceInterpreter().run(g, List.of(x));
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "approximate-gelu");
        Verifier.verify(g);
        assertTrue(r.runs().getFirst().changed());
        assertEquals(1, r.runs().getFirst().stats().get("gelus-approximated"), "the tanh one is left as it is");
        assertEquals("tanh", node(g, "exact").attrs().getString("approximate", "none"));
        List<Tensor> after = new ReferenceInterpreter().run(g, List.of(x));
        double worst = 0;
        for (int i = 0; i < x.type().numElements(); i++) worst = Math.max(worst, Math.abs(before.get(0).getDouble(i) - after.get(0).getDouble(i)));
        assertTrue(worst > 1e-4, "the pass changed values (" + worst + ")");
        assertTrue(worst <= ApproximateGelu.MAX_ABS_ERROR + 1e-6, "largest difference " + worst + " is within the documented bound");
        for (int i = 0; i < x.type().numElements(); i++) assertEquals(before.get(1).getDouble(i), after.get(1).getDouble(i), 0, "the tanh GELU is untouched");
        assertFalse(new PassManager().run(g, "approximate-gelu").runs().getFirst().changed(), "a second run finds nothing");
    }

    @Test void theBoundHoldsOverTheReals() {
        // a dense scan of the two closed forms in double precision: the largest gap is the documented bound
        double worst = 0, at = 0;
        for (int i = -200_000; i <= 200_000; i++) {
            double x = i * 1e-4, erf = 0.5 * x * (1 + erf(x / Math.sqrt(2))), tanh = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            if (Math.abs(erf - tanh) > worst) { worst = Math.abs(erf - tanh); at = x; }
        }
        assertTrue(worst <= ApproximateGelu.MAX_ABS_ERROR && worst > ApproximateGelu.MAX_ABS_ERROR - 2e-6, "largest gap " + worst + " at " + at);
        assertEquals(2.7, Math.abs(at), 0.05, "the gap is even in x (gelu(x) - gelu(-x) = x for both forms)");
    }

    /** erf by its Taylor series (|x| small) or continued fraction, to double precision over the scanned range. */
    static double erf(double x) {
        double ax = Math.abs(x), r;
        if (ax < 3) {
            double term = ax, sum = ax;
            for (int n = 1; n < 200; n++) {
                term *= -ax * ax / n;
                sum += term / (2 * n + 1);
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            double f = 0;
            for (int n = 60; n >= 1; n--) f = n / 2.0 / (ax + f);
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
        }
        return Math.copySign(r, x);
    }

    @Test void reachesDecomposedGelusAfterRecognitionAndFusedBodies() {
        NetworkBuilder b = new NetworkBuilder("ffn");
        Value x = b.input("x", DType.F32, 8, 64);
        Value h = b.name("ffn1").matmul(x, b.constant("w1", uniform(Shape.of(64, 128), 2, -0.2, 0.2)));
        Value hb = b.name("ffn1.bias").add(h, b.constant("b1", uniform(Shape.of(128), 3, -0.1, 0.1)));
        // 0.5 * x * (1 + erf(x / sqrt 2)), as exporters write it
        Value e = b.name("erf").op("Erf", Attributes.empty(), b.name("scale").div(hb, b.constant("sqrt2", scalar((float) Math.sqrt(2)))));
        Value gl = b.name("half").mul(b.name("times").mul(hb, b.name("plus").add(e, b.constant("one", scalar(1f)))), b.constant("half.c", scalar(0.5f)));
        Graph g = b.output(gl).build();
        Tensor in = uniform(Shape.of(8, 64), 4, -3, 3);
        Tensor before = new ReferenceInterpreter().run(g, List.of(in)).getFirst();
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "recognize-composites,fuse,approximate-gelu");
        Verifier.verify(g);
        assertEquals(1, r.runs().getLast().stats().get("gelus-approximated"));
        Node fused = g.nodes().stream().filter(n -> n.body() != null).findFirst().orElseThrow(() -> new AssertionError("the GEMM, bias and GELU fuse: " + g.nodes()));
        Node gelu = fused.body().nodes().stream().filter(n -> n.opName().equals("Gelu")).findFirst().orElseThrow();
        assertEquals("tanh", gelu.attrs().getString("approximate", "none"), "the fused body's GELU is rewritten");
        Tensor after = new ReferenceInterpreter().run(g, List.of(in)).getFirst();
        double worst = 0;
        for (int i = 0; i < before.type().numElements(); i++) worst = Math.max(worst, Math.abs(before.getDouble(i) - after.getDouble(i)));
        assertTrue(worst > 0 && worst <= ApproximateGelu.MAX_ABS_ERROR + 1e-5, "largest difference " + worst);
    }
}
