package dev.moaserve.cli;

import dev.moaserve.bench.BenchCommand;
import dev.moaserve.bench.LoadGenCommand;
import dev.moaserve.model.ModelException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * The {@code moa-serve} command line: with no command it serves; otherwise one of the
 * subcommands runs without starting the HTTP server. Exit codes: 0 success, 1 the work failed
 * (a verification mismatch, an I/O error), 2 a usage error (unknown or malformed option, bad
 * input) with a one-line message and a pointer to {@code --help}.
 */
@Command(name = "moa-serve", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = "Inference server for mixture-of-autoregressive-attention language models.%n"
                + "With no command it serves the model of moa.model-path (default: the embedded one).",
        footer = "%nRun 'moa-serve COMMAND --help' for a command's options.")
public final class Cli implements Callable<Integer> {
    private final Runnable server;

    private Cli(Runnable server) {
        this.server = server;
    }

    @Override
    public Integer call() {
        server.run();
        return 0;
    }

    /**
     * Parses and runs {@code args}; {@code server} runs for no command or {@code serve}.
     * Returns the exit code.
     */
    public static int execute(Runnable server, PrintStream out, PrintStream err, String... args) {
        if (args.length == 0) {
            server.run(); // the serving path skips building the parser (startup time)
            return 0;
        }
        CommandLine cli = new CommandLine(new Cli(server))
                .addSubcommand(new ServeCommand(server))
                .addSubcommand(new VerifyCommand(out))
                .addSubcommand(new EvalCommand(out, err))
                .addSubcommand(new TrainCommand(out, err))
                .addSubcommand(new BenchCommand(out))
                .addSubcommand(new LoadGenCommand(out))
                .addSubcommand(new RoutingCommand(out))
                .addSubcommand(new PlotCommand())
                .addSubcommand(new WarmupCommand(out));
        cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            // bad input found while running (a missing file, a malformed model): one line, no trace
            String name = line.getCommandName();
            boolean usage = e instanceof IllegalArgumentException || e instanceof ModelException;
            String message = e instanceof java.nio.file.NoSuchFileException ? "no such file: " + e.getMessage()
                    : e.getMessage() == null ? e.toString() : e.getMessage();
            err.println(name + ": " + message);
            if (usage) {
                err.println("Run 'moa-serve " + name + " --help' for usage.");
            }
            return usage ? CommandLine.ExitCode.USAGE : CommandLine.ExitCode.SOFTWARE;
        });
        return cli.execute(args);
    }

    /** {@code moa-serve serve}: the same as no command, spelled out. */
    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Serve the model (configuration: application.properties / MOA_* environment variables).")
    static final class ServeCommand implements Callable<Integer> {
        private final Runnable server;

        ServeCommand(Runnable server) {
            this.server = server;
        }

        @Override
        public Integer call() {
            server.run();
            return 0;
        }
    }

    /** {@code moa-serve warmup}: extracts libtorch and loads the embedded model once (image builds). */
    @Command(name = "warmup", mixinStandardHelpOptions = true,
            description = "Load libtorch and the embedded model once (container image builds), then exit.")
    static final class WarmupCommand implements Callable<Integer> {
        private final PrintStream out;

        WarmupCommand(PrintStream out) {
            this.out = out;
        }

        @Override
        public Integer call() {
            try (var model = dev.moaserve.model.MoaModel.loadEmbedded()) {
                out.println("ok: engine " + dev.moaserve.model.Djl.engine().getVersion() + ", model " + model.name());
                return 0;
            }
        }
    }

    /** The project version, written into a resource by the build. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws Exception {
            var props = new java.util.Properties();
            try (var in = Cli.class.getResourceAsStream("/moa-serve-version.properties")) {
                if (in != null) {
                    props.load(in);
                }
            }
            return new String[] {"moa-serve " + props.getProperty("version", "(development build)")};
        }
    }
}
