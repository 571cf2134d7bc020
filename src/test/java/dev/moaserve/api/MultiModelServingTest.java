package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One server, three models: the shipped generator (loaded at start), the shipped encoder and a
 * second copy of the generator, under a budget that holds a generator and the encoder but not two
 * generators. Requests name their model; the others load on demand, and room is made by
 * unloading the least recently used idle model — never one whose stream is running.
 */
@QuarkusTest
@TestProfile(MultiModelServingTest.ThreeModels.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiModelServingTest {
    static final String START = "moa-shakespeare";
    static final String ENCODER = "moa-shakespeare-encoder";
    static final String COPY = "shakespeare-copy";
    /**
     * A generator here accounts for 67.9 MB (weights 25.6, a pool of 8 at 1.1, prefix cache 33.6),
     * the encoder 10.9: two generators fit (135.9), all three do not (146.8).
     */
    static final long BUDGET = 140_000_000L;

    public static class ThreeModels implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.models", ENCODER + "=" + ENCODER + "," + COPY + "=moa-shakespeare",
                    "moa.models.memory-budget", String.valueOf(BUDGET), "moa.max-batch-size", "8",
                    "moa.prefix-cache-bytes", "32M", "moa.warm-up-requests", "0");
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static JsonNode listed(String name) {
        JsonNode list = Json.parse(given().get("/v1/models").then().statusCode(200).extract().asString());
        for (JsonNode m : list.get("data")) {
            if (m.get("id").asText().equals(name)) {
                return m;
            }
        }
        throw new AssertionError(name + " not listed: " + list);
    }

    private static String status(String name) {
        return listed(name).get("status").asText();
    }

    private CompletableFuture<Sse.Stream> longStream(String model) {
        String body = "{\"model\": \"" + model + "\", \"prompt\": \"ROMEO:\", \"max_tokens\": 1000, \"n\": 4, \"stream\": true}";
        return CompletableFuture.supplyAsync(() -> {
            try {
                return Sse.post(port, "/v1/completions", body);
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The stream ran to its end: each of its 4 choices to max_tokens, then [DONE]; no error event. */
    private static void ranToTheEnd(Sse.Stream s) {
        assertEquals(200, s.status());
        assertEquals("[DONE]", s.data().get(s.data().size() - 1), "ends with [DONE]");
        List<JsonNode> events = s.json();
        assertTrue(events.stream().noneMatch(e -> e.has("error")), "no error event");
        List<String> finishes = events.stream().flatMap(e -> java.util.stream.StreamSupport.stream(e.get("choices").spliterator(), false))
                .map(c -> c.path("finish_reason")).filter(f -> !f.isNull() && !f.isMissingNode()).map(JsonNode::asText).toList();
        assertEquals(List.of("length", "length", "length", "length"), finishes, "every choice ran to max_tokens");
    }

    private static void embed(String model) {
        given().contentType(ContentType.JSON).body("{\"model\": \"" + model + "\", \"input\": [\"to be or not to be\", \"ay\"]}")
                .post("/v1/embeddings").then().statusCode(200).body("data.size()", equalTo(2)).body("model", equalTo(model));
    }

    private static void chat(String model) {
        given().contentType(ContentType.JSON).body("{\"model\": \"" + model + "\", \"messages\": [{\"role\": \"user\", \"content\": "
                + "\"Speak.\"}], \"max_tokens\": 8}").post("/v1/chat/completions").then().statusCode(200).body("model", equalTo(model));
    }

    @Test
    @Order(1)
    void modelsLoadOnDemandWithinTheBudgetAndNoStreamIsCut() throws Exception {
        assertEquals("loaded", status(START));
        assertEquals("unloaded", status(ENCODER));
        assertEquals("unloaded", status(COPY));
        assertEquals("encoder", listed(ENCODER).get("kind").asText());
        assertEquals(256, listed(ENCODER).get("max_model_len").asInt());
        assertEquals("generator", listed(COPY).get("kind").asText());

        // a scrape loads nothing
        given().get("/q/metrics").then().statusCode(200);
        assertEquals("unloaded", status(ENCODER));

        // chat and embeddings from one port: the encoder loads for its first request
        chat(START);
        CompletableFuture<Sse.Stream> onStart = longStream(START);
        embed(ENCODER);
        assertEquals("loaded", status(ENCODER));
        long held = listed(START).get("resident_bytes").asLong() + listed(ENCODER).get("resident_bytes").asLong();
        assertTrue(held > 0 && held <= BUDGET, "accounted " + held);

        // the copy needs room: the start model is the least recently used, but busy; the idle encoder goes
        assertFalse(onStart.isDone(), "the start model's stream still runs");
        chat(COPY);
        assertEquals("unloaded", status(ENCODER));
        assertEquals("loaded", status(START));
        assertEquals("loaded", status(COPY));
        ranToTheEnd(onStart.get());

        // unloading a model with a stream in flight waits for it
        CompletableFuture<Sse.Stream> onCopy = longStream(COPY);
        while (running(COPY) < 1) {
            Thread.sleep(5);
        }
        given().contentType(ContentType.JSON).body("{\"model\": \"" + COPY + "\"}").post("/v1/models/unload")
                .then().statusCode(200).body("status", equalTo("unloaded"));
        assertTrue(onCopy.isDone(), "the unload answered after the stream ended");
        ranToTheEnd(onCopy.get());
        String metrics = given().get("/q/metrics").then().extract().asString();
        assertFalse(metrics.contains("model_name=\"" + COPY + "\""), "an unloaded model's meters go");
        assertTrue(metrics.contains("vllm:num_requests_running{model_name=\"" + START + "\"}"), "the start model's stay");

        // and it loads again when asked
        given().contentType(ContentType.JSON).body("{\"model\": \"" + COPY + "\"}").post("/v1/models/load")
                .then().statusCode(200).body("status", equalTo("loaded"));
        assertEquals("loaded", status(START));
    }

    @Test
    @Order(2)
    void anUnknownModelIsNotServedByAnother() {
        given().contentType(ContentType.JSON).body("{\"model\": \"gpt-4o\", \"prompt\": \"x\", \"max_tokens\": 1}")
                .post("/v1/completions").then().statusCode(404).body("error.code", equalTo("model_not_found"));
        given().get("/v1/models/gpt-4o").then().statusCode(404);
        given().contentType(ContentType.JSON).body("{\"model\": \"gpt-4o\"}").post("/v1/models/load").then().statusCode(404);
    }

    @Test
    @Order(2)
    void anEncoderDoesNotGenerate() {
        given().contentType(ContentType.JSON).body("{\"model\": \"" + ENCODER + "\", \"prompt\": \"x\", \"max_tokens\": 1}")
                .post("/v1/completions").then().statusCode(400).body("error.code", equalTo("model_not_generative"));
    }

    /**
     * A generator's batches and an encoder's embeddings at once: still one thread computes on
     * every core (a team's workers carry the name of the thread that opened it), not one per
     * model; the generator's own embeddings thread stays on one core.
     */
    @Test
    @Order(3)
    void everyModelStepsOnTheOneComputeThread() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc");
        given().contentType(ContentType.JSON).body("{\"model\": \"" + COPY + "\"}").post("/v1/models/unload").then().statusCode(200);
        for (String m : List.of(START, ENCODER)) {
            given().contentType(ContentType.JSON).body("{\"model\": \"" + m + "\"}").post("/v1/models/load").then().statusCode(200);
        }
        String text = "To be, or not to be, that is the question. ".repeat(5);
        Runnable batch = () -> given().contentType(ContentType.JSON)
                .body("{\"model\": \"" + START + "\", \"prompt\": \"" + text + "\", \"max_tokens\": 16, \"n\": 8}")
                .post("/v1/completions").then().statusCode(200);
        batch.run();
        int alone = ComputeThreadsTest.threadNames().getOrDefault("moa-engine", 0); // the compute thread and its team's workers
        CompletableFuture<Void> a = CompletableFuture.runAsync(batch);
        given().contentType(ContentType.JSON).body("{\"model\": \"" + ENCODER + "\", \"input\": [\"" + text + "\", \"" + text
                + "\", \"" + text + "\", \"" + text + "\"]}").post("/v1/embeddings").then().statusCode(200);
        a.get();
        Map<String, Integer> names = ComputeThreadsTest.threadNames();
        assertEquals(alone, names.getOrDefault("moa-engine", 0), "no second team beside the compute thread's: " + names);
        assertEquals(1, names.getOrDefault("moa-embeddings", 0), "the encoder computes on the compute thread, the generator's "
                + "embeddings on one core: " + names);
    }

    /** The model's running requests as /q/metrics says (0 before its gauge exists). */
    private static double running(String model) {
        String prefix = "vllm:num_requests_running{model_name=\"" + model + "\"} ";
        return given().get("/q/metrics").then().extract().asString().lines().filter(l -> l.startsWith(prefix))
                .mapToDouble(l -> Double.parseDouble(l.substring(prefix.length()))).findFirst().orElse(0);
    }
}
