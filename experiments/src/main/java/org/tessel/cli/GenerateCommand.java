package org.tessel.cli;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.function.Supplier;
import org.tessel.runtime.llm.BatchScheduler;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.DecoderSteps;
import org.tessel.runtime.llm.GpuDecoderRunner;
import org.tessel.runtime.llm.HfCheckpoint;
import org.tessel.runtime.llm.KvCache;
import org.tessel.runtime.llm.OnnxDecoder;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;
import org.tessel.runtime.llm.SpeculativeDecoder;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.runtime.llm.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Generates tokens from a prompt (token ids, or text through a tokenizer) with a zoo decoder or a Hugging Face checkpoint folder
 * on CPU engines (or, with --gpu, GPU engines) and a paged KV cache.
 */
@Command(name = "generate", description = {"Generate tokens from a prompt with a zoo decoder (zoo:gpt2-tiny, zoo:llama-tiny, ...) a Hugging Face Llama checkpoint folder "
        + "(config.json and its weights: model.safetensors or pytorch_model.bin, whole or sharded with an index) or a decoder-with-past ONNX file (transformers' export with KV-cache inputs and outputs) on CPU engines (--gpu: FP16 or, with --bf16, BF16 GPU engines, the KV cache on the device): prefill, then one decode step per "
        + "token with a paged KV cache; reports time to first token and per output token.",
        "The prompt is token ids (--prompt-tokens) or text (--prompt) through a tokenizer.json (--tokenizer, or the checkpoint folder's own, or the one beside an ONNX file); with a tokenizer the output is "
        + "printed as text too. The zoo decoders have random weights and no tokenizer. Engines (one per step shape) are built on first use; their build time is reported apart."})
final class GenerateCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "A zoo decoder, zoo:NAME (see `tessel zoo`), a Hugging Face Llama checkpoint folder "
            + "(config.json and model.safetensors or pytorch_model.bin, each whole or sharded with its .index.json; F32/F16/BF16), or a decoder-with-past ONNX file (FILE.onnx; with --gpu its step engines run on the GPU and its KV cache stays in host memory).") String model;
    @Option(names = "--prompt-tokens", split = ",", paramLabel = "ID,ID,...", description = "The prompt as token ids, comma-separated.") List<Long> prompt;
    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt as text, encoded by the tokenizer (with its special tokens, as transformers' default).") String promptText;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A Hugging Face tokenizer.json (BPE: byte-level or SentencePiece-style; WordPiece as BERT; Unigram as T5/ALBERT, "
            + "SentencePiece's precompiled charsmap included); default: MODEL/tokenizer.json "
            + "of a checkpoint folder that has one, or tokenizer.json beside an ONNX file.") java.nio.file.Path tokenizerFile;
    @Option(names = "--max-new-tokens", required = true, converter = Ranges.AtLeastOne.class, paramLabel = "N", description = "How many tokens to generate.") int maxNew;
    @Option(names = "--greedy", description = "Pick the most likely token each step (the default).") boolean greedy;
    @Option(names = "--temperature", converter = Ranges.Temperature.class, paramLabel = "T", description = "Sample at this temperature instead of greedy.") Double temperature;
    @Option(names = "--top-k", converter = Ranges.AtLeastZero.class, paramLabel = "K", description = "Sample among the K most likely tokens (0, the default: all); needs --temperature.") Integer topK;
    @Option(names = "--seed", paramLabel = "S", description = "Seed of the sampling (default 0); needs --temperature.") Long seed;
    @Option(names = "--block-size", converter = Ranges.AtLeastOne.class, defaultValue = "16", description = "KV cache block size in tokens (default ${DEFAULT-VALUE}).") int blockSize;
    @Option(names = "--layers", converter = Ranges.AtLeastOne.class, description = "Decoder layers (default: the model's own).") Integer layers;
    @Option(names = "--draft", paramLabel = "MODEL", description = "Speculative decoding with this decoder (zoo:NAME, checkpoint folder or ONNX file) as the draft (greedy only; same vocabulary): the output is the target's own greedy output.") String draft;
    @Option(names = "--draft-layers", converter = Ranges.AtLeastOne.class, paramLabel = "L", description = "The draft's layers (default: its own; with the target's name, its first L layers).") Integer draftLayers;
    @Option(names = "--weights", paramLabel = "int8|int4[:GROUP]", description = "Quantize the linear layers' weights group-wise (weight-only, tessel.WeightOnlyMatMul; "
            + "groups of 128 by default), on the CPU engine's dequantizing kernel.") String weights;
    @Option(names = "--awq", description = "AWQ activation-aware scaling before --weights, calibrated on text windows (see --calib-text).") boolean awq;
    @Option(names = "--smoothquant", arity = "0..1", fallbackValue = "", paramLabel = "ALPHA", description = "SmoothQuant W8A8 (tessel.W8A8MatMul, int32 sums), smoothing "
            + "strength ALPHA (default 0.5; --smoothquant=0.8), calibrated on text windows.") String smoothQuant;
    @Option(names = "--calib-text", paramLabel = "FILE", description = "Text whose bytes (mod the vocabulary) are the calibration tokens of --awq and --smoothquant "
            + "(default /usr/share/common-licenses/GPL-3).") java.nio.file.Path calibText;
    @Option(names = "--lora", paramLabel = "NAME=FOLDER", description = "Serve this LoRA adapter (repeatable): a PEFT folder (adapter_config.json, adapter_model.safetensors), "
            + "or NAME=random[:RANK[:SEED]] for a seeded random one over the q, k, v, o projections.") List<String> lora;
    @Option(names = "--adapter", paramLabel = "NAME", description = "Generate through this adapter of --lora (default: the base model).") String adapter;
    @Option(names = "--gpu", description = "Run on the GPU: FP16 engines planned by the joint search, attention as tessel.attention.paged over a device KV cache "
            + "written in place, decode steps replayed as CUDA graphs (refused without a CUDA GPU); with --lora, --draft or --bf16 too. An ONNX decoder's step engines "
            + "run on the GPU with its KV cache in host memory, copied to and from the device each step.") boolean gpu;
    @Option(names = "--bf16", description = "With --gpu: BF16 engines, each step planned at BF16 by the joint search, the KV cache in bf16.") boolean bf16;
    @Option(names = "--prefill-form", paramLabel = "mma|tiled", description = "With --gpu: force the paged prefill kernel's form on the search for prefill chunks, "
            + "mma (f16 tensor cores; FP16 with an f16 KV cache) or tiled (f32 on CUDA cores). Default: the search's cheaper form for each chunk (mma where it runs).") String prefillForm;
    @Option(names = "--kv-cache", paramLabel = "native|fp8[:SCALE]", description = "How the KV cache stores keys and values: native (f32 on CPU engines, f16/bf16 with --gpu; "
            + "the default), fp8 (E4M3 codes, per-layer K and V scales amax / 448 calibrated on text windows) or fp8:SCALE (one fixed scale).") String kvCache;
    @Option(names = "--speculate", converter = Ranges.AtLeastOne.class, paramLabel = "K", description = "Tokens the draft proposes per round (default 4); needs --draft.") Integer speculate;

    private Tokenizer tokenizer;

    @Override public Integer call() {
        readPrompt();
        if (greedy && temperature != null) throw new IllegalArgumentException("--greedy and --temperature exclude each other: pick one");
        if (temperature == null && (topK != null || seed != null))
            throw new IllegalArgumentException((topK != null ? "--top-k" : "--seed") + " applies to sampling: add --temperature T (or drop it for greedy decoding)");
        if (draft == null && (draftLayers != null || speculate != null))
            throw new IllegalArgumentException((draftLayers != null ? "--draft-layers" : "--speculate") + " applies to speculative decoding: add --draft MODEL");
        QuantizationSpec spec = QuantizationSpec.parse(weights, awq, smoothQuant);
        if (calibText != null && !spec.awq() && !spec.smoothQuant()) throw new IllegalArgumentException("--calib-text applies to --awq and --smoothquant");
        if (draft != null && !spec.isFp32()) throw new IllegalArgumentException("--draft runs unquantized target and draft (FP32 on CPU engines, FP16 or BF16 with --gpu); drop --weights/--smoothquant or --draft");
        if (adapter != null && (lora == null || lora.isEmpty())) throw new IllegalArgumentException("--adapter " + adapter + " names an adapter of --lora NAME=FOLDER: add one");
        if (draft != null && lora != null) throw new IllegalArgumentException("--draft runs the base models; drop --lora or --draft");
        if (bf16 && !gpu) throw new IllegalArgumentException("--bf16 runs the GPU runner at BF16: add --gpu");
        DecoderModels.checkPrefillForm(prefillForm, model, gpu, bf16, kvCache);
        DecoderModels.checkOnnxFlags(model, spec, lora);
        if (draft != null) DecoderModels.checkOnnxFlags(draft, spec, lora);
        if (draft != null && kvCache != null && DecoderModels.onnx(draft)) throw new IllegalArgumentException("--kv-cache applies to zoo decoders and checkpoints; the draft " + draft + " (an ONNX decoder) keeps its own cache: drop --kv-cache");
        if (DecoderModels.onnx(model) && kvCache != null) throw new IllegalArgumentException("--kv-cache applies to zoo decoders and checkpoints; an ONNX decoder keeps its own cache: drop --kv-cache");
        if (draft != null) return speculative(spec);
        Sampler sampler = temperature == null ? Sampler.greedy() : Sampler.sampling(temperature, topK == null ? 0 : topK, seed == null ? 0 : seed);
        if (DecoderModels.onnx(model)) {
            if (!gpu) return generate(DecoderModels.onnxDecoder(model, layers), sampler, "weights: as stored in " + model, null, "", () -> "CPU backend");
            try (OnnxDecoder onnx = DecoderModels.onnxGpuDecoder(model, layers, bf16)) {
                return generate(onnx, sampler, "weights: as stored in " + model + ", step engines at " + onnx.gpuPrecision() + " on the GPU", null,
                        " in host memory (each step copies the past to the device and the present back)", onnx::describeBackend);
            }
        }
        if (gpu)
            try (GpuDecoderRunner base = DecoderModels.gpuRunner(model, layers, spec, bf16, kvCache, prefillForm)) {
                GpuDecoderRunner runner = DecoderModels.withLora(base, model, layers, lora);
                try {
                    return generate(runner, sampler, DecoderModels.describeWeights(runner), DecoderModels.describeKv(runner.kvCache(), runner.config(), 2), " on the device",
                            () -> String.format("GPU backend (%s), %d decode steps replayed as CUDA graphs", runner.precision(), runner.graphReplays()));
                } finally {
                    if (runner != base) runner.close();
                }
            }
        DecoderRunner base = DecoderModels.runner(model, layers, spec, calibText);
        DecoderRunner runner = DecoderModels.withLora(base.withKvCache(DecoderModels.kvCache(kvCache, base)), lora);
        return generate(runner, sampler, DecoderModels.describeWeights(runner), DecoderModels.describeKv(runner.kvCache(), runner.config(), 4), "", () -> "CPU backend");
    }

    /**
     * One request on {@code runner}, a chunk as long as the prompt: prefill in one step, then one decode step per token; {@code kv} the cache's
     * storage (a line, or null), {@code where} the cache lives, {@code backend} after the run.
     */
    private <C extends KvCache> int generate(DecoderSteps<C> runner, Sampler sampler, String weights, String kv, String where, Supplier<String> backend) {
        long[] ids = prompt.stream().mapToLong(Long::longValue).toArray();
        int tokens = ids.length + maxNew;
        try (C cache = runner.newCache(blockSize, Math.max(1, (tokens + blockSize - 1) / blockSize))) {
            BatchScheduler.Report report = new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 1, Math.max(1, ids.length))
                    .run(List.of(new Request("generate", ids, maxNew, 0, sampler, adapter)));
            BatchScheduler.Outcome o = report.outcomes().getFirst();
            if (o.refused()) throw new IllegalArgumentException(o.refusal());
            System.out.println(DecoderModels.describe(runner));
            System.out.println(weights);
            if (kv != null) System.out.println(kv);
            if (DecoderModels.describeLora(runner) != null) System.out.println(DecoderModels.describeLora(runner) + "; this request: " + (adapter == null ? "the base model" : adapter));
            printRun(sampler, ids, o);
            System.out.printf("kv cache: %d blocks of %d tokens%s, mean utilisation %.1f%% over %d steps; engines: %d built in %.2f s (not counted above), %s%n",
                    cache.numBlocks(), blockSize, where, 100 * report.meanKvUtilisation(), report.steps(), report.engines(), report.buildSeconds(), backend.get());
        }
        return 0;
    }

    private int speculative(QuantizationSpec spec) {
        if (temperature != null) throw new IllegalArgumentException("--draft decodes greedily (its output is the target's greedy output); drop --temperature");
        if (!gpu) return speculative(withKv(DecoderModels.steps(model, layers)), withKv(DecoderModels.steps(draft, draftLayers)), "CPU backend");
        DecoderSteps<?> target = null, draftRunner = null;
        try {
            target = DecoderModels.gpuSteps(model, layers, spec, bf16, kvCache, prefillForm);
            draftRunner = DecoderModels.gpuSteps(draft, draftLayers, spec, bf16, kvCache, DecoderModels.onnx(draft) ? null : prefillForm);
            return speculative(target, draftRunner, "GPU backend (" + (bf16 ? "BF16" : "FP16") + (target instanceof OnnxDecoder || draftRunner instanceof OnnxDecoder
                    ? "; an ONNX decoder's KV cache in host memory, copied to and from the device each step" : "") + ")");
        } finally {
            DecoderModels.close(draftRunner);
            DecoderModels.close(target);
        }
    }

    /** A CPU runner with its KV cache stored as {@code --kv-cache} says (each model's FP8 scales its own); ONNX decoders as they are. */
    private DecoderSteps<?> withKv(DecoderSteps<?> r) {
        return kvCache != null && r instanceof DecoderRunner d ? d.withKvCache(DecoderModels.kvCache(kvCache, d)) : r;
    }

    /** The target generating {@code ids}' continuation alone, greedily, in a cache of its own. */
    private <C extends KvCache> BatchScheduler.Outcome alone(DecoderSteps<C> target, long[] ids) {
        C cache = target.newCache(blockSize, Math.max(1, (ids.length + maxNew + blockSize - 1) / blockSize));
        try {
            return new BatchScheduler(target, cache, BatchScheduler.Policy.IN_FLIGHT, 1, Math.max(1, ids.length))
                    .run(List.of(new Request("alone", ids, maxNew, 0, Sampler.greedy()))).outcomes().getFirst();
        } finally {
            cache.close();
        }
    }

    private int speculative(DecoderSteps<?> target, DecoderSteps<?> draftRunner, String backend) {
        long[] ids = prompt.stream().mapToLong(Long::longValue).toArray();
        int k = speculate == null ? 4 : speculate;
        SpeculativeDecoder.Result r = new SpeculativeDecoder(target, draftRunner, k).generate(ids, maxNew, blockSize);
        // the target alone, greedy, for the speed-up (engine building is left out of both clocks)
        BatchScheduler.Outcome alone = alone(target, ids);
        if (alone.refused()) throw new IllegalArgumentException(alone.refusal());
        boolean trained = DecoderModels.trained(target) && DecoderModels.trained(draftRunner);
        System.out.println(DecoderModels.describe(target));
        System.out.println("draft: " + DecoderModels.label(draftRunner) + " with " + draftRunner.config().layers() + " layer(s), " + k + " tokens proposed per round; greedy");
        System.out.println("prompt: " + join(ids) + " (" + ids.length + " tokens)");
        System.out.println("output: " + join(r.output()) + " (" + r.output().length + " tokens)");
        printText(ids, r.output());
        System.out.printf("acceptance: %d of %d proposed tokens (%.1f%%; %s); target steps %d, draft steps %d%n", r.accepted(), r.proposed(), 100 * r.acceptanceRate(),
                trained ? "trained weights" : "random weights, so the rate says nothing about a trained draft", r.targetSteps(), r.draftSteps());
        System.out.printf("time: %.2f ms for %d tokens (%.1f tokens/s; draft %.2f ms, %.3f ms a step; target %.2f ms, %.3f ms a step); engines: built in %.2f s (not counted), %s%n",
                r.seconds() * 1e3, r.output().length, r.output().length / r.seconds(), r.draftSeconds() * 1e3, r.draftSeconds() * 1e3 / Math.max(1, r.draftSteps()),
                r.targetSeconds() * 1e3, r.targetSeconds() * 1e3 / Math.max(1, r.targetSteps()), (target.buildNanos() + draftRunner.buildNanos()) / 1e9, backend);
        System.out.printf("target alone: %.2f ms for %d tokens (%.1f tokens/s), %s; speed-up %.2fx%n", alone.finishSeconds() * 1e3, alone.output().length,
                alone.output().length / alone.finishSeconds(), java.util.Arrays.equals(alone.output(), r.output()) ? "the same tokens" : "OTHER TOKENS than speculative decoding",
                alone.finishSeconds() / r.seconds());
        return 0;
    }

    /**
     * The tokenizer (--tokenizer, or the checkpoint folder's tokenizer.json) and the prompt's ids: --prompt-tokens, or --prompt's text
     * encoded. A tokenizer with more ids than the model has embedding rows is refused.
     */
    private void readPrompt() {
        if ((prompt == null) == (promptText == null))
            throw new IllegalArgumentException(prompt == null ? "no prompt: give --prompt TEXT (with a tokenizer) or --prompt-tokens ID,ID,..."
                    : "--prompt and --prompt-tokens exclude each other: give the prompt once");
        java.nio.file.Path file = tokenizerFile;
        if (file == null && DecoderModels.checkpoint(model) && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(model, HfCheckpoint.TOKENIZER)))
            file = java.nio.file.Path.of(model, HfCheckpoint.TOKENIZER);
        if (file == null && DecoderModels.onnx(model) && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(model).toAbsolutePath().resolveSibling(HfCheckpoint.TOKENIZER)))
            file = java.nio.file.Path.of(model).toAbsolutePath().resolveSibling(HfCheckpoint.TOKENIZER);
        if (file == null) {
            if (promptText != null)
                throw new IllegalArgumentException("--prompt TEXT needs a tokenizer: give --tokenizer FILE (a Hugging Face tokenizer.json), or a checkpoint folder holding tokenizer.json "
                        + "(or an ONNX file with tokenizer.json beside it)");
            return;
        }
        tokenizer = Tokenizer.load(file);
        checkVocabulary(model, layers, "MODEL");
        if (draft != null) checkVocabulary(draft, draftLayers, "--draft");
        if (promptText != null) prompt = java.util.Arrays.stream(tokenizer.encode(promptText)).mapToObj(i -> (long) i).toList();
    }

    private void checkVocabulary(String m, Integer l, String what) {
        int rows = DecoderModels.config(m, l).vocab();
        if (tokenizer.vocabSize() > rows)
            throw new IllegalArgumentException("tokenizer " + tokenizer.source() + " has " + tokenizer.vocabSize() + " ids but " + what + " " + m + " has embedding rows for "
                    + rows + " (vocab_size): its ids " + rows + " and up have no row; "
                    + (promptText != null ? "refusing --prompt \"" + promptText + "\"" : "refusing the request") + ": use the model's own tokenizer");
    }

    /** The text of prompt and output when there is a tokenizer (newlines and tabs escaped so each stays one line). */
    private void printText(long[] ids, long[] output) {
        if (tokenizer == null) return;
        System.out.println("prompt text: " + text(ids));
        System.out.println("output text: " + text(output));
    }

    private String text(long[] ids) {
        for (long id : ids)
            if (id >= tokenizer.vocabSize()) return "(id " + id + " has no token in " + tokenizer.source() + ")";
        String t = tokenizer.decode(java.util.Arrays.stream(ids).mapToInt(i -> (int) i).toArray());
        return "\"" + t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r").replace("\"", "\\\"") + "\"";
    }

    /** The sampling, the prompt, the output and the request's times, as both backends print them. */
    private void printRun(Sampler sampler, long[] ids, BatchScheduler.Outcome o) {
        System.out.println("sampling: " + (sampler.isGreedy() ? "greedy" : "temperature " + temperature + ", top-k " + (topK == null ? 0 : topK) + ", seed " + (seed == null ? 0 : seed)));
        System.out.println("prompt: " + join(ids) + " (" + ids.length + " tokens)");
        System.out.println("output: " + join(o.output()) + " (" + o.output().length + " tokens)");
        printText(ids, o.output());
        double decodeRate = o.tpot() > 0 ? 1 / o.tpot() : 0;
        System.out.printf("time to first token: %.2f ms; per output token: %.2f ms (%.1f tokens/s decoding); total %.2f ms for %d tokens (%.1f tokens/s)%n",
                o.ttft() * 1e3, o.tpot() * 1e3, decodeRate, o.finishSeconds() * 1e3, o.output().length, o.output().length / o.finishSeconds());
    }

    static String join(long[] ids) { return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(",")); }
}
