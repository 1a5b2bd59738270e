package org.tessel.api.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.tessel.api.DType;
import org.tessel.api.Layout;

/**
 * The GPU half of a plugin tactic, given as CUDA C source: the kernel's entry points, one per
 * (element type, layout) combination it declares, in one source text.
 *
 * <p>The contract a GPU engine builds it under (ABI {@value #ABI}):
 * <ul>
 *   <li>The source is compiled with NVRTC for the engine's GPU (and its PTX kept in the engine
 *       file), after Tessel's kernel prelude, which defines {@code tessel_h2f}/{@code tessel_f2h} and
 *       {@code tessel_bf2f}/{@code tessel_f2bf} (f16 and bf16 are stored as {@code unsigned short}
 *       words) and block reductions. NVRTC sees no system headers.</li>
 *   <li>Each entry point is {@code extern "C" __global__ void ENTRY(const T* in0, ..., T* out0, ...,
 *       const long long* args, long long n)}: one pointer per node input (absent optional inputs
 *       are null), one per output, the tactic's kernel arguments in device memory
 *       ({@code CudaSourceTactic.kernelArguments}: shapes and attribute codes, as the tactic lays
 *       them out), and the element count of the first output.</li>
 *   <li>It is launched on a 1-D grid of {@link #blockSize()}-thread blocks covering
 *       {@code ceil(n / elementsPerThread)} threads (capped; a grid-stride loop is expected), on the
 *       layer's stream, with no dynamic shared memory and no workspace. A kernel that handles several
 *       elements a thread (a vector load of 8 halves, say) declares how many, so the grid is not
 *       mostly idle threads.</li>
 *   <li>{@code T} is {@code float} for {@link DType#F32}, {@code unsigned short} for
 *       {@link DType#F16} and {@link DType#BF16}; tensors are dense in their declared layout.</li>
 * </ul>
 *
 * @param name      a name for messages and the compiled program ("gridsample.cu")
 * @param source    the CUDA C text
 * @param blockSize threads per block, a multiple of 32 up to 1024
 * @param variants  the (element type, layout) combinations and the entry point of each
 * @param elementsPerThread output elements one thread handles (1 unless the kernel says otherwise)
 */
public record CudaKernel(String name, String source, int blockSize, List<Variant> variants, int elementsPerThread) {
    /** The calling convention described above. */
    public static final String ABI = "tessel-cuda-1";

    /** One declared combination: activations of this element type in this layout run this entry point. */
    public record Variant(DType dtype, Layout layout, String entry) {
        public Variant {
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(layout, "layout");
            if (entry == null || !entry.matches("[A-Za-z_][A-Za-z0-9_]*")) throw new IllegalArgumentException("kernel entry point '" + entry + "' is not a C identifier");
            if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16)
                throw new IllegalArgumentException("kernel entry " + entry + ": element type " + dtype.text() + " is not one a GPU engine stores activations in (f32, f16, bf16)");
        }

        /** "f16/nchw". */
        public String text() { return dtype.text() + "/" + layout.text(); }
    }

    public CudaKernel {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        if (blockSize < 32 || blockSize > 1024 || blockSize % 32 != 0) throw new IllegalArgumentException("kernel " + name + ": block size " + blockSize + " is not a multiple of 32 in [32, 1024]");
        if (elementsPerThread < 1) throw new IllegalArgumentException("kernel " + name + ": elements per thread must be at least 1, got " + elementsPerThread);
        variants = List.copyOf(variants);
        if (variants.isEmpty()) throw new IllegalArgumentException("kernel " + name + " declares no (element type, layout) variant");
        List<String> seen = new ArrayList<>();
        for (Variant v : variants) {
            if (seen.contains(v.text())) throw new IllegalArgumentException("kernel " + name + " declares " + v.text() + " twice");
            seen.add(v.text());
        }
    }

    /** A kernel of one element a thread. */
    public CudaKernel(String name, String source, int blockSize, List<Variant> variants) { this(name, source, blockSize, variants, 1); }

    /** This kernel, declared to handle {@code n} output elements a thread (the engine launches ceil(count / n) threads). */
    public CudaKernel withElementsPerThread(int n) { return new CudaKernel(name, source, blockSize, variants, n); }

    /** A kernel whose source is a resource beside {@code owner} (read now; a missing resource fails naming it). */
    public static CudaKernel ofResource(Class<?> owner, String resource, int blockSize, List<Variant> variants) {
        try (InputStream in = owner.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("kernel source " + resource + " is missing beside " + owner.getName());
            return new CudaKernel(resource, new String(in.readAllBytes(), StandardCharsets.UTF_8), blockSize, variants);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernel source " + resource + ": " + e.getMessage(), e);
        }
    }

    /** The variant for activations of this type in this layout, if declared. */
    public Optional<Variant> variant(DType dtype, Layout layout) {
        for (Variant v : variants) if (v.dtype() == dtype && v.layout() == layout) return Optional.of(v);
        return Optional.empty();
    }

    /** Declared entry points the source does not define as {@code extern "C" __global__ void ENTRY(} (a quick check, not a compile). */
    public List<String> undefinedEntries() {
        List<String> out = new ArrayList<>();
        for (Variant v : variants)
            if (!Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+" + Pattern.quote(v.entry()) + "\\s*\\(").matcher(source).find()) out.add(v.entry());
        return out;
    }

    /** "gridsample.cu: f32/nchw, f16/nchw". */
    public String describe() { return name + ": " + String.join(", ", variants.stream().map(Variant::text).toList()); }
}
