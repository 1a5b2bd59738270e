package org.tessel.runtime.gpu.kernels;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.HostTensors;

/**
 * Tactic {@code tessel.eltwise.fused}: a compiled {@link EltwiseCodegen} kernel with its non-scalar
 * constants already on the device. {@link #run} binds device buffers to the body's inputs and
 * outputs in order: floats in their own type, integers as i32, bools as bytes. It runs the vector
 * kernel ({@link EltwiseCodegen.Source#vec()} elements per thread) when the buffers it accesses in
 * vector form are aligned for it, and the element-per-thread kernel otherwise.
 */
public final class FusedEltwiseKernel implements AutoCloseable {
    static final int BLOCK = 256;

    private final EltwiseCodegen.Source source;
    private final CudaKernel kernel, vectorKernel;
    private final List<DeviceBuffer> constants = new ArrayList<>();

    private FusedEltwiseKernel(KernelCompiler kc, EltwiseCodegen.Source source, String name) {
        this.source = source;
        this.kernel = kc.kernel(name, source.code(), EltwiseCodegen.KERNEL_NAME);
        this.vectorKernel = kc.kernel(name, source.code(), source.vectorKernelName());
        for (Value c : source.constantInputs()) constants.add(upload(c));
    }

    /** A constant in the kernel's storage of its type: floats as themselves, integers as i32, bools as bytes. */
    private static DeviceBuffer upload(Value c) {
        Tensor t = c.constantValue();
        int n = t.size();
        return switch (EltwiseCodegen.storage(c.type().dtype(), null)) {
            case I32 -> {
                int[] a = new int[Math.max(1, n)];
                for (int i = 0; i < n; i++) {
                    long x = t.getLong(i);
                    if (x != (int) x) throw new IllegalArgumentException("constant %" + c.name() + " element " + i + " = " + x + " is outside the i32 range the kernel keeps integers in");
                    a[i] = (int) x;
                }
                DeviceBuffer b = DeviceBuffer.allocate(4L * a.length);
                b.copyFrom(a);
                yield b;
            }
            case BOOL -> {
                byte[] a = new byte[Math.max(1, n)];
                for (int i = 0; i < n; i++) a[i] = (byte) (t.getLong(i) != 0 ? 1 : 0);
                yield DeviceBuffer.ofBytes(a);
            }
            default -> HostTensors.upload(t, c.type().dtype());
        };
    }

    /** Generates, compiles and loads the kernel of a fused body (or any elementwise graph). */
    public static FusedEltwiseKernel compile(KernelCompiler kc, Graph body) {
        return new FusedEltwiseKernel(kc, EltwiseCodegen.generate(body), "tessel_eltwise_" + sanitize(body.name()) + ".cu");
    }

    /** The kernel of a {@code tessel.Fused} node. */
    public static FusedEltwiseKernel compile(KernelCompiler kc, Node fused) {
        return new FusedEltwiseKernel(kc, EltwiseCodegen.generate(fused), "tessel_eltwise_" + sanitize(fused.name()) + ".cu");
    }

    private static String sanitize(String s) { return s.replaceAll("[^A-Za-z0-9_]", "_"); }

    public EltwiseCodegen.Source source() { return source; }

    /** Runs the element-per-thread kernel regardless of alignment (tests compare it with the vector kernel). */
    public void runScalar(List<DeviceBuffer> inputs, List<DeviceBuffer> outputs, CudaStream stream) {
        CudaKernel.Args args = CudaKernel.args();
        for (int i = 0; i < inputs.size(); i++) args.ptr(checked(inputs.get(i), source.inputs().get(i), "input"));
        for (DeviceBuffer c : constants) args.ptr(c);
        for (int i = 0; i < outputs.size(); i++) args.ptr(checked(outputs.get(i), source.outputs().get(i), "output"));
        args.i64(source.elements());
        if (inputs.size() != source.inputs().size() || outputs.size() != source.outputs().size())
            throw new IllegalArgumentException("fused elementwise kernel takes " + source.inputs().size() + " inputs and " + source.outputs().size() + " outputs");
        if (source.elements() > 0) kernel.launch(Launch.gridFor(source.elements(), BLOCK), BLOCK, 0, stream, args);
    }

    /** Runs on {@code inputs} (one per body input, in order) writing {@code outputs} (one per body output). */
    public void run(List<DeviceBuffer> inputs, List<DeviceBuffer> outputs, CudaStream stream) {
        if (inputs.size() != source.inputs().size())
            throw new IllegalArgumentException("fused elementwise kernel takes " + source.inputs().size() + " inputs, got " + inputs.size());
        if (outputs.size() != source.outputs().size())
            throw new IllegalArgumentException("fused elementwise kernel writes " + source.outputs().size() + " outputs, got " + outputs.size());
        List<DeviceBuffer> parameters = parameters(inputs, outputs);
        CudaKernel.Args args = CudaKernel.args();
        for (DeviceBuffer b : parameters) args.ptr(b);
        long n = source.elements();
        args.i64(n);
        if (n == 0) return;
        // the vector kernel accesses vec elements at once (up to 16 bytes), which needs aligned buffers (views may not be):
        // one thread per whole vector, the same threads then take the tail element by element
        if (source.vectorAligned(parameters)) vectorKernel.launch(Launch.gridFor(source.vectorThreads(), BLOCK), BLOCK, 0, stream, args);
        else kernel.launch(Launch.gridFor(n, BLOCK), BLOCK, 0, stream, args);
    }

    /** Whether {@link #run} on these buffers takes the vector kernel: the buffers it accesses in vector form are aligned for it. */
    public boolean runsVectorKernel(List<DeviceBuffer> inputs, List<DeviceBuffer> outputs) {
        return source.vectorAligned(parameters(inputs, outputs));
    }

    /** The kernel's parameters in order: inputs, the uploaded constants, outputs (each checked large enough). */
    private List<DeviceBuffer> parameters(List<DeviceBuffer> inputs, List<DeviceBuffer> outputs) {
        List<DeviceBuffer> parameters = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) parameters.add(checked(inputs.get(i), source.inputs().get(i), "input"));
        parameters.addAll(constants);
        for (int i = 0; i < outputs.size(); i++) parameters.add(checked(outputs.get(i), source.outputs().get(i), "output"));
        return parameters;
    }

    private static DeviceBuffer checked(DeviceBuffer b, Value v, String what) {
        TensorType t = v.type();
        long need = t.numElements() * EltwiseCodegen.storage(t.dtype(), null).bytes();
        if (b.bytes() < need)
            throw new IllegalArgumentException(what + " %" + v.name() + " (" + t + ") needs " + need + " bytes, buffer has " + b.bytes());
        return b;
    }

    @Override public void close() {
        for (DeviceBuffer c : constants) c.close();
        constants.clear();
    }
}
