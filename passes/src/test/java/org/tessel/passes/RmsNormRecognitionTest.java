package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.text.IrPrinter;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;

/**
 * recognize-composites' RMSNorm rule on random decompositions: every exporter form it claims (x*x or x^2, x / Sqrt,
 * x * Reciprocal(Sqrt) or x * (1 / Sqrt), eps on either side, gamma on either side or none, the HF export's casts to
 * f32 and back) becomes one RMSNormalization that the reference interpreter evaluates as the decomposition did; each
 * near miss (another axis, another exponent, a non-scalar eps, a shared intermediate, a gamma of the wrong length,
 * another value divided than squared) is left alone.
 */
class RmsNormRecognitionTest {
    private static List<String> ops(Graph g) { return g.nodes().stream().map(Node::opName).toList(); }

    /** A near miss, or NONE for a decomposition the rule must take. */
    enum Miss { NONE, AXIS, EXPONENT, EPS_VECTOR, SHARED_MEAN, OTHER_NUMERATOR, FULL_GAMMA }

    /** One RMSNorm decomposition of a random form over x [rows..., d], with the near miss asked for. */
    static Graph decomposition(long seed, Miss miss) {
        SplittableRandom r = new SplittableRandom(seed);
        NetworkBuilder b = new NetworkBuilder("rms", OpRegistry.global(), seed);
        int d = 2 + r.nextInt(11);
        int rows = miss == Miss.FULL_GAMMA ? 2 + r.nextInt(2) : 1 + r.nextInt(3);
        int[] dims = r.nextBoolean() ? new int[] {rows, d} : new int[] {rows, 1 + r.nextInt(3), d};
        boolean cast = r.nextInt(3) == 0;
        DType outer = cast ? (r.nextBoolean() ? DType.F16 : DType.BF16) : DType.F32;
        Value x0 = b.input("x", outer, dims);
        Value x = cast ? b.cast(x0, DType.F32) : x0;
        Value sq = r.nextBoolean() && miss != Miss.EXPONENT ? b.mul(x, x)
                : b.op("Pow", null, x, b.scalar("two", DType.F32, miss == Miss.EXPONENT ? 3 : 2));
        long axis = miss == Miss.AXIS ? 0 : r.nextBoolean() ? -1 : dims.length - 1;
        Value mean = b.op("ReduceMean", NetworkBuilder.attrs("keepdims", 1), sq, b.longs("axes", axis));
        Value eps = miss == Miss.EPS_VECTOR ? b.constant("eps", Tensor.full(DType.F32, Shape.of(d), 1e-5))
                : b.scalar("eps", DType.F32, 1e-6 * (1 + r.nextInt(10)));
        Value sum = r.nextBoolean() ? b.add(mean, eps) : b.add(eps, mean);
        Value root = b.op("Sqrt", null, sum);
        Value num = miss == Miss.OTHER_NUMERATOR ? b.op("Neg", null, x) : x;
        Value normed = switch (r.nextInt(4)) {
            case 0 -> b.div(num, root);
            case 1 -> b.mul(num, b.op("Reciprocal", null, root));
            case 2 -> b.mul(b.op("Reciprocal", null, root), num);
            default -> b.mul(num, b.div(b.scalar("one", DType.F32, 1), root));
        };
        if (cast) normed = b.cast(normed, outer);
        Value y = normed;
        // gamma per last-axis element, or (FULL_GAMMA) a multiplier of x's whole shape, which is no RMSNorm scale
        Tensor gt = Tensor.zeros(outer, miss == Miss.FULL_GAMMA ? Shape.of(dims) : Shape.of(d));
        for (int i = 0; i < gt.size(); i++) gt.setDouble(i, 0.5 + r.nextDouble());
        Value gamma = b.constant("gamma", gt);
        int side = miss == Miss.FULL_GAMMA ? 1 : r.nextInt(3);
        if (side == 1) y = b.mul(normed, gamma);
        else if (side == 2) y = b.mul(gamma, normed);
        List<Value> outs = new ArrayList<>(List.of(y));
        if (miss == Miss.SHARED_MEAN) outs.add(b.op("Neg", null, mean));
        return b.output(outs.toArray(Value[]::new)).build();
    }

    private static List<Tensor> inputs(Graph g, long seed) { return PassPropertiesTest.inputs(g, seed); }

    private static void assertClose(List<Tensor> want, List<Tensor> got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int k = 0; k < want.size(); k++) {
            Tensor e = want.get(k), a = got.get(k);
            assertEquals(e.type(), a.type(), what + ": output " + k);
            double tol = switch (e.dtype()) { case F16 -> 1e-2; case BF16 -> 2e-2; default -> 1e-5; };
            for (int i = 0; i < e.size(); i++)
                assertEquals(e.getDouble(i), a.getDouble(i), tol * (1 + Math.abs(e.getDouble(i))), what + ": output " + k + " element " + i);
        }
    }

    @Property(tries = 400)
    void everyFormIsOneRmsNormalizationThatComputesTheSame(@ForAll long seed) {
        Graph g = decomposition(seed, Miss.NONE), before = g.copy();
        new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
        String text = IrPrinter.print(before);
        assertEquals(List.of("RMSNormalization"), ops(g), text);
        List<Tensor> in = inputs(before, seed);
        assertClose(new ReferenceInterpreter().run(before, in), new ReferenceInterpreter().run(g, in), text);
    }

    @Property(tries = 300)
    void nearMissesAreLeftAlone(@ForAll long seed, @ForAll @IntRange(min = 1, max = 5) int missIndex) {
        Miss miss = Miss.values()[missIndex];
        Graph g = decomposition(seed, miss);
        List<String> was = ops(g);
        new PassManager().fullVerify(true).run(g, "recognize-composites");
        assertFalse(ops(g).contains("RMSNormalization"), miss + " was recognised:\n" + IrPrinter.print(g));
        assertEquals(was, ops(g), miss.toString());
    }

    @Property(tries = 100)
    void aMultiplierOfTheWholeShapeStaysAMulAfterTheNorm(@ForAll long seed) {
        Graph g = decomposition(seed, Miss.FULL_GAMMA), before = g.copy();
        new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
        assertEquals(List.of("RMSNormalization", "Mul"), ops(g), IrPrinter.print(before));
        List<Tensor> in = inputs(before, seed);
        assertClose(new ReferenceInterpreter().run(before, in), new ReferenceInterpreter().run(g, in), IrPrinter.print(before));
    }

    @Example
    void theZoosLlamaDecoderHasOnlyRmsNormalizationsLeft() {
        Graph g = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, 4, 0), 7), before = g.copy();
        new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
        // two per layer (input and post-attention) and the final norm
        assertEquals(2 * 2 + 1, ops(g).stream().filter(o -> o.equals("RMSNormalization")).count());
        assertFalse(ops(g).contains("ReduceMean"), ops(g).toString());
        assertFalse(ops(g).contains("Sqrt"), ops(g).toString());
        Node first = g.nodes().stream().filter(n -> n.opName().equals("RMSNormalization")).findFirst().orElseThrow();
        assertTrue(first.name().endsWith("input_layernorm"), first.name());
        List<Tensor> in = inputs(before, 3);
        for (int i = 0; i < in.size(); i++)
            if (!in.get(i).dtype().isFloating()) in.set(i, Tensor.zeros(in.get(i).dtype(), in.get(i).shape())); // token ids, positions
        assertClose(new ReferenceInterpreter().run(before, in), new ReferenceInterpreter().run(g, in), "llama-tiny");
    }
}
