package org.tessel.runtime.llm.quant;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.llm.DecoderRunner;

/**
 * The figures of runtime/LLM.md's quantization section (CPU engine, seeded random weights, so a
 * sanity check, not an accuracy claim): per model and mode, logits relative L2 against FP32 over
 * held-out text windows, greedy-token agreement over generated tokens, constant bytes, and how many
 * linear layers were quantized. Asserts only what must hold on any weights: INT8 closer than INT4,
 * finer INT4 groups no worse than coarser ones where both quantize the same layers.
 */
class QuantizationFiguresTest {
    static final long SEED = 42;
    /** A wider Llama (width 256, 4 layers, SwiGLU 768) where groups of 128 fit every layer. */
    static final DecoderConfig LLAMA_WIDE = new DecoderConfig(DecoderConfig.Family.LLAMA, 512, 128, 256, 4, 4, 2, 768, 1e-5f, false, 10000);

    @Test void figures() {
        report("llama-tiny", Zoo.decoder("llama-tiny", 0), List.of("int8:64", "int4:32", "int4:64"), "int4:32");
        report("gpt2-tiny", Zoo.decoder("gpt2-tiny", 0), List.of("int8:64", "int4:32", "int4:64"), "int4:32");
        // about a minute more: on request (-Dtessel.llmquant.wide=true)
        if (Boolean.getBoolean("tessel.llmquant.wide")) report("llama-tiny", LLAMA_WIDE, List.of("int8:128", "int4:32", "int4:64", "int4:128"), "int4:128");
    }

    static void report(String model, DecoderConfig c, List<String> weightModes, String awqMode) {
        long[][] calib = CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), 8, 64, 0);
        long[][] heldOut = CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), 4, 64, 10000);
        long[][] prompts = CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), 4, 8, 20000);
        int tokens = 32;
        DecoderRunner fp32 = new DecoderRunner(model, c, SEED);
        List<Tensor> refLogits = QuantizationEval.logits(fp32, heldOut);
        List<long[]> refOut = QuantizationEval.greedy(fp32, prompts, tokens);
        System.out.printf("%n%s (width %d, %d layers, SwiGLU/MLP %d)%n| mode | linear layers quantized | logits rel L2 vs FP32 | greedy agreement (%d prompts x %d tokens) | constant bytes |%n| --- | --- | --- | --- | --- |%n",
                model, c.hidden(), c.layers(), c.ffn(), prompts.length, tokens);
        QuantizationEval.Figures base = QuantizationEval.figures(fp32, heldOut, refLogits, prompts, refOut, tokens);
        print(base);
        java.util.Map<String, QuantizationEval.Figures> by = new java.util.LinkedHashMap<>();
        for (String w : weightModes) by.put(w, run(model, c, QuantizationSpec.parse(w, false, null), calib, heldOut, refLogits, prompts, refOut, tokens));
        QuantizationEval.Figures awq = run(model, c, QuantizationSpec.parse(awqMode, true, null), calib, heldOut, refLogits, prompts, refOut, tokens);
        QuantizationEval.Figures sq = run(model, c, QuantizationSpec.parse(null, false, ""), calib, heldOut, refLogits, prompts, refOut, tokens);
        // the same W8A8 without the migration, for comparison
        QuantizationEval.Figures plain = QuantizationEval.figures(new DecoderRunner(model, c, SEED,
                LlmQuantization.calibrate(model, c, SEED, QuantizationSpec.parse(null, false, ""), calib, false)), heldOut, refLogits, prompts, refOut, tokens);
        System.out.printf("| w8a8 unsmoothed | %d | %.4f | %.1f%% | %,d |%n", plain.quantizedLayers(), plain.logitsRelL2(), 100 * plain.tokenAgreement(), plain.weightBytes());
        assertEquals(c.layers() * (c.family() == DecoderConfig.Family.LLAMA ? 7 : 4), sq.quantizedLayers(), "W8A8: every linear layer but the head");
        assertEquals(0, base.logitsRelL2());
        String w8 = weightModes.getFirst();
        assertTrue(by.get(w8).logitsRelL2() < by.get("int4:32").logitsRelL2(), "INT8 closer to FP32 than INT4");
        assertTrue(by.get("int4:32").weightBytes() < base.weightBytes());
        assertTrue(awq.quantizedLayers() == by.get(awqMode).quantizedLayers());
    }

    static QuantizationEval.Figures run(String model, DecoderConfig c, QuantizationSpec spec, long[][] calib, long[][] heldOut, List<Tensor> refLogits,
                                        long[][] prompts, List<long[]> refOut, int tokens) {
        LlmQuantization q = LlmQuantization.calibrate(model, c, SEED, spec, calib);
        if (spec.awq()) for (String n : q.notes()) System.out.println("  " + n);
        QuantizationEval.Figures f = QuantizationEval.figures(new DecoderRunner(model, c, SEED, q), heldOut, refLogits, prompts, refOut, tokens);
        print(f);
        return f;
    }

    static void print(QuantizationEval.Figures f) {
        System.out.printf("| %s | %d | %.4f | %.1f%% | %,d |%n", f.label(), f.quantizedLayers(), f.logitsRelL2(), 100 * f.tokenAgreement(), f.weightBytes());
    }
}
