package org.tessel.ir.onnx;

import org.tessel.ir.onnx.OnnxImportException.Kind;

/**
 * Which versions of ONNX's default operator set Tessel reads, and what it refuses.
 *
 * <p>Tessel's ops implement opset 21. Older models (opsets 1 to 20) are read through
 * {@link LegacyForms}, which rewrites every op whose inputs, attributes or meaning changed since
 * (checked against ONNX's changelog, op by op); the one pre-opset-9 form it cannot express,
 * Tile before opset 6 (tiles and axis inputs), is refused here. Opsets 22 to {@value #NEWEST}
 * are read because the changelog shows their new op versions changed element types only (bf16,
 * float8, 4- and 2-bit types, which Tessel refuses by name where they occur), clarified text, or
 * added attributes (which the importer's attribute check refuses when a model sets them: CastLike-24's
 * round_mode, Range-27's stash_type). The one clarified meaning, AveragePool-22 and MaxPool-22 (with
 * ceil_mode, a window that would start in the right padding is dropped), is what Tessel's pools
 * compute already (ONNX's ceil test cases pass). A newer opset, whose changes nobody has checked,
 * is refused naming it and the range; so is a version below 1.
 *
 * <p>Other domains: {@code ai.onnx.ml} (classical ML), {@code ai.onnx.preview.training} and
 * {@code ai.onnx.preview} have no Tessel ops; a node from them is refused naming the domain. Ops of
 * other domains come from providers (Tessel's own, plugins), which are not versioned.
 */
final class Opsets {
    private Opsets() {}

    /** The opset Tessel's ops implement. */
    static final int NATIVE = 21;
    /** The newest default-domain opset whose changes were checked (ONNX 1.23). */
    static final int NEWEST = 28;

    /** Refuses a default-domain opset outside 1..NEWEST, naming it and the range. */
    static void checkDefaultDomain(long version) {
        if (version < 1 || version > NEWEST)
            throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "opset " + version, "the model imports opset " + version + " of the default ONNX domain; Tessel reads opsets 1 to "
                    + NEWEST + " (its ops are opset " + NATIVE + "'s; older forms are rewritten, and 22 to " + NEWEST + " changed only types and attributes Tessel checks)"
                    + (version > NEWEST ? "; opset " + version + "'s changes have not been checked, so its meaning cannot be trusted: convert the model to opset " + NEWEST
                    + " or older (onnx.version_converter)" : ""));
    }

    /** Domains of ONNX's own that Tessel has no ops for, with what they hold. */
    static String onnxDomainWithoutOps(String domain) {
        return switch (domain) {
            case "ai.onnx.ml" -> "ONNX's classical machine-learning domain (trees, encoders, scalers)";
            case "ai.onnx.preview.training" -> "ONNX's training domain (optimizers, gradients)";
            case "ai.onnx.preview" -> "ONNX's preview domain (experimental ops)";
            default -> null;
        };
    }

    /** A node form that no rewrite can express at this opset, refused naming it; else nothing. */
    static void checkNode(String opType, long opset, String where) {
        if (opType.equals("Tile") && opset < 6)
            throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "Tile opset " + opset, where + ": opset-" + opset + " Tile (inputs tiles and axis) is not supported; "
                    + "Tessel reads Tile from opset 6 (input repeats); convert the model to opset 6 or later");
    }
}
