package dev.moaserve.packaged;

import dev.moaserve.testing.Sse;
import dev.moaserve.api.protocol.Json;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM on the packaged server while streams run (the Kubernetes termination contract): readiness
 * DOWN and new requests 503 at once, running streams keep streaming, and every stream ends with
 * {@code [DONE]} (finished) or an error event then {@code [DONE]} (grace over), never cut; the
 * process exits within the grace period plus a few seconds. Nothing here depends on machine speed:
 * a stream may finish or be ended, but it must end properly.
 */
class PackagedDrainIT {
    private static final int STREAMS = 8;
    private static final Duration GRACE = Duration.ofSeconds(4);

    @Test
    void sigtermDrainsEveryStream() throws Exception {
        try (PackagedApp app = PackagedApp.start(Map.of("moa.shutdown-grace", GRACE.toSeconds() + "s"), Duration.ofMinutes(2))) {
            ExecutorService pool = Executors.newFixedThreadPool(STREAMS + 1);
            CountDownLatch allStreaming = new CountDownLatch(STREAMS);
            AtomicInteger afterSigterm = new AtomicInteger();
            long[] sigtermAt = {Long.MAX_VALUE};
            List<Future<Sse.Stream>> streams = new ArrayList<>();
            for (int i = 0; i < STREAMS; i++) {
                String path = i % 2 == 0 ? "/v1/completions" : "/v1/chat/completions";
                String body = i % 2 == 0
                        ? "{\"prompt\":\"ROMEO:\",\"max_tokens\":250,\"temperature\":1,\"seed\":" + i + ",\"stream\":true}"
                        : "{\"messages\":[{\"role\":\"user\",\"content\":\"Speak.\"}],\"max_tokens\":200,\"temperature\":1,"
                                + "\"seed\":" + i + ",\"stream\":true}";
                boolean[] first = {true};
                streams.add(pool.submit(() -> Sse.post(app.port, path, body, d -> {
                    if (first[0]) {
                        first[0] = false;
                        allStreaming.countDown();
                    }
                    if (System.nanoTime() > sigtermAt[0]) {
                        afterSigterm.incrementAndGet();
                    }
                })));
            }
            // a non-streaming request too: it must get its full answer or a 503 error body
            Future<HttpResponse<String>> plain = pool.submit(() -> app.post("/v1/completions",
                    "{\"prompt\":\"JULIET:\",\"max_tokens\":240,\"temperature\":1}"));
            if (!allStreaming.await(2, TimeUnit.MINUTES)) {
                throw new AssertionError("streams did not start:\n" + app.output());
            }

            sigtermAt[0] = System.nanoTime();
            app.terminate();
            // the signal is handled asynchronously: readiness must turn DOWN right after, while streams run
            HttpResponse<String> ready = app.get("/q/health/ready");
            for (long until = System.nanoTime() + 5_000_000_000L; ready.statusCode() == 200 && System.nanoTime() < until; ) {
                Thread.sleep(10);
                ready = app.get("/q/health/ready");
            }
            HttpResponse<String> live = app.get("/q/health/live");
            HttpResponse<String> health = app.get("/health");
            HttpResponse<String> fresh = app.post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2}");
            HttpResponse<String> freshTgi = app.post("/generate", "{\"inputs\":\"A\"}");
            boolean streamsStillOpen = streams.stream().anyMatch(f -> !f.isDone());

            int exit = app.awaitExit(GRACE.plusSeconds(15));
            double exitSeconds = (System.nanoTime() - sigtermAt[0]) / 1e9;
            String log = app.output();
            assertTrue(exit != -1, "the process did not exit after SIGTERM:\n" + log);

            assertEquals(503, ready.statusCode(), "readiness during the drain: " + ready.body());
            assertEquals(200, live.statusCode(), "liveness stays UP while draining: " + live.body());
            assertEquals(503, health.statusCode(), "/health during the drain: " + health.body());
            assertEquals(503, fresh.statusCode(), fresh.body());
            assertEquals("unavailable", Json.MAPPER.readTree(fresh.body()).path("error").path("code").asText(), fresh.body());
            assertEquals(503, freshTgi.statusCode(), freshTgi.body());
            assertEquals("unavailable", Json.MAPPER.readTree(freshTgi.body()).path("error_type").asText(), freshTgi.body());

            int done = 0;
            int ended = 0;
            for (Future<Sse.Stream> f : streams) {
                Sse.Stream s = f.get(10, TimeUnit.SECONDS);
                assertEquals(200, s.status());
                List<String> data = s.data();
                assertTrue(data.size() >= 2, "a stream carried no text: " + data);
                assertEquals("[DONE]", data.get(data.size() - 1), "stream cut without [DONE]: ..." + tail(data));
                JsonNode beforeDone = Json.MAPPER.readTree(data.get(data.size() - 2));
                if (beforeDone.has("error")) {
                    assertEquals("unavailable", beforeDone.path("error").path("code").asText(), beforeDone.toString());
                    ended++;
                } else {
                    assertFalse(beforeDone.path("choices").path(0).path("finish_reason").isNull(),
                            "stream ended without a finish_reason: " + tail(data));
                    done++;
                }
            }
            HttpResponse<String> p = plain.get(10, TimeUnit.SECONDS);
            assertTrue(p.statusCode() == 200 || p.statusCode() == 503, p.statusCode() + " " + p.body());
            JsonNode pb = Json.MAPPER.readTree(p.body());
            assertTrue(p.statusCode() == 200 ? pb.has("choices") : pb.path("error").has("message"), p.body());
            pool.shutdownNow();

            if (streamsStillOpen) { // (always, unless a machine streams 250 tokens within the probes)
                assertTrue(afterSigterm.get() > 0, "streams were open at SIGTERM but sent nothing after it");
            }
            assertTrue(exitSeconds < GRACE.toSeconds() + 8, "exit took " + exitSeconds + " s after SIGTERM");
            assertTrue(log.contains("draining: "), log);
            assertFalse(log.contains("Timed out waiting for graceful shutdown"), log);
            System.out.printf("drain: %d streams finished, %d ended at the grace limit, %d events after SIGTERM, "
                    + "exit %.1f s after SIGTERM (grace %d s)%n", done, ended, afterSigterm.get(), exitSeconds, GRACE.toSeconds());
        }
    }

    private static List<String> tail(List<String> data) {
        return data.subList(Math.max(0, data.size() - 3), data.size());
    }
}
