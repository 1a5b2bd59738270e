package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Every kernel source Tessel generates compiles as CUDA C: checked on the CPU with nvcc
 * ({@code -ptx -arch=compute_90}, what the GPU machine's NVRTC does at run time), so syntax and
 * type errors show up without a GPU. Skipped when nvcc is not on the PATH.
 */
public class KernelSourcesCompileTest {
    /** True when {@code tool --version} runs and exits 0: the nvcc and g++ checks skip, saying so, where the tool is absent. */
    public static boolean toolAvailable(String tool) {
        try {
            Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static boolean nvccAvailable() { return toolAvailable("nvcc"); }

    /** g++ runs kernel sources on the host under a shim. */
    public static boolean gxxAvailable() { return toolAvailable("g++"); }

    /** One source per kernel template and specialization the GPU tests use, plus every elementwise op. */
    static Map<String, String> sources() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("softmax_f16", Softmax.source(DType.F16));
        m.put("layernorm_bf16", LayerNorm.source(DType.BF16));
        m.put("transpose_f16", Reformat.source(DType.F16));
        m.put("cast_f32_bf16", Cast.source(DType.F32, DType.BF16));
        m.put("pool_avg_nhwc_f16", Pool2d.source(DType.F16, Pool2d.Mode.AVG, Layout.NHWC));
        m.put("pool_max_nchw_f32", Pool2d.source(DType.F32, Pool2d.Mode.MAX, Layout.NCHW));
        m.put("global_pool_nhwc_f16", GlobalPool.source(DType.F16, Layout.NHWC, true));
        m.put("global_pool_nhwc_f32", GlobalPool.source(DType.F32, Layout.NHWC, false));
        m.put("global_pool_nchw_bf16", GlobalPool.source(DType.BF16, Layout.NCHW, false));
        m.put("depthwise_f16_v8", DepthwiseConvNhwc.source(DType.F16, 8));
        m.put("depthwise_bf16_v1", DepthwiseConvNhwc.source(DType.BF16, 1));
        m.put("depthwise_f32_v1", DepthwiseConvNhwc.source(DType.F32, 1));
        m.put("activation_f16", Activation.source(DType.F16));
        m.put("conv_mma", ConvMma.source());
        m.put("conv_pool", ConvPool.source());
        for (int w : new int[] {2, 4, 8, 16}) m.put("copy_w" + w, CnnKernels.copySource(w));
        m.put("lrn_f16", CnnKernels.lrnSource(DType.F16));
        m.put("lrn_f32", CnnKernels.lrnSource(DType.F32));
        m.put("pad_channels", CnnKernels.padSource());
        m.put("activation_f32", Activation.source(DType.F32));
        m.put("more_f16", MoreKernels.source(DType.F16));
        m.put("more_f32", MoreKernels.source(DType.F32));
        m.put("more_bf16", MoreKernels.source(DType.BF16));
        m.put("softmax_f32", Softmax.source(DType.F32));
        m.put("softmax_bf16", Softmax.source(DType.BF16));
        for (int e : new int[] {1, 2, 4, 8}) m.put("datamove_e" + e, DataMoveKernels.source(e));
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            m.put("matmul_" + t.text(), BatchedMatMul.source(t));
            m.put("deconv_" + t.text(), DirectDeconv.source(t));
            m.put("rnn_" + t.text(), RecurrentKernel.source(t));
            for (int rows : new int[] {1, 8}) m.put("gemv_" + t.text() + "_m" + rows, Gemv.source(t, rows));
            for (int split : new int[] {1, 2, 4}) {
                m.put("gemv_" + t.text() + "_m8_ks" + split, Gemv.source(t, 8, null, null, split));
                m.put("gemv_" + t.text() + "_silu_mul_ks" + split, Gemv.source(t, 3, siluMulPrologue(t != DType.F32), null, split));
                m.put("gemv_" + t.text() + "_rmsnorm_ks" + split, Gemv.source(t, 3, null, new Gemv.RmsNorm(1e-5f), split));
            }
            m.put("rope_" + t.text(), Rope.source(t));
            m.put("index_" + t.text(), IndexKernels.source(t, DType.I32));
            m.put("index_" + t.text() + "_findex", IndexKernels.source(t, t));
            m.put("nms_" + t.text(), NmsKernels.source(t));
        }
        m.put("lora_bgmv", LoraBgmv.source());
        m.put("index_i32", IndexKernels.source(DType.I32, DType.I32));
        m.put("index_bool", IndexKernels.source(DType.BOOL, DType.I32));
        m.put("attention_f16_d80", FusedAttention.source(DType.F16, 80));
        m.put("attention_f32_d128", FusedAttention.source(DType.F32, 128));
        m.put("eltwise_all_ops", EltwiseCodegen.generate(everyOp()).code());
        m.put("transformer_f16", TransformerKernels.source(DType.F16));
        m.put("transformer_f32", TransformerKernels.source(DType.F32));
        m.put("attention_bshd_f16_d64", TransformerKernels.attentionSource(DType.F16, 64));
        m.put("attention_bshd_f32_d32", TransformerKernels.attentionSource(DType.F32, 32));
        for (int d : new int[] {16, 32, 64, 96, 128}) m.put("attention_mma_d" + d, MmaAttention.source(d));
        for (int d : new int[] {16, 64, 128}) m.put("attention_mma_qmask_d" + d, MmaAttention.source(d, true));
        m.put("paged_attention_f16_d64_g4_b16", PagedAttentionKernel.source(DType.F16, 64, 4, 16));
        m.put("paged_attention_bf16_d128_g1_b32", PagedAttentionKernel.source(DType.BF16, 128, 1, 32));
        m.put("paged_attention_f16_d256_g8_b1", PagedAttentionKernel.source(DType.F16, 256, 8, 1));
        m.put("paged_attention_bf16_d16_g3_b7", PagedAttentionKernel.source(DType.BF16, 16, 3, 7));
        m.put("paged_kv_append_d64", PagedAttentionKernel.appendSource(64));
        // rotary embeddings of q and the new keys in the decode launch (a fused rope_attention group); d256 g8: the most shared memory
        m.put("paged_attention_f16_d64_g4_b16_rope", PagedAttentionKernel.source(DType.F16, DType.F16, 64, 4, 16, true));
        m.put("paged_attention_bf16_d16_g3_b7_rope", PagedAttentionKernel.source(DType.BF16, DType.BF16, 16, 3, 7, true));
        m.put("paged_attention_f16_d256_g8_b1_rope", PagedAttentionKernel.source(DType.F16, DType.F16, 256, 8, 1, true));
        m.put("paged_attention_bf16_kvfp8_d128_g2_b32_rope", PagedAttentionKernel.source(DType.BF16, DType.F8E4M3, 128, 2, 32, true));
        m.put("paged_attention_f16_kvfp8_d256_g4_b16_rope", PagedAttentionKernel.source(DType.F16, DType.F8E4M3, 256, 4, 16, true));
        m.put("paged_attention_f16_kvfp8_d64_g4_b16", PagedAttentionKernel.source(DType.F16, DType.F8E4M3, 64, 4, 16));
        m.put("paged_attention_bf16_kvfp8_d128_g2_b32", PagedAttentionKernel.source(DType.BF16, DType.F8E4M3, 128, 2, 32));
        m.put("paged_attention_f16_kvfp8_d16_g1_b7", PagedAttentionKernel.source(DType.F16, DType.F8E4M3, 16, 1, 7));
        m.put("paged_attention_f16_kvfp8_d256_g4_b16", PagedAttentionKernel.source(DType.F16, DType.F8E4M3, 256, 4, 16));
        m.put("paged_kv_append_fp8_f16_d64", PagedAttentionKernel.appendFp8Source(DType.F16, 64));
        m.put("paged_kv_append_fp8_bf16_d128", PagedAttentionKernel.appendFp8Source(DType.BF16, 128));
        m.put("paged_prefill_f16_kvfp8_d64", PagedAttentionKernel.prefillSource(DType.F16, DType.F8E4M3, 64));
        for (Fp8Epilogue.Activation a : Fp8Epilogue.Activation.values()) m.put("fp8_epilogue_bias_residual_" + a.name().toLowerCase(java.util.Locale.ROOT), Fp8Epilogue.source(true, true, a));
        m.put("fp8_epilogue_plain", Fp8Epilogue.source(false, false, Fp8Epilogue.Activation.NONE));
        for (Fp8Epilogue.Activation a : Fp8Epilogue.Activation.values()) m.put("fp8_epilogue_v4_bias_residual_" + a.name().toLowerCase(java.util.Locale.ROOT), Fp8Epilogue.source(true, true, a, true, DType.F32));
        for (Fp8Epilogue.Activation a : Fp8Epilogue.Activation.values()) m.put("fp8_epilogue_bf16_v4_bias_residual_" + a.name().toLowerCase(java.util.Locale.ROOT), Fp8Epilogue.source(true, true, a, true, DType.BF16));
        m.put("fp8_epilogue_bf16_bias_gelu", Fp8Epilogue.source(true, false, Fp8Epilogue.Activation.GELU_ERF, false, DType.BF16));
        for (int v : new int[] {16, 4, 1}) m.put("im2col_v" + v, Im2col.source(v));
        m.put("paged_prefill_f16_d64", PagedAttentionKernel.prefillSource(DType.F16, 64));
        for (int d : new int[] {16, 64, 128}) m.put("paged_prefill_mma_d" + d, PagedAttentionKernel.prefillMmaSource(d));
        m.put("paged_prefill_bf16_d16", PagedAttentionKernel.prefillSource(DType.BF16, 16));
        m.put("transpose_f16_021", TransformerKernels.transposeSource(DType.F16, new int[] {2, 64, 49}, new int[] {0, 2, 1}));
        // the engine's elementwise kernels of BERT: the i64 mask cast (read as i32) with scalar literals, embeddings adds
        org.tessel.ir.Graph bert = org.tessel.ir.zoo.Zoo.build("bert-tiny");
        new org.tessel.passes.PassManager().run(bert, org.tessel.passes.StandardPipelines.STANDARD);
        int i = 0;
        for (org.tessel.ir.Node n : bert.nodes()) {
            if (!n.attrs().getString("kind", "").equals("eltwise")) continue;
            m.put("engine_eltwise_bert_f16_" + i++, EltwiseCodegen.generate(n.body(), EltwiseCodegen.scalarLiterals(n.body(), n.inputs()), DType.F16).code());
        }
        return m;
    }

    /** A graph using every op the generator supports, with f32, f16 and bf16 values. */
    static Graph everyOp() {
        NetworkBuilder b = new NetworkBuilder("every_op");
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value y = b.input("y", DType.F32, 3, 1);
        Value h = b.input("h", DType.F16, 2, 3, 4);
        Value c = b.constant("c", Tensor.ofFloats(Shape.of(4), 1f, 2f, 3f, 4f));
        Value v = b.add(x, y);
        v = b.sub(v, c);
        v = b.mul(v, b.scalar("k", DType.F32, Double.POSITIVE_INFINITY));
        v = b.div(v, y);
        v = b.op("Pow", null, v, y);
        v = b.op("Max", null, v, x, y);
        v = b.op("Min", null, v, x);
        v = b.op("Sum", null, v, x, y);
        v = b.op("Mean", null, v, x);
        v = b.op("PRelu", null, v, y);
        for (String op : List.of("Relu", "Sigmoid", "Tanh", "HardSwish", "Erf", "Gelu", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal",
                "Floor", "Ceil", "Round", "Sign", "Softplus", "Softsign", "Mish", "Elu", "Selu", "Celu", "ThresholdedRelu", "Swish",
                "Sin", "Cos", "Tan", "Identity", "HardSigmoid", "LeakyRelu")) v = b.op(op, null, v);
        v = b.op("Gelu", NetworkBuilder.attrs("approximate", "tanh"), v);
        v = b.clip(v, -1f, 1f);
        Value hv = b.add(b.cast(v, DType.F16), h);
        Value bv = b.relu(b.cast(hv, DType.BF16));
        return b.output(bv, b.cast(bv, DType.F32)).build();
    }

    @Test void everyKernelSourceCompilesWithNvcc(@TempDir Path dir) throws Exception {
        assumeTrue(nvccAvailable(), "nvcc is not on the PATH");
        assertEquals("", compileAll(dir, sources(), ptx -> null), "kernel sources that nvcc rejects");
    }

    /**
     * Compiles every source to PTX for compute_90 with nvcc (two at a time) and returns what failed, one entry per file:
     * nvcc's messages, or what {@code ptxCheck} says of the PTX (null: fine). Empty when all compile and pass.
     */
    static String compileAll(Path dir, Map<String, String> sources, java.util.function.Function<String, String> ptxCheck) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (Map.Entry<String, String> e : sources.entrySet()) {
                Path cu = dir.resolve(e.getKey() + ".cu");
                Files.writeString(cu, e.getValue());
                results.add(pool.submit(() -> {
                    Path ptx = Path.of(cu.toString().replace(".cu", ".ptx"));
                    Process p = new ProcessBuilder("nvcc", "-ptx", "-arch=compute_90", "-o", ptx.toString(), cu.toString()).redirectErrorStream(true).start();
                    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    if (p.waitFor() != 0) return cu.getFileName() + ":\n" + out;
                    String why = ptxCheck.apply(Files.readString(ptx));
                    return why == null ? "" : cu.getFileName() + ": " + why + "\n";
                }));
            }
            StringBuilder errors = new StringBuilder();
            for (Future<String> f : results) errors.append(f.get());
            return errors.toString();
        } finally {
            pool.shutdownNow();
        }
    }

    /** SiLU(gate) * up as the GEMV's x loader evaluates it (a fused eltwise_gemm's prologue); {@code fast} as under f16 and bf16 activations. */
    static Gemv.Prologue siluMulPrologue(boolean fast) { return org.tessel.runtime.gpu.bench.QuantizedGemvBench.siluMulPrologue(fast); }
}
