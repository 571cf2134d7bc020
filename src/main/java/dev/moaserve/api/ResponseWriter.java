package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ChoiceOutput;
import dev.moaserve.api.protocol.GenerationSpec;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.api.protocol.Renderer;
import dev.moaserve.api.protocol.Reply;
import dev.moaserve.api.protocol.TokenEvent;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.DecodeMode;
import io.vertx.core.http.HttpServerResponse;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes one request's answer as its events arrive: an SSE stream or one JSON body, in the
 * format its protocol's {@link Renderer} gives; ends it on an error or a disconnect, and writes
 * the request's log line and span when it ends.
 */
final class ResponseWriter {
    /** Says which decode mode produced a response ("exact" or "frozen"), so approximate output is never mistaken for exact. */
    static final String DECODE_HEADER = "X-Moa-Decode";
    /** The request log keeps GenerationRoutes' category, which operators filter on. */

    /** What the scheduler reports for one request, as stream items. */
    sealed interface Event permits Token, Done {}

    record Token(TokenEvent event) implements Event {}

    /** A choice ended; {@code routing}: its routing object when the request asked for it (else null). */
    record Done(int index, TokenListener.Finish finish, ObjectNode routing) implements Event {}

    private final ModelService service;
    private final HttpServerResponse response;
    private final Protocol protocol;
    private final GenerationSpec spec;
    private final String id;
    private final List<ChoiceOutput> outs = new ArrayList<>();
    private final Renderer renderer;
    private final long startNanos = System.nanoTime();
    private final RequestSpan span;
    private boolean logged;
    private boolean headersSent;
    private boolean finished;

    ResponseWriter(ModelService service, HttpServerResponse response, Protocol protocol, GenerationSpec spec, String id,
                   List<GenerationRequest> requests, RequestSpan span) {
        this.service = service;
        this.span = span;
        this.response = response;
        this.protocol = protocol;
        this.spec = spec;
        this.id = id;
        for (int i = 0; i < requests.size(); i++) {
            outs.add(new ChoiceOutput(i, requests.get(i)));
        }
        this.renderer = protocol.renderer(new Reply(service, spec, id, System.currentTimeMillis() / 1000, outs));
    }

    /** The answer is complete (or abandoned): nothing more is written. */
    boolean finished() {
        return finished;
    }

    void cancelAll() {
        for (ChoiceOutput o : outs) {
            o.request().cancel();
        }
    }

    /** The client went away before the end: the request ends as cancelled (log line, span). */
    void disconnected() {
        finished = true;
        log(new TokenListener.Finish(FinishReason.CANCELLED, spec.prompt().length, 0, "", null));
    }

    void onEvent(Event e) {
        if (response.closed() || finished) {
            return;
        }
        if (e instanceof Token t) {
            ChoiceOutput o = outs.get(t.event().index());
            o.add(t.event());
            if (spec.stream()) {
                if (!headersSent) {
                    startStream();
                }
                send(renderer.token(o, t.event()));
            }
        } else if (e instanceof Done d) {
            ChoiceOutput o = outs.get(d.index());
            o.finish(d.finish());
            o.routing(d.routing());
            finish(o, d.finish());
        }
    }

    /** 200 and the stream's headers (and its opening events) at once, even while the request waits in the queue. */
    void startStream() {
        headersSent = true;
        response.setStatusCode(200).setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader(DECODE_HEADER, spec.decode().label())
                .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
        response.writeHead();
        send(renderer.open());
    }

    private void send(List<Object> items) {
        for (Object json : items) {
            response.write("data: " + (json instanceof String s ? s : Json.write(json)) + "\n\n");
        }
    }

    /** One choice ended: an error or a cancellation ends the whole response; the last choice completes it. */
    private void finish(ChoiceOutput o, TokenListener.Finish f) {
        if (f.reason() == FinishReason.CANCELLED) {
            finished = true;
            log(f);
            cancelAll();
            if (!response.ended() && !response.closed()) {
                response.close();
            }
            return;
        }
        if (!f.reason().completed()) {
            finished = true;
            log(f);
            cancelAll();
            ApiException err = f.reason() == FinishReason.TIMEOUT
                    ? new ApiException(504, "server_error", f.error(), null, "timeout")
                    : new ApiException(503, "server_error", f.error(), null, "unavailable");
            if (headersSent) {
                send(renderer.error(err));
                response.end();
            } else {
                HttpErrors.send(response, err, protocol.errors());
            }
            return;
        }
        if (spec.stream()) {
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
        log(null);
        if (spec.stream()) {
            send(renderer.close());
            response.end();
        } else {
            response.setStatusCode(200).putHeader("Content-Type", "application/json")
                    .putHeader(DECODE_HEADER, spec.decode().label())
                    .end(Json.write(renderer.body()));
        }
    }

    /** The request's log line: its choices together (token counts summed), or the outcome that ended it. */
    private void log(TokenListener.Finish ended) {
        if (logged) {
            return;
        }
        logged = true;
        long now = System.nanoTime();
        long first = 0;
        int generated = 0;
        for (ChoiceOutput o : outs) {
            if (o.firstTokenNanos() != 0 && (first == 0 || o.firstTokenNanos() < first)) {
                first = o.firstTokenNanos();
            }
            generated += o.finish() != null ? o.finish().completionTokens() : o.tokens().size();
        }
        TokenListener.Finish f = ended != null ? ended : outs.get(0).finish();
        String outcome = ended != null ? ended.reason().label() : outs.size() == 1 ? f.reason().label() : "n=" + outs.size();
        int cached = outs.get(0).finish() == null ? 0 : outs.get(0).finish().cachedTokens();
        double ttftMs = first == 0 ? -1.0 : (first - startNanos) / 1e6;
        RequestLog.LOG.logf(service.warming() ? org.jboss.logging.Logger.Level.DEBUG : org.jboss.logging.Logger.Level.INFO, "request %s %s prompt_tokens=%d cached_tokens=%d generated_tokens=%d ttft_ms=%.1f total_ms=%.1f outcome=%s%s%s",
                id, protocol.name(), f.promptTokens(), cached,
                generated, ttftMs, (now - startNanos) / 1e6,
                outcome, spec.decode() == DecodeMode.EXACT ? "" : " decode=" + spec.decode().label(),
                f.error() == null ? "" : " error=\"" + f.error() + "\"");
        List<String> reasons = new ArrayList<>();
        for (ChoiceOutput o : outs) {
            reasons.add(o.finish() != null ? o.finish().reason().label() : ended != null ? ended.reason().label() : "unknown");
        }
        span.end(service.name(), f.promptTokens(), cached, generated, ttftMs, outcome, reasons, f.error());
    }
}
