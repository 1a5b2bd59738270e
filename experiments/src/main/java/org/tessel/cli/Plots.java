package org.tessel.cli;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG charts (XChart, drawn headless): per-layer times, predicted against measured tactic times, search latency against time limit. */
final class Plots {
    private Plots() {}

    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** Checks a --plot path before any work: it must end in .png and not be a folder. */
    static void checkPath(Path out, String flag) {
        if (out == null) return;
        if (!out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) throw new IllegalArgumentException(flag + " " + out + ": give a file ending in .png");
        if (Files.isDirectory(out)) throw new IllegalArgumentException(flag + " " + out + ": is a folder");
    }

    private static void save(Chart<?, ?> chart, Path out) throws IOException {
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        BitmapEncoder.saveBitmap(chart, Files.newOutputStream(out), BitmapEncoder.BitmapFormat.PNG);
    }

    /** A bar per layer (the {@code top} slowest, slowest first), its mean time in microseconds. */
    static void layerTimes(String title, List<String> layers, double[] us, int top, Path out) throws IOException {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) if (Double.isFinite(us[i])) order.add(i);
        order.sort((a, b) -> Double.compare(us[b], us[a]));
        List<Integer> shown = order.subList(0, Math.min(top, order.size()));
        List<String> names = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (int i : shown) { names.add(shorten(layers.get(i))); ys.add(us[i]); }
        CategoryChart c = new CategoryChartBuilder().width(Math.max(900, 28 * names.size() + 200)).height(640).title(title)
                .xAxisTitle("layer (" + shown.size() + " slowest of " + layers.size() + ")").yAxisTitle("mean time (us)").build();
        c.getStyler().setLegendVisible(false);
        c.getStyler().setXAxisLabelRotation(60);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridVerticalLinesVisible(false);
        c.addSeries("time", names, ys).setFillColor(new Color(0x3366cc));
        save(c, out);
    }

    /** One point per timed tactic: predicted against measured time, log-log, with the line y = x. */
    static void predictedVsMeasured(String title, double[] measuredUs, double[] predictedUs, Path out) throws IOException {
        List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
        double lo = Double.MAX_VALUE, hi = 0;
        for (int i = 0; i < measuredUs.length; i++) {
            if (!(measuredUs[i] > 0) || !(predictedUs[i] > 0)) continue;
            xs.add(measuredUs[i]);
            ys.add(predictedUs[i]);
            lo = Math.min(lo, Math.min(measuredUs[i], predictedUs[i]));
            hi = Math.max(hi, Math.max(measuredUs[i], predictedUs[i]));
        }
        if (xs.isEmpty()) throw new IllegalArgumentException("nothing to plot: no row has both a measured and a predicted time");
        XYChart c = new XYChartBuilder().width(800).height(720).title(title).xAxisTitle("measured (us)").yAxisTitle("predicted by the cost model (us)").build();
        c.getStyler().setDefaultSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.Scatter);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        c.addSeries(xs.size() + " timed tactics", xs, ys).setMarkerColor(new Color(0x3366cc, false));
        XYSeries diag = c.addSeries("predicted = measured", new double[] {lo, hi}, new double[] {lo, hi});
        diag.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        diag.setMarker(SeriesMarkers.NONE);
        diag.setLineColor(Color.GRAY);
        save(c, out);
    }

    /** One line per series: y against x (e.g. predicted latency against the search's time limit, per strategy). */
    static void lines(String title, String xTitle, String yTitle, boolean logX, Map<String, double[][]> series, Path out) throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(600).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setXAxisLogarithmic(logX);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        for (var e : series.entrySet()) c.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]);
        save(c, out);
    }

    private static String shorten(String s) { return s.length() <= 28 ? s : s.substring(0, 12) + "..." + s.substring(s.length() - 13); }
}
