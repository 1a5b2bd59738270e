package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.tessel.ir.io.Json;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.runtime.llm.tokenizer.Tokenizer;

/**
 * The trained pair of benchmarks/peers/train_lm_pair.py (folder given by -Dtessel.lm.pair=DIR; skipped without it)
 * against its golden.json from transformers and HF tokenizers: the prompts' ids from Tessel's tokenizer equal HF's (and
 * decode back to the text), each model's first-step top-5 logits match within 1e-3 of the largest, and its greedy tokens
 * equal transformers' up to the first step whose top-2 margin was under 1e-3 (a near tie that rounding may flip). The
 * target is checked twice: from its checkpoint folder ({@link HfCheckpoint} into the zoo's graph) and from its
 * decoder-with-past ONNX export ({@link OnnxDecoder}: torch.onnx.export's graph, past padded to buckets), "target-onnx"
 * (golden.json's "onnx"; an export that failed, "onnx_error", fails the test naming it).
 * Prints one LMPAIR line per model and prompt.
 */
class LmPairGoldenTest {
    static final double LOGIT_TOLERANCE = 1e-3, NEAR_TIE = 1e-3;

    @Test
    void tokenizerAndGreedyOutputsMatchTransformers() throws Exception {
        String prop = System.getProperty("tessel.lm.pair");
        Assumptions.assumeTrue(prop != null && Files.isRegularFile(Path.of(prop, "golden.json")),
                "skipped: -Dtessel.lm.pair=DIR names no folder with golden.json (benchmarks/peers/train_lm_pair.py --out DIR writes one); got " + prop);
        Path dir = Path.of(prop);
        Map<?, ?> golden = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("golden.json")), dir.resolve("golden.json").toString());
        int newTokens = ((Long) golden.get("new_tokens")).intValue();
        Tokenizer tok = Tokenizer.load(dir.resolve("target").resolve(HfCheckpoint.TOKENIZER));
        List<String> failures = new ArrayList<>();
        assertEquals(((Long) golden.get("vocab")).intValue(), tok.vocabSize(), "tokenizer size");
        for (String label : List.of("target", "draft", "target-onnx")) {
            String name = label.equals("target-onnx") ? "target" : label;
            DecoderSteps<PagedKvCache> runner;
            if (label.equals("target-onnx")) {
                if (golden.get("onnx_error") != null) {
                    failures.add("train_lm_pair.py could not export the target as ONNX: " + golden.get("onnx_error"));
                    continue;
                }
                if (!(golden.get("onnx") instanceof Map<?, ?> onnx)) {
                    failures.add("golden.json names no ONNX export of the target (\"onnx\"): rerun train_lm_pair.py");
                    continue;
                }
                runner = OnnxDecoder.load(dir.resolve((String) onnx.get("target")), null);
            } else {
                HfCheckpoint ck = HfCheckpoint.load(dir.resolve(name));
                runner = new DecoderRunner(name, ck.config(), ZooOptions.DEFAULT_SEED, ck.weights(), LlmQuantization.uncalibrated(QuantizationSpec.FP32));
            }
            int p = 0;
            for (Object o : (List<?>) golden.get("prompts")) {
                Map<?, ?> prompt = (Map<?, ?>) o;
                String text = (String) prompt.get("text");
                int[] want = ((List<?>) prompt.get("ids")).stream().mapToInt(x -> ((Long) x).intValue()).toArray();
                int[] ids = tok.encode(text);
                if (!java.util.Arrays.equals(want, ids)) failures.add("prompt " + p + ": ids differ from HF tokenizers'");
                if (!text.equals(tok.decode(ids))) failures.add("prompt " + p + ": decode(encode(text)) is not the text");
                Map<?, ?> g = (Map<?, ?>) ((Map<?, ?>) prompt.get("models")).get(name);
                long[] promptIds = java.util.Arrays.stream(want).asLongStream().toArray();
                // first step: the prompt's last logits against transformers' top 5
                PagedKvCache cache = runner.newCache(16, (want.length + newTokens) / 16 + 2);
                float[] logits = runner.step(List.of(new DecoderRunner.Row("s", promptIds)), cache).getFirst();
                double scale = 0, worst = 0;
                for (float v : logits) scale = Math.max(scale, Math.abs(v));
                for (Object t : (List<?>) g.get("top5")) {
                    List<?> pair = (List<?>) t;
                    int id = ((Long) pair.get(0)).intValue();
                    double value = ((Number) pair.get(1)).doubleValue();
                    worst = Math.max(worst, Math.abs(logits[id] - value));
                }
                if (worst > LOGIT_TOLERANCE * scale) failures.add(String.format("%s prompt %d: top-5 logits differ by %.3g (largest logit %.3g)", label, p, worst, scale));
                // greedy: the scheduler's greedy decoding, compared up to the first near tie
                long[] out = new BatchScheduler(runner, runner.newCache(16, (want.length + newTokens) / 16 + 2), BatchScheduler.Policy.IN_FLIGHT, 1, want.length)
                        .run(List.of(new Request("g", promptIds, newTokens, 0, Sampler.greedy()))).outcomes().getFirst().output();
                List<?> ref = (List<?>) g.get("greedy"), margins = (List<?>) g.get("margins");
                int equal = 0;
                for (; equal < ref.size(); equal++) {
                    if (((Number) margins.get(equal)).doubleValue() < NEAR_TIE) break; // a near tie: this token and those after it are not compared
                    if (out[equal] != (Long) ref.get(equal)) {
                        failures.add(label + " prompt " + p + ": greedy token " + equal + " is " + out[equal] + ", transformers' " + ref.get(equal));
                        break;
                    }
                }
                System.out.printf("LMPAIR|%s|prompt %d|%d ids|top-5 logits max diff %.2e of %.2f|greedy: %d of %d tokens equal%s%n", label, p, want.length, worst, scale,
                        equal, ref.size(), equal < ref.size() && ((Number) margins.get(equal)).doubleValue() < NEAR_TIE ? ", then a near tie (not compared)" : "");
                p++;
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }
}
