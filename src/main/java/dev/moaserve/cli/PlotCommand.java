package dev.moaserve.cli;

import dev.moaserve.train.LossCurveSvg;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code plot --out curve.svg --csv a.csv --label MoA [--csv2 b.csv --label2 dense] [--x seconds|step]}:
 * draws the validation loss of one or two training runs as an SVG.
 */
public final class PlotCommand {
    private PlotCommand() {}

    /** Output tokens/s against concurrent clients, from the load-&lt;clients&gt;.json reports of loadgen. */
    private static int loadSweep(Path dir, Path out) throws IOException {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<double[]> pts = new ArrayList<>();
        try (var files = Files.newDirectoryStream(dir, "load-*.json")) {
            for (Path f : files) {
                if (f.getFileName().toString().matches("load-\\d+\\.json")) {
                    var r = json.readTree(f.toFile());
                    pts.add(new double[] {r.get("clients").asDouble(), r.get("output_tokens_per_s").asDouble(),
                            r.get("ttft_ms").get("p50").asDouble()});
                }
            }
        }
        pts.sort((p, q) -> Double.compare(p[0], q[0]));
        double[] clients = pts.stream().mapToDouble(p -> p[0]).toArray();
        double[] tps = pts.stream().mapToDouble(p -> p[1]).toArray();
        Files.writeString(out, LossCurveSvg.render("moa-shakespeare serving: throughput vs concurrency",
                "concurrent clients", "output tokens/s", List.of(new LossCurveSvg.Series("output tokens/s", clients, tps))));
        return 0;
    }

    public static int run(String[] argv, PrintStream err) {
        try {
            Args a = new Args(argv);
            if (a.string("load-dir", null) != null) {
                return loadSweep(Path.of(a.string("load-dir", null)), Path.of(a.required("out")));
            }
            String x = a.string("x", "seconds");
            List<LossCurveSvg.Series> series = new ArrayList<>();
            series.add(LossCurveSvg.fromCsv(Path.of(a.required("csv")), a.string("label", "run 1"), "val_loss_full_forward", x));
            if (a.string("csv2", null) != null) {
                series.add(LossCurveSvg.fromCsv(Path.of(a.string("csv2", null)), a.string("label2", "run 2"),
                        "val_loss_full_forward", x));
            }
            Files.writeString(Path.of(a.required("out")), LossCurveSvg.render(a.string("title", "validation loss"),
                    x.equals("seconds") ? "training time (s)" : "step", "loss (nats/char)", series));
            return 0;
        } catch (IllegalArgumentException | IOException e) {
            err.println("plot: " + e.getMessage());
            return 2;
        }
    }
}
