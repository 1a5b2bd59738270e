package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.ir.ops.RecurrentOps;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.recurrent}: ONNX's RNN, GRU and LSTM ({@code rnn.cu}) in two launches: the input projection
 * of every step and direction as one tiled product into f32 workspace, then one thread block per (batch row,
 * direction) walking the time steps with its state in shared memory, or in its own slice of the workspace when the
 * state does not fit 48 KiB ({@link #stateInShared}). f32, f16 or bf16 storage, f32 math and state.
 */
public final class RecurrentKernel {
    private RecurrentKernel() {}

    static final int TILE = 16;
    /** Threads of a recurrence block at most (a warp per gate row: fewer when the gate rows are fewer than 8). */
    static final int MAX_THREADS = 256;
    /** Dynamic shared memory a launch may take without raising the kernel's limit (48 KiB). */
    public static final int MAX_SHARED_BYTES = 48 * 1024;

    /** Whether a block's state (h, c, a scratch row and the gate rows, f32) fits its 48 KiB of shared memory. */
    public static boolean stateInShared(RecurrentOps.KernelForm f) { return stateBytes(f) <= MAX_SHARED_BYTES; }

    /**
     * The f32 workspace: the input projection (one value per direction, step, batch row and gate row), then, when the
     * state does not fit shared memory, each block's state.
     */
    public static long workspaceBytes(RecurrentOps.KernelForm f) { return projectionBytes(f) + (stateInShared(f) ? 0 : stateBytes(f) * f.dirs() * f.batch()); }

    private static long projectionBytes(RecurrentOps.KernelForm f) { return 4L * f.dirs() * f.seq() * f.batch() * f.gates() * f.hidden(); }

    private static long stateBytes(RecurrentOps.KernelForm f) { return 4L * (3 + f.gates()) * f.hidden(); }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("rnn.cu");
    }

    /** The operands of one launch pair; optional ones null (outputs: not computed). */
    public record Buffers(DeviceBuffer x, DeviceBuffer w, DeviceBuffer r, DeviceBuffer bias, DeviceBuffer lens, DeviceBuffer h0, DeviceBuffer c0,
                         DeviceBuffer peepholes, DeviceBuffer functions, DeviceBuffer y, DeviceBuffer yh, DeviceBuffer yc) {}

    /**
     * The node of form {@code f} over {@code b}, every tensor in storage type {@code t} except {@code lens} (i32) and
     * {@code functions} (f32, the form's table); {@code workspace} holds at least {@link #workspaceBytes}.
     */
    public static void run(KernelCompiler kc, DType t, RecurrentOps.KernelForm f, Buffers b, DeviceBuffer workspace, CudaStream stream) {
        CudaTypes.require(t, "tessel_rnn");
        int g = f.gates(), h = f.hidden(), gh = g * h, rows = f.seq() * f.batch();
        long state = (long) f.dirs() * f.batch() * h;
        Softmax.check(b.x(), t, (long) rows * f.input(), "recurrent X");
        Softmax.check(b.w(), t, (long) f.dirs() * gh * f.input(), "recurrent W");
        Softmax.check(b.r(), t, (long) f.dirs() * gh * h, "recurrent R");
        if (b.bias() != null) Softmax.check(b.bias(), t, 2L * f.dirs() * gh, "recurrent B");
        if (b.lens() != null) Softmax.check(b.lens(), DType.I32, f.batch(), "recurrent sequence_lens");
        if (b.h0() != null) Softmax.check(b.h0(), t, state, "recurrent initial_h");
        if (b.c0() != null) Softmax.check(b.c0(), t, state, "recurrent initial_c");
        if (b.peepholes() != null) Softmax.check(b.peepholes(), t, 3L * f.dirs() * h, "recurrent P");
        Softmax.check(b.functions(), DType.F32, 9L * f.dirs(), "recurrent activation table");
        if (b.y() != null) Softmax.check(b.y(), t, (long) f.seq() * state, "recurrent Y");
        if (b.yh() != null) Softmax.check(b.yh(), t, state, "recurrent Y_h");
        if (b.yc() != null) Softmax.check(b.yc(), t, state, "recurrent Y_c");
        Softmax.check(workspace, DType.F32, workspaceBytes(f) / 4, "recurrent projection workspace");
        if (f.batch() == 0 || h == 0) return;
        if ((rows + TILE - 1) / TILE > 65535) throw new IllegalArgumentException("tessel.recurrent: " + rows + " rows of X (at most " + 65535 * TILE + ")");
        if (rows > 0) { // with no input features the tiles' loop is empty: the projection is the bias alone
            CudaKernel.Args in = CudaKernel.args().ptr(b.x()).ptr(b.w()).ptr(b.bias() == null ? b.w() : b.bias()).ptr(workspace)
                    .i32(rows).i32(gh).i32(f.input()).i32(b.bias() == null ? 0 : 1);
            kc.kernel("tessel_rnn_" + t.text() + ".cu", () -> source(t), "tessel_rnn_input")
                    .launch((gh + TILE - 1) / TILE, (rows + TILE - 1) / TILE, f.dirs(), TILE, TILE, 1, 0, stream, in);
        }
        DeviceBuffer any = b.r();
        boolean shared = stateInShared(f);
        CudaKernel.Args a = CudaKernel.args().ptr(workspace).ptr(b.r()).ptr(or(b.bias(), any)).ptr(or(b.lens(), any)).ptr(or(b.h0(), any))
                .ptr(or(b.c0(), any)).ptr(or(b.peepholes(), any)).ptr(b.functions()).ptr(or(b.y(), any)).ptr(or(b.yh(), any)).ptr(or(b.yc(), any))
                .ptr(shared ? workspace.address() : workspace.address() + projectionBytes(f)).i32(shared ? 0 : 1)
                .i32(g == 1 ? 0 : g == 3 ? 1 : 2).i32(f.seq()).i32(f.batch()).i32(h).i32(f.dirs()).i32(f.layout()).i32(f.reverse() ? 1 : 0)
                .i32(f.linearBeforeReset() ? 1 : 0).i32(f.inputForget() ? 1 : 0).f32(f.clip())
                .i32(flag(b.bias())).i32(flag(b.lens())).i32(flag(b.h0())).i32(flag(b.c0())).i32(flag(b.peepholes()))
                .i32(flag(b.y())).i32(flag(b.yh())).i32(flag(b.yc()));
        int threads = (int) Math.min(MAX_THREADS, 32L * gh); // a warp per gate row
        kc.kernel("tessel_rnn_" + t.text() + ".cu", () -> source(t), "tessel_rnn_recur")
                .launch(f.batch(), f.dirs(), 1, threads, 1, 1, shared ? (int) stateBytes(f) : 0, stream, a);
    }

    private static DeviceBuffer or(DeviceBuffer b, DeviceBuffer fallback) { return b == null ? fallback : b; }

    private static int flag(DeviceBuffer b) { return b == null ? 0 : 1; }
}
