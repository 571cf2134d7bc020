package dev.moaserve.deploy;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs after {@code package} (failsafe): what each Dockerfile COPYs from the build context exists,
 * and the exposed port is the application's. No container engine runs here, so nothing is built.
 */
class DockerfilesIT {
    @Test
    void copiedPathsExistAndPortMatches() throws IOException {
        Properties app = new Properties();
        try (var in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            app.load(in);
        }
        String port = app.getProperty("quarkus.http.port", "8080");
        for (String f : List.of("Dockerfile.jvm", "Dockerfile.native", "Dockerfile.gpu")) {
            List<String> lines = Files.readAllLines(Path.of("docker", f));
            boolean exposes = false;
            for (String line : lines) {
                String l = line.trim();
                if (l.startsWith("COPY ") && !l.contains("--from=")) {
                    String[] parts = l.replaceAll("--chown=\\S+", "").trim().split("\\s+");
                    for (int i = 1; i < parts.length - 1; i++) {
                        String src = parts[i];
                        if (src.contains("*")) {
                            Path dir = Path.of(src.substring(0, src.lastIndexOf('/')));
                            String glob = src.substring(src.lastIndexOf('/') + 1);
                            try (var s = Files.newDirectoryStream(dir, glob)) {
                                assertTrue(s.iterator().hasNext(), f + ": nothing matches " + src);
                            }
                        } else {
                            assertTrue(Files.exists(Path.of(src)), f + ": COPY source " + src + " does not exist");
                        }
                    }
                }
                if (l.startsWith("EXPOSE ")) {
                    exposes = true;
                    assertTrue(l.equals("EXPOSE " + port), f + ": " + l + " but the app listens on " + port);
                }
            }
            assertTrue(exposes, f + " exposes no port");
        }
    }

    @Test
    void theJvmImageRunsWithTheServingFlags() throws IOException {
        String opts = Files.readAllLines(Path.of("docker", "Dockerfile.jvm")).stream().map(String::trim)
                .filter(l -> l.startsWith("JAVA_OPTS=")).findFirst().orElseThrow(() -> new AssertionError("Dockerfile.jvm sets no JAVA_OPTS"));
        for (String flag : dev.moaserve.bench.ServingJvm.FLAGS) {
            assertTrue(opts.contains(flag), "Dockerfile.jvm's " + opts + " lacks " + flag + " (ServingJvm.FLAGS)");
        }
    }
}
