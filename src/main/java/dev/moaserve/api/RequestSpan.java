package dev.moaserve.api;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;

import java.util.List;

/**
 * One OpenTelemetry span per generation request (tracing is off unless enabled: then Quarkus
 * makes it a child of the HTTP server span, which continues the caller's W3C {@code traceparent}).
 * Attributes follow OpenTelemetry's GenAI conventions where they have a name for it
 * ({@code gen_ai.*}); TTFT, cached tokens and the outcome are ours ({@code moa.*}).
 */
final class RequestSpan {
    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("gen_ai.operation.name");
    static final AttributeKey<String> REQUEST_MODEL = AttributeKey.stringKey("gen_ai.request.model");
    static final AttributeKey<String> RESPONSE_MODEL = AttributeKey.stringKey("gen_ai.response.model");
    static final AttributeKey<String> RESPONSE_ID = AttributeKey.stringKey("gen_ai.response.id");
    static final AttributeKey<Long> INPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.input_tokens");
    static final AttributeKey<Long> OUTPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.output_tokens");
    static final AttributeKey<List<String>> FINISH_REASONS = AttributeKey.stringArrayKey("gen_ai.response.finish_reasons");
    static final AttributeKey<Long> CACHED_TOKENS = AttributeKey.longKey("moa.usage.cached_tokens");
    static final AttributeKey<Double> TTFT_MS = AttributeKey.doubleKey("moa.ttft_ms");
    static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("moa.outcome");
    static final AttributeKey<String> API = AttributeKey.stringKey("moa.api");
    /** The response's x-request-id: the client's own, or the response id. */
    static final AttributeKey<String> REQUEST_ID = AttributeKey.stringKey("moa.request_id");

    private final Span span;

    private RequestSpan(Span span) {
        this.span = span;
    }

    /**
     * Starts the span as a child of the current context (the HTTP server span), named for its
     * GenAI operation ({@code chat}, {@code text_completion}) and model, as the conventions name it.
     */
    static RequestSpan start(Tracer tracer, String operation, String api, String model, String id, String requestId) {
        Span span = tracer.spanBuilder(operation + " " + model).setSpanKind(SpanKind.INTERNAL)
                .setAttribute(OPERATION, operation).setAttribute(REQUEST_MODEL, model).setAttribute(API, api)
                .setAttribute(RESPONSE_ID, id).setAttribute(REQUEST_ID, requestId).startSpan();
        return new RequestSpan(span);
    }

    /** Ends the span with the request's outcome; an error or timeout marks it failed. */
    void end(String model, int promptTokens, int cachedTokens, int generatedTokens, double ttftMs, String outcome,
             List<String> finishReasons, String error) {
        span.setAttribute(RESPONSE_MODEL, model);
        span.setAttribute(INPUT_TOKENS, (long) promptTokens);
        span.setAttribute(CACHED_TOKENS, (long) cachedTokens);
        span.setAttribute(OUTPUT_TOKENS, (long) generatedTokens);
        if (ttftMs >= 0) {
            span.setAttribute(TTFT_MS, ttftMs);
        }
        span.setAttribute(OUTCOME, outcome);
        span.setAttribute(FINISH_REASONS, finishReasons);
        if (error != null) {
            span.setStatus(StatusCode.ERROR, error);
        }
        span.end();
    }
}
