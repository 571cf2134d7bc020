package dev.moaserve.api;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.JsonValue;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.BadRequestException;
import com.anthropic.errors.NotFoundException;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.ContentBlockParam;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.anthropic.models.messages.Tool;
import com.anthropic.models.messages.ToolChoiceAny;
import com.anthropic.models.messages.ToolResultBlockParam;
import com.anthropic.models.messages.ToolUseBlock;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The official Anthropic Java library talks to the server's Messages API unchanged: create and
 * stream (the same text), a forced tool call and its result sent back, count_tokens, and errors
 * in Anthropic's shape.
 */
@QuarkusTest
class AnthropicClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private AnthropicClient client() {
        return AnthropicOkHttpClient.builder().baseUrl("http://localhost:" + port).apiKey("unused").maxRetries(0).build();
    }

    private static MessageCreateParams.Builder ask(String text, long maxTokens) {
        // greedy: this SDK version has no temperature setter, so it goes in as a body property
        return MessageCreateParams.builder().model("moa-shakespeare").maxTokens(maxTokens)
                .putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .system("You are a player in a play.").addUserMessage(text);
    }

    @Test
    void createAndStreamGiveTheSameText() {
        AnthropicClient c = client();
        MessageCreateParams p = ask("What news from Verona?", 24).build();
        Message done = c.messages().create(p);
        assertTrue(done.id().startsWith("msg_"), done.id());
        String text = done.content().get(0).text().orElseThrow().text();
        assertEquals(StopReason.MAX_TOKENS, done.stopReason().orElseThrow());
        assertEquals(24L, done.usage().outputTokens());
        assertTrue(done.usage().inputTokens() > 10);
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = c.messages().createStreaming(p)) {
            s.stream().forEach(acc::accumulate);
        }
        Message streamed = acc.message();
        assertEquals(text, streamed.content().get(0).text().orElseThrow().text());
        assertEquals(StopReason.MAX_TOKENS, streamed.stopReason().orElseThrow());
        assertEquals(24L, streamed.usage().outputTokens());
    }

    @Test
    void aStopSequenceIsNamed() {
        Message m = client().messages().create(ask("Speak.", 200).addStopSequence(" ").build());
        assertEquals(StopReason.STOP_SEQUENCE, m.stopReason().orElseThrow());
        assertEquals(" ", m.stopSequence().orElseThrow());
        assertFalse(m.content().get(0).text().orElseThrow().text().contains(" "));
    }

    @Test
    void aForcedToolCallComesBackAsToolUseAndItsResultContinues() throws Exception {
        AnthropicClient c = client();
        Tool weather = Tool.builder().name("get_weather").description("the weather in a city")
                .inputSchema(Tool.InputSchema.builder()
                        .properties(JsonValue.from(Map.of("city", Map.of("type", "string", "enum", List.of("Verona", "Mantua")))))
                        .required(List.of("city")).build())
                .build();
        // one call (a model not trained to stop would repeat parallel calls to max_tokens: issue of budgets, not of this API)
        MessageCreateParams p = ask("What is the weather in Verona?", 200).addTool(weather)
                .toolChoice(ToolChoiceAny.builder().disableParallelToolUse(true).build()).build();
        for (Message m : List.of(c.messages().create(p), accumulate(c, p))) {
            assertEquals(StopReason.TOOL_USE, m.stopReason().orElseThrow());
            ToolUseBlock call = m.content().stream().map(ContentBlock::toolUse).flatMap(java.util.Optional::stream)
                    .findFirst().orElseThrow(() -> new AssertionError("no tool_use block: " + m.content()));
            assertTrue(call.id().startsWith("toolu_"), call.id());
            assertEquals("get_weather", call.name());
            JsonNode input = JSON.readTree(JSON.writeValueAsString(call._input()));
            assertTrue(List.of("Verona", "Mantua").contains(input.get("city").asText()), input.toString());
        }
        Message first = c.messages().create(p);
        ToolUseBlock call = first.content().get(0).toolUse().orElseThrow();
        Message next = c.messages().create(ask("What is the weather in Verona?", 8).addTool(weather)
                .addMessage(first)
                .addUserMessageOfContentBlockParams(List.of(ContentBlockParam.ofToolResult(
                        ToolResultBlockParam.builder().toolUseId(call.id()).content("sunny").build())))
                .build());
        assertTrue(next.content().get(0).text().isPresent(), next.content().toString());
    }

    private static Message accumulate(AnthropicClient c, MessageCreateParams p) {
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = c.messages().createStreaming(p)) {
            s.stream().forEach(acc::accumulate);
        }
        return acc.message();
    }

    @Test
    void countTokensIsThePromptTheMessagesRouteRenders() {
        AnthropicClient c = client();
        long counted = c.messages().countTokens(MessageCountTokensParams.builder().model("moa-shakespeare")
                .system("You are a player in a play.").addUserMessage("What news from Verona?").build()).inputTokens();
        assertEquals(client().messages().create(ask("What news from Verona?", 1).build()).usage().inputTokens(), counted);
    }

    @Test
    void errorsAreAnthropics() {
        AnthropicClient c = client();
        assertThrows(NotFoundException.class, () -> c.messages().create(MessageCreateParams.builder().model("claude-unknown")
                .maxTokens(4).addUserMessage("hi").build()));
        assertThrows(BadRequestException.class, () -> c.messages().create(ask("hi", 4).putAdditionalBodyProperty("top_k", JsonValue.from(-5)).build()));
        given().contentType(ContentType.JSON).body("{\"model\":\"moa-shakespeare\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
                .post("/v1/messages").then().statusCode(400).body("type", equalTo("error"))
                .body("error.type", equalTo("invalid_request_error")).body("error.message", equalTo("'max_tokens' is required"));
        given().contentType(ContentType.JSON).body("{\"model\":\"moa-shakespeare\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\","
                        + "\"content\":[{\"type\":\"image\",\"source\":{}}]}]}")
                .post("/v1/messages").then().statusCode(400).body("error.type", equalTo("invalid_request_error"));
        // Claude Code's shape: a system message inside messages, cache_control marks, anthropic headers, ?beta=true
        given().contentType(ContentType.JSON).header("anthropic-version", "2023-06-01").header("anthropic-beta", "x")
                .body("{\"model\":\"moa-shakespeare\",\"max_tokens\":4,\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                        + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}")
                .post("/v1/messages?beta=true").then().statusCode(200).body("type", equalTo("message"))
                .body("stop_reason", equalTo("max_tokens"));
    }
}
