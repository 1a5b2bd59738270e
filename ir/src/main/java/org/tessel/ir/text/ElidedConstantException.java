package org.tessel.ir.text;

/**
 * IR text with a constant printed as {@code dense_elided<...>} (its data left out, for reading)
 * was parsed without a resolver that supplies the original tensors. Tools say how to get text
 * with every constant; {@link #constant()} names the first one elided.
 */
public final class ElidedConstantException extends IrParseException {
    private final String constant;

    ElidedConstantException(String sourceName, int line, int column, String constant, String literal) {
        super(sourceName, line, column, "constant " + constant + " is elided (" + literal + "): the text does not hold its data; "
                + "parse it with a resolver of the original tensors by value name, or print the graph with every constant");
        this.constant = constant;
    }

    /** The constant, as written ({@code %name}). */
    public String constant() { return constant; }
}
