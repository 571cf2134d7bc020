package dev.moaserve.packaged;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.testing.Sse;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar serving three models from one port — the shipped generator (loaded at start),
 * the shipped encoder and a second copy of the generator — under a budget that holds two
 * generators but not all three: chat and embeddings at once; the third loads on demand and the
 * idle one goes while the busy one's stream runs to [DONE]; scrapes load nothing; and the memory
 * an unloaded model held goes back to the system (VmRSS from /proc).
 */
class PackagedMultiModelIT {
    private static final String START = "moa-shakespeare";
    private static final String ENCODER = "moa-shakespeare-encoder";
    private static final String COPY = "shakespeare-copy";

    private static String status(PackagedApp app, String model) throws Exception {
        HttpResponse<String> r = app.get("/v1/models/" + model);
        assertEquals(200, r.statusCode(), r.body());
        return Json.parse(r.body()).get("status").asText();
    }

    private static void ok(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void oneProcessServesAGeneratorAndAnEncoderAndLoadsAThirdWithoutCuttingAStream() throws Exception {
        try (PackagedApp app = PackagedApp.start(Map.of("moa.models", ENCODER + "=" + ENCODER + "," + COPY + "=moa-shakespeare",
                "moa.models.memory-budget", "140000000", "moa.max-batch-size", "8", "moa.prefix-cache-bytes", "32M",
                "moa.warm-up-requests", "0"), Duration.ofSeconds(90))) {
            ok(app.get("/q/metrics"));
            assertEquals("unloaded", status(app, ENCODER), "a scrape loads nothing");

            // chat and embeddings at once, from one port
            CompletableFuture<HttpResponse<String>> embeddings = CompletableFuture.supplyAsync(() -> call(() -> app.post("/v1/embeddings",
                    "{\"model\": \"" + ENCODER + "\", \"input\": [\"O Romeo, Romeo\", \"wherefore art thou\"]}")));
            ok(app.post("/v1/chat/completions", "{\"model\": \"" + START + "\", \"messages\": [{\"role\": \"user\", "
                    + "\"content\": \"Speak.\"}], \"max_tokens\": 16}"));
            HttpResponse<String> e = embeddings.get();
            ok(e);
            assertEquals(2, Json.parse(e.body()).get("data").size());

            // a long stream on the start model; the copy's first request needs room: the idle encoder goes
            CompletableFuture<Sse.Stream> stream = CompletableFuture.supplyAsync(() -> call(() -> Sse.post(app.port, "/v1/completions",
                    "{\"model\": \"" + START + "\", \"prompt\": \"ROMEO:\", \"max_tokens\": 1000, \"n\": 4, \"stream\": true}")));
            Thread.sleep(200);
            assertFalse(stream.isDone(), "the stream runs");
            ok(app.post("/v1/completions", "{\"model\": \"" + COPY + "\", \"prompt\": \"JULIET:\", \"max_tokens\": 32}"));
            assertEquals("loaded", status(app, COPY));
            assertEquals("loaded", status(app, START));
            assertEquals("unloaded", status(app, ENCODER));
            Sse.Stream s = stream.get();
            assertEquals("[DONE]", s.data().get(s.data().size() - 1));
            assertTrue(s.json().stream().noneMatch(j -> j.has("error")), "no error event");
            ok(app.get("/metrics"));
            assertEquals("unloaded", status(app, ENCODER), "a scrape loads nothing");

            // the copy's memory goes back when it unloads, load after load
            ok(app.post("/v1/models/unload", "{\"model\": \"" + COPY + "\"}"));
            long base = settledRss(app);
            for (int round = 1; round <= 2; round++) {
                for (int i = 0; i < 8; i++) {
                    ok(app.post("/v1/completions", "{\"model\": \"" + COPY + "\", \"prompt\": \"KING:" + i + "\", \"max_tokens\": 64, \"n\": 8}"));
                }
                long loaded = settledRss(app);
                HttpResponse<String> u = app.post("/v1/models/unload", "{\"model\": \"" + COPY + "\"}");
                ok(u);
                assertEquals("unloaded", Json.parse(u.body()).get("status").asText());
                long after = settledRss(app);
                String figures = String.format("round %d: RSS without the copy %d MiB, with it %d MiB, after unloading it %d MiB",
                        round, base >> 20, loaded >> 20, after >> 20);
                System.out.println(figures);
                assertTrue(after <= base + (32L << 20), figures);
            }
            JsonNode listed = Json.parse(app.get("/v1/models").body());
            assertEquals(List.of(START, ENCODER, COPY), listed.findValuesAsText("id"));
        }
    }

    /** RSS once it stops moving (the JIT and the heap settle after a burst). */
    private static long settledRss(PackagedApp app) throws InterruptedException {
        long last = app.rss();
        for (int i = 0; i < 20; i++) {
            Thread.sleep(150);
            long now = app.rss();
            if (Math.abs(now - last) < (1 << 20)) {
                return now;
            }
            last = now;
        }
        return last;
    }

    private interface Call<T> {
        T run() throws Exception;
    }

    private static <T> T call(Call<T> c) {
        try {
            return c.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
