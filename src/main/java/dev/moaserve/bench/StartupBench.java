package dev.moaserve.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench --startup --app DIR [--aot-app DIR] [--jdk17 JAVA_HOME] [--jdk25 JAVA_HOME] [--runs 5]}:
 * starts the packaged server again and again, the modes alternating (fast-jar on JDK 17, fast-jar
 * on JDK 25, and, with {@code --aot-app}, the aot-jar with its AOT cache on JDK 25), and measures
 * process start → {@code /q/health/ready} UP and the time to the first token of one request right
 * after; min / median / max per mode, plus the split each run logs (Quarkus started, engine, model
 * load, warm-up). Not a test: nothing asserts timings.
 */
final class StartupBench {
    private static final Pattern STARTED = Pattern.compile("started in ([0-9.]+)s");
    private static final Pattern SPLIT = Pattern.compile("(\\d+) ms after JVM start: libtorch (\\d+) ms, load (\\d+) ms, engine and first step (\\d+) ms");

    private record Mode(String name, Path java, Path app, List<String> flags) {}

    private StartupBench() {}

    static int run(Path app, Path aot, Path jdk17, Path jdk25, int runs, PrintStream out) throws Exception {
        List<Mode> modes = new ArrayList<>();
        modes.add(new Mode("fast-jar, JDK 17", jdk17.resolve("bin/java"), app, List.of()));
        if (jdk25 != null) {
            modes.add(new Mode("fast-jar, JDK 25", jdk25.resolve("bin/java"), app, List.of()));
            if (aot != null) {
                modes.add(new Mode("aot-jar + AOT cache, JDK 25", jdk25.resolve("bin/java"), aot,
                        List.of("-XX:AOTCache=app.aot")));
            }
        }
        Map<Mode, List<double[]>> results = new LinkedHashMap<>();
        for (Mode m : modes) {
            results.put(m, new ArrayList<>());
            once(m); // first start of each mode: extraction, page cache; not counted
        }
        for (int r = 0; r < runs; r++) {
            for (Mode m : modes) {
                double[] x = once(m);
                results.get(m).add(x);
                out.printf(Locale.ROOT, "startup mode=\"%s\" run=%d ready_ms=%.0f ttft_ms=%.1f quarkus_started_ms=%.0f engine_ms=%.0f "
                        + "load_ms=%.0f warmup_ms=%.0f%n", m.name(), r, x[0], x[1], x[2], x[3], x[4], x[5]);
            }
        }
        out.println();
        out.println("| mode | start → ready ms min / median / max | first token ms (median) | Quarkus started / engine / model / warm-up ms (median) |");
        out.println("|---|---|---|---|");
        for (Map.Entry<Mode, List<double[]>> e : results.entrySet()) {
            List<double[]> xs = e.getValue();
            out.printf(Locale.ROOT, "| %s | %.0f / %.0f / %.0f | %.1f | %.0f / %.0f / %.0f / %.0f |%n", e.getKey().name(),
                    stat(xs, 0, 0), stat(xs, 0, 50), stat(xs, 0, 100), stat(xs, 1, 50), stat(xs, 2, 50), stat(xs, 3, 50),
                    stat(xs, 4, 50), stat(xs, 5, 50));
        }
        return 0;
    }

    /** One start: [ready ms, first-token ms, Quarkus started ms, engine ms, load ms, warm-up ms]. */
    private static double[] once(Mode m) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(m.java().toString()));
        cmd.addAll(m.flags());
        // start -> ready of the process itself: without the HTTP warm-up (a native image skips it; it is measured on its own)
        cmd.addAll(List.of("-Dquarkus.http.port=" + port, "-Dmoa.warm-up-requests=0", "-jar", "quarkus-run.jar"));
        Path log = Files.createTempFile("moa-startup", ".log");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).directory(m.app().toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            URI ready = URI.create("http://localhost:" + port + "/q/health/ready");
            double readyMs = -1;
            while (readyMs < 0) {
                if (!p.isAlive() || System.nanoTime() - t0 > 120e9) {
                    throw new IllegalStateException(m.name() + ": no readiness\n" + Files.readString(log));
                }
                try {
                    if (http.send(HttpRequest.newBuilder(ready).GET().build(), HttpResponse.BodyHandlers.discarding())
                            .statusCode() == 200) {
                        readyMs = (System.nanoTime() - t0) / 1e6;
                    }
                } catch (IOException notYet) {
                    Thread.sleep(2);
                }
            }
            long t1 = System.nanoTime();
            HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                            + "/v1/completions")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"ROMEO:\",\"max_tokens\":4,\"stream\":true}")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            double ttft;
            try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(r.body()))) {
                String line;
                while ((line = in.readLine()) != null && !line.startsWith("data:")) {
                    // headers and blank lines
                }
                ttft = (System.nanoTime() - t1) / 1e6;
            }
            String text = Files.readString(log);
            Matcher started = STARTED.matcher(text);
            Matcher split = SPLIT.matcher(text);
            double quarkus = started.find() ? Double.parseDouble(started.group(1)) * 1000 : -1;
            double[] s = split.find() ? new double[] {Double.parseDouble(split.group(2)), Double.parseDouble(split.group(3)),
                    Double.parseDouble(split.group(4))} : new double[] {-1, -1, -1};
            return new double[] {readyMs, ttft, quarkus, s[0], s[1], s[2]};
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            Files.deleteIfExists(log);
        }
    }

    private static double stat(List<double[]> xs, int column, int percentile) {
        double[] v = xs.stream().mapToDouble(x -> x[column]).sorted().toArray();
        return LoadGenCommand.percentile(v, Math.max(1, percentile));
    }
}
