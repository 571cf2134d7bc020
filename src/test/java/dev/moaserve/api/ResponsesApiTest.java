package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import dev.moaserve.api.protocol.Json;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code POST /v1/responses} through the official client: stateless, streamed, continued, structured. */
@QuarkusTest
class ResponsesApiTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private OpenAIClient client() {
        return OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused").maxRetries(0).build();
    }

    private static String text(Response r) {
        return r.output().get(0).message().orElseThrow().content().get(0).outputText().orElseThrow().text();
    }

    @Test
    void createContinueAndRetrieve() {
        Response first = client().responses().create(ResponseCreateParams.builder().model("moa-shakespeare")
                .instructions("Answer as a citizen of Rome.").input("What news?").maxOutputTokens(24).temperature(0.0).build());
        assertTrue(first.id().startsWith("resp_"));
        assertEquals(ResponseStatus.INCOMPLETE, first.status().orElseThrow(), "24 tokens end it before the model does");
        assertEquals("max_output_tokens", first.incompleteDetails().orElseThrow().reason().orElseThrow().asString());
        String said = text(first);
        assertEquals(24, first.usage().orElseThrow().outputTokens());

        // the conversation goes on from the stored response: its text is the next prompt's prefix
        Response second = client().responses().create(ResponseCreateParams.builder().model("moa-shakespeare")
                .previousResponseId(first.id()).input("And then?").maxOutputTokens(8).build());
        assertEquals(first.id(), second.previousResponseId().orElseThrow());
        // (the first's instructions are not carried over, as OpenAI's are not)
        assertTrue(second.usage().orElseThrow().inputTokens() > "What news?".length() + said.length() + "And then?".length(),
                "the stored conversation is part of the input");

        JsonNode stored = Json.MAPPER.valueToTree(Json.MAPPER.convertValue(
                given().get("/v1/responses/" + first.id()).then().statusCode(200).extract().as(java.util.Map.class), JsonNode.class));
        assertEquals(said, stored.at("/output/0/content/0/text").asText());
        given().get("/v1/responses/resp_nope").then().statusCode(404);
        assertThrows(NotFoundException.class, () -> client().responses().create(ResponseCreateParams.builder()
                .model("moa-shakespeare").previousResponseId("resp_nope").input("x").build()));
    }

    @Test
    void inputItemsAndDeleteThroughTheClient() {
        OpenAIClient c = client();
        Response first = c.responses().create(ResponseCreateParams.builder().model("moa-shakespeare")
                .input("What news?").maxOutputTokens(4).build());
        Response second = c.responses().create(ResponseCreateParams.builder().model("moa-shakespeare")
                .previousResponseId(first.id()).input("And then?").maxOutputTokens(4).build());
        // the response's own input, not its predecessors'
        var items = c.responses().inputItems().list(second.id()).items();
        assertEquals(1, items.size(), items.toString());
        assertEquals("And then?", items.get(0).asResponseInputMessageItem().content().get(0).asInputText().text());
        c.responses().delete(first.id()); // the client reads no body, only the status
        given().get("/v1/responses/" + first.id()).then().statusCode(404);
        given().delete("/v1/responses/" + first.id()).then().statusCode(404);
        assertThrows(NotFoundException.class, () -> c.responses().inputItems().list(first.id()));
        given().delete("/v1/responses/" + second.id()).then().statusCode(200)
                .body("deleted", org.hamcrest.Matchers.equalTo(true)).body("id", org.hamcrest.Matchers.equalTo(second.id()));
    }

    @Test
    void streamedEventsAddUpToTheText() {
        List<String> types = new ArrayList<>();
        StringBuilder deltas = new StringBuilder();
        String[] finalText = {null};
        try (StreamResponse<ResponseStreamEvent> s = client().responses().createStreaming(ResponseCreateParams.builder()
                .model("moa-shakespeare").input("ROMEO:").maxOutputTokens(30).temperature(0.0).store(false).build())) {
            s.stream().forEach(e -> {
                e.outputTextDelta().ifPresent(d -> deltas.append(d.delta()));
                e.incomplete().ifPresent(i -> finalText[0] = text(i.response()));
                types.add(Json.MAPPER.valueToTree(e._json().orElseThrow()).path("type").asText());
            });
        }
        assertEquals(List.of("response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"),
                types.subList(0, 4));
        assertEquals("response.incomplete", types.get(types.size() - 1));
        assertEquals(finalText[0], deltas.toString());
    }

    @Test
    void aJsonSchemaFormatConstrainsTheOutput() throws Exception {
        String body = given().contentType(ContentType.JSON).body("{\"model\": \"moa-shakespeare\", \"input\": \"Choose.\", "
                + "\"max_output_tokens\": 60, \"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"side\", \"schema\": "
                + "{\"type\": \"object\", \"properties\": {\"side\": {\"enum\": [\"montague\", \"capulet\"]}}, "
                + "\"required\": [\"side\"], \"additionalProperties\": false}}}}").post("/v1/responses")
                .then().statusCode(200).extract().asString();
        JsonNode r = Json.MAPPER.readTree(body);
        assertEquals("completed", r.get("status").asText());
        String side = Json.MAPPER.readTree(r.at("/output/0/content/0/text").asText()).get("side").asText();
        assertTrue(List.of("montague", "capulet").contains(side), side);
        given().contentType(ContentType.JSON).body("{\"input\": \"x\", \"tools\": [{\"type\": \"web_search\"}]}").post("/v1/responses")
                .then().statusCode(400).body(containsString("tools[0].type"));
    }

    @Test
    void aNamedFunctionCallThenItsOutput() throws Exception {
        String tools = "[{\"type\": \"function\", \"name\": \"pick\", \"parameters\": {\"type\": \"object\", \"properties\": "
                + "{\"side\": {\"enum\": [\"montague\", \"capulet\"]}}, \"required\": [\"side\"], \"additionalProperties\": false}}]";
        String request = "{\"model\": \"moa-shakespeare\", \"input\": \"Choose.\", \"tools\": " + tools
                + ", \"tool_choice\": {\"type\": \"function\", \"name\": \"pick\"}, \"max_output_tokens\": 100";
        JsonNode r = Json.MAPPER.readTree(given().contentType(ContentType.JSON).body(request + "}").post("/v1/responses")
                .then().statusCode(200).extract().asString());
        JsonNode item = r.at("/output/0");
        assertEquals("function_call", item.get("type").asText());
        assertEquals("pick", item.get("name").asText());
        String side = Json.MAPPER.readTree(item.get("arguments").asText()).get("side").asText();
        assertTrue(List.of("montague", "capulet").contains(side), side);
        // the conversation goes on with the call's output
        given().contentType(ContentType.JSON).body("{\"model\": \"moa-shakespeare\", \"previous_response_id\": \"" + r.get("id").asText()
                + "\", \"input\": [{\"type\": \"function_call_output\", \"call_id\": \"" + item.get("call_id").asText()
                + "\", \"output\": \"capulet it is\"}], \"max_output_tokens\": 8}").post("/v1/responses").then().statusCode(200);
        // streamed: no text events, the call's arguments events, then response.completed
        dev.moaserve.testing.Sse.Stream s = dev.moaserve.testing.Sse.post(port, "/v1/responses", request + ", \"stream\": true}");
        List<String> types = s.json().stream().map(e -> e.get("type").asText()).toList();
        assertTrue(types.contains("response.function_call_arguments.done"), types.toString());
        assertTrue(!types.contains("response.output_text.delta"), types.toString());
        assertEquals("response.completed", types.get(types.size() - 1));
    }
}
