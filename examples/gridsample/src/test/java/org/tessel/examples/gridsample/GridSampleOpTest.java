package org.tessel.examples.gridsample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxImporter;

/**
 * GridSample's shape inference and reference implementation: exact on cases worked out by hand,
 * and equal to ONNX Runtime's GridSample on an ONNX model for every mode, padding and alignment
 * (grids reaching past the image on every side), in f32; in f16 within half precision.
 */
class GridSampleOpTest {
    /** On this test's class path the plugin is found as any class-path provider is (its command-line test loads the jar instead). */
    static final OpRegistry REGISTRY = OpRegistry.classPath();
    static final List<String> MODES = List.of("bilinear", "nearest", "bicubic"), PADDINGS = List.of("zeros", "border", "reflection");

    static Tensor sample(Tensor x, Tensor grid, String mode, String padding, int align) {
        Tensor y = Tensor.zeros(x.dtype(), Shape.of(x.shape().dim(0), x.shape().dim(1), grid.shape().dim(1), grid.shape().dim(2)));
        Attributes a = Attributes.builder().put("mode", mode).put("padding_mode", padding).put("align_corners", (long) align).build();
        GridSampleOp.sample(x, grid, y, GridSampleOp.mode(a), GridSampleOp.padding(a), GridSampleOp.alignCorners(a));
        return y;
    }

    static Tensor grid(float... xy) { return Tensor.ofFloats(Shape.of(1, 1, xy.length / 2, 2), xy); }

    @Test void theOpArrivesThroughItsProvider() {
        assertEquals("example-gridsample", REGISTRY.providerOf("GridSample"));
    }

    @Test void casesWorkedOutByHand() {
        // a 2x2 image: 1 2 / 3 4
        Tensor x = Tensor.ofFloats(Shape.of(1, 1, 2, 2), 1, 2, 3, 4);
        // align_corners=1: (-1,-1) and (1,1) are the corner pixels' centers, (0,0) is the middle of all four
        assertEquals(List.of(1f, 4f, 2.5f, 2f), values(sample(x, grid(-1, -1, 1, 1, 0, 0, 1, -1), "bilinear", "zeros", 1)));
        // align_corners=0: (-1,-1) is the top-left pixel's outer corner, (-0.5,-0.5) its center; zeros padding weighs a quarter in
        assertEquals(List.of(0.25f, 1f, 2.5f), values(sample(x, grid(-1, -1, -0.5f, -0.5f, 0, 0), "bilinear", "zeros", 0)));
        // border padding repeats the edge: far outside is the corner pixel
        assertEquals(List.of(1f, 4f, 2f), values(sample(x, grid(-5, -5, 7, 3, 9, -9), "bilinear", "border", 0)));
        // nearest rounds half to even: x = 0.5 (align 1, gx = 0) goes to column 0, of row 0 and then of row 1
        assertEquals(List.of(1f, 3f), values(sample(x, grid(0, -1, 0, 1), "nearest", "border", 1)));
        Tensor row = Tensor.ofFloats(Shape.of(1, 1, 1, 4), 10, 20, 30, 40);
        // align 0 on a width-4 row: gx = 1.5 is x = 4.5, taps 4 and 5 reflect off 3.5 to 3 and 2: (40 + 30) / 2
        assertEquals(List.of(35f), values(sample(row, grid(1.5f, 0), "bilinear", "reflection", 0)));
        // bicubic through pixel centers reproduces the pixels
        Tensor big = Tensor.ofFloats(Shape.of(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertEquals(List.of(1f, 5f, 9f, 6f), values(sample(big, grid(-1, -1, 0, 0, 1, 1, 1, 0), "bicubic", "border", 1)));
    }

    static List<Float> values(Tensor t) {
        List<Float> out = new java.util.ArrayList<>();
        for (int i = 0; i < t.size(); i++) out.add(t.getFloat(i));
        return out;
    }

    @Test void shapeInferenceAndItsErrors() throws Exception {
        Graph g = OnnxImporter.importModel(GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {2, 4, 6, 2}, "bicubic", "reflection", 1), "m",
                OnnxImporter.Options.defaults().withRegistry(REGISTRY));
        assertEquals("f32[2,3,4,6]", g.outputs().getFirst().type().toString());
        Map<String, String> bad = Map.of(
                "batch", "grid's batch 3 differs from X's 2",
                "mode", "mode 'area' is not bilinear (linear), nearest or bicubic (cubic)",
                "last", "grid must be [N, H_out, W_out, 2] for a 4-D X, got [2,4,6,3]");
        for (var e : bad.entrySet()) {
            byte[] m = switch (e.getKey()) {
                case "batch" -> GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {3, 4, 6, 2}, "bilinear", "zeros", 0);
                case "mode" -> GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {2, 4, 6, 2}, "area", "zeros", 0);
                default -> GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {2, 4, 6, 3}, "bilinear", "zeros", 0);
            };
            Exception ex = assertThrows(RuntimeException.class, () -> OnnxImporter.importModel(m, "m.onnx", OnnxImporter.Options.defaults().withRegistry(REGISTRY)));
            assertTrue(ex.getMessage().contains("node 'sample' (GridSample)") && ex.getMessage().contains(e.getValue()), ex.getMessage());
        }
    }

    /** Every mode x padding x alignment, through an ONNX model: Tessel (this plugin's reference) against ONNX Runtime. */
    @Test void matchesOnnxRuntimeInEveryMode() throws Exception {
        long[] xs = {2, 3, 5, 7}, gs = {2, 4, 6, 2};
        SplittableRandom r = new SplittableRandom(7);
        Tensor x = GridSampleModels.random(r, Shape.of(xs), 2.0), grid = GridSampleModels.random(r, Shape.of(gs), 1.4); // past the image on every side
        int cases = 0;
        for (String mode : MODES)
            for (String padding : PADDINGS)
                for (int align = 0; align <= 1; align++) {
                    byte[] m = GridSampleModels.single(xs, gs, mode, padding, align);
                    Tensor want = GridSampleModels.runOrt(m, Map.of("X", x, "grid", grid)).get("Y");
                    Graph g = OnnxImporter.importModel(m, "gridsample.onnx", OnnxImporter.Options.defaults().withRegistry(REGISTRY));
                    Tensor got = new ReferenceInterpreter().run(g, List.of(x, grid)).getFirst();
                    String what = mode + "/" + padding + "/align " + align;
                    assertEquals(want.shape(), got.shape(), what);
                    for (int i = 0; i < want.size(); i++)
                        assertEquals(want.getFloat(i), got.getFloat(i), 2e-5f * Math.max(1, Math.abs(want.getFloat(i))), what + " element " + i);
                    cases++;
                }
        assertEquals(18, cases);
    }

    /** In f16 the op computes in f32 from the rounded inputs and rounds once: the f32 result of the same inputs, rounded. */
    @Test void halfPrecisionRoundsOnce() {
        SplittableRandom r = new SplittableRandom(3);
        Tensor x = GridSampleModels.random(r, Shape.of(1, 2, 6, 6), 3.0), grid = GridSampleModels.random(r, Shape.of(1, 5, 5, 2), 1.2);
        Tensor xh = x.cast(DType.F16), gh = grid.cast(DType.F16);
        for (String mode : MODES) {
            Tensor half = sample(xh, gh, mode, "reflection", 0);
            Tensor wide = sample(xh.cast(DType.F32), gh.cast(DType.F32), mode, "reflection", 0);
            assertEquals(DType.F16, half.dtype());
            assertTrue(half.dataEquals(wide.cast(DType.F16)), mode);
        }
    }

    @Test void rank5IsRefusedByName() {
        Graph g = new Graph("g");
        var x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, 1, 1, 2, 2, 2));
        var grid = g.addInput("grid", org.tessel.api.TensorType.of(DType.F32, 1, 2, 2, 2, 3));
        IrException e = assertThrows(IrException.class, () -> g.addNode(REGISTRY.get("GridSample"), "volume", List.of(x, grid), Attributes.empty(), 1));
        assertTrue(e.getMessage().contains("node 'volume' (GridSample)") && e.getMessage().contains("4-D GridSample only"), e.getMessage());
    }
}
