package dev.moaserve.packaged;

import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar with keys from a file (as a mounted Kubernetes Secret gives them) and metrics
 * protected: no key, no API, whatever the spelling; probes stay open; a rotated file takes effect
 * without a restart; a key file that is missing stops the server instead of serving open.
 */
class PackagedAuthIT {
    private static final String GENERATE = "{\"inputs\":\"ROMEO:\",\"parameters\":{\"max_new_tokens\":3}}";

    @Test
    void keysFromAFileGuardEverythingButTheProbes() throws Exception {
        Path keys = Files.createTempFile("moa-it-keys", ".txt");
        Files.writeString(keys, "# mounted from a Secret\nit-key-1\n");
        try (PackagedApp app = PackagedApp.start(Map.of("moa.api-keys-file", keys.toString(), "moa.protect-metrics", "true",
                "moa.warm-up-requests", "64"), Duration.ofMinutes(2))) {
            for (String path : new String[] {"/generate", "/generate/", "/generate//", "/generate/.", "/generate;a=1",
                    "/x/../generate", "/v1/completions/", "/tokenize/", "/detokenize;a=1"}) {
                HttpResponse<String> r = app.send("POST", path, GENERATE);
                assertEquals(401, r.statusCode(), path + ": " + r.body());
                assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), path);
            }
            assertEquals(401, app.get("/v1/models").statusCode());
            assertEquals(401, app.get("/q/metrics").statusCode(), "moa.protect-metrics");
            assertEquals(401, app.get("/metrics").statusCode(), "moa.protect-metrics");
            assertEquals(200, app.get("/q/health/live").statusCode());
            assertEquals(200, app.get("/health").statusCode());

            HttpResponse<String> ok = app.send("POST", "/generate", GENERATE, "Authorization", "bearer it-key-1");
            assertEquals(200, ok.statusCode(), ok.body());
            assertTrue(ok.body().contains("generated_text"), ok.body());
            assertEquals(200, app.send("GET", "/q/metrics", null, "Authorization", "Bearer it-key-1").statusCode());
            assertTrue(!app.output().contains("it-key-1"), "the key is never logged");
            // its own warm-up requests passed without a client key (they carry the process's warm-up key)
            assertTrue(app.output().contains("warm-up: 64 requests over loopback (0 failed)"), app.output());

            Files.writeString(keys, "it-key-2\n");
            Files.setLastModifiedTime(keys, FileTime.fromMillis(System.currentTimeMillis() + 2_000));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            int status = 0;
            while (System.nanoTime() < deadline && (status = app.send("GET", "/v1/models", null,
                    "Authorization", "Bearer it-key-2").statusCode()) != 200) {
                Thread.sleep(200);
            }
            assertEquals(200, status, "the rotated key is accepted without a restart");
            assertEquals(401, app.send("GET", "/v1/models", null, "Authorization", "Bearer it-key-1").statusCode(),
                    "the old key is not");
        } finally {
            Files.deleteIfExists(keys);
        }
    }

    @Test
    void aMissingKeyFileStopsTheServer() throws Exception {
        Path absent = Path.of("target", "no-such-keys-file");
        try (PackagedApp app = PackagedApp.launch(Map.of("moa.api-keys-file", absent.toString()))) {
            int exit = app.awaitExit(Duration.ofMinutes(1));
            assertNotEquals(-1, exit, "still running with a missing key file:\n" + app.output());
            assertNotEquals(0, exit);
            assertTrue(app.output().contains("moa.api-keys-file"), app.output());
        }
    }
}
