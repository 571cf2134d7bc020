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

    public static int run(String[] argv, PrintStream err) {
        try {
            Args a = new Args(argv);
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
