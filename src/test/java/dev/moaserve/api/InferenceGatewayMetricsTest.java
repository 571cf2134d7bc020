package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics the Gateway API Inference Extension's endpoint picker reads (model-server protocol:
 * queued requests, running requests, KV-cache utilisation), under vLLM's names with vLLM's types,
 * and their values while a stream runs.
 */
@QuarkusTest
class InferenceGatewayMetricsTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @ConfigProperty(name = "moa.max-batch-size")
    int maxBatch;

    @Inject
    ModelService service;

    @Test
    void vllmNamedMetricsHaveTheProtocolsTypesAndFollowTheLoad() throws Exception {
        given().contentType("application/json").body("{\"prompt\":\"ROMEO:\",\"max_tokens\":3}").post("/v1/completions")
                .then().statusCode(200);
        String idle = metrics();
        for (String gauge : new String[] {"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc"}) {
            assertTrue(idle.contains("# TYPE " + gauge + " gauge"), gauge + " is no gauge:\n" + grep(idle, "vllm"));
        }
        for (String histogram : new String[] {"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds",
                "vllm:inter_token_latency_seconds"}) {
            assertTrue(idle.contains("# TYPE " + histogram + " histogram"), histogram + ":\n" + grep(idle, "vllm"));
            assertTrue(idle.contains(histogram + "_bucket{"), histogram + " has no buckets");
        }
        assertTrue(value(idle, "vllm:prompt_tokens_total") >= 6, grep(idle, "vllm:prompt"));
        assertTrue(value(idle, "vllm:generation_tokens_total") >= 3, grep(idle, "vllm:generation"));
        assertTrue(idle.contains("vllm:num_requests_running{model_name=\"" + service.name() + "\"}"), grep(idle, "running"));

        HttpResponse<InputStream> stream = Sse.open(port, "/v1/completions",
                "{\"prompt\":\"KING:\",\"max_tokens\":200,\"temperature\":1,\"stream\":true}");
        try {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (service.generator().scheduler().runningCount() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            String busy = metrics();
            double running = value(busy, "vllm:num_requests_running");
            assertTrue(running >= 1, grep(busy, "running"));
            assertEquals(running / maxBatch, value(busy, "vllm:kv_cache_usage_perc"), 1e-9, "one state slot per sequence");
        } finally {
            stream.body().close();
        }
    }

    private static String metrics() {
        return given().get("/metrics").then().statusCode(200).extract().asString();
    }

    private static double value(String metrics, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})? (\\S+)").matcher(metrics);
        assertTrue(m.find(), name + " missing:\n" + grep(metrics, name));
        return Double.parseDouble(m.group(2));
    }

    private static String grep(String metrics, String part) {
        return String.join("\n", metrics.lines().filter(l -> l.contains(part)).limit(30).toList());
    }
}
