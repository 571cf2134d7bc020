package dev.moaserve;

import dev.moaserve.cli.Cli;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * Entry point: the command line ({@link Cli}) serves with no command; other commands run without
 * starting the HTTP server or loading the served model.
 */
@QuarkusMain
public final class Main {
    private Main() {}

    public static void main(String... args) {
        System.exit(Cli.execute(Main::serve, System.out, System.err, args));
    }

    private static void serve() {
        // initialise libtorch and load the start model while Quarkus boots (ModelService takes the
        // model if it was loaded from the same settings). Logging is initialised here first: both
        // threads initialising java.util.logging at once deadlock.
        org.jboss.logging.Logger.getLogger(Main.class).debug("starting libtorch and the start model in the background");
        Thread engine = new Thread(dev.moaserve.api.EarlyStart::begin, "moa-engine-init");
        engine.setDaemon(true);
        engine.start();
        Quarkus.run();
    }
}
