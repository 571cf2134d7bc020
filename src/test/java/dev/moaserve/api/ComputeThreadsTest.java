package dev.moaserve.api;

import dev.moaserve.api.protocol.Json;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Only the engine's loop computes on every core: the threads that compute beside it (embeddings,
 * prompt scoring, routing) never open an OpenMP team, whose mere existence halves the loop's step
 * speed ({@link dev.moaserve.model.Djl#sideThread}). A team's workers carry the name of the thread
 * that opened it, so on Linux the threads' names tell.
 */
@QuarkusTest
class ComputeThreadsTest {
    private static final String TEXT = "First Citizen:\nBefore we proceed any further, hear me speak. You are all resolved "
            + "rather to die than to famish? Let us kill him, and we'll have corn at our own price. Is't a verdict? No more "
            + "talking on't; let it be done: away, away! One word, good citizens. We are accounted poor citizens.";

    /** Threads of this process by name (Linux truncates names to 15 characters). */
    static Map<String, Integer> threadNames() throws IOException {
        Map<String, Integer> names = new HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    names.merge(Files.readString(t.resolve("comm")).trim(), 1, Integer::sum);
                } catch (IOException gone) {
                    // the thread ended meanwhile
                }
            }
        }
        return names;
    }

    private static boolean onePerName(Map<String, Integer> names) {
        return Integer.valueOf(1).equals(names.get("moa-embeddings")) && Integer.valueOf(1).equals(names.get("moa-prompt-scor"))
                && Integer.valueOf(1).equals(names.get("moa-routing"));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void threadsBesideTheEngineNeverOpenATeam() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc to name threads");
        given().contentType(ContentType.JSON).body("{\"input\": [" + Json.write(TEXT) + ", " + Json.write(TEXT + TEXT) + "]}")
                .post("/v1/embeddings").then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"prompt\": " + Json.write(TEXT) + ", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 1}")
                .post("/v1/completions").then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"prompt\": " + Json.write(TEXT) + ", \"max_tokens\": 16, \"return_routing\": true}")
                .post("/v1/completions").then().statusCode(200);
        // a team's workers live as long as the thread that opened it; threads of an application an
        // earlier test profile started may still be ending, so allow them a moment to go
        Map<String, Integer> names = threadNames();
        for (int i = 0; i < 30 && !onePerName(names); i++) {
            sleep(100);
            names = threadNames();
        }
        assertEquals(1, names.get("moa-embeddings"), names.toString());
        assertEquals(1, names.get("moa-prompt-scor"), names.toString());
        assertEquals(1, names.get("moa-routing"), names.toString());
    }
}
