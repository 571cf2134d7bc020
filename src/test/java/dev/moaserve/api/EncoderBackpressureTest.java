package dev.moaserve.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An encoder's embeddings queue of one: with the worker busy and one request waiting, the next gets 429; all recover. */
@QuarkusTest
@TestProfile(EncoderBackpressureTest.TinyQueue.class)
class EncoderBackpressureTest {
    public static class TinyQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.model-path", EncoderServingTest.dir().toAbsolutePath().toString(), "moa.max-queue", "1");
        }
    }

    @Inject
    ModelService service;

    /** A request the worker needs a while for: 2,048 inputs of 56 characters. */
    private static String heavy() {
        List<String> inputs = new ArrayList<>();
        for (int i = 0; i < 2048; i++) {
            inputs.add("\"abcdefghij klmnopqrst uvwxyz abcdefghij klmnopqrst uvwxyz\"");
        }
        return "{\"input\": [" + String.join(",", inputs) + "]}";
    }

    @Test
    void aFullQueueGets429AndTheServerRecovers() throws Exception {
        String body = heavy();
        List<CompletableFuture<Integer>> sent = new ArrayList<>();
        long deadline = System.nanoTime() + 60_000_000_000L;
        boolean refused = false;
        // Own threads: the common pool has one thread on a 2-core machine, which would send the
        // heavy requests one at a time, so none would ever wait behind another.
        ExecutorService clients = Executors.newFixedThreadPool(4);
        // keep the worker busy and one heavy request waiting until a probe is refused
        while (!refused && System.nanoTime() < deadline) {
            if (sent.stream().filter(f -> !f.isDone()).count() < 3) {
                sent.add(CompletableFuture.supplyAsync(
                        () -> given().contentType(ContentType.JSON).body(body).post("/v1/embeddings").statusCode(), clients));
            }
            if (service.loaded().embedder().waitingCount() >= 1) {
                var r = given().contentType(ContentType.JSON).body("{\"input\": \"abc\"}").post("/v1/embeddings");
                if (r.statusCode() == 429) {
                    r.then().header("Retry-After", notNullValue()).body("error.code", equalTo("rate_limit_exceeded"));
                    refused = true;
                }
            } else {
                Thread.sleep(2);
            }
        }
        assertTrue(refused, "no request was refused while the queue was full");
        for (CompletableFuture<Integer> f : sent) {
            int status = f.get();
            assertTrue(status == 200 || status == 429, "status " + status);
        }
        clients.shutdown();
        assertEquals(0, service.loaded().embedder().waitingCount());
        given().contentType(ContentType.JSON).body("{\"input\": \"abc\"}").post("/v1/embeddings").then().statusCode(200);
    }
}
