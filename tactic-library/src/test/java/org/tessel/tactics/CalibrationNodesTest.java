package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Calibration;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Work;
import org.tessel.ir.Node;

class CalibrationNodesTest {
    @Test void rebuildsNodesFromShapeStrings() {
        Node mm = CalibrationNodes.node("MatMul", "M=128,N=768,K=3072");
        assertArrayEquals(new long[] {128, 768, 3072}, Work.gemmDims(mm));
        Node conv = CalibrationNodes.node("Conv", "N=32,C=64,H=56,W=56,K=128,R=3,S=3,stride=2,pad=1");
        assertEquals("f32[32,128,28,28]", conv.output().type().toString());
        assertEquals(2.0 * 32 * 128 * 28 * 28 * 64 * 9, Work.of(conv, org.tessel.cost.Precision.FP16).flops());
        assertEquals("f32[1048576]", CalibrationNodes.node("Relu", "elements=1048576").output().type().toString());
        assertEquals("f32[128,768]", CalibrationNodes.node("LayerNormalization", "rows=128,cols=768").output().type().toString());
        assertEquals("f32[12,128,64]", CalibrationNodes.node("MatMul", "batch=12,M=128,N=64,K=128").output().type().toString());
    }

    @Test void badShapesNameTheKey() {
        var e = assertThrows(IllegalArgumentException.class, () -> CalibrationNodes.node("Conv", "N=1,C=64,H=56,W=56,R=3,S=3"));
        assertEquals("calibration row Conv 'N=1,C=64,H=56,W=56,R=3,S=3': missing key 'K'", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CalibrationNodes.node("MatMul", "M=12,N=x,K=4"));
        assertEquals("calibration row MatMul 'M=12,N=x,K=4': key 'N' is not a whole number", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CalibrationNodes.node("MatMul", "M=12,N"));
        assertEquals("calibration row MatMul 'M=12,N': 'N' is not KEY=VALUE", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CalibrationNodes.node("Resize", "elements=4"));
        assertTrue(e.getMessage().contains("no shape form for this op"), e.getMessage());
    }

    /**
     * 278 kernels timed on the project's H200 (cost-model/measure/measure_device.py): the model
     * ranks them well before fitting, and fitting lowers the error.
     */
    @Test void realH200TimingsImproveWithCalibration() {
        List<Calibration.Row> rows = Calibration.readCsv(Path.of("src/test/resources/calibration/h200-torch.csv"));
        assertEquals(278, rows.size());
        Calibration.Report r = Calibration.fit(rows, new CostModel(DeviceSpec.h200Measured()), CalibrationNodes.predictor(TacticCatalog.builtin(), true));
        System.out.println("H200 calibration, measured spec: " + r);
        assertTrue(r.spearmanBefore() > 0.9, r.toString());
        assertTrue(r.mapeAfter() < r.mapeBefore(), r.toString());
        assertTrue(r.spearmanAfter() >= r.spearmanBefore(), r.toString());
        assertTrue(r.kendallAfter() >= r.kendallBefore(), r.toString());
    }
}
