package dev.moaserve.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** With the default moa.decode-allow only exact decoding is served: asking for frozen is a 400 that says why. */
@QuarkusTest
class DecodeModeNotAllowedTest {
    @Test
    void frozenIsRefusedUnlessAllowed() {
        given().contentType(ContentType.JSON)
                .body("{\"prompt\": \"To be\", \"max_tokens\": 4, \"moa_decode\": \"frozen\"}")
                .post("/v1/completions").then().statusCode(400)
                .body("error.param", equalTo("moa_decode"))
                .body("error.message", containsString("moa.decode-allow"));
        given().contentType(ContentType.JSON)
                .body("{\"prompt\": \"To be\", \"max_tokens\": 4, \"moa_decode\": \"exact\"}")
                .post("/v1/completions").then().statusCode(200).header(ResponseWriter.DECODE_HEADER, "exact");
    }
}
