package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.moaserve.engine.constraint.SchemaGen;
import dev.moaserve.engine.constraint.SchemaValidation;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Structured output through the real server, on a model whose vocabulary can write JSON: outputs
 * of generated schemas validate (an independent validator, formats asserted), streamed and not,
 * n > 1; regex and choice outputs match; TGI's grammar works; unconstrained neighbours are not
 * affected; what cannot be honoured is a 400 naming it.
 */
@QuarkusTest
@TestProfile(StructuredOutputApiTest.AsciiModel.class)
class StructuredOutputApiTest {
    public static class AsciiModel implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.model-path", AsciiTestModel.dir().toAbsolutePath().toString());
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void generatedSchemasGiveValidOutputsStreamedAndNot() throws Exception {
        Random random = new Random(3);
        int complete = 0;
        int total = 0;
        for (int i = 0; i < 16; i++) {
            ObjectNode schema = SchemaGen.schema(random, 1);
            while (!schema.toString().chars().allMatch(ch -> ch < 127)) {
                schema = SchemaGen.schema(random, 1); // this model writes ASCII only (that case: whatCannotBeHonoured…)
            }
            boolean stream = i % 3 == 0;
            ObjectNode body = chat("Give me JSON.", 400, i);
            body.putObject("response_format").put("type", "json_schema").putObject("json_schema")
                    .put("name", "s" + i).set("schema", schema);
            body.put("stream", stream);
            Output out = stream ? streamedChat(body) : chatOutput(body);
            total++;
            if (out.finish().equals("stop")) {
                complete++;
                assertValid(schema, out.text());
            } else {
                assertEquals("length", out.finish(), out.text());
            }
        }
        assertTrue(complete >= total * 3 / 4, complete + " of " + total + " completed");
    }

    @Test
    void jsonObjectRegexAndChoice() throws Exception {
        ObjectNode obj = chat("An object:", 300, 1);
        obj.putObject("response_format").put("type", "json_object");
        Output o = chatOutput(obj);
        if (o.finish().equals("stop")) {
            assertTrue(JSON.readTree(o.text()).isObject(), o.text());
        }
        for (int seed = 0; seed < 4; seed++) {
            ObjectNode regex = completion("Code:", 20, seed);
            regex.putObject("structured_outputs").put("regex", "[A-C]{2}-\\d{3}(x|yz)");
            Response r = post("/v1/completions", regex);
            String text = r.path("choices[0].text");
            assertTrue(text.matches("[A-C]{2}-\\d{3}(x|yz)"), text);
            assertEquals("stop", r.path("choices[0].finish_reason"));
            ObjectNode choice = completion("Answer:", 20, seed);
            choice.putObject("structured_outputs").putArray("choice").add("yes").add("no").add("not sure");
            String picked = post("/v1/completions", choice).path("choices[0].text");
            assertTrue(List.of("yes", "no", "not sure").contains(picked), picked);
        }
    }

    @Test
    void tgiGrammarStreamedAndNot() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":9}},"
                + "\"required\":[\"ok\",\"n\"],\"additionalProperties\":false}";
        String body = "{\"inputs\":\"State:\",\"parameters\":{\"max_new_tokens\":40,\"do_sample\":true,\"seed\":5,"
                + "\"grammar\":{\"type\":\"json\",\"value\":" + schema + "}}}";
        String text = given().contentType(ContentType.JSON).body(body).post("/generate").then().statusCode(200)
                .extract().path("generated_text");
        assertValid(JSON.readTree(schema), text);
        Sse.Stream s = Sse.post(port, "/generate_stream", body);
        JsonNode last = s.json().get(s.json().size() - 1);
        assertEquals(text, last.path("generated_text").asText(), "the stream's text equals the non-streamed one (same seed)");
        String regex = "{\"inputs\":\"Id:\",\"parameters\":{\"max_new_tokens\":20,\"grammar\":{\"type\":\"regex\",\"value\":\"[0-9]{4}\"}}}";
        String id = given().contentType(ContentType.JSON).body(regex).post("/generate").then().statusCode(200).extract().path("generated_text");
        assertTrue(id.matches("[0-9]{4}"), id);
        given().contentType(ContentType.JSON)
                .body("{\"inputs\":\"x\",\"parameters\":{\"grammar\":{\"type\":\"regex\",\"value\":\"(?=a)b\"}}}")
                .post("/generate").then().statusCode(422).body("error", containsString("lookaround"));
    }

    @Test
    void nChoicesEachValidAndNeighboursUnaffected() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
                + "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\",\"c\"]},\"maxItems\":3}},\"required\":[\"name\",\"tags\"]}";
        ObjectNode n = completion("Record:", 120, 9);
        n.put("n", 3);
        n.putObject("response_format").put("type", "json_schema").putObject("json_schema").put("name", "r")
                .set("schema", JSON.readTree(schema));
        Response r = post("/v1/completions", n);
        for (int i = 0; i < 3; i++) {
            assertEquals("stop", r.path("choices[" + i + "].finish_reason"));
            assertValid(JSON.readTree(schema), r.path("choices[" + i + "].text"));
        }
        // a seeded unconstrained request gives the same text alone and beside constrained ones
        ObjectNode plain = completion("Plain:", 60, 42);
        String alone = post("/v1/completions", plain).path("choices[0].text");
        List<CompletableFuture<Response>> neighbours = new ArrayList<>();
        // their own threads: the common pool may have one on a small machine, and would send them one at a time
        ExecutorService clients = Executors.newFixedThreadPool(4);
        for (int i = 0; i < 4; i++) {
            ObjectNode c = completion("Record:", 120, 100 + i);
            c.putObject("response_format").put("type", "json_schema").putObject("json_schema").put("name", "r")
                    .set("schema", JSON.readTree(schema));
            neighbours.add(CompletableFuture.supplyAsync(() -> post("/v1/completions", c), clients));
        }
        String beside = post("/v1/completions", plain).path("choices[0].text");
        for (CompletableFuture<Response> f : neighbours) {
            f.get();
        }
        clients.shutdown();
        assertEquals(alone, beside);
    }

    @Test
    void theOfficialClientsStructuredOutputCall() throws Exception {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).build();
        ResponseFormatJsonSchema.JsonSchema.Schema schema = ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string", "maxLength", 10),
                        "population", Map.of("type", "integer", "minimum", 0, "maximum", 99999))))
                .putAdditionalProperty("required", JsonValue.from(List.of("city", "population")))
                .putAdditionalProperty("additionalProperties", JsonValue.from(false)).build();
        ChatCompletion done = client.chat().completions().create(ChatCompletionCreateParams.builder().model(AsciiTestModel.NAME)
                .addUserMessage("A city?").maxCompletionTokens(120).seed(1L)
                .responseFormat(ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
                        .name("city").schema(schema).strict(true).build()).build()).build());
        String content = done.choices().get(0).message().content().orElseThrow();
        JsonNode value = JSON.readTree(content);
        assertTrue(value.path("city").isTextual() && value.path("population").canConvertToInt(), content);
    }

    @Test
    void whatCannotBeHonouredIsA400NamingIt() {
        ObjectNode bad = chat("x", 20, 1);
        bad.putObject("response_format").put("type", "json_schema").putObject("json_schema").put("name", "b")
                .putObject("schema").put("type", "string").put("contentMediaType", "image/png");
        post(bad, 400).body("error.param", equalTo("response_format.json_schema.schema"))
                .body("error.message", containsString("contentMediaType"));
        ObjectNode outside = completion("x", 20, 1);
        outside.putObject("structured_outputs").put("regex", "caf\u00e9");
        post(outside, 400).body("error.message", containsString("vocabulary cannot produce"));
        ObjectNode grammar = completion("x", 20, 1);
        grammar.putObject("structured_outputs").put("grammar", "root ::= \"a\"");
        post(grammar, 400).body("error.param", equalTo("structured_outputs.grammar"));
        ObjectNode both = completion("x", 20, 1);
        both.putObject("structured_outputs").put("regex", "a");
        both.putObject("response_format").put("type", "json_object");
        post(both, 400).body("error.message", containsString("not both"));
    }

    @Test
    void compiledConstraintsAreCachedAndCounted() {
        ObjectNode a = completion("x", 10, 1);
        a.putObject("structured_outputs").put("regex", "[a-z]{3}counted");
        post("/v1/completions", a);
        double compiles = metric("moa_structured_output_compiles_total");
        double hits = metric("moa_structured_output_cache_hits_total");
        post("/v1/completions", a);
        assertEquals(compiles, metric("moa_structured_output_compiles_total"), "compiled once");
        assertEquals(hits + 1, metric("moa_structured_output_cache_hits_total"));
    }

    private static double metric(String name) {
        String m = given().get("/q/metrics").then().statusCode(200).extract().asString();
        return m.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{")).mapToDouble(l ->
                Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElseThrow(() -> new AssertionError(name));
    }

    record Output(String text, String finish) {}

    private static ObjectNode chat(String content, int max, long seed) {
        ObjectNode b = JSON.createObjectNode();
        b.putArray("messages").addObject().put("role", "user").put("content", content);
        b.put("max_tokens", max).put("seed", seed).put("temperature", 1.0);
        return b;
    }

    private static ObjectNode completion(String prompt, int max, long seed) {
        ObjectNode b = JSON.createObjectNode();
        b.put("prompt", prompt).put("max_tokens", max).put("seed", seed).put("temperature", 1.0);
        return b;
    }

    private static Response post(String path, ObjectNode body) {
        Response r = given().contentType(ContentType.JSON).body(body.toString()).post(path);
        assertEquals(200, r.statusCode(), r.asString());
        return r;
    }

    private static io.restassured.response.ValidatableResponse post(ObjectNode body, int status) {
        String path = body.has("messages") ? "/v1/chat/completions" : "/v1/completions";
        return given().contentType(ContentType.JSON).body(body.toString()).post(path).then().statusCode(status);
    }

    private static Output chatOutput(ObjectNode body) {
        Response r = post("/v1/chat/completions", body);
        return new Output(r.path("choices[0].message.content"), r.path("choices[0].finish_reason"));
    }

    private Output streamedChat(ObjectNode body) throws Exception {
        Sse.Stream s = Sse.post(port, "/v1/chat/completions", body.toString());
        assertEquals(200, s.status(), body + " → " + s.data());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (JsonNode chunk : s.json()) {
            JsonNode c = chunk.path("choices").path(0);
            text.append(c.path("delta").path("content").asText(""));
            if (c.hasNonNull("finish_reason")) {
                finish = c.get("finish_reason").asText();
            }
        }
        return new Output(text.toString(), finish);
    }

    private static void assertValid(JsonNode schema, String text) throws Exception {
        SchemaValidation.assertValid(schema, text);
    }
}
