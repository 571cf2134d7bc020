package dev.moaserve;

import dev.moaserve.cli.BenchCommand;
import dev.moaserve.cli.EvalCommand;
import dev.moaserve.cli.LoadGenCommand;
import dev.moaserve.cli.PlotCommand;
import dev.moaserve.cli.TrainCommand;
import dev.moaserve.cli.VerifyCommand;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.util.Arrays;

/**
 * Entry point. With no arguments the server starts; a first argument names a command
 * ({@code verify}, …) that runs without starting the HTTP server or loading the served model.
 */
@QuarkusMain
public final class Main {
    private Main() {}

    public static void main(String... args) {
        if (args.length > 0 && !args[0].startsWith("-")) {
            String[] rest = Arrays.copyOfRange(args, 1, args.length);
            int code;
            switch (args[0]) {
                case "verify" -> code = VerifyCommand.run(rest, System.out, System.err);
                case "eval" -> code = EvalCommand.run(rest, System.out, System.err);
                case "train" -> code = TrainCommand.run(rest, System.out, System.err);
                case "bench" -> code = BenchCommand.run(rest, System.out);
                case "loadgen" -> code = LoadGenCommand.run(rest, System.out, System.err);
                case "warmup" -> code = warmup();
                case "plot" -> code = PlotCommand.run(rest, System.err);
                default -> {
                    System.err.println("unknown command '" + args[0] + "'; commands: verify, eval, train, bench, loadgen, plot, warmup (no argument: serve)");
                    code = 2;
                }
            }
            System.exit(code);
        }
        // serving: initialise libtorch while Quarkus boots (ModelService's loader waits for it). Logging
        // is initialised here first: both threads initialising java.util.logging at once deadlock.
        org.jboss.logging.Logger.getLogger(Main.class).debug("starting libtorch in the background");
        Thread engine = new Thread(() -> {
            try {
                dev.moaserve.model.Djl.engine();
            } catch (RuntimeException | Error e) {
                // reported by the model loader, which tries again and fails with a clear line
            }
        }, "moa-engine-init");
        engine.setDaemon(true);
        engine.start();
        Quarkus.run(args);
    }

    /** Extracts libtorch into the DJL cache and loads the embedded model once (container builds). */
    private static int warmup() {
        try (var model = dev.moaserve.model.MoaModel.loadEmbedded()) {
            System.out.println("ok: engine " + dev.moaserve.model.Djl.engine().getVersion() + ", model " + model.name());
            return 0;
        }
    }
}
