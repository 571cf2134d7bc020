package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** With one slot and a queue of one, a third request is refused with 429 and Retry-After. */
@QuarkusTest
@TestProfile(BackpressureTest.TinyQueue.class)
class BackpressureTest {
    public static class TinyQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.max-batch-size", "1", "moa.max-queue", "1", "moa.api-keys", "k1,k2");
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Inject
    ModelService service;

    @Test
    void overloadGets429AndKeysAreChecked() throws Exception {
        given().contentType(ContentType.JSON).body("{\"prompt\":\"A\"}").post("/v1/completions").then().statusCode(401)
                .body("error.code", equalTo("invalid_api_key"));
        given().header("Authorization", "Bearer nope").contentType(ContentType.JSON).body("{\"prompt\":\"A\"}")
                .post("/v1/completions").then().statusCode(401);
        String longOne = "{\"prompt\":\"ROMEO:\",\"max_tokens\":240,\"temperature\":1,\"stream\":true}";
        HttpResponse<InputStream> running = open(longOne);
        HttpResponse<InputStream> queued = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (service.generator().scheduler().runningCount() < 1 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        try {
            queued = open(longOne);
            while (service.generator().scheduler().waitingCount() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            given().header("Authorization", "Bearer k2").contentType(ContentType.JSON)
                    .body("{\"prompt\":\"A\",\"max_tokens\":2}").post("/v1/completions")
                    .then().statusCode(429).header("Retry-After", notNullValue())
                    .body("error.code", equalTo("rate_limit_exceeded"));
        } finally {
            running.body().close();
            if (queued != null) {
                queued.body().close();
            }
        }
        while ((service.generator().scheduler().runningCount() > 0 || service.generator().scheduler().waitingCount() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, service.generator().scheduler().runningCount());
        given().header("Authorization", "Bearer k1").contentType(ContentType.JSON).body("{\"prompt\":\"A\",\"max_tokens\":2}")
                .post("/v1/completions").then().statusCode(200);
        given().get("/q/health/live").then().statusCode(200);
    }

    private HttpResponse<InputStream> open(String body) throws Exception {
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://localhost:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer k1")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build();
        return Sse.HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
    }
}
