package org.tessel.ir.text;

import org.tessel.ir.IrException;

/**
 * A problem in IR text, located as {@code sourceName:line:column: message} (1-based line and
 * column, a tab counting as one column), so editors and test output can jump to it.
 */
public class IrParseException extends IrException {
    private final String sourceName;
    private final int line;
    private final int column;
    private final String detail;

    public IrParseException(String sourceName, int line, int column, String detail) {
        super(sourceName + ":" + line + ":" + column + ": " + detail);
        this.sourceName = sourceName;
        this.line = line;
        this.column = column;
        this.detail = detail;
    }

    public String sourceName() { return sourceName; }
    public int line() { return line; }
    public int column() { return column; }

    /** The message without the location prefix. */
    public String detail() { return detail; }
}
