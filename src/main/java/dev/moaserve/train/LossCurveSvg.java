package dev.moaserve.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Draws loss curves (training-curve.csv files written by {@code train}) as a small SVG chart. */
public final class LossCurveSvg {
    private static final String[] COLORS = {"#0b57d0", "#c5221f", "#188038", "#e37400"};

    /** One curve: a label, and (x, y) points. */
    public record Series(String label, double[] x, double[] y) {}

    private LossCurveSvg() {}

    /** Reads a training-curve.csv column ("val_loss_full_forward" or "train_loss") against wall seconds or step. */
    public static Series fromCsv(Path csv, String label, String column, String xColumn) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        List<String> header = List.of(lines.get(0).split(","));
        int yi = header.indexOf(column);
        int xi = header.indexOf(xColumn);
        if (yi < 0 || xi < 0) {
            throw new IllegalArgumentException(csv + " has no column " + column + " or " + xColumn);
        }
        List<double[]> pts = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            pts.add(new double[] {Double.parseDouble(f[xi]), Double.parseDouble(f[yi])});
        }
        return new Series(label, pts.stream().mapToDouble(p -> p[0]).toArray(), pts.stream().mapToDouble(p -> p[1]).toArray());
    }

    /** Series with at most this many points get a marker on each point. */
    static final int MARKED_POINTS = 30;

    public static String render(String title, String xLabel, String yLabel, List<Series> series) {
        int w = 640;
        int h = 400;
        int left = 60;
        int right = 20;
        int top = 40;
        int bottom = 50;
        double xMin = Double.MAX_VALUE, xMax = -Double.MAX_VALUE, yMin = Double.MAX_VALUE, yMax = -Double.MAX_VALUE;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                xMin = Math.min(xMin, s.x()[i]);
                xMax = Math.max(xMax, s.x()[i]);
                yMin = Math.min(yMin, s.y()[i]);
                yMax = Math.max(yMax, s.y()[i]);
            }
        }
        xMin = Math.min(xMin, 0);
        double yPad = (yMax - yMin) * 0.05 + 1e-9;
        yMin -= yPad;
        yMax += yPad;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", w, h, w, h));
        sb.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", w, h));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>%n", left, esc(title)));
        for (int i = 0; i <= 5; i++) {
            double yv = yMin + (yMax - yMin) * i / 5;
            double y = top + (h - top - bottom) * (1 - (double) i / 5);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n", left, y, w - right, y));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n", left - 6, y + 4, yv));
            double xv = xMin + (xMax - xMin) * i / 5;
            double x = left + (w - left - right) * (double) i / 5;
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>%n", x, h - bottom + 18, xv));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", (left + w - right) / 2, h - 10, esc(xLabel)));
        sb.append(String.format(Locale.ROOT, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">%s</text>%n",
                (top + h - bottom) / 2, esc(yLabel)));
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            int n = s.x().length;
            double[] px = new double[n];
            double[] py = new double[n];
            StringBuilder path = new StringBuilder();
            for (int i = 0; i < n; i++) {
                px[i] = left + (w - left - right) * (s.x()[i] - xMin) / (xMax - xMin + 1e-12);
                py[i] = top + (h - top - bottom) * (1 - (s.y()[i] - yMin) / (yMax - yMin));
                path.append(i == 0 ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f", px[i], py[i]));
            }
            String color = COLORS[k % COLORS.length];
            sb.append(String.format(Locale.ROOT, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>%n", path, color));
            if (n <= MARKED_POINTS) { // a line of one point draws nothing: mark the points of short series
                for (int i = 0; i < n; i++) {
                    sb.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>%n", px[i], py[i], color));
                }
            }
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/>%n",
                    w - right - 200, top + 8 + 16 * k, color));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", w - right - 182, top + 13 + 16 * k, esc(s.label())));
        }
        return sb.append("</svg>\n").toString();
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
