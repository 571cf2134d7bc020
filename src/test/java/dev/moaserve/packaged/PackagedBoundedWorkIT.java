package dev.moaserve.packaged;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Work a careless or hostile client asks for, within the documented limits, on the packaged
 * server (default settings): a large embeddings request completes with every row while the
 * process's resident memory (sampled from /proc) stays within the documented bound and returns
 * near idle afterwards, and a chat request answers meanwhile; an embeddings request over the
 * per-request token bound is a 400 naming it; constraints that are costly to compile answer
 * (400 or 200) near the compile deadline, and the server still generates afterwards.
 */
class PackagedBoundedWorkIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MIB = 1 << 20;

    @Test
    void largeRequestsStayBounded() throws Exception {
        String text = shakespeare();
        try (PackagedApp app = PackagedApp.start(Map.of(), Duration.ofMinutes(2))) {
            assertEquals(200, app.post("/v1/embeddings", body(text, 4)).statusCode()); // warm
            long idle = app.rss();

            AtomicLong peak = new AtomicLong(idle);
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (sampling.get()) {
                    peak.accumulateAndGet(app.rss(), Math::max);
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.start();
            int inputs = 160; // 62,400 tokens of realistic length: tens of micro-batches
            CompletableFuture<HttpResponse<String>> big = CompletableFuture.supplyAsync(() -> {
                try {
                    return app.post("/v1/embeddings", body(text, inputs));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(1_000);
            long t0 = System.nanoTime();
            HttpResponse<String> chat = app.post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"ROMEO:\"}],\"max_tokens\":8}");
            double chatSeconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(200, chat.statusCode(), chat.body());
            HttpResponse<String> r = big.get(3, TimeUnit.MINUTES);
            sampling.set(false);
            sampler.join();
            assertEquals(200, r.statusCode(), r.body());
            JsonNode data = JSON.readTree(r.body()).get("data");
            assertEquals(inputs, data.size());
            for (int i = 0; i < inputs; i++) {
                assertEquals(i, data.get(i).get("index").asInt());
            }
            assertTrue(big.isDone());
            Thread.sleep(1_000);
            long after = app.rss();
            System.out.printf("bounded work: idle %d MiB, peak %d MiB, after %d MiB; chat answered in %.2f s during the embeddings%n",
                    idle / MIB, peak.get() / MIB, after / MIB, chatSeconds);
            assertTrue(peak.get() <= idle + 2048 * MIB, "peak " + peak.get() / MIB + " MiB over idle " + idle / MIB + " MiB + 2 GiB");
            assertTrue(after <= idle + 512 * MIB, "after " + after / MIB + " MiB over idle " + idle / MIB + " MiB + 512 MiB");
            assertTrue(chatSeconds < 30, "a chat request waited " + chatSeconds + " s behind embeddings");

            // over the per-request token bound: a clear 400, at once
            HttpResponse<String> tooMany = app.post("/v1/embeddings", body(text, 2_000));
            assertEquals(400, tooMany.statusCode(), tooMany.body());
            assertTrue(tooMany.body().contains("moa.embeddings.max-request-tokens"), tooMany.body());

            // constraints cheap to send and costly to compile: answered near the 2 s deadline
            List<String> costly = new ArrayList<>();
            costly.add("{\"prompt\":\"A\",\"max_tokens\":4,\"structured_outputs\":{\"regex\":\"(a|b)*a(a|b){18}\"}}");
            ArrayNode words = JSON.createArrayNode();
            for (int i = 0; i < 5_000; i++) {
                words.add("word" + i);
            }
            costly.add("{\"prompt\":\"A\",\"max_tokens\":4,\"structured_outputs\":{\"json\":{\"enum\":" + words + "}}}");
            ArrayNode choices = JSON.createArrayNode();
            for (int i = 0; i < 40_000; i++) {
                choices.add("choice " + i);
            }
            costly.add("{\"prompt\":\"A\",\"max_tokens\":4,\"structured_outputs\":{\"choice\":" + choices + "}}");
            ArrayNode branches = JSON.createArrayNode();
            for (int i = 0; i < 60; i++) {
                ObjectNode o = branches.addObject().put("type", "object");
                o.putObject("properties").putObject("k" + i).put("type", "string");
                o.putArray("required").add("k" + i);
            }
            costly.add("{\"prompt\":\"A\",\"max_tokens\":4,\"structured_outputs\":{\"json\":{\"oneOf\":" + branches + "}}}");
            for (String request : costly) {
                long s0 = System.nanoTime();
                HttpResponse<String> c = app.post("/v1/completions", request);
                double seconds = (System.nanoTime() - s0) / 1e9;
                assertTrue(c.statusCode() == 200 || c.statusCode() == 400, c.statusCode() + " " + c.body());
                assertTrue(seconds < 20, "a constraint answered after " + seconds + " s: " + c.body());
            }
            assertEquals(200, app.post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4}").statusCode());
            assertTrue(app.isAlive());
        }
    }

    /**
     * Off-loop work returns its memory: after 64 routed choices of ~1,000 tokens (return_routing,
     * traced by the step program's full forward) and a burst of prompt scoring (echo with
     * logprobs), the process's resident memory is back within idle + 512 MiB.
     */
    @Test
    void routingAndScoringBurstsReturnTheirMemory() throws Exception {
        String text = shakespeare();
        try (PackagedApp app = PackagedApp.start(Map.of(), Duration.ofMinutes(2))) {
            assertEquals(200, app.post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":100}").statusCode()); // warm
            Thread.sleep(500);
            long idle = app.rss();
            List<CompletableFuture<HttpResponse<String>>> routed = new ArrayList<>();
            for (int i = 0; i < 8; i++) { // 8 requests of n = 8: 64 routed choices
                int at = i;
                routed.add(CompletableFuture.supplyAsync(() -> post(app, routed(text, at, 8))));
            }
            for (CompletableFuture<HttpResponse<String>> f : routed) {
                HttpResponse<String> r = f.get(5, TimeUnit.MINUTES);
                assertEquals(200, r.statusCode(), r.body());
                JsonNode choices = JSON.readTree(r.body()).get("choices");
                assertEquals(8, choices.size());
                for (JsonNode c : choices) {
                    assertTrue(c.get("routing").has("queries"), c.get("routing").toString());
                }
            }
            Thread.sleep(1_000);
            long afterRouting = app.rss();
            for (int i = 0; i < 6; i++) {
                String prompt = text.substring(i * 1_000, i * 1_000 + 500);
                HttpResponse<String> r = app.post("/v1/completions", JSON.createObjectNode().put("prompt", prompt)
                        .put("max_tokens", 0).put("echo", true).put("logprobs", 1).toString());
                assertEquals(200, r.statusCode(), r.body());
            }
            Thread.sleep(1_000);
            long afterScoring = app.rss();
            System.out.printf("off-loop work: idle %d MiB, after 64 routed choices %d MiB, after prompt scoring %d MiB%n",
                    idle / MIB, afterRouting / MIB, afterScoring / MIB);
            assertTrue(afterRouting <= idle + 512 * MIB, "after routing " + afterRouting / MIB + " MiB, idle " + idle / MIB + " MiB");
            assertTrue(afterScoring <= idle + 512 * MIB, "after scoring " + afterScoring / MIB + " MiB, idle " + idle / MIB + " MiB");
        }
    }

    /** A completion of ~1,000 tokens in all (900 of prompt), n choices, each with its routing. */
    private static String routed(String text, int i, int n) {
        return JSON.createObjectNode().put("prompt", text.substring(i * 2_000, i * 2_000 + 900)).put("max_tokens", 100)
                .put("n", n).put("temperature", 0.8).put("seed", i).put("return_routing", true).toString();
    }

    private static HttpResponse<String> post(PackagedApp app, String body) {
        try {
            return app.post("/v1/completions", body);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String body(String text, int inputs) {
        ObjectNode b = JSON.createObjectNode();
        ArrayNode in = b.putArray("input");
        for (int i = 0; i < inputs; i++) {
            int from = (i * 397) % (text.length() - 400);
            in.add(text.substring(from, from + 390));
        }
        return b.toString();
    }

    private static String shakespeare() throws Exception {
        Path data = Path.of("..", "shared", "data", "tinyshakespeare.txt");
        if (Files.exists(data)) {
            return Files.readString(data).substring(0, 300_000);
        }
        StringBuilder s = new StringBuilder();
        while (s.length() < 300_000) {
            s.append("ROMEO:\nBut, soft! what light through yonder window breaks? It is the east, and Juliet is the sun.\n");
        }
        return s.toString();
    }
}
