package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ChoiceOutput;
import dev.moaserve.api.protocol.GenerationSpec;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.api.protocol.Renderer;
import dev.moaserve.api.protocol.Reply;
import dev.moaserve.api.protocol.RoutingJson;
import dev.moaserve.api.protocol.ServedModel;
import dev.moaserve.api.protocol.TokenEvent;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.RequestFailure;
import dev.moaserve.engine.RequestHandle;
import dev.moaserve.engine.RequestState;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.RoutingTrace;
import io.vertx.core.http.HttpServerResponse;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes one request's answer from the engine's events (on the request's Vert.x context): an SSE
 * stream or one JSON body, in the format its protocol's {@link Renderer} gives; an engine failure
 * becomes its API's error (a status before the stream starts, an error event after); writes the
 * request's log line and span when it ends. A completions request with several prompts is several
 * engine requests ("parts"), their choices numbered prompt-major in one answer.
 */
final class ResponseWriter {
    /** Says which decode mode produced a response ("exact" or "frozen"), so approximate output is never mistaken for exact. */
    static final String DECODE_HEADER = "X-Moa-Decode";

    private final HttpServerResponse response;
    private final Protocol protocol;
    private final GenerationSpec spec;      // the first part's: the options every part shares
    private final List<GenerationSpec> parts;
    private final int[] offsets;            // each part's first choice index
    private final RequestHandle[] handles;
    private final String id;
    private final List<ChoiceOutput> outs = new ArrayList<>();
    private final Renderer renderer;
    private final Reply reply;
    private final long startNanos = System.nanoTime();
    private final RequestSpan span;
    private final Logger.Level logLevel;
    private final String requestId;
    private boolean logged;
    private boolean headersSent;
    private boolean finished;

    /** {@code logLevel}: of its request line (the server's own warm-up requests log at DEBUG). */
    ResponseWriter(ServedModel model, HttpServerResponse response, Protocol protocol, List<GenerationSpec> parts, String id,
                   String requestId, RequestSpan span, Logger.Level logLevel) {
        this.requestId = requestId;
        this.span = span;
        this.response = response;
        this.protocol = protocol;
        this.parts = parts;
        this.spec = parts.get(0);
        this.id = id;
        this.logLevel = logLevel;
        this.offsets = new int[parts.size()];
        this.handles = new RequestHandle[parts.size()];
        for (int p = 0; p < parts.size(); p++) {
            int part = p;
            offsets[p] = outs.size();
            for (int i = 0; i < parts.get(p).request().n(); i++) {
                int index = i;
                outs.add(new ChoiceOutput(outs.size(), parts.get(p), i == 0,
                        () -> handles[part] == null ? 0 : handles[part].seed(index),
                        () -> handles[part] == null ? null : handles[part].promptScores()));
            }
        }
        this.reply = new Reply(model, spec, id, System.currentTimeMillis() / 1000, outs);
        this.renderer = protocol.renderer(reply);
    }

    /** The engine's handle of part {@code part}, set as it is submitted (before any event is written). */
    void attach(int part, RequestHandle h) {
        handles[part] = h;
    }

    private void cancelAll() {
        for (RequestHandle h : handles) {
            if (h != null) {
                h.cancel();
            }
        }
    }

    /** Prompt tokens of every part, each once. */
    private int promptTokens() {
        return parts.stream().mapToInt(p -> p.request().prompt().length).sum();
    }

    /** The answer is complete (or abandoned): nothing more is written. */
    boolean finished() {
        return finished;
    }

    /** The client went away before the end: the engine drops the request; it ends as cancelled (log line, span). */
    void disconnected() {
        cancelAll();
        if (!finished) {
            finished = true;
            log("cancelled", null, promptTokens());
        }
    }

    void onState(RequestState state) {
        // accepted: the client sees 200 and the stream at once, even while it waits for a slot
        if (state == RequestState.WAITING && spec.answer().stream() && !headersSent && writable()) {
            startStream();
        }
    }

    void onToken(int part, int choice, int token, String text, Sampler.Choice sampled) {
        if (!writable()) {
            return;
        }
        ChoiceOutput o = outs.get(offsets[part] + choice);
        TokenEvent t = new TokenEvent(o.index(), token, text, sampled);
        o.add(t);
        if (spec.answer().stream()) {
            if (!headersSent) {
                startStream();
            }
            send(renderer.token(o, t));
        }
    }

    /** A choice completed: its end is written; the last one completes the answer. */
    void onChoiceEnd(int part, int choice, TokenListener.Finish finish, RoutingTrace routing, String routingError) {
        if (!writable()) {
            return;
        }
        ChoiceOutput o = outs.get(offsets[part] + choice);
        o.finish(finish);
        if (routing != null) {
            o.routing(RoutingJson.of(routing, o.part().request().routingFrom().orElse(0)));
        } else if (routingError != null) {
            o.routing(Json.object().put("error", routingError));
        }
        if (spec.answer().stream()) {
            if (!headersSent) {
                startStream();
            }
            send(renderer.choiceEnd(o));
        }
        for (ChoiceOutput other : outs) {
            if (other.finish() == null) {
                return; // other choices still running
            }
        }
        finished = true;
        FinishReason reason = outs.get(0).finish().reason();
        log(outs.size() == 1 ? reason.label() : "n=" + outs.size(), null, promptTokens());
        if (spec.answer().stream()) {
            send(renderer.close());
            response.end();
        } else {
            response.setStatusCode(200).putHeader("Content-Type", "application/json")
                    .putHeader(DECODE_HEADER, spec.request().decode().label())
                    .end(Json.write(renderer.body()));
        }
        protocol.answered(reply);
    }

    /** The request ended without its answer: its API's error, as a status or, once streaming, as an error event. */
    void onFailed(RequestFailure f) {
        if (!writable()) {
            return;
        }
        finished = true;
        cancelAll(); // the request's other prompts, if any: the answer has failed as a whole
        log(f.kind() == RequestFailure.Kind.CANCELLED ? "cancelled" : outcome(f), f.message(), promptTokens());
        if (f.kind() == RequestFailure.Kind.CANCELLED) {
            response.close();
            return;
        }
        ApiException err = error(f);
        if (headersSent) {
            send(renderer.error(err));
            response.end();
        } else {
            if (err.status() == 429) {
                response.putHeader("Retry-After", "1");
            }
            HttpErrors.send(response, err, protocol.errors());
        }
    }

    /** One status per kind of failure, whatever the stage. */
    private ApiException error(RequestFailure f) {
        return switch (f.kind()) {
            case INVALID -> ApiException.invalid(f.param() != null ? f.param() : spec.answer().constraintParam(), f.message());
            case REJECTED -> new ApiException(429, "rate_limit_exceeded", f.message(), null, "rate_limit_exceeded");
            case TIMEOUT -> new ApiException(504, "server_error", f.message(), null, "timeout");
            case UNAVAILABLE, CANCELLED -> new ApiException(503, "server_error", f.message(), null, "unavailable");
            case INTERNAL -> new ApiException(500, "server_error", f.message(), null, null);
        };
    }

    private static String outcome(RequestFailure f) {
        return switch (f.kind()) {
            case REJECTED -> "rejected";
            case INVALID -> "invalid";
            case TIMEOUT -> "timeout";
            default -> "error";
        };
    }

    private boolean writable() {
        return !finished && !response.closed();
    }

    /** 200 and the stream's headers (and its opening events). */
    private void startStream() {
        headersSent = true;
        response.setStatusCode(200).setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader(DECODE_HEADER, spec.request().decode().label())
                .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
        response.writeHead();
        send(renderer.open());
    }

    private void send(List<Object> items) {
        for (Object json : items) {
            String event = protocol.namedEvents() && json instanceof ObjectNode o && o.path("type").isTextual()
                    ? "event: " + o.get("type").asText() + "\n" : "";
            response.write(event + "data: " + (json instanceof String s ? s : Json.write(json)) + "\n\n");
        }
    }

    /** The request's log line and span: its choices together (token counts summed), and the outcome that ended it. */
    private void log(String outcome, String error, int promptTokens) {
        if (logged) {
            return;
        }
        logged = true;
        long now = System.nanoTime();
        long first = 0;
        int generated = 0;
        List<String> reasons = new ArrayList<>();
        for (ChoiceOutput o : outs) {
            if (o.firstTokenNanos() != 0 && (first == 0 || o.firstTokenNanos() < first)) {
                first = o.firstTokenNanos();
            }
            generated += o.finish() != null ? o.finish().completionTokens() : o.tokens().size();
            reasons.add(o.finish() != null ? o.finish().reason().label() : outcome);
        }
        int cached = 0;
        for (ChoiceOutput o : outs) {
            cached += o.leads() && o.finish() != null ? o.finish().cachedTokens() : 0;
        }
        double ttftMs = first == 0 ? -1.0 : (first - startNanos) / 1e6;
        DecodeMode decode = spec.request().decode();
        RequestLog.LOG.logf(logLevel, "request %s %s model=%s prompt_tokens=%d cached_tokens=%d generated_tokens=%d "
                        + "ttft_ms=%.1f total_ms=%.1f outcome=%s%s%s%s", id, protocol.name(), reply.model().name(), promptTokens, cached, generated, ttftMs,
                (now - startNanos) / 1e6, outcome, decode == DecodeMode.EXACT ? "" : " decode=" + decode.label(),
                requestId.equals(id) ? "" : " x_request_id=" + requestId, error == null ? "" : " error=\"" + error + "\"");
        span.end(reply.model().name(), promptTokens, cached, generated, ttftMs, outcome, reasons, error);
    }
}
