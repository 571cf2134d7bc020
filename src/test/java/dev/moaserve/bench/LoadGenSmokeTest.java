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

    @Test
    void itsClientReadsStreamsAndErrorsAsTheServerSendsThem() throws Exception {
        java.net.URI url = java.net.URI.create("http://localhost:" + port + "/v1/completions");
        java.util.List<String> data = new java.util.ArrayList<>();
        var ok = LoopbackSse.post(url, "{\"prompt\": \"ROMEO:\", \"max_tokens\": 5, \"temperature\": 0, \"stream\": true}", line -> {
            if (line.startsWith("data:")) {
                data.add(line.substring(5).trim());
            }
            return true;
        });
        assertEquals(200, ok.status());
        assertEquals("[DONE]", data.get(data.size() - 1), data.toString());
        StringBuilder text = new StringBuilder();
        for (String d : data.subList(0, data.size() - 1)) {
            text.append(Json.MAPPER.readTree(d).at("/choices/0/text").asText());
        }
        // the same text as the server answers without streaming (chunked and length-delimited bodies both read)
        StringBuilder whole = new StringBuilder();
        var plain = LoopbackSse.post(url, "{\"prompt\": \"ROMEO:\", \"max_tokens\": 5, \"temperature\": 0}", line -> {
            whole.append(line);
            return true;
        });
        assertEquals(200, plain.status());
        assertEquals(Json.MAPPER.readTree(whole.toString()).at("/choices/0/text").asText(), text.toString());
        var bad = LoopbackSse.post(url, "{\"prompt\": 3}", line -> true);
        assertEquals(400, bad.status());
        assertTrue(bad.errorBody().contains("\"error\""), bad.errorBody());
    }

    @Test
    void itsReadinessPollReadsTheStatusAsTheServerSendsIt() throws Exception {
        // the benches' poll of a starting server (ChildServer.awaitReady) over the same lean socket client
        assertEquals(200, LoopbackSse.get(java.net.URI.create("http://localhost:" + port + "/q/health/ready")));
        assertEquals(404, LoopbackSse.get(java.net.URI.create("http://localhost:" + port + "/no-such-route")));
    }
}
