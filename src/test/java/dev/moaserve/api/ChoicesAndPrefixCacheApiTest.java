package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * n &gt; 1 (one prefill, the state copied to each choice, choice i sampled with seed + i) and the
 * prefix-state cache (a repeated long prompt reports cached tokens, the metrics count hits) through
 * the real HTTP server.
 */
@QuarkusTest
class ChoicesAndPrefixCacheApiTest {
    private static final String LONG = "First Citizen:\\nBefore we proceed any further, hear me speak.\\nAll:\\nSpeak, speak.\\n"
            + "First Citizen:\\nYou are all resolved rather to die than to famish?\\n";

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static Response post(String path, String json) {
        return given().contentType(ContentType.JSON).body(json).post(path);
    }

    @Test
    void nChoicesEachEqualTheirOwnSeededRequest() {
        Response r = post("/v1/completions", "{\"prompt\":\"" + LONG + "\",\"max_tokens\":12,\"temperature\":1,\"seed\":40,\"n\":3}");
        r.then().statusCode(200).body("choices.size()", is(3)).body("choices[2].index", is(2))
                .body("usage.completion_tokens", is(36));
        int prompt = r.path("usage.prompt_tokens");
        for (int i = 0; i < 3; i++) {
            Response alone = post("/v1/completions", "{\"prompt\":\"" + LONG + "\",\"max_tokens\":12,\"temperature\":1,\"seed\":"
                    + (40 + i) + "}");
            assertEquals(alone.<String>path("choices[0].text"), r.<String>path("choices[" + i + "].text"), "choice " + i);
            assertEquals(prompt, alone.<Integer>path("usage.prompt_tokens"), "prompt tokens are counted once");
        }
        post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Speak.\"}],\"max_tokens\":5,\"n\":2}")
                .then().statusCode(200).body("choices.size()", is(2)).body("choices[1].message.role", equalTo("assistant"));
        post("/v1/completions", "{\"prompt\":\"A\",\"n\":17}").then().statusCode(400).body("error.param", equalTo("n"));
        post("/v1/completions", "{\"prompt\":\"A\",\"n\":2,\"best_of\":3}").then().statusCode(400).body("error.param", equalTo("best_of"));
    }

    @Test
    void nChoicesStream() throws Exception {
        Sse.Stream s = Sse.post(port, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Speak.\"}],"
                + "\"max_tokens\":6,\"temperature\":1,\"seed\":3,\"n\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, s.status());
        assertEquals("[DONE]", s.data().get(s.data().size() - 1));
        Map<Integer, StringBuilder> text = new HashMap<>();
        Map<Integer, String> finish = new HashMap<>();
        JsonNode usage = null;
        for (JsonNode c : s.json()) {
            if (c.path("usage").isObject()) {
                usage = c.get("usage");
                continue;
            }
            JsonNode choice = c.at("/choices/0");
            int i = choice.get("index").asInt();
            text.computeIfAbsent(i, k -> new StringBuilder()).append(choice.at("/delta/content").asText(""));
            if (!choice.get("finish_reason").isNull()) {
                finish.put(i, choice.get("finish_reason").asText());
            }
        }
        assertEquals(List.of(0, 1, 2), List.copyOf(new java.util.TreeSet<>(text.keySet())));
        assertEquals(3, finish.size(), "every choice ends with a finish_reason: " + finish);
        assertTrue(usage != null && usage.get("completion_tokens").asInt() == 18, "usage: " + usage);
    }

    @Test
    void aRepeatedPromptStartsFromTheCache() {
        String body = "{\"prompt\":\"" + LONG + "Second Citizen:\\n\",\"max_tokens\":4,\"temperature\":0}";
        Response first = post("/v1/completions", body);
        Response second = post("/v1/completions", body);
        int prompt = second.path("usage.prompt_tokens");
        assertEquals(first.<String>path("choices[0].text"), second.<String>path("choices[0].text"));
        assertEquals((prompt - 1) / 32 * 32, second.<Integer>path("usage.prompt_tokens_details.cached_tokens"));
        String metrics = given().get("/q/metrics").asString();
        assertTrue(value(metrics, "moa_prefix_cache_hits_total") >= 1, "no hit counted");
        assertTrue(value(metrics, "moa_prefix_cache_hit_tokens_total") >= 32);
        assertTrue(value(metrics, "moa_prefix_cache_queries_total") >= 2);
        assertTrue(value(metrics, "moa_prefix_cache_bytes") > 0);
    }

    /** The chat template renders the system message first, so a shared system prompt hits across questions. */
    @Test
    void aSharedSystemPromptHitsAcrossQuestions() {
        String system = "You are a player in a company of actors. Answer in the manner of the old plays, in verse.";
        post("/v1/chat/completions", "{\"messages\":[{\"role\":\"system\",\"content\":\"" + system + "\"},"
                + "{\"role\":\"user\",\"content\":\"What news?\"}],\"max_tokens\":2}").then().statusCode(200);
        Response other = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"system\",\"content\":\"" + system + "\"},"
                + "{\"role\":\"user\",\"content\":\"Who comes here?\"}],\"max_tokens\":2}");
        other.then().statusCode(200);
        assertTrue(other.<Integer>path("usage.prompt_tokens_details.cached_tokens") >= 64,
                "the second question should reuse the system prompt's state: " + other.asString());
    }

    private static double value(String metrics, String name) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no " + name + " in /q/metrics");
    }
}
