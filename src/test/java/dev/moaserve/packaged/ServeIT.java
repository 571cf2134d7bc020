package dev.moaserve.packaged;

import io.quarkus.test.junit.QuarkusIntegrationTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.notNullValue;

/**
 * The packaged application, started by Quarkus' integration-test launcher, serving each route
 * family once. Under {@code -Paot} (JDK 25) this is also the workload that trains the AOT cache.
 */
@QuarkusIntegrationTest
class ServeIT {
    /** The model loads in the background (moa.load-in-background): wait for readiness first. */
    private static void waitUntilReady() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (given().get("/q/health/ready").statusCode() != 200) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not ready within 2 minutes");
            }
            Thread.sleep(50);
        }
    }

    @Test
    void servesEveryRouteFamily() throws InterruptedException {
        waitUntilReady();
        given().get("/v1/models").then().statusCode(200).body("data[0].id", notNullValue());
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":8,\"temperature\":0.8,\"seed\":1}")
                .post("/v1/completions").then().statusCode(200).body("usage.completion_tokens", is(8));
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":8,\"stream\":true}")
                .post("/v1/completions").then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"messages\":[{\"role\":\"user\",\"content\":\"Speak.\"}],\"max_tokens\":8,"
                + "\"n\":2}").post("/v1/chat/completions").then().statusCode(200).body("choices.size()", is(2));
        given().contentType(ContentType.JSON).body("{\"inputs\":\"HAMLET:\",\"parameters\":{\"max_new_tokens\":8}}")
                .post("/generate").then().statusCode(200).body("details.generated_tokens", is(8));
        given().contentType(ContentType.JSON).body("{\"prompt\":\"To be\"}").post("/tokenize").then().statusCode(200)
                .body("count", is(5));
        given().contentType(ContentType.JSON).body("{\"prompt\":\"A\",\"stream\":\"yes\"}").post("/v1/completions").then()
                .statusCode(400).body("error.param", equalTo("stream"));
        given().get("/metrics").then().statusCode(200);
    }
}
