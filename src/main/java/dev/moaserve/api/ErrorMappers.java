package dev.moaserve.api;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Errors of the Quarkus REST endpoints, in the same OpenAI error JSON as every other route. */
public class ErrorMappers {
    @ServerExceptionMapper
    public Response apiError(ApiException e) {
        return Response.status(e.status()).type(MediaType.APPLICATION_JSON).entity(Json.write(Json.error(e))).build();
    }

    /** Malformed JSON, wrong media type or method: same error shape. */
    @ServerExceptionMapper
    public Response webError(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String message = switch (status) {
            case 400 -> "malformed JSON in the request body";
            case 404 -> "no such route; the API is /v1/models, /v1/completions, /v1/chat/completions, /generate, "
                    + "/generate_stream, /tokenize, /detokenize";
            case 405 -> "this method is not allowed on this route";
            default -> e.getMessage();
        };
        String code = switch (status) {
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            default -> null;
        };
        return Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(Json.write(Json.error(message, status >= 500 ? "server_error" : "invalid_request_error", null, code)))
                .build();
    }
}
