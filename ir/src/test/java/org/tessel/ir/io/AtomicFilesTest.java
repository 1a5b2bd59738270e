package org.tessel.ir.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole-or-nothing writes: concurrent writers, failed writes, missing folders, and errors that name the target. */
class AtomicFilesTest {
    @TempDir Path dir;

    private List<String> names() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test void concurrentWritersOfOnePathAllSucceedAndTheFileIsOneOfThemWhole() throws Exception {
        Path f = dir.resolve("engine.bin");
        int writers = 8;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            byte[] body = String.valueOf((char) ('a' + w)).repeat(200_000).getBytes(StandardCharsets.UTF_8);
            done.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < 5; i++) AtomicFiles.writeBytes(f, body);
                return null;
            }));
        }
        start.countDown();
        for (Future<?> d : done) d.get();
        pool.shutdown();
        String text = Files.readString(f);
        assertEquals(200_000, text.length());
        assertTrue(text.chars().allMatch(c -> c == text.charAt(0)), "one writer's bytes, not a mix");
        assertEquals(List.of("engine.bin"), names(), "no temporary files left");
    }

    @Test void aFailedWriteKeepsTheOldFileAndLeavesNoTemporaryFile() throws Exception {
        Path f = dir.resolve("plan.json");
        AtomicFiles.writeString(f, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write("half of the new".getBytes(StandardCharsets.UTF_8));
            throw new IOException("No space left on device");
        }));
        assertEquals("cannot write " + f + ": No space left on device", e.getMessage(), "the error names the target, not a temporary file");
        assertEquals("old", Files.readString(f));
        assertEquals(List.of("plan.json"), names());
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(f, out -> { throw new IllegalStateException("bug"); }));
        assertEquals(List.of("plan.json"), names(), "an unchecked failure also cleans up");
    }

    @Test void missingFoldersAreCreatedAndFoldersOrFilesInTheWayAreNamed() throws Exception {
        Path deep = dir.resolve("a/b/c.tir");
        AtomicFiles.writeString(deep, "x");
        assertEquals("x", Files.readString(deep));
        IOException folder = assertThrows(IOException.class, () -> AtomicFiles.writeString(dir.resolve("a"), "x"));
        assertEquals("cannot write " + dir.resolve("a") + ": it is a folder; give a file name", folder.getMessage());
        IOException file = assertThrows(IOException.class, () -> AtomicFiles.writeString(deep.resolve("d.tir"), "x"));
        assertEquals("cannot write " + deep.resolve("d.tir") + ": " + deep + " is a file, not a folder", file.getMessage());
        assertFalse(Files.exists(deep.resolve("d.tir")));
    }
}
