package org.tessel.ir.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.StringStringEntryProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;

/**
 * ONNX external data: tensors whose bytes live in a file beside the model
 * ({@code data_location = EXTERNAL}, with {@code external_data} entries {@code location},
 * {@code offset}, {@code length} and {@code checksum}), as {@code onnx.save(...,
 * save_as_external_data=True)} writes models larger than protobuf's 2 GiB limit.
 *
 * <p>Reading ({@link #inline}) brings every such tensor's bytes into its {@code raw_data}, reading
 * only files inside the model's folder: a location that is absolute, climbs out with {@code ..},
 * or leads out through a symbolic link is refused before anything is read, as are a missing file,
 * a range past the file's end, a length that is not the tensor's dims x element size, an unknown
 * key, and a checksum (SHA-1 of the whole file, as onnx.proto defines it) that does not match.
 * Each refusal names the tensor and the file.
 *
 * <p>Writing ({@link #externalize}) moves the raw data of tensors of at least a threshold size
 * into one data file, back to back with 16-byte-aligned offsets, and records where each went.
 */
public final class ExternalData {
    private ExternalData() {}

    /** Offsets in a written data file are multiples of this (aligned loads when the file is mapped). */
    private static final int ALIGNMENT = 16;

    /** True when some tensor of the model (initializer or node attribute) keeps its data outside the model. */
    public static boolean uses(ModelProto m) {
        GraphProto g = m.getGraph();
        for (TensorProto t : g.getInitializerList()) if (isExternal(t)) return true;
        for (NodeProto n : g.getNodeList())
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasT() && isExternal(a.getT())) return true;
                for (TensorProto t : a.getTensorsList()) if (isExternal(t)) return true;
            }
        return false;
    }

    static boolean isExternal(TensorProto t) {
        return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0;
    }

    /**
     * The model with every external tensor's data read into {@code raw_data}; {@code folder} is the
     * model's folder, which locations are relative to. {@code source} names the model in errors.
     */
    public static ModelProto inline(ModelProto m, Path folder, String source) {
        if (!uses(m)) return m;
        Reader r = new Reader(folder, source);
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (isExternal(t)) g.setInitializer(i, r.read(t, "initializer '" + t.getName() + "'"));
        }
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto n = g.getNode(i);
            NodeProto.Builder nb = null;
            for (int k = 0; k < n.getAttributeCount(); k++) {
                AttributeProto a = n.getAttribute(k);
                String what = OnnxImporter.describe(n.getName().isEmpty() ? "(unnamed)" : n.getName(), n.getOpType(), OnnxImporter.domain(n.getDomain()))
                        + " attribute '" + a.getName() + "'";
                AttributeProto.Builder ab = null;
                if (a.hasT() && isExternal(a.getT())) (ab = a.toBuilder()).setT(r.read(a.getT(), what));
                for (int j = 0; j < a.getTensorsCount(); j++)
                    if (isExternal(a.getTensors(j))) {
                        if (ab == null) ab = a.toBuilder();
                        ab.setTensors(j, r.read(a.getTensors(j), what + " tensor " + j));
                    }
                if (ab != null) {
                    if (nb == null) nb = n.toBuilder();
                    nb.setAttribute(k, ab);
                }
            }
            if (nb != null) g.setNode(i, nb);
        }
        return m.toBuilder().setGraph(g).build();
    }

    /** Reads external tensors of one model; file checksums are computed once per file. */
    private static final class Reader {
        private final Path folder;
        private final Path realFolder;
        private final String source;
        private final Map<Path, String> sha1 = new HashMap<>();

        Reader(Path folder, String source) {
            this.source = source;
            this.folder = folder.toAbsolutePath().normalize();
            try {
                this.realFolder = this.folder.toRealPath();
            } catch (IOException e) {
                throw new OnnxImportException(Kind.INVALID_MODEL, "external data", source + ": the model's folder " + folder + " cannot be read: " + e.getMessage(), e);
            }
        }

        TensorProto read(TensorProto t, String what) {
            String location = null;
            Long offset = null, length = null;
            String checksum = null;
            for (StringStringEntryProto e : t.getExternalDataList()) {
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = number(e, what);
                    case "length" -> length = number(e, what);
                    case "checksum" -> checksum = e.getValue().strip().toLowerCase(java.util.Locale.ROOT);
                    default -> throw refuse(what, null, "unknown external_data key '" + e.getKey() + "' (ONNX defines location, offset, length, checksum)");
                }
            }
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL)
                throw refuse(what, location, "has external_data entries but data_location is not EXTERNAL");
            if (location == null || location.isEmpty()) throw refuse(what, null, "data_location is EXTERNAL but external_data has no 'location'");
            if (t.hasRawData() && !t.getRawData().isEmpty()) throw refuse(what, location, "has both raw_data and external data");
            Path file = resolve(location, what);
            if (!t.hasDataType() || t.getDataType() == 0) throw refuse(what, location, "has no data type");
            DType dt = OnnxTensors.dtype(t.getDataType(), what);
            long elements = OnnxTensors.shape(t.getDimsList(), what).numElements();
            long want = elements * dt.bytes();
            long size;
            try {
                size = Files.size(file);
            } catch (IOException e) {
                throw refuse(what, location, "cannot read its size: " + e.getMessage());
            }
            long off = offset == null ? 0 : offset;
            long len = length == null ? size - off : length;
            if (off > size || len > size - off)
                throw refuse(what, location, "offset " + off + " + length " + len + " = " + (off + len) + " runs past the file's end (" + size + " bytes): the file is truncated or the entry is wrong");
            if (len != want)
                throw refuse(what, location, (length == null ? "the data from offset " + off + " to the file's end is " : "length is ") + len + " bytes, but dims "
                        + t.getDimsList() + " of " + dt.text() + " need " + want);
            if (want > Integer.MAX_VALUE - 16) throw refuse(what, location, "is " + want + " bytes, more than one Java array holds");
            if (checksum != null) {
                String loc = location;
                String have = sha1.computeIfAbsent(file, f -> sha1Of(f, what, loc));
                if (!have.equals(checksum)) throw refuse(what, location, "checksum " + checksum + " does not match the file's SHA-1 " + have);
            }
            byte[] bytes = new byte[(int) want];
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                long pos = off;
                while (b.hasRemaining()) {
                    int n = ch.read(b, pos);
                    if (n < 0) throw refuse(what, location, "the file ended at byte " + pos + " while reading (it changed while being read?)");
                    pos += n;
                }
            } catch (IOException e) {
                throw refuse(what, location, "cannot read: " + e.getMessage());
            }
            return t.toBuilder().clearExternalData().clearDataLocation().setRawData(ByteString.copyFrom(bytes)).build();
        }

        /** The data file inside the model's folder, or a refusal: nothing outside the folder is read. */
        private Path resolve(String location, String what) {
            Path rel;
            try {
                rel = Path.of(location);
            } catch (java.nio.file.InvalidPathException e) {
                throw refuse(what, location, "the location is not a valid path: " + e.getMessage());
            }
            if (rel.isAbsolute() || location.startsWith("/") || location.startsWith("\\"))
                throw refuse(what, location, "the location is an absolute path; external data must be relative to the model's folder");
            for (Path part : rel) if (part.toString().equals("..")) throw refuse(what, location, "the location climbs out of the model's folder with '..'");
            Path file = folder.resolve(rel).normalize();
            if (!file.startsWith(folder)) throw refuse(what, location, "the location leads outside the model's folder");
            if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) throw refuse(what, location, "no such file in " + folder);
            Path real;
            try {
                real = file.toRealPath();
            } catch (IOException e) {
                throw refuse(what, location, Files.isSymbolicLink(file) ? "a symbolic link to a missing file" : "no such file in " + folder);
            }
            if (!real.startsWith(realFolder)) throw refuse(what, location, "the location is a symbolic link leading outside the model's folder (to " + real + ")");
            if (!Files.isRegularFile(real)) throw refuse(what, location, "is not a regular file");
            return real;
        }

        private static long number(StringStringEntryProto e, String what) {
            try {
                long v = Long.parseLong(e.getValue().strip());
                if (v < 0) throw new NumberFormatException("negative");
                return v;
            } catch (NumberFormatException x) {
                throw new OnnxImportException(Kind.INVALID_MODEL, "external data", what + ": external_data '" + e.getKey() + "' is '" + e.getValue() + "', not a byte count");
            }
        }

        private String sha1Of(Path f, String what, String location) {
            try (InputStream in = Files.newInputStream(f)) {
                MessageDigest md = MessageDigest.getInstance("SHA-1");
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
                return HexFormat.of().formatHex(md.digest());
            } catch (IOException e) {
                throw refuse(what, location, "cannot read for its checksum: " + e.getMessage());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-1 is missing from this JDK", e);
            }
        }

        private OnnxImportException refuse(String what, String location, String why) {
            return new OnnxImportException(Kind.INVALID_MODEL, "external data", what + (location == null ? "" : ": external data file '" + location + "'") + ": " + why);
        }
    }

    /** A model whose large tensors were moved out, and the bytes of its data file. */
    public record Split(ModelProto model, byte[] data) {}

    /**
     * Moves the raw data of every initializer of at least {@code threshold} bytes into one data
     * file named {@code location} (relative to the model's folder).
     */
    public static Split externalize(ModelProto m, String location, long threshold) {
        if (threshold < 0) throw new IllegalArgumentException("external data threshold must be at least 0 bytes, got " + threshold);
        Path loc = Path.of(location);
        if (loc.isAbsolute() || loc.getNameCount() != 1) throw new IllegalArgumentException("external data location '" + location + "' must be a plain file name in the model's folder");
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (!t.hasRawData() || t.getRawData().size() < threshold || t.getRawData().isEmpty()) continue;
            while (data.size() % ALIGNMENT != 0) data.write(0);
            long offset = data.size();
            ByteString raw = t.getRawData();
            data.writeBytes(raw.toByteArray());
            g.setInitializer(i, t.toBuilder().clearRawData().setDataLocation(TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(entry("location", location))
                    .addExternalData(entry("offset", Long.toString(offset)))
                    .addExternalData(entry("length", Integer.toString(raw.size()))));
        }
        return new Split(m.toBuilder().setGraph(g).build(), data.toByteArray());
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }
}
