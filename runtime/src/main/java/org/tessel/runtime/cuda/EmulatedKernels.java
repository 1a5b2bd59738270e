package org.tessel.runtime.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a kernel source written for NVRTC into a shared library for the emulated device: the
 * source after {@code emulated_shim.h} (host stand-ins for CUDA's qualifiers, built-in variables,
 * barriers, shuffles, atomics and intrinsics), with a launcher per {@code __global__} function,
 * compiled by g++ as C++20 and cached by the hash of what was compiled.
 *
 * <p>Inline PTX cannot run on the CPU. The one-line device functions of the prelude that wrap a
 * single PTX instruction (f16/bf16 conversions) are replaced by host versions, and CUDA's
 * {@code __dp4a} intrinsic has a C version in the shim, as have the f16x2 subtraction and fma and the
 * m16n8k16 {@code mma} (A's rows 8..15 zero) of the weight-only GEMV's tensor-core form, whose lanes exchange their
 * fragments by warp shuffles, and mma.cuh's wrappers for the tensor-core kernels (the full m16n8k16
 * {@code mma} and the m16n8k32 s8 one, shared-window addresses as offsets in the block's static shared memory, {@code cp.async} done at once,
 * {@code ldmatrix} and {@code ldmatrix.trans} by shuffled row addresses, row alignment checked); a source with any other {@code asm}, with {@code wmma}, or with a
 * CUDA header is refused, naming the program and why.
 *
 * <p>Each kernel is marked cooperative when it, or a function it calls, uses {@code __syncthreads},
 * a warp shuffle, {@code __syncwarp} or shared memory: its threads then run as fibers that meet at
 * barriers; other kernels run their threads as plain loops, which is much faster.
 */
final class EmulatedKernels {
    private EmulatedKernels() {}

    /** The one-line PTX wrappers that have host versions (emulated_shim.h), by function name. */
    private static final Map<String, String> HOST_VERSIONS = Map.ofEntries(
            Map.entry("tessel_h2f", "inline float tessel_h2f(unsigned short h) { return tessel_emu_h2f(h); }"),
            Map.entry("tessel_f2h", "inline unsigned short tessel_f2h(float f) { return tessel_emu_f2h(f); }"),
            Map.entry("tessel_f2bf", "inline unsigned short tessel_f2bf(float f) { return tessel_emu_f2bf(f); }"),
            // programmatic dependent launch: the emulated device runs a stream's kernels one after another
            Map.entry("tessel_pdl", "inline void tessel_pdl() {}"),
            // the weight-only GEMV's tensor-core form: f16x2 arithmetic and an m16n8k16 mma whose A rows 8..15 are zero
            Map.entry("tessel_hsub2", "inline unsigned tessel_hsub2(unsigned a, unsigned b) { return tessel_emu_hsub2(a, b); }"),
            Map.entry("tessel_hfma2", "inline unsigned tessel_hfma2(unsigned a, unsigned b, unsigned c) { return tessel_emu_hfma2(a, b, c); }"),
            Map.entry("tessel_mma_f16_r8", "inline void tessel_mma_f16_r8(float (&d)[4], unsigned a0, unsigned a2, unsigned b0, unsigned b1) { tessel_emu_mma_f16_r8(d, a0, a2, b0, b1); }"),
            // mma.cuh's tensor-core tiles: the full m16n8k16 and m16n8k32 mmas, shared-window addresses, cp.async done at once, ldmatrix (plain and .trans)
            Map.entry("tessel_mma_f16", "inline void tessel_mma_f16(float* c, const unsigned* a, unsigned b0, unsigned b1) { tessel_emu_mma_f16(c, a, b0, b1); }"),
            Map.entry("tessel_mma_s8", "inline void tessel_mma_s8(int* c, const unsigned* a, unsigned b0, unsigned b1) { tessel_emu_mma_s8(c, a, b0, b1); }"),
            Map.entry("tessel_smem_addr", "inline unsigned tessel_smem_addr(const void* p) { return tessel_emu_smem_addr(p); }"),
            Map.entry("tessel_cp_async16", "inline void tessel_cp_async16(unsigned dst, const void* src, int bytes) { tessel_emu_cp_async16(dst, src, bytes); }"),
            Map.entry("tessel_cp_async_commit", "inline void tessel_cp_async_commit() {}"),
            Map.entry("tessel_cp_async_wait_all_but_one", "inline void tessel_cp_async_wait_all_but_one() {}"),
            Map.entry("tessel_cp_async_wait_all", "inline void tessel_cp_async_wait_all() {}"),
            Map.entry("tessel_ldmatrix_x4", "inline void tessel_ldmatrix_x4(unsigned* r, unsigned addr) { tessel_emu_ldmatrix_x4(r, addr); }"),
            Map.entry("tessel_ldmatrix_x4_trans", "inline void tessel_ldmatrix_x4_trans(unsigned* r, unsigned addr) { tessel_emu_ldmatrix_x4_trans(r, addr); }"));

    /** g++'s options for a kernel and for the shim's precompiled header (which must match, -shared aside). */
    private static final List<String> FLAGS = List.of("-std=c++20", "-O1", "-pthread", "-ffp-contract=off", "-fno-strict-aliasing",
            "-fPIC", "-fvisibility=hidden", "-w");

    private static final Pattern DEVICE_ONE_LINER = Pattern.compile("(?m)^[ \\t]*(?:static\\s+)?__device__\\s[^\\n{]*?\\b(\\w+)\\s*\\([^\\n]*\\basm\\b[^\\n]*$");
    private static final Pattern ASM = Pattern.compile("\\basm\\b\\s*(?:volatile\\s*)?\\(");
    private static final Pattern EXTERN_SHARED = Pattern.compile("extern\\s+__shared__\\s+(?:__align__\\s*\\(\\s*\\d+\\s*\\)\\s+)?([\\w\\s]+?)\\s+(\\w+)\\s*\\[\\s*\\]\\s*;");
    private static final Pattern INCLUDE = Pattern.compile("(?m)^\\s*#\\s*include\\s*[<\"]([^>\"]+)[>\"]");
    private static final Pattern COOPERATIVE = Pattern.compile("\\b(?:__syncthreads|__syncwarp|__shfl_\\w+|__shared__|tessel_emu_dynamic_shared)\\b");

    /** A source turned into C++ for g++. */
    record Translation(String cpp) {}

    /** Translates {@code source} (program {@code program}, for messages), refusing what the emulated device cannot run. */
    static Translation translate(String program, String source) {
        Matcher inc = INCLUDE.matcher(source);
        if (inc.find()) throw refused(program, "includes <" + inc.group(1) + ">, a header the emulated device does not have (kernel sources are self-contained)");
        StringBuilder sb = new StringBuilder();
        Matcher m = DEVICE_ONE_LINER.matcher(source);
        while (m.find()) {
            String host = HOST_VERSIONS.get(m.group(1));
            m.appendReplacement(sb, Matcher.quoteReplacement(host != null ? host : m.group()));
        }
        m.appendTail(sb);
        String text = sb.toString();
        Matcher asm = ASM.matcher(text);
        if (asm.find()) {
            String in = enclosingFunction(text, asm.start());
            String what = text.substring(asm.start(), Math.min(text.length(), asm.start() + 200));
            String ptx = what.contains("mma") ? "tensor-core mma" : what.contains("cp.async") ? "cp.async" : what.contains("ldmatrix") ? "ldmatrix" : null;
            throw refused(program, "uses inline PTX" + (ptx != null ? " (" + ptx + ")" : "") + (in != null ? " in " + in : "")
                    + ", which the emulated device cannot run");
        }
        if (text.contains("wmma::")) throw refused(program, "uses the wmma tensor-core API, which the emulated device cannot run");
        text = EXTERN_SHARED.matcher(text).replaceAll("$1* const $2 = static_cast<$1*>(tessel_emu_dynamic_shared());");
        Map<String, Boolean> kernels = kernels(text);
        if (kernels.isEmpty()) throw refused(program, "has no __global__ function");
        StringBuilder cpp = new StringBuilder("#include \"emulated_shim.h\"\n#line 1 \"").append(program).append("\"\n").append(text).append('\n');
        for (var k : kernels.entrySet()) cpp.append("TESSEL_EMU_KERNEL(").append(k.getKey()).append(", ").append(k.getValue() ? 1 : 0).append(")\n");
        return new Translation(cpp.toString());
    }

    private static CudaException refused(String program, String why) { return new CudaException(program + " " + why); }

    /** The name of the function whose header precedes {@code at} (for messages), or null. */
    private static String enclosingFunction(String text, int at) {
        Matcher f = Pattern.compile("(?:__device__|__global__)[^;{}]*?\\b(\\w+)\\s*\\(").matcher(text);
        String name = null;
        while (f.find() && f.start() < at) name = f.group(1);
        return name;
    }

    /**
     * The {@code __global__} functions of {@code text}, each marked cooperative when it or a function it calls (by
     * name, with or without template arguments, transitively) uses a barrier, a shuffle or shared memory; a macro that
     * does makes every kernel cooperative.
     */
    static Map<String, Boolean> kernels(String text) {
        String code = text.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", "");
        boolean macroCooperative = false;
        StringBuilder body = new StringBuilder();
        for (String line : code.split("\n", -1)) {
            if (line.stripLeading().startsWith("#")) {
                if (COOPERATIVE.matcher(line).find()) macroCooperative = true;
                body.append('\n');
            } else {
                body.append(line).append('\n');
            }
        }
        code = body.toString();
        Map<String, String> bodies = new LinkedHashMap<>();
        List<String> global = new ArrayList<>();
        int depth = 0, headerStart = 0;
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c == '{') {
                if (depth == 0) {
                    String header = code.substring(headerStart, i).replaceAll("__launch_bounds__\\s*\\([^)]*\\)", " ");
                    Matcher n = Pattern.compile("\\b(\\w+)\\s*\\(").matcher(header);
                    int end = matching(code, i);
                    if (n.find() && !n.group(1).equals("__attribute__")) {
                        bodies.put(n.group(1), code.substring(i, end));
                        if (header.contains("__global__")) global.add(n.group(1));
                    }
                    i = end - 1;
                    headerStart = end;
                    continue;
                }
                depth++;
            } else if (c == '}') {
                depth--;
            } else if (c == ';' && depth == 0) {
                headerStart = i + 1;
            }
        }
        Set<String> cooperative = new HashSet<>();
        for (var e : bodies.entrySet()) if (COOPERATIVE.matcher(e.getValue()).find()) cooperative.add(e.getKey());
        for (boolean grew = true; grew; ) {
            grew = false;
            for (var e : bodies.entrySet()) {
                if (cooperative.contains(e.getKey())) continue;
                for (String c : List.copyOf(cooperative))
                    if (Pattern.compile("\\b" + c + "\\s*(?:<[^;{}()]*>\\s*)?\\(").matcher(e.getValue()).find()) { grew = cooperative.add(e.getKey()); break; }
            }
        }
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (String k : global) out.put(k, macroCooperative || cooperative.contains(k));
        return out;
    }

    /** The index just past the brace that closes the one at {@code open}. */
    private static int matching(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return i + 1;
        }
        return s.length();
    }

    private static volatile String shim;

    static String shim() {
        if (shim == null) {
            try (InputStream in = EmulatedKernels.class.getResourceAsStream("emulated_shim.h")) {
                if (in == null) throw new IllegalStateException("emulated_shim.h is missing from the runtime jar");
                shim = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("reading emulated_shim.h", e);
            }
        }
        return shim;
    }

    /** Where compiled kernels are cached: {@code -Dtessel.emu.cache}, else tessel-emulated-kernels under java.io.tmpdir. */
    static Path cacheDir() {
        String dir = System.getProperty("tessel.emu.cache");
        return dir != null ? Path.of(dir) : Path.of(System.getProperty("java.io.tmpdir"), "tessel-emulated-kernels");
    }

    /** The shared library of {@code t} (program {@code program}): from the cache, or compiled by g++ now. */
    static Path compile(String program, Translation t) {
        Path shimDir = shimDir();
        String hash = sha256(String.join(" ", FLAGS) + "\n" + shimDir.getFileName() + "\n" + t.cpp());
        Path dir = cacheDir(), lib = dir.resolve(hash + ".so");
        if (Files.isRegularFile(lib)) return lib;
        try {
            Path cpp = dir.resolve(hash + ".cpp");
            Files.writeString(cpp, t.cpp());   // kept beside the library: what a crash's stack trace points into
            Path tmp = Files.createTempFile(dir, hash, ".so.tmp");
            List<String> cmd = new ArrayList<>(List.of("g++"));
            cmd.addAll(FLAGS);
            cmd.addAll(List.of("-shared", "-I", shimDir.toString(), "-o", tmp.toString(), cpp.toString()));
            String log = run(cmd, program);
            if (log != null) {
                Files.deleteIfExists(tmp);
                throw new CudaException("g++ could not compile " + program + " for the emulated device (source " + cpp + "):\n"
                        + log.lines().limit(40).reduce((a, b) -> a + "\n" + b).orElse(""));
            }
            Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return lib;
        } catch (IOException e) {
            throw new UncheckedIOException("compiling " + program + " for the emulated device in " + dir, e);
        }
    }

    /**
     * The folder holding the shim and its precompiled header (named by the shim's hash), made on first use: parsing the
     * shim's standard headers is most of a small kernel's compile time. A shim g++ cannot compile fails here with its output.
     */
    private static synchronized Path shimDir() {
        String text = shim();
        Path dir = cacheDir().resolve("shim-" + sha256(String.join(" ", FLAGS) + "\n" + text).substring(0, 16));
        Path header = dir.resolve("emulated_shim.h"), pch = dir.resolve("emulated_shim.h.gch");
        if (Files.isRegularFile(pch)) return dir;
        try {
            Files.createDirectories(dir);
            Path tmpHeader = Files.createTempFile(dir, "emulated_shim", ".h.tmp");
            Files.writeString(tmpHeader, text);
            Files.move(tmpHeader, header, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Path tmp = Files.createTempFile(dir, "emulated_shim", ".gch.tmp");
            List<String> cmd = new ArrayList<>(List.of("g++"));
            cmd.addAll(FLAGS);
            cmd.addAll(List.of("-x", "c++-header", "-o", tmp.toString(), header.toString()));
            String log = run(cmd, "emulated_shim.h");
            if (log != null) throw new CudaException("g++ could not compile emulated_shim.h:\n" + log.lines().limit(40).reduce((a, b) -> a + "\n" + b).orElse(""));
            Files.move(tmp, pch, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("writing the emulated device's shim to " + dir, e);
        }
    }

    /** Runs g++; null when it succeeded, else its output. */
    private static String run(List<String> cmd, String program) {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new CudaException("the emulated device compiles kernels with g++, which could not be started (" + e.getMessage() + "); install g++ 12 or newer");
        }
        try {
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new CudaException("g++ did not finish compiling " + program + " for the emulated device within 10 minutes");
            }
            return p.exitValue() == 0 ? null : log;
        } catch (IOException e) {
            throw new UncheckedIOException("reading g++'s output for " + program, e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CudaException("interrupted while g++ compiled " + program + " for the emulated device");
        }
    }

    static String sha256(String s) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}
