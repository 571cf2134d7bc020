package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constrained output closes within its budget: a required tool call whose argument is a free
 * string, on a model that never stops on its own, comes back as parseable tool_calls when
 * max_tokens ends it — streamed and not, the same calls — and a json_schema answer is whole at
 * max_tokens; a budget below the shortest valid answer is a 400 naming max_tokens.
 */
@QuarkusTest
class ConstraintBudgetTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static final String SAY = "{\"type\": \"function\", \"function\": {\"name\": \"say\", \"parameters\": {\"type\": \"object\", "
            + "\"properties\": {\"text\": {\"type\": \"string\"}}, \"required\": [\"text\"]}}}";

    private static String chat(String extra) {
        return "{\"messages\": [{\"role\": \"user\", \"content\": \"Speak, citizen.\"}], \"temperature\": 0, \"tools\": [" + SAY
                + "], \"tool_choice\": \"required\"" + extra + "}";
    }

    @Test
    void aRequiredFreeStringCallClosesAtMaxTokensStreamedAndNot() throws Exception {
        String body = chat(", \"max_tokens\": 60");
        JsonNode done = Json.MAPPER.readTree(given().contentType(ContentType.JSON).body(body).post("/v1/chat/completions")
                .then().statusCode(200).extract().asString());
        JsonNode choice = done.at("/choices/0");
        assertEquals("tool_calls", choice.get("finish_reason").asText(), choice.toString());
        JsonNode calls = choice.at("/message/tool_calls");
        assertTrue(calls.size() >= 1, choice.toString());
        for (JsonNode c : calls) {
            assertEquals("say", c.at("/function/name").asText());
            assertTrue(Json.MAPPER.readTree(c.at("/function/arguments").asText()).get("text").isTextual(), c.toString());
        }
        assertTrue(done.at("/usage/completion_tokens").asInt() <= 60);
        // streamed: the same calls, as tool_calls deltas
        Sse.Stream s = Sse.post(port, "/v1/chat/completions", chat(", \"max_tokens\": 60, \"stream\": true"));
        Map<Integer, String> streamed = new LinkedHashMap<>();
        String finish = null;
        for (JsonNode chunk : s.json()) {
            for (JsonNode tc : chunk.at("/choices/0/delta/tool_calls")) {
                streamed.merge(tc.get("index").asInt(), tc.at("/function/arguments").asText(), String::concat);
            }
            if (chunk.at("/choices/0/finish_reason").isTextual()) {
                finish = chunk.at("/choices/0/finish_reason").asText();
            }
        }
        assertEquals("tool_calls", finish, s.data().toString());
        assertEquals(calls.size(), streamed.size());
        for (int i = 0; i < calls.size(); i++) {
            assertEquals(calls.get(i).at("/function/arguments").asText(), streamed.get(i));
        }
    }

    @Test
    void parallelRequiredCallsWithTheRestOfTheContextParse() throws Exception {
        JsonNode done = Json.MAPPER.readTree(given().contentType(ContentType.JSON).body(chat("")).post("/v1/chat/completions")
                .then().statusCode(200).extract().asString());
        JsonNode choice = done.at("/choices/0");
        assertEquals("tool_calls", choice.get("finish_reason").asText(), choice.toString());
        for (JsonNode c : choice.at("/message/tool_calls")) {
            assertTrue(Json.MAPPER.readTree(c.at("/function/arguments").asText()).get("text").isTextual(), c.toString());
        }
        // streamed: the same calls
        Sse.Stream s = Sse.post(port, "/v1/chat/completions", chat(", \"stream\": true"));
        Map<Integer, String> streamed = new LinkedHashMap<>();
        for (JsonNode chunk : s.json()) {
            for (JsonNode tc : chunk.at("/choices/0/delta/tool_calls")) {
                streamed.merge(tc.get("index").asInt(), tc.at("/function/arguments").asText(), String::concat);
            }
        }
        assertEquals(choice.at("/message/tool_calls").size(), streamed.size(), s.data().toString());
        for (int i = 0; i < streamed.size(); i++) {
            assertEquals(choice.at("/message/tool_calls/" + i + "/function/arguments").asText(), streamed.get(i));
        }
    }

    @Test
    void aJsonSchemaAnswerIsWholeAtMaxTokens() throws Exception {
        String body = "{\"prompt\": \"ROMEO:\", \"max_tokens\": 40, \"temperature\": 0, \"response_format\": {\"type\": "
                + "\"json_schema\", \"json_schema\": {\"name\": \"t\", \"schema\": {\"type\": \"object\", \"properties\": "
                + "{\"speech\": {\"type\": \"string\"}}, \"required\": [\"speech\"]}}}}";
        JsonNode choice = Json.MAPPER.readTree(given().contentType(ContentType.JSON).body(body).post("/v1/completions")
                .then().statusCode(200).extract().asString()).at("/choices/0");
        assertEquals("stop", choice.get("finish_reason").asText(), choice.toString());
        assertTrue(Json.MAPPER.readTree(choice.get("text").asText()).get("speech").isTextual(), choice.toString());
    }

    @Test
    void aBudgetBelowTheShortestAnswerIsRefused() {
        String body = "{\"prompt\": \"ROMEO:\", \"max_tokens\": 10, \"response_format\": {\"type\": \"json_schema\", "
                + "\"json_schema\": {\"name\": \"t\", \"schema\": {\"type\": \"object\", \"properties\": {\"speech\": "
                + "{\"type\": \"string\", \"minLength\": 20}}, \"required\": [\"speech\"]}}}}";
        given().contentType(ContentType.JSON).body(body).post("/v1/completions").then().statusCode(400)
                .body("error.param", equalTo("max_tokens")).body("error.message", containsString("shortest output"));
    }
}
