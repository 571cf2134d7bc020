package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ErrorShape;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.api.protocol.JsonFields;
import dev.moaserve.api.protocol.RequestFields;
import dev.moaserve.model.Tokenizer;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Model listing and tokenization: {@code GET /v1/models}, {@code GET /v1/models/{id}},
 * {@code POST /tokenize}, {@code POST /detokenize} (routes in {@link RouteTable}).
 */
@ApplicationScoped
public class ModelInfoRoutes {
    @Inject
    ModelService service;

    /** Runs a handler and answers its JSON, or its error in the shape of its route. */
    void answer(RoutingContext rc, Supplier<? extends JsonNode> handler) {
        try {
            if (service.loaded() == null) {
                rc.response().putHeader("Retry-After", "1");
                throw new ApiException(503, "server_error", service.notReadyReason(), null, "unavailable");
            }
            String json = Json.write(handler.get());
            rc.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(json);
        } catch (ApiException e) {
            HttpErrors.send(rc.response(), e, ErrorShape.forPath(rc.normalizedPath()));
        }
    }

    /** Anthropic's {@code POST /v1/messages/count_tokens}: the prompt's tokens as the Messages API renders it. */
    ObjectNode countTokens(RoutingContext rc) {
        service.admit(rc, "count tokens of messages");
        return Json.object().put("input_tokens", Protocol.MESSAGES.countTokens(RouteTable.jsonBody(rc), service.served()));
    }

    /**
     * vLLM's {@code GET /tokenizer_info}, what remote-tokenizer clients read (lm-eval's
     * {@code tokenizer_backend=remote}): the special tokens (none in this model's vocabulary: null,
     * present as keys), its length, and no Jinja chat template (the model's template is not Jinja:
     * chat goes through /v1/chat/completions).
     */
    ObjectNode tokenizerInfo() {
        ObjectNode o = Json.object();
        o.put("tokenizer_class", service.tokenizer().getClass().getSimpleName());
        o.put("vocab_size", service.tokenizer().vocabSize());
        o.put("model_max_length", service.contextLength());
        for (String special : new String[] {"eos_token", "bos_token", "pad_token", "unk_token", "chat_template"}) {
            o.putNull(special);
        }
        o.put("add_bos_token", false);
        return o;
    }

    ObjectNode models() {
        ObjectNode o = Json.object();
        o.put("object", "list");
        o.putArray("data").add(model());
        return o;
    }

    ObjectNode model(String id) {
        if (!id.equals(service.name())) {
            throw new ApiException(404, "invalid_request_error", "The model '" + id + "' does not exist", "model",
                    "model_not_found");
        }
        return model();
    }

    private ObjectNode model() {
        ObjectNode m = Json.object();
        m.put("id", service.name());
        m.put("object", "model");
        m.put("created", service.created());
        m.put("owned_by", "moa-serve");
        m.put("max_model_len", service.contextLength());
        m.put("device", service.loaded().deviceName());
        return m;
    }

    /**
     * Two request shapes: TGI's {"inputs": "..."} → [{"id", "text", "start", "stop"}], and vLLM's
     * {"prompt": "..."} → {"count", "max_model_len", "tokens", "token_strs"}.
     */
    JsonNode tokenize(JsonNode body) {
        JsonFields f = new JsonFields(body, "", Set.of("inputs", "prompt", "model", "add_special_tokens", "return_token_strs"),
                Map.of("messages", "tokenize the rendered chat text as 'prompt' instead"));
        Tokenizer tk = service.tokenizer();
        if (f.has("prompt")) {
            f.bool("add_special_tokens", true); // this model's tokenizer adds none either way
            boolean strs = f.bool("return_token_strs", false);
            long[] ids = RequestFields.encode(f.string("prompt", ""), service.served(), "prompt");
            ObjectNode o = Json.object();
            o.put("count", ids.length);
            o.put("max_model_len", service.contextLength());
            ArrayNode tokens = o.putArray("tokens");
            ArrayNode texts = strs ? o.putArray("token_strs") : null;
            for (long id : ids) {
                tokens.add(id);
                if (texts != null) {
                    texts.add(tk.tokenText(id));
                }
            }
            if (texts == null) {
                o.putNull("token_strs");
            }
            return o;
        }
        String text = f.string("inputs", null);
        if (text == null) {
            throw ApiException.invalid("inputs", "send {\"inputs\": \"...\"} (TGI) or {\"prompt\": \"...\"} (vLLM)");
        }
        long[] ids = RequestFields.encode(text, service.served(), "inputs");
        ArrayNode out = Json.MAPPER.createArrayNode();
        int at = 0;
        for (long id : ids) {
            String t = tk.tokenText(id);
            ObjectNode o = out.addObject();
            o.put("id", id);
            o.put("text", t);
            o.put("start", at);
            at += t.length();
            o.put("stop", at);
        }
        return out;
    }

    /** {"ids": [...]} → {"text": "..."}, or vLLM's {"tokens": [...]} → {"prompt": "..."}. */
    ObjectNode detokenize(JsonNode body) {
        JsonFields f = new JsonFields(body, "", Set.of("ids", "tokens", "model"), Map.of());
        boolean vllm = f.has("tokens");
        String key = vllm ? "tokens" : "ids";
        JsonNode ids = f.raw(key);
        if (ids == null || !ids.isArray()) {
            throw ApiException.invalid(key, "send {\"ids\": [token ids]} or {\"tokens\": [token ids]} (vLLM)");
        }
        long[] arr = new long[ids.size()];
        for (int i = 0; i < arr.length; i++) {
            if (!JsonFields.isInteger(ids.get(i))) {
                throw ApiException.invalid(key, "'" + key + "' must hold integers");
            }
            arr[i] = ids.get(i).asLong();
        }
        RequestFields.checkIds(arr, service.served(), key);
        ObjectNode o = Json.object();
        o.put(vllm ? "prompt" : "text", service.tokenizer().decode(arr));
        return o;
    }
}
