package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * /v1/completions takes every prompt shape OpenAI does: several prompts (strings or token-id lists)
 * in one request, their choices numbered prompt-major (n per prompt), usage summed; lm-eval's
 * batched loglikelihood request (token ids, echo, logprobs, max_tokens 0) scores each prompt as a
 * request of its own would.
 */
@QuarkusTest
class MultiPromptCompletionsTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static JsonNode post(String body) throws Exception {
        return Json.MAPPER.readTree(given().contentType(ContentType.JSON).body(body).post("/v1/completions")
                .then().statusCode(200).extract().asString());
    }

    @Test
    void severalStringPromptsAreAnsweredPromptMajor() throws Exception {
        List<String> prompts = List.of("ROMEO:", "JULIET:\n", "KING HENRY:");
        JsonNode r = post("{\"prompt\": " + Json.MAPPER.writeValueAsString(prompts)
                + ", \"n\": 2, \"max_tokens\": 4, \"temperature\": 0, \"echo\": true}");
        JsonNode choices = r.get("choices");
        assertEquals(6, choices.size());
        int promptTokens = 0;
        for (int p = 0; p < prompts.size(); p++) {
            String alone = post("{\"prompt\": " + Json.MAPPER.writeValueAsString(prompts.get(p))
                    + ", \"max_tokens\": 4, \"temperature\": 0, \"echo\": true}").at("/choices/0/text").asText();
            for (int i = 0; i < 2; i++) {
                JsonNode c = choices.get(2 * p + i);
                assertEquals(2 * p + i, c.get("index").asInt());
                assertEquals(alone, c.get("text").asText(), "prompt " + p + " choice " + i);
            }
            promptTokens += prompts.get(p).length(); // one token a character
        }
        assertEquals(promptTokens, r.at("/usage/prompt_tokens").asInt());
        assertEquals(6 * 4, r.at("/usage/completion_tokens").asInt());
    }

    @Test
    void lmEvalsBatchedLoglikelihoodRequestScoresEachPrompt() throws Exception {
        List<List<Integer>> batch = new ArrayList<>();
        for (String text : List.of("To be, or not to be", "ROMEO:\nBut soft", "All the world's a stage", "Now is the winter")) {
            batch.add(given().contentType(ContentType.JSON).body("{\"prompt\": " + Json.MAPPER.writeValueAsString(text)
                    + ", \"add_special_tokens\": false}").post("/tokenize").then().statusCode(200).extract().path("tokens"));
        }
        JsonNode r = post("{\"prompt\": " + batch + ", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 1, \"temperature\": 0}");
        assertEquals(4, r.get("choices").size());
        for (int p = 0; p < batch.size(); p++) {
            JsonNode lp = r.at("/choices/" + p + "/logprobs");
            assertEquals(batch.get(p).size(), lp.get("tokens").size(), "prompt " + p);
            assertTrue(lp.at("/token_logprobs/0").isNull());
            JsonNode alone = post("{\"prompt\": " + batch.get(p) + ", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 1}")
                    .at("/choices/0/logprobs/token_logprobs");
            assertEquals(alone, lp.get("token_logprobs"), "prompt " + p + " scored as alone");
        }
    }

    @Test
    void severalPromptsStream() throws Exception {
        Sse.Stream s = Sse.post(port, "/v1/completions", "{\"prompt\": [\"ROMEO:\", \"JULIET:\"], \"max_tokens\": 3, "
                + "\"temperature\": 0, \"stream\": true}");
        assertEquals(200, s.status());
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        int finished = 0;
        for (JsonNode chunk : s.json()) {
            for (JsonNode c : chunk.get("choices")) {
                text[c.get("index").asInt()].append(c.get("text").asText());
                finished += c.get("finish_reason").isTextual() ? 1 : 0;
            }
        }
        assertEquals(2, finished);
        assertEquals("[DONE]", s.data().get(s.data().size() - 1));
        for (int p = 0; p < 2; p++) {
            assertEquals(3, text[p].length(), "prompt " + p + ": " + text[p]);
        }
    }

    @Test
    void promptsPerRequestAreBounded() throws Exception {
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 33; i++) {
            many.add("A");
        }
        given().contentType(ContentType.JSON).body("{\"prompt\": " + Json.MAPPER.writeValueAsString(many) + ", \"max_tokens\": 1}")
                .post("/v1/completions").then().statusCode(400).body("error.param", equalTo("prompt"))
                .body("error.message", containsString("moa.max-prompts-per-request"));
    }
}
