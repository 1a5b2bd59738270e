package org.tessel.ir.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a text file as UTF-8. Errors name the file: a folder is "X is a folder, not a file", and
 * bytes that are not UTF-8 are "X:LINE: not UTF-8 text (byte 0xFF at offset N)" rather than the
 * JDK's bare "Input length = 1". A missing file is the JDK's {@link java.nio.file.NoSuchFileException}.
 */
public final class TextFiles {
    private TextFiles() {}

    public static String read(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new IOException(file + " is a folder, not a file");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (AccessDeniedException e) {
            throw new IOException(file + ": permission denied", e);
        }
        return decode(bytes, file.toString());
    }

    /** The file's lines (split at \n, \r\n or \r), as {@link String#lines()} splits them. */
    public static List<String> readLines(Path file) throws IOException { return read(file).lines().toList(); }

    /** UTF-8 bytes as text; {@code source} names them in the error. */
    public static String decode(byte[] bytes, String source) throws IOException {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError()) {
            int at = in.position();
            int line = 1;
            for (int i = 0; i < at; i++) if (bytes[i] == '\n') line++;
            throw new IOException(source + ":" + line + ": not UTF-8 text (byte 0x" + String.format("%02X", bytes[at] & 0xff) + " at offset " + at + ")");
        }
        return out.flip().toString();
    }
}
