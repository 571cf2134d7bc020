package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.MoaModel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Validates OpenAI and TGI request bodies once, at the edge, into what the engine runs. Strict:
 * every field has its documented type and range, unknown fields and parameters this server does
 * not implement are 400s naming them (never accepted and ignored). Every error names the field.
 */
final class RequestParser {
    /** A validated generation request; {@code echo}: the prompt text is returned before the completion. */
    record Spec(String promptText, long[] prompt, SamplingParams params, boolean stream, boolean includeUsage,
                boolean chatLogprobs, boolean echo, int n, ConstraintRequests.Requested constraint, DecodeMode decode) {
        /** The same request with its constraint compiled into the sampling parameters. */
        Spec constrained(dev.moaserve.engine.constraint.TokenConstraint c) {
            return new Spec(promptText, prompt, params.withConstraint(c), stream, includeUsage, chatLogprobs, echo, n,
                    constraint, decode);
        }
    }

    /** Most choices one request may ask for (n). */
    static final int MAX_N = 16;

    /** Sampling fields both OpenAI routes take. */
    private static final Set<String> SAMPLING = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "min_p",
            "repetition_penalty", "presence_penalty", "frequency_penalty", "seed", "stop", "stream", "stream_options",
            "logprobs", "n", "logit_bias", "user", "moa_decode");
    private static final Set<String> COMPLETION = union(SAMPLING, "prompt", "echo", "best_of", "suffix",
            "response_format", "structured_outputs");
    private static final Set<String> CHAT = union(SAMPLING, "messages", "max_completion_tokens", "top_logprobs",
            "response_format", "structured_outputs", "tools", "tool_choice");
    private static final Map<String, String> CHAT_UNSUPPORTED = Map.of(
            "functions", "function calling is not implemented",
            "function_call", "function calling is not implemented",
            "parallel_tool_calls", "tool calling is not implemented",
            "audio", "audio output is not implemented",
            "modalities", "only text output is implemented",
            "prediction", "predicted outputs are not implemented",
            "web_search_options", "web search is not implemented",
            "reasoning_effort", "this model has no reasoning mode");
    private static final Set<String> TGI_BODY = Set.of("inputs", "parameters", "stream");
    private static final Set<String> TGI_PARAMETERS = Set.of("do_sample", "max_new_tokens", "repetition_penalty",
            "frequency_penalty", "seed", "stop", "temperature", "top_k", "top_p", "details", "return_full_text",
            "decoder_input_details", "watermark", "best_of", "top_n_tokens", "truncate", "typical_p", "grammar",
            "moa_decode");
    private static final Map<String, String> TGI_UNSUPPORTED = Map.of(
            "adapter_id", "adapters are not implemented");

    private RequestParser() {}

    static Spec completion(JsonNode body, ModelService service) {
        JsonFields f = new JsonFields(body, "", COMPLETION, Map.of());
        checkModel(f, service);
        if (f.has("best_of") && f.integer("best_of", 1, 1, MAX_N) != n(f)) {
            throw ApiException.invalid("best_of", "best_of must equal n: choosing the best of several is not implemented");
        }
        if (!f.string("suffix", "").isEmpty()) {
            throw ApiException.invalid("suffix", "'suffix' is not supported by this server: insertion is not implemented");
        }
        int logprobs = (int) f.integer("logprobs", 0, 0, 5);
        boolean echo = f.bool("echo", false);
        if (echo && f.has("logprobs")) {
            throw ApiException.invalid("echo", "'echo' together with 'logprobs' (prompt log-probabilities) is not supported");
        }
        JsonNode p = f.raw("prompt");
        String text;
        long[] ids;
        if (p == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        } else if (p.isTextual()) {
            text = p.asText();
            ids = encode(text, service, "prompt");
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            text = p.get(0).asText();
            ids = encode(text, service, "prompt");
        } else if (p.isArray() && p.size() > 0 && p.get(0).isNumber()) {
            ids = new long[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!JsonFields.isInteger(p.get(i))) {
                    throw ApiException.invalid("prompt", "'prompt' token array must hold only integers (token ids)");
                }
                ids[i] = p.get(i).asLong();
            }
            text = service.model().tokenizer().decode(checkIds(ids, service, "prompt"));
        } else if (p.isArray() && p.size() > 1 && p.get(0).isTextual()) {
            throw ApiException.invalid("prompt", "one prompt per request: 'prompt' lists " + p.size() + " strings");
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string, a list with one string, or a list of token ids");
        }
        return finish(f, service, text, ids, 16, List.of(), false, echo, logprobs);
    }

    static Spec chat(JsonNode body, ModelService service) {
        JsonFields f = new JsonFields(body, "", CHAT, CHAT_UNSUPPORTED);
        checkModel(f, service);
        JsonNode tools = f.raw("tools");
        if (tools != null && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.invalid("tools", "'tools' is not supported by this server: tool calling is not implemented");
        }
        JsonNode choice = f.raw("tool_choice");
        if (choice != null && !"none".equals(choice.asText(null))) {
            throw ApiException.invalid("tool_choice", "'tool_choice' may only be \"none\": tool calling is not implemented");
        }
        List<ChatTemplate.Message> messages = messages(f.raw("messages"));
        ChatTemplate t = service.chatTemplate();
        String text = t.render(messages);
        boolean logprobs = f.bool("logprobs", false);
        int top = (int) f.integer("top_logprobs", 0, 0, 20);
        if (f.has("top_logprobs") && !logprobs) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        return finish(f, service, text, encode(text, service, "messages"), -1, t.stop(), true, false,
                logprobs ? top : -1);
    }

    private static List<ChatTemplate.Message> messages(JsonNode msgs) {
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            String at = "messages[" + i + "]";
            JsonFields m = new JsonFields(msgs.get(i), at + ".", Set.of("role", "content"),
                    Map.of("name", "participant names are not used by this model's chat template",
                            "tool_calls", "tool calling is not implemented",
                            "tool_call_id", "tool calling is not implemented"));
            String role = m.string("role", "");
            if (!List.of("system", "user", "assistant", "developer").contains(role)) {
                throw ApiException.invalid(at + ".role", "role must be system, user, assistant or developer");
            }
            JsonNode c = m.raw("content");
            String content;
            if (c != null && c.isTextual()) {
                content = c.asText();
            } else if (c != null && c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (int j = 0; j < c.size(); j++) {
                    if (!"text".equals(c.get(j).path("type").asText(""))) {
                        throw ApiException.invalid(at + ".content[" + j + "].type",
                                "only text content parts are supported (type \"text\")");
                    }
                    JsonFields part = new JsonFields(c.get(j), at + ".content[" + j + "].", Set.of("type", "text"), Map.of());
                    sb.append(part.string("text", ""));
                }
                content = sb.toString();
            } else {
                throw ApiException.invalid(at + ".content", "content must be a string or an array of text parts");
            }
            messages.add(new ChatTemplate.Message(role, content));
        }
        return messages;
    }

    /** TGI: {"inputs": "...", "parameters": {...}}; its validation errors answer 422 (see {@link Json#tgiStatus}). */
    static Spec tgi(JsonNode body, ModelService service, boolean stream) {
        JsonFields b = new JsonFields(body, "", TGI_BODY, Map.of());
        String text = b.string("inputs", null);
        if (text == null) {
            throw ApiException.invalid("inputs", "'inputs' must be a string");
        }
        b.bool("stream", stream);
        JsonFields p = new JsonFields(b.raw("parameters") == null ? Json.object() : b.raw("parameters"), "parameters.",
                TGI_PARAMETERS, TGI_UNSUPPORTED);
        p.bool("details", true);
        requireValue(p, "decoder_input_details", false, "prompt details are not implemented");
        requireValue(p, "watermark", false, "watermarking is not implemented");
        if (p.integer("best_of", 1, 1, 128) != 1) {
            throw ApiException.invalid("parameters.best_of", "only best_of = 1 is supported");
        }
        if (p.integer("top_n_tokens", 0, 0, 20) != 0) {
            throw ApiException.invalid("parameters.top_n_tokens", "'parameters.top_n_tokens' is not supported");
        }
        if (p.has("truncate")) {
            throw ApiException.invalid("parameters.truncate", "'parameters.truncate' is not supported: prompts are never truncated");
        }
        if (p.has("typical_p")) {
            throw ApiException.invalid("parameters.typical_p", "'parameters.typical_p' is not supported: typical sampling is not implemented");
        }
        long[] ids = encode(text, service, "inputs");
        int seqLen = service.model().config().seqLen();
        int max = (int) p.integer("max_new_tokens", 20, 1, Integer.MAX_VALUE);
        if (ids.length + max > seqLen) {
            throw ApiException.invalid("parameters.max_new_tokens", "`inputs` tokens + `max_new_tokens` must be <= " + seqLen
                    + ". Given: " + ids.length + " `inputs` tokens and " + max + " `max_new_tokens`");
        }
        boolean sample = p.bool("do_sample", false);
        double temperature = p.number("temperature", 1.0, 0, 100);
        if (p.has("temperature") && temperature <= 0) {
            throw ApiException.invalid("parameters.temperature", "`temperature` must be strictly positive");
        }
        double topP = p.number("top_p", 1.0, 0, 1);
        if (p.has("top_p") && (topP <= 0 || topP >= 1)) {
            throw ApiException.invalid("parameters.top_p", "`top_p` must be > 0.0 and < 1.0");
        }
        int topK = (int) p.integer("top_k", 0, 1, Integer.MAX_VALUE);
        // TGI samples when asked to or when any sampling parameter is given
        boolean sampled = sample || p.has("temperature") || p.has("top_p") || p.has("top_k");
        SamplingParams sp = SamplingParams.builder()
                .temperature(sampled ? temperature : 0).topK(topK).topP(topP)
                .repetitionPenalty(p.number("repetition_penalty", 1.0, 1e-6, 100))
                .frequencyPenalty(p.number("frequency_penalty", 0, -2, 2))
                .seed(seed(p, 0)).maxTokens(max).stop(stops(p.raw("stop"), "parameters.stop")).logprobs(1)
                .build();
        return new Spec(text, ids, sp, stream, false, false, p.bool("return_full_text", false), 1,
                ConstraintRequests.tgi(p.raw("grammar")), decodeMode(p, service));
    }

    private static void requireValue(JsonFields f, String key, boolean allowed, String why) {
        if (f.bool(key, allowed) != allowed) {
            throw ApiException.invalid(f.name(key), "'" + f.name(key) + "' must be " + allowed + ": " + why);
        }
    }

    private static Spec finish(JsonFields f, ModelService service, String text, long[] ids, int defaultMax,
                               List<String> extraStops, boolean chat, boolean echo, int logprobs) {
        int seqLen = service.model().config().seqLen();
        String promptParam = chat ? "messages" : "prompt";
        if (ids.length == 0) {
            throw ApiException.invalid(promptParam, "the prompt is empty");
        }
        String maxKey = f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int max;
        if (f.has(maxKey)) {
            max = (int) f.integer(maxKey, 0, 1, Integer.MAX_VALUE);
        } else {
            max = defaultMax > 0 ? defaultMax : Math.max(1, seqLen - ids.length);
        }
        if (ids.length + max > seqLen) {
            throw contextExceeded(seqLen, ids.length, max, f.has(maxKey) ? maxKey : promptParam, chat);
        }
        double temperature = f.number("temperature", 1.0, 0, 2);
        double topP = f.number("top_p", 1.0, 0, 1);
        if (f.has("top_p") && topP <= 0) {
            throw ApiException.invalid("top_p", "'top_p' must be in (0, 1]");
        }
        List<String> stops = new ArrayList<>(stops(f.raw("stop"), "stop"));
        stops.addAll(extraStops);
        boolean stream = f.bool("stream", false);
        boolean includeUsage = false;
        if (f.has("stream_options")) {
            if (!stream) {
                throw ApiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            }
            includeUsage = new JsonFields(f.raw("stream_options"), "stream_options.", Set.of("include_usage"), Map.of())
                    .bool("include_usage", false);
        }
        f.string("user", "");
        int topK = (int) Math.max(0, f.integer("top_k", 0, -1, 1 << 20)); // -1 = off, as in vLLM
        SamplingParams sp = SamplingParams.builder()
                .temperature(temperature).topK(topK).topP(topP).minP(f.number("min_p", 0, 0, 1))
                .repetitionPenalty(f.number("repetition_penalty", 1.0, 1e-6, 100))
                .presencePenalty(f.number("presence_penalty", 0, -2, 2))
                .frequencyPenalty(f.number("frequency_penalty", 0, -2, 2))
                .seed(seed(f, Long.MIN_VALUE)).maxTokens(max).stop(stops).logprobs(Math.max(logprobs, 0))
                .logitBias(logitBias(f.raw("logit_bias"), service))
                .build();
        return new Spec(text, ids, sp, stream, includeUsage, chat && logprobs >= 0, echo, n(f), ConstraintRequests.openAi(f),
                decodeMode(f, service));
    }

    /** {@code moa_decode}: "exact" or "frozen", if the server allows it (moa.decode-allow); else the server's default. */
    private static DecodeMode decodeMode(JsonFields f, ModelService service) {
        if (!f.has("moa_decode")) {
            return service.decodeDefault();
        }
        String name = f.string("moa_decode", "");
        DecodeMode mode;
        try {
            mode = DecodeMode.parse(name);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(f.name("moa_decode"), "'" + f.name("moa_decode") + "' must be \"exact\" or \"frozen\"");
        }
        if (!service.decodeAllowed().contains(mode)) {
            throw ApiException.invalid(f.name("moa_decode"), "'" + f.name("moa_decode") + "' \"" + mode.label()
                    + "\" is not allowed on this server (moa.decode-allow: " + service.decodeAllowed().stream()
                    .map(DecodeMode::label).sorted().toList() + ")");
        }
        return mode;
    }

    /** OpenAI's wording and code, which clients (litellm, langchain) match to detect overflow. */
    private static ApiException contextExceeded(int seqLen, int prompt, int completion, String param, boolean chat) {
        String in = chat ? "messages" : "prompt";
        return new ApiException(400, "invalid_request_error", "This model's maximum context length is " + seqLen
                + " tokens. However, you requested " + (prompt + completion) + " tokens (" + prompt + " in the " + in + ", "
                + completion + " for the completion). Please reduce the length of the " + in + " or completion.",
                param, "context_length_exceeded");
    }

    /** {"token id": bias in [-100, 100]}, token ids checked against the vocabulary. */
    private static Map<Integer, Float> logitBias(JsonNode lb, ModelService service) {
        if (lb == null) {
            return Map.of();
        }
        if (!lb.isObject()) {
            throw ApiException.invalid("logit_bias", "'logit_bias' must be an object mapping token ids to numbers in [-100, 100]");
        }
        int vocab = service.model().tokenizer().vocabSize();
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

    private static void checkModel(JsonFields f, ModelService service) {
        String m = f.string("model", null);
        if (m != null && !m.equals(service.name())) {
            throw new ApiException(404, "invalid_request_error", "The model '" + m
                    + "' does not exist; this server serves '" + service.name() + "'", "model", "model_not_found");
        }
    }

    private static int n(JsonFields f) {
        return (int) f.integer("n", 1, 1, MAX_N);
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

    /** The request's seed, or null for a random one; TGI's seeds are unsigned ({@code min} 0). */
    private static Long seed(JsonFields f, long min) {
        return f.has("seed") ? f.integer("seed", 0, min, Long.MAX_VALUE) : null;
    }

    private static List<String> stops(JsonNode s, String param) {
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
        }
        return out;
    }

    private static Set<String> union(Set<String> a, String... more) {
        Set<String> s = new java.util.HashSet<>(a);
        s.addAll(List.of(more));
        return Set.copyOf(s);
    }
}
