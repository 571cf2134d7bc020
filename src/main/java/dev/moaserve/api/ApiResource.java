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
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

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

    /** TGI: {"inputs": "..."} → [{"id", "text", "start", "stop"}]. */
    @POST
    @Path("tokenize")
    @Consumes(MediaType.APPLICATION_JSON)
    public ArrayNode tokenize(JsonNode body) {
        if (body == null || !body.path("inputs").isTextual()) {
            throw ApiException.invalid("inputs", "'inputs' must be a string");
        }
        String text = body.get("inputs").asText();
        long[] ids = RequestParser.encode(text, service, "inputs");
        Tokenizer tk = service.model().tokenizer();
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

    /** {"ids": [...]} → {"text": "..."}. */
    @POST
    @Path("detokenize")
    @Consumes(MediaType.APPLICATION_JSON)
    public ObjectNode detokenize(JsonNode body) {
        JsonNode ids = body == null ? null : body.get("ids");
        if (ids == null || !ids.isArray()) {
            throw ApiException.invalid("ids", "'ids' must be an array of token ids");
        }
        long[] arr = new long[ids.size()];
        for (int i = 0; i < arr.length; i++) {
            if (!ids.get(i).isIntegralNumber()) {
                throw ApiException.invalid("ids", "'ids' must hold integers");
            }
            arr[i] = ids.get(i).asLong();
        }
        RequestParser.checkIds(arr, service, "ids");
        ObjectNode o = Json.object();
        o.put("text", service.model().tokenizer().decode(arr));
        return o;
    }

    @ServerExceptionMapper
    public Response apiError(ApiException e) {
        return Response.status(e.status()).type(MediaType.APPLICATION_JSON).entity(Json.write(Json.error(e))).build();
    }

    /** Malformed JSON, wrong media type, unknown route under this resource: same error shape. */
    @ServerExceptionMapper
    public Response webError(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String message = status == 400 ? "malformed JSON in the request body" : e.getMessage();
        return Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(Json.write(Json.error(message, "invalid_request_error", null, null))).build();
    }
}
