package dev.moaserve.api;

import dev.moaserve.testing.EmbeddedModel;
import dev.moaserve.testing.Sse;
import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
class OpenAiApiTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Inject
    ModelService service;

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).when().post(path);
    }

    @Test
    void listsTheEmbeddedModel() {
        given().when().get("/v1/models").then().statusCode(200)
                .body("object", equalTo("list"))
                .body("data[0].id", equalTo("moa-shakespeare"))
                .body("data[0].object", equalTo("model"))
                .body("data[0].device", equalTo(ai.djl.engine.Engine.getEngine("PyTorch").getGpuCount() > 0 ? "cuda:0" : "cpu"));
        given().when().get("/v1/models/moa-shakespeare").then().statusCode(200).body("id", equalTo("moa-shakespeare"));
        given().when().get("/v1/models/gpt-9").then().statusCode(404).body("error.code", equalTo("model_not_found"));
    }

    @Test
    void greedyCompletionIsDeterministicAndCountsUsage() {
        String body = "{\"model\":\"moa-shakespeare\",\"prompt\":\"ROMEO:\",\"max_tokens\":40,\"temperature\":0}";
        Response a = post("/v1/completions", body);
        a.then().statusCode(200)
                .body("object", equalTo("text_completion"))
                .body("choices[0].finish_reason", equalTo("length"))
                .body("usage.prompt_tokens", equalTo(6))
                .body("usage.completion_tokens", equalTo(40))
                .body("usage.total_tokens", equalTo(46));
        String text = a.path("choices[0].text");
        assertEquals(40, text.length());
        assertEquals(text, post("/v1/completions", body).path("choices[0].text"));
    }

    @Test
    void streamedCompletionEqualsTheNonStreamedOne() throws Exception {
        String base = "\"prompt\":\"JULIET:\\n\",\"max_tokens\":30,\"temperature\":0.8,\"seed\":7";
        String whole = post("/v1/completions", "{" + base + "}").path("choices[0].text");
        Sse.Stream s = Sse.post(port, "/v1/completions", "{" + base + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, s.status());
        assertTrue(s.contentType().startsWith("text/event-stream"), s.contentType());
        assertEquals("[DONE]", s.data().get(s.data().size() - 1));
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (JsonNode chunk : s.json()) {
            assertEquals("text_completion", chunk.get("object").asText());
            for (JsonNode c : chunk.get("choices")) {
                text.append(c.get("text").asText());
                if (!c.get("finish_reason").isNull()) {
                    finish = c.get("finish_reason").asText();
                }
            }
            if (chunk.hasNonNull("usage")) {
                usage = chunk.get("usage");
            }
        }
        assertEquals(whole, text.toString());
        assertEquals("length", finish);
        assertEquals(30, usage.get("completion_tokens").asInt());
    }

    @Test
    void chatCompletionStreamsRoleFirstThenContent() throws Exception {
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Speak, friend.\"}],\"max_tokens\":25,\"temperature\":0";
        Response r = post("/v1/chat/completions", "{" + msgs + "}");
        r.then().statusCode(200).body("object", equalTo("chat.completion"))
                .body("choices[0].message.role", equalTo("assistant"))
                .body("usage.completion_tokens", notNullValue());
        String content = r.path("choices[0].message.content");
        Sse.Stream s = Sse.post(port, "/v1/chat/completions", "{" + msgs + ",\"stream\":true}");
        List<JsonNode> chunks = s.json();
        assertEquals("assistant", chunks.get(0).at("/choices/0/delta/role").asText());
        StringBuilder text = new StringBuilder();
        for (JsonNode c : chunks) {
            assertEquals("chat.completion.chunk", c.get("object").asText());
            text.append(c.at("/choices/0/delta/content").asText(""));
        }
        assertEquals(content, text.toString());
        assertFalse(text.toString().contains("\n\n"), "the chat template's stop string ends the turn");
        assertEquals("[DONE]", s.data().get(s.data().size() - 1));
    }

    @Test
    void stopStringsEndGenerationAndAreNotReturned() throws Exception {
        String body = "{\"prompt\":\"ROMEO:\\n\",\"max_tokens\":200,\"temperature\":0,\"stop\":[\"e\"]}";
        Response r = post("/v1/completions", body);
        r.then().statusCode(200).body("choices[0].finish_reason", equalTo("stop"));
        String text = r.path("choices[0].text");
        assertFalse(text.contains("e"), text);
        // the same stop split across tokens ("th" + "e") is caught, and streaming never leaks it
        Sse.Stream s = Sse.post(port, "/v1/completions", body.replace("[\"e\"]", "[\"the\"]").replace("}", ",\"stream\":true}"));
        StringBuilder streamed = new StringBuilder();
        for (JsonNode c : s.json()) {
            streamed.append(c.at("/choices/0/text").asText(""));
        }
        assertFalse(streamed.toString().contains("the"), streamed.toString());
    }

    @Test
    void completionLogprobsListAlternatives() {
        Response r = post("/v1/completions", "{\"prompt\":\"KING\",\"max_tokens\":3,\"temperature\":0,\"logprobs\":2}");
        r.then().statusCode(200).body("choices[0].logprobs.tokens.size()", is(3))
                .body("choices[0].logprobs.top_logprobs[0].size()", is(2));
        float lp = r.path("choices[0].logprobs.token_logprobs[0]");
        assertTrue(lp <= 0);
    }

    @Test
    void badRequestsGetOpenAiErrorsNamingTheField() {
        post("/v1/completions", "{\"prompt\": \"x\", ").then().statusCode(400)
                .body("error.type", equalTo("invalid_request_error")).body("error.message", containsString("malformed JSON"));
        post("/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}").then().statusCode(404)
                .body("error.code", equalTo("model_not_found")).body("error.param", equalTo("model"));
        post("/v1/completions", "{\"max_tokens\":5}").then().statusCode(400).body("error.param", equalTo("prompt"));
        post("/v1/completions", "{\"prompt\":\"\"}").then().statusCode(400).body("error.param", equalTo("prompt"));
        post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":-1}").then().statusCode(400).body("error.param", equalTo("max_tokens"));
        post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":100000}").then().statusCode(400).body("error.param", equalTo("max_tokens"));
        post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":" + EmbeddedModel.CONTEXT + "}").then().statusCode(400)
                .body("error.code", equalTo("context_length_exceeded"))
                .body("error.message", containsString("maximum context length is " + EmbeddedModel.CONTEXT + " tokens"));
        post("/v1/completions", "{\"prompt\":\"x\",\"temperature\":-0.5}").then().statusCode(400).body("error.param", equalTo("temperature"));
        post("/v1/completions", "{\"prompt\":\"x\",\"top_p\":0}").then().statusCode(400).body("error.param", equalTo("top_p"));
        post("/v1/completions", "{\"prompt\":\"x\",\"top_p\":1.5}").then().statusCode(400).body("error.param", equalTo("top_p"));
        post("/v1/completions", "{\"prompt\":\"x\",\"n\":17}").then().statusCode(400).body("error.param", equalTo("n"));
        post("/v1/completions", "{\"prompt\":\"x\",\"stop\":[1]}").then().statusCode(400).body("error.param", equalTo("stop"));
        post("/v1/completions", "{\"prompt\":\"caf\u00e9 \u2603\"}").then().statusCode(400)
                .body("error.param", equalTo("prompt")).body("error.message", containsString("not in the model's vocabulary"));
        post("/v1/chat/completions", "{\"messages\":[]}").then().statusCode(400).body("error.param", equalTo("messages"));
        post("/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}").then().statusCode(400)
                .body("error.param", equalTo("messages[0].role"));
        post("/v1/completions", "[1,2]").then().statusCode(400).body("error.message", containsString("JSON object"));
        given().contentType(ContentType.TEXT).body("hello").post("/v1/completions").then().statusCode(415);
        // and the server still serves
        post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2}").then().statusCode(200);
    }

    @Test
    void tgiEndpointsGenerateStreamAndTokenize() throws Exception {
        Response g = post("/generate", "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":12}}");
        g.then().statusCode(200).body("details.finish_reason", equalTo("length"))
                .body("details.generated_tokens", equalTo(12)).body("details.tokens.size()", is(12));
        String generated = g.path("generated_text");
        Sse.Stream s = Sse.post(port, "/generate_stream", "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":12}}");
        List<JsonNode> events = s.json();
        assertEquals(12, events.size());
        StringBuilder text = new StringBuilder();
        int index = 0;
        for (JsonNode e : events) {
            assertEquals(++index, e.get("index").asInt(), "TGI numbers its stream events 1, 2, …");
            assertTrue(e.at("/token/id").isIntegralNumber());
            assertTrue(e.at("/token/logprob").asDouble() <= 0);
            text.append(e.at("/token/text").asText());
        }
        assertEquals(generated, text.toString());
        assertEquals(generated, events.get(events.size() - 1).get("generated_text").asText());
        Response t = post("/tokenize", "{\"inputs\":\"To be\"}");
        t.then().statusCode(200).body("size()", is(5)).body("[0].text", equalTo("T")).body("[4].stop", equalTo(5));
        List<Integer> ids = t.path("id");
        post("/detokenize", "{\"ids\":" + ids + "}").then().statusCode(200).body("text", equalTo("To be"));
        post("/detokenize", "{\"ids\":[999]}").then().statusCode(400).body("error.param", equalTo("ids"));
        post("/generate", "{\"parameters\":{}}").then().statusCode(422).body("error_type", equalTo("validation"))
                .body("error", containsString("inputs"));
    }

    /** 32 concurrent streams; greedy and seeded requests give the same text as when run alone. */
    @Test
    void batchingDoesNotChangeResults() throws Exception {
        String greedy = "{\"prompt\":\"HAMLET:\\n\",\"max_tokens\":48,\"temperature\":0}";
        String seeded = "{\"prompt\":\"HAMLET:\\n\",\"max_tokens\":48,\"temperature\":0.9,\"top_p\":0.95,\"seed\":1234}";
        String aloneGreedy = post("/v1/completions", greedy).path("choices[0].text");
        String aloneSeeded = post("/v1/completions", seeded).path("choices[0].text");
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                String body = switch (i % 4) {
                    case 0 -> greedy;
                    case 1 -> seeded;
                    case 2 -> "{\"prompt\":\"To be, or not\",\"max_tokens\":" + (10 + i) + ",\"temperature\":1.0}";
                    default -> "{\"prompt\":\"O\",\"max_tokens\":64,\"temperature\":0.7,\"seed\":" + i + "}";
                };
                String streamBody = body.replace("}", ",\"stream\":true}");
                results.add(pool.submit(() -> {
                    StringBuilder sb = new StringBuilder();
                    for (JsonNode c : Sse.post(port, "/v1/completions", streamBody).json()) {
                        sb.append(c.at("/choices/0/text").asText(""));
                    }
                    return sb.toString();
                }));
            }
            for (int i = 0; i < 32; i++) {
                String text = results.get(i).get();
                if (i % 4 == 0) {
                    assertEquals(aloneGreedy, text, "greedy request " + i);
                } else if (i % 4 == 1) {
                    assertEquals(aloneSeeded, text, "seeded request " + i);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** A client that disconnects mid-stream frees its slot at once. */
    @Test
    void disconnectingClientFreesItsSlot() throws Exception {
        HttpResponse<InputStream> r = Sse.open(port, "/v1/completions",
                "{\"prompt\":\"ROMEO:\",\"max_tokens\":240,\"temperature\":1,\"stream\":true}");
        assertEquals(200, r.statusCode());
        BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        int events = 0;
        while (events < 3) {
            String line = in.readLine();
            if (line != null && line.startsWith("data:")) {
                events++;
            }
        }
        assertEquals(1, service.generator().scheduler().runningCount());
        in.close(); // aborts the HTTP exchange
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (service.generator().scheduler().runningCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, service.generator().scheduler().runningCount(), "slot still held after the client left");
    }

    @Test
    void healthAndMetricsReportTheEngine() {
        post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":3}").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.name", hasItem("model"));
        given().get("/q/health/started").then().statusCode(200);
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        for (String name : List.of("moa_queue_waiting", "moa_sequences_running", "moa_state_bytes",
                "moa_time_to_first_token_seconds", "moa_inter_token_latency_seconds", "moa_request_duration_seconds",
                "moa_prompt_tokens_total", "moa_generated_tokens_total", "moa_batch_size", "moa_requests_total")) {
            assertTrue(metrics.contains(name), name + " missing from /q/metrics");
        }
        assertThat(metrics, not(containsString("NaN\nmoa_sequences_running")));
        assertThat(metrics, containsString("moa_model_info{device=\"cpu\",dtype=\"float32\",model_name=\"" + service.name() + "\"} 1.0"));
    }

    private static void assertThat(String actual, org.hamcrest.Matcher<String> m) {
        org.hamcrest.MatcherAssert.assertThat(actual, m);
    }
}
