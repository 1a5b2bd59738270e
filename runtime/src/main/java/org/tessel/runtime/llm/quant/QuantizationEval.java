package org.tessel.runtime.llm.quant;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.llm.BatchScheduler;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.PagedKvCache;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;

/**
 * How far a quantized decoder is from its FP32 self, on the CPU engine: relative L2 of the logits of
 * whole held-out sequences (one prefill each), greedy-token agreement over generated tokens, and the
 * bytes of the graph's constants.
 */
public final class QuantizationEval {
    private QuantizationEval() {}

    /** One mode's figures against FP32; {@code outputs} are its generated tokens per prompt. */
    public record Figures(String label, double logitsRelL2, double tokenAgreement, long weightBytes, int quantizedLayers, List<long[]> outputs) {}

    /** Logits [len, vocab] of each sequence, each run as one prefill on a CPU engine of the runner's graph. */
    public static List<Tensor> logits(DecoderRunner runner, long[][] sequences) {
        int len = sequences[0].length;
        Graph g = runner.graph(new DecoderShape(1, len, 0));
        new PassManager().run(g, StandardPipelines.resolve("standard"));
        var ctx = Engine.buildCpu(g).createContext();
        List<Tensor> out = new ArrayList<>();
        for (long[] seq : sequences) {
            long[] mask = new long[len], pos = new long[len];
            for (int i = 0; i < len; i++) { mask[i] = 1; pos[i] = i; }
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, len), seq));
            in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(1, len), mask));
            in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, len), pos));
            out.add(ctx.run(in).get("logits"));
        }
        return out;
    }

    /** Greedy generation of {@code tokens} tokens after each prompt, one request at a time. */
    public static List<long[]> greedy(DecoderRunner runner, long[][] prompts, int tokens) {
        List<long[]> out = new ArrayList<>();
        for (long[] p : prompts) {
            int blocks = (p.length + tokens + 15) / 16;
            PagedKvCache cache = runner.newCache(16, blocks);
            var report = new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 1, p.length)
                    .run(List.of(new Request("q", p, tokens, 0, Sampler.greedy())));
            out.add(report.outcomes().getFirst().output());
        }
        return out;
    }

    /** Mean over sequences of ||q - f|| / ||f||. */
    public static double meanRelL2(List<Tensor> fp32, List<Tensor> quantized) {
        double s = 0;
        for (int i = 0; i < fp32.size(); i++) s += Tensor.relativeL2(fp32.get(i), quantized.get(i));
        return s / fp32.size();
    }

    /** Share of positions where the two generations have the same token. */
    public static double agreement(List<long[]> a, List<long[]> b) {
        long same = 0, all = 0;
        for (int i = 0; i < a.size(); i++)
            for (int j = 0; j < a.get(i).length; j++, all++) if (j < b.get(i).length && a.get(i)[j] == b.get(i)[j]) same++;
        return all == 0 ? 1 : same / (double) all;
    }

    /** The figures of {@code runner} against the FP32 logits and generations given. */
    public static Figures figures(DecoderRunner runner, long[][] heldOut, List<Tensor> fp32Logits, long[][] prompts, List<long[]> fp32Outputs, int tokens) {
        List<Tensor> l = logits(runner, heldOut);
        List<long[]> gen = greedy(runner, prompts, tokens);
        Graph g = runner.graph(new DecoderShape(1, 1, 0));
        var ops = g.opHistogram();
        int layers = ops.getOrDefault(org.tessel.ir.ops.QuantizedMatMulOps.WEIGHT_ONLY, 0) + ops.getOrDefault(org.tessel.ir.ops.QuantizedMatMulOps.W8A8, 0);
        return new Figures(runner.quantization().spec().label(), meanRelL2(fp32Logits, l), agreement(fp32Outputs, gen), LlmQuantization.weightBytes(g), layers, gen);
    }
}
