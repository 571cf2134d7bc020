package dev.moaserve.api;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The official OpenAI Java library talks to the server unchanged: completions and chat, stream and not. */
@QuarkusTest
class OpenAiClientTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private OpenAIClient client() {
        return OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @Test
    void completionsStreamAndNot() {
        OpenAIClient c = client();
        CompletionCreateParams p = CompletionCreateParams.builder().model("moa-shakespeare").prompt("ROMEO:")
                .maxTokens(24).temperature(0.0).build();
        Completion done = c.completions().create(p);
        String text = done.choices().get(0).text();
        assertEquals(24, text.length());
        assertEquals(24L, done.usage().orElseThrow().completionTokens());
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<Completion> s = c.completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> streamed.append(ch.text())));
        }
        assertEquals(text, streamed.toString());
    }

    @Test
    void chatStreamAndNot() {
        OpenAIClient c = client();
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model("moa-shakespeare")
                .addUserMessage("What news?").maxCompletionTokens(20).temperature(0.0).build();
        ChatCompletion done = c.chat().completions().create(p);
        String content = done.choices().get(0).message().content().orElse("");
        assertTrue(done.usage().orElseThrow().completionTokens() > 0);
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = c.chat().completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertEquals(content, streamed.toString());
    }

    @Test
    void unknownModelIsANotFoundError() {
        NotFoundException e = assertThrows(NotFoundException.class, () -> client().completions().create(
                CompletionCreateParams.builder().model("gpt-4o").prompt("x").build()));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
}
