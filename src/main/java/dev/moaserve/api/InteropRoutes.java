package dev.moaserve.api;

import dev.moaserve.api.protocol.ApiException;
import io.quarkus.vertx.web.RouteFilter;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * What operators and clients expect around the API: {@code /health} and {@code /v1/health} as
 * vLLM/TGI answer them (200 serving, 503 loading or draining), {@code /metrics} beside
 * {@code /q/metrics}, and JSON errors for what the handlers never see: bodies over the limit
 * (413) and failed routes (no stack trace). TGI routes get TGI's error shape, the rest OpenAI's.
 * Unknown routes (404) and methods (405) get the same JSON.
 */
@ApplicationScoped
public class InteropRoutes {
    /** Request bodies above this are refused with 413 (Quarkus' own hard limit is set above it). */
    static final long MAX_BODY = 1 << 20;

    @Inject
    ModelService service;

    void health(RoutingContext rc) {
        boolean up = service.ready();
        rc.response().setStatusCode(up ? 200 : 503).putHeader("Content-Type", "application/json")
                .end(up ? "{\"status\":\"ok\"}" : "{\"status\":\"unavailable\"}");
    }

    /** A declared Content-Length over the limit is refused before the body is read. */
    @RouteFilter(200)
    void limitBody(RoutingContext rc) {
        String length = rc.request().getHeader("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > MAX_BODY) {
                    error(rc, 413, "the request body is larger than " + MAX_BODY + " bytes");
                    return;
                }
            } catch (NumberFormatException e) {
                error(rc, 400, "malformed Content-Length");
                return;
            }
        }
        rc.next();
    }

    /** A failed route (its status, or 500) as error JSON; never a stack trace. */
    static void failure(RoutingContext rc) {
        int status = rc.statusCode() > 0 ? rc.statusCode() : 500;
        error(rc, status, status == 413 ? "the request body is larger than " + MAX_BODY + " bytes"
                : status >= 500 ? "internal error" : "the request failed (" + status + ")");
    }

    static void error(RoutingContext rc, int status, String message) {
        String type = status == 500 ? "server_error" : "invalid_request_error";
        String code = switch (status) {
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            case 413 -> "request_too_large";
            default -> null;
        };
        if (status == 413) {
            rc.response().putHeader("Connection", "close"); // the unread rest of the body is not worth reading
        }
        HttpErrors.send(rc, new ApiException(status, type, message, null, code));
    }
}
