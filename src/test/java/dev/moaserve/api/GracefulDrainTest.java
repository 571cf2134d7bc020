package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shutdown while streams run: readiness goes DOWN at once, new requests get 503, short streams
 * finish normally, long ones are ended by a clean error event when the grace period ends, and
 * none hangs. (Own profile: the drained application is not reused by other tests.)
 */
@QuarkusTest
@TestProfile(GracefulDrainTest.Own.class)
class GracefulDrainTest {
    public static class Own implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.max-batch-size", "8");
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Inject
    ModelService service;

    @Test
    void drainFinishesOrCleanlyEndsEveryStream() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<Sse.Stream>> streams = new ArrayList<>();
        long deadline = System.nanoTime() + 20_000_000_000L;
        // three long streams first (they cannot finish within the grace period), then three short ones
        for (int round = 0; round < 2; round++) {
            int max = round == 0 ? 240 : 24;
            for (int i = 0; i < 3; i++) {
                streams.add(pool.submit(() -> Sse.post(port, "/v1/completions",
                        "{\"prompt\":\"ROMEO:\",\"max_tokens\":" + max + ",\"temperature\":1,\"stream\":true}")));
            }
            int expected = 3 * (round + 1);
            while (service.scheduler().runningCount() + service.scheduler().waitingCount() < expected
                    && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            assertEquals(expected, service.scheduler().runningCount() + service.scheduler().waitingCount(),
                    "streams not started");
        }
        Thread drain = new Thread(() -> service.drain(Duration.ofMillis(1500)));
        drain.start();
        Thread.sleep(50);
        given().get("/q/health/ready").then().statusCode(503);
        given().contentType(ContentType.JSON).body("{\"prompt\":\"A\",\"max_tokens\":2}").post("/v1/completions")
                .then().statusCode(503).body("error.code", equalTo("unavailable"));
        int completed = 0;
        int ended = 0;
        for (Future<Sse.Stream> f : streams) {
            Sse.Stream s = f.get(20, TimeUnit.SECONDS); // none hangs
            assertEquals(200, s.status());
            List<String> data = s.data();
            assertTrue(!data.isEmpty(), "a stream ended without any event");
            String last = data.get(data.size() - 1);
            if (last.equals("[DONE]")) {
                completed++;
            } else {
                JsonNode err = new com.fasterxml.jackson.databind.ObjectMapper().readTree(last);
                assertTrue(err.has("error"), "stream ended without [DONE] or an error event: " + last);
                ended++;
            }
        }
        drain.join(10_000);
        pool.shutdownNow();
        assertEquals(6, completed + ended);
        assertTrue(completed >= 1, "short streams should finish within the grace period");
        assertTrue(ended >= 1, "long streams must be ended when the grace period is over");
    }
}
