package dev.moaserve.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** A request may ask for frozen-prefix decoding where the server allows it, and every response says which mode made it. */
@QuarkusTest
@TestProfile(DecodeModeApiTest.FrozenAllowed.class)
class DecodeModeApiTest {
    /** A model whose routing can change inside a window (k_q 4 < w 8), so frozen decoding differs from exact. */
    public static class FrozenAllowed implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.decode-allow", "exact,frozen", "moa.model-path", AsciiTestModel.dir().toAbsolutePath().toString());
        }
    }

    /** AsciiTestModel's routed window. */
    private static final int WINDOW = 8;

    // long enough to fill routed windows past k_q, where exact decoding revises rows and frozen does not
    private static final String PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks? It is the east, "
            + "and Juliet is the sun. Arise, fair sun, and kill the envious moon,\n";

    private static Response completion(String decode, boolean stream) {
        String field = decode == null ? "" : ", \"moa_decode\": \"" + decode + "\"";
        return given().contentType(ContentType.JSON)
                .body("{\"prompt\": \"" + PROMPT.replace("\n", "\\n") + "\", \"max_tokens\": 48, \"temperature\": 0, \"stream\": "
                        + stream + field + "}")
                .post("/v1/completions");
    }

    private static String text(Response r) {
        return r.then().statusCode(200).extract().path("choices[0].text");
    }

    @Test
    void responsesSayWhichModeProducedThem() {
        Response exact = completion(null, false);
        exact.then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "exact");
        Response frozen = completion("frozen", false);
        frozen.then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "frozen");
        completion("frozen", true).then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "frozen")
                .body(containsString("data: [DONE]"));
        given().contentType(ContentType.JSON)
                .body("{\"inputs\": \"To be\", \"parameters\": {\"max_new_tokens\": 8, \"moa_decode\": \"frozen\"}}")
                .post("/generate").then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "frozen");
        given().contentType(ContentType.JSON)
                .body("{\"messages\": [{\"role\": \"user\", \"content\": \"Speak.\"}], \"max_tokens\": 8, \"moa_decode\": \"exact\"}")
                .post("/v1/chat/completions").then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "exact");
    }

    @Test
    void frozenGreedyIsDeterministicAndNotTheExactOutput() {
        String a = text(completion("frozen", false));
        String b = text(completion("frozen", false));
        String exact = text(completion("exact", false));
        assertEquals(a, b, "greedy frozen decoding is deterministic");
        assertFalse(a.isEmpty());
        // not required in general, but on this prompt the approximation shows: a test that the mode is really applied
        assertNotEquals(exact, a, "frozen decoding gave the exact output token for token");
    }

    @Test
    void seededChoicesAndThePrefixCacheWorkInFrozenMode() {
        // a fresh prompt (not cached by the other tests), long enough to cross window boundaries
        String prompt = PROMPT.replace("ROMEO", "JULIET") + "JULIET:\\n";
        String body = "{\"prompt\": \"" + prompt.replace("\n", "\\n") + "\", \"max_tokens\": 12, \"temperature\": 0.9, "
                + "\"seed\": 5, \"n\": 2, \"moa_decode\": \"frozen\"}";
        Response first = given().contentType(ContentType.JSON).body(body).post("/v1/completions");
        first.then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "frozen");
        Response second = given().contentType(ContentType.JSON).body(body).post("/v1/completions");
        for (int i = 0; i < 2; i++) {
            assertEquals(first.<String>path("choices[" + i + "].text"), second.<String>path("choices[" + i + "].text"),
                    "seeded choice " + i + " is reproducible");
        }
        assertNotEquals(first.<String>path("choices[0].text"), first.<String>path("choices[1].text"), "choices use their own seeds");
        int promptTokens = second.path("usage.prompt_tokens");
        assertEquals((promptTokens - 1) / WINDOW * WINDOW, second.<Integer>path("usage.prompt_tokens_details.cached_tokens"),
                "the second request starts from the frozen prefix state the first one left");
        // an exact request with the same prompt never gets a frozen state from the cache
        Response exact = given().contentType(ContentType.JSON).body(body.replace("frozen", "exact")).post("/v1/completions");
        assertEquals(0, exact.<Integer>path("usage.prompt_tokens_details.cached_tokens"));
    }

    @Test
    void anUnknownModeIsA400NamingTheField() {
        completion("fast", false).then().statusCode(400)
                .body("error.param", equalTo("moa_decode"))
                .body("error.message", containsString("\"exact\" or \"frozen\""));
        given().contentType(ContentType.JSON)
                .body("{\"inputs\": \"To be\", \"parameters\": {\"moa_decode\": 3}}")
                .post("/generate").then().statusCode(422);
    }
}
