package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import dev.moaserve.api.protocol.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property: whatever body a client sends to a generation route (random types per field, random
 * extra fields, random nesting, non-objects), the real server answers 2xx or 4xx, never 5xx;
 * every 4xx carries the route's error shape (OpenAI's, or TGI's on /generate*); every 2xx is a
 * well-formed answer or stream; and a good request is served afterwards. Bodies come from a
 * seeded generator (a valid body with random mutations), so a failure names a body that reproduces
 * it. (jqwik's arbitraries cannot run outside jqwik's own engine, and this test needs Quarkus'.)
 */
@QuarkusTest
class RequestFuzzTest {
    private static final int BODIES_PER_ROUTE = 600;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private record Route(String path, boolean tgi, String valid, List<String> fields, List<String> nestedFields) {}

    private static final List<Route> ROUTES = List.of(
            new Route("/v1/completions", false, "{\"prompt\":\"ROMEO:\",\"max_tokens\":2}",
                    List.of("model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                            "presence_penalty", "frequency_penalty", "seed", "stop", "stream", "stream_options", "logprobs", "n",
                            "logit_bias", "user", "echo", "best_of", "suffix"), List.of()),
            new Route("/v1/chat/completions", false, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}",
                    List.of("model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed",
                            "stop", "stream", "stream_options", "logprobs", "top_logprobs", "n", "logit_bias", "response_format",
                            "tools", "tool_choice", "presence_penalty", "frequency_penalty"), List.of()),
            new Route("/generate", true, "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":2}}",
                    List.of("inputs", "parameters", "stream"),
                    List.of("do_sample", "max_new_tokens", "repetition_penalty", "frequency_penalty", "seed", "stop",
                            "temperature", "top_k", "top_p", "details", "return_full_text", "decoder_input_details",
                            "watermark", "best_of", "top_n_tokens", "truncate", "typical_p", "grammar")),
            new Route("/generate_stream", true, "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":2}}",
                    List.of("inputs", "parameters"),
                    List.of("do_sample", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop")));

    private static final String[] EDGE_NUMBERS = {"1e400", "-1e400", "2.5", "1.0", "-0.0", "18446744073709551617",
            "1e-320", "100", "101", "-9223372036854775808"};
    private static final String[] WORDS = {"text", "user", "system", "assistant", "json_object", "none", "auto", "ROMEO:",
            "A", "", "yes", "3"};
    private static final String[] KEYS = {"type", "text", "role", "content", "include_usage", "1", "x", "url"};

    /** Any JSON value: scalars of every type (edge numbers, unicode, plausible words) and containers nested up to {@code depth}. */
    private static JsonNode anyValue(Random rnd, int depth) {
        int kind = rnd.nextInt(depth > 0 ? 10 : 8);
        return switch (kind) {
            case 0 -> NullNode.getInstance();
            case 1 -> BooleanNode.valueOf(rnd.nextBoolean());
            case 2 -> IntNode.valueOf(rnd.nextInt(9) - 3);
            case 3 -> LongNode.valueOf(rnd.nextLong());
            case 4 -> DoubleNode.valueOf(rnd.nextDouble() * 6 - 3);
            case 5 -> parse(EDGE_NUMBERS[rnd.nextInt(EDGE_NUMBERS.length)]);
            case 6 -> TextNode.valueOf(WORDS[rnd.nextInt(WORDS.length)]);
            case 7 -> {
                StringBuilder sb = new StringBuilder();
                for (int i = rnd.nextInt(8); i > 0; i--) {
                    sb.appendCodePoint(rnd.nextBoolean() ? 32 + rnd.nextInt(95) : 1 + rnd.nextInt(0x2FFFF));
                }
                yield TextNode.valueOf(sb.toString().replaceAll("[\\uD800-\\uDFFF]", "?"));
            }
            case 8 -> {
                ArrayNode a = Json.MAPPER.createArrayNode();
                for (int i = rnd.nextInt(5); i > 0; i--) {
                    a.add(anyValue(rnd, depth - 1));
                }
                yield a;
            }
            default -> {
                ObjectNode o = Json.object();
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    o.set(KEYS[rnd.nextInt(KEYS.length)], anyValue(rnd, depth - 1));
                }
                yield o;
            }
        };
    }

    private static JsonNode parse(String s) {
        try {
            return Json.MAPPER.readTree(s);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A valid body with 1–3 mutations: a field set to any value (or removed), an unknown field, or no object at all. */
    private static String mutate(Route r, Random rnd) {
        ObjectNode body = (ObjectNode) parse(r.valid());
        int mutations = 1 + rnd.nextInt(3);
        for (int i = 0; i < mutations; i++) {
            int kind = rnd.nextInt(20);
            if (kind == 0) {
                return anyValue(rnd, 3).toString();                          // not an object (or any object)
            } else if (kind <= 2) {
                body.set("extra_" + rnd.nextInt(3), anyValue(rnd, 3));        // unknown field
            } else if (kind <= 4) {
                body.remove(r.fields().get(rnd.nextInt(r.fields().size())));
            } else if (!r.nestedFields().isEmpty() && kind <= 10) {
                JsonNode p = body.get("parameters");
                ObjectNode params = p instanceof ObjectNode o ? o : body.putObject("parameters");
                params.set(r.nestedFields().get(rnd.nextInt(r.nestedFields().size())), anyValue(rnd, 3));
            } else {
                String f = r.fields().get(rnd.nextInt(r.fields().size()));
                if (f.startsWith("max_") && rnd.nextBoolean()) {
                    continue;                                                          // keep generations short
                }
                body.set(f, anyValue(rnd, 3));
            }
        }
        return body.toString();
    }

    @Test
    void anyBodyGetsA2xxOrA4xxInTheRoutesShape() throws Exception {
        Map<Integer, Integer> statuses = new TreeMap<>();
        for (Route r : ROUTES) {
            Random rnd = new Random(r.path().hashCode());
            for (int i = 0; i < BODIES_PER_ROUTE; i++) {
                String body = mutate(r, rnd);
                int status = check(r, body);
                statuses.merge(status, 1, Integer::sum);
            }
        }
        System.out.println("fuzzed " + ROUTES.size() * BODIES_PER_ROUTE + " bodies, statuses " + statuses);
        assertTrue(statuses.getOrDefault(200, 0) > 100, "too few bodies were valid to reach generation: " + statuses);
        assertTrue(statuses.getOrDefault(400, 0) + statuses.getOrDefault(422, 0) > 100, "too few were invalid: " + statuses);
        HttpResponse<String> good = send("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2}");
        assertEquals(200, good.statusCode(), good.body());
    }

    private int check(Route r, String body) throws Exception {
        HttpResponse<InputStream> res = Sse.HTTP.send(request(r.path(), body), HttpResponse.BodyHandlers.ofInputStream());
        int status = res.statusCode();
        String type = res.headers().firstValue("Content-Type").orElse("");
        String what = r.path() + " " + body + " → " + status;
        if (status >= 500 || status < 200 || (status >= 300 && status < 400)) {
            fail("server error for " + what + ": " + new String(res.body().readAllBytes(), StandardCharsets.UTF_8));
        }
        if (type.startsWith("text/event-stream")) {
            assertEquals(200, status, what);
            List<String> events = new ArrayList<>();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data:")) {
                        events.add(line.substring(5).trim());
                    }
                }
            }
            assertTrue(!events.isEmpty(), "empty stream for " + what);
            for (String e : events) {
                if (!e.equals("[DONE]")) {
                    JsonNode j = parse(e);
                    assertTrue(!j.has("error"), "error event for " + what + ": " + e);
                }
            }
            return status;
        }
        JsonNode json = parse(new String(res.body().readAllBytes(), StandardCharsets.UTF_8));
        if (status >= 400) {
            if (r.tgi()) {
                assertTrue(json.path("error").isTextual() && json.path("error_type").isTextual(), "not TGI's error shape: " + what + " " + json);
            } else {
                JsonNode e = json.path("error");
                assertTrue(e.path("message").isTextual() && e.path("type").isTextual() && e.has("param") && e.has("code"),
                        "not OpenAI's error shape: " + what + " " + json);
            }
        } else {
            assertTrue(r.tgi() ? json.has("generated_text") : json.has("choices"), "not an answer: " + what + " " + json);
        }
        return status;
    }

    private HttpRequest request(String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private HttpResponse<String> send(String path, String body) throws Exception {
        return Sse.HTTP.send(request(path, body), HttpResponse.BodyHandlers.ofString());
    }
}
