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

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * moa.scheduling-policy=priority over HTTP: with the batch full (one slot), a request of a lower
 * priority value that arrives later starts before earlier ones of a higher value.
 */
@QuarkusTest
@TestProfile(PrioritySchedulingTest.OneSlot.class)
class PrioritySchedulingTest {
    public static class OneSlot implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.scheduling-policy", "priority", "moa.max-batch-size", "1", "moa.prefix-cache-bytes", "0");
        }
    }

    @Inject
    ModelService service;

    private static CompletableFuture<Long> finishedAt(String prompt, int priority, int tokens) {
        return CompletableFuture.supplyAsync(() -> {
            given().contentType(ContentType.JSON)
                    .body("{\"prompt\": \"" + prompt + "\", \"max_tokens\": " + tokens + ", \"priority\": " + priority + "}")
                    .post("/v1/completions").then().statusCode(200);
            return System.nanoTime();
        });
    }

    @Test
    void aLowerValueJumpsTheQueue() throws Exception {
        // the order is judged only when all four were queued behind the running request before it
        // ended (a slow machine may not queue them in time: then the scenario runs again)
        boolean judged = false;
        for (int attempt = 0; attempt < 3 && !judged; attempt++) {
            CompletableFuture<Long> running = finishedAt("ROMEO:", 0, 900);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (service.generator().scheduler().runningCount() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            List<CompletableFuture<Long>> background = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                // each runs ≥ 160 steps after the urgent one ends: its client's clock cannot read an earlier end
                background.add(finishedAt("JULIET " + i + ":", 10, 160));
            }
            while (service.generator().scheduler().waitingCount() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            CompletableFuture<Long> urgent = finishedAt("HAMLET:", -1, 40);
            while (service.generator().scheduler().waitingCount() < 4 && !running.isDone() && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            judged = service.generator().scheduler().waitingCount() == 4 && !running.isDone();
            long urgentDone = urgent.get();
            for (CompletableFuture<Long> b : background) {
                long done = b.get();
                if (judged) {
                    assertTrue(done > urgentDone, "a priority 10 request finished before the priority -1 one that arrived after it");
                }
            }
            running.get();
        }
        assertTrue(judged, "the four requests were never all queued behind the running one");
        given().contentType(ContentType.JSON).body("{\"input\": \"To be\", \"priority\": 3}").post("/v1/embeddings")
                .then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"prompt\": \"a\", \"priority\": 2000000}").post("/v1/completions")
                .then().statusCode(400).body(containsString("priority"));
    }
}
