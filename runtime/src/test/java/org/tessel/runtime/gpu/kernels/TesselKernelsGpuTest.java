package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.PassManager;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;

/** Every NVRTC-generated Tessel kernel against the reference interpreter on random inputs of several shapes. */
@Tag("gpu")
class TesselKernelsGpuTest {
    static final CudaStream S = CudaStream.DEFAULT;

    // ---- tessel.eltwise.fused -------------------------------------------------------------

    /** Runs a graph of elementwise ops as one generated kernel and compares every output. */
    static void checkEltwise(String what, Graph g, Map<String, Tensor> inputs, double tol) {
        KernelCompiler kc = GpuTestSupport.compiler();
        Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
        List<DeviceBuffer> ins = new ArrayList<>(), outs = new ArrayList<>();
        try (FusedEltwiseKernel k = FusedEltwiseKernel.compile(kc, g)) {
            for (Value v : g.inputs()) {
                Tensor t = inputs.get(v.name());
                ins.add(HostTensors.upload(v.type().layout() == Layout.NHWC ? HostTensors.toChannelsLast(t) : t));
            }
            for (Value v : g.outputs()) outs.add(GpuTestSupport.poisoned(v.type().dtype(), v.type().numElements()));
            for (boolean vector : new boolean[] {true, false}) {
                for (DeviceBuffer o : outs) o.fill((byte) 0xFF);
                if (vector) k.run(ins, outs, S); else k.runScalar(ins, outs, S);
                for (int i = 0; i < g.outputs().size(); i++) {
                    Value v = g.outputs().get(i);
                    Tensor got = HostTensors.download(outs.get(i), v.type().dtype(), v.type().shape());
                    if (v.type().layout() == Layout.NHWC) got = HostTensors.fromChannelsLast(got);
                    assertClose("tessel.eltwise.fused " + what + (vector ? " vec" + k.source().vec() : " scalar") + " %" + v.name(), got, ref.get(v.name()), tol);
                }
            }
        } finally {
            ins.forEach(DeviceBuffer::close);
            outs.forEach(DeviceBuffer::close);
        }
    }

    @Test void eltwiseChainsMatchTheReference() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(21);
        for (int[] dims : new int[][] {{2, 8, 5, 7}, {1, 64, 56, 56}, {3, 1000}, {3, 999}}) {
            for (DType t : new DType[] {DType.F32, DType.F16}) {
                checks.check("bias+relu " + t.text() + " " + java.util.Arrays.toString(dims), () -> {
                    NetworkBuilder b = new NetworkBuilder("bias_relu");
                    Value x = b.input("x", t, dims);
                    int c = dims[1];
                    int[] bshape = dims.length == 4 ? new int[] {c, 1, 1} : new int[] {c};
                    Value bias = b.constant("bias", GpuTestSupport.random(r, t, Shape.of(bshape), -1, 1));
                    Value two = b.scalar("two", t, 2.0);
                    Graph g = b.output(b.relu(b.add(b.mul(x, two), bias))).build();
                    checkEltwise("x*2+bias->relu", g, Map.of("x", GpuTestSupport.random(r, t, Shape.of(dims), -2, 2)), t == DType.F32 ? 1e-6 : 2e-3);
                });
            }
        }
        checks.check("activation zoo f32", () -> {
            NetworkBuilder b = new NetworkBuilder("zoo");
            Value x = b.input("x", DType.F32, 4, 33, 17);
            Value y = b.input("y", DType.F32, 33, 1);
            Value g1 = b.gelu(x);
            Value g2 = b.op("Gelu", NetworkBuilder.attrs("approximate", "tanh"), x);
            Value s = b.mul(b.sigmoid(g1), b.tanh(g2));
            Value lr = b.op("LeakyRelu", NetworkBuilder.attrs("alpha", 0.1f), b.sub(s, y));
            Value hs = b.op("HardSwish", null, b.clip(lr, -0.5f, 0.7f));
            Value e = b.op("Erf", null, b.div(hs, b.add(b.op("Exp", null, y), y)));
            Value more = b.op("Softplus", null, b.op("Elu", null, b.op("Neg", null, e)));
            Graph g = b.output(e, more, b.op("Max", null, x, y, b.op("Abs", null, more))).build();
            checkEltwise("activation zoo", g, Map.of("x", GpuTestSupport.random(r, DType.F32, Shape.of(4, 33, 17), -3, 3),
                    "y", GpuTestSupport.random(r, DType.F32, Shape.of(33, 1), 0.5, 2)), 1e-5);
        });
        checks.check("nhwc broadcast f32", () -> {
            NetworkBuilder b = new NetworkBuilder("nhwc");
            TensorType xt = new TensorType(DType.F32, Shape.of(2, 12, 5, 6), Layout.NHWC);
            Value x = b.input("x", xt);
            Value sc = b.input("scale", DType.F32, 12, 1, 1);
            Value y = b.op("Sigmoid", null, b.mul(x, sc));
            y.setType(xt);
            Graph g = b.output(y).build();
            // the output's layout is NHWC too: the kernel iterates in channels-last order
            checkEltwise("x{nhwc}*scale[c]->sigmoid", g, Map.of("x", GpuTestSupport.random(r, DType.F32, Shape.of(2, 12, 5, 6), -2, 2),
                    "scale", GpuTestSupport.random(r, DType.F32, Shape.of(12, 1, 1), -2, 2)), 1e-6);
        });
        checks.check("fused node from the fuse pass", () -> {
            NetworkBuilder b = new NetworkBuilder("fuse_me");
            Value x = b.input("x", DType.F32, 2, 16, 9, 9);
            Value c = b.constant("shift", GpuTestSupport.random(r, DType.F32, Shape.of(16, 1, 1), -1, 1));
            Value y = b.clip(b.op("HardSwish", null, b.sub(x, c)), 0f, 6f);
            Graph g = b.output(y).build();
            Tensor in = GpuTestSupport.random(r, DType.F32, Shape.of(2, 16, 9, 9), -4, 4);
            Tensor want = GpuTestSupport.reference(g, Map.of("x", in)).values().iterator().next();
            new PassManager().run(g, "fuse");
            Node fused = g.nodes().stream().filter(n -> n.opName().equals(TesselOps.FUSED)).findFirst()
                    .orElseThrow(() -> new AssertionError("the fuse pass made no fused node: " + g.opHistogram()));
            assertEquals("eltwise", fused.attrs().getString("kind", ""));
            KernelCompiler kc = GpuTestSupport.compiler();
            try (FusedEltwiseKernel k = FusedEltwiseKernel.compile(kc, fused)) {
                List<DeviceBuffer> ins = new ArrayList<>();
                for (Value v : fused.inputs()) ins.add(HostTensors.upload(v.isConstant() ? v.constantValue() : in));
                try (DeviceBuffer out = GpuTestSupport.poisoned(DType.F32, want.size())) {
                    k.run(ins, List.of(out), S);
                    assertClose("tessel.eltwise.fused node '" + fused.name() + "'", HostTensors.download(out, DType.F32, want.shape()), want, 1e-6);
                } finally {
                    ins.forEach(DeviceBuffer::close);
                }
            }
        });
        checks.done();
    }

    /** The bytes of a device buffer. */
    static byte[] bytes(DeviceBuffer b) {
        byte[] a = new byte[Math.toIntExact(b.bytes())];
        b.copyTo(a);
        return a;
    }

    /**
     * Runs a graph's vector kernel (which must be the one {@link FusedEltwiseKernel#run} takes on these freshly allocated,
     * aligned buffers, {@code vec} elements per thread, accessing the parameters {@code vectorParameters} in vector form)
     * and its scalar kernel: their outputs must agree bit for bit, and match the reference interpreter. The input
     * {@code x} may also be offset by {@code misalign} bytes: then {@link FusedEltwiseKernel#run} must take the
     * scalar kernel, with the same result.
     */
    static void checkVectorEqualsScalar(String what, Graph g, Map<String, Tensor> inputs, int vec, List<Integer> vectorParameters) {
        KernelCompiler kc = GpuTestSupport.compiler();
        Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
        List<DeviceBuffer> ins = new ArrayList<>(), outs = new ArrayList<>();
        try (FusedEltwiseKernel k = FusedEltwiseKernel.compile(kc, g)) {
            assertEquals(vec, k.source().vec(), what + ": vector width");
            assertEquals(vectorParameters, k.source().vectorParameters(), what + ": parameters accessed in vector form");
            for (Value v : g.inputs()) {
                Tensor t = inputs.get(v.name());
                ins.add(HostTensors.upload(v.type().layout() == Layout.NHWC ? HostTensors.toChannelsLast(t) : t));
            }
            for (Value v : g.outputs()) outs.add(GpuTestSupport.poisoned(v.type().dtype(), v.type().numElements()));
            assertTrue(k.runsVectorKernel(ins, outs), what + ": run takes the vector kernel on aligned buffers");
            k.run(ins, outs, S);
            List<byte[]> vector = new ArrayList<>();
            for (DeviceBuffer o : outs) vector.add(bytes(o));
            for (DeviceBuffer o : outs) o.fill((byte) 0xFF);
            k.runScalar(ins, outs, S);
            for (int i = 0; i < outs.size(); i++) {
                Value v = g.outputs().get(i);
                assertArrayEquals(bytes(outs.get(i)), vector.get(i), what + ": the vector kernel's %" + v.name() + " differs from the scalar kernel's");
                Tensor got = HostTensors.download(outs.get(i), v.type().dtype(), v.type().shape());
                if (v.type().layout() == Layout.NHWC) got = HostTensors.fromChannelsLast(got);
                assertClose("tessel.eltwise.fused " + what + " vec" + vec + " = scalar %" + v.name(), got, ref.get(v.name()), GpuTestSupport.tolerance(v.type().dtype()));
            }
            // the first input at an address the vector kernel cannot take (for 16-bit values, aligned to 2 bytes only)
            Value x = g.inputs().get(0);
            long elementBytes = x.type().dtype().bytes();
            try (DeviceBuffer wide = DeviceBuffer.allocate(ins.get(0).bytes() + 16)) {
                DeviceBuffer shifted = wide.slice(elementBytes, ins.get(0).bytes());
                shifted.copyFrom(ins.get(0));
                List<DeviceBuffer> shiftedIns = new ArrayList<>(ins);
                shiftedIns.set(0, shifted);
                assertFalse(k.runsVectorKernel(shiftedIns, outs), what + ": a misaligned input takes the scalar kernel");
                for (DeviceBuffer o : outs) o.fill((byte) 0xFF);
                k.run(shiftedIns, outs, S);
                for (int i = 0; i < outs.size(); i++)
                    assertArrayEquals(vector.get(i), bytes(outs.get(i)), what + ": misaligned input, output %" + g.outputs().get(i).name());
            }
        } finally {
            ins.forEach(DeviceBuffer::close);
            outs.forEach(DeviceBuffer::close);
        }
    }

    /**
     * The vector kernel against the scalar kernel, bit for bit: 8 elements per thread for f16 and bf16 bodies (a bias over
     * the innermost dimension loaded as a vector where that dimension is a multiple of 8, element by element otherwise),
     * tails of fewer than 8 elements, broadcasts along other dimensions, a per-channel operand over channels-last data, an
     * operand over the two innermost dimensions, and 4 per thread where an f32 operand is accessed in vector form.
     */
    @Test void theVectorKernelMatchesTheScalarKernelBitForBit() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(8);
        record Case(String what, DType t, Layout l, int[] xs, DType bt, int[] bs, int vec, List<Integer> vectorParameters) {}
        List<Case> cases = new ArrayList<>();
        for (DType t : new DType[] {DType.F16, DType.BF16}) {
            cases.add(new Case("bias[3072] over [2,4,3072]", t, Layout.NCHW, new int[] {2, 4, 3072}, t, new int[] {3072}, 8, List.of(0, 1, 2)));
            cases.add(new Case("bias[12] over [4,6,12]", t, Layout.NCHW, new int[] {4, 6, 12}, t, new int[] {12}, 8, List.of(0, 2)));
            cases.add(new Case("bias[999] over [3,999] (tail of 5)", t, Layout.NCHW, new int[] {3, 999}, t, new int[] {999}, 8, List.of(0, 2)));
            cases.add(new Case("x[1003] alone (tail of 3)", t, Layout.NCHW, new int[] {1003}, t, null, 8, List.of(0, 1)));
            cases.add(new Case("x[5] alone (tail only)", t, Layout.NCHW, new int[] {5}, t, null, 8, List.of(0, 1)));
            cases.add(new Case("s[6,1] over [3,6,41] (outer broadcast, tail of 2)", t, Layout.NCHW, new int[] {3, 6, 41}, t, new int[] {6, 1}, 8, List.of(0, 2)));
            cases.add(new Case("p[4,8] over [2,3,4,8]", t, Layout.NCHW, new int[] {2, 3, 4, 8}, t, new int[] {4, 8}, 8, List.of(0, 1, 2)));
            cases.add(new Case("c[24,1,1] over [2,24,5,7]{nhwc}", t, Layout.NHWC, new int[] {2, 24, 5, 7}, t, new int[] {24, 1, 1}, 8, List.of(0, 1, 2)));
            cases.add(new Case("c[12,1,1] over [2,12,5,7]{nhwc}", t, Layout.NHWC, new int[] {2, 12, 5, 7}, t, new int[] {12, 1, 1}, 8, List.of(0, 2)));
            cases.add(new Case("c[24,1,1] over [2,24,5,7] (nchw)", t, Layout.NCHW, new int[] {2, 24, 5, 7}, t, new int[] {24, 1, 1}, 8, List.of(0, 2)));
        }
        cases.add(new Case("f32 y[3,77] into f16 x[3,77] (tail of 3)", DType.F16, Layout.NCHW, new int[] {3, 77}, DType.F32, new int[] {3, 77}, 4, List.of(0, 1, 2)));
        cases.add(new Case("f32 bias[64] over bf16 [4,3,64]", DType.BF16, Layout.NCHW, new int[] {4, 3, 64}, DType.F32, new int[] {64}, 4, List.of(0, 1, 2)));
        cases.add(new Case("f32 bias[3072] over f32 [2,3072]", DType.F32, Layout.NCHW, new int[] {2, 3072}, DType.F32, new int[] {3072}, 4, List.of(0, 1, 2)));
        cases.add(new Case("f32 bias[3071] over f32 [2,3071] (tail of 2)", DType.F32, Layout.NCHW, new int[] {2, 3071}, DType.F32, new int[] {3071}, 4, List.of(0, 2)));
        for (Case c : cases)
            checks.check("vec = scalar: " + c.what() + " " + c.t().text(), () -> {
                Graph g = EltwiseCodegenTest.biasGelu(c.t(), c.l(), c.xs(), c.bt(), c.bs());
                Map<String, Tensor> in = new LinkedHashMap<>();
                in.put("x", GpuTestSupport.random(r, c.t(), Shape.of(c.xs()), -4, 4));
                if (c.bs() != null) in.put("b", GpuTestSupport.random(r, c.bt(), Shape.of(c.bs()), -1, 1));
                checkVectorEqualsScalar(c.what(), g, in, c.vec(), c.vectorParameters());
            });
        checks.check("vec = scalar: an uploaded constant bias[64] over f16 [8,64]", () -> {
            NetworkBuilder b = new NetworkBuilder("const_bias");
            Value x = b.input("x", DType.F16, 8, 64);
            Value bias = b.constant("bias", GpuTestSupport.random(r, DType.F16, Shape.of(64), -1, 1));
            Graph g = b.output(b.gelu(b.add(x, bias))).build();
            checkVectorEqualsScalar("constant bias[64] over [8,64]", g, Map.of("x", GpuTestSupport.random(r, DType.F16, Shape.of(8, 64), -4, 4)), 8, List.of(0, 1, 2));
        });
        checks.done();
    }

    // ---- tessel.softmax, tessel.layernorm -----------------------------------------------------

    @Test void softmaxAndLayerNormMatchTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(22);
        for (int[] d : new int[][] {{4, 10}, {96, 128}, {3, 1000}, {2, 4097}, {2, 3, 768}, {5, 1024}, {3, 1028}, {7, 36}}) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                Shape shape = Shape.of(d);
                int len = d[d.length - 1], rows = (int) (shape.numElements() / len);
                Tensor x = GpuTestSupport.random(r, t, shape, -6, 6);
                checks.check("tessel.softmax " + t.text() + shape, () -> {
                    NetworkBuilder b = new NetworkBuilder("softmax");
                    Graph g = b.output(b.softmax(b.input("x", DType.F32, d), -1)).build();
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x))).values().iterator().next();
                    try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dy = GpuTestSupport.poisoned(t, shape.numElements())) {
                        Softmax.run(kc, t, dx, dy, rows, len, S);
                        assertClose("tessel.softmax", HostTensors.download(dy, t, shape), want, t == DType.F32 ? 1e-5 : GpuTestSupport.tolerance(t));
                    }
                });
                Tensor gamma = GpuTestSupport.random(r, t, Shape.of(len), 0.5, 1.5), beta = GpuTestSupport.random(r, t, Shape.of(len), -1, 1);
                checks.check("tessel.layernorm " + t.text() + shape, () -> {
                    NetworkBuilder b = new NetworkBuilder("ln");
                    Value xin = b.input("x", DType.F32, d);
                    Graph g = b.output(b.layerNorm(xin, b.input("g", DType.F32, len), b.input("b", DType.F32, len), -1, 1e-5f)).build();
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x), "g", GpuTestSupport.asF32(gamma),
                            "b", GpuTestSupport.asF32(beta))).values().iterator().next();
                    try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dg = HostTensors.upload(gamma); DeviceBuffer db = HostTensors.upload(beta);
                         DeviceBuffer dy = GpuTestSupport.poisoned(t, shape.numElements())) {
                        LayerNorm.run(kc, t, dx, dg, db, dy, rows, len, 1e-5f, S);
                        assertClose("tessel.layernorm", HostTensors.download(dy, t, shape), want, t == DType.F32 ? 1e-5 : GpuTestSupport.tolerance(t));
                    }
                });
            }
        }
        checks.done();
    }

    // ---- tessel.gelu.erf (in place after a cuBLASLt bias epilogue) --------------------------------

    /** The vector kernel (n a multiple of 4 on an aligned buffer) and the scalar one (any other n). */
    @Test void geluErfMatchesTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(23);
        for (int n : new int[] {4096, 1001, 3}) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                Tensor x = GpuTestSupport.random(r, t, Shape.of(n), -8, 8);
                checks.check("tessel.gelu.erf " + t.text() + " n=" + n, () -> {
                    NetworkBuilder b = new NetworkBuilder("gelu");
                    Graph g = b.output(b.gelu(b.input("x", DType.F32, n))).build();
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x))).values().iterator().next();
                    try (DeviceBuffer dy = HostTensors.upload(x)) {
                        TransformerKernels.geluErf(kc, t, dy, n, S);
                        assertClose("tessel.gelu.erf", HostTensors.download(dy, t, Shape.of(n)), want, t == DType.F32 ? 1e-6 : GpuTestSupport.tolerance(t));
                    }
                });
            }
        }
        checks.done();
    }

    // ---- tessel.reformat.nchw_nhwc, tessel.cast ---------------------------------------------------

    @Test void reformatsAndCastsMatchTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(23);
        for (int[] d : new int[][] {{1, 3, 224, 224}, {2, 64, 7, 7}, {4, 33, 5, 17}, {1, 1000, 1, 1}, {3, 4, 9, 13}, {2, 8, 3, 3}, {5, 1, 6, 7}, {2, 9, 2, 2}}) {
            for (DType t : new DType[] {DType.F32, DType.F16}) {
                Shape shape = Shape.of(d);
                checks.check("tessel.reformat " + t.text() + shape, () -> {
                    Tensor x = GpuTestSupport.random(r, t, shape, -5, 5);
                    // the reference: a tessel.Reformat node changes no value, only the storage order
                    NetworkBuilder b = new NetworkBuilder("reformat");
                    Value in = b.input("x", t, d);
                    Graph g = b.output(b.op(TesselOps.REFORMAT, NetworkBuilder.attrs("to", "nhwc"), in)).build();
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", x)).values().iterator().next();
                    int sp = d[2] * d[3];
                    try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer nhwc = GpuTestSupport.poisoned(t, shape.numElements());
                         DeviceBuffer back = GpuTestSupport.poisoned(t, shape.numElements())) {
                        Reformat.nchwToNhwc(kc, t, dx, nhwc, d[0], d[1], sp, S);
                        Tensor got = HostTensors.download(nhwc, t, shape);
                        assertTrue(got.dataEquals(HostTensors.toChannelsLast(want)), "NCHW -> NHWC moved values wrongly");
                        assertClose("tessel.reformat.nchw_nhwc", HostTensors.fromChannelsLast(got), want, 0);
                        Reformat.nhwcToNchw(kc, t, nhwc, back, d[0], d[1], sp, S);
                        assertClose("tessel.reformat.nhwc_nchw", HostTensors.download(back, t, shape), want, 0);
                    }
                });
            }
        }
        for (DType from : new DType[] {DType.F32, DType.F16, DType.BF16})
            for (DType to : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                if (from == to) continue;
                checks.check("tessel.cast " + from.text() + "->" + to.text(), () -> {
                    Shape shape = Shape.of(3, 1001);
                    Tensor x = GpuTestSupport.random(r, from, shape, -300, 300);
                    NetworkBuilder b = new NetworkBuilder("cast");
                    Graph g = b.output(b.cast(b.input("x", from, 3, 1001), to)).build();
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", x)).values().iterator().next();
                    try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dy = GpuTestSupport.poisoned(to, shape.numElements())) {
                        Cast.run(kc, from, to, dx, dy, shape.numElements(), S);
                        Tensor got = HostTensors.download(dy, to, shape);
                        assertClose("tessel.cast " + from.text() + "->" + to.text(), got, want, 0);
                        assertTrue(got.dataEquals(want), "cast must round exactly as the reference (nearest even)");
                    }
                });
            }
        checks.done();
    }

    // ---- tessel.pool.max / tessel.pool.avg ------------------------------------------------------

    @Test void poolingMatchesTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(24);
        record Case(int[] x, int k, int s, int p, int includePad) {}
        List<Case> cases = List.of(new Case(new int[] {2, 16, 17, 17}, 3, 2, 1, 0), new Case(new int[] {1, 64, 56, 56}, 2, 2, 0, 0),
                new Case(new int[] {2, 8, 9, 11}, 3, 1, 1, 1), new Case(new int[] {1, 32, 7, 7}, 7, 1, 0, 0));
        for (Case c : cases)
            for (Pool2d.Mode mode : Pool2d.Mode.values())
                for (Layout layout : new Layout[] {Layout.NCHW, Layout.NHWC})
                    for (DType t : new DType[] {DType.F32, DType.F16}) {
                        String what = "tessel.pool." + mode.name().toLowerCase(java.util.Locale.ROOT) + " " + layout.text() + " " + t.text()
                                + java.util.Arrays.toString(c.x()) + " k" + c.k() + " s" + c.s() + " p" + c.p() + (c.includePad() == 1 ? " count_include_pad" : "");
                        checks.check(what, () -> {
                            NetworkBuilder b = new NetworkBuilder("pool");
                            Value in = b.input("x", DType.F32, c.x());
                            var attrs = NetworkBuilder.attrs("kernel_shape", new int[] {c.k(), c.k()}, "strides", new int[] {c.s(), c.s()},
                                    "pads", new int[] {c.p(), c.p(), c.p(), c.p()});
                            if (mode == Pool2d.Mode.AVG) attrs = NetworkBuilder.attrs("kernel_shape", new int[] {c.k(), c.k()}, "strides", new int[] {c.s(), c.s()},
                                    "pads", new int[] {c.p(), c.p(), c.p(), c.p()}, "count_include_pad", c.includePad());
                            Value y = b.op(mode == Pool2d.Mode.MAX ? "MaxPool" : "AveragePool", attrs, in);
                            Graph g = b.output(y).build();
                            Tensor x = GpuTestSupport.random(r, t, Shape.of(c.x()), -3, 3);
                            Tensor want = GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x))).values().iterator().next();
                            Shape os = want.shape();
                            Pool2d.Window w = new Pool2d.Window(c.x()[0], c.x()[1], c.x()[2], c.x()[3], os.dim(2), os.dim(3), c.k(), c.k(), c.s(), c.s(),
                                    c.p(), c.p(), c.p(), c.p(), 1, 1, c.includePad() == 1);
                            try (DeviceBuffer dx = HostTensors.upload(layout == Layout.NHWC ? HostTensors.toChannelsLast(x) : x);
                                 DeviceBuffer dy = GpuTestSupport.poisoned(t, os.numElements())) {
                                Pool2d.run(kc, t, mode, layout, w, dx, dy, S);
                                Tensor got = HostTensors.download(dy, t, os);
                                if (layout == Layout.NHWC) got = HostTensors.fromChannelsLast(got);
                                assertClose(what, got, want, t == DType.F32 ? 1e-6 : 2e-3);
                            }
                        });
                    }
        checks.done();
    }

    // ---- tessel.conv.depthwise_nhwc ----------------------------------------------------------------

    @Test void depthwiseConvolutionMatchesTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(25);
        // n, c, h, w, k, stride, pad, dilation
        int[][] cases = {{1, 32, 14, 14, 3, 1, 1, 1}, {2, 16, 15, 15, 3, 2, 1, 1}, {1, 8, 10, 10, 5, 1, 4, 2}, {1, 96, 56, 56, 3, 2, 1, 1}};
        for (int[] c : cases)
            for (DType t : new DType[] {DType.F32, DType.F16}) {
                String what = "tessel.conv.depthwise_nhwc " + t.text() + " " + java.util.Arrays.toString(c);
                checks.check(what, () -> GpuTestSupport.checkDepthwise(kc, r, t, c, S, ""));
            }
        checks.done();
    }

    // ---- tessel.attention.fused ------------------------------------------------------------------

    @Test void fusedAttentionMatchesTheReference() {
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(26);
        // batch, heads, seq, headDim, masked
        int[][] cases = {{2, 4, 77, 64, 1}, {1, 12, 128, 64, 0}, {2, 2, 512, 32, 1}, {1, 3, 50, 80, 0}, {4, 12, 128, 64, 1}};
        for (int[] c : cases)
            for (DType t : new DType[] {DType.F32, DType.F16}) {
                String what = "tessel.attention.fused " + t.text() + " B" + c[0] + " H" + c[1] + " S" + c[2] + " D" + c[3] + (c[4] == 1 ? " masked" : "");
                checks.check(what, () -> {
                    int bsz = c[0], heads = c[1], seq = c[2], d = c[3];
                    boolean masked = c[4] == 1;
                    float scale = (float) (1 / Math.sqrt(d));
                    NetworkBuilder b = new NetworkBuilder("attention");
                    Value q = b.input("q", DType.F32, bsz, heads, seq, d), k = b.input("k", DType.F32, bsz, heads, seq, d), v = b.input("v", DType.F32, bsz, heads, seq, d);
                    Value m = b.input("mask", DType.F32, bsz, 1, 1, seq);
                    Value scores = b.mul(b.matmul(q, b.transpose(k, 0, 1, 3, 2)), b.scalar("scale", DType.F32, scale));
                    Graph g = b.output(b.matmul(b.softmax(b.add(scores, m), -1), v)).build();
                    Tensor qv = GpuTestSupport.random(r, t, Shape.of(bsz, heads, seq, d), -2, 2), kv = GpuTestSupport.random(r, t, Shape.of(bsz, heads, seq, d), -2, 2),
                            vv = GpuTestSupport.random(r, t, Shape.of(bsz, heads, seq, d), -1, 1);
                    float[] mask = new float[bsz * seq];
                    if (masked) for (int bi = 0; bi < bsz; bi++) for (int j = seq - 1 - bi * 7; j < seq; j++) mask[bi * seq + j] = -10000f;
                    Tensor mt = Tensor.ofFloats(Shape.of(bsz, 1, 1, seq), mask);
                    Map<String, Tensor> in = new LinkedHashMap<>();
                    in.put("q", GpuTestSupport.asF32(qv)); in.put("k", GpuTestSupport.asF32(kv)); in.put("v", GpuTestSupport.asF32(vv)); in.put("mask", mt);
                    Tensor want = GpuTestSupport.reference(g, in).values().iterator().next();
                    try (DeviceBuffer dq = HostTensors.upload(qv); DeviceBuffer dk = HostTensors.upload(kv); DeviceBuffer dv = HostTensors.upload(vv);
                         DeviceBuffer dm = DeviceBuffer.ofFloats(mask); DeviceBuffer dout = GpuTestSupport.poisoned(t, want.size())) {
                        FusedAttention.run(kc, t, bsz * heads, heads, seq, seq, d, scale, dq, dk, dv, masked ? dm : null, dout, S);
                        assertClose(what, HostTensors.download(dout, t, want.shape()), want, t == DType.F32 ? 1e-5 : GpuTestSupport.tolerance(t));
                    }
                });
            }
        checks.done();
    }
}
