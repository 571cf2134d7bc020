package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The two error shapes clients parse: OpenAI's {@code {"error": {"message", "type", "param",
 * "code"}}} (every route but TGI's) and TGI's {@code {"error": "...", "error_type": "..."}},
 * whose client mistakes answer 422 (validation) instead of 400.
 */
public enum ErrorShape {
    OPENAI, TGI;

    /**
     * TGI's routes and TEI's {@code /embed}, in any spelling the router takes for them
     * ({@code /generate/}); everything else answers OpenAI's shape.
     */
    public static ErrorShape forPath(String path) {
        return path != null && (path.startsWith("/generate") || path.equals("/embed") || path.equals("/embed/")) ? TGI : OPENAI;
    }

    public int status(ApiException e) {
        return this == TGI && e.status() == 400 ? 422 : e.status();
    }

    public ObjectNode body(ApiException e) {
        if (this == OPENAI) {
            return Json.error(e);
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
