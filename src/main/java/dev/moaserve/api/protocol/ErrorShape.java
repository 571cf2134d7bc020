package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The error shapes clients parse: OpenAI's {@code {"error": {"message", "type", "param",
 * "code"}}} (every route but TGI's and Anthropic's), TGI's {@code {"error": "...", "error_type":
 * "..."}}, whose client mistakes answer 422 (validation) instead of 400, and Anthropic's
 * {@code {"type": "error", "error": {"type", "message"}}} on the Messages routes.
 */
public enum ErrorShape {
    OPENAI, TGI, ANTHROPIC;

    /**
     * TGI's routes and TEI's {@code /embed}, in any spelling the router takes for them
     * ({@code /generate/}); Anthropic's {@code /v1/messages…}; everything else answers OpenAI's shape.
     */
    public static ErrorShape forPath(String path) {
        if (path != null && path.startsWith("/v1/messages")) {
            return ANTHROPIC;
        }
        return path != null && (path.startsWith("/generate") || path.equals("/embed") || path.equals("/embed/")) ? TGI : OPENAI;
    }

    public int status(ApiException e) {
        return this == TGI && e.status() == 400 ? 422 : e.status();
    }

    public ObjectNode body(ApiException e) {
        if (this == OPENAI) {
            return Json.error(e);
        }
        if (this == ANTHROPIC) {
            ObjectNode root = Json.object().put("type", "error");
            root.putObject("error").put("type", switch (e.status()) {
                case 400, 405, 415, 422 -> "invalid_request_error";
                case 401 -> "authentication_error";
                case 403 -> "permission_error";
                case 404 -> "not_found_error";
                case 413 -> "request_too_large";
                case 429 -> "rate_limit_error";
                case 503 -> "overloaded_error";
                default -> "api_error";
            }).put("message", e.getMessage());
            return root;
        }
        ObjectNode root = Json.object();
        root.put("error", e.getMessage());
        root.put("error_type", switch (e.status()) {
            case 400, 404, 413, 415 -> "validation";
            case 429 -> "overloaded";
            case 401, 403 -> "authentication";
            case 503 -> "unavailable";
            default -> "generation";
        });
        return root;
    }
}
