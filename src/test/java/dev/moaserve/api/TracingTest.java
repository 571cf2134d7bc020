package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With tracing on, each generation request is one span carrying the model, token counts, TTFT and
 * outcome, in the caller's trace (W3C traceparent), under the HTTP server span.
 */
@QuarkusTest
@TestProfile(TracingTest.TracingOn.class)
class TracingTest {
    public static class TracingOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.otel.sdk.disabled", "false", "quarkus.otel.exporter.otlp.enabled", "false",
                    "quarkus.otel.bsp.schedule.delay", "50ms");
        }
    }

    /** Spans land here instead of an OTLP collector. */
    @ApplicationScoped
    static class InMemoryExporter {
        @Produces
        @Singleton
        InMemorySpanExporter exporter() {
            return InMemorySpanExporter.create();
        }
    }

    @Inject
    InMemorySpanExporter exporter;

    @Inject
    ModelService service;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void aCompletionIsOneSpanInTheCallersTrace() throws Exception {
        String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        String parentId = "00f067aa0ba902b7";
        int prompt = given().contentType(ContentType.JSON).header("traceparent", "00-" + traceId + "-" + parentId + "-01")
                .body("{\"prompt\":\"ROMEO:\",\"max_tokens\":5}").post("/v1/completions")
                .then().statusCode(200).extract().path("usage.prompt_tokens");
        SpanData span = await("text_completion " + service.name(), traceId);
        assertEquals(SpanKind.INTERNAL, span.getKind());
        var a = span.getAttributes();
        assertEquals(service.name(), a.get(RequestSpan.REQUEST_MODEL));
        assertEquals("text_completion", a.get(RequestSpan.OPERATION));
        assertEquals((long) prompt, a.get(RequestSpan.INPUT_TOKENS));
        assertEquals(5L, a.get(RequestSpan.OUTPUT_TOKENS));
        assertEquals("length", a.get(RequestSpan.OUTCOME));
        assertEquals(List.of("length"), a.get(RequestSpan.FINISH_REASONS));
        assertTrue(a.get(RequestSpan.TTFT_MS) > 0, "ttft " + a.get(RequestSpan.TTFT_MS));
        assertTrue(a.get(RequestSpan.RESPONSE_ID).startsWith("cmpl-"));
        assertEquals(a.get(RequestSpan.RESPONSE_ID), a.get(RequestSpan.REQUEST_ID), "no x-request-id sent: the response id");
        // its parent is the HTTP server span, whose parent is the caller's span
        SpanData server = exporter.getFinishedSpanItems().stream()
                .filter(s -> s.getSpanId().equals(span.getParentSpanId())).findFirst()
                .orElseThrow(() -> new AssertionError("no parent span among " + names()));
        assertEquals(SpanKind.SERVER, server.getKind());
        assertEquals(parentId, server.getParentSpanId());
    }

    @Test
    void aStreamedChatEndsItsSpanWithTheOutcome() throws Exception {
        Sse.Stream s = Sse.post(port, "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Speak.\"}],\"max_tokens\":4,\"stream\":true}");
        assertEquals(200, s.status());
        SpanData span = awaitOf("chat " + service.name(), "chat");
        assertEquals(4L, span.getAttributes().get(RequestSpan.OUTPUT_TOKENS));
        assertEquals("chat", span.getAttributes().get(RequestSpan.OPERATION));
        assertEquals("chat", span.getAttributes().get(RequestSpan.API));
    }

    @Test
    void aResponsesSpanIsAChatWithTheClientsRequestId() throws Exception {
        given().contentType(ContentType.JSON).header("x-request-id", "client-id-42")
                .body("{\"input\":\"Speak.\",\"max_output_tokens\":3}").post("/v1/responses")
                .then().statusCode(200).header("x-request-id", "client-id-42");
        SpanData span = awaitOf("chat " + service.name(), "responses");
        assertEquals("client-id-42", span.getAttributes().get(RequestSpan.REQUEST_ID));
        assertTrue(span.getAttributes().get(RequestSpan.RESPONSE_ID).startsWith("resp_"));
    }

    private SpanData awaitOf(String name, String api) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<SpanData> found = exporter.getFinishedSpanItems().stream()
                    .filter(s -> s.getName().equals(name) && api.equals(s.getAttributes().get(RequestSpan.API))).findFirst();
            if (found.isPresent()) {
                return found.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no span " + name + " of " + api + " among " + names());
    }

    private SpanData await(String name, String traceId) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<SpanData> found = exporter.getFinishedSpanItems().stream()
                    .filter(s -> s.getName().equals(name) && (traceId == null || s.getTraceId().equals(traceId)))
                    .findFirst();
            if (found.isPresent()) {
                return found.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no span '" + name + "' in trace " + traceId + "; spans: " + names());
    }

    private List<String> names() {
        return exporter.getFinishedSpanItems().stream().map(s -> s.getName() + "@" + s.getTraceId()).toList();
    }
}
