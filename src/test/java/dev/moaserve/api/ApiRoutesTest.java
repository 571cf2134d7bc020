package dev.moaserve.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Routes and identity: a path the API does not have is a 404 whatever the method; a path it has,
 * asked with another method, a 405 naming the methods it answers; every response carries an
 * x-request-id (the client's own, else the request's id).
 */
@QuarkusTest
class ApiRoutesTest {
    @Test
    void anUnknownPathIsA404WhateverTheMethod() {
        for (String path : new String[] {"/v1/chat/completion", "/v1/message", "/v1/nothing/here"}) {
            given().contentType(ContentType.JSON).body("{}").post(path).then().statusCode(404)
                    .contentType(ContentType.JSON).body("error.code", equalTo("not_found"))
                    .body("error.message", containsString(path));
            given().get(path).then().statusCode(404).body("error.code", equalTo("not_found"));
        }
    }

    @Test
    void aKnownPathWithTheWrongMethodIsA405WithAllow() {
        given().get("/v1/completions").then().statusCode(405).header("Allow", "POST")
                .contentType(ContentType.JSON).body("error.code", equalTo("method_not_allowed"));
        given().contentType(ContentType.JSON).body("{}").delete("/v1/chat/completions").then().statusCode(405).header("Allow", "POST");
        given().contentType(ContentType.JSON).body("{}").post("/v1/models").then().statusCode(405).header("Allow", "GET, HEAD");
        given().delete("/v1/models/anything").then().statusCode(405).header("Allow", "GET, HEAD");
    }

    @Test
    void aRemoteTokenizerFindsWhatItReads() {
        // lm-eval's RemoteTokenizer: GET /tokenizer_info with an eos_token key, then /tokenize and /detokenize in vLLM's shapes
        given().get("/tokenizer_info").then().statusCode(200).body("containsKey('eos_token')", equalTo(true))
                .body("model_max_length", equalTo(dev.moaserve.testing.EmbeddedModel.CONTEXT))
                .body("vocab_size", equalTo(dev.moaserve.testing.EmbeddedModel.VOCAB));
        java.util.List<Integer> ids = given().contentType(ContentType.JSON).body("{\"prompt\": \"test\", \"add_special_tokens\": false}")
                .post("/tokenize").then().statusCode(200).extract().path("tokens");
        assertEquals(4, ids.size());
        given().contentType(ContentType.JSON).body("{\"tokens\": " + ids + "}").post("/detokenize").then().statusCode(200)
                .body("prompt", equalTo("test"));
    }

    @Test
    void everyResponseCarriesARequestId() {
        Response r = given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":2}").post("/v1/completions");
        assertEquals(200, r.statusCode());
        assertEquals(r.jsonPath().getString("id"), r.header("x-request-id"), "without the client's own: the response id");
        given().contentType(ContentType.JSON).header("X-Request-Id", "trace-me-7")
                .body("{\"prompt\":\"ROMEO:\",\"max_tokens\":2}").post("/v1/completions")
                .then().statusCode(200).header("x-request-id", "trace-me-7");
        given().header("x-request-id", "mine").get("/v1/models").then().statusCode(200).header("x-request-id", "mine");
        String made = given().get("/v1/models").then().statusCode(200).extract().header("x-request-id");
        assertNotNull(made);
        assertTrue(made.startsWith("req-"), made);
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":0}").post("/v1/completions")
                .then().statusCode(400).header("x-request-id", startsWith("req-"));
        given().post("/v1/unknown").then().statusCode(404).header("x-request-id", startsWith("req-"));
        // an id that cannot be echoed safely is replaced
        given().header("x-request-id", "x".repeat(300)).get("/v1/models").then().header("x-request-id", startsWith("req-"));
        // streamed: the header comes with the stream's head
        given().contentType(ContentType.JSON).body("{\"prompt\":\"ROMEO:\",\"max_tokens\":2,\"stream\":true}")
                .post("/v1/completions").then().statusCode(200).header("x-request-id", startsWith("cmpl-"));
    }
}
