package org.tessel.runtime.cuda.ffm;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Small helpers shared by the bindings: layouts with C names and invocation with checked errors. */
final class Native {
    private Native() {}

    static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong C_SIZE_T = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfLong C_INT64 = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfDouble C_DOUBLE = ValueLayout.JAVA_DOUBLE;
    static final AddressLayout C_POINTER = ValueLayout.ADDRESS;

    /** Invokes a downcall returning int (a status code). */
    static int callInt(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static long callLong(MethodHandle h, Object... args) {
        try {
            return (long) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static MemorySegment callPointer(MethodHandle h, Object... args) {
        try {
            return (MemorySegment) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A C string returned by a library (static storage), or "?" when null. */
    static String cString(MemorySegment p) {
        if (p == null || p.equals(MemorySegment.NULL)) return "?";
        return p.reinterpret(4096).getString(0);
    }

    /** A device address as a pointer argument. */
    static MemorySegment dev(long address) { return MemorySegment.ofAddress(address); }
}
