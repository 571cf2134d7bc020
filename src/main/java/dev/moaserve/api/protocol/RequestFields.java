package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.model.DecodeMode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Field rules more than one API shares: prompts as text or ids, seeds, stop strings, logit bias, decode mode. */
public final class RequestFields {
    /** Most choices one request may ask for (n). */
    static final int MAX_N = 16;

    private RequestFields() {}

    /** The text's token ids; a character the vocabulary lacks is a 400 naming {@code param}. */
    public static long[] encode(String text, ServedModel model, String param) {
        try {
            return model.tokenizer().encode(text);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(param, e.getMessage());
        }
    }

    /** The ids, each checked against the vocabulary. */
    public static long[] checkIds(long[] ids, ServedModel model, String param) {
        int vocab = model.tokenizer().vocabSize();
        for (long id : ids) {
            if (id < 0 || id >= vocab) {
                throw ApiException.invalid(param, "token id " + id + " is out of range [0, " + vocab + ")");
            }
        }
        return ids;
    }

    /** A {@code model} field, if given, must name the served model (404 otherwise, as OpenAI answers). */
    static void checkModel(JsonFields f, ServedModel model) {
        String m = f.string("model", null);
        if (m != null && !m.equals(model.name())) {
            throw new ApiException(404, "invalid_request_error", "The model '" + m
                    + "' does not exist; this server serves '" + model.name() + "'", "model", "model_not_found");
        }
    }

    static int n(JsonFields f) {
        return (int) f.integer("n", 1, 1, MAX_N);
    }

    /** The request's seed, or null for a random one; TGI's seeds are unsigned ({@code min} 0). */
    static Long seed(JsonFields f, long min) {
        return f.has("seed") ? f.integer("seed", 0, min, Long.MAX_VALUE) : null;
    }

    static void requireValue(JsonFields f, String key, boolean allowed, String why) {
        if (f.bool(key, allowed) != allowed) {
            throw ApiException.invalid(f.name(key), "'" + f.name(key) + "' must be " + allowed + ": " + why);
        }
    }

    /** Longest stop string: matching costs up to its length per generated token. */
    static final int MAX_STOP_CHARS = 1_000;

    /** A string or a list of at most 4 non-empty strings of at most {@link #MAX_STOP_CHARS} characters. */
    static List<String> stops(JsonNode s, String param) {
        if (s == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray() && s.size() <= 4) {
            for (JsonNode x : s) {
                if (!x.isTextual()) {
                    throw ApiException.invalid(param, "'" + param + "' entries must be strings");
                }
                out.add(x.asText());
            }
        } else {
            throw ApiException.invalid(param, "'" + param + "' must be a string or a list of at most 4 strings");
        }
        for (String x : out) {
            if (x.isEmpty()) {
                throw ApiException.invalid(param, "'" + param + "' strings must not be empty");
            }
            if (x.length() > MAX_STOP_CHARS) {
                throw ApiException.invalid(param, "'" + param + "' strings must have at most " + MAX_STOP_CHARS + " characters");
            }
        }
        return out;
    }

    /** {"token id": bias in [-100, 100]}, token ids checked against the vocabulary. */
    static Map<Integer, Float> logitBias(JsonNode lb, ServedModel model) {
        if (lb == null) {
            return Map.of();
        }
        if (!lb.isObject()) {
            throw ApiException.invalid("logit_bias", "'logit_bias' must be an object mapping token ids to numbers in [-100, 100]");
        }
        int vocab = model.tokenizer().vocabSize();
        Map<Integer, Float> out = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = lb.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey().trim());
            } catch (NumberFormatException ex) {
                throw ApiException.invalid("logit_bias", "'logit_bias' key \"" + e.getKey() + "\" is not a token id");
            }
            if (id < 0 || id >= vocab) {
                throw ApiException.invalid("logit_bias", "'logit_bias' token id " + id + " is out of range [0, " + vocab + ")");
            }
            JsonNode v = e.getValue();
            if (!v.isNumber() || !Double.isFinite(v.asDouble()) || Math.abs(v.asDouble()) > 100) {
                throw ApiException.invalid("logit_bias", "'logit_bias' values must be numbers in [-100, 100]");
            }
            out.put(id, (float) v.asDouble());
        }
        return out;
    }

    /** Priorities a request may give: lower runs first. */
    static final int MAX_PRIORITY = 1_000_000;

    /**
     * {@code priority} (vLLM's meaning: lower runs first, default 0), honoured by admission when
     * the batch is full. A non-zero priority on a first-come-first-served server is refused, as
     * vLLM does, so no one believes they got priority when they did not.
     */
    public static int priority(JsonFields f, ServedModel model) {
        if (!f.has("priority")) {
            return 0;
        }
        String name = f.name("priority");
        int p = (int) f.integer("priority", 0, -MAX_PRIORITY, MAX_PRIORITY);
        if (p != 0 && !model.priorityScheduling()) {
            throw ApiException.invalid(name, "'" + name + "' is honoured only when the server schedules by priority "
                    + "(moa.scheduling-policy=priority); this server is first-come-first-served");
        }
        return p;
    }

    /**
     * {@code return_routing} (with {@code routing_start}, a token position): the routing from that
     * position on, or empty when not asked. Refused where the server hides routing
     * ({@code moa.routing-visible=false}) and for frozen decoding (its arrival-time routing is not
     * the full text's, and is not returned yet).
     */
    static java.util.OptionalInt routingStart(JsonFields f, ServedModel model, DecodeMode decode) {
        if (!f.bool("return_routing", false)) {
            if (f.has("routing_start")) {
                throw ApiException.invalid(f.name("routing_start"), "'" + f.name("routing_start") + "' needs 'return_routing': true");
            }
            return java.util.OptionalInt.empty();
        }
        String name = f.name("return_routing");
        if (!model.routingVisible()) {
            throw ApiException.invalid(name, "'" + name + "' is disabled on this server (moa.routing-visible=false)");
        }
        if (decode == DecodeMode.FROZEN) {
            throw ApiException.invalid(name, "'" + name + "' is served for exact decoding only: frozen decoding routes each "
                    + "token on arrival, and that routing is not returned yet");
        }
        return java.util.OptionalInt.of((int) f.integer("routing_start", 0, 0, model.contextLength()));
    }

    /** {@code moa_decode}: "exact" or "frozen", if the server allows it (moa.decode-allow); else the server's default. */
    static DecodeMode decodeMode(JsonFields f, ServedModel model) {
        if (!f.has("moa_decode")) {
            return model.decodeDefault();
        }
        String name = f.string("moa_decode", "");
        DecodeMode mode;
        try {
            mode = DecodeMode.parse(name);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(f.name("moa_decode"), "'" + f.name("moa_decode") + "' must be \"exact\" or \"frozen\"");
        }
        if (!model.decodeAllowed().contains(mode)) {
            throw ApiException.invalid(f.name("moa_decode"), "'" + f.name("moa_decode") + "' \"" + mode.label()
                    + "\" is not allowed on this server (moa.decode-allow: " + model.decodeAllowed().stream()
                    .map(DecodeMode::label).sorted().toList() + ")");
        }
        return mode;
    }

    static Set<String> union(Set<String> a, String... more) {
        Set<String> s = new HashSet<>(a);
        s.addAll(List.of(more));
        return Set.copyOf(s);
    }
}
