package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.PassManager;

/** CPU side of {@link StemConv}: the forms, and that the f16 pipeline gives the stem the shape StemConv takes. */
class StemConvTest {
    @Test
    void formsParseAndFit() {
        Graph g = StemGpuTest.stem(1, 3, 16, 7, false);
        Node any = g.nodes().get(0);
        assertEquals(StemConv.Form.PAD4, StemConv.Form.of(any, "tessel.conv.stem/nchw_pad4"));
        assertEquals(StemConv.Form.NCHW_IN, StemConv.Form.of(any, "nchw_in"));
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> StemConv.Form.of(any, "pad16"));
        assertTrue(e.getMessage().contains(any.name()), e.getMessage());
        assertEquals(8, StemConv.Form.PAD8.channels(3));
        assertEquals(4, StemConv.Form.PAD4.channels(3));
        assertEquals(3, StemConv.Form.NHWC.channels(3));
        assertTrue(StemConv.Form.PAD4.fits(4));
        assertFalse(StemConv.Form.PAD4.fits(5));
    }

    /** The network input's reformat to NHWC feeds the fused stem convolution only (what ChannelPad.absorbs asks). */
    @Test
    void fp16PipelineGivesAnAbsorbableStem() {
        for (String model : new String[] {"resnet50", "mobilenetv2", "stem3", "stem4"}) {
            Graph g = model.equals("stem3") ? StemGpuTest.stem(3, 3, 45, 7, false) : model.equals("stem4") ? StemGpuTest.stem(2, 4, 32, 3, true) : org.tessel.ir.zoo.Zoo.build(model);
            new PassManager().run(g, model.startsWith("stem") ? StemGpuTest.NHWC : GpuEngine.pipeline(GpuEngine.Precision.FP16, g));
            Node reformat = g.nodes().stream().filter(n -> n.opName().equals("tessel.Reformat") && g.inputs().contains(n.input(0))).findFirst().orElseThrow();
            assertEquals("nhwc", reformat.attrs().getString("to", ""), model);
            var users = g.users(reformat.output());
            assertEquals(1, users.size(), model);
            Node conv = users.get(0);
            assertEquals("conv_bias_act", conv.attrs().getString("kind", ""), model + ": " + conv.describe());
            assertEquals(Layout.NHWC, conv.output().type().layout(), model);
            assertEquals(model.equals("stem4") ? 4 : 3, reformat.output().type().shape().dim(1), model);
        }
    }
}
