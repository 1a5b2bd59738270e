package org.tessel.ir;

/** A problem found in a graph, naming where: the node, the value, or the file and line. */
public class IrException extends RuntimeException {
    public IrException(String message) { super(message); }
    public IrException(String message, Throwable cause) { super(message, cause); }
}
