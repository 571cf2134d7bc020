package dev.moaserve.api;

import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ErrorShape;
import dev.moaserve.api.protocol.Json;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/** Every error answer of the server goes out here, in the shape of the route it answers. */
final class HttpErrors {
    private HttpErrors() {}

    /** Ends the response with the error in {@code shape} (status and body), unless it already ended. */
    static void send(HttpServerResponse response, ApiException e, ErrorShape shape) {
        if (response.ended() || response.closed()) {
            return;
        }
        response.setStatusCode(shape.status(e)).putHeader("Content-Type", "application/json")
                .end(Json.write(shape.body(e)));
    }

    /** The error in the shape of the request's route (TGI's on TGI's routes, OpenAI's elsewhere). */
    static void send(RoutingContext rc, ApiException e) {
        send(rc.response(), e, ErrorShape.forPath(rc.normalizedPath()));
    }
}
