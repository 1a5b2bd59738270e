package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

class ConvPassesTest {
    /** conv(3->8) -> BN -> (+ residual-like per-channel add) -> relu -> conv(8->8) -> BN. */
    private static Graph convBn(int channels) {
        NetworkBuilder b = new NetworkBuilder("convbn", org.tessel.api.OpRegistry.global(), 7);
        Value x = b.input("x", DType.F32, 1, 3, 6, 6);
        Value c1 = b.conv(x, b.randomWeights("w1", channels, 3, 3, 3), null, 1, 1);
        Value bn1 = b.batchNorm(c1, b.constant("s1", b.randomUniform(Shape.of(channels), 0.5f, 1.5f)), b.constant("b1", b.randomUniform(Shape.of(channels), -1, 1)),
                b.constant("m1", b.randomUniform(Shape.of(channels), -1, 1)), b.constant("v1", b.randomUniform(Shape.of(channels), 0.5f, 2)), 1e-5f);
        Value r = b.relu(bn1);
        Value c2 = b.conv(r, b.randomWeights("w2", channels, channels, 1, 1), b.constant("cb2", b.randomUniform(Shape.of(channels), -1, 1)), 1, 0);
        Value biased = b.add(c2, b.constant("extra", b.randomUniform(Shape.of(channels, 1, 1), -1, 1)));
        return b.output(b.relu(b.add(biased, r))).build();
    }

    private static Tensor input() {
        return new NetworkBuilder("in", org.tessel.api.OpRegistry.global(), 3).randomUniform(Shape.of(1, 3, 6, 6), -1, 1);
    }

    private static void assertClose(Tensor a, Tensor b, double tol) {
        assertEquals(a.shape(), b.shape());
        for (int i = 0; i < a.size(); i++) assertEquals(a.getDouble(i), b.getDouble(i), tol * (1 + Math.abs(a.getDouble(i))), "element " + i);
    }

    @Test void batchNormAndBiasAddsFoldIntoConvs() {
        Graph g = convBn(8);
        Tensor before = new ReferenceInterpreter().run(g, List.of(input())).get(0);
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "fold-batchnorm,fold-bias-add,dce");
        assertEquals(List.of("Conv", "Relu", "Conv", "Add", "Relu"), g.nodes().stream().map(Node::opName).toList());
        assertEquals(1, r.runs().get(0).stats().get("fold-batchnorm-into-conv"));
        assertEquals(1, r.runs().get(1).stats().get("fold-bias-add-into-conv"));
        assertClose(before, new ReferenceInterpreter().run(g, List.of(input())).get(0), 1e-5);
    }

    @Test void batchNormMustNotFoldWhenTheConvOutputIsUsedElsewhere() {
        NetworkBuilder b = new NetworkBuilder("shared");
        Value x = b.input("x", DType.F32, 1, 2, 4, 4);
        Value c = b.conv(x, b.randomWeights("w", 2, 2, 1, 1), null, 1, 0);
        Value one = b.constant("one", Shape.of(2), 1, 1), zero = b.constant("zero", Shape.of(2), 0, 0);
        Value bn = b.batchNorm(c, one, zero, zero, one, 1e-5f);
        Graph g = b.output(bn, c).build();
        new PassManager().run(g, "fold-batchnorm");
        assertTrue(g.nodes().stream().anyMatch(n -> n.opName().equals("BatchNormalization")));
    }

    @Test void convBiasResidualReluFusesIntoOneNode() {
        Graph g = convBn(8);
        Tensor before = new ReferenceInterpreter().run(g, List.of(input())).get(0);
        new PassManager().fullVerify(true).run(g, "fold-batchnorm,fold-bias-add,dce,fuse");
        assertEquals(2, g.nodes().size(), g.opHistogram().toString());
        assertTrue(g.nodes().stream().allMatch(n -> n.attrs().getString("kind", "").equals("conv_bias_act")));
        assertEquals(List.of("Conv", "Add", "Relu"), g.nodes().get(1).body().nodes().stream().map(Node::opName).toList());
        assertClose(before, new ReferenceInterpreter().run(g, List.of(input())).get(0), 1e-5);
    }

    @Test void nhwcPolicyInsertsReformatsOnlyAtBoundaries() {
        Graph g = convBn(8);
        Tensor before = new ReferenceInterpreter().run(g, List.of(input())).get(0);
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "fold-batchnorm,fold-bias-add,dce,fuse,assign-layouts{policy=nhwc},cancel-reformats");
        long reformats = g.nodes().stream().filter(n -> n.opName().equals("tessel.Reformat")).count();
        assertEquals(2, reformats, "one into NHWC at the input, one back to NCHW at the output: " + g.opHistogram());
        for (Node n : g.nodes()) if (n.opName().equals("tessel.Fused")) assertEquals(Layout.NHWC, n.output().type().layout());
        assertEquals(Layout.NCHW, g.outputs().get(0).type().layout());
        assertClose(before, new ReferenceInterpreter().run(g, List.of(input())).get(0), 1e-5);
        assertNotNull(r);
    }

    /**
     * A value that is both a graph output and read inside (a Relu feeding a conv): the output leaves through a reformat to
     * NCHW, and the conv keeps reading the NHWC value (it read the NCHW copy as if NHWC once: wrong numbers, no error).
     */
    @Test void aGraphOutputReadInsideKeepsItsLayoutForItsReaders() {
        NetworkBuilder b = new NetworkBuilder("out_and_inside", org.tessel.api.OpRegistry.global(), 5);
        Value x = b.input("x", DType.F32, 1, 8, 5, 5);
        Value c1 = b.conv(x, b.randomWeights("w1", 8, 8, 3, 3), null, 1, 1);
        Value r = b.relu(c1);
        Value c2 = b.conv(r, b.randomWeights("w2", 8, 8, 1, 1), null, 1, 0);
        Graph g = b.output(r).output(c2).build();
        List<Tensor> before = new ReferenceInterpreter().run(g, List.of(new NetworkBuilder("in", org.tessel.api.OpRegistry.global(), 3).randomUniform(Shape.of(1, 8, 5, 5), -1, 1)));
        new PassManager().fullVerify(true).run(g, "assign-layouts{policy=nhwc}");
        for (Value o : g.outputs()) assertEquals(Layout.NCHW, o.type().layout(), o.name() + " leaves channels-first");
        for (Node n : g.nodes())
            if (n.opName().equals("Conv")) assertEquals(Layout.NHWC, n.input(0).type().layout(), n.name() + " reads " + n.input(0).name() + " " + n.input(0).type());
        List<Tensor> after = new ReferenceInterpreter().run(g, List.of(new NetworkBuilder("in", org.tessel.api.OpRegistry.global(), 3).randomUniform(Shape.of(1, 8, 5, 5), -1, 1)));
        for (int i = 0; i < before.size(); i++) assertClose(before.get(i), after.get(i), 1e-5);
    }

    @Test void autoPolicyKeepsNchwForChannelCountsTensorCoresDislike() {
        Graph g = convBn(6);
        new PassManager().run(g, "fold-batchnorm,assign-layouts{policy=auto},cancel-reformats");
        assertEquals(0, g.nodes().stream().filter(n -> n.opName().equals("tessel.Reformat")).count());
    }

    @Test void cancelReformatsRemovesRoundTrips() {
        NetworkBuilder b = new NetworkBuilder("rt");
        Value x = b.input("x", DType.F32, 1, 2, 3, 3);
        Value a = b.op("tessel.Reformat", NetworkBuilder.attrs("to", "nhwc"), x);
        Value c = b.op("tessel.Reformat", NetworkBuilder.attrs("to", "nchw"), a);
        Graph g = b.output(b.relu(c)).build();
        new PassManager().run(g, "assign-layouts{policy=nchw},cancel-reformats,dce");
        assertEquals(List.of("Relu"), g.nodes().stream().map(Node::opName).toList());
    }
}
