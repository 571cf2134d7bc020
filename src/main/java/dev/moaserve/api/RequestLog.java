package dev.moaserve.api;

import org.jboss.logging.Logger;

/**
 * The one INFO line each request ends with (id, route, tokens, TTFT, total, outcome), under one
 * category for every route, {@code dev.moaserve.api.RequestLog}, so an operator can keep or drop
 * request lines alone.
 */
final class RequestLog {
    static final Logger LOG = Logger.getLogger(RequestLog.class);

    private RequestLog() {}
}
