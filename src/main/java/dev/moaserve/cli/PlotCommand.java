package dev.moaserve.cli;

import dev.moaserve.train.LossCurveSvg;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code plot --out curve.svg --csv a.csv --label MoA [--csv2 b.csv --label2 dense] [--x seconds|step]}:
 * draws the validation loss of one or two training runs as an SVG.
 */
@Command(name = "plot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Draw the validation loss of one or two training runs (or a loadgen sweep) as an SVG.")
final class PlotCommand implements Callable<Integer> {
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

    @Option(names = "--out", required = true, paramLabel = "SVG", description = "the SVG file to write")
    Path out;
    @Option(names = "--csv", paramLabel = "FILE", description = "training-curve.csv of a run (train writes it)")
    Path csv;
    @Option(names = "--label", defaultValue = "run 1", description = "legend of --csv (default: ${DEFAULT-VALUE})")
    String label;
    @Option(names = "--csv2", paramLabel = "FILE", description = "a second run to compare")
    Path csv2;
    @Option(names = "--label2", defaultValue = "run 2", description = "legend of --csv2 (default: ${DEFAULT-VALUE})")
    String label2;
    @Option(names = "--x", defaultValue = "seconds", description = "x axis: seconds or step (default: ${DEFAULT-VALUE})")
    String x;
    @Option(names = "--title", defaultValue = "validation loss", description = "chart title (default: ${DEFAULT-VALUE})")
    String title;
    @Option(names = "--load-dir", paramLabel = "DIR", description = "instead: output tokens/s vs clients from loadgen's load-<clients>.json reports")
    Path loadDir;

    @Override
    public Integer call() throws IOException {
        if (loadDir != null) {
            return loadSweep(loadDir, out);
        }
        if (csv == null) {
            throw new IllegalArgumentException("--csv (or --load-dir) is required");
        }
        if (!x.equals("seconds") && !x.equals("step")) {
            throw new IllegalArgumentException("--x must be seconds or step, got '" + x + "'");
        }
        List<LossCurveSvg.Series> series = new ArrayList<>();
        series.add(LossCurveSvg.fromCsv(csv, label, "val_loss_full_forward", x));
        if (csv2 != null) {
            series.add(LossCurveSvg.fromCsv(csv2, label2, "val_loss_full_forward", x));
        }
        Files.writeString(out, LossCurveSvg.render(title, x.equals("seconds") ? "training time (s)" : "step",
                "loss (nats/char)", series));
        return 0;
    }
}
