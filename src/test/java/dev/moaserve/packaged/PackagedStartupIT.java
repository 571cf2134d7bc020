package dev.moaserve.packaged;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Startup of the packaged server as a process: liveness and started answer as soon as the port is
 * open, generation is a clear 503 (never a hang) until readiness is UP (loading, then its own
 * warm-up requests over loopback), then it serves; a model
 * that cannot load ends the process with exit 1 and one clear line, never a live-but-never-ready
 * server. Asserts no timing: whether the loading window is caught depends on the machine, and both
 * outcomes are checked for what they must be.
 */
class PackagedStartupIT {
    @Test
    void answersAtOnceAndServesWhenReady() throws Exception {
        // with the HTTP warm-up (off by default): its requests are the server's own, never counted
        try (PackagedApp app = PackagedApp.launch(Map.of("moa.warm-up-requests", "64"))) {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            boolean sawLoading = false;
            int servedEarly = 0; // requests that found it ready while it was polled
            boolean ready = false;
            while (!ready && System.nanoTime() < deadline) {
                assertTrue(app.isAlive(), app.output());
                HttpResponse<String> live;
                try {
                    live = app.get("/q/health/live");
                } catch (IOException notListeningYet) {
                    Thread.sleep(5);
                    continue;
                }
                assertEquals(200, live.statusCode(), "liveness answers as soon as the port is open: " + live.body());
                assertEquals(200, app.get("/q/health/started").statusCode());
                ready = app.get("/q/health/ready").statusCode() == 200;
                if (!ready) {
                    HttpResponse<String> early = app.post("/v1/completions", "{\"prompt\":\"A\",\"max_tokens\":2}");
                    if (early.statusCode() == 503) {
                        sawLoading = true;
                        assertTrue(early.body().contains("still loading") || early.body().contains("still warming up"), early.body());
                        assertEquals("1", early.headers().firstValue("Retry-After").orElse(""), "Retry-After while loading");
                        int health = app.get("/health").statusCode(); // 503 unless it became ready just now
                        assertTrue(health == 503 || app.get("/q/health/ready").statusCode() == 200, "/health " + health);
                    } else {
                        assertEquals(200, early.statusCode(), early.body()); // became ready in between
                        servedEarly++;
                    }
                }
            }
            assertTrue(ready, "never ready:\n" + app.output());
            // the 64 warm-up requests are the server's own: right after readiness the served counters count
            // only the client requests that found it ready (one prompt token, at most 2 generated each)
            String metrics = app.get("/metrics").body();
            int served = servedEarly;
            for (String counted : List.of("vllm:e2e_request_latency_seconds_count", "vllm:generation_tokens_total",
                    "vllm:prompt_tokens_total", "moa_time_to_first_token_seconds_count", "moa_prefix_cache_queries_total")) {
                List<String> lines = metrics.lines().filter(l -> l.startsWith(counted + " ") || l.startsWith(counted + "{")).toList();
                assertFalse(lines.isEmpty(), counted + " is not exported:\n" + metrics);
                double value = Double.parseDouble(lines.get(0).substring(lines.get(0).lastIndexOf(' ') + 1));
                assertTrue(value <= 2 * served, counted + " after readiness, " + served + " client requests served: " + lines);
            }
            String e2e = "vllm:e2e_request_latency_seconds_count{model_name=\"moa-shakespeare\"} ";
            assertTrue(metrics.lines().anyMatch(l -> l.equals(e2e + served + ".0") || l.equals(e2e + served)),
                    served + " requests served before: " + metrics);
            HttpResponse<String> r = app.post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4}");
            assertEquals(200, r.statusCode(), r.body());
            String log = app.output();
            assertTrue(log.contains("after JVM start"), log);
            // the start model was loaded beside Quarkus' boot (dev.moaserve.api.EarlyStart), from the
            // same settings the server read: loaded once, never again
            assertFalse(log.contains("loading it again") || log.contains("loads after Quarkus' boot"), log);
            assertEquals(1, log.lines().filter(l -> l.contains("model moa-shakespeare ready on")).count(), log);
            // the server warmed its own HTTP path before readiness, and its warm-up requests left no request lines
            assertTrue(log.contains("warm-up: 64 requests over loopback (0 failed)"), log);
            // (cut at the warm-up's own line: a client request that found it ready may log before the probe says UP)
            String warmingUp = log.substring(0, log.indexOf("warm-up: 64 requests"));
            assertFalse(warmingUp.contains("RequestLog]"), "warm-up request lines at INFO:\n" + warmingUp);
            System.out.println("startup: loading window " + (sawLoading ? "observed (503 while loading)" : "not observed")
                    + "; " + log.lines().filter(l -> l.contains("ready on")).findFirst().orElse(""));
        }
    }

    /**
     * A setting the early load cannot see (a config file named by quarkus.config.locations, which
     * only Quarkus reads) still wins: the model loaded beside the boot is freed and loaded again
     * with the server's settings.
     */
    @Test
    void aSettingOnlyQuarkusReadsStillWins() throws Exception {
        java.nio.file.Path extra = java.nio.file.Files.createTempFile("moa-extra", ".properties");
        java.nio.file.Files.writeString(extra, "moa.max-batch-size=8\n");
        try (PackagedApp app = PackagedApp.start(Map.of("quarkus.config.locations", extra.toUri().toString(),
                "moa.warm-up-requests", "0"), Duration.ofMinutes(2))) {
            String log = app.output();
            assertTrue(log.contains("loading it again"), log);
            List<String> loads = log.lines().filter(l -> l.contains("model moa-shakespeare ready on")).toList();
            assertTrue(loads.get(loads.size() - 1).contains("(8 slots)"), "served with the server's settings: " + loads);
            HttpResponse<String> r = app.post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4}");
            assertEquals(200, r.statusCode(), r.body());
        } finally {
            java.nio.file.Files.deleteIfExists(extra);
        }
    }

    @Test
    void aModelThatCannotLoadEndsTheProcess() throws Exception {
        try (PackagedApp app = PackagedApp.launch(Map.of("moa.model-path", "/nonexistent/model"))) {
            int exit = app.awaitExit(Duration.ofMinutes(2));
            String log = app.output();
            assertEquals(1, exit, "exit code; log:\n" + log);
            assertTrue(log.contains("cannot serve: ") && log.contains("/nonexistent/model"), log);
            assertFalse(log.contains("\tat dev.moaserve"), "a stack trace instead of one line:\n" + log);
        }
        // a decode-state pool the device cannot hold: the error names the setting to lower
        try (PackagedApp app = PackagedApp.launch(Map.of("moa.max-batch-size", "1000000000"))) {
            int exit = app.awaitExit(Duration.ofMinutes(2));
            String log = app.output();
            assertEquals(1, exit, "exit code; log:\n" + log);
            assertTrue(log.contains("cannot allocate the decode-state pool") && log.contains("lower moa.max-batch-size"), log);
        }
        // a reference case (config + safetensors, no tokenizer): loadable for verify, not servable
        String tiny = java.nio.file.Path.of("src/test/resources/reference/tiny").toAbsolutePath().toString();
        try (PackagedApp app = PackagedApp.launch(Map.of("moa.model-path", tiny))) {
            int exit = app.awaitExit(Duration.ofMinutes(2));
            String log = app.output();
            assertEquals(1, exit, "exit code; log:\n" + log);
            assertTrue(log.contains("has no tokenizer: serving needs vocab.json"), log);
            assertFalse(log.contains("\tat dev.moaserve"), "a stack trace instead of one line:\n" + log);
        }
    }
}
