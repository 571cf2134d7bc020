package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.GenerationRoutes.Api;
import dev.moaserve.api.GenerationRoutes.DoneEvent;
import dev.moaserve.api.GenerationRoutes.Event;
import dev.moaserve.api.GenerationRoutes.TokenEvent;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.Tokenizer;
import io.vertx.core.http.HttpServerResponse;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Turns the events of a request's n choices into one API's response format (completions, chat,
 * TGI), streaming or not, and writes the request's log line and span when it ends.
 */
final class ResponseWriter {
    /** Says which decode mode produced a response ("exact" or "frozen"), so approximate output is never mistaken for exact. */
    static final String DECODE_HEADER = "X-Moa-Decode";
    /** The request log keeps GenerationRoutes' category, which operators filter on. */
    private static final Logger LOG = Logger.getLogger(GenerationRoutes.class);

    final ModelService service;
    final HttpServerResponse response;
    final Api api;
    final RequestParser.Spec spec;
    final String id;
    final Out[] outs;
    final long created = System.currentTimeMillis() / 1000;
    final long startNanos = System.nanoTime();
    final RequestSpan span;
    boolean logged;
    boolean headersSent;
    boolean finished;

    /** One choice's output so far. */
    final class Out {
        final int index;
        final GenerationRequest request;
        final StringBuilder text = new StringBuilder();
        final List<TokenEvent> tokens = new ArrayList<>();
        long firstTokenNanos;
        TokenEvent pendingTgi;
        int pendingTgiIndex;
        TokenListener.Finish finish;

        Out(int index, GenerationRequest request) {
            this.index = index;
            this.request = request;
        }
    }

    ResponseWriter(ModelService service, HttpServerResponse response, Api api, RequestParser.Spec spec, String id,
                   List<GenerationRequest> requests, RequestSpan span) {
        this.service = service;
        this.span = span;
        this.response = response;
        this.api = api;
        this.spec = spec;
        this.id = id;
        this.outs = new Out[requests.size()];
        for (int i = 0; i < outs.length; i++) {
            outs[i] = new Out(i, requests.get(i));
        }
    }

    void cancelAll() {
        for (Out o : outs) {
            o.request.cancel();
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
        if (e instanceof TokenEvent t) {
            Out o = outs[t.index()];
            if (o.firstTokenNanos == 0) {
                o.firstTokenNanos = System.nanoTime();
            }
            if (t.token() >= 0) {
                o.tokens.add(t);
            }
            o.text.append(t.text());
            if (spec.stream()) {
                if (!headersSent) {
                    startStream();
                }
                if (api == Api.TGI) {
                    // TGI's last token event carries generated_text: hold one event back
                    if (o.pendingTgi != null) {
                        sse(tokenChunk(o, o.pendingTgi));
                    }
                    if (t.token() >= 0) {
                        o.pendingTgi = t;
                        o.pendingTgiIndex = o.tokens.size(); // 1-based: t was just added
                    }
                } else if (!t.text().isEmpty()) {
                    sse(tokenChunk(o, t));
                }
            }
        } else if (e instanceof DoneEvent d) {
            Out o = outs[d.index()];
            o.finish = d.finish();
            finish(o, d.finish());
        }
    }

    void startStream() {
        headersSent = true;
        response.setStatusCode(200).setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader(DECODE_HEADER, spec.decode().label())
                .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
        response.writeHead();
        for (Out o : outs) {
            if (api == Api.CHAT) {
                ObjectNode first = chunkEnvelope();
                ObjectNode choice = first.withArray("choices").addObject();
                choice.put("index", o.index);
                choice.putObject("delta").put("role", "assistant").put("content", "");
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                sse(first);
            } else if (api == Api.COMPLETIONS && spec.echo()) {
                ObjectNode first = chunkEnvelope();
                ObjectNode choice = first.withArray("choices").addObject();
                choice.put("index", o.index);
                choice.put("text", spec.promptText());
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                sse(first);
            }
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

    private ObjectNode tokenChunk(Out out, TokenEvent t) {
        if (api == Api.TGI) {
            ObjectNode o = Json.object();
            o.put("index", out.pendingTgiIndex); // TGI streams only the held-back event (onEvent)
            o.set("token", tgiToken(t));
            o.putNull("generated_text");
            o.putNull("details");
            return o;
        }
        ObjectNode o = chunkEnvelope();
        ObjectNode choice = ((ArrayNode) o.get("choices")).addObject();
        choice.put("index", out.index);
        if (api == Api.CHAT) {
            choice.putObject("delta").put("content", t.text());
            choice.set("logprobs", spec.chatLogprobs() && t.choice() != null ? Logprobs.chat(service.model().tokenizer(), List.of(t)) : null);
        } else {
            choice.put("text", t.text());
            choice.set("logprobs", spec.params().logprobs() > 0 && t.choice() != null
                    ? Logprobs.completion(service.model().tokenizer(), out.text, List.of(t)) : null);
        }
        choice.putNull("finish_reason");
        return o;
    }

    /** One choice ended: an error or a cancellation ends the whole response; the last choice completes it. */
    private void finish(Out o, TokenListener.Finish f) {
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
                // a stream never ends silently: the error as an event, then (OpenAI) [DONE]
                sse(Json.error(err, api == Api.TGI));
                if (api != Api.TGI) {
                    sse("[DONE]");
                }
                response.end();
            } else {
                GenerationRoutes.sendError(response, err, api == Api.TGI);
            }
            return;
        }
        if (spec.stream()) {
            if (!headersSent) {
                startStream();
            }
            finishChoiceStream(o, f);
        }
        for (Out other : outs) {
            if (other.finish == null) {
                return; // other choices still running
            }
        }
        finished = true;
        log(null);
        if (spec.stream()) {
            if (api != Api.TGI) {
                if (spec.includeUsage()) {
                    ObjectNode u = chunkEnvelope();
                    u.set("usage", usage());
                    sse(u);
                }
                sse("[DONE]");
            }
            response.end();
        } else {
            response.setStatusCode(200).putHeader("Content-Type", "application/json")
                    .putHeader(DECODE_HEADER, spec.decode().label())
                    .end(Json.write(api == Api.TGI ? tgiResponse(o, f) : openAiResponse()));
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
        for (Out o : outs) {
            if (o.firstTokenNanos != 0 && (first == 0 || o.firstTokenNanos < first)) {
                first = o.firstTokenNanos;
            }
            generated += o.finish != null ? o.finish.completionTokens() : o.tokens.size();
        }
        TokenListener.Finish f = ended != null ? ended : outs[0].finish;
        String outcome = ended != null ? ended.reason().label() : outs.length == 1 ? f.reason().label() : "n=" + outs.length;
        int cached = outs[0].finish == null ? 0 : outs[0].finish.cachedTokens();
        double ttftMs = first == 0 ? -1.0 : (first - startNanos) / 1e6;
        LOG.infof("request %s %s prompt_tokens=%d cached_tokens=%d generated_tokens=%d ttft_ms=%.1f total_ms=%.1f outcome=%s%s%s",
                id, api.name().toLowerCase(Locale.ROOT), f.promptTokens(), cached,
                generated, ttftMs, (now - startNanos) / 1e6,
                outcome, spec.decode() == DecodeMode.EXACT ? "" : " decode=" + spec.decode().label(),
                f.error() == null ? "" : " error=\"" + f.error() + "\"");
        List<String> reasons = new ArrayList<>();
        for (Out o : outs) {
            reasons.add(o.finish != null ? o.finish.reason().label() : ended != null ? ended.reason().label() : "unknown");
        }
        span.end(service.name(), f.promptTokens(), cached, generated, ttftMs, outcome, reasons, f.error());
    }

    private void finishChoiceStream(Out o, TokenListener.Finish f) {
        if (api == Api.TGI) {
            ObjectNode t = Json.object();
            t.put("index", o.tokens.size());
            t.set("token", o.pendingTgi == null ? Json.object() : tgiToken(o.pendingTgi));
            t.put("generated_text", fullText(o.text.toString()));
            t.set("details", tgiDetails(o, f, false));
            sse(t);
            return;
        }
        ObjectNode last = chunkEnvelope();
        ObjectNode choice = ((ArrayNode) last.get("choices")).addObject();
        choice.put("index", o.index);
        if (api == Api.CHAT) {
            choice.putObject("delta");
        } else {
            choice.put("text", "");
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", f.reason().label());
        sse(last);
    }

    private ObjectNode openAiResponse() {
        ObjectNode o = envelope(api == Api.CHAT ? "chat.completion" : "text_completion");
        ArrayNode choices = (ArrayNode) o.get("choices");
        for (Out out : outs) {
            ObjectNode choice = choices.addObject();
            choice.put("index", out.index);
            if (api == Api.CHAT) {
                ObjectNode msg = choice.putObject("message");
                msg.put("role", "assistant");
                msg.put("content", out.finish.text());
                msg.putNull("refusal");
                choice.set("logprobs", spec.chatLogprobs() ? Logprobs.chat(service.model().tokenizer(), out.tokens) : null);
            } else {
                choice.put("text", fullText(out.finish.text()));
                choice.set("logprobs", spec.params().logprobs() > 0 ? Logprobs.completion(service.model().tokenizer(), out.text, out.tokens) : null);
            }
            choice.put("finish_reason", out.finish.reason().label());
        }
        o.set("usage", usage());
        return o;
    }

    /** Prompt tokens once, completion tokens of every choice; cached prompt tokens as OpenAI reports them. */
    private ObjectNode usage() {
        TokenListener.Finish f = outs[0].finish;
        int completion = 0;
        for (Out o : outs) {
            completion += o.finish.completionTokens();
        }
        ObjectNode u = Json.object();
        u.put("prompt_tokens", f.promptTokens());
        u.put("completion_tokens", completion);
        u.put("total_tokens", f.promptTokens() + completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", f.cachedTokens());
        return u;
    }

    private ObjectNode tgiToken(TokenEvent t) {
        ObjectNode tok = Json.object();
        tok.put("id", t.token());
        tok.put("text", t.text());
        tok.put("logprob", t.choice() == null ? 0.0 : t.choice().logprob());
        tok.put("special", false);
        return tok;
    }

    private ObjectNode tgiResponse(Out out, TokenListener.Finish f) {
        ObjectNode o = Json.object();
        o.put("generated_text", fullText(f.text()));
        o.set("details", tgiDetails(out, f, true));
        return o;
    }

    private ObjectNode tgiDetails(Out out, TokenListener.Finish f, boolean withTokens) {
        ObjectNode d = Json.object();
        d.put("finish_reason", f.reason() == FinishReason.STOP ? "stop_sequence" : "length");
        d.put("generated_tokens", f.completionTokens());
        d.put("seed", out.request.seed());
        if (withTokens) {
            d.putArray("prefill");
            ArrayNode arr = d.putArray("tokens");
            Tokenizer tk = service.model().tokenizer();
            for (TokenEvent t : out.tokens) {
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
