package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.MoaModel;

import java.util.ArrayList;
import java.util.List;

/**
 * Validates OpenAI and TGI request bodies once, at the edge, into what the engine runs. Every
 * error names the offending field.
 */
final class RequestParser {
    /** A validated generation request. */
    record Spec(String promptText, long[] prompt, SamplingParams params, boolean stream, boolean includeUsage,
                boolean chatLogprobs) {}

    private RequestParser() {}

    static Spec completion(JsonNode body, ModelService service) {
        requireObject(body);
        checkModel(body, service);
        checkN(body);
        JsonNode p = body.get("prompt");
        String text;
        if (p == null || p.isNull()) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        } else if (p.isTextual()) {
            text = p.asText();
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            text = p.get(0).asText();
        } else if (p.isArray() && p.size() > 0 && p.get(0).isIntegralNumber()) {
            long[] ids = new long[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!p.get(i).isIntegralNumber()) {
                    throw ApiException.invalid("prompt", "'prompt' token array must hold integers");
                }
                ids[i] = p.get(i).asLong();
            }
            return finish(body, service, service.model().tokenizer().decode(checkIds(ids, service, "prompt")), ids, 16,
                    List.of(), false);
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string, a list with one string, or a list of token ids");
        }
        int logprobs = intIn(body, "logprobs", 0, 0, 20);
        Spec s = finish(body, service, text, encode(text, service, "prompt"), 16, List.of(), false);
        return withLogprobs(s, logprobs);
    }

    static Spec chat(JsonNode body, ModelService service) {
        requireObject(body);
        checkModel(body, service);
        checkN(body);
        JsonNode msgs = body.get("messages");
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            String role = m.path("role").asText("");
            if (!List.of("system", "user", "assistant", "developer").contains(role)) {
                throw ApiException.invalid("messages[" + i + "].role", "role must be system, user, assistant or developer");
            }
            JsonNode c = m.get("content");
            String content;
            if (c != null && c.isTextual()) {
                content = c.asText();
            } else if (c != null && c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode part : c) {
                    if (!"text".equals(part.path("type").asText())) {
                        throw ApiException.invalid("messages[" + i + "].content", "only text content parts are supported");
                    }
                    sb.append(part.path("text").asText());
                }
                content = sb.toString();
            } else {
                throw ApiException.invalid("messages[" + i + "].content", "content must be a string or text parts");
            }
            messages.add(new ChatTemplate.Message(role, content));
        }
        ChatTemplate t = service.chatTemplate();
        String text = t.render(messages);
        boolean logprobs = body.path("logprobs").asBoolean(false);
        int top = intIn(body, "top_logprobs", 0, 0, 20);
        Spec s = finish(body, service, text, encode(text, service, "messages"), -1, t.stop(), true);
        return withLogprobs(s, logprobs ? Math.max(top, 0) : -1);
    }

    /** TGI: {"inputs": "...", "parameters": {...}}. */
    static Spec tgi(JsonNode body, ModelService service, boolean stream) {
        requireObject(body);
        JsonNode in = body.get("inputs");
        if (in == null || !in.isTextual()) {
            throw ApiException.invalid("inputs", "'inputs' must be a string");
        }
        JsonNode params = body.path("parameters");
        String text = in.asText();
        long[] ids = encode(text, service, "inputs");
        int seqLen = service.model().config().seqLen();
        int max = intIn(params, "max_new_tokens", 20, 1, seqLen);
        boolean sample = params.path("do_sample").asBoolean(false);
        double temperature = numberIn(params, "temperature", sample ? 1.0 : 0.0, 0, 100);
        if (!sample && !params.has("temperature") && !params.has("top_p") && !params.has("top_k")) {
            temperature = 0;
        }
        double topP = numberIn(params, "top_p", 1.0, 0, 1);
        if (params.has("top_p") && topP <= 0) {
            throw ApiException.invalid("parameters.top_p", "'top_p' must be in (0, 1]");
        }
        SamplingParams sp = new SamplingParams(temperature, intIn(params, "top_k", 0, 0, 1 << 20), topP, 0,
                numberIn(params, "repetition_penalty", 1.0, 1e-6, 100), 0, 0, seed(params),
                max, stops(params.get("stop"), "parameters.stop"), 1);
        checkContext(ids.length, max, seqLen, "parameters.max_new_tokens");
        return new Spec(text, ids, sp, stream, false, false);
    }

    private static Spec withLogprobs(Spec s, int logprobs) {
        SamplingParams p = s.params();
        SamplingParams q = new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(),
                p.presencePenalty(), p.frequencyPenalty(), p.seed(), p.maxTokens(), p.stop(), Math.max(logprobs, 0));
        return new Spec(s.promptText(), s.prompt(), q, s.stream(), s.includeUsage(), logprobs >= 0 && s.chatLogprobs());
    }

    private static Spec finish(JsonNode body, ModelService service, String text, long[] ids, int defaultMax,
                               List<String> extraStops, boolean chat) {
        int seqLen = service.model().config().seqLen();
        if (ids.length == 0) {
            throw ApiException.invalid(chat ? "messages" : "prompt", "the prompt is empty");
        }
        String maxKey = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int max = defaultMax > 0 ? defaultMax : Math.max(1, seqLen - ids.length);
        JsonNode m = body.get(maxKey);
        if (m != null && !m.isNull()) {
            if (!m.isIntegralNumber() || m.asLong() < 1) {
                throw ApiException.invalid(maxKey, "'" + maxKey + "' must be a positive integer");
            }
            if (m.asLong() > seqLen) {
                throw ApiException.invalid(maxKey, "'" + maxKey + "' is " + m.asLong() + " but the model's context is "
                        + seqLen + " tokens");
            }
            max = m.asInt();
        }
        checkContext(ids.length, max, seqLen, maxKey);
        double temperature = numberIn(body, "temperature", 1.0, 0, 2);
        double topP = numberIn(body, "top_p", 1.0, 0, 1);
        if (body.has("top_p") && topP <= 0) {
            throw ApiException.invalid("top_p", "'top_p' must be in (0, 1]");
        }
        List<String> stops = new ArrayList<>(stops(body.get("stop"), "stop"));
        stops.addAll(extraStops);
        SamplingParams sp = new SamplingParams(temperature, intIn(body, "top_k", 0, 0, 1 << 20), topP,
                numberIn(body, "min_p", 0, 0, 1), numberIn(body, "repetition_penalty", 1.0, 1e-6, 100),
                numberIn(body, "presence_penalty", 0, -2, 2), numberIn(body, "frequency_penalty", 0, -2, 2),
                seed(body), max, List.copyOf(stops), 0);
        boolean stream = body.path("stream").asBoolean(false);
        JsonNode so = body.path("stream_options");
        return new Spec(text, ids, sp, stream, stream && so.path("include_usage").asBoolean(false), chat);
    }

    private static void checkContext(int prompt, int max, int seqLen, String param) {
        if (prompt + max > seqLen) {
            throw ApiException.invalid(param, "prompt (" + prompt + " tokens) + " + param + " (" + max
                    + ") exceeds the model's context of " + seqLen + " tokens");
        }
    }

    private static void requireObject(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
    }

    private static void checkModel(JsonNode body, ModelService service) {
        JsonNode m = body.get("model");
        if (m != null && !m.isNull() && !m.asText().equals(service.name())) {
            throw new ApiException(404, "invalid_request_error", "The model '" + m.asText()
                    + "' does not exist; this server serves '" + service.name() + "'", "model", "model_not_found");
        }
    }

    private static void checkN(JsonNode body) {
        JsonNode n = body.get("n");
        if (n != null && !n.isNull() && (!n.isIntegralNumber() || n.asInt() != 1)) {
            throw ApiException.invalid("n", "only n = 1 is supported");
        }
    }

    static long[] encode(String text, ModelService service, String param) {
        try {
            return service.model().tokenizer().encode(text);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(param, e.getMessage());
        }
    }

    static long[] checkIds(long[] ids, ModelService service, String param) {
        MoaModel m = service.model();
        for (long id : ids) {
            if (id < 0 || id >= m.tokenizer().vocabSize()) {
                throw ApiException.invalid(param, "token id " + id + " is out of range [0, " + m.tokenizer().vocabSize() + ")");
            }
        }
        return ids;
    }

    private static Long seed(JsonNode body) {
        JsonNode s = body.get("seed");
        if (s == null || s.isNull()) {
            return null;
        }
        if (!s.isIntegralNumber()) {
            throw ApiException.invalid("seed", "'seed' must be an integer");
        }
        return s.asLong();
    }

    private static List<String> stops(JsonNode s, String param) {
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray() && s.size() <= 4) {
            for (JsonNode x : s) {
                if (!x.isTextual()) {
                    throw ApiException.invalid(param, "'stop' entries must be strings");
                }
                out.add(x.asText());
            }
        } else {
            throw ApiException.invalid(param, "'stop' must be a string or a list of at most 4 strings");
        }
        for (String x : out) {
            if (x.isEmpty()) {
                throw ApiException.invalid(param, "'stop' strings must not be empty");
            }
        }
        return out;
    }

    static double numberIn(JsonNode body, String key, double fallback, double min, double max) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max || Double.isNaN(v.asDouble())) {
            throw ApiException.invalid(key, "'" + key + "' must be a number in [" + fmt(min) + ", " + fmt(max) + "]");
        }
        return v.asDouble();
    }

    static int intIn(JsonNode body, String key, int fallback, int min, int max) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) {
            throw ApiException.invalid(key, "'" + key + "' must be an integer in [" + min + ", " + max + "]");
        }
        return v.asInt();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
