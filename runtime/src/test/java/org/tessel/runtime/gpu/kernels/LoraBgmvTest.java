package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.LoraOps;

/**
 * The multi-adapter LoRA kernel without a GPU (KernelSourcesCompileTest compiles it with nvcc): it runs on the
 * host under the threaded CUDA emulation (src/test/cuda-emu/shim.h) against tessel.LoraDelta's reference,
 * rows of several adapters and of none in one launch.
 */
class LoraBgmvTest {
    @Test void refusesRanksSharedMemoryDoesNotHold() {
        assertNull(LoraBgmv.whyNot(64));
        assertEquals("stacked rank 65 is outside [1, 64] (shared memory holds one row's x·Aᵀ)", LoraBgmv.whyNot(65));
    }

    @Test void kernelMatchesTheReferenceUnderHostEmulation(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        Path shim = Path.of("src/test/cuda-emu/shim.h");
        assumeTrue(Files.isRegularFile(shim), "cuda-emu shim not found (run from the runtime module)");
        Files.copy(shim, dir.resolve("shim.h"));
        String main = """
                #include <cstdio>
                #include <vector>
                template <class T> static std::vector<T> read(const char* f) { FILE* p = std::fopen(f, "rb"); std::fseek(p, 0, SEEK_END); long n = std::ftell(p); std::fseek(p, 0, SEEK_SET);
                    std::vector<T> v(n / sizeof(T)); if (std::fread(v.data(), 1, n, p) != (size_t) n) return {}; std::fclose(p); return v; }
                int main(int argc, char** argv) {
                    int rows = std::atoi(argv[1]), tokens = std::atoi(argv[2]), k = std::atoi(argv[3]), n = std::atoi(argv[4]), r = std::atoi(argv[5]), slots = std::atoi(argv[6]);
                    auto x = read<float>("x.bin"), a = read<float>("a.bin"), bt = read<float>("bt.bin"), s = read<float>("s.bin");
                    auto ids = read<int>("ids.bin");
                    std::vector<float> y((size_t) rows * tokens * n, -1.f);
                    launch({rows * tokens, 1, 1}, 128, [&] { tessel_lora_bgmv(x.data(), a.data(), bt.data(), s.data(), ids.data(), y.data(), tokens, k, n, r, slots); });
                    FILE* o = std::fopen("y.bin", "wb"); std::fwrite(y.data(), 4, y.size(), o); std::fclose(o);
                    return 0;
                }
                """;
        Files.writeString(dir.resolve("k.cpp"), "#include \"shim.h\"\n" + Int8KernelsTest.withoutPrelude(LoraBgmv.source()) + "\n" + main);
        Process cc = new ProcessBuilder("g++", "-std=c++20", "-O1", "-pthread", "-w", "-o", "k", "k.cpp").directory(dir.toFile()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "g++ failed on the emulated kernel:\n" + ccOut);
        // K not a multiple of 32, N not of 128, rank not of the 4 warps; a decode batch and a prefill chunk
        check(dir, 4, 1, 70, 150, 6, 3, new long[] {2, 0, 3, 1});
        check(dir, 3, 5, 64, 64, 16, 2, new long[] {0, 2, 1});
    }

    private static void check(Path dir, int rows, int tokens, int k, int n, int r, int slots, long[] ids) throws Exception {
        SplittableRandom rnd = new SplittableRandom(k * 31L + n);
        float[] x = normal(rnd, rows * tokens * k), a = normal(rnd, slots * r * k), b = normal(rnd, slots * n * r), s = new float[slots];
        for (int i = 0; i < slots; i++) s[i] = 0.5f + i;
        Graph g = new Graph("delta");
        Value xv = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(rows, tokens, k)));
        Value iv = g.addInput("ids", org.tessel.api.TensorType.of(DType.I64, Shape.of(rows)));
        Node d = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta", List.of(xv, g.addConstant("a", Tensor.ofFloats(Shape.of(slots, r, k), a)),
                g.addConstant("b", Tensor.ofFloats(Shape.of(slots, n, r), b)), g.addConstant("s", Tensor.ofFloats(Shape.of(slots), s)), iv), Attributes.empty(), 1);
        g.setOutputs(List.of(d.output()));
        float[] want = new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(rows, tokens, k), x), Tensor.ofLongs(DType.I64, Shape.of(rows), ids))).getFirst().floats();
        write(dir.resolve("x.bin"), x);
        write(dir.resolve("a.bin"), a);
        write(dir.resolve("bt.bin"), LoraBgmv.transposeB(b, slots, n, r));
        write(dir.resolve("s.bin"), s);
        var ib = Int8KernelsTest.le(4 * ids.length);
        for (long v : ids) ib.putInt((int) v);
        Files.write(dir.resolve("ids.bin"), ib.array());
        Process run = new ProcessBuilder(dir.resolve("k").toString(), "" + rows, "" + tokens, "" + k, "" + n, "" + r, "" + slots).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor(), out);
        var yb = java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("y.bin"))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            float got = yb.getFloat(4 * i);
            if (ids[i / (tokens * n)] == 0) assertEquals(0f, got, "row " + i / (tokens * n) + " has no adapter");
            worst = Math.max(worst, Math.abs(got - want[i]) / (1 + Math.abs(want[i])));
            assertEquals(want[i], got, 1e-4 * (1 + Math.abs(want[i])), "row " + i / (tokens * n) + " token " + i / n % tokens + " column " + i % n);
        }
        System.out.printf("lora bgmv rows=%d tokens=%d K=%d N=%d R=%d S=%d: max error %.2e (relative to 1 + |y|)%n", rows, tokens, k, n, r, slots, worst);
    }

    private static float[] normal(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    private static void write(Path p, float[] v) throws Exception {
        var b = Int8KernelsTest.le(4 * v.length);
        for (float f : v) b.putFloat(f);
        Files.write(p, b.array());
    }
}
