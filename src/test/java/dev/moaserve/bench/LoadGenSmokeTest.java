package dev.moaserve.bench;

import dev.moaserve.api.protocol.Json;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.bench.LoadGenCommand;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The load generator runs 5 requests against the test server and reports in the documented shape. */
@QuarkusTest
class LoadGenSmokeTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void sharedPrefixModeReportsReuse() throws Exception {
        java.nio.file.Path json = java.nio.file.Files.createTempFile("shared-prefix", ".json");
        var out = new java.io.ByteArrayOutputStream();
        int code = dev.moaserve.cli.Cli.execute(() -> { throw new AssertionError("loadgen must not serve"); },
                new java.io.PrintStream(out), System.err, "loadgen", "--url", "http://localhost:" + port, "--shared-prefix", "96",
                "--clients", "2", "--requests", "6", "--rounds", "1", "--json", json.toString());
        assertEquals(0, code, out.toString());
        var r = Json.MAPPER.readTree(json.toFile());
        assertTrue(r.get("prompt_tokens_per_s").asDouble() > 0, r.toString());
        assertTrue(out.toString().matches("(?s).*\\| url \\| 0 \\|.*\\| [1-9]\\d* % \\|.*"), "no reuse reported:\n" + out);
        java.nio.file.Files.delete(json);
    }

    @Test
    void reportsThroughputAndLatencies() throws Exception {
        ObjectNode r = LoadGenCommand.run("http://localhost:" + port, 2, 5, 16, 8, 1, null);
        assertEquals(5, r.get("completed").asInt(), r.toString());
        assertEquals(0, r.get("errors").asInt());
        assertEquals(40, r.get("output_tokens").asInt());
        assertTrue(r.get("output_tokens_per_s").asDouble() > 0);
        for (String k : new String[] {"ttft_ms", "itl_ms", "e2e_ms"}) {
            assertTrue(r.get(k).has("mean") && r.get(k).has("p50") && r.get(k).has("p99"), k);
            assertTrue(r.get(k).get("p99").asDouble() >= r.get(k).get("p50").asDouble(), k);
        }
    }
}
