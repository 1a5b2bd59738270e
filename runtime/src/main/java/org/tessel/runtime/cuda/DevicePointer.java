package org.tessel.runtime.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * A JCuda device pointer whose raw address can be read, so the same memory can be handed to
 * libraries bound through java.lang.foreign (cuBLAS, cuDNN) as a plain {@code long}.
 * {@code NativePointerObject.getNativePointer()} is protected; a subclass may call it on its own
 * instances, which is why {@code cuMemAlloc} is given an instance of this class.
 */
final class DevicePointer extends CUdeviceptr {
    DevicePointer() {}

    private DevicePointer(DevicePointer base, long byteOffset) { super(base, byteOffset); }

    /** The device address, byte offset included. */
    long address() { return getNativePointer() + getByteOffset(); }

    DevicePointer offset(long bytes) { return new DevicePointer(this, bytes); }
}
