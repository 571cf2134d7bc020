package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.Tokenizer;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.util.Map;
import java.util.Set;

/** Model listing and tokenization (Quarkus REST); generation lives in {@link GenerationRoutes}. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class ApiResource {
    @Inject
    ModelService service;

    @GET
    @Path("v1/models")
    public ObjectNode models() {
        ObjectNode o = Json.object();
        o.put("object", "list");
        o.putArray("data").add(model());
        return o;
    }

    @GET
    @Path("v1/models/{id}")
    public ObjectNode model(@PathParam("id") String id) {
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
        m.put("max_model_len", service.model().config().seqLen());
        m.put("device", service.device());
        return m;
    }

    /**
     * Two request shapes: TGI's {"inputs": "..."} → [{"id", "text", "start", "stop"}], and vLLM's
     * {"prompt": "..."} → {"count", "max_model_len", "tokens", "token_strs"}.
     */
    @POST
    @Path("tokenize")
    @Consumes(MediaType.APPLICATION_JSON)
    public JsonNode tokenize(JsonNode body) {
        JsonFields f = new JsonFields(body, "", Set.of("inputs", "prompt", "model", "add_special_tokens", "return_token_strs"),
                Map.of("messages", "tokenize the rendered chat text as 'prompt' instead"));
        Tokenizer tk = service.model().tokenizer();
        if (f.has("prompt")) {
            f.bool("add_special_tokens", true); // this model's tokenizer adds none either way
            boolean strs = f.bool("return_token_strs", false);
            long[] ids = RequestParser.encode(f.string("prompt", ""), service, "prompt");
            ObjectNode o = Json.object();
            o.put("count", ids.length);
            o.put("max_model_len", service.model().config().seqLen());
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
        long[] ids = RequestParser.encode(text, service, "inputs");
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
    @POST
    @Path("detokenize")
    @Consumes(MediaType.APPLICATION_JSON)
    public ObjectNode detokenize(JsonNode body) {
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
        RequestParser.checkIds(arr, service, key);
        ObjectNode o = Json.object();
        o.put(vllm ? "prompt" : "text", service.model().tokenizer().decode(arr));
        return o;
    }
}
