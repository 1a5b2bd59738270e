package org.tessel.cost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Layout;

class CalibrationTest {
    @Test void spearmanWithTiesByHand() {
        double[] x = {1, 2, 2, 3}, y = {1, 3, 2, 4};
        assertArrayEquals(new double[] {1, 2.5, 2.5, 4}, Calibration.ranks(x));
        // ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): sxy = 4.5, sxx = 4.5, syy = 5
        assertEquals(4.5 / Math.sqrt(4.5 * 5), Calibration.spearman(x, y), 1e-15);
        assertEquals(0.9486832980505138, Calibration.spearman(x, y), 1e-15);
        assertEquals(1.0, Calibration.spearman(new double[] {1, 5, 9}, new double[] {2, 3, 100}), 1e-15);
        assertEquals(-1.0, Calibration.spearman(new double[] {1, 2, 3}, new double[] {3, 2, 1}), 1e-15);
    }

    @Test void kendallTauBByHand() {
        double[] x = {1, 2, 2, 3}, y = {1, 3, 2, 4};
        // 6 pairs: 5 concordant, 0 discordant, one tied in x only: 5 / sqrt(5 * 6)
        assertEquals(5 / Math.sqrt(30), Calibration.kendallTauB(x, y), 1e-15);
        assertEquals(-1.0, Calibration.kendallTauB(new double[] {1, 2, 3}, new double[] {3, 2, 1}), 1e-15);
        // (1,2,3,4) vs (1,3,2,4): 5 concordant, 1 discordant
        assertEquals(4 / 6.0, Calibration.kendallTauB(new double[] {1, 2, 3, 4}, new double[] {1, 3, 2, 4}), 1e-15);
    }

    @Test void mapeByHand() {
        assertEquals(40.0, Calibration.mape(new double[] {110, 90, 200}, new double[] {100, 100, 100}), 1e-12);
        assertEquals(0.0, Calibration.mape(new double[] {3, 4}, new double[] {3, 4}));
        assertThrows(IllegalArgumentException.class, () -> Calibration.mape(new double[] {1}, new double[] {1, 2}));
    }

    private static Calibration.Row row(String tactic, double measured, double predicted) {
        return new Calibration.Row("Conv", tactic, "s", Precision.FP16, Layout.NHWC, measured, predicted);
    }

    @Test void rowOnlyFitScalesEachFamilyByItsMedianRatio() {
        List<Calibration.Row> rows = List.of(
                row("cudnn.conv.implicit_gemm", 10, 5), row("cudnn.conv.winograd", 30, 15), row("cudnn.conv.implicit_gemm", 40, 20),
                row("cublas.gemm", 3, 9), row("cublas.gemm", 1, 3), row("cublas.gemm", 2, 6));
        Calibration.Report r = Calibration.fit(rows, new CostModel(DeviceSpec.h100Sxm()));
        assertEquals(2.0, r.fitted().familyScale("cudnn.conv.winograd"), 1e-12);
        assertEquals(1 / 3.0, r.fitted().familyScale("cublas.gemm"), 1e-12);
        assertEquals(0.0, r.mapeAfter(), 1e-9);
        assertTrue(r.mapeBefore() > 50);
        assertEquals(1.0, r.spearmanAfter(), 1e-12);
        assertTrue(r.spearmanBefore() < r.spearmanAfter());
        assertEquals(6, r.rows());
        var e = assertThrows(IllegalArgumentException.class, () -> Calibration.fit(List.of(row("a.b", 1, 1), row("a.b", 2, Double.NaN)), new CostModel(DeviceSpec.l4())));
        assertTrue(e.getMessage().startsWith("row 2 (a.b s) has no positive predicted time"), e.getMessage());
    }

    /** Rows drawn from a "true" model with known parameters, with 8% multiplicative noise. */
    @Test void predictorFitRecoversASyntheticTruth() {
        DeviceSpec d = DeviceSpec.h100Sxm();
        CostModel.Params truth = CostModel.Params.defaults().withTensorCoreScale(0.6).withCudaCoreScale(0.8).withMemoryScale(0.7)
                .withLaunchScale(1.4).withKernelLatencyUs(1.2).withFamilyScale("tessel.eltwise", 1.5);
        CostModel trueModel = new CostModel(d, truth);
        SplittableRandom rnd = new SplittableRandom(7);
        Map<String, Work> works = new HashMap<>();
        Map<String, TacticFeatures> feats = new HashMap<>();
        List<Calibration.Row> rows = new ArrayList<>();
        TacticFeatures gemm = new TacticFeatures(0.8, true, 128, 128, 32, 8, 0.85, 1);
        TacticFeatures elt = TacticFeatures.streaming(0.5, 0.85, 1);
        for (int i = 0; i < 150; i++) {
            boolean isGemm = i % 3 != 0;
            String shape = "row" + i;
            Work w;
            if (isGemm) {
                long m = 1L << rnd.nextInt(3, 14), n = 64L * rnd.nextInt(1, 64), k = 64L * rnd.nextInt(1, 64);
                w = Work.gemm(m, n, k, 2);
            } else {
                double e = 1 << rnd.nextInt(10, 26);
                w = new Work(e, 2 * e, 2 * e, 0, 0, 0);
            }
            String tactic = isGemm ? "cublas.gemm" : "tessel.eltwise";
            works.put(shape, w);
            feats.put(shape, isGemm ? gemm : elt);
            double t = trueModel.estimate(tactic, w, feats.get(shape), Precision.FP16, true).totalUs() * Math.exp(rnd.nextGaussian() * 0.08);
            rows.add(new Calibration.Row(isGemm ? "MatMul" : "Relu", tactic, shape, Precision.FP16, Layout.ANY, t, Double.NaN));
        }
        Calibration.Predictor pr = (r, m) -> m.estimate(r.tacticId(), works.get(r.shape()), feats.get(r.shape()), r.precision(), true).totalUs();
        Calibration.Report rep = Calibration.fit(rows, new CostModel(d), pr);
        // the best any fit can do: the truth itself, against its noisy measurements
        double[] meas = rows.stream().mapToDouble(Calibration.Row::measuredUs).toArray();
        double[] exact = rows.stream().mapToDouble(r -> pr.predictUs(r, trueModel)).toArray();
        double bestRho = Calibration.spearman(exact, meas), bestMape = Calibration.mape(exact, meas);
        double[] fitted = rows.stream().mapToDouble(r -> pr.predictUs(r, new CostModel(d, rep.fitted()))).toArray();
        double fittedErr = 0, truthErr = 0;
        for (int i = 0; i < meas.length; i++) {
            fittedErr += Math.pow(Math.log(fitted[i] / meas[i]), 2);
            truthErr += Math.pow(Math.log(exact[i] / meas[i]), 2);
        }
        assertTrue(fittedErr < truthErr * 1.25, "the fit's squared log error " + fittedErr + " is near the truth's " + truthErr);
        assertTrue(rep.mapeAfter() < rep.mapeBefore(), rep.toString());
        assertTrue(rep.mapeAfter() < bestMape + 3, "near the noise floor of " + bestMape + "%: " + rep);
        assertTrue(rep.spearmanAfter() >= rep.spearmanBefore() - 1e-9, rep.toString());
        assertTrue(rep.kendallAfter() >= rep.kendallBefore() - 1e-9, rep.toString());
        assertTrue(rep.spearmanAfter() > bestRho - 0.01, "near the truth's rho " + bestRho + ": " + rep);
        assertEquals(150, rep.rows());
    }

    @Test void csvRoundTripAndQuotedShapes(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.csv");
        List<Calibration.Row> rows = List.of(
                new Calibration.Row("MatMul", "cublas.gemm", "M=1,N=768,K=768", Precision.FP16, Layout.ANY, 4.06, Double.NaN),
                new Calibration.Row("Conv", "cudnn.conv.winograd", "N=1,C=64", Precision.FP32, Layout.NHWC, 12.5, 11.0));
        Calibration.writeCsv(f, rows);
        assertTrue(Files.readString(f).contains("\"M=1,N=768,K=768\""));
        List<Calibration.Row> back = Calibration.readCsv(f);
        assertEquals(2, back.size());
        assertEquals("M=1,N=768,K=768", back.get(0).shape());
        assertTrue(Double.isNaN(back.get(0).predictedUs()));
        assertEquals(rows.get(1), back.get(1));
    }

    @Test void badCsvNamesLineAndColumn(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.csv");
        String header = "op,tactic,shape,precision,layout,measured_us\n";
        Files.writeString(f, header + "MatMul,cublas.gemm,x,fp16,any,4.0\nMatMul,cublas.gemm,y,fp16,any,fast\n");
        var e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":3, column 'measured_us': not a number: 'fast'", e.getMessage());

        Files.writeString(f, header + "MatMul,cublas.gemm,x,fp12,any,4.0\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":2, column 'precision': unknown precision 'fp12' (fp32, tf32, fp16, bf16, int8, fp8)", e.getMessage());

        Files.writeString(f, header + "MatMul,cublas.gemm,x,fp16,diagonal,4.0\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":2, column 'layout': unknown layout 'diagonal' (nchw, nhwc, any)", e.getMessage());

        Files.writeString(f, header + "MatMul,cublas.gemm,x,fp16,any,-3\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":2, column 'measured_us': must be a positive time in microseconds, got '-3'", e.getMessage());

        Files.writeString(f, header + "MatMul,,x,fp16,any,3\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":2, column 'tactic': empty", e.getMessage());

        Files.writeString(f, header + "# a comment\nMatMul,cublas.gemm,\"M=1,N=2\",fp16,any\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":3: 5 fields, the header has 6", e.getMessage());

        Files.writeString(f, header + "MatMul,cublas.gemm,\"M=1,fp16,any,3\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":2: unterminated quote in field 3", e.getMessage());

        Files.writeString(f, "op,tactic,shape,precision,layout\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertEquals(f + ":1: header lacks column 'measured_us' (expected op,tactic,shape,precision,layout,measured_us,predicted_us)", e.getMessage());

        Files.writeString(f, "\n# nothing\n");
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.readCsv(f));
        assertTrue(e.getMessage().startsWith(f + ": empty calibration table"), e.getMessage());
    }
}
