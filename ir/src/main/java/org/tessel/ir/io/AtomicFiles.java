package org.tessel.ir.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file whole or not at all. The bytes go to a temporary file of this write's own
 * ({@code .NAME.RANDOM.tmp}, created new, in the target's folder) that is then renamed over the
 * target atomically: readers see the old file or the new one, two writers of one path each
 * finish (the last rename wins) instead of breaking each other, and a write that fails deletes
 * its temporary file. Missing parent folders are created. Errors name the target, never the
 * temporary file: "cannot write X: No space left on device".
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** What goes into the file. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    public static void writeString(Path target, CharSequence text) throws IOException {
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        write(target, out -> out.write(bytes));
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException { write(target, out -> out.write(bytes)); }

    /**
     * Fails now, naming the path, when {@code target} cannot be a file: it is a folder, or some
     * parent is a file. Commands call this before long work whose result goes there.
     */
    public static void checkWritable(Path target) throws IOException {
        if (Files.isDirectory(target)) throw new IOException("cannot write " + target + ": it is a folder; give a file name");
        for (Path p = target.toAbsolutePath().getParent(); p != null; p = p.getParent())
            if (Files.exists(p) && !Files.isDirectory(p)) throw new IOException("cannot write " + target + ": " + p + " is a file, not a folder");
    }

    public static void write(Path target, Content content) throws IOException {
        checkWritable(target);
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        boolean moved = false;
        try {
            Files.createDirectories(dir);
            tmp = create(dir, target.getFileName().toString());
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp, StandardOpenOption.WRITE))) {
                content.writeTo(out);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            moved = true;
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + reason(e), e);
        } finally {
            if (!moved && tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed and says so; a temporary file that cannot be deleted changes nothing
                }
            }
        }
    }

    /** A new, empty temporary file in dir that no other write uses (created with CREATE_NEW, so the umask applies). */
    private static Path create(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                Files.newOutputStream(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return p;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    /** Why an I/O operation failed, without the paths it involved (the caller names the target). */
    private static String reason(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof FileAlreadyExistsException f) return f.getFile() + " exists and is not a folder";
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
