package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * moa.request-timeout through the API, on a server whose timeout no generation can meet (1 ms; each
 * stage's own timeout is tested with a moved clock in RequestPipelineTest): a 504 with code
 * {@code timeout} in each API's error shape before a stream starts, an error event after.
 */
@QuarkusTest
@TestProfile(RequestTimeoutApiTest.OneMillisecond.class)
class RequestTimeoutApiTest {
    public static class OneMillisecond implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.request-timeout", "1ms");
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void anAnswerThatTakesTooLongIsA504() {
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":200}").post("/v1/completions")
                .then().statusCode(504).body("error.code", equalTo("timeout")).body("error.message", containsString("timed out"));
        given().contentType(ContentType.JSON).body("{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":200}}")
                .post("/generate").then().statusCode(504).body("error", containsString("timed out"));
        // prompt scoring and a constraint's compilation end the same way
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO: good morrow, sir\",\"max_tokens\":200,\"echo\":true,"
                + "\"logprobs\":1}").post("/v1/completions").then().statusCode(504).body("error.code", equalTo("timeout"));
        given().contentType(ContentType.JSON).body("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":200,"
                        + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"t\",\"schema\":"
                        + "{\"type\":\"object\",\"properties\":{\"only_here\":{\"type\":\"integer\"}}}}}}")
                .post("/v1/chat/completions").then().statusCode(504).body("error.code", equalTo("timeout"));
    }

    @Test
    void aStreamThatTakesTooLongEndsWithAnErrorEvent() throws Exception {
        Sse.Stream s = Sse.post(port, "/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":200,\"stream\":true}");
        assertEquals(200, s.status(), "accepted before its time ran out");
        var last = s.json().get(s.json().size() - 1);
        assertEquals("timeout", last.at("/error/code").asText(), s.data().toString());
        assertEquals("[DONE]", s.data().get(s.data().size() - 1));
        assertTrue(s.data().size() < 200, "ended early");
    }
}
