package org.tessel.runtime.cuda;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import jcuda.NativePointerObject;
import jcuda.driver.CUdeviceptr;

/**
 * A JCuda device pointer whose raw address can be read, so the same memory can be handed to
 * libraries bound through java.lang.foreign (cuBLAS, cuDNN) as a plain {@code long}.
 * {@code NativePointerObject.getNativePointer()} is protected; a subclass may call it on its own
 * instances, which is why {@code cuMemAlloc} is given an instance of this class.
 *
 * <p>A pointer into an allocation ({@link #offset}) holds the whole address as its native pointer, byte offset 0:
 * JCuda's driver calls (cuMemcpy*, cuMemset*) read a {@code CUdeviceptr}'s native pointer alone and ignore the byte
 * offset {@code withByteOffset} records, so a slice made that way was copied from its allocation's start (measured on
 * the H200: a merged Q/K/V GEMV's K part, copied out of its Split view, held Q's first values).
 */
final class DevicePointer extends CUdeviceptr {
    private static final VarHandle NATIVE;

    static {
        try {
            NATIVE = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup()).findVarHandle(NativePointerObject.class, "nativePointer", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("JCuda's NativePointerObject has no field nativePointer (a JCuda other than 12.6.0?): " + e);
        }
    }

    DevicePointer() {}

    /** The device address, byte offset included. */
    long address() { return getNativePointer() + getByteOffset(); }

    /** A pointer {@code bytes} into this one, the whole address its native pointer (what JCuda's driver calls read). */
    DevicePointer offset(long bytes) {
        DevicePointer p = new DevicePointer();
        NATIVE.set((NativePointerObject) p, address() + bytes);
        return p;
    }
}
