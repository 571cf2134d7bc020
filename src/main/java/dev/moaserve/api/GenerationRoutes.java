package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.Tokenizer;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.UnicastProcessor;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * The generation endpoints: OpenAI {@code /v1/completions}, {@code /v1/chat/completions} and TGI
 * {@code /generate}, {@code /generate_stream}, each streaming (SSE) or not depending on the
 * request body. They are Vert.x routes rather than JAX-RS methods because one URL must answer
 * either JSON or an SSE stream, chosen by the body's {@code stream} field, with a proper status
 * (400/404/429/503) decided before the stream starts. Tokens flow from the scheduler thread as a
 * Mutiny {@link Multi}; a client that disconnects cancels it, which frees its decode slot at the
 * scheduler's next iteration.
 */
@ApplicationScoped
public class GenerationRoutes {
    private static final Logger LOG = Logger.getLogger(GenerationRoutes.class);

    @Inject
    ModelService service;

    @Inject
    EngineMetrics metrics;

    /** What the scheduler reports for one request, as stream items. */
    sealed interface Event permits TokenEvent, DoneEvent {}

    record TokenEvent(int token, String text, Sampler.Choice choice) implements Event {}

    record DoneEvent(TokenListener.Finish finish) implements Event {}

    private enum Api { COMPLETIONS, CHAT, TGI }

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create().setBodyLimit(InteropRoutes.MAX_BODY);
        route(router, "/v1/completions", body, rc -> handle(rc, Api.COMPLETIONS, false));
        route(router, "/v1/chat/completions", body, rc -> handle(rc, Api.CHAT, false));
        route(router, "/generate", body, rc -> handle(rc, Api.TGI, false));
        route(router, "/generate_stream", body, rc -> handle(rc, Api.TGI, true));
    }

    /** A POST route whose failures (a chunked body over the limit: 413) still answer error JSON. */
    private static void route(Router router, String path, BodyHandler body, io.vertx.core.Handler<RoutingContext> handler) {
        router.post(path).handler(body).handler(handler).failureHandler(InteropRoutes::failure);
    }

    private void handle(RoutingContext rc, Api api, boolean tgiStream) {
        try {
            if (!service.ready()) {
                throw new ApiException(503, "server_error", service.scheduler() != null && !service.scheduler().accepting()
                        ? "the server is shutting down" : "the model is not loaded yet", null, "unavailable");
            }
            JsonNode body = parse(rc);
            RequestParser.Spec spec = switch (api) {
                case COMPLETIONS -> RequestParser.completion(body, service);
                case CHAT -> RequestParser.chat(body, service);
                case TGI -> RequestParser.tgi(body, service, tgiStream);
            };
            start(rc, api, spec);
        } catch (ApiException e) {
            if (e.status() == 429) {
                rc.response().putHeader("Retry-After", "1");
            }
            metrics.outcome(e.status() == 429 ? "rejected" : "invalid");
            sendError(rc.response(), e, api == Api.TGI);
        }
    }

    private static JsonNode parse(RoutingContext rc) {
        String ct = rc.request().getHeader("Content-Type");
        if (ct != null && !ct.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new ApiException(415, "invalid_request_error", "Content-Type must be application/json", null, null);
        }
        try {
            if (rc.body() == null || rc.body().length() == 0) {
                throw ApiException.invalid(null, "the request body is empty; send a JSON object");
            }
            return Json.MAPPER.readTree(rc.body().buffer().getBytes());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiException.invalid(null, "malformed JSON in the request body: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiException.invalid(null, "unreadable request body: " + e.getMessage());
        }
    }

    private void start(RoutingContext rc, Api api, RequestParser.Spec spec) {
        String id = (api == Api.CHAT ? "chatcmpl-" : api == Api.COMPLETIONS ? "cmpl-" : "gen-")
                + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        UnicastProcessor<Event> events = UnicastProcessor.create();
        TokenListener listener = new TokenListener() {
            @Override
            public void onToken(int token, String text, Sampler.Choice choice) {
                events.onNext(new TokenEvent(token, text, choice));
            }

            @Override
            public void onFinish(Finish finish) {
                events.onNext(new DoneEvent(finish));
                events.onComplete();
            }
        };
        GenerationRequest request = new GenerationRequest(id, spec.prompt(), spec.params(), listener);
        try {
            service.scheduler().submit(request);
        } catch (Scheduler.QueueFullException e) {
            throw new ApiException(429, "rate_limit_exceeded", e.getMessage(), null, "rate_limit_exceeded");
        } catch (Scheduler.ShuttingDownException e) {
            throw new ApiException(503, "server_error", e.getMessage(), null, "unavailable");
        }
        Context ctx = rc.vertx().getOrCreateContext();
        Multi<Event> stream = events.emitOn(task -> ctx.runOnContext(v -> task.run()));
        Writer writer = new Writer(rc.response(), api, spec, id, request);
        if (spec.stream()) {
            writer.startStream(); // accepted: the client sees 200 and the stream at once, even while queued
        }
        var subscription = stream
                .onCancellation().invoke(request::cancel)
                .subscribe().with(writer::onEvent, failure -> LOG.warn("stream of " + id + " failed", failure));
        rc.response().closeHandler(v -> {
            if (!writer.finished) {
                subscription.cancel();
                request.cancel();
            }
        });
    }

    /** Turns events into one API's response format, streaming or not. */
    private final class Writer {
        final HttpServerResponse response;
        final Api api;
        final RequestParser.Spec spec;
        final String id;
        final GenerationRequest request;
        final long created = System.currentTimeMillis() / 1000;
        final long startNanos = System.nanoTime();
        final StringBuilder text = new StringBuilder();
        final List<TokenEvent> tokens = new ArrayList<>();
        long firstTokenNanos;
        TokenEvent pendingTgi;
        boolean headersSent;
        boolean finished;

        Writer(HttpServerResponse response, Api api, RequestParser.Spec spec, String id, GenerationRequest request) {
            this.response = response;
            this.api = api;
            this.spec = spec;
            this.id = id;
            this.request = request;
        }

        void onEvent(Event e) {
            if (response.closed()) {
                return;
            }
            if (e instanceof TokenEvent t) {
                if (firstTokenNanos == 0) {
                    firstTokenNanos = System.nanoTime();
                }
                if (t.token() >= 0) {
                    tokens.add(t);
                }
                text.append(t.text());
                if (spec.stream()) {
                    if (!headersSent) {
                        startStream();
                    }
                    if (api == Api.TGI) {
                        // TGI's last token event carries generated_text: hold one event back
                        if (pendingTgi != null) {
                            sse(tokenChunk(pendingTgi));
                        }
                        pendingTgi = t.token() >= 0 ? t : pendingTgi;
                    } else if (!t.text().isEmpty()) {
                        sse(tokenChunk(t));
                    }
                }
            } else if (e instanceof DoneEvent d) {
                finished = true;
                finish(d.finish());
            }
        }

        private void startStream() {
            headersSent = true;
            response.setStatusCode(200).setChunked(true)
                    .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                    .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
            response.writeHead();
            if (api == Api.CHAT) {
                ObjectNode first = chunkEnvelope();
                ObjectNode choice = first.withArray("choices").addObject();
                choice.put("index", 0);
                choice.putObject("delta").put("role", "assistant").put("content", "");
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                sse(first);
            } else if (api == Api.COMPLETIONS && spec.echo()) {
                ObjectNode first = chunkEnvelope();
                ObjectNode choice = first.withArray("choices").addObject();
                choice.put("index", 0);
                choice.put("text", spec.promptText());
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                sse(first);
            }
        }

        /** The answer's text: the completion, after the prompt when echo / return_full_text asked for it. */
        private String fullText(String completion) {
            return spec.echo() ? spec.promptText() + completion : completion;
        }

        private void sse(Object json) {
            response.write("data: " + (json instanceof String s ? s : Json.write(json)) + "\n\n");
        }

        /** id, object, created, model, system_fingerprint and an empty choices array. */
        private ObjectNode envelope(String object) {
            ObjectNode o = Json.object();
            o.put("id", id);
            o.put("object", object);
            o.put("created", created);
            o.put("model", service.name());
            o.putNull("system_fingerprint");
            o.putArray("choices");
            return o;
        }

        private ObjectNode chunkEnvelope() {
            ObjectNode o = envelope(api == Api.CHAT ? "chat.completion.chunk" : "text_completion");
            if (spec.includeUsage()) {
                o.putNull("usage");
            }
            return o;
        }

        private ObjectNode tokenChunk(TokenEvent t) {
            if (api == Api.TGI) {
                ObjectNode o = Json.object();
                o.put("index", tokens.indexOf(t) + 1);
                o.set("token", tgiToken(t));
                o.putNull("generated_text");
                o.putNull("details");
                return o;
            }
            ObjectNode o = chunkEnvelope();
            ObjectNode choice = ((ArrayNode) o.get("choices")).addObject();
            choice.put("index", 0);
            if (api == Api.CHAT) {
                choice.putObject("delta").put("content", t.text());
                choice.set("logprobs", spec.chatLogprobs() && t.choice() != null ? chatLogprobs(List.of(t)) : null);
            } else {
                choice.put("text", t.text());
                choice.set("logprobs", spec.params().logprobs() > 0 && t.choice() != null ? completionLogprobs(List.of(t), 0) : null);
            }
            choice.putNull("finish_reason");
            return o;
        }

        private void finish(TokenListener.Finish f) {
            long now = System.nanoTime();
            LOG.infof("request %s %s prompt_tokens=%d generated_tokens=%d ttft_ms=%.1f total_ms=%.1f outcome=%s%s",
                    id, api.name().toLowerCase(Locale.ROOT), f.promptTokens(), f.completionTokens(),
                    firstTokenNanos == 0 ? -1.0 : (firstTokenNanos - startNanos) / 1e6, (now - startNanos) / 1e6,
                    f.reason(), f.error() == null ? "" : " error=\"" + f.error() + "\"");
            if (TokenListener.Finish.CANCELLED.equals(f.reason())) {
                if (!response.ended() && !response.closed()) {
                    response.close();
                }
                return;
            }
            if (TokenListener.Finish.ERROR.equals(f.reason())) {
                ApiException err = f.error() != null && f.error().contains("timed out")
                        ? new ApiException(504, "server_error", f.error(), null, "timeout")
                        : new ApiException(503, "server_error", f.error(), null, "unavailable");
                if (headersSent) {
                    // a stream never ends silently: the error as an event, then (OpenAI) [DONE]
                    sse(Json.error(err, api == Api.TGI));
                    if (api != Api.TGI) {
                        sse("[DONE]");
                    }
                    response.end();
                } else {
                    sendError(response, err, api == Api.TGI);
                }
                return;
            }
            String reason = f.reason();
            if (spec.stream()) {
                if (!headersSent) {
                    startStream();
                }
                finishStream(f, reason);
            } else {
                response.setStatusCode(200).putHeader("Content-Type", "application/json")
                        .end(Json.write(api == Api.TGI ? tgiResponse(f, reason) : openAiResponse(f, reason)));
            }
        }

        private void finishStream(TokenListener.Finish f, String reason) {
            if (api == Api.TGI) {
                ObjectNode o = Json.object();
                o.put("index", tokens.size());
                o.set("token", pendingTgi == null ? Json.object() : tgiToken(pendingTgi));
                o.put("generated_text", fullText(text.toString()));
                o.set("details", tgiDetails(f, reason, false));
                sse(o);
                response.end();
                return;
            }
            ObjectNode last = chunkEnvelope();
            ObjectNode choice = ((ArrayNode) last.get("choices")).addObject();
            choice.put("index", 0);
            if (api == Api.CHAT) {
                choice.putObject("delta");
            } else {
                choice.put("text", "");
            }
            choice.putNull("logprobs");
            choice.put("finish_reason", reason);
            sse(last);
            if (spec.includeUsage()) {
                ObjectNode u = chunkEnvelope();
                u.set("usage", usage(f));
                sse(u);
            }
            sse("[DONE]");
            response.end();
        }

        private ObjectNode openAiResponse(TokenListener.Finish f, String reason) {
            ObjectNode o = envelope(api == Api.CHAT ? "chat.completion" : "text_completion");
            ObjectNode choice = ((ArrayNode) o.get("choices")).addObject();
            choice.put("index", 0);
            if (api == Api.CHAT) {
                ObjectNode msg = choice.putObject("message");
                msg.put("role", "assistant");
                msg.put("content", f.text());
                msg.putNull("refusal");
                choice.set("logprobs", spec.chatLogprobs() ? chatLogprobs(tokens) : null);
            } else {
                choice.put("text", fullText(f.text()));
                choice.set("logprobs", spec.params().logprobs() > 0 ? completionLogprobs(tokens, 0) : null);
            }
            choice.put("finish_reason", reason);
            o.set("usage", usage(f));
            return o;
        }

        private ObjectNode usage(TokenListener.Finish f) {
            ObjectNode u = Json.object();
            u.put("prompt_tokens", f.promptTokens());
            u.put("completion_tokens", f.completionTokens());
            u.put("total_tokens", f.promptTokens() + f.completionTokens());
            return u;
        }

        private ObjectNode completionLogprobs(List<TokenEvent> ts, int offset) {
            Tokenizer tk = service.model().tokenizer();
            ObjectNode lp = Json.object();
            ArrayNode toks = lp.putArray("tokens");
            ArrayNode values = lp.putArray("token_logprobs");
            ArrayNode tops = lp.putArray("top_logprobs");
            ArrayNode offsets = lp.putArray("text_offset");
            int at = offset + text.length() - ts.stream().mapToInt(t -> tk.tokenText(t.token()).length()).sum();
            for (TokenEvent t : ts) {
                String s = tk.tokenText(t.token());
                toks.add(s);
                values.add(t.choice().logprob());
                ObjectNode top = tops.addObject();
                for (int i = 0; i < t.choice().topTokens().length; i++) {
                    top.put(tk.tokenText(t.choice().topTokens()[i]), t.choice().topLogprobs()[i]);
                }
                offsets.add(Math.max(0, at));
                at += s.length();
            }
            return lp;
        }

        private ObjectNode chatLogprobs(List<TokenEvent> ts) {
            Tokenizer tk = service.model().tokenizer();
            ObjectNode lp = Json.object();
            ArrayNode content = lp.putArray("content");
            for (TokenEvent t : ts) {
                ObjectNode c = logprobEntry(tk.tokenText(t.token()), t.choice().logprob());
                ArrayNode top = c.putArray("top_logprobs");
                for (int i = 0; i < t.choice().topTokens().length; i++) {
                    top.add(logprobEntry(tk.tokenText(t.choice().topTokens()[i]), t.choice().topLogprobs()[i]));
                }
                content.add(c);
            }
            lp.putNull("refusal");
            return lp;
        }

        private ObjectNode logprobEntry(String token, double logprob) {
            ObjectNode c = Json.object();
            c.put("token", token);
            c.put("logprob", logprob);
            ArrayNode bytes = c.putArray("bytes");
            for (byte b : token.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
                bytes.add(b & 0xff);
            }
            return c;
        }

        private ObjectNode tgiToken(TokenEvent t) {
            ObjectNode tok = Json.object();
            tok.put("id", t.token());
            tok.put("text", t.text());
            tok.put("logprob", t.choice() == null ? 0.0 : t.choice().logprob());
            tok.put("special", false);
            return tok;
        }

        private ObjectNode tgiResponse(TokenListener.Finish f, String reason) {
            ObjectNode o = Json.object();
            o.put("generated_text", fullText(f.text()));
            o.set("details", tgiDetails(f, reason, true));
            return o;
        }

        private ObjectNode tgiDetails(TokenListener.Finish f, String reason, boolean withTokens) {
            ObjectNode d = Json.object();
            d.put("finish_reason", TokenListener.Finish.STOP.equals(reason) ? "stop_sequence" : "length");
            d.put("generated_tokens", f.completionTokens());
            d.put("seed", request.seed());
            if (withTokens) {
                d.putArray("prefill");
                ArrayNode arr = d.putArray("tokens");
                Tokenizer tk = service.model().tokenizer();
                for (TokenEvent t : tokens) {
                    ObjectNode tok = arr.addObject();
                    tok.put("id", t.token());
                    tok.put("text", tk.tokenText(t.token()));
                    tok.put("logprob", t.choice().logprob());
                    tok.put("special", false);
                }
            }
            return d;
        }
    }

    /** TGI's routes answer errors in TGI's shape. */
    static boolean isTgiRoute(String path) {
        return path.equals("/generate") || path.equals("/generate_stream");
    }

    /** Ends the response with the error in the route's shape: OpenAI's, or TGI's (status and body). */
    static void sendError(HttpServerResponse response, ApiException e, boolean tgi) {
        if (response.ended() || response.closed()) {
            return;
        }
        response.setStatusCode(tgi ? Json.tgiStatus(e) : e.status()).putHeader("Content-Type", "application/json")
                .end(Json.write(Json.error(e, tgi)));
    }
}
