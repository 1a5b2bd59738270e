package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.KernelLaunch;

/**
 * Runs one Tessel kernel source on the host under the threaded CUDA shim ({@code runtime/src/test/cuda-emu/shim.h}: a
 * std::thread per CUDA thread, barriers for __syncthreads and warp shuffles): the source is compiled once with g++,
 * then every queued launch runs, in order, with exactly the {@link KernelLaunch} the engine's wrapper computes, over
 * host buffers; the buffers come back afterwards. {@code dispatch} is C++ that sets {@code k} to a call of the kernel
 * named {@code fn} with the launch's pointers {@code P[i]} and scalars {@code S[i]}.
 */
final class HostKernelRun {
    private final List<byte[]> buffers = new ArrayList<>();
    private final StringBuilder launches = new StringBuilder();
    private int count;

    /** A host buffer with these initial bytes; returns its index. */
    int buffer(byte[] initial) {
        buffers.add(initial.clone());
        return buffers.size() - 1;
    }

    void launch(KernelLaunch l, int... pointers) {
        launches.append(l.function()).append(' ').append(l.grid()).append(' ').append(l.block()).append(' ').append(pointers.length);
        for (int p : pointers) launches.append(' ').append(p);
        launches.append(' ').append(l.scalars().length);
        for (long s : l.scalars()) launches.append(' ').append(s);
        launches.append('\n');
        count++;
    }

    int launches() { return count; }

    static String shim() throws IOException {
        Path p = Path.of("src/test/cuda-emu/shim.h");
        if (!Files.isRegularFile(p)) p = Path.of("runtime/src/test/cuda-emu/shim.h");
        return Files.readString(p);
    }

    /**
     * The kernel part of an engine source for the host: the prelude dropped (the shim stands in for its device
     * functions), its portable helpers (NaN-propagating max and min) kept.
     */
    static String hostSource(String engineSource) {
        String prelude = KernelCompiler.prelude();
        if (!engineSource.startsWith(prelude)) throw new IllegalStateException("the kernel source no longer starts with the prelude");
        StringBuilder keep = new StringBuilder();
        for (String line : prelude.split("\n")) if (line.contains("tessel_pickmax(float") || line.contains("tessel_pickmin(float")) keep.append(line).append('\n');
        return keep + engineSource.substring(prelude.length());
    }

    /** Compiles {@code source} (an engine source) with the driver, runs every launch, and returns the buffers. */
    List<byte[]> run(Path dir, String source, String dispatch) throws Exception {
        String main = """
                #include <cstdio>
                #include <fstream>
                #include <iostream>
                #include <string>
                static std::vector<std::vector<char>> B;
                int main() {
                    std::ifstream bl("buffers.txt");
                    size_t nb;
                    bl >> nb;
                    B.resize(nb);
                    for (size_t i = 0; i < nb; i++) {
                        size_t sz;
                        bl >> sz;
                        B[i].resize(sz + 16);
                        FILE* f = std::fopen(("b" + std::to_string(i)).c_str(), "rb");
                        if (!f || std::fread(B[i].data(), 1, sz, f) != sz) { std::cerr << "cannot read buffer " << i << "\\n"; return 2; }
                        std::fclose(f);
                    }
                    std::ifstream in("launches.txt");
                    std::string fn;
                    while (in >> fn) {
                        int grid, block, np, ns;
                        in >> grid >> block >> np;
                        std::vector<void*> P(np);
                        for (int i = 0; i < np; i++) { int b; in >> b; P[i] = B[b].data(); }
                        in >> ns;
                        std::vector<long long> S(ns);
                        for (auto& s : S) in >> s;
                        std::function<void()> k;
                        DISPATCH
                        if (!k) { std::cerr << "no kernel " << fn << "\\n"; return 3; }
                        launch(dim3{grid, 1, 1}, block, k);
                    }
                    for (size_t i = 0; i < nb; i++) {
                        FILE* f = std::fopen(("o" + std::to_string(i)).c_str(), "wb");
                        std::fwrite(B[i].data(), 1, B[i].size() - 16, f);
                        std::fclose(f);
                    }
                    return 0;
                }
                """.replace("DISPATCH", dispatch);
        Files.writeString(dir.resolve("k.cpp"), shim() + hostSource(source) + "\n" + main);
        StringBuilder sizes = new StringBuilder().append(buffers.size()).append('\n');
        for (int i = 0; i < buffers.size(); i++) {
            Files.write(dir.resolve("b" + i), buffers.get(i));
            sizes.append(buffers.get(i).length).append('\n');
        }
        Files.writeString(dir.resolve("buffers.txt"), sizes.toString());
        Files.writeString(dir.resolve("launches.txt"), launches.toString());
        Process cc = new ProcessBuilder("g++", "-std=c++20", "-O1", "-pthread", "-w", "-o", "k", "k.cpp").directory(dir.toFile()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "g++ failed on the emulated kernels:\n" + ccOut);
        Process run = new ProcessBuilder(dir.resolve("k").toString()).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor(), "the emulated kernels failed:\n" + out);
        List<byte[]> result = new ArrayList<>();
        for (int i = 0; i < buffers.size(); i++) result.add(Files.readAllBytes(dir.resolve("o" + i)));
        return result;
    }
}
