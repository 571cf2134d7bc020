package dev.moaserve.api;

import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.service.AiServices;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A LangChain4j AI service with a {@code @Tool}, unchanged, against the server: with the tool
 * required, the model's call reaches the Java method with arguments the schema allows, and the
 * service goes on with its result.
 */
@QuarkusTest
class LangChain4jToolTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    /** The tool the service may call; it records what it was called with. */
    public static class Tides {
        final List<String> calls = new ArrayList<>();

        @Tool("the tide at a harbour")
        public String tide(@P("the harbour") Harbour harbour) {
            calls.add(String.valueOf(harbour));
            return "high water at noon";
        }
    }

    public enum Harbour { VENICE, GENOA }

    interface Assistant {
        String chat(String message);
    }

    @Test
    void anAiServiceCallsItsTool() {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .modelName("moa-shakespeare").temperature(0.0).maxTokens(120).timeout(Duration.ofSeconds(60))
                .defaultRequestParameters(dev.langchain4j.model.openai.OpenAiChatRequestParameters.builder()
                        .toolChoice(ToolChoice.REQUIRED).build())
                .parallelToolCalls(false).maxRetries(0).build();
        Tides tides = new Tides();
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(model).tools(tides).maxSequentialToolsInvocations(1)
                .build();
        try {
            assistant.chat("When is the tide at Venice?");
        } catch (RuntimeException stopped) {
            // with the tool required, the service asks for a call again after the result, up to its limit: expected here
        }
        assertFalse(tides.calls.isEmpty(), "the tool was called");
        for (String h : tides.calls) {
            assertTrue(List.of("VENICE", "GENOA").contains(h), h);
        }
    }
}
