package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import dev.moaserve.api.protocol.Json;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tool calling through the official client's tool helpers (a Java class as the function, its
 * arguments parsed back into it) and raw HTTP: required and named choices are enforced by the
 * functions' schemas, so the arguments always parse; tool messages continue the conversation.
 */
@QuarkusTest
class ToolCallingTest {
    public enum City { VERONA, MANTUA, PADUA }

    /** The forecast for a city (the official client turns this class into the function's schema). */
    public static class GetWeather {
        public City city;
        public boolean tomorrow;
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private OpenAIClient client() {
        return OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused").build();
    }

    private ChatCompletionCreateParams.Builder weatherRequest() {
        return ChatCompletionCreateParams.builder().model("moa-shakespeare").addUserMessage("What weather in Verona?")
                .addTool(GetWeather.class).maxCompletionTokens(300).temperature(0.0)
                .parallelToolCalls(false); // a model not trained to call tools repeats its call up to the bound otherwise
    }

    @Test
    void requiredToolChoiceThroughTheOfficialClientsHelpers() {
        ChatCompletion done = client().chat().completions().create(
                weatherRequest().toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
        var choice = done.choices().get(0);
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason(), String.valueOf(choice.message().content()));
        assertFalse(choice.message().content().isPresent(), "a tool call has no content");
        List<ChatCompletionMessageFunctionToolCall> calls = choice.message().toolCalls().orElseThrow().stream()
                .map(c -> c.asFunction()).toList();
        assertFalse(calls.isEmpty());
        for (ChatCompletionMessageFunctionToolCall c : calls) {
            assertEquals("GetWeather", c.function().name());
            assertTrue(c.id().startsWith("call_"));
            GetWeather args = c.function().arguments(GetWeather.class); // the schema made it parse
            assertTrue(args.city != null);
        }
        // streamed: no text deltas, the calls in one tool_calls delta, then finish_reason tool_calls
        StringBuilder text = new StringBuilder();
        StringBuilder arguments = new StringBuilder();
        String[] finish = {null};
        try (StreamResponse<ChatCompletionChunk> s = client().chat().completions().createStreaming(
                weatherRequest().toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build())) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> {
                ch.delta().content().ifPresent(text::append);
                ch.delta().toolCalls().ifPresent(tc -> tc.forEach(t -> t.function().flatMap(f -> f.arguments()).ifPresent(arguments::append)));
                ch.finishReason().ifPresent(r -> finish[0] = r.asString());
            }));
        }
        assertEquals("", text.toString());
        assertEquals("tool_calls", finish[0]);
        assertTrue(arguments.toString().contains("\"city\""), arguments.toString());
    }

    @Test
    void aNamedChoiceWritesThatFunctionsArguments() throws Exception {
        String tools = "[{\"type\": \"function\", \"function\": {\"name\": \"pick\", \"parameters\": {\"type\": \"object\", "
                + "\"properties\": {\"side\": {\"enum\": [\"montague\", \"capulet\"]}}, \"required\": [\"side\"], "
                + "\"additionalProperties\": false}}}, {\"type\": \"function\", \"function\": {\"name\": \"other\"}}]";
        String body = given().contentType(ContentType.JSON).body("{\"messages\": [{\"role\": \"user\", \"content\": \"Choose.\"}], "
                + "\"tools\": " + tools + ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"pick\"}}, "
                + "\"max_tokens\": 100, \"temperature\": 0}").post("/v1/chat/completions").then().statusCode(200).extract().asString();
        JsonNode msg = Json.MAPPER.readTree(body).at("/choices/0/message");
        JsonNode call = msg.get("tool_calls").get(0);
        assertEquals("pick", call.at("/function/name").asText());
        String side = Json.MAPPER.readTree(call.at("/function/arguments").asText()).get("side").asText();
        assertTrue(List.of("montague", "capulet").contains(side), side);
        assertEquals("tool_calls", Json.MAPPER.readTree(body).at("/choices/0/finish_reason").asText());

        // the conversation goes on with the call and its result
        given().contentType(ContentType.JSON).body("{\"messages\": [{\"role\": \"user\", \"content\": \"Choose.\"}, "
                + "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [" + Json.write(call) + "]}, "
                + "{\"role\": \"tool\", \"tool_call_id\": " + Json.write(call.get("id").asText()) + ", \"content\": \"done\"}], "
                + "\"tools\": " + tools + ", \"max_tokens\": 20}").post("/v1/chat/completions").then().statusCode(200);
    }

    @Test
    void refusals() {
        String user = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";
        String tool = "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]";
        given().contentType(ContentType.JSON).body("{" + user + ", \"tools\": " + tool + ", \"tool_choice\": "
                + "{\"type\": \"function\", \"function\": {\"name\": \"g\"}}}").post("/v1/chat/completions")
                .then().statusCode(400).body(containsString("tool_choice"));
        given().contentType(ContentType.JSON).body("{" + user + ", \"tool_choice\": \"required\"}").post("/v1/chat/completions")
                .then().statusCode(400).body(containsString("tool_choice"));
        given().contentType(ContentType.JSON).body("{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}")
                .post("/v1/chat/completions").then().statusCode(400).body(containsString("tool_call_id"));
        given().contentType(ContentType.JSON).body("{" + user + ", \"tools\": " + tool + ", \"tool_choice\": \"required\", "
                + "\"response_format\": {\"type\": \"json_object\"}}").post("/v1/chat/completions")
                .then().statusCode(400).body(containsString("tool_choice"));
        // auto on a model not trained to call tools: it answers in text
        given().contentType(ContentType.JSON).body("{" + user + ", \"tools\": " + tool + ", \"max_tokens\": 10}")
                .post("/v1/chat/completions").then().statusCode(200).body(containsString("\"content\""));
    }
}
