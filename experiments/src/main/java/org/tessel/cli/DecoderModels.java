package org.tessel.cli;

import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.runtime.llm.KvCalibration;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.passes.PassException;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.DecoderSteps;
import org.tessel.runtime.llm.GpuDecoderRunner;
import org.tessel.runtime.llm.HfCheckpoint;
import org.tessel.runtime.llm.OnnxDecoder;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.cost.Precision;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.tactics.attention.PagedAttentionTactic;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.runtime.llm.quant.CalibrationText;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;

/**
 * How the generation verbs name a decoder: zoo:NAME of one of the zoo's decoders (weights from the zoo's seed), a
 * Hugging Face Llama checkpoint folder ({@link HfCheckpoint}: config.json and model.safetensors or pytorch_model.bin, whole or sharded), or a decoder-with-past
 * ONNX file ({@link OnnxDecoder}: FILE.onnx, unquantized, without LoRA; on CPU engines, or with --gpu on GPU engines with
 * its KV cache in host memory, {@link #onnxGpuDecoder}).
 */
final class DecoderModels {
    private DecoderModels() {}

    static DecoderRunner runner(String model, Integer layers) { return runner(model, layers, QuantizationSpec.FP32, null); }

    /**
     * A runner whose linear layers are quantized as {@code spec} says; AWQ and SmoothQuant calibrate
     * first on {@link #CALIB_SEQUENCES} windows of {@code calibText} (null: {@link CalibrationText#DEFAULT_TEXT}).
     */
    static DecoderRunner runner(String model, Integer layers, QuantizationSpec spec, Path calibText) {
        DecoderRunner plain = plainRunner(model, layers);
        if (spec.isFp32()) return plain;
        DecoderConfig c = plain.config();
        LlmQuantization q = spec.awq() || spec.smoothQuant()
                ? LlmQuantization.calibrate(plain.model(), c, ZooOptions.DEFAULT_SEED, plain.weights(), spec,
                        CalibrationText.sequences(calibText == null ? CalibrationText.DEFAULT_TEXT : calibText, c.vocab(), CALIB_SEQUENCES, Math.min(64, c.maxPositions()), 0))
                : LlmQuantization.uncalibrated(spec);
        return new DecoderRunner(plain.model(), c, ZooOptions.DEFAULT_SEED, plain.weights(), q);
    }

    /** Calibration windows of AWQ and SmoothQuant (each 64 tokens, or the model's positions if fewer). */
    static final int CALIB_SEQUENCES = 8;

    /** One line saying how the runner's weights are stored: the mode and the bytes of its constants, against FP32. */
    static String describeWeights(DecoderRunner r) {
        QuantizationSpec spec = r.quantization().spec();
        if (spec.isFp32()) return String.format("weights: fp32; constants %,d bytes", LlmQuantization.weightBytes(r.graph(new DecoderShape(1, 1, 0))));
        long fp32 = LlmQuantization.weightBytes(new DecoderRunner(r.model(), r.config(), ZooOptions.DEFAULT_SEED, r.weights(), LlmQuantization.uncalibrated(QuantizationSpec.FP32))
                .graph(new DecoderShape(1, 1, 0)));
        long now = LlmQuantization.weightBytes(r.graph(new DecoderShape(1, 1, 0)));
        String mode = spec.isFp32() ? "fp32" : spec.smoothQuant() ? "SmoothQuant W8A8 (alpha " + spec.alpha() + ", calibrated on " + CALIB_SEQUENCES + " text windows)"
                : "weight-only INT" + spec.format().bits() + ", groups of " + spec.format().groupSize() + (spec.awq() ? ", AWQ-scaled (calibrated on " + CALIB_SEQUENCES + " text windows)" : "");
        return String.format("weights: %s; constants %,d bytes (fp32 %,d, %.2fx smaller); the LM head and layers whose K the groups do not divide stay fp32", mode, now, fp32, fp32 / (double) now);
    }

    private static DecoderRunner plainRunner(String model, Integer layers) {
        if (checkpoint(model)) {
            HfCheckpoint ck = HfCheckpoint.load(Path.of(model));
            return new DecoderRunner(ck.name(), withLayers(ck.config(), layers, model), ZooOptions.DEFAULT_SEED, ck.weights(), LlmQuantization.uncalibrated(QuantizationSpec.FP32));
        }
        String name = zooName(model);
        DecoderConfig c = Zoo.decoder(name, layers == null ? 0 : layers);
        return new DecoderRunner(name, c, ZooOptions.DEFAULT_SEED);
    }

    /** Whether MODEL names a Hugging Face checkpoint folder rather than a zoo decoder. */
    static boolean checkpoint(String model) { return model != null && !model.startsWith("zoo:") && HfCheckpoint.isCheckpoint(Path.of(model)); }

    /** Whether MODEL names an ONNX file (FILE.onnx), read as a decoder with past. */
    static boolean onnx(String model) { return model != null && !model.startsWith("zoo:") && OnnxDecoder.isOnnx(Path.of(model)); }

    private static OnnxDecoder lastOnnx;
    private static String lastOnnxStamp;

    /**
     * The ONNX decoder MODEL names (read once while the file is unchanged: the tokenizer check and the run share it);
     * refused with --layers, which cuts zoo and checkpoint decoders only.
     */
    static OnnxDecoder onnxDecoder(String model, Integer layers) {
        if (layers != null) throw new IllegalArgumentException("--layers " + layers + ": " + model + " is an ONNX file and runs all its layers; drop --layers");
        Path file = Path.of(model);
        String stamp;
        try {
            stamp = file.toAbsolutePath() + "|" + java.nio.file.Files.size(file) + "|" + java.nio.file.Files.getLastModifiedTime(file);
        } catch (java.io.IOException e) {
            stamp = null; // unreadable: load says why
        }
        if (stamp == null || !stamp.equals(lastOnnxStamp)) {
            lastOnnx = OnnxDecoder.load(file, null);
            lastOnnxStamp = stamp;
        }
        return lastOnnx;
    }

    /** The runner of MODEL for unquantized, adapter-free generation: an ONNX file's {@link OnnxDecoder}, else {@link #runner(String, Integer)}. */
    static org.tessel.runtime.llm.DecoderSteps<?> steps(String model, Integer layers) { return onnx(model) ? onnxDecoder(model, layers) : runner(model, layers); }

    /**
     * Refuses what an ONNX decoder does not run: quantized weights, LoRA adapters (the flags named).
     */
    static void checkOnnxFlags(String model, org.tessel.runtime.llm.quant.QuantizationSpec spec, List<String> lora) {
        if (!onnx(model)) return;
        if (!spec.isFp32()) throw new IllegalArgumentException("--weights, --awq and --smoothquant quantize zoo and checkpoint decoders; " + model + " (an ONNX file) runs as stored: drop them");
        if (lora != null && !lora.isEmpty()) throw new IllegalArgumentException("--lora serves adapters on zoo and checkpoint decoders; " + model + " (an ONNX file) has none: drop --lora");
    }

    /** A model's architecture without its weights (a checkpoint's config.json only), for checks before the runner is built. */
    static DecoderConfig config(String model, Integer layers) {
        if (onnx(model)) return onnxDecoder(model, layers).config();
        return checkpoint(model) ? withLayers(HfCheckpoint.readConfig(Path.of(model)), layers, model) : Zoo.decoder(zooName(model), layers == null ? 0 : layers);
    }

    /** The checkpoint's first {@code layers} layers (null: all of them). */
    private static DecoderConfig withLayers(DecoderConfig c, Integer layers, String model) {
        if (layers == null) return c;
        if (layers > c.layers()) throw new IllegalArgumentException("--layers " + layers + ": " + model + " has " + c.layers() + " layers");
        return c.withLayers(layers);
    }

    private static String zooName(String model) {
        if (model == null) throw new IllegalArgumentException("no model: give MODEL, a zoo decoder (" + zooNames() + "), a Hugging Face checkpoint folder or a decoder-with-past ONNX file");
        if (!model.startsWith("zoo:"))
            throw new IllegalArgumentException(model + ": generation runs the zoo's decoders (" + zooNames() + "), Hugging Face Llama checkpoint folders "
                    + "(config.json and model.safetensors or pytorch_model.bin, whole or sharded)" + (java.nio.file.Files.isDirectory(Path.of(model)) ? "; this folder has no config.json" : "")
                    + " and decoder-with-past ONNX files (FILE.onnx)");
        return model.substring(4);
    }

    /** How messages name a runner's model: zoo:NAME, or its checkpoint folder. */
    static String label(org.tessel.runtime.llm.DecoderSteps<?> r) {
        if (r instanceof OnnxDecoder o) return o.file().toString();
        return weights(r) != null ? weights(r).source() : "zoo:" + r.model();
    }

    /** Whether the runner computes with trained weights (a checkpoint folder's or an ONNX file's) rather than seeded random ones. */
    static boolean trained(org.tessel.runtime.llm.DecoderSteps<?> r) { return r instanceof OnnxDecoder || weights(r) != null; }

    /** A zoo decoder runner's trained weights (a checkpoint folder's, on the CPU or the GPU), or null. */
    private static org.tessel.ir.zoo.DecoderWeights weights(org.tessel.runtime.llm.DecoderSteps<?> r) {
        return r instanceof DecoderRunner d ? d.weights() : r instanceof GpuDecoderRunner g ? g.weights() : null;
    }

    /**
     * The GPU runner of {@code --gpu}: engines per step bucket at FP16 (or BF16 with {@code bf16}: its KV cache in bf16),
     * each planned by the joint search at that precision (attention as tessel.attention.paged, the KV cache's device
     * pools written in place), decode steps replayed as CUDA graphs. Refused without a CUDA GPU. Quantized weights
     * ({@code spec}: weight-only INT8/INT4, AWQ, SmoothQuant, calibrated as {@link #runner} does) quantize each step graph
     * before planning; the plan picks their GPU kernels (the weight-only GEMV or GEMM, W8A8).
     */
    static GpuDecoderRunner gpuRunner(String model, Integer layers, QuantizationSpec spec, boolean bf16) { return gpuRunner(model, layers, spec, bf16, null, null); }

    /** As {@link #gpuRunner(String, Integer, QuantizationSpec, boolean)}, its KV cache stored as {@code --kv-cache} says ({@link #kvCache}). */
    static GpuDecoderRunner gpuRunner(String model, Integer layers, QuantizationSpec spec, boolean bf16, String kvCache) { return gpuRunner(model, layers, spec, bf16, kvCache, null); }

    /** As above, prefill chunks in {@code prefillForm} ({@code --prefill-form}, checked by {@link #checkPrefillForm}; null: the search picks each chunk's form, {@link #pagedPlanner}). */
    static GpuDecoderRunner gpuRunner(String model, Integer layers, QuantizationSpec spec, boolean bf16, String kvCache, String prefillForm) {
        org.tessel.runtime.Backend.Gpu g = gpu();
        DecoderRunner cpu = runner(model, layers, spec, null);
        Precision p = bf16 ? Precision.BF16 : Precision.FP16;
        GpuDecoderRunner base = new GpuDecoderRunner(cpu.model(), cpu.config(), ZooOptions.DEFAULT_SEED, cpu.weights(), g.context(), bf16 ? GpuEngine.Precision.BF16 : GpuEngine.Precision.FP16,
                pagedPlanner(CostTargets.forBackend(g), p, prefillForm), true, kvCache(kvCache, cpu));
        if (spec.isFp32()) return base;
        try (base) {
            return base.withQuantization(cpu.quantization());
        }
    }

    /**
     * The ONNX decoder of {@code --gpu} ({@link OnnxDecoder#onGpu}): its step engines GPU engines at FP16 (or BF16 with
     * {@code bf16}), each step shape planned by the joint search at that precision beside FP32 with the MatMuls held at
     * it ({@link #onnxPlanner}), decode steps replayed as CUDA graphs; its KV cache stays in host memory, copied to and
     * from the device every step. Refused without a CUDA GPU, as {@link #gpuRunner} is. Close it.
     */
    static OnnxDecoder onnxGpuDecoder(String model, Integer layers, boolean bf16) {
        OnnxDecoder cpu = onnxDecoder(model, layers);
        org.tessel.runtime.Backend.Gpu g = gpu();
        Precision p = bf16 ? Precision.BF16 : Precision.FP16;
        return cpu.onGpu(g.context(), bf16 ? GpuEngine.Precision.BF16 : GpuEngine.Precision.FP16, onnxPlanner(CostTargets.forBackend(g), p), true);
    }

    /** The runner of MODEL for --gpu with --draft: an ONNX file's {@link #onnxGpuDecoder}, else {@link #gpuRunner}; both closeable. */
    static DecoderSteps<?> gpuSteps(String model, Integer layers, QuantizationSpec spec, boolean bf16, String kvCache, String prefillForm) {
        return onnx(model) ? onnxGpuDecoder(model, layers, bf16) : gpuRunner(model, layers, spec, bf16, kvCache, prefillForm);
    }

    /** Closes a runner of {@link #gpuSteps} (null: nothing). */
    static void close(DecoderSteps<?> r) {
        if (r instanceof GpuDecoderRunner g) g.close();
        else if (r instanceof OnnxDecoder o) o.close();
    }

    /** The CUDA GPU of --gpu; refused, naming the flag and what was found, on a machine without one. */
    private static org.tessel.runtime.Backend.Gpu gpu() {
        org.tessel.runtime.Backend b = org.tessel.runtime.Backend.detectForGpu();
        if (!(b instanceof org.tessel.runtime.Backend.Gpu g))
            throw new IllegalArgumentException("--gpu needs a CUDA GPU, and this machine has none (" + b.describe() + "); drop --gpu to run on CPU engines");
        return g;
    }

    /** Text windows the FP8 KV scales are calibrated on (each 64 tokens, or the model's positions if fewer). */
    static final int KV_CALIB_SEQUENCES = 4;

    /**
     * The KV cache format of {@code --kv-cache}: {@code native} (null: the default; f32 on CPU engines, f16 on the GPU),
     * {@code fp8} (E4M3 with per-layer K and V scales amax / 448 calibrated on {@link #KV_CALIB_SEQUENCES} windows of
     * the default calibration text through {@code runner}), or {@code fp8:SCALE} (E4M3, one fixed scale for every layer's
     * K and V).
     */
    static KvCacheFormat kvCache(String spec, DecoderRunner runner) {
        if (spec == null || spec.equals("native")) return KvCacheFormat.NATIVE;
        if (spec.equals("fp8")) {
            DecoderConfig c = runner.config();
            long[][] windows = CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), KV_CALIB_SEQUENCES, Math.min(64, c.maxPositions()), 0);
            return KvCalibration.calibrate(runner, java.util.Arrays.asList(windows));
        }
        if (spec.startsWith("fp8:")) {
            float scale;
            try {
                scale = Float.parseFloat(spec.substring(4));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--kv-cache fp8:SCALE needs a number, got '" + spec.substring(4) + "'");
            }
            if (!(scale > 0) || !Float.isFinite(scale) || scale < Float.MIN_NORMAL)
                throw new IllegalArgumentException("--kv-cache fp8:SCALE needs a positive normal scale, got " + spec.substring(4));
            return KvCacheFormat.fp8(runner.config().layers(), scale);
        }
        throw new IllegalArgumentException("--kv-cache takes native, fp8 (scales calibrated as amax / 448) or fp8:SCALE, got '" + spec + "'");
    }

    /** One line on the KV cache's storage: its format and bytes per token. */
    static String describeKv(KvCacheFormat kv, DecoderConfig c, int nativeBytes) {
        long elems = 2L * c.layers() * c.kvHeads() * c.headDim();
        if (!kv.quantized()) return String.format("kv cache: native (%d-byte elements), %,d bytes per token", nativeBytes, elems * nativeBytes);
        return String.format("kv cache: %s, %,d bytes per token (native %d-byte elements: %,d)", kv.describe(), elems, nativeBytes, elems * nativeBytes);
    }

    /**
     * Plans a zoo step graph with the joint search at FP32 and {@code p} (FP16 or BF16) for {@code target}, its attention
     * nodes on tessel.attention.paged at p and its MatMuls held at p: a small model's prefill step with LoRA deltas (FP32
     * only) was priced cheapest at FP32 throughout, a plan the runner, whose KV cache and I/O are at p, refuses.
     */
    static GpuDecoderRunner.StepPlanner pagedPlanner(String target, Precision p) { return pagedPlanner(target, p, null); }

    /**
     * As above, every prefill chunk's paged attention in {@code prefillForm} (a variant of tessel.attention.paged,
     * {@code mma} or {@code tiled}, forced on the search: {@code tessel.attention.paged/mma}); null: the search prices the
     * forms ({@link PagedAttentionTactic#MMA_PEAK_EFFICIENCY}) and names the cheaper that runs the chunk. A step whose chunk
     * the form cannot run is refused naming the node and why ({@link PagedAttentionTactic#formWhyNot}); decode steps
     * have one kernel and no form.
     */
    static GpuDecoderRunner.StepPlanner pagedPlanner(String target, Precision p, String prefillForm) {
        String at = p.name().toLowerCase(java.util.Locale.ROOT);
        SearchOptions o = SearchOptions.defaults().withForced(List.of(ForcedChoice.parse("tessel.PagedAttention=tessel.attention.paged"
                        + (prefillForm == null ? "" : "/" + prefillForm) + ":" + at)))
                .withPrecisionRules(List.of(PrecisionRule.parse("MatMul=" + at)));
        GpuDecoderRunner.StepPlanner joint = jointPlanner(target, p, o);
        if (prefillForm == null) return joint;
        return g -> {
            try {
                return joint.plan(g);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--prefill-form " + prefillForm + ": " + e.getMessage(), e);
            }
        };
    }

    /**
     * {@code --prefill-form}, checked before any GPU work: {@code mma} or {@code tiled}, with --gpu, for a zoo decoder or
     * checkpoint (an ONNX decoder has no paged attention), and {@code mma} at FP16 over an f16 KV cache (not --bf16, not
     * an FP8 --kv-cache). Null stays null.
     */
    static String checkPrefillForm(String form, String model, boolean gpu, boolean bf16, String kvCache) {
        if (form == null) return null;
        if (!PagedAttentionTactic.PREFILL_FORMS.contains(form))
            throw new IllegalArgumentException("--prefill-form takes " + String.join(" or ", PagedAttentionTactic.PREFILL_FORMS) + ", got '" + form + "'");
        if (!gpu) throw new IllegalArgumentException("--prefill-form picks the GPU runner's prefill kernel: add --gpu");
        if (onnx(model)) throw new IllegalArgumentException("--prefill-form picks the paged prefill kernel of zoo decoders and checkpoints; " + model + " is an ONNX decoder, whose step engines attend without a paged cache: drop --prefill-form");
        if (form.equals("mma") && bf16) throw new IllegalArgumentException("--prefill-form mma attends on f16 tensor cores: drop --bf16, or take --prefill-form tiled");
        if (form.equals("mma") && kvCache != null && kvCache.startsWith("fp8"))
            throw new IllegalArgumentException("--prefill-form mma reads f16 KV pools, not --kv-cache " + kvCache + ": take --prefill-form tiled");
        return form;
    }


    /**
     * Plans an ONNX decoder's step graph with the joint search at FP32 and {@code p} for {@code target}, its MatMuls
     * held at p: the graph has no paged attention to anchor it, and with its past and present at the graph's boundary
     * the search prices a small model's steps cheapest at FP32 throughout (an FP32 engine where p was asked).
     */
    static GpuDecoderRunner.StepPlanner onnxPlanner(String target, Precision p) {
        return jointPlanner(target, p, SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("MatMul=" + p.name().toLowerCase(java.util.Locale.ROOT)))));
    }

    /** The joint search at FP32 and {@code p} for {@code target}, with {@code base}'s forced choices and precision rules. */
    private static GpuDecoderRunner.StepPlanner jointPlanner(String target, Precision p, SearchOptions base) {
        SearchOptions o = base.withTarget(target).withPrecisions(java.util.EnumSet.of(Precision.FP32, p));
        return g -> {
            SearchProblem pr = Searcher.problem(Searcher.prepare(g), o);
            return EnginePlans.complete(pr, Searcher.run(pr, "joint", o));
        };
    }

    /** One line saying how a GPU runner's weights are stored and where attention reads the KV cache. */
    static String describeWeights(GpuDecoderRunner r) {
        QuantizationSpec spec = r.quantization().spec();
        String w = spec.isFp32() ? r.precision().name().toLowerCase(java.util.Locale.ROOT)
                : (spec.smoothQuant() ? "SmoothQuant W8A8" : spec.format().bits() + "-bit weight-only, groups of " + spec.format().groupSize() + (spec.awq() ? ", AWQ" : ""))
                  + ", activations " + r.precision().name().toLowerCase(java.util.Locale.ROOT);
        return "weights: " + w + " on the GPU; attention tessel.attention.paged over the device KV cache (" + r.precision().storage().text() + ")";
    }

    /** One line describing the model and what it does not have. */
    static String describe(org.tessel.runtime.llm.DecoderSteps<?> r) {
        if (r instanceof OnnxDecoder o) return o.describe();
        if (!trained(r)) return describe(r.model(), r.config());
        DecoderConfig c = r.config();
        return String.format("model: %s (Llama, %d layers, width %d, %d heads / %d KV heads, vocab %d, %d positions%s; trained weights from %s)", weights(r).source(),
                c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.vocab(), c.maxPositions(), c.tiedHead() ? ", tied head" : "", HfCheckpoint.weightsFile(Path.of(weights(r).source())));
    }

    private static String describe(String model, DecoderConfig c) {
        return String.format("model: zoo:%s (%s, %d layers, width %d, %d heads / %d KV heads, vocab %d, %d positions; seeded random weights: "
                + "token ids in and out, the zoo decoders have no tokenizer)", model, c.family() == DecoderConfig.Family.LLAMA ? "Llama" : "GPT-2",
                c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.vocab(), c.maxPositions());
    }

    /**
     * The adapters of the repeated {@code --lora} flag, each NAME=FOLDER (a PEFT folder: adapter_config.json and
     * adapter_model.safetensors) or NAME=random[:RANK[:SEED]] (a seeded random adapter of {@code runner}'s q, k, v and o
     * projections, rank 8 and seed 1 by default, alpha = rank); ids 1, 2, ... in flag order.
     */
    static List<LoraAdapter> loraAdapters(DecoderRunner runner, List<String> specs) {
        List<LoraAdapter> adapters = new ArrayList<>();
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) throw new IllegalArgumentException("--lora expects NAME=FOLDER or NAME=random[:RANK[:SEED]], got '" + spec + "'");
            String name = spec.substring(0, eq), what = spec.substring(eq + 1);
            try {
                if (what.equals("random") || what.startsWith("random:")) {
                    String[] parts = what.split(":", -1);
                    int rank = parts.length > 1 ? Integer.parseInt(parts[1]) : 8;
                    long seed = parts.length > 2 ? Long.parseLong(parts[2]) : 1;
                    if (parts.length > 3 || rank < 1) throw new NumberFormatException();
                    adapters.add(LoraAdapter.random(name, runner.graph(new DecoderShape(1, 1, 0)), List.of("q", "k", "v", "o"), rank, rank, seed));
                } else {
                    adapters.add(LoraAdapter.load(name, Path.of(what)));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--lora " + spec + ": random adapters are NAME=random[:RANK[:SEED]] with RANK >= 1");
            }
        }
        return adapters;
    }

    /** The CPU runner serving the adapters of {@code --lora} ({@link #loraAdapters}); no flags: the runner itself. */
    static DecoderRunner withLora(DecoderRunner runner, List<String> specs) {
        if (specs == null || specs.isEmpty()) return runner;
        List<LoraAdapter> adapters = loraAdapters(runner, specs);
        try {
            return runner.withAdapters(adapters);
        } catch (PassException e) {
            throw new IllegalArgumentException("--lora: " + e.getMessage());
        }
    }

    /**
     * The GPU runner serving the adapters of {@code --lora} (random ones over the layers of {@code model}'s CPU graph,
     * which names them as the GPU's step graphs do): a new runner, closed by the caller apart from {@code runner};
     * no flags: the runner itself.
     */
    static GpuDecoderRunner withLora(GpuDecoderRunner runner, String model, Integer layers, List<String> specs) {
        if (specs == null || specs.isEmpty()) return runner;
        List<LoraAdapter> adapters = loraAdapters(plainRunner(model, layers), specs);
        try {
            return runner.withAdapters(adapters);
        } catch (PassException e) {
            throw new IllegalArgumentException("--lora: " + e.getMessage());
        }
    }

    /** One line naming the adapters a runner serves, or null when it serves none. */
    static String describeLora(org.tessel.runtime.llm.DecoderSteps<?> r) {
        if (r.adapters().isEmpty()) return null;
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < r.adapters().size(); i++) {
            LoraAdapter a = r.adapters().get(i);
            parts.add(String.format("%s (id %d, rank %d, alpha %s, %d layers, %s)", a.name(), i + 1, a.rank(), a.alpha(), a.layers().size(), a.source()));
        }
        return "lora: " + String.join("; ", parts) + "; served together, one adapter per batch row (tessel.LoraDelta)";
    }

    private static String zooNames() { return "zoo:" + String.join(", zoo:", Zoo.decoderNames()); }
}
