package dev.moaserve.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.bench.Soak;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A short soak against the test server: a mix of routes and sampling settings, half the clients
 * vanishing mid-stream; no errors, and no running sequence left once the load stops (every vanished
 * client freed its slot). The five-minute soak of the packaged server is in docs/performance.md.
 */
@QuarkusTest
class SoakSmokeTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void vanishingClientsLeaveNothingRunning() throws Exception {
        ObjectNode r = new Soak("http://localhost:" + port, 6, 2, ProcessHandle.current().pid())
                .run(4, 1, System.out);
        assertEquals(0, r.get("errors").asLong(), r.toString());
        assertTrue(r.get("aborted").asLong() >= 1, "no client vanished: " + r);
        assertEquals(0.0, r.get("running_after_end").asDouble(), r.toString());
        assertTrue(r.get("rss_end_bytes").asLong() > 0, r.toString());
    }
}
