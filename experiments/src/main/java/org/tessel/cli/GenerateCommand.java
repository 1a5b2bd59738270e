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
import org.tessel.runtime.llm.KvCache;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;
import org.tessel.runtime.llm.SpeculativeDecoder;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Generates tokens from a prompt of token ids with a zoo decoder on CPU engines (or, with --gpu, GPU engines) and a paged KV cache. */
@Command(name = "generate", description = {"Generate token ids from a prompt of token ids with a zoo decoder (zoo:gpt2-tiny, zoo:llama-tiny, ...) on CPU engines "
        + "(--gpu: FP16 or, with --bf16, BF16 GPU engines, the KV cache on the device): prefill, then one decode step per token with a paged KV cache; reports time to first token and per output token.",
        "The zoo decoders have random weights and no tokenizer: ids in, ids out. Engines (one per step shape) are built on first use; their build time is reported apart."})
final class GenerateCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "A zoo decoder: zoo:NAME (see `tessel zoo`).") String model;
    @Option(names = "--prompt-tokens", required = true, split = ",", paramLabel = "ID,ID,...", description = "The prompt as token ids, comma-separated.") List<Long> prompt;
    @Option(names = "--max-new-tokens", required = true, converter = Ranges.AtLeastOne.class, paramLabel = "N", description = "How many tokens to generate.") int maxNew;
    @Option(names = "--greedy", description = "Pick the most likely token each step (the default).") boolean greedy;
    @Option(names = "--temperature", converter = Ranges.Temperature.class, paramLabel = "T", description = "Sample at this temperature instead of greedy.") Double temperature;
    @Option(names = "--top-k", converter = Ranges.AtLeastZero.class, paramLabel = "K", description = "Sample among the K most likely tokens (0, the default: all); needs --temperature.") Integer topK;
    @Option(names = "--seed", paramLabel = "S", description = "Seed of the sampling (default 0); needs --temperature.") Long seed;
    @Option(names = "--block-size", converter = Ranges.AtLeastOne.class, defaultValue = "16", description = "KV cache block size in tokens (default ${DEFAULT-VALUE}).") int blockSize;
    @Option(names = "--layers", converter = Ranges.AtLeastOne.class, description = "Decoder layers (default: the model's own).") Integer layers;
    @Option(names = "--draft", paramLabel = "MODEL", description = "Speculative decoding with this zoo decoder as the draft (greedy only; same vocabulary): the output is the target's own greedy output.") String draft;
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
            + "written in place, decode steps replayed as CUDA graphs (refused without a CUDA GPU); with --lora, --draft or --bf16 too.") boolean gpu;
    @Option(names = "--bf16", description = "With --gpu: BF16 engines, each step planned at BF16 by the joint search, the KV cache in bf16.") boolean bf16;
    @Option(names = "--speculate", converter = Ranges.AtLeastOne.class, paramLabel = "K", description = "Tokens the draft proposes per round (default 4); needs --draft.") Integer speculate;

    @Override public Integer call() {
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
        if (draft != null) return speculative(spec);
        Sampler sampler = temperature == null ? Sampler.greedy() : Sampler.sampling(temperature, topK == null ? 0 : topK, seed == null ? 0 : seed);
        if (gpu)
            try (GpuDecoderRunner base = DecoderModels.gpuRunner(model, layers, spec, bf16)) {
                GpuDecoderRunner runner = DecoderModels.withLora(base, model, layers, lora);
                try {
                    return generate(runner, sampler, DecoderModels.describeWeights(runner), " on the device",
                            () -> String.format("GPU backend (%s), %d decode steps replayed as CUDA graphs", runner.precision(), runner.graphReplays()));
                } finally {
                    if (runner != base) runner.close();
                }
            }
        DecoderRunner runner = DecoderModels.withLora(DecoderModels.runner(model, layers, spec, calibText), lora);
        return generate(runner, sampler, DecoderModels.describeWeights(runner), "", () -> "CPU backend");
    }

    /** One request on {@code runner}, a chunk as long as the prompt: prefill in one step, then one decode step per token; {@code where} the cache lives, {@code backend} after the run. */
    private <C extends KvCache> int generate(DecoderSteps<C> runner, Sampler sampler, String weights, String where, Supplier<String> backend) {
        long[] ids = prompt.stream().mapToLong(Long::longValue).toArray();
        int tokens = ids.length + maxNew;
        try (C cache = runner.newCache(blockSize, Math.max(1, (tokens + blockSize - 1) / blockSize))) {
            BatchScheduler.Report report = new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, 1, Math.max(1, ids.length))
                    .run(List.of(new Request("generate", ids, maxNew, 0, sampler, adapter)));
            BatchScheduler.Outcome o = report.outcomes().getFirst();
            if (o.refused()) throw new IllegalArgumentException(o.refusal());
            System.out.println(DecoderModels.describe(runner));
            System.out.println(weights);
            if (DecoderModels.describeLora(runner) != null) System.out.println(DecoderModels.describeLora(runner) + "; this request: " + (adapter == null ? "the base model" : adapter));
            printRun(sampler, ids, o);
            System.out.printf("kv cache: %d blocks of %d tokens%s, mean utilisation %.1f%% over %d steps; engines: %d built in %.2f s (not counted above), %s%n",
                    cache.numBlocks(), blockSize, where, 100 * report.meanKvUtilisation(), report.steps(), report.engines(), report.buildSeconds(), backend.get());
        }
        return 0;
    }

    private int speculative(QuantizationSpec spec) {
        if (temperature != null) throw new IllegalArgumentException("--draft decodes greedily (its output is the target's greedy output); drop --temperature");
        if (!gpu) return speculative(DecoderModels.runner(model, layers), DecoderModels.runner(draft, draftLayers), "CPU backend");
        try (GpuDecoderRunner target = DecoderModels.gpuRunner(model, layers, spec, bf16); GpuDecoderRunner draftRunner = DecoderModels.gpuRunner(draft, draftLayers, spec, bf16)) {
            return speculative(target, draftRunner, "GPU backend (" + target.precision() + ")");
        }
    }

    private int speculative(DecoderSteps<?> target, DecoderSteps<?> draftRunner, String backend) {
        long[] ids = prompt.stream().mapToLong(Long::longValue).toArray();
        int k = speculate == null ? 4 : speculate;
        SpeculativeDecoder.Result r = new SpeculativeDecoder(target, draftRunner, k).generate(ids, maxNew, blockSize);
        System.out.println(DecoderModels.describe(target));
        System.out.println("draft: zoo:" + draftRunner.model() + " with " + draftRunner.config().layers() + " layer(s), " + k + " tokens proposed per round; greedy");
        System.out.println("prompt: " + join(ids) + " (" + ids.length + " tokens)");
        System.out.println("output: " + join(r.output()) + " (" + r.output().length + " tokens)");
        System.out.printf("acceptance: %d of %d proposed tokens (%.1f%%; random weights, so the rate says nothing about a trained draft); target steps %d, draft steps %d%n",
                r.accepted(), r.proposed(), 100 * r.acceptanceRate(), r.targetSteps(), r.draftSteps());
        System.out.printf("time: %.2f ms for %d tokens (%.1f tokens/s); engines: built in %.2f s (not counted), %s%n",
                r.seconds() * 1e3, r.output().length, r.output().length / r.seconds(), (target.buildNanos() + draftRunner.buildNanos()) / 1e9, backend);
        return 0;
    }

    /** The sampling, the prompt, the output and the request's times, as both backends print them. */
    private void printRun(Sampler sampler, long[] ids, BatchScheduler.Outcome o) {
        System.out.println("sampling: " + (sampler.isGreedy() ? "greedy" : "temperature " + temperature + ", top-k " + (topK == null ? 0 : topK) + ", seed " + (seed == null ? 0 : seed)));
        System.out.println("prompt: " + join(ids) + " (" + ids.length + " tokens)");
        System.out.println("output: " + join(o.output()) + " (" + o.output().length + " tokens)");
        double decodeRate = o.tpot() > 0 ? 1 / o.tpot() : 0;
        System.out.printf("time to first token: %.2f ms; per output token: %.2f ms (%.1f tokens/s decoding); total %.2f ms for %d tokens (%.1f tokens/s)%n",
                o.ttft() * 1e3, o.tpot() * 1e3, decodeRate, o.finishSeconds() * 1e3, o.output().length, o.output().length / o.finishSeconds());
    }

    static String join(long[] ids) { return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(",")); }
}
