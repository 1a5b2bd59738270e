package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * Device resources the engines of a {@link GpuProfileEngine} share, as TensorRT's engine shares them
 * between the shapes of a profile: the kernel compiler (a kernel source compiled for one shape is
 * loaded, not compiled, for the next), the weights (a constant is uploaded once in each storage type
 * and form, for every shape and profile), and per profile one activation {@link Arena}, planned for
 * the profile's max shapes and bound by every engine of the profile (no device allocation per shape).
 *
 * <p>A weight is shared only when the engine asks for it under a constant of the graph with the same
 * name and data (the same tensor object when a shape-generic profile re-types its prepared graph,
 * whose constants are shared; equal data after a re-import); tables a layer derives from an
 * activation's shape (resize taps, reduce tables) stay the engine's own.
 */
public final class ProfileDeviceMemory implements AutoCloseable {
    private final CudaContext context;
    final KernelCompiler compiler;
    /** Uploaded constants by name and form; a name may hold several (data that differs between imports). */
    private final Map<String, List<Weight>> weights = new HashMap<>();
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private final Arena[] arenas;
    private long weightBytes;
    private int weightUploads, weightReuses;

    private record Weight(Tensor source, DeviceBuffer buffer) {}

    /** Memory for {@code profiles} profiles; {@code ptx}: kernels compiled before (an engine file's), by source hash, or null. */
    public ProfileDeviceMemory(CudaContext context, int profiles, Map<String, String> ptx) {
        this.context = context;
        context.bind();
        this.compiler = new KernelCompiler(context);
        if (ptx != null) compiler.preload(ptx);
        this.arenas = new Arena[profiles];
    }

    /**
     * One profile's activation memory: the memory plan of its planned graph at the max shapes (each
     * value's slot by name), and, made when the first engine binds, the arena at that plan's size,
     * the graph inputs at their max sizes and the workspace. An engine at a smaller shape places each
     * value in its slot at max (sizes grow with the shapes, so it fits); the views the planner put in
     * place at max are in place at every shape, since the graph's structure is the same.
     */
    public static final class Arena {
        private final Map<String, MemoryPlan.Allocation> slots = new HashMap<>();
        private final long planBytes, lowerBoundBytes;
        private final int planBuffers, inPlace;
        private final Map<String, Long> inputBytes = new LinkedHashMap<>();
        private final long workspaceHint;
        private DeviceBuffer arena, workspace;
        private final Map<String, DeviceBuffer> inputs = new HashMap<>();
        private int allocations, ownArenas, ownWorkspaces;

        Arena(Graph atMax, long workspaceHint) {
            MemoryPlan p = new LivenessMemoryPlanner().plan(atMax);
            p.allocations().forEach((v, a) -> slots.put(v.name(), a));
            this.planBytes = p.arenaBytes();
            this.lowerBoundBytes = p.lowerBoundBytes();
            this.planBuffers = p.buffers();
            this.inPlace = p.inPlaceReuses();
            for (Value v : atMax.inputs()) inputBytes.put(v.name(), Math.max(1, v.type().numElements() * 4)); // f32, i32 and narrower storage fit in 4 bytes an element
            this.workspaceHint = workspaceHint;
        }

        /**
         * {@code own}, an engine's memory plan, moved to this profile's slots; null when some value
         * has no slot or a bigger size than its slot (a graph that is not the profile's structure).
         */
        MemoryPlan place(MemoryPlan own) {
            Map<Value, MemoryPlan.Allocation> m = new IdentityHashMap<>();
            for (var e : own.allocations().entrySet()) {
                MemoryPlan.Allocation slot = slots.get(e.getKey().name());
                if (slot == null || e.getValue().bytes() > slot.bytes()) return null;
                m.put(e.getKey(), slot);
            }
            return new MemoryPlan(m, planBytes, lowerBoundBytes, planBuffers, inPlace);
        }

        DeviceBuffer arena(long bytes) {
            if (arena == null) { arena = DeviceBuffer.allocate(bytes); allocations++; }
            if (arena.bytes() < bytes) throw new GpuEngineException("the profile's arena has " + arena.bytes() + " bytes, an engine of the profile asks for " + bytes);
            return arena;
        }

        /** The input's buffer at its max size, or null when the input is not the profile's or this size is over it. */
        DeviceBuffer input(String name, long bytes) {
            Long max = inputBytes.get(name);
            if (max == null || bytes > max) return null;
            DeviceBuffer b = inputs.get(name);
            if (b == null) { b = DeviceBuffer.allocate(max); inputs.put(name, b); allocations++; }
            return b.slice(0, bytes);
        }

        /** The shared workspace when it holds {@code need} bytes (made at the larger of the first need and the build's need at max), else null. */
        DeviceBuffer workspace(long need) {
            if (workspace == null) { workspace = DeviceBuffer.allocate(Math.max(need, workspaceHint)); allocations++; }
            if (workspace.bytes() < need) { ownWorkspaces++; return null; }
            return workspace;
        }

        void ownArena() { ownArenas++; }

        /** Device allocations this profile's shared memory made (the arena, each input, the workspace: once each). */
        public int allocations() { return allocations; }
        /** Engines whose memory plan did not fit the profile's slots and had an arena of their own. */
        public int ownArenas() { return ownArenas; }
        /** Engines that needed more workspace than the shared one and had their own. */
        public int ownWorkspaces() { return ownWorkspaces; }
        /** The arena's device address (0 before the first engine binds), for checking that engines share it. */
        public long arenaAddress() { return arena == null ? 0 : arena.address(); }
        /** Device bytes of the arena, inputs and workspace. */
        public long bytes() {
            long b = arena == null ? 0 : arena.bytes();
            for (DeviceBuffer x : inputs.values()) b += x.bytes();
            return b + (workspace == null ? 0 : workspace.bytes());
        }

        void close() {
            if (arena != null) arena.close();
            if (workspace != null) workspace.close();
            for (DeviceBuffer b : inputs.values()) b.close();
            arena = workspace = null;
            inputs.clear();
        }
    }

    /** Profile {@code k}'s arena, planned once from its planned graph at max shapes ({@code atMax} made on first need). */
    public synchronized Arena arena(int k, Supplier<Graph> atMax, long workspaceHint) {
        if (arenas[k] == null) arenas[k] = new Arena(atMax.get(), workspaceHint);
        return arenas[k];
    }

    /** Profile {@code k}'s arena, or null before its first engine. */
    public synchronized Arena arenaOf(int k) { return arenas[k]; }

    /** The device buffer of constant {@code v} in {@code form}: an earlier upload of the same data, or {@code make}'s. */
    synchronized DeviceBuffer weight(Value v, String form, Supplier<DeviceBuffer> make) {
        Tensor data = v.constantValue();
        List<Weight> ws = weights.computeIfAbsent(v.name() + "\u0000" + form, k -> new ArrayList<>());
        for (Weight w : ws)
            if (w.source() == data || w.source().dtype() == data.dtype() && w.source().shape().equals(data.shape()) && w.source().dataEquals(data)) {
                weightReuses++;
                return w.buffer();
            }
        DeviceBuffer b = make.get();
        ws.add(new Weight(data, b));
        buffers.add(b);
        weightBytes += b.bytes();
        weightUploads++;
        return b;
    }

    /** Device bytes of the shared weights. */
    public synchronized long weightBytes() { return weightBytes; }
    /** Weights uploaded (each constant once per storage type and form). */
    public synchronized int weightUploads() { return weightUploads; }
    /** Times an engine took an uploaded weight instead of uploading it. */
    public synchronized int weightReuses() { return weightReuses; }

    @Override public synchronized void close() {
        context.bind();
        for (Arena a : arenas) if (a != null) a.close();
        for (DeviceBuffer b : buffers) b.close();
        buffers.clear();
        weights.clear();
        compiler.close();
    }
}
