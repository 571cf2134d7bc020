package dev.moaserve.cli;

import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.RoutingJson;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.RoutingTrace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code routing --text-file F [--model DIR] [--start N]}: one line, {@code {"routing": …}}, the
 * routing of the text by the model's definition (the full forward), in the shape the server
 * answers {@code return_routing} with — so serving can be checked against the model.
 */
@Command(name = "routing", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print the MoA routing of a text by the model's full forward, as the server's 'routing' object (one JSON line)."})
public final class RoutingCommand implements Callable<Integer> {
    @Option(names = "--text-file", required = true, paramLabel = "FILE", description = "UTF-8 text (the prompt and completion, as served)")
    Path textFile;
    @Option(names = "--model", paramLabel = "DIR", description = "model directory (default: the embedded model)")
    Path model;
    @Option(names = "--start", defaultValue = "0", description = "the routing from this token position on (default: ${DEFAULT-VALUE})")
    int start;

    private final PrintStream out;

    public RoutingCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        Djl.inferenceThread();
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        try (MoaModel m = model == null ? MoaModel.loadEmbedded() : MoaModel.load(model)) {
            if (m.tokenizer() == null) {
                throw new IllegalArgumentException("model directory " + model + " has no tokenizer");
            }
            long[] ids = m.tokenizer().encode(text);
            var o = Json.object();
            o.set("routing", RoutingJson.of(RoutingTrace.of(m.weights(), ids), start));
            out.println(Json.write(o));
        }
        return 0;
    }
}
