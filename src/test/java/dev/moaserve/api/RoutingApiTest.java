package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.RoutingJson;
import dev.moaserve.cli.Cli;
import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code return_routing}: each choice's routing of its whole text equals what the model's
 * definition computes for that text ({@code moa-serve routing --text-file}, a separate process
 * path: tokenizer, full forward, the canonical rule), for greedy and sampled completions, streamed
 * or not, batched with other requests, from the prefix cache or not; and it means what it says on
 * the shipped model (k_q = w: every position of a routed window is routed by every expert).
 */
@QuarkusTest
class RoutingApiTest {
    private static final String PROMPT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
            + "First Citizen:\nYou are all resolved rather to die than to famish?\n";

    @Inject
    ModelService service;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private JsonNode complete(String extra) {
        String body = given().contentType(ContentType.JSON)
                .body("{\"prompt\": " + Json.write(PROMPT) + ", \"max_tokens\": 48, \"return_routing\": true" + extra + "}")
                .post("/v1/completions").then().statusCode(200).extract().asString();
        try {
            return Json.MAPPER.readTree(body);
        } catch (Exception e) {
            throw new AssertionError(body, e);
        }
    }

    /** The routing the command line prints for a text. */
    private static JsonNode cli(String text, int start) throws Exception {
        Path f = Files.createTempFile("routing", ".txt");
        try {
            Files.writeString(f, text, StandardCharsets.UTF_8);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int rc = Cli.execute(() -> { }, new PrintStream(out, true, StandardCharsets.UTF_8), System.err,
                    "routing", "--text-file", f.toString(), "--start", String.valueOf(start));
            assertEquals(0, rc);
            return Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8)).get("routing");
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void greedyAndSampledRoutingEqualsTheModelsDefinition() throws Exception {
        for (String extra : List.of(", \"temperature\": 0", ", \"temperature\": 1.0, \"seed\": 7")) {
            JsonNode choice = complete(extra).at("/choices/0");
            JsonNode routing = choice.get("routing");
            assertEquals(cli(PROMPT + choice.get("text").asText(), 0), routing, extra);
            int tokens = PROMPT.length() + choice.get("text").asText().length();
            assertEquals(tokens, routing.get("tokens").asInt());
            assertEquals("exact", routing.get("rule").asText());
        }
    }

    @Test
    void onTheShippedModelEveryQueryIsRoutedAndKeysComeFromEarlierWindows() {
        JsonNode r = complete(", \"temperature\": 0").at("/choices/0/routing");
        int w = r.get("routed_window").asInt();
        int layers = r.get("layers").asInt();
        int experts = r.get("experts").asInt();
        JsonNode qShape = r.at("/queries/shape");
        JsonNode kShape = r.at("/keys/shape");
        int rows = qShape.get(0).asInt();
        int kq = qShape.get(3).asInt();
        int kkv = kShape.get(3).asInt();
        assertEquals(List.of(rows, layers, experts), List.of(kShape.get(0).asInt(), qShape.get(1).asInt(), qShape.get(2).asInt()));
        int[] q = RoutingJson.decode(r.at("/queries/data").asText());
        int[] k = RoutingJson.decode(r.at("/keys/data").asText());
        assertEquals(rows * layers * experts * kq, q.length);
        assertEquals(rows * layers * experts * kkv, k.length);
        int tokens = r.get("tokens").asInt();
        for (int row = 0; row < rows; row++) {
            int window = r.get("first_window").asInt() + row;
            int from = window * w;
            int to = Math.min(from + w, tokens);
            for (int cell = 0; cell < layers * experts; cell++) {
                int at = row * layers * experts + cell;
                int[] qs = Arrays.stream(Arrays.copyOfRange(q, at * kq, (at + 1) * kq)).filter(p -> p >= 0).sorted().toArray();
                assertEquals(to - from, qs.length, "k_q = w: every position of window " + window + " is routed");
                assertEquals(from, qs[0]);
                assertEquals(to - 1, qs[qs.length - 1]);
                Set<Integer> seen = new HashSet<>();
                int have = 0;
                for (int j = 0; j < kkv; j++) {
                    int p = k[at * kkv + j];
                    if (p >= 0) {
                        assertTrue(p < from, "a key of window " + window + " comes from before it: " + p);
                        assertTrue(seen.add(p), "keys are distinct");
                        have++;
                    }
                }
                assertEquals(Math.min(kkv, from), have);
            }
        }
    }

    @Test
    void streamedBatchedAndCachedAnswersCarryTheSameRouting() throws Exception {
        JsonNode alone = complete(", \"temperature\": 0").at("/choices/0/routing");
        // the same request streamed, beside other requests, twice (the second from the prefix cache)
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> others = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int salt = i;
                others.add(pool.submit(() -> given().contentType(ContentType.JSON)
                        .body("{\"prompt\": \"KING RICHARD " + salt + ":\", \"max_tokens\": 64}")
                        .post("/v1/completions").then().statusCode(200)));
            }
            for (int round = 0; round < 2; round++) {
                Sse.Stream s = Sse.post(port, "/v1/completions", "{\"prompt\": " + Json.write(PROMPT)
                        + ", \"max_tokens\": 48, \"temperature\": 0, \"stream\": true, \"return_routing\": true}");
                List<JsonNode> chunks = s.json();
                JsonNode last = chunks.get(chunks.size() - 1).at("/choices/0");
                assertEquals("length", last.get("finish_reason").asText());
                assertEquals(alone, last.get("routing"), "round " + round);
                for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
                    assertFalse(c.at("/choices/0").has("routing"), "only the last chunk carries the routing");
                }
            }
            for (Future<?> f : others) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void routingStartReturnsOnlyTheLaterWindows() throws Exception {
        JsonNode choice = complete(", \"temperature\": 0, \"routing_start\": 100").at("/choices/0");
        JsonNode r = choice.get("routing");
        assertEquals(100 / r.get("routed_window").asInt(), r.get("first_window").asInt());
        assertEquals(cli(PROMPT + choice.get("text").asText(), 100), r);
    }

    @Test
    void refusals() {
        given().contentType(ContentType.JSON).body("{\"prompt\": \"a\", \"routing_start\": 3}")
                .post("/v1/completions").then().statusCode(400).body(containsString("routing_start"));
        given().contentType(ContentType.JSON).body("{\"prompt\": \"a\", \"return_routing\": \"yes\"}")
                .post("/v1/completions").then().statusCode(400).body(containsString("return_routing"));
        given().contentType(ContentType.JSON).body("{\"inputs\": \"a\", \"parameters\": {\"return_routing\": true, \"max_new_tokens\": 4}}")
                .post("/generate").then().statusCode(200).body(containsString("\"routing\""));
        given().contentType(ContentType.JSON).body("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 4, "
                + "\"return_routing\": true}").post("/v1/chat/completions").then().statusCode(200).body(containsString("\"routing\""));
    }
}
