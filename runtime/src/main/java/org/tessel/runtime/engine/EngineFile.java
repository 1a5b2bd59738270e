package org.tessel.runtime.engine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * The engine file format. A header (magic, format version, backend, GPU architecture, library
 * versions, payload length, SHA-256 of the payload) and a payload: the graph as Tessel text IR
 * with its constants elided, the per-layer plan, the memory plan, named blobs (compiled kernels as
 * PTX, builder metadata, and the engine's {@code EnginePlan} as JSON under {@code meta/plan}), and the
 * weights as raw little-endian data, each already in the dtype and layout its tactic reads.
 * Writes are atomic (temporary file, then rename). Reads check everything before trusting it.
 */
public final class EngineFile {
    /** PNG-style magic: a high byte, the name, and CR LF / EOF / LF so text-mode mangling shows. */
    static final byte[] MAGIC = {(byte) 0x89, 'T', 'S', 'L', '\r', '\n', 0x1A, '\n'};
    private static final int MAX_COUNT = 50_000_000;

    private EngineFile() {}

    /** The parts of an engine as stored. */
    public record Contents(EngineHeader header, String graphText, List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes,
                           Map<String, byte[]> kernels, Map<String, Tensor> weights) {}

    public static void write(Path file, String backend, String gpuArch, Map<String, String> libraries, String graphText,
                             List<LayerPlan> layers, Map<String, long[]> memory, long arenaBytes, Map<String, byte[]> kernels,
                             Map<String, Tensor> weights) throws IOException {
        ByteArrayOutputStream payloadBytes = new ByteArrayOutputStream();
        DataOutputStream p = new DataOutputStream(payloadBytes);
        writeString(p, graphText);
        p.writeInt(layers.size());
        for (LayerPlan l : layers) { writeString(p, l.node()); writeString(p, l.tactic()); writeString(p, l.precision()); writeString(p, l.layout()); }
        p.writeInt(memory.size());
        for (var e : memory.entrySet()) { writeString(p, e.getKey()); p.writeLong(e.getValue()[0]); p.writeLong(e.getValue()[1]); }
        p.writeLong(arenaBytes);
        p.writeInt(kernels.size());
        for (var e : kernels.entrySet()) { writeString(p, e.getKey()); p.writeInt(e.getValue().length); p.write(e.getValue()); }
        p.writeInt(weights.size());
        for (var e : weights.entrySet()) writeTensor(p, e.getKey(), e.getValue());
        p.flush();
        byte[] payload = payloadBytes.toByteArray();

        org.tessel.ir.io.AtomicFiles.write(file, stream -> {
            DataOutputStream out = new DataOutputStream(stream);
            out.write(MAGIC);
            out.writeInt(EngineHeader.FORMAT_VERSION);
            writeString(out, backend);
            writeString(out, gpuArch);
            out.writeInt(libraries.size());
            for (var e : new java.util.TreeMap<>(libraries).entrySet()) { writeString(out, e.getKey()); writeString(out, e.getValue()); }
            out.writeLong(payload.length);
            out.write(sha256(payload));
            out.write(payload);
            out.flush();
        });
    }

    /** True when the file starts with the engine magic (whatever else it holds). */
    public static boolean isEngineFile(Path file) {
        try (var in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The backend an engine file was built for ("cpu", "cuda"), read from its header alone (so a
     * launcher can pick the loader); the full check happens when the file is read.
     */
    public static String backendOf(Path file) {
        String f = file.toString();
        if (Files.isDirectory(file)) throw new EngineFormatException(f + " is a folder, not an engine file");
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) throw new EngineFormatException(f + ": not a Tessel engine file (its first bytes are not the engine magic)");
            int version = in.readInt();
            if (version != EngineHeader.FORMAT_VERSION)
                throw new EngineFormatException(f + ": engine format version " + version + ", this Tessel reads version " + EngineHeader.FORMAT_VERSION + "; rebuild the engine");
            return readString(in, 64, f);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new EngineFormatException(f + ": no such engine file");
        } catch (EOFException e) {
            throw new EngineFormatException(f + ": truncated inside the header");
        } catch (IOException e) {
            throw new UncheckedIOException(f + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Reads and checks an engine file; every problem is an {@link EngineFormatException} naming the file. */
    public static Contents read(Path file) {
        if (Files.isDirectory(file)) throw new EngineFormatException(file + " is a folder, not an engine file");
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new EngineFormatException(file + ": no such engine file");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        String f = file.toString();
        if (all.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(all, MAGIC.length), MAGIC))
            throw new EngineFormatException(f + ": not a Tessel engine file (its first bytes are not the engine magic)");
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(all, MAGIC.length, all.length - MAGIC.length));
        EngineHeader header;
        int headerEnd;
        try {
            int version = in.readInt();
            if (version != EngineHeader.FORMAT_VERSION)
                throw new EngineFormatException(f + ": engine format version " + version + ", this Tessel reads version " + EngineHeader.FORMAT_VERSION + "; rebuild the engine");
            String backend = readString(in, 64, f);
            String arch = readString(in, 64, f);
            int nLibs = count(in.readInt(), 1000, "libraries", f);
            Map<String, String> libs = new LinkedHashMap<>();
            for (int i = 0; i < nLibs; i++) libs.put(readString(in, 256, f), readString(in, 256, f));
            long payloadLen = in.readLong();
            byte[] digest = new byte[32];
            in.readFully(digest);
            headerEnd = all.length - in.available();
            header = new EngineHeader(version, backend, arch, libs, payloadLen, digest);
        } catch (EOFException e) {
            throw new EngineFormatException(f + ": truncated inside the header (" + all.length + " bytes)");
        } catch (IOException e) {
            throw new EngineFormatException(f + ": unreadable header: " + e.getMessage());
        }
        long have = all.length - headerEnd;
        if (header.payloadBytes() < 0 || have < header.payloadBytes())
            throw new EngineFormatException(f + ": truncated: the header promises " + header.payloadBytes() + " payload bytes, the file has " + have);
        if (have > header.payloadBytes())
            throw new EngineFormatException(f + ": " + (have - header.payloadBytes()) + " unexpected bytes after the payload");
        byte[] payload = Arrays.copyOfRange(all, headerEnd, all.length);
        if (!Arrays.equals(sha256(payload), header.sha256()))
            throw new EngineFormatException(f + ": checksum mismatch: the payload is corrupt (SHA-256 " + HexFormat.of().formatHex(sha256(payload)).substring(0, 16)
                    + "..., header says " + HexFormat.of().formatHex(header.sha256()).substring(0, 16) + "...)");
        try {
            DataInputStream p = new DataInputStream(new ByteArrayInputStream(payload));
            String text = readString(p, payload.length, f);
            int nLayers = count(p.readInt(), MAX_COUNT, "layers", f);
            List<LayerPlan> layers = new ArrayList<>();
            for (int i = 0; i < nLayers; i++) layers.add(new LayerPlan(readString(p, 4096, f), readString(p, 256, f), readString(p, 32, f), readString(p, 32, f)));
            int nMem = count(p.readInt(), MAX_COUNT, "memory entries", f);
            Map<String, long[]> memory = new LinkedHashMap<>();
            for (int i = 0; i < nMem; i++) memory.put(readString(p, 4096, f), new long[] {p.readLong(), p.readLong()});
            long arena = p.readLong();
            int nKernels = count(p.readInt(), 100_000, "kernels", f);
            Map<String, byte[]> kernels = new LinkedHashMap<>();
            for (int i = 0; i < nKernels; i++) {
                String k = readString(p, 4096, f);
                byte[] b = new byte[count(p.readInt(), payload.length, "kernel bytes", f)];
                p.readFully(b);
                kernels.put(k, b);
            }
            int nWeights = count(p.readInt(), MAX_COUNT, "weights", f);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (int i = 0; i < nWeights; i++) {
                String name = readString(p, 4096, f);
                weights.put(name, readTensor(p, name, f));
            }
            return new Contents(header, text, layers, memory, arena, kernels, weights);
        } catch (EOFException e) {
            throw new EngineFormatException(f + ": payload ends early although its checksum matches (written by a broken writer?)");
        } catch (IOException e) {
            throw new EngineFormatException(f + ": unreadable payload: " + e.getMessage());
        }
    }

    private static int count(int n, long max, String what, String f) {
        if (n < 0 || n > max) throw new EngineFormatException(f + ": implausible number of " + what + ": " + n);
        return n;
    }

    static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    static String readString(DataInputStream in, long max, String f) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > max) throw new EngineFormatException(f + ": implausible string length " + n);
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void writeTensor(DataOutputStream out, String name, Tensor t) throws IOException {
        writeString(out, name);
        out.writeInt(t.dtype().onnxCode());
        out.writeInt(t.rank());
        for (int d : t.shape().dims()) out.writeInt(d);
        int n = t.size();
        ByteBuffer bb = ByteBuffer.allocate(n * t.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (t.dtype()) {
                case F32 -> bb.putFloat(t.floats()[i]);
                case F16 -> bb.putShort(Float.floatToFloat16(t.floats()[i]));
                case BF16 -> bb.putShort((short) (Float.floatToRawIntBits(t.floats()[i]) >>> 16));
                case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> bb.put((byte) t.dtype().float8Bits(t.floats()[i], false));
                case F64 -> bb.putDouble(t.doubles()[i]);
                case I8, U8, BOOL -> bb.put((byte) t.longs()[i]);
                case I32 -> bb.putInt((int) t.longs()[i]);
                case I64 -> bb.putLong(t.longs()[i]);
            }
        }
        out.writeLong(bb.capacity());
        out.write(bb.array());
    }

    private static Tensor readTensor(DataInputStream in, String name, String f) throws IOException {
        int code = in.readInt();
        DType dt = DType.fromOnnx(code).orElseThrow(() -> new EngineFormatException(f + ": weight " + name + " has unknown dtype code " + code));
        int rank = count(in.readInt(), 16, "dimensions of " + name, f);
        int[] dims = new int[rank];
        for (int i = 0; i < rank; i++) dims[i] = count(in.readInt(), Integer.MAX_VALUE, "elements along a dimension of " + name, f);
        Shape s = Shape.of(dims);
        long bytes = in.readLong();
        if (bytes != s.numElements() * dt.bytes()) throw new EngineFormatException(f + ": weight " + name + " holds " + bytes + " bytes, its type " + dt.text() + s + " needs " + s.numElements() * dt.bytes());
        byte[] raw = new byte[Math.toIntExact(bytes)];
        in.readFully(raw);
        ByteBuffer bb = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        Tensor t = Tensor.zeros(dt, s);
        int n = t.size();
        for (int i = 0; i < n; i++) {
            switch (dt) {
                case F32 -> t.floats()[i] = bb.getFloat();
                case F16 -> t.floats()[i] = Float.float16ToFloat(bb.getShort());
                case BF16 -> t.floats()[i] = Float.intBitsToFloat((bb.getShort() & 0xFFFF) << 16);
                case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> t.floats()[i] = t.dtype().float8Value(bb.get());
                case F64 -> t.doubles()[i] = bb.getDouble();
                case I8 -> t.longs()[i] = bb.get();
                case U8 -> t.longs()[i] = bb.get() & 0xFF;
                case BOOL -> t.longs()[i] = bb.get() != 0 ? 1 : 0;
                case I32 -> t.longs()[i] = bb.getInt();
                case I64 -> t.longs()[i] = bb.getLong();
            }
        }
        return t;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
