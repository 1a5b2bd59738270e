package org.tessel.runtime.llm.quant;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Calibration and evaluation token sequences for decoders without a tokenizer: the bytes of a text
 * file, each byte's value mod the vocabulary as a token id (a crude byte-level tokenization, but
 * real text's statistics, and deterministic). Sequences are consecutive windows of the file.
 */
public final class CalibrationText {
    private CalibrationText() {}

    /** A text every Debian system has: the GPL version 3 (about 35 KB). */
    public static final Path DEFAULT_TEXT = Path.of("/usr/share/common-licenses/GPL-3");

    /** {@code count} windows of {@code length} tokens, the first starting at byte {@code offset}; fails naming the file when it is too short. */
    public static long[][] sequences(Path file, int vocab, int count, int length, int offset) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("calibration text " + file + ": " + e.getMessage(), e);
        }
        long need = offset + (long) count * length;
        if (bytes.length < need) throw new IllegalArgumentException("calibration text " + file + " has " + bytes.length + " bytes, " + need + " needed");
        long[][] out = new long[count][length];
        for (int s = 0; s < count; s++)
            for (int i = 0; i < length; i++) out[s][i] = (bytes[offset + s * length + i] & 0xFF) % vocab;
        return out;
    }
}
