package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.CudaDataType;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * The host side of the INT8 kernel layer, without a GPU: weight packing against
 * PrecisionEmulation, the epilogue's reference arithmetic, every refusal's message, the cuBLASLt
 * problem checks for CUBLAS_COMPUTE_32I, Tessel's dp4a convolution kernels on the emulated device, and
 * (with nvcc on the PATH) that every INT8 kernel source compiles for compute_90.
 */
class Int8KernelsTest {
    static Tensor random(SplittableRandom r, int... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[Math.toIntExact(s.numElements())];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.ofFloats(DType.F32, s, v);
    }

    @Test void perChannelWeightsDequantizeToPrecisionEmulationsFakeQuantization() {
        SplittableRandom r = new SplittableRandom(1);
        Tensor w = random(r, 6, 5, 3);
        for (int axis = 0; axis < 3; axis++) {
            Int8Weights q = Int8Weights.perChannel(w, axis);
            Tensor fake = PrecisionEmulation.fakeQuantizePerChannel(w, axis);
            assertArrayEquals(PrecisionEmulation.channelScales(w, axis), q.scales());
            int[] d = w.shape().dims();
            int ch = d[axis], inner = 1, outer = 1;
            for (int i = axis + 1; i < 3; i++) inner *= d[i];
            for (int i = 0; i < axis; i++) outer *= d[i];
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < ch; c++)
                    for (int i = 0; i < inner; i++) {
                        int src = (o * ch + c) * inner + i, dst = c * q.channelSize() + o * inner + i;
                        assertEquals(fake.getFloat(src), q.dequantized(dst), "axis " + axis + " element " + src);
                        assertEquals(PrecisionEmulation.quantize(w.getFloat(src), q.scales()[c]), q.codes()[dst]);
                    }
        }
    }

    @Test void gemmWeightsComeOutAsNByKWhicheverWayTheyAreStored() {
        SplittableRandom r = new SplittableRandom(2);
        Tensor kn = random(r, 12, 8);
        float[] t = new float[kn.size()];
        for (int k = 0; k < 12; k++) for (int n = 0; n < 8; n++) t[n * 12 + k] = kn.getFloat(k * 8 + n);
        Tensor nk = Tensor.ofFloats(DType.F32, Shape.of(8, 12), t);
        Int8Weights a = Int8Weights.forGemm(kn, false), b = Int8Weights.forGemm(nk, true);
        assertEquals(a, b);
        assertEquals(8, a.channels());
        assertEquals(12, a.channelSize());
        // code [n, k] is w[k, n] quantized at channel n's scale
        for (int n = 0; n < 8; n++)
            for (int k = 0; k < 12; k++) assertEquals(PrecisionEmulation.quantize(kn.getFloat(k * 8 + n), a.scales()[n]), a.codes()[n * 12 + k]);
    }

    @Test void convWeightsArePackedKrsc() {
        SplittableRandom r = new SplittableRandom(3);
        Tensor w = random(r, 4, 8, 3, 2); // K C R S
        Int8Weights q = Int8Weights.forConv(w);
        Int8Weights plain = Int8Weights.perChannel(w, 0);
        assertArrayEquals(plain.scales(), q.scales());
        for (int k = 0; k < 4; k++)
            for (int c = 0; c < 8; c++)
                for (int rr = 0; rr < 3; rr++)
                    for (int s = 0; s < 2; s++)
                        assertEquals(plain.codes()[((k * 8 + c) * 3 + rr) * 2 + s], q.codes()[((k * 3 + rr) * 2 + s) * 8 + c]);
    }

    @Test void anAllZeroChannelHasScaleOneAndZeroCodes() {
        Tensor w = Tensor.ofFloats(Shape.of(2, 4), 0, 0, 0, 0, 0.5f, -1f, 0.25f, 1f);
        Int8Weights q = Int8Weights.perChannel(w, 0);
        assertEquals(1f, q.scales()[0]);
        assertArrayEquals(new byte[] {0, 0, 0, 0, 64, -127, 32, 127}, q.codes());
        assertEquals(1f / 127f, q.scales()[1]);
        float[] out = q.outputScales(0.5f);
        assertEquals(0.5f, out[0]);
        assertEquals(0.5f * (1f / 127f), out[1]);
    }

    @Test void weightQuantizationRefusesWhatItCannotQuantize() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Weights.perChannel(Tensor.zeros(DType.F16, Shape.of(2, 2)), 0))
                .getMessage().contains("f32"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Weights.perChannel(Tensor.zeros(DType.F32, Shape.of(2, 2)), 2))
                .getMessage().contains("axis 2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Weights.forGemm(Tensor.zeros(DType.F32, Shape.of(2, 2, 2)), false))
                .getMessage().contains("2-D"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Weights.forConv(Tensor.zeros(DType.F32, Shape.of(2, 2))))
                .getMessage().contains("[K, C, R, S]"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Weights.perChannel(Tensor.zeros(DType.F32, Shape.of(2, 2)), 0).outputScales(0f))
                .getMessage().contains("positive finite"));
    }

    @Test void epilogueReferenceRoundsHalvesToEvenClampsAndZeroesNaN() {
        assertEquals(2, Int8Epilogue.referenceCode(2.5f, 1f));
        assertEquals(4, Int8Epilogue.referenceCode(3.5f, 1f));
        assertEquals(-2, Int8Epilogue.referenceCode(-2.5f, 1f));
        assertEquals(127, Int8Epilogue.referenceCode(1e9f, 1f));
        assertEquals(-127, Int8Epilogue.referenceCode(-1e9f, 1f));
        assertEquals(0, Int8Epilogue.referenceCode(Float.NaN, 1f));
        assertEquals(0f, Int8Epilogue.reference(-10, 0.5f, 1f, true, true));
        assertEquals(-4f, Int8Epilogue.reference(-10, 0.5f, 1f, true, false));
        assertEquals(-5f, Int8Epilogue.reference(-10, 0.5f, 1f, false, false));
        // the int32 sum is rounded to f32 first (as the kernel's cvt.rn.f32.s32), then one f32 multiply and one f32 add
        float s = 1.0000001f;
        assertEquals(16_777_216f * s + 0.3f, Int8Epilogue.reference(16_777_217, s, 0.3f, true, false));
    }

    @Test void gemmSpecRefusalsNameTheDimension() {
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> new Int8Gemm.Spec(5, 8, 30));
        assertTrue(k.getMessage().contains("K = 30") && k.getMessage().contains("multiple of 4") && k.getMessage().contains("[5x30] x [30x8]"), k.getMessage());
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class, () -> new Int8Gemm.Spec(5, 10, 32));
        assertTrue(n.getMessage().contains("N = 10") && n.getMessage().contains("multiple of 4"), n.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Int8Gemm.Spec(0, 8, 32)).getMessage().contains("M=0"));
        Int8Gemm.Spec ok = new Int8Gemm.Spec(33, 72, 40); // M is free
        assertEquals(33L * 72 * 4, ok.accumulatorBytes());
    }

    @Test void convSpecRefusalsNameTheProblem() {
        IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 3, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1));
        assertTrue(c.getMessage().contains("C = 3") && c.getMessage().contains("multiple of 4") && c.getMessage().contains("NHWC"), c.getMessage());
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1));
        assertTrue(k.getMessage().contains("K = 6"), k.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 4, 2, 2, 4, 5, 5, 0, 0, 1, 1, 1, 1))
                .getMessage().contains("larger than the padded input"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 4, 8, 8, 4, 3, 3, 1, 1, 0, 1, 1, 1))
                .getMessage().contains("strides"));
        Int8Conv.Spec resnet = new Int8Conv.Spec(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1);
        assertEquals(56, resnet.outH());
        assertEquals(56L * 56 * 64, resnet.outputElements());
        Int8Conv.Spec strided = new Int8Conv.Spec(2, 8, 9, 7, 12, 3, 3, 1, 1, 2, 2, 1, 1);
        assertEquals(5, strided.outH());
        assertEquals(4, strided.outW());
        Int8Conv.Spec asymmetric = new Int8Conv.Spec(1, 16, 8, 9, 20, 3, 3, 0, 1, 1, 0, 2, 2, 1, 1); // TF's SAME at stride 2: pads after
        assertEquals(4, asymmetric.outH());
        assertEquals(4, asymmetric.outW());
        assertTrue(!asymmetric.symmetricPads() && resnet.symmetricPads());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 4, 8, 8, 4, 3, 3, 0, 0, -1, 0, 1, 1, 1, 1))
                .getMessage().contains("pads must be >= 0"));
        assertEquals(Int8Epilogue.Accumulator.INT32, Int8Conv.tessel(resnet).accumulator());
        assertEquals(0, Int8Conv.tessel(resnet).workspaceSize());
    }

    @Test void epilogueAndQuantizeRefuseBadTypesAndScales() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Epilogue.source(Int8Epilogue.Accumulator.INT32, DType.I32, false, false))
                .getMessage().contains("i8, f32, f16 or bf16"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Int8Epilogue.Params(null, null, false, DType.F32, 1f))
                .getMessage().contains("per-channel scales"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Quantize.checkScale(Float.NaN, "x")).getMessage().contains("positive finite"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Quantize.checkScale(0f, "x")).getMessage().contains("got 0.0"));
    }

    @Test void cublasLtProblemChecksTheInt32Configuration() {
        CublasLt.Problem p = new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I, CublasLt.ComputeType.C32I,
                CublasLt.Epilogue.DEFAULT, CudaDataType.R_32I);
        assertEquals(CudaDataType.R_32I, p.outType());
        // the floating constructor keeps D in A's type
        assertEquals(CudaDataType.R_16F, new CublasLt.Problem(false, false, 8, 8, 8, 8, 8, 8, CudaDataType.R_16F, CublasLt.ComputeType.C32F,
                CublasLt.Epilogue.DEFAULT).outType());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I,
                CublasLt.ComputeType.C32I, CublasLt.Epilogue.RELU, CudaDataType.R_32I)).getMessage().contains("default epilogue"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_32F,
                CublasLt.ComputeType.C32I, CublasLt.Epilogue.DEFAULT, CudaDataType.R_32I)).getMessage().contains("CUDA_R_8I"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I,
                CublasLt.ComputeType.C32F, CublasLt.Epilogue.DEFAULT, CudaDataType.R_32I)).getMessage().contains("needs CUBLAS_COMPUTE_32I"));
        assertEquals(3, CudaDataType.R_8I.code());
        assertEquals(10, CudaDataType.R_32I.code());
    }

    @Test void cublasLtProblemChecksTheRequantizingConfiguration() {
        // int8 D: f32 alphas per row of D (a device vector), the bias epilogues and ReLU, the "TN" format only
        CublasLt.Problem p = new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I, CublasLt.ComputeType.C32I,
                CublasLt.Epilogue.RELU_BIAS, CudaDataType.R_8I);
        assertTrue(p.alphaVector());
        assertFalse(new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I, CublasLt.ComputeType.C32I, CublasLt.Epilogue.DEFAULT,
                CudaDataType.R_32I).alphaVector());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 8, 5, 32, 32, 32, 8, CudaDataType.R_8I,
                CublasLt.ComputeType.C32I, CublasLt.Epilogue.GELU_BIAS, CudaDataType.R_8I)).getMessage().contains("DEFAULT, RELU, BIAS and RELU_BIAS"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(false, false, 8, 5, 32, 8, 32, 8, CudaDataType.R_8I,
                CublasLt.ComputeType.C32I, CublasLt.Epilogue.DEFAULT, CudaDataType.R_8I)).getMessage().contains("\"TN\" format"));
        // the host side of the requantize: alphas s_x·s_w[c] / s_y, the bias over s_y
        assertArrayEquals(new float[] {0.5f / 4f, 2f / 4f}, Int8Gemm.alphas(new float[] {0.5f, 2f}, 4f));
        assertArrayEquals(new float[] {-0.25f, 1f}, Int8Gemm.overScale(new float[] {-1f, 4f}, 4f));
        assertThrows(IllegalArgumentException.class, () -> Int8Gemm.overScale(new float[] {1f}, 0f));
    }

    @Test void im2colSlicesAreWholeImagesOfAboutTheL2Budget() {
        // ResNet-50's layer1 3x3 at batch 256, int8: 1.7 MiB of matrix an image, 13 images a slice, the last of 9
        Im2col.Geometry g = new Im2col.Geometry(256, 56, 56, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1);
        Im2col.Slicing s = Im2col.Slicing.of(g, 1, 64);
        assertEquals(13, s.images());
        assertEquals(20, s.count());
        assertEquals(9, s.last().n());
        assertTrue(s.slice().bytes(1) <= Im2col.SLICE_BYTES);
        assertEquals(Im2col.workspaceBytes(s.slice(), 1, 4L << 20), s.workspaceBytes(4L << 20));
        // 7x7 outputs of 8 int8 channels: an image's output is 392 bytes, 256-byte aligned only every 32 images
        Im2col.Slicing odd = Im2col.Slicing.of(new Im2col.Geometry(256, 7, 7, 512, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1), 1, 8);
        assertEquals(0, odd.images() % 32);
        assertEquals(0, (long) odd.images() * 49 * 8 % 256);
        // a small batch is one slice; an image larger than the budget is a slice of its own
        assertEquals(1, Im2col.Slicing.of(new Im2col.Geometry(1, 7, 7, 512, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1), 2, 1024).count());
        Im2col.Slicing big = Im2col.Slicing.of(new Im2col.Geometry(3, 512, 512, 64, 512, 512, 3, 3, 1, 1, 1, 1, 1, 1), 2, 128);
        assertEquals(1, big.images());
        assertEquals(3, big.count());
    }

    @Test void convolutionCodesPadToTheIm2colColumns() {
        // [2, 3, 1, 2] filters: KRSC codes of 6 per channel, padded to 8 columns with zeros
        Tensor w = Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(2, 3, 1, 2), new float[] {1, 2, 3, 4, 5, 6, -6, -5, -4, -3, -2, -1});
        Int8Weights q = Int8Weights.forConv(w);
        byte[] padded = q.paddedTo(8);
        assertEquals(16, padded.length);
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 6; i++) assertEquals(q.codes()[c * 6 + i], padded[c * 8 + i]);
            assertEquals(0, padded[c * 8 + 6]);
            assertEquals(0, padded[c * 8 + 7]);
        }
        assertArrayEquals(q.codes(), q.paddedTo(6));
        assertThrows(IllegalArgumentException.class, () -> q.paddedTo(5));
    }

    @Test void epilogueSourcesSpecializeByDefines() {
        String s = Int8Epilogue.source(Int8Epilogue.Accumulator.FLOAT, DType.I8, true, false);
        assertTrue(s.contains("typedef float ACC;") && s.contains("tessel_q8((v), out_scale)") && s.contains("#define TESSEL_BIAS 1")
                && s.contains("#define TESSEL_CLAMP 0") && s.contains("#define TESSEL_RESIDUAL 0"), s);
        String f = Int8Epilogue.source(Int8Epilogue.Accumulator.INT32, DType.BF16, false, true);
        assertTrue(f.contains("typedef int ACC;") && f.contains("tessel_f2bf") && f.contains("#define TESSEL_CLAMP 1"), f);
        String r = Int8Epilogue.source(Int8Epilogue.Accumulator.FLOAT, DType.I8, true, true, false);
        assertTrue(r.contains("#define TESSEL_RESIDUAL 1") && r.contains("#define TESSEL_CLAMP 0"), r);
    }

    /** Every INT8 kernel specialization the GPU tests launch. */
    static Map<String, String> sources() {
        Map<String, String> m = new LinkedHashMap<>();
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            m.put("quantize_" + t.text(), Quantize.source(t));
            m.put("dequantize_" + t.text(), Dequantize.source(t));
        }
        for (Int8Epilogue.Accumulator a : Int8Epilogue.Accumulator.values())
            for (DType out : new DType[] {DType.I8, DType.F32, DType.F16, DType.BF16})
                m.put("int8_epilogue_" + a + "_" + out.text(), Int8Epilogue.source(a, out, out != DType.F16, out != DType.F32));
        m.put("int8_epilogue_plain_i8", Int8Epilogue.source(Int8Epilogue.Accumulator.INT32, DType.I8, false, false));
        m.put("conv_int8_dp4a", Int8Conv.dp4aSource());
        return m;
    }

    @Test void everyInt8KernelSourceCompilesWithNvcc(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        // the rounding the reference relies on: IEEE division, round-to-nearest-even, no FMA contraction
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, sources(), ptx -> ptx.contains("fma.rn.f32") ? "contains fma.rn.f32, the epilogue must not contract" : null),
                "INT8 kernel sources that nvcc rejects");
    }

    /**
     * Both dp4a convolution kernels (conv_int8.cu as it ships, {@code __dp4a} from the shim) on the emulated device:
     * tiles cut in both directions, padding (asymmetric too), strides, dilations, 1x1 to 7x7 filters, channel words not
     * a multiple of the 8-word step; every int32 sum equals a direct Java loop's, and cuDNN's path refuses asymmetric pads.
     */
    @Test void dp4aConvKernelsComputeExactSumsOnTheEmulatedDevice() {
        // n, c, h, w, k, r, s, pad top, left, bottom, right, stride, dilation
        int[][] shapes = {{1, 64, 12, 11, 64, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 8, 9, 7, 12, 3, 3, 1, 1, 1, 1, 2, 1}, {1, 32, 14, 14, 16, 1, 1, 0, 0, 0, 0, 1, 1},
                          {1, 4, 11, 13, 8, 3, 3, 2, 2, 2, 2, 1, 2}, {3, 20, 17, 10, 68, 5, 3, 1, 1, 1, 1, 1, 1}, {1, 12, 5, 5, 132, 2, 2, 0, 0, 0, 0, 1, 1},
                          {1, 8, 15, 15, 8, 7, 7, 3, 3, 3, 3, 2, 1}, {1, 16, 8, 9, 20, 3, 3, 0, 1, 1, 0, 2, 1}, {2, 4, 6, 6, 4, 2, 2, 1, 0, 0, 1, 1, 1}};
        SplittableRandom r = new SplittableRandom(9);
        try (org.tessel.runtime.cuda.CudaContext ctx = org.tessel.runtime.cuda.CudaContext.emulated(2, 1L << 26); KernelCompiler kc = new KernelCompiler(ctx)) {
            for (int[] c : shapes) {
                Int8Conv.Spec spec = new Int8Conv.Spec(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[11], c[12], c[12]);
                byte[] x = new byte[Math.toIntExact(spec.inputElements())], w = new byte[Math.toIntExact(spec.filterElements())];
                for (int i = 0; i < x.length; i++) x[i] = (byte) (r.nextInt(255) - 127);
                for (int i = 0; i < w.length; i++) w[i] = (byte) (r.nextInt(255) - 127);
                long[] want = Int8KernelsGpuTest.convReference(x, w, spec);
                for (Int8Conv conv : List.of(Int8Conv.tessel(spec), Int8Conv.tesselDirect(spec)))
                    try (conv; DeviceBufferSet b = new DeviceBufferSet(x, w, conv.accumulatorBytes())) {
                        conv.runAccumulate(kc, b.x, b.w, b.acc, null, org.tessel.runtime.cuda.CudaStream.DEFAULT);
                        int[] got = new int[want.length];
                        b.acc.copyTo(got);
                        for (int i = 0; i < got.length; i++)
                            assertEquals(want[i], got[i], conv.backend() + " " + spec + ": sum " + i + " of " + got.length);
                    }
                if (!spec.symmetricPads())
                    assertTrue(assertThrows(IllegalArgumentException.class, () -> Int8Conv.cudnn(null, spec)).getMessage().contains("cuDNN"));
            }
        }
    }

    /** Device copies of int8 x and w and an accumulator buffer filled with a sentinel, closed together. */
    private record DeviceBufferSet(org.tessel.runtime.cuda.DeviceBuffer x, org.tessel.runtime.cuda.DeviceBuffer w, org.tessel.runtime.cuda.DeviceBuffer acc) implements AutoCloseable {
        DeviceBufferSet(byte[] x, byte[] w, long accBytes) {
            this(org.tessel.runtime.cuda.DeviceBuffer.ofBytes(x), org.tessel.runtime.cuda.DeviceBuffer.ofBytes(w), filled(accBytes));
        }

        private static org.tessel.runtime.cuda.DeviceBuffer filled(long bytes) {
            org.tessel.runtime.cuda.DeviceBuffer b = org.tessel.runtime.cuda.DeviceBuffer.allocate(bytes);
            b.fill((byte) 0x7F);
            return b;
        }

        @Override public void close() { acc.close(); w.close(); x.close(); }
    }

    /**
     * Compiles {@code kernelSource} (a kernel's NVRTC source without the prelude) after the host
     * shim and before {@code main}, runs it in {@code dir} with {@code args}, and fails on any error.
     */
    static void runOnHost(Path dir, String kernelSource, String main, String... args) throws Exception {
        String shim;
        try (java.io.InputStream in = Int8KernelsTest.class.getResourceAsStream("int8_host_shim.h")) {
            shim = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Files.writeString(dir.resolve("k.cpp"), shim + kernelSource + "\n" + main);
        Process cc = new ProcessBuilder("g++", "-std=c++17", "-O1", "-ffp-contract=off", "-w", "-o", "k", "k.cpp").directory(dir.toFile()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "g++ failed on the emulated kernel:\n" + ccOut);
        List<String> cmd = new ArrayList<>(List.of(dir.resolve("k").toString()));
        cmd.addAll(List.of(args));
        Process run = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor(), out);
    }

    static java.nio.ByteBuffer le(int bytes) { return java.nio.ByteBuffer.allocate(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN); }

    static String withoutPrelude(String source) {
        String prelude = KernelCompiler.prelude();
        assertTrue(source.startsWith(prelude), "the kernel source no longer starts with the prelude");
        return source.substring(prelude.length());
    }

    /**
     * quantize.cu's tessel_quantize_i8 (f32 input), run on the CPU under the host shim, gives
     * PrecisionEmulation.quantize's code for every value: ties, both clamps, zeros, infinities, NaN.
     */
    @Test void quantizeKernelMatchesPrecisionEmulationUnderHostEmulation(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        SplittableRandom r = new SplittableRandom(4);
        float scale = 0.0173f;
        int n = 20_000;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 6 - 3);
        for (int i = 0; i < 300; i++) v[i] = (i - 150 + 0.5f) * scale;
        for (int i = 300; i < 600; i++) v[i] = (float) (i - 450) + 0.5f; // exact halves at scale 1 below
        v[600] = 1e6f; v[601] = -1e6f; v[602] = 0f; v[603] = -0f; v[604] = Float.POSITIVE_INFINITY; v[605] = Float.NEGATIVE_INFINITY; v[606] = Float.NaN;
        java.nio.ByteBuffer in = le(4 * n);
        for (float f : v) in.putFloat(f);
        Files.write(dir.resolve("in.bin"), in.array());
        String main = """
                int main(int argc, char** argv) {
                    long long n = std::atoll(argv[1]);
                    float scale = std::strtof(argv[2], nullptr);
                    std::vector<float> in(n);
                    std::vector<signed char> out(n);
                    readFile("in.bin", in);
                    tessel_quantize_i8(in.data(), out.data(), scale, n);
                    writeFile(argv[3], out);
                    return 0;
                }
                """;
        for (float sc : new float[] {scale, 1f}) {
            runOnHost(dir, withoutPrelude(Quantize.source(DType.F32)), main, Integer.toString(n), Float.toString(sc), "out.bin");
            byte[] got = Files.readAllBytes(dir.resolve("out.bin"));
            for (int i = 0; i < n; i++)
                assertEquals(PrecisionEmulation.quantize(v[i], sc), got[i], "value " + v[i] + " at scale " + sc);
        }
    }

    /**
     * int8_epilogue.cu, run on the CPU under the host shim for int32 and f32 accumulators and int8,
     * f32, bf16 and f16 outputs with and without bias and ReLU, gives exactly Int8Epilogue.reference
     * (and referenceCode for int8), ties at the output scale included.
     */
    @Test void epilogueKernelMatchesItsJavaReferenceUnderHostEmulation(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        SplittableRandom r = new SplittableRandom(5);
        int rows = 97, ch = 12, n = rows * ch;
        int[] acc = new int[n];
        for (int i = 0; i < n; i++) acc[i] = r.nextInt(-2_000_000, 2_000_000);
        for (int i = 0; i < 100; i++) acc[i] = 2 * i - 99;              // odd: v = acc * 0.5 is a half-integer at channels of scale 0.5
        acc[100] = Integer.MAX_VALUE; acc[101] = Integer.MIN_VALUE; acc[102] = 16_777_217;
        float[] scales = new float[ch], bias = new float[ch];
        for (int c = 0; c < ch; c++) { scales[c] = c % 3 == 0 ? 0.5f : (float) (r.nextDouble() * 1e-4); bias[c] = c % 3 == 0 ? 0f : (float) (r.nextDouble() * 4 - 2); }
        java.nio.ByteBuffer sb = le(4 * ch), bb = le(4 * ch), ai = le(4 * n), af = le(4 * n);
        for (int c = 0; c < ch; c++) { sb.putFloat(scales[c]); bb.putFloat(bias[c]); }
        for (int a : acc) { ai.putInt(a); af.putFloat((float) a); }
        Files.write(dir.resolve("scale.bin"), sb.array());
        Files.write(dir.resolve("bias.bin"), bb.array());
        Files.write(dir.resolve("acc_int.bin"), ai.array());
        Files.write(dir.resolve("acc_float.bin"), af.array());
        String main = """
                int main(int argc, char** argv) {
                    long long rows = std::atoll(argv[1]);
                    int ch = std::atoi(argv[2]);
                    float outScale = std::strtof(argv[3], nullptr);
                    std::vector<ACC> acc(rows * ch);
                    std::vector<float> scale(ch), bias(ch);
                    std::vector<OUT> out(rows * ch);
                    readFile(argv[4], acc);
                    readFile("scale.bin", scale);
                    readFile("bias.bin", bias);
                    tessel_int8_epilogue(acc.data(), scale.data(), bias.data(), nullptr, 1.0f, 0.0f, INFINITY, out.data(), outScale, rows, ch);
                    writeFile("out.bin", out);
                    return 0;
                }
                """;
        float outScale = 1f;
        for (Int8Epilogue.Accumulator a : Int8Epilogue.Accumulator.values())
            for (DType out : new DType[] {DType.I8, DType.F32, DType.BF16, DType.F16})
                for (int flags = 0; flags < 4; flags++) {
                    // every bias / ReLU combination for int8 output; one each for the float outputs (compiles are slow)
                    if (out != DType.I8 && flags != switch (out) { case F32 -> 1; case BF16 -> 3; default -> 2; }) continue;
                    boolean hasBias = (flags & 1) != 0, relu = (flags & 2) != 0;
                    String what = a + " -> " + out.text() + (hasBias ? " bias" : "") + (relu ? " relu" : "");
                    runOnHost(dir, withoutPrelude(Int8Epilogue.source(a, out, hasBias, relu)), main, Integer.toString(rows), Integer.toString(ch),
                            Float.toString(outScale), a == Int8Epilogue.Accumulator.INT32 ? "acc_int.bin" : "acc_float.bin");
                    java.nio.ByteBuffer got = java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("out.bin"))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < n; i++) {
                        int c = i % ch;
                        double accValue = a == Int8Epilogue.Accumulator.INT32 ? acc[i] : (float) acc[i];
                        float v = Int8Epilogue.reference(accValue, scales[c], bias[c], hasBias, relu);
                        switch (out) {
                            case I8 -> assertEquals(Int8Epilogue.referenceCode(v, outScale), got.get(i), what + " at " + i + " (v " + v + ")");
                            case F32 -> assertEquals(v, got.getFloat(4 * i), what + " at " + i);
                            case BF16 -> assertEquals(Tensor.roundBf16(v), Float.intBitsToFloat((got.getShort(2 * i) & 0xFFFF) << 16), what + " at " + i);
                            default -> assertEquals(Tensor.round(DType.F16, v), Float.float16ToFloat(got.getShort(2 * i)), what + " at " + i);
                        }
                    }
                }
    }
}
