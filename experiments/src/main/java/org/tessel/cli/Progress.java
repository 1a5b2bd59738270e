package org.tessel.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a long step, always on standard error (standard output stays the command's result,
 * e.g. its JSON). On a terminal it is a progress bar (me.tongfei:progressbar); otherwise (output
 * piped or redirected, CI logs) a plain line every few seconds while the step runs, and nothing for
 * a step that ends sooner. TESSEL_PROGRESS=off turns both off, =lines forces plain lines.
 */
final class Progress implements AutoCloseable {
    /** Work that may throw, run under a progress display. */
    interface Work<T> { T get() throws Exception; }

    /** How often plain lines report, in milliseconds. */
    static final long LINE_INTERVAL_MS = Long.getLong("tessel.progress.lineMs", 5000);

    private enum Mode { BAR, LINES, OFF }

    private final String task;
    private final long total;
    private final AtomicLong done = new AtomicLong();
    private final long t0 = System.nanoTime();
    private final ProgressBar bar;
    private final ScheduledExecutorService ticker;
    private final PrintStream err = System.err;
    private volatile String extra = "";
    private volatile boolean reported;

    private static Mode mode() {
        String env = System.getenv("TESSEL_PROGRESS");
        if ("off".equals(env)) return Mode.OFF;
        if ("lines".equals(env)) return Mode.LINES;
        java.io.Console c = System.console();
        return c != null && c.isTerminal() ? Mode.BAR : Mode.LINES;
    }

    private Progress(String task, long total) { this(task, total, null); }

    private Progress(String task, long total, String seconds) {
        this.task = task;
        this.total = total;
        Mode m = mode();
        if (m == Mode.BAR) {
            ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total > 0 ? total : -1).setStyle(ProgressBarStyle.UNICODE_BLOCK)
                    .setConsumer(new ConsoleProgressBarConsumer(err)).setUpdateIntervalMillis(200).continuousUpdate();
            if (seconds != null) b.setUnit(seconds, 1000);
            bar = b.build();
            ticker = null;
        } else {
            bar = null;
            ticker = m == Mode.OFF ? null : Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tessel-progress");
                t.setDaemon(true);
                return t;
            });
            if (ticker != null) ticker.scheduleAtFixedRate(this::line, LINE_INTERVAL_MS, LINE_INTERVAL_MS, TimeUnit.MILLISECONDS);
        }
    }

    /** A progress display for {@code total} units of work (0 or less: unknown, shown as elapsed time). */
    static Progress start(String task, long total) { return new Progress(task, total); }

    /** Runs {@code w} as one step of unknown length under a display named {@code task}. */
    static <T> T around(String task, Work<T> w) throws Exception {
        try (Progress _ = start(task, 0)) {
            return w.get();
        }
    }

    /**
     * Runs {@code w}, whose length is bounded by a time limit, under a display that fills as that
     * time passes (a search that stops earlier ends the display early).
     */
    static <T> T timed(String task, long limitMs, Work<T> w) throws Exception {
        try (Progress p = new Progress(task, limitMs, " s")) {
            ScheduledExecutorService clock = p.bar == null ? null : Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tessel-progress-clock");
                t.setDaemon(true);
                return t;
            });
            if (clock != null) clock.scheduleAtFixedRate(() -> p.stepTo(Math.min(limitMs, (System.nanoTime() - p.t0) / 1_000_000)), 100, 100, TimeUnit.MILLISECONDS);
            try {
                return w.get();
            } finally {
                if (clock != null) clock.shutdownNow();
            }
        }
    }

    void step() { stepTo(done.get() + 1); }

    void stepTo(long n) {
        done.set(n);
        if (bar != null) bar.stepTo(n);
    }

    /** A short note shown beside the count (e.g. the current case). */
    void extra(String s) {
        extra = s == null ? "" : s;
        if (bar != null) bar.setExtraMessage(extra);
    }

    private void line() {
        reported = true;
        double s = (System.nanoTime() - t0) / 1e9;
        String count = total > 0 && done.get() > 0 ? String.format(Locale.ROOT, "%d/%d, ", done.get(), total) : "";
        err.printf(Locale.ROOT, "tessel: %s: %s%.0f s%s%n", task, count, s, extra.isEmpty() ? "" : " (" + extra + ")");
    }

    @Override public void close() {
        if (bar != null) bar.close();
        if (ticker != null) {
            ticker.shutdownNow();
            if (reported) err.printf(Locale.ROOT, "tessel: %s: done in %.1f s%n", task, (System.nanoTime() - t0) / 1e9);
        }
    }
}
