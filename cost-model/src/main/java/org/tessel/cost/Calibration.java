package org.tessel.cost;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.tessel.api.Layout;

/**
 * Fits the cost model's free parameters to measured kernel timings and reports how well the model
 * ranks and predicts them, before and after: Spearman's rho (ties get average ranks), Kendall's
 * tau-b and the mean absolute percentage error.
 *
 * <p>Two fits. Given only rows (measured and predicted totals), each tactic family gets the time
 * factor exp(median(log(measured / predicted))) over its rows, robust to outliers; the report's
 * after-figures are the rows' predictions times their family's factor. (A family scale multiplies
 * kernel time, not launch overhead, so a model with the fitted parameters reproduces those
 * figures exactly only where launch overhead is small; give a predictor for an exact fit.)
 * Given a {@link Predictor} that can re-predict
 * a row under other parameters, coordinate descent in log space (golden-section search per
 * coordinate) minimizes the mean squared log error over the global scales, the misalignment
 * penalty and the two latency floors, a Nelder-Mead simplex polishes them jointly, then each
 * family gets the median correction above; three such rounds.
 *
 * <p>The CSV form has the header {@code op,tactic,shape,precision,layout,measured_us,predicted_us}
 * (predicted_us may be empty); fields containing commas are double-quoted.
 */
public final class Calibration {
    private Calibration() {}

    /** One measured kernel: what ran (op, tactic, shape, precision, layout) and its measured and predicted time. */
    public record Row(String op, String tacticId, String shape, Precision precision, Layout layout, double measuredUs, double predictedUs) {
        public Row {
            if (!(measuredUs > 0) || Double.isInfinite(measuredUs))
                throw new IllegalArgumentException("measured time must be a positive number, got " + measuredUs + " for " + tacticId + " " + shape);
        }

        public Row withPredicted(double us) { return new Row(op, tacticId, shape, precision, layout, measuredUs, us); }
    }

    /** Metrics before and after the fit, the fitted parameters and the number of rows used. */
    public record Report(double spearmanBefore, double spearmanAfter, double kendallBefore, double kendallAfter,
                         double mapeBefore, double mapeAfter, CostModel.Params fitted, int rows) {
        @Override public String toString() {
            return String.format(Locale.ROOT, "%d rows: Spearman rho %.4f -> %.4f, Kendall tau-b %.4f -> %.4f, MAPE %.2f%% -> %.2f%%; fitted %s",
                    rows, spearmanBefore, spearmanAfter, kendallBefore, kendallAfter, mapeBefore, mapeAfter, fitted);
        }
    }

    /** Predicts a row's time under a model: rebuilds the row's work and features and asks the model. */
    @FunctionalInterface
    public interface Predictor { double predictUs(Row row, CostModel model); }

    /** The family a tactic id belongs to for fitting: its first two dot-separated parts ("cudnn.conv", "tessel.eltwise"). */
    public static String family(String tacticId) {
        int a = tacticId.indexOf('.');
        if (a < 0) return tacticId;
        int b = tacticId.indexOf('.', a + 1);
        return b < 0 ? tacticId : tacticId.substring(0, b);
    }

    /** Fits family scales from the rows' predicted times (which must all be present). */
    public static Report fit(List<Row> rows, CostModel model) {
        requireRows(rows);
        for (int i = 0; i < rows.size(); i++)
            if (!(rows.get(i).predictedUs() > 0))
                throw new IllegalArgumentException("row " + (i + 1) + " (" + rows.get(i).tacticId() + " " + rows.get(i).shape()
                        + ") has no positive predicted time; give a predictor to fit without one");
        double[] meas = measured(rows), before = rows.stream().mapToDouble(Row::predictedUs).toArray();
        CostModel.Params p = model.params();
        Map<String, Double> scales = familyMedians(rows, before);
        for (var e : scales.entrySet()) p = p.withFamilyScale(e.getKey(), p.familyScale(e.getKey()) * e.getValue());
        double[] after = new double[rows.size()];
        for (int i = 0; i < after.length; i++) after[i] = before[i] * scales.get(family(rows.get(i).tacticId()));
        return report(meas, before, after, p);
    }

    /** Fits the global scales, the misalignment penalty and the family scales by re-predicting every row. */
    public static Report fit(List<Row> rows, CostModel model, Predictor predictor) {
        requireRows(rows);
        double[] meas = measured(rows);
        double[] before = predictAll(rows, model, predictor);
        CostModel.Params p = model.params();
        // block coordinate descent: the global parameters (coordinate sweeps, then a simplex
        // polish), then the family factors, a few rounds
        for (int round = 0; round < ROUNDS; round++) {
            CostModel.Params start = p;
            p = globalSweeps(rows, meas, model, predictor, p);
            p = nelderMead(rows, meas, model, predictor, p);
            Map<String, Double> scales = familyMedians(rows, predictAll(rows, model.withParams(p), predictor));
            for (var e : scales.entrySet()) p = p.withFamilyScale(e.getKey(), p.familyScale(e.getKey()) * e.getValue());
            if (logError(rows, meas, model.withParams(p), predictor) > logError(rows, meas, model.withParams(start), predictor)) { p = start; break; }
        }
        return report(meas, before, predictAll(rows, model.withParams(p), predictor), p);
    }

    // ---- the global coordinates ----
    private static final int GLOBALS = 7, MISALIGNED = 4;
    /** Most coordinate-descent sweeps; a sweep that changes nothing ends the descent. */
    static final int SWEEPS = 6;
    /** Rounds of global fit and family factors. */
    static final int ROUNDS = 3;

    private static double get(CostModel.Params p, int c) {
        return switch (c) {
            case 0 -> p.tensorCoreScale();
            case 1 -> p.cudaCoreScale();
            case 2 -> p.memoryScale();
            case 3 -> p.launchScale();
            case 4 -> p.misalignedPenalty();
            case 5 -> p.iterationLatencyNs();
            default -> p.kernelLatencyUs();
        };
    }

    private static CostModel.Params set(CostModel.Params p, int c, double v) {
        return switch (c) {
            case 0 -> p.withTensorCoreScale(v);
            case 1 -> p.withCudaCoreScale(v);
            case 2 -> p.withMemoryScale(v);
            case 3 -> p.withLaunchScale(v);
            case 4 -> p.withMisalignedPenalty(Math.min(1, v));
            case 5 -> p.withIterationLatencyNs(v);
            default -> p.withKernelLatencyUs(v);
        };
    }

    /**
     * Polishes the global coordinates jointly with Nelder-Mead in log space: coordinate descent
     * crawls along ridges (launch overhead against the least kernel latency, for one), which a
     * simplex walks down.
     */
    private static CostModel.Params nelderMead(List<Row> rows, double[] meas, CostModel model, Predictor pr, CostModel.Params start) {
        int n = GLOBALS;
        java.util.function.Function<double[], CostModel.Params> toParams = x -> {
            CostModel.Params q = start;
            for (int c = 0; c < n; c++) q = set(q, c, Math.exp(x[c]));
            return q;
        };
        java.util.function.ToDoubleFunction<double[]> f = x -> logError(rows, meas, model.withParams(toParams.apply(x)), pr);
        double[][] simplex = new double[n + 1][n];
        double[] fx = new double[n + 1];
        for (int c = 0; c < n; c++) simplex[0][c] = Math.log(Math.max(get(start, c), 1e-3));
        for (int i = 1; i <= n; i++) {
            simplex[i] = simplex[0].clone();
            simplex[i][i - 1] += simplex[i][i - 1] == Math.log(1) && i - 1 == MISALIGNED ? -0.3 : 0.3;
        }
        for (int i = 0; i <= n; i++) fx[i] = f.applyAsDouble(simplex[i]);
        for (int iter = 0; iter < 60 * n; iter++) {
            Integer[] order = new Integer[n + 1];
            for (int i = 0; i <= n; i++) order[i] = i;
            final double[] fxs = fx;
            Arrays.sort(order, (a, b) -> Double.compare(fxs[a], fxs[b]));
            double[][] sx = new double[n + 1][];
            double[] sf = new double[n + 1];
            for (int i = 0; i <= n; i++) { sx[i] = simplex[order[i]]; sf[i] = fx[order[i]]; }
            simplex = sx;
            fx = sf;
            if (fx[n] - fx[0] < 1e-10) break;
            double[] centroid = new double[n];
            for (int i = 0; i < n; i++) for (int c = 0; c < n; c++) centroid[c] += simplex[i][c] / n;
            double[] refl = along(centroid, simplex[n], -1);
            double fr = f.applyAsDouble(refl);
            if (fr < fx[0]) {
                double[] exp = along(centroid, simplex[n], -2);
                double fe = f.applyAsDouble(exp);
                if (fe < fr) { simplex[n] = exp; fx[n] = fe; } else { simplex[n] = refl; fx[n] = fr; }
            } else if (fr < fx[n - 1]) {
                simplex[n] = refl; fx[n] = fr;
            } else {
                double[] con = along(centroid, simplex[n], 0.5);
                double fc = f.applyAsDouble(con);
                if (fc < fx[n]) { simplex[n] = con; fx[n] = fc; }
                else for (int i = 1; i <= n; i++) { simplex[i] = along(simplex[0], simplex[i], 0.5); fx[i] = f.applyAsDouble(simplex[i]); }
            }
        }
        int best = 0;
        for (int i = 1; i <= n; i++) if (fx[i] < fx[best]) best = i;
        CostModel.Params polished = toParams.apply(simplex[best]);
        return fx[best] < logError(rows, meas, model.withParams(start), pr) ? polished : start;
    }

    /** centroid + t (point - centroid). */
    private static double[] along(double[] centroid, double[] point, double t) {
        double[] out = new double[centroid.length];
        for (int c = 0; c < out.length; c++) out[c] = centroid[c] + t * (point[c] - centroid[c]);
        return out;
    }

    private static CostModel.Params globalSweeps(List<Row> rows, double[] meas, CostModel model, Predictor predictor, CostModel.Params p) {
        for (int sweep = 0; sweep < SWEEPS; sweep++) {
            CostModel.Params start = p;
            for (int c = 0; c < GLOBALS; c++) {
                final int coord = c;
                CostModel.Params base = p;
                double x0 = Math.log(Math.max(get(base, coord), 1e-3)); // latencies may start at 0
                double lo = coord == MISALIGNED ? Math.log(0.02) : x0 - 4, hi = coord == MISALIGNED ? 0 : x0 + 4;
                double best = goldenMin(x -> logError(rows, meas, model.withParams(set(base, coord, Math.exp(x))), predictor), lo, hi);
                CostModel.Params cand = set(base, coord, Math.exp(best));
                if (logError(rows, meas, model.withParams(cand), predictor) < logError(rows, meas, model.withParams(p), predictor)) p = cand;
            }
            if (p.equals(start)) break;
        }
        return p;
    }

    private static double goldenMin(java.util.function.DoubleUnaryOperator f, double lo, double hi) {
        double g = (Math.sqrt(5) - 1) / 2;
        double a = lo, b = hi, c = b - g * (b - a), d = a + g * (b - a);
        double fc = f.applyAsDouble(c), fd = f.applyAsDouble(d);
        for (int i = 0; i < 60 && b - a > 1e-7; i++) {
            if (fc < fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f.applyAsDouble(c); }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f.applyAsDouble(d); }
        }
        return (a + b) / 2;
    }

    private static double logError(List<Row> rows, double[] meas, CostModel m, Predictor pr) {
        double s = 0;
        for (int i = 0; i < meas.length; i++) {
            double d = Math.log(pr.predictUs(rows.get(i), m) / meas[i]);
            s += d * d;
        }
        return s / meas.length;
    }

    private static double[] predictAll(List<Row> rows, CostModel m, Predictor pr) {
        double[] out = new double[rows.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = pr.predictUs(rows.get(i), m);
            if (!(out[i] > 0) || Double.isInfinite(out[i]))
                throw new IllegalArgumentException("the predictor gave " + out[i] + " us for row " + (i + 1) + " (" + rows.get(i).tacticId() + " " + rows.get(i).shape() + ")");
        }
        return out;
    }

    private static Map<String, Double> familyMedians(List<Row> rows, double[] predicted) {
        Map<String, List<Double>> logs = new LinkedHashMap<>();
        for (int i = 0; i < predicted.length; i++)
            logs.computeIfAbsent(family(rows.get(i).tacticId()), k -> new ArrayList<>()).add(Math.log(rows.get(i).measuredUs() / predicted[i]));
        Map<String, Double> out = new LinkedHashMap<>();
        for (var e : logs.entrySet()) out.put(e.getKey(), Math.exp(median(e.getValue())));
        return out;
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = a.length;
        return n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
    }

    private static void requireRows(List<Row> rows) {
        if (rows.size() < 2) throw new IllegalArgumentException("calibration needs at least 2 rows, got " + rows.size());
    }

    private static double[] measured(List<Row> rows) { return rows.stream().mapToDouble(Row::measuredUs).toArray(); }

    private static Report report(double[] meas, double[] before, double[] after, CostModel.Params p) {
        return new Report(spearman(before, meas), spearman(after, meas), kendallTauB(before, meas), kendallTauB(after, meas),
                mape(before, meas), mape(after, meas), p, meas.length);
    }

    // ---- metrics ----

    /** Ranks 1..n, ties sharing the average of the ranks they span. */
    public static double[] ranks(double[] x) {
        Integer[] idx = new Integer[x.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Double.compare(x[a], x[b]));
        double[] r = new double[x.length];
        for (int i = 0; i < idx.length; ) {
            int j = i;
            while (j + 1 < idx.length && x[idx[j + 1]] == x[idx[i]]) j++;
            double avg = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) r[idx[k]] = avg;
            i = j + 1;
        }
        return r;
    }

    /** Spearman's rho: the Pearson correlation of the ranks (average ranks for ties). NaN when either side is constant. */
    public static double spearman(double[] x, double[] y) {
        sameLength(x, y);
        return pearson(ranks(x), ranks(y));
    }

    public static double pearson(double[] x, double[] y) {
        sameLength(x, y);
        double mx = Arrays.stream(x).average().orElse(0), my = Arrays.stream(y).average().orElse(0);
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    /** Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties in x) (n0 - ties in y)). NaN when either side is constant. */
    public static double kendallTauB(double[] x, double[] y) {
        sameLength(x, y);
        long conc = 0, disc = 0, tx = 0, ty = 0, n0 = 0;
        for (int i = 0; i < x.length; i++)
            for (int j = i + 1; j < x.length; j++) {
                n0++;
                int a = Double.compare(x[i], x[j]), b = Double.compare(y[i], y[j]);
                if (a == 0) tx++;
                if (b == 0) ty++;
                if (a != 0 && b != 0) { if (a == b) conc++; else disc++; }
            }
        return (conc - disc) / Math.sqrt((double) (n0 - tx) * (n0 - ty));
    }

    /** Mean absolute percentage error of predictions against measurements, in percent. */
    public static double mape(double[] predicted, double[] measured) {
        sameLength(predicted, measured);
        double s = 0;
        for (int i = 0; i < measured.length; i++) s += Math.abs(predicted[i] - measured[i]) / measured[i];
        return 100 * s / measured.length;
    }

    private static void sameLength(double[] x, double[] y) {
        if (x.length != y.length) throw new IllegalArgumentException("series differ in length: " + x.length + " vs " + y.length);
        if (x.length == 0) throw new IllegalArgumentException("empty series");
    }

    // ---- CSV ----

    static final List<String> COLUMNS = List.of("op", "tactic", "shape", "precision", "layout", "measured_us", "predicted_us");

    /** Reads rows from CSV; a bad file fails naming the line and column. */
    public static List<Row> readCsv(Path p) {
        List<String> lines;
        try {
            lines = org.tessel.ir.io.TextFiles.readLines(p);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException(p + ": cannot read calibration table: no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e); // names the file: a folder, or not UTF-8 at line N
        }
        int first = 0;
        while (first < lines.size() && (lines.get(first).isBlank() || lines.get(first).startsWith("#"))) first++;
        if (first == lines.size()) throw new IllegalArgumentException(p + ": empty calibration table (expected the header " + String.join(",", COLUMNS) + ")");
        List<String> header = splitCsv(lines.get(first), p, first + 1).stream().map(s -> s.trim().toLowerCase(Locale.ROOT)).toList();
        int[] col = new int[COLUMNS.size()];
        for (int c = 0; c < COLUMNS.size(); c++) {
            col[c] = header.indexOf(COLUMNS.get(c));
            if (col[c] < 0 && c != 6)
                throw new IllegalArgumentException(p + ":" + (first + 1) + ": header lacks column '" + COLUMNS.get(c) + "' (expected " + String.join(",", COLUMNS) + ")");
        }
        List<Row> rows = new ArrayList<>();
        for (int i = first + 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank() || line.startsWith("#")) continue;
            int ln = i + 1;
            List<String> f = splitCsv(line, p, ln);
            if (f.size() != header.size())
                throw new IllegalArgumentException(p + ":" + ln + ": " + f.size() + " fields, the header has " + header.size());
            String op = text(f, col[0], p, ln, "op"), tactic = text(f, col[1], p, ln, "tactic"), shape = text(f, col[2], p, ln, "shape");
            String pr = f.get(col[3]).trim();
            Precision prec = Precision.fromText(pr).orElseThrow(() -> new IllegalArgumentException(p + ":" + ln + ", column 'precision': unknown precision '" + pr
                    + "' (fp32, tf32, fp16, bf16, int8, fp8)"));
            String la = f.get(col[4]).trim();
            Optional<Layout> lay = la.isEmpty() ? Optional.of(Layout.ANY) : Layout.fromText(la);
            Layout layout = lay.orElseThrow(() -> new IllegalArgumentException(p + ":" + ln + ", column 'layout': unknown layout '" + la + "' (nchw, nhwc, any)"));
            double meas = number(f.get(col[5]), p, ln, "measured_us", false);
            double pred = col[6] < 0 ? Double.NaN : number(f.get(col[6]), p, ln, "predicted_us", true);
            rows.add(new Row(op, tactic, shape, prec, layout, meas, pred));
        }
        return rows;
    }

    private static String text(List<String> f, int c, Path p, int ln, String name) {
        String s = f.get(c).trim();
        if (s.isEmpty()) throw new IllegalArgumentException(p + ":" + ln + ", column '" + name + "': empty");
        return s;
    }

    private static double number(String s, Path p, int ln, String name, boolean mayBeEmpty) {
        String t = s.trim();
        if (t.isEmpty() && mayBeEmpty) return Double.NaN;
        try {
            double d = Double.parseDouble(t);
            if (!(d > 0) || Double.isInfinite(d)) throw new IllegalArgumentException(p + ":" + ln + ", column '" + name + "': must be a positive time in microseconds, got '" + t + "'");
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(p + ":" + ln + ", column '" + name + "': not a number: '" + t + "'");
        }
    }

    static List<String> splitCsv(String line, Path p, int ln) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') { cur.append('"'); i++; }
                else if (c == '"') quoted = false;
                else cur.append(c);
            } else if (c == '"') {
                if (!cur.toString().isBlank()) throw new IllegalArgumentException(p + ":" + ln + ": a quote inside unquoted field " + (out.size() + 1));
                cur.setLength(0);
                quoted = true;
            } else if (c == ',') { out.add(cur.toString()); cur.setLength(0); }
            else cur.append(c);
        }
        if (quoted) throw new IllegalArgumentException(p + ":" + ln + ": unterminated quote in field " + (out.size() + 1));
        out.add(cur.toString());
        return out;
    }

    /** Writes rows in the form {@link #readCsv} reads. */
    public static void writeCsv(Path p, List<Row> rows) {
        StringBuilder sb = new StringBuilder(String.join(",", COLUMNS)).append('\n');
        for (Row r : rows)
            sb.append(String.join(",", quote(r.op()), quote(r.tacticId()), quote(r.shape()), r.precision().text(), r.layout().text(),
                    Double.toString(r.measuredUs()), Double.isNaN(r.predictedUs()) ? "" : Double.toString(r.predictedUs()))).append('\n');
        try {
            org.tessel.ir.io.AtomicFiles.writeString(p, sb);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the calibration table: " + e.getMessage(), e);
        }
    }

    private static String quote(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
