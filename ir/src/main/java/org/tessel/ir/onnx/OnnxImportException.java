package org.tessel.ir.onnx;

import org.tessel.ir.IrException;

/**
 * A model Tessel cannot import, with a message naming the file, the node (name and op type) and
 * the problem. {@link #kind()} sorts the problem so tools can tell "not supported yet" (an op or
 * element type Tessel lacks) from "broken model"; the conformance runner skips the former.
 */
public class OnnxImportException extends IrException {
    /** What sort of problem stopped the import. */
    public enum Kind {
        /** Not a parseable ONNX model or tensor file, or structurally broken (no graph, cycle, undefined value). */
        INVALID_MODEL,
        /** A node's op is not supplied by any registered provider; {@link #detail()} is the op type. */
        UNKNOWN_OP,
        /** An element type Tessel has no {@link org.tessel.api.DType} for; {@link #detail()} is ONNX's type name. */
        UNSUPPORTED_DTYPE,
        /** A valid ONNX feature Tessel does not handle (subgraphs, sequences, external data, sparse tensors...). */
        UNSUPPORTED_FEATURE,
        /** An op refused a node (bad attribute, incompatible shapes, value that must be constant...). */
        OP_ERROR
    }

    private final Kind kind;
    private final String detail;

    public OnnxImportException(Kind kind, String detail, String message) {
        super(message);
        this.kind = kind;
        this.detail = detail;
    }

    public OnnxImportException(Kind kind, String detail, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.detail = detail;
    }

    public Kind kind() { return kind; }

    /** The op type for {@link Kind#UNKNOWN_OP}, ONNX's type name for {@link Kind#UNSUPPORTED_DTYPE}, else a short tag or null. */
    public String detail() { return detail; }

    /** The same problem with a location prefix ("model.onnx: ") added to the message. */
    OnnxImportException prefixed(String prefix) {
        OnnxImportException e = new OnnxImportException(kind, detail, prefix + getMessage(), getCause());
        e.setStackTrace(getStackTrace());
        return e;
    }
}
