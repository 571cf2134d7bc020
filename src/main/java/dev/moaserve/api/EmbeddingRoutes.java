package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ErrorShape;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.JsonFields;
import dev.moaserve.api.protocol.RequestFields;
import dev.moaserve.engine.QueueFullException;
import dev.moaserve.engine.ShuttingDownException;
import dev.moaserve.engine.Embedder;
import io.vertx.core.Context;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;

/**
 * OpenAI's {@code POST /v1/embeddings}: {@code input} as a string, an array of strings, an array
 * of token ids or an array of such arrays; {@code encoding_format} float or base64 (little-endian
 * float32, as OpenAI's clients decode it); {@code dimensions} only if equal to the model's. The
 * vectors come from {@link Embedder} (bounded queue: 429 when full; a client that leaves before its
 * turn is skipped); one log line per request. TEI's {@code POST /embed} beside it.
 */
@ApplicationScoped
public class EmbeddingRoutes {
    /** OpenAI's bound on the inputs of one request. */
    static final int MAX_INPUTS = 2048;
    private static final Set<String> FIELDS = Set.of("input", "model", "encoding_format", "dimensions", "user", "priority");
    private static final Set<String> TEI_FIELDS = Set.of("inputs", "normalize", "truncate");

    @Inject
    ModelService service;

    @Inject
    EngineMetrics metrics;

    @Inject
    ServingConfig config;

    /** OpenAI's {@code /v1/embeddings}. */
    void handle(RoutingContext rc) {
        handle(rc, false);
    }

    /**
     * TEI's {@code POST /embed}: {"inputs": string | [strings], "normalize": true, "truncate": false}
     * → [[floats], …]; errors in TEI's shape (422 for invalid input).
     */
    void handleTei(RoutingContext rc) {
        handle(rc, true);
    }

    private void handle(RoutingContext rc, boolean tei) {
        long start = System.nanoTime();
        ErrorShape shape = tei ? ErrorShape.TGI : ErrorShape.OPENAI;
        try {
            if (!service.ready()) {
                rc.response().putHeader("Retry-After", "1");
                throw new ApiException(503, "server_error", service.notReadyReason(), null, "unavailable");
            }
            Embedder embedder = service.loaded().embedder();
            List<long[]> inputs;
            String format = "float";
            int priority = 0;
            if (tei) {
                JsonFields f = new JsonFields(RouteTable.jsonBody(rc), "", TEI_FIELDS, Map.of());
                JsonNode in = f.raw("inputs");
                if (in == null || !(in.isTextual() || in.isArray() && !in.isEmpty() && in.get(0).isTextual())) {
                    throw ApiException.invalid("inputs", "'inputs' must be a string or an array of strings");
                }
                if (!f.bool("normalize", true)) {
                    throw ApiException.invalid("normalize", "'normalize': false is not supported: vectors are always L2-normalised");
                }
                if (f.bool("truncate", false)) {
                    throw ApiException.invalid("truncate", "'truncate' is not supported: inputs are never truncated");
                }
                inputs = inputs(in, "inputs");
            } else {
                JsonFields f = new JsonFields(RouteTable.jsonBody(rc), "", FIELDS, Map.of());
                inputs = inputs(f.raw("input"), "input");
                format = f.string("encoding_format", "float");
                if (!format.equals("float") && !format.equals("base64")) {
                    throw ApiException.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
                }
                if (f.has("dimensions") && f.integer("dimensions", 0, 1, Integer.MAX_VALUE) != embedder.dimensions()) {
                    throw ApiException.invalid("dimensions", "this model's embeddings have " + embedder.dimensions()
                            + " dimensions and cannot be shortened; omit 'dimensions' or send " + embedder.dimensions());
                }
                f.string("model", "");
                f.string("user", "");
                priority = dev.moaserve.api.protocol.RequestFields.priority(f, service);
            }
            String id = "embd-" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
            int tokens = inputs.stream().mapToInt(a -> a.length).sum();
            Embedder.Request request;
            try {
                request = embedder.submit(id, inputs, priority);
            } catch (QueueFullException e) {
                throw new ApiException(429, "rate_limit_exceeded", e.getMessage(), null, "rate_limit_exceeded");
            } catch (ShuttingDownException e) {
                throw new ApiException(503, "server_error", e.getMessage(), null, "unavailable");
            }
            rc.response().closeHandler(v -> request.cancel());
            Context ctx = rc.vertx().getOrCreateContext();
            String encoding = format;
            request.result().whenComplete((vectors, failure) -> ctx.runOnContext(v -> {
                if (failure instanceof CancellationException || rc.response().closed()) {
                    log(id, inputs.size(), tokens, start, "cancelled");
                    return;
                }
                if (failure != null) {
                    log(id, inputs.size(), tokens, start, "error");
                    HttpErrors.send(rc.response(), new ApiException(503, "server_error",
                            failure.getMessage() == null ? failure.toString() : failure.getMessage(), null, "unavailable"), shape);
                    return;
                }
                rc.response().setStatusCode(200).putHeader("Content-Type", "application/json")
                        .end(Json.write(tei ? teiBody(vectors) : body(vectors, encoding, tokens)));
                metrics.outcome("embedding");
                log(id, inputs.size(), tokens, start, "ok");
            }));
        } catch (ApiException e) {
            if (e.status() == 429) {
                rc.response().putHeader("Retry-After", "1");
            }
            metrics.outcome(e.status() == 429 ? "rejected" : "invalid");
            HttpErrors.send(rc.response(), e, shape);
        }
    }

    private static ArrayNode teiBody(float[][] vectors) {
        ArrayNode root = Json.MAPPER.createArrayNode();
        for (float[] vector : vectors) {
            ArrayNode v = root.addArray();
            for (float x : vector) {
                v.add(x);
            }
        }
        return root;
    }

    /** The inputs as token ids: strings are tokenized, ids are checked; each one non-empty and within the context. */
    private List<long[]> inputs(JsonNode input, String param) {
        if (input == null) {
            throw ApiException.invalid(param, "'" + param + "' is required: a string, an array of strings, or token ids");
        }
        List<long[]> out = new ArrayList<>();
        if (input.isTextual()) {
            out.add(RequestFields.encode(input.asText(), service, param));
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isTextual()) {
            for (JsonNode s : input) {
                if (!s.isTextual()) {
                    throw ApiException.invalid(param, "'input' mixes strings and other values");
                }
                out.add(RequestFields.encode(s.asText(), service, param));
            }
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isArray()) {
            for (JsonNode ids : input) {
                out.add(ids(ids));
            }
        } else if (input.isArray() && !input.isEmpty()) {
            out.add(ids(input));
        } else {
            throw ApiException.invalid(param, "'input' must be a non-empty string, array of strings, array of token ids, "
                    + "or array of token-id arrays");
        }
        if (out.size() > MAX_INPUTS) {
            throw ApiException.invalid(param, "at most " + MAX_INPUTS + " inputs per request, got " + out.size());
        }
        long tokens = out.stream().mapToLong(a -> a.length).sum();
        int maxTokens = config.embeddings().maxRequestTokens();
        if (tokens > maxTokens) {
            throw ApiException.invalid(param, "at most " + maxTokens + " tokens per request (moa.embeddings.max-request-tokens), got "
                    + tokens + " in " + out.size() + " inputs; send them in smaller requests");
        }
        int seqLen = service.contextLength();
        for (int i = 0; i < out.size(); i++) {
            long[] ids = out.get(i);
            if (ids.length == 0) {
                throw ApiException.invalid(param, "input " + i + " is empty");
            }
            if (ids.length > seqLen) {
                throw new ApiException(400, "invalid_request_error", "This model's maximum context length is " + seqLen
                        + " tokens, however you requested " + ids.length + " tokens (input " + i + "). Please reduce your input.",
                        param, "context_length_exceeded");
            }
        }
        return out;
    }

    private long[] ids(JsonNode array) {
        if (!array.isArray() || array.isEmpty()) {
            throw ApiException.invalid("input", "token-id inputs must be non-empty arrays of integers");
        }
        long[] ids = new long[array.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!JsonFields.isInteger(array.get(i))) {
                throw ApiException.invalid("input", "token ids must be integers");
            }
            ids[i] = array.get(i).asLong();
        }
        return RequestFields.checkIds(ids, service, "input");
    }

    private ObjectNode body(float[][] vectors, String format, int tokens) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        for (int i = 0; i < vectors.length; i++) {
            ObjectNode e = data.addObject();
            e.put("object", "embedding");
            e.put("index", i);
            if (format.equals("base64")) {
                ByteBuffer b = ByteBuffer.allocate(4 * vectors[i].length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : vectors[i]) {
                    b.putFloat(x);
                }
                e.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                ArrayNode v = e.putArray("embedding");
                for (float x : vectors[i]) {
                    v.add(x);
                }
            }
        }
        root.put("model", service.name());
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return root;
    }

    private void log(String id, int inputs, int tokens, long start, String outcome) {
        RequestLog.LOG.infof("request %s embeddings inputs=%d prompt_tokens=%d total_ms=%.1f outcome=%s", id, inputs, tokens,
                (System.nanoTime() - start) / 1e6, outcome);
    }
}
