package org.tessel.runtime.tuning;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessel.cost.Calibration;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;

/**
 * How well the cost model predicts the tactics the auto-tuner timed: for every timed
 * (signature, tactic) pair, the model's prediction ({@link TacticPredictor}) against the measured
 * median, scored by Spearman's rho, Kendall's tau-b and MAPE
 * <ul>
 *   <li>raw: the model as the builder used it;</li>
 *   <li>family scales, cross-validated: {@link Calibration}'s per-family factor (median log ratio)
 *       fitted on the other folds of a {@value #FOLDS}-fold split (rows in signature order, dealt
 *       round-robin) and applied to the held-out fold, so the figures are out of sample;</li>
 *   <li>full fit, in-sample: {@link Calibration#fit(List, CostModel, Calibration.Predictor)} (global
 *       scales, misalignment penalty, latency floors, family factors) on all rows, scored on the same rows.</li>
 * </ul>
 * It needs only the cache's rows: the signatures rebuild the nodes ({@link SignatureNodes}), so the
 * report runs from a timing-cache file on any machine. Rows the model cannot price (cuDNN algorithms
 * without a catalogue tactic) are counted, listed in the CSV with an empty prediction, and not scored.
 */
public final class CalibrationReport {
    static final int FOLDS = 5;

    /** One timed pair with its predictions (NaN: none). */
    public record Entry(String signature, String tactic, double measuredUs, double madUs, double predictedUs, double familyCvUs, double fittedUs) {}

    /** Scores of one set of predictions. */
    public record Scores(int rows, double spearman, double kendall, double mapePct) {
        String line(String label) {
            return String.format(Locale.ROOT, "| %-38s | %5d | %8.4f | %8.4f | %8.1f%% |", label, rows, spearman, kendall, mapePct);
        }
    }

    private final String target;
    private final List<Entry> entries;
    private final int unpriced;
    private final Scores raw, familyCv, fitted;
    private final CostModel.Params fittedParams;

    private CalibrationReport(String target, List<Entry> entries, int unpriced, Scores raw, Scores familyCv, Scores fitted, CostModel.Params fittedParams) {
        this.target = target;
        this.entries = entries;
        this.unpriced = unpriced;
        this.raw = raw;
        this.familyCv = familyCv;
        this.fitted = fitted;
        this.fittedParams = fittedParams;
    }

    public Scores raw() { return raw; }
    public Scores familyCv() { return familyCv; }
    /** Null when fewer than 2 rows were priced. */
    public Scores fitted() { return fitted; }
    public List<Entry> entries() { return entries; }
    public int unpriced() { return unpriced; }

    /** The full fit's parameters, or null when the report was made without a fit. */
    public CostModel.Params fittedParams() { return fittedParams; }

    /** A report over every entry of a timing cache. */
    public static CalibrationReport of(TimingCache cache, String target) { return of(cache, target, true); }

    /** As {@link #of(TimingCache, String)}; {@code fullFit} false skips the in-sample full fit (seconds per 50 rows). */
    public static CalibrationReport of(TimingCache cache, String target, boolean fullFit) {
        Map<String, Measurement> rows = new java.util.LinkedHashMap<>();
        cache.entries().forEach((k, m) -> rows.put(k.signature() + "\t" + k.tactic(), m));
        return of(rows, target, fullFit);
    }

    /** A report over (signature TAB tactic) -> measurement rows. */
    public static CalibrationReport of(Map<String, Measurement> measured, String target, boolean fullFit) {
        CostModel model = TacticPredictor.model(target);
        TacticPredictor predictor = TacticPredictor.builtin();
        List<String[]> keys = new ArrayList<>();
        for (String k : new java.util.TreeSet<>(measured.keySet())) keys.add(k.split("\t", 2));
        List<Calibration.Row> rows = new ArrayList<>();
        List<String[]> priced = new ArrayList<>();
        List<Entry> unpricedEntries = new ArrayList<>();
        for (String[] k : keys) {
            Measurement m = measured.get(k[0] + "\t" + k[1]);
            if (!(m.medianUs() > 0)) continue;
            double pred;
            try {
                pred = predictor.predictUs(k[0], k[1], model);
            } catch (IllegalArgumentException e) {
                pred = Double.NaN; // a signature the nodes cannot be rebuilt from (a fused eltwise chain's body is not in it): unpriced, listed
            }
            // a view the model prices free (0) was timed alone as a copy (caches from before the tuner left views out): not comparable
            if (Double.isNaN(pred) || pred <= 0) { unpricedEntries.add(new Entry(k[0], k[1], m.medianUs(), m.madUs(), Double.NaN, Double.NaN, Double.NaN)); continue; }
            // the row's tactic is the catalogue id (its family is what a fit scales); the shape carries signature TAB timed id
            rows.add(new Calibration.Row(SignatureNodes.opOf(k[0]), predictor.catalogueId(k[0], k[1]), k[0] + "\t" + k[1], Precision.valueOf(SignatureNodes.precision(k[0])),
                    SignatureNodes.layout(k[0]), m.medianUs(), pred));
            priced.add(k);
        }
        int n = rows.size();
        double[] meas = rows.stream().mapToDouble(Calibration.Row::measuredUs).toArray();
        double[] pred = rows.stream().mapToDouble(Calibration.Row::predictedUs).toArray();
        double[] cv = new double[n];
        for (int f = 0; f < FOLDS; f++) {
            Map<String, List<Double>> logs = new HashMap<>();
            for (int i = 0; i < n; i++) if (i % FOLDS != f) logs.computeIfAbsent(Calibration.family(rows.get(i).tacticId()), x -> new ArrayList<>()).add(Math.log(meas[i] / pred[i]));
            for (int i = f; i < n; i += FOLDS) {
                List<Double> l = logs.get(Calibration.family(rows.get(i).tacticId()));
                cv[i] = pred[i] * (l == null ? 1 : Math.exp(median(l)));
            }
        }
        double[] fit = new double[n];
        java.util.Arrays.fill(fit, Double.NaN);
        Scores fitted = null;
        CostModel.Params fp = null;
        if (n >= 2 && fullFit) {
            Calibration.Predictor pr = (row, m) -> { String[] st = row.shape().split("\t", 2); return predictor.predictUs(st[0], st[1], m); };
            Calibration.Report r = Calibration.fit(rows, model, pr);
            fp = r.fitted();
            CostModel fm = model.withParams(fp);
            for (int i = 0; i < n; i++) fit[i] = pr.predictUs(rows.get(i), fm);
            fitted = scores(fit, meas);
        }
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Measurement m = measured.get(priced.get(i)[0] + "\t" + priced.get(i)[1]);
            entries.add(new Entry(priced.get(i)[0], priced.get(i)[1], meas[i], m.madUs(), pred[i], cv[i], fit[i]));
        }
        entries.addAll(unpricedEntries);
        return new CalibrationReport(target, entries, unpricedEntries.size(), n >= 2 ? scores(pred, meas) : null, n >= 2 ? scores(cv, meas) : null, fitted, fp);
    }

    static Scores scores(double[] pred, double[] meas) {
        return new Scores(meas.length, Calibration.spearman(pred, meas), Calibration.kendallTauB(pred, meas), Calibration.mape(pred, meas));
    }

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = a.length;
        return n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
    }

    /** The text report: scores table, then the worst outliers of the raw model. */
    public String text(int outliers) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "calibration of the cost model (%s, CUDA-graph launches) against %d timed tactics (%d priced, %d without a cost-model tactic)%n",
                target, entries.size(), entries.size() - unpriced, unpriced));
        if (raw == null) return sb.append("fewer than 2 priced rows: nothing to score\n").toString();
        sb.append("| predictions                            |  rows | Spearman |  Kendall |      MAPE |\n");
        sb.append("| -------------------------------------- | ----- | -------- | -------- | --------- |\n");
        sb.append(raw.line("raw model")).append('\n');
        sb.append(familyCv.line("family scales, " + FOLDS + "-fold cross-validated")).append('\n');
        if (fitted != null) sb.append(fitted.line("full fit, in-sample")).append('\n');
        if (fittedParams != null) sb.append("fitted: ").append(fittedParams).append('\n');
        List<Entry> priced = entries.stream().filter(e -> !Double.isNaN(e.predictedUs())).sorted(Comparator.comparingDouble(
                (Entry e) -> -Math.abs(Math.log(e.predictedUs() / e.measuredUs()))).thenComparing(Entry::signature).thenComparing(Entry::tactic)).toList();
        sb.append(String.format(Locale.ROOT, "worst %d outliers of the raw model (|log(predicted/measured)|):%n", Math.min(outliers, priced.size())));
        sb.append("| measured us | predicted us | ratio | tactic | signature |\n| --- | --- | --- | --- | --- |\n");
        for (Entry e : priced.subList(0, Math.min(outliers, priced.size())))
            sb.append(String.format(Locale.ROOT, "| %.2f | %.2f | %.2f | %s | %s |%n", e.measuredUs(), e.predictedUs(), e.predictedUs() / e.measuredUs(), e.tactic(),
                    e.signature().length() > 160 ? e.signature().substring(0, 157) + "..." : e.signature()));
        return sb.toString();
    }

    /** One line for logs: {@code rows=... spearman=... kendall=... mape=...} raw, then after the fits. */
    public String summary() {
        if (raw == null) return "calibration: fewer than 2 priced rows";
        return String.format(Locale.ROOT, "rows=%d unpriced=%d spearman=%.4f kendall=%.4f mape=%.1f%% | family-cv spearman=%.4f kendall=%.4f mape=%.1f%%",
                raw.rows(), unpriced, raw.spearman(), raw.kendall(), raw.mapePct(), familyCv.spearman(), familyCv.kendall(), familyCv.mapePct())
                + (fitted == null ? "" : String.format(Locale.ROOT, " | fit-in-sample spearman=%.4f kendall=%.4f mape=%.1f%%", fitted.spearman(), fitted.kendall(), fitted.mapePct()));
    }

    /** Every row: {@code op,tactic,signature,precision,layout,measured_us,mad_us,predicted_us,family_cv_us,fitted_us}. */
    public void writeCsv(Path file) throws IOException {
        StringBuilder sb = new StringBuilder("op,tactic,signature,precision,layout,measured_us,mad_us,predicted_us,family_cv_us,fitted_us\n");
        for (Entry e : entries)
            sb.append(String.join(",", SignatureNodes.opOf(e.signature()), q(e.tactic()), q(e.signature()), SignatureNodes.precision(e.signature()).toLowerCase(Locale.ROOT),
                    SignatureNodes.layout(e.signature()).text(), num(e.measuredUs()), num(e.madUs()), num(e.predictedUs()), num(e.familyCvUs()), num(e.fittedUs()))).append('\n');
        org.tessel.ir.io.AtomicFiles.writeString(file, sb);
    }

    private static String num(double d) { return Double.isNaN(d) ? "" : String.format(Locale.ROOT, "%.4f", d); }

    private static String q(String s) { return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s; }
}
