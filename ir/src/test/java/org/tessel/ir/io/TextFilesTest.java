package org.tessel.ir.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text files that are not UTF-8, or not files, are refused naming the file, line and byte. */
class TextFilesTest {
    @TempDir Path dir;

    @Test void utf8TextReadsAsIs() throws Exception {
        Path f = dir.resolve("ok.tir");
        Files.writeString(f, "graph @g() {\r\n  // é ✓\n}\n");
        assertEquals("graph @g() {\r\n  // é ✓\n}\n", TextFiles.read(f));
        assertEquals(List.of("graph @g() {", "  // é ✓", "}"), TextFiles.readLines(f));
    }

    @Test void aByteThatIsNotUtf8IsNamedWithItsLine() throws Exception {
        Path f = dir.resolve("latin1.tir");
        Files.write(f, new byte[] {'a', '\n', 'b', 'c', '\n', 'd', (byte) 0xE9, 'e', '\n'});
        IOException e = assertThrows(IOException.class, () -> TextFiles.read(f));
        assertEquals(f + ":3: not UTF-8 text (byte 0xE9 at offset 6)", e.getMessage());
        Files.write(f, new byte[] {'a', (byte) 0xC3});
        assertEquals(f + ":1: not UTF-8 text (byte 0xC3 at offset 1)", assertThrows(IOException.class, () -> TextFiles.read(f)).getMessage(), "a truncated sequence at the end");
    }

    @Test void aFolderIsSaidToBeOne() {
        assertEquals(dir + " is a folder, not a file", assertThrows(IOException.class, () -> TextFiles.read(dir)).getMessage());
    }
}
