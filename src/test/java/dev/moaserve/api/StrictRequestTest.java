package dev.moaserve.api;

import dev.moaserve.testing.EmbeddedModel;
import dev.moaserve.testing.Sse;
import dev.moaserve.api.protocol.Json;
import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests are strict and explicit: wrong types, out-of-range values and parameters this server
 * does not implement are 400s naming the field (never accepted and ignored); the cheap, widely used
 * parameters (echo, logit_bias) work; TGI routes answer TGI's error shape; oversized, deeply nested
 * or undecodable bodies and unknown routes are 4xx with error JSON.
 */
@QuarkusTest
class StrictRequestTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static Response post(String path, String json) {
        return given().contentType(ContentType.JSON).body(json).post(path);
    }

    private static void rejects(String path, String json, String param) {
        post(path, json).then().statusCode(400).body("error.type", equalTo("invalid_request_error"))
                .body("error.param", equalTo(param));
    }

    @Test
    void wrongTypesAndRangesNameTheField() {
        rejects("/v1/completions", "{\"prompt\":\"A\",\"stream\":\"yes\"}", "stream");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2.5}", "max_tokens");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"top_k\":1.5}", "top_k");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"seed\":1.5}", "seed");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"seed\":\"7\"}", "seed");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"presence_penalty\":2.5}", "presence_penalty");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"frequency_penalty\":-3}", "frequency_penalty");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"temperature\":1e400}", "temperature");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":18446744073709551617}", "max_tokens");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"logprobs\":6}", "logprobs");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"model\":7}", "model");
        rejects("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"logprobs\":true,"
                + "\"top_logprobs\":21}", "top_logprobs");
        rejects("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_logprobs\":2}",
                "top_logprobs");
        rejects("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"logprobs\":1}", "logprobs");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"stream_options\":{\"include_usage\":true}}", "stream_options");
        // 2.0 is an integer
        post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2.0,\"temperature\":0}").then().statusCode(200)
                .body("usage.completion_tokens", is(2));
    }

    @Test
    void unimplementedParametersAreRejectedNotIgnored() {
        rejects("/v1/completions", "{\"prompt\":\"A\",\"frobnicate\":1}", "frobnicate");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"best_of\":3}", "best_of");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"suffix\":\"end\"}", "suffix");
        // echo with logprobs is implemented (prompt scoring: PromptLogprobsTest); scoring alone is not streamed
        rejects("/v1/completions", "{\"prompt\":\"A\",\"echo\":true,\"logprobs\":1,\"max_tokens\":0,\"stream\":true}", "stream");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":0}", "max_tokens");
        String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],";
        // structured output is implemented and the shipped model's ASCII vocabulary can write JSON
        // (a vocabulary that cannot is refused at request time: StructuredOutputApiTest)
        post("/v1/chat/completions", chat + "\"response_format\":{\"type\":\"json_object\"},\"max_tokens\":4}").then()
                .statusCode(200);
        post("/v1/completions", "{\"prompt\":\"A\",\"structured_outputs\":{\"choice\":[\"ay\",\"nay\"]}}").then().statusCode(200);
        // tool calling is implemented (ToolCallingTest); other kinds of tools are not
        rejects("/v1/chat/completions", chat + "\"tools\":[{\"type\":\"code_interpreter\"}]}", "tools[0].type");
        rejects("/v1/chat/completions", chat + "\"tool_choice\":\"auto\"}", "tool_choice");
        rejects("/v1/chat/completions", chat + "\"functions\":[]}", "functions");
        rejects("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":\"bob\"}]}",
                "messages[0].name");
        // the harmless forms are accepted
        post("/v1/chat/completions", chat + "\"response_format\":{\"type\":\"text\"},\"tools\":[],\"tool_choice\":\"none\","
                + "\"user\":\"u1\",\"max_tokens\":2}").then().statusCode(200);
        post("/v1/completions", "{\"prompt\":\"A\",\"best_of\":1,\"suffix\":null,\"max_tokens\":2}").then().statusCode(200);
    }

    @Test
    void promptAndContentForms() {
        List<Integer> ids = post("/tokenize", "{\"prompt\":\"ROMEO:\"}").then().statusCode(200).extract().path("tokens");
        String byText = post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":8,\"temperature\":0}").path("choices[0].text");
        post("/v1/completions", "{\"prompt\":" + ids + ",\"max_tokens\":8,\"temperature\":0}").then().statusCode(200)
                .body("choices[0].text", equalTo(byText)).body("usage.prompt_tokens", is(ids.size()));
        post("/v1/completions", "{\"prompt\":[\"ROMEO:\"],\"max_tokens\":8,\"temperature\":0}").then().statusCode(200)
                .body("choices[0].text", equalTo(byText));
        rejects("/v1/completions", "{\"prompt\":[1,99999]}", "prompt");
        rejects("/v1/completions", "{\"prompt\":[1,2.5]}", "prompt");
        rejects("/v1/completions", "{\"prompt\":[\"a\",[1]]}", "prompt"); // a list of prompts holds one kind
        rejects("/v1/completions", "{\"prompt\":{}}", "prompt");
        String parts = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Speak\"},"
                + "{\"type\":\"text\",\"text\":\" now.\"}]}],\"max_tokens\":6,\"temperature\":0}";
        String plain = "{\"messages\":[{\"role\":\"user\",\"content\":\"Speak now.\"}],\"max_tokens\":6,\"temperature\":0}";
        assertEquals(post("/v1/chat/completions", plain).<String>path("choices[0].message.content"),
                post("/v1/chat/completions", parts).<String>path("choices[0].message.content"));
        rejects("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                + "\"image_url\":{\"url\":\"http://x\"}}]}]}", "messages[0].content[0].type");
    }

    @Test
    void contextOverflowUsesOpenAiWordingAndCode() {
        int context = EmbeddedModel.CONTEXT;
        post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":" + (context - 5) + "}").then().statusCode(400)
                .body("error.code", equalTo("context_length_exceeded")).body("error.param", equalTo("max_tokens"))
                .body("error.message", equalTo("This model's maximum context length is " + context + " tokens. However, you "
                        + "requested " + (context + 1) + " tokens (6 in the prompt, " + (context - 5) + " for the completion). "
                        + "Please reduce the length of the prompt or completion."));
        String longPrompt = "A".repeat(context + 44);
        post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + longPrompt + "\"}]}").then()
                .statusCode(400).body("error.code", equalTo("context_length_exceeded"))
                .body("error.message", containsString("in the messages"));
    }

    @Test
    void tgiRoutesAnswerTgiErrors() {
        post("/generate", "{\"inputs\":\"A\",\"parameters\":{\"top_k\":1.5}}").then().statusCode(422)
                .body("error_type", equalTo("validation")).body("error", containsString("top_k"));
        post("/generate", "{\"inputs\":\"A\",\"parameters\":{\"grammar\":{\"type\":\"json\"}}}").then().statusCode(422)
                .body("error", containsString("grammar"));
        post("/generate", "{\"inputs\":\"A\",\"parameters\":{\"max_new_tokens\":" + (EmbeddedModel.CONTEXT + 44) + "}}")
                .then().statusCode(422)
                .body("error", startsWith("`inputs` tokens + `max_new_tokens` must be <= " + EmbeddedModel.CONTEXT));
        post("/generate_stream", "{\"inputs\":\"A\",\"parameters\":{\"temperature\":0}}").then().statusCode(422)
                .body("error_type", equalTo("validation"));
        post("/generate", "{\"inputs\":\"A\",\"extra\":1}").then().statusCode(422).body("error", containsString("extra"));
        post("/generate", "{\"inputs\":\"A\"").then().statusCode(422).body("error_type", equalTo("validation"));
    }

    @Test
    void echoAndLogitBiasWork() throws Exception {
        post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4,\"echo\":true,\"temperature\":0}").then()
                .statusCode(200).body("choices[0].text", startsWith("ROMEO:")).body("usage.completion_tokens", is(4));
        Sse.Stream s = Sse.post(port, "/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4,\"echo\":true,\"stream\":true}");
        assertEquals("ROMEO:", s.json().get(0).at("/choices/0/text").asText());
        post("/generate", "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":3,\"return_full_text\":true}}").then()
                .statusCode(200).body("generated_text", startsWith("ROMEO:"));

        int z = post("/tokenize", "{\"prompt\":\"z\"}").path("tokens[0]");
        post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":5,\"temperature\":0,\"logit_bias\":{\"" + z + "\":100}}")
                .then().statusCode(200).body("choices[0].text", equalTo("zzzzz"));
        Response greedy = post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":1,\"temperature\":0,\"logprobs\":1}");
        String first = greedy.path("choices[0].text");
        int firstId = post("/tokenize", "{\"prompt\":" + Json.MAPPER.writeValueAsString(first) + "}").path("tokens[0]");
        String banned = post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":1,\"temperature\":0,\"logit_bias\":{\""
                + firstId + "\":-100}}").path("choices[0].text");
        assertNotEquals(first, banned);
        // sampled too: a token banned by -100 never appears in 40 sampled tokens
        String sampled = post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":40,\"temperature\":1,\"seed\":3,"
                + "\"logit_bias\":{\"" + firstId + "\":-100}}").path("choices[0].text");
        assertTrue(!sampled.contains(first), sampled);
        rejects("/v1/completions", "{\"prompt\":\"A\",\"logit_bias\":{\"999\":1}}", "logit_bias");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"logit_bias\":{\"x\":1}}", "logit_bias");
        rejects("/v1/completions", "{\"prompt\":\"A\",\"logit_bias\":{\"1\":101}}", "logit_bias");
    }

    @Test
    void hostileBodiesAndRoutesGetErrorJson() throws Exception {
        String big = "{\"prompt\":\"" + "A".repeat(1_100_000) + "\"}";
        post("/v1/completions", big).then().statusCode(413).body("error.code", equalTo("request_too_large"));
        post("/generate", big).then().statusCode(413).body("error_type", equalTo("validation"));
        // chunked (no Content-Length): the body handler's limit, same answer
        HttpResponse<String> chunked = Sse.HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(
                        big.getBytes(StandardCharsets.UTF_8)))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, chunked.statusCode());
        assertEquals("request_too_large", Json.MAPPER.readTree(chunked.body()).at("/error/code").asText());

        post("/v1/completions", "[".repeat(5000) + "]".repeat(5000)).then().statusCode(400).body("error.message",
                containsString("malformed JSON"));
        given().contentType(ContentType.JSON).body(new byte[] {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"',
                (byte) 0xff, (byte) 0xfe, '"', '}'}).post("/v1/completions").then().statusCode(400)
                .body("error.type", equalTo("invalid_request_error"));
        given().get("/v1/nothing-here").then().statusCode(404).body("error.code", equalTo("not_found"));
        given().delete("/v1/models").then().statusCode(405).body("error.code", equalTo("method_not_allowed"));
        post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2}").then().statusCode(200);
    }

    @Test
    void operatorInterop() {
        given().get("/health").then().statusCode(200);
        given().get("/v1/health").then().statusCode(200);
        String metrics = given().get("/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.contains("moa_"), "no moa_ metrics at /metrics");
        post("/tokenize", "{\"prompt\":\"To be\",\"return_token_strs\":true}").then().statusCode(200)
                .body("count", is(5)).body("max_model_len", is(EmbeddedModel.CONTEXT)).body("token_strs[0]", equalTo("T"));
        List<Integer> ids = post("/tokenize", "{\"prompt\":\"To be\"}").path("tokens");
        post("/detokenize", "{\"tokens\":" + ids + "}").then().statusCode(200).body("prompt", equalTo("To be"));
        post("/tokenize", "{\"inputs\":\"To be\"}").then().statusCode(200).body("size()", greaterThan(4));
        rejects("/tokenize", "{\"text\":\"x\"}", "text");
    }

    static JsonNode json(String s) throws Exception {
        return Json.MAPPER.readTree(s);
    }
}
