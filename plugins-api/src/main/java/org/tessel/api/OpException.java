package org.tessel.api;

/**
 * A problem with one use of an op: bad attribute, incompatible input types, unsupported case.
 * Ops throw it with a message about the op-level problem; the graph layer adds which node.
 */
public class OpException extends RuntimeException {
    public OpException(String message) { super(message); }
    public OpException(String message, Throwable cause) { super(message, cause); }
}
