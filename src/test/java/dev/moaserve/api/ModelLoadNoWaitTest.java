package dev.moaserve.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code moa.models.wait-for-load=false}: a request for a model that is not loaded starts its load
 * and is answered 503 with Retry-After at once; once the model is loaded, the same request is served.
 */
@QuarkusTest
@TestProfile(ModelLoadNoWaitTest.NoWait.class)
class ModelLoadNoWaitTest {
    static final String ENCODER = "moa-shakespeare-encoder";

    public static class NoWait implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.models", ENCODER + "=" + ENCODER, "moa.models.wait-for-load", "false", "moa.warm-up-requests", "0");
        }
    }

    @Test
    void aRequestForAModelNotLoadedIsToldToComeBack() throws Exception {
        String body = "{\"model\": \"" + ENCODER + "\", \"input\": \"O Romeo\"}";
        given().contentType(ContentType.JSON).body(body).post("/v1/embeddings").then().statusCode(503)
                .header("Retry-After", "1").body("error.code", equalTo("unavailable"));
        long deadline = System.nanoTime() + 60_000_000_000L;
        String status = "";
        while (!status.equals("loaded") && System.nanoTime() < deadline) {
            Thread.sleep(50);
            status = given().get("/v1/models/" + ENCODER).then().statusCode(200).extract().path("status");
        }
        assertEquals("loaded", status, "the refused request started the load");
        given().contentType(ContentType.JSON).body(body).post("/v1/embeddings").then().statusCode(200).body("model", equalTo(ENCODER));
    }
}
