package dev.moaserve.api;

import io.quarkus.vertx.web.RouteFilter;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Optional API keys ({@code moa.api-keys}): when set, every API route needs
 * {@code Authorization: Bearer <key>}; health, metrics and the playground stay open.
 */
@ApplicationScoped
public class AuthFilter {
    @Inject
    ServingConfig config;

    @RouteFilter(100)
    void check(RoutingContext rc) {
        List<String> keys = config.apiKeys().orElse(List.of());
        String path = rc.normalizedPath();
        boolean api = path.startsWith("/v1/") || path.equals("/generate") || path.equals("/generate_stream")
                || path.equals("/tokenize") || path.equals("/detokenize");
        if (keys.isEmpty() || !api) {
            rc.next();
            return;
        }
        String auth = rc.request().getHeader("Authorization");
        String given = auth != null && auth.startsWith("Bearer ") ? auth.substring(7).trim() : null;
        if (given != null && keys.stream().anyMatch(k -> constantTimeEquals(k, given))) {
            rc.next();
            return;
        }
        GenerationRoutes.sendError(rc.response(), new ApiException(401, "invalid_request_error",
                given == null ? "missing API key: send Authorization: Bearer <key>" : "invalid API key", null,
                "invalid_api_key"), GenerationRoutes.isTgiRoute(rc.normalizedPath()));
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
