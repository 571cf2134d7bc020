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
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Tokenization of the model a request names: {@code POST /tokenize}, {@code POST /detokenize},
 * {@code GET /tokenizer_info}, Anthropic's {@code POST /v1/messages/count_tokens} (routes in
 * {@link RouteTable}); and the answers of routes that need no model.
 */
@ApplicationScoped
public class ModelInfoRoutes {
    @Inject
    ModelDoor door;

    /** Runs a handler that needs no model and answers its JSON, or its error in the shape of its route. */
    void answer(RoutingContext rc, Supplier<? extends JsonNode> handler) {
        try {
            ok(rc, handler.get());
        } catch (ApiException e) {
            HttpErrors.send(rc.response(), e, ErrorShape.forPath(rc.normalizedPath()));
        }
    }

    /** A handler of a JSON body that reads the model it names (loaded first if need be). */
    void answerFor(RoutingContext rc, BiFunction<JsonNode, ServedView, ? extends JsonNode> handler) {
        door.serveJson(rc, ErrorShape.forPath(rc.normalizedPath()), (body, lease) -> ok(rc, handler.apply(body, lease.view())));
    }

    /** A GET handler of the model {@code ?model=} names (the start model without it). */
    void answerForQuery(RoutingContext rc, Function<ServedView, ? extends JsonNode> handler) {
        door.serve(rc, rc.queryParams().get("model"), ErrorShape.forPath(rc.normalizedPath()), lease -> ok(rc, handler.apply(lease.view())));
    }

    private static void ok(RoutingContext rc, JsonNode body) {
        RouteTable.answer(rc, 200, body);
    }

    /** Anthropic's {@code POST /v1/messages/count_tokens}: the prompt's tokens as the Messages API renders it. */
    static ObjectNode countTokens(JsonNode body, ServedView model) {
        ModelSlot.generator(model.model(), "count tokens of messages");
        return Json.object().put("input_tokens", Protocol.MESSAGES.countTokens(body, model));
    }

    /**
     * vLLM's {@code GET /tokenizer_info}, what remote-tokenizer clients read (lm-eval's
     * {@code tokenizer_backend=remote}): the special tokens (none in this model's vocabulary: null,
     * present as keys), its length, and no Jinja chat template (the model's template is not Jinja:
     * chat goes through /v1/chat/completions).
     */
    static ObjectNode tokenizerInfo(ServedView model) {
        ObjectNode o = Json.object();
        o.put("tokenizer_class", model.tokenizer().getClass().getSimpleName());
        o.put("vocab_size", model.tokenizer().vocabSize());
        o.put("model_max_length", model.contextLength());
        for (String special : new String[] {"eos_token", "bos_token", "pad_token", "unk_token", "chat_template"}) {
            o.putNull(special);
        }
        o.put("add_bos_token", false);
        return o;
    }

    /**
     * Two request shapes: TGI's {"inputs": "..."} → [{"id", "text", "start", "stop"}], and vLLM's
     * {"prompt": "..."} → {"count", "max_model_len", "tokens", "token_strs"}.
     */
    static JsonNode tokenize(JsonNode body, ServedView model) {
        JsonFields f = new JsonFields(body, "", Set.of("inputs", "prompt", "model", "add_special_tokens", "return_token_strs"),
                Map.of("messages", "tokenize the rendered chat text as 'prompt' instead"));
        Tokenizer tk = model.tokenizer();
        if (f.has("prompt")) {
            f.bool("add_special_tokens", true); // this model's tokenizer adds none either way
            boolean strs = f.bool("return_token_strs", false);
            long[] ids = RequestFields.encode(f.string("prompt", ""), model, "prompt");
            ObjectNode o = Json.object();
            o.put("count", ids.length);
            o.put("max_model_len", model.contextLength());
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
        long[] ids = RequestFields.encode(text, model, "inputs");
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
    static ObjectNode detokenize(JsonNode body, ServedView model) {
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
        RequestFields.checkIds(arr, model, key);
        ObjectNode o = Json.object();
        o.put(vllm ? "prompt" : "text", model.tokenizer().decode(arr));
        return o;
    }
}
