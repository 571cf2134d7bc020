package dev.moaserve.api;

import dev.moaserve.api.protocol.ApiException;
import io.quarkus.runtime.Startup;
import io.quarkus.vertx.web.RouteFilter;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * API keys, deny by default: when keys are configured ({@code moa.api-keys},
 * {@code moa.api-keys-file}), every request needs {@code Authorization: Bearer <key>} except a
 * GET or HEAD of one of the few open endpoints below (health probes, metrics unless
 * {@code moa.protect-metrics}, the playground's static files).
 *
 * <p>Why the open endpoints are matched on the raw path, exactly as spelled: the routers
 * (Vert.x, with trailing slashes, dot segments, {@code //}, percent-encoding) accept many
 * spellings of one route, and a list of <em>protected</em> paths missed some of them. Here nothing
 * is protected by being listed: a route added later needs a key without anyone remembering it,
 * and any spelling of an open endpoint other than the plain one ({@code /q/health/ready/},
 * {@code /health/../generate}) needs a key too — such spellings fail closed.
 */
@ApplicationScoped
@Startup
public class AuthFilter {
    private static final Logger LOG = Logger.getLogger(AuthFilter.class);

    /** Open with or without keys: probes (kubelet sends no headers) and the playground page. */
    static final Set<String> OPEN = Set.of("/health", "/v1/health", "/q/health", "/q/health/live",
            "/q/health/ready", "/q/health/started", "/", "/index.html", "/playground.css", "/playground.js");

    /** Open unless {@code moa.protect-metrics}. */
    static final Set<String> METRICS = Set.of("/metrics", "/q/metrics");

    @Inject
    ServingConfig config;

    @Inject
    ModelService service;

    private ApiKeys keys;

    /** Builds the key set at startup, so a missing or empty key file stops the server before it listens. */
    @PostConstruct
    void init() {
        keys = new ApiKeys(config.apiKeys().orElse(List.of()), config.apiKeysFile().map(Path::of).orElse(null),
                System::nanoTime);
    }

    @RouteFilter(100)
    void check(RoutingContext rc) {
        if (!keys.enabled() || isOpen(rc.request().method(), rc.request().path())
                || service.isWarmUp(rc.request().getHeader(HttpWarmUp.HEADER))) {
            rc.next();
            return;
        }
        String token = bearerToken(rc.request().getHeader("Authorization"));
        if (token == null) {
            token = rc.request().getHeader("x-api-key"); // Anthropic's clients send their key here
        }
        if (token != null && keys.accepts(token)) {
            rc.next();
            return;
        }
        LOG.debugf("401 for %s %s (%s)", rc.request().method(), rc.request().path(),
                token == null ? "no Bearer key" : "wrong key");
        // RFC 6750 §3: a challenge on every 401; error="invalid_token" only when a key was sent
        rc.response().putHeader("WWW-Authenticate",
                token == null ? "Bearer realm=\"moa-serve\"" : "Bearer realm=\"moa-serve\", error=\"invalid_token\"");
        HttpErrors.send(rc, new ApiException(401, "invalid_request_error",
                token == null ? "missing API key: send Authorization: Bearer <key> (or x-api-key: <key>)" : "invalid API key", null,
                "invalid_api_key"));
    }

    /** An open endpoint: GET or HEAD of one of {@link #OPEN} (or {@link #METRICS}), spelled exactly. */
    boolean isOpen(HttpMethod method, String rawPath) {
        if (rawPath == null || (method != HttpMethod.GET && method != HttpMethod.HEAD)) {
            return false;
        }
        return OPEN.contains(rawPath) || (!config.protectMetrics() && METRICS.contains(rawPath));
    }

    /**
     * The credentials of {@code Authorization: Bearer <key>}; the scheme is case-insensitive
     * (RFC 7235 §2.1), then one or more spaces. Null for a missing header or another scheme.
     */
    static String bearerToken(String authorization) {
        if (authorization == null) {
            return null;
        }
        String a = authorization.strip();
        int space = a.indexOf(' ');
        if (space < 0 || !a.substring(0, space).equalsIgnoreCase("bearer")) {
            return null;
        }
        String token = a.substring(space + 1).strip();
        return token.isEmpty() ? null : token;
    }
}
