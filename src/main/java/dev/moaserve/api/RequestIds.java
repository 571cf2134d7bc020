package dev.moaserve.api;

import io.quarkus.vertx.web.RouteFilter;
import io.vertx.ext.web.RoutingContext;

import java.util.UUID;
import java.util.regex.Pattern;

/**
 * {@code x-request-id} on every response: the client's own when it sent a usable one, else the
 * request's id (a generation's response id). The request log line and the span carry it, so the
 * id a user quotes from the official clients leads to the server's record of the request.
 */
@jakarta.enterprise.context.ApplicationScoped
class RequestIds {
    static final String HEADER = "x-request-id";
    private static final String KEY = "moa.request-id";
    /** What is echoed of a client's id: printable ASCII, no spaces, at most 200 characters. */
    private static final Pattern USABLE = Pattern.compile("[\\x21-\\x7e]{1,200}");

    /** Before every route, the auth filter too (its 401s carry the id as well). */
    @RouteFilter(200)
    void assign(RoutingContext rc) {
        String own = rc.request().getHeader(HEADER);
        if (own != null && USABLE.matcher(own).matches()) {
            rc.put(KEY, own);
        }
        rc.addHeadersEndHandler(v -> rc.response().headers().set(HEADER, of(rc)));
        rc.next();
    }

    /** The request's own id becomes its x-request-id unless the client sent one. */
    static void use(RoutingContext rc, String id) {
        if (rc.get(KEY) == null) {
            rc.put(KEY, id);
        }
    }

    /** The request's x-request-id (one is made up for a request that has none yet). */
    static String of(RoutingContext rc) {
        String id = rc.get(KEY);
        if (id == null) {
            id = "req-" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
            rc.put(KEY, id);
        }
        return id;
    }
}
