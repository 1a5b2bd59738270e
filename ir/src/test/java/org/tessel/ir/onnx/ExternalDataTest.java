package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.*;
import static org.tessel.ir.onnx.OnnxModels.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.StringStringEntryProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/** ONNX external data: Tessel's export read back, and every malformed or escaping reference refused naming the tensor and the file. */
class ExternalDataTest {
    @TempDir Path dir;

    private static final float[] W = {1.5f, -2f, 3.25f, 4f};

    /** y = x + w with w's 4 floats external, described by these key/value pairs. */
    private static ModelProto addModel(String... kv) {
        TensorProto.Builder w = TensorProto.newBuilder().setName("w").setDataType(FLOAT).addDims(4).setDataLocation(TensorProto.DataLocation.EXTERNAL);
        for (int i = 0; i < kv.length; i += 2) w.addExternalData(StringStringEntryProto.newBuilder().setKey(kv[i]).setValue(kv[i + 1]));
        return model(21, graph("g").addInput(tensor("x", FLOAT, 4)).addOutput(tensor("y", FLOAT, 4)).addInitializer(w)
                .addNode(node("Add", "add", List.of("x", "w"), List.of("y"))));
    }

    private static byte[] floats(float... f) {
        return OnnxTensors.toProto(Tensor.ofFloats(Shape.of(f.length), f), "").getRawData().toByteArray();
    }

    private Path save(ModelProto m) throws IOException {
        Path p = dir.resolve("model.onnx");
        Files.write(p, m.toByteArray());
        return p;
    }

    private OnnxImportException refused(ModelProto m, String... fragments) throws IOException {
        Path p = save(m);
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> OnnxImporter.importModel(p));
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("model.onnx: initializer 'w'"), e.getMessage());
        return e;
    }

    private float[] addResult(Path model) {
        Graph g = OnnxImporter.importModel(model);
        return new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(4), 0, 0, 0, 0))).getFirst().floats();
    }

    @Test void anExternalInitializerIsReadAtItsOffsetAndLength() throws IOException {
        byte[] data = new byte[8 + 16 + 4];
        System.arraycopy(floats(W), 0, data, 8, 16);
        Files.write(dir.resolve("w.bin"), data);
        save(addModel("location", "w.bin", "offset", "8", "length", "16"));
        assertArrayEquals(W, addResult(dir.resolve("model.onnx")));
    }

    @Test void withoutALengthTheDataRunsToTheFilesEndAndAMatchingChecksumIsAccepted() throws Exception {
        Files.createDirectories(dir.resolve("weights"));
        Files.write(dir.resolve("weights/w.bin"), floats(W));
        String sha1 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(floats(W)));
        save(addModel("location", "weights/w.bin", "checksum", sha1));
        assertArrayEquals(W, addResult(dir.resolve("model.onnx")));
    }

    @Test void aConstantNodesTensorAttributeCanBeExternal() throws IOException {
        Files.write(dir.resolve("c.bin"), floats(W));
        TensorProto c = TensorProto.newBuilder().setDataType(FLOAT).addDims(4).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("c.bin")).build();
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 4)).addOutput(tensor("y", FLOAT, 4))
                .addNode(node("Constant", "k", List.of(), List.of("w"), AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(c).build()))
                .addNode(node("Add", "add", List.of("x", "w"), List.of("y"))));
        assertArrayEquals(W, addResult(save(m)));
    }

    @Test void aMissingFileIsRefused() throws IOException {
        OnnxImportException e = refused(addModel("location", "absent.bin"), "external data file 'absent.bin'", "no such file");
        assertEquals(OnnxImportException.Kind.INVALID_MODEL, e.kind());
    }

    @Test void aRangePastTheFilesEndIsRefused() throws IOException {
        Files.write(dir.resolve("w.bin"), floats(1, 2, 3));
        refused(addModel("location", "w.bin", "offset", "0", "length", "16"), "'w.bin'", "runs past the file's end (12 bytes)");
        refused(addModel("location", "w.bin", "offset", "100"), "'w.bin'", "runs past the file's end");
    }

    @Test void aLengthThatIsNotDimsTimesElementSizeIsRefused() throws IOException {
        Files.write(dir.resolve("w.bin"), floats(1, 2, 3, 4, 5));
        refused(addModel("location", "w.bin", "length", "20"), "'w.bin'", "length is 20 bytes, but dims [4] of f32 need 16");
        refused(addModel("location", "w.bin"), "'w.bin'", "to the file's end is 20 bytes");
    }

    @Test void locationsThatLeaveTheModelsFolderAreRefusedWithoutReading() throws IOException {
        Path outside = Files.write(dir.getParent().resolve(dir.getFileName() + "-secret.bin"), floats(W));
        try {
            refused(addModel("location", outside.toString()), "absolute path");
            refused(addModel("location", "../" + outside.getFileName()), "climbs out of the model's folder with '..'");
            refused(addModel("location", "sub/../../" + outside.getFileName()), "'..'");
            Files.createSymbolicLink(dir.resolve("link.bin"), outside);
            refused(addModel("location", "link.bin"), "'link.bin'", "symbolic link leading outside the model's folder");
        } finally {
            Files.deleteIfExists(dir.resolve("link.bin"));
            Files.deleteIfExists(outside);
        }
    }

    @Test void aDanglingSymbolicLinkIsRefused() throws IOException {
        Files.createSymbolicLink(dir.resolve("gone.bin"), dir.resolve("never-written.bin"));
        refused(addModel("location", "gone.bin"), "'gone.bin'", "a symbolic link to a missing file");
    }

    @Test void aSymbolicLinkInsideTheFolderIsFollowed() throws IOException {
        Files.write(dir.resolve("real.bin"), floats(W));
        Files.createSymbolicLink(dir.resolve("alias.bin"), dir.resolve("real.bin"));
        save(addModel("location", "alias.bin"));
        assertArrayEquals(W, addResult(dir.resolve("model.onnx")));
    }

    @Test void badEntriesAreRefused() throws IOException {
        Files.write(dir.resolve("w.bin"), floats(W));
        refused(addModel("location", "w.bin", "checksum", "0123456789abcdef0123456789abcdef01234567"), "checksum", "does not match the file's SHA-1");
        refused(addModel("location", "w.bin", "basepath", "/etc"), "unknown external_data key 'basepath'");
        refused(addModel("location", "w.bin", "offset", "-4"), "external_data 'offset' is '-4', not a byte count");
        refused(addModel("offset", "0"), "has no 'location'");
    }

    @Test void inMemoryImportsHaveNoFolderAndSaySo() {
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> OnnxImporter.importModel(addModel("location", "w.bin").toByteArray(), "m.onnx"));
        assertTrue(e.getMessage().contains("initializer 'w': data is stored outside the model (external data file 'w.bin')"), e.getMessage());
        assertTrue(e.getMessage().contains("import the model from its file"), e.getMessage());
    }

    @Test void tesselsExportWithExternalDataImportsBackToTheSameGraph() throws IOException {
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults());
        Path file = dir.resolve("bert.onnx");
        Path data = OnnxExporter.writeWithExternalData(OnnxExporter.toModel(g), file, 1024);
        assertEquals(dir.resolve("bert.onnx.data"), data);
        ModelProto written = ModelProto.parseFrom(Files.readAllBytes(file));
        long external = written.getGraph().getInitializerList().stream().filter(ExternalData::isExternal).count();
        assertTrue(external > 10, external + " external initializers");
        for (TensorProto t : written.getGraph().getInitializerList()) {
            long bytes = ExternalData.isExternal(t) ? Long.parseLong(t.getExternalDataList().stream().filter(e -> e.getKey().equals("length")).findFirst().orElseThrow().getValue())
                    : t.getRawData().size();
            assertEquals(ExternalData.isExternal(t), bytes >= 1024, t.getName() + ": " + bytes + " bytes");
        }
        assertTrue(Files.size(file) < Files.size(data) / 10, "the weights live in the data file");
        Graph back = OnnxImporter.importModel(file);
        Graph inline = OnnxImporter.importModel(OnnxExporter.toBytes(g), "bert.onnx");
        assertEquals(inline.nodes().size(), back.nodes().size());
        assertEquals(inline.constants().size(), back.constants().size());
        for (Value c : inline.constants()) {
            Value b = back.value(c.name());
            assertNotNull(b, c.name());
            assertTrue(c.constantValue().dataEquals(b.constantValue()), c.name());
        }
    }
}
