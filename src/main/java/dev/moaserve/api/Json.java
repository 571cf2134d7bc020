package dev.moaserve.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Shared JSON helpers, including the one error shape every endpoint uses. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {}

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static String write(Object o) {
        try {
            return MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code {"error": {"message", "type", "param", "code"}}} */
    public static ObjectNode error(String message, String type, String param, String code) {
        ObjectNode root = object();
        ObjectNode e = root.putObject("error");
        e.put("message", message);
        e.put("type", type);
        if (param == null) {
            e.putNull("param");
        } else {
            e.put("param", param);
        }
        if (code == null) {
            e.putNull("code");
        } else {
            e.put("code", code);
        }
        return root;
    }

    public static ObjectNode error(ApiException e) {
        return error(e.getMessage(), e.type(), e.param(), e.code());
    }

    /** The error in OpenAI's shape, or in TGI's: {@code {"error": "...", "error_type": "..."}}. */
    public static ObjectNode error(ApiException e, boolean tgi) {
        if (!tgi) {
            return error(e);
        }
        ObjectNode root = object();
        root.put("error", e.getMessage());
        root.put("error_type", tgiErrorType(e.status()));
        return root;
    }

    /** TGI answers client mistakes with 422 (validation); other statuses stay as they are. */
    public static int tgiStatus(ApiException e) {
        return e.status() == 400 ? 422 : e.status();
    }

    private static String tgiErrorType(int status) {
        return switch (status) {
            case 400, 404, 413, 415 -> "validation";
            case 429 -> "overloaded";
            case 401, 403 -> "authentication";
            case 503 -> "unavailable";
            default -> "generation";
        };
    }
}
