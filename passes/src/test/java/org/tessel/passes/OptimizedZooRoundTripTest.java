package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.text.GraphEquality;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.text.IrPrinter;
import org.tessel.ir.zoo.Zoo;

/**
 * Every optimized zoo model passes the FULL verifier (types re-inferred, inside fused bodies too)
 * and survives the text form that engine files store. Fused attention bodies take shape-deciding
 * inputs (Reshape's shape) as body inputs bound to outer constants: inference inside the body must
 * see those constants, or the model cannot be verified or reloaded (BERT's engine file failed to load so).
 */
class OptimizedZooRoundTripTest {
    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "vit-tiny", "resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny",
            "efficientnet-b0-tiny", "convnext-tiny-tiny", "unet-tiny", "unet-bilinear-tiny", "crnn-tiny", "crnn-lstm-tiny", "ssdlite-tiny"})
    void optimizedModelsVerifyFullyAndRoundTripThroughText(String model) {
        Graph g = Zoo.build(model);
        new PassManager().run(g, StandardPipelines.STANDARD);
        List<String> problems = Verifier.check(g, Verifier.Level.FULL);
        assertEquals(List.of(), problems, model + " after the standard pipeline");
        Map<String, Tensor> weights = new java.util.HashMap<>();
        for (Value c : g.constants()) weights.put(c.name(), c.constantValue());
        String text = IrPrinter.print(g, IrPrinter.Options.elidingAbove(0));
        Graph back = new IrParser(OpRegistry.global(), weights).read(text, model + ".tir");
        GraphEquality.assertEqual(g, back);
    }
}
