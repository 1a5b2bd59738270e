package org.tessel.passes;

/** A pipeline that cannot run: unknown pass, illegal order, bad option, or a pass that broke the graph. */
public class PassException extends RuntimeException {
    public PassException(String message) { super(message); }
    public PassException(String message, Throwable cause) { super(message, cause); }
}
