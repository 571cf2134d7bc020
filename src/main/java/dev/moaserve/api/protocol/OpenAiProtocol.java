package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.InferenceRequest;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.DecodeMode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** What OpenAI's completions and chat completions share: the sampling fields and the answer's envelope. */
abstract class OpenAiProtocol implements Protocol {
    /** Sampling fields both OpenAI routes take. */
    static final Set<String> SAMPLING = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "min_p",
            "repetition_penalty", "presence_penalty", "frequency_penalty", "seed", "stop", "stream", "stream_options",
            "logprobs", "n", "logit_bias", "user", "moa_decode", "return_routing", "routing_start", "priority");

    @Override
    public ErrorShape errors() {
        return ErrorShape.OPENAI;
    }

    /** The prompt as the route read it; {@code echo}: the answer's text starts with it (completions). */
    record Prompt(String text, long[] ids, boolean echo, boolean scored) {}

    /**
     * What the routes (completions, chat, Responses) do differently with the shared fields.
     *
     * @param promptParam      the field that holds the prompt: prompt, messages or input
     *
     * @param defaultMaxTokens max_tokens when the request gives none; null: the rest of the context
     * @param templateStops    the chat template's stop strings (none for completions)
     * @param alternatives     logprob alternatives asked for per token
     * @param chatLogprobs     chat: per-token logprobs asked for
     */
    record Route(String promptParam, Integer defaultMaxTokens, List<String> templateStops, int alternatives, boolean chatLogprobs) {}

    /** The fields both routes share, validated into the spec. */
    static GenerationSpec spec(JsonFields f, ServedModel model, Prompt prompt, Route route) {
        String text = prompt.text();
        long[] ids = prompt.ids();
        int seqLen = model.contextLength();
        String promptParam = route.promptParam();
        if (ids.length == 0) {
            throw ApiException.invalid(promptParam, "the prompt is empty");
        }
        String maxKey = f.has("max_completion_tokens") ? "max_completion_tokens"
                : f.has("max_output_tokens") ? "max_output_tokens" : "max_tokens"; // each route takes only its own
        int max;
        if (f.has(maxKey)) {
            max = (int) f.integer(maxKey, 0, prompt.scored() ? 0 : 1, Integer.MAX_VALUE); // 0: score the prompt only
        } else {
            max = route.defaultMaxTokens() != null ? route.defaultMaxTokens() : Math.max(1, seqLen - ids.length);
        }
        if (ids.length + max > seqLen) {
            throw contextExceeded(seqLen, ids.length, max, f.has(maxKey) ? maxKey : promptParam, promptParam);
        }
        double temperature = f.number("temperature", 1.0, 0, 2);
        double topP = f.number("top_p", 1.0, 0, 1);
        if (f.has("top_p") && topP <= 0) {
            throw ApiException.invalid("top_p", "'top_p' must be in (0, 1]");
        }
        List<String> stops = new ArrayList<>(RequestFields.stops(f.raw("stop"), "stop"));
        stops.addAll(route.templateStops());
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
                .seed(RequestFields.seed(f, Long.MIN_VALUE)).maxTokens(max).stop(stops).logprobs(route.alternatives())
                .logitBias(RequestFields.logitBias(f.raw("logit_bias"), model))
                .build();
        DecodeMode decode = RequestFields.decodeMode(f, model);
        InferenceRequest.Builder request = InferenceRequest.builder(ids, sp).n(RequestFields.n(f)).decode(decode)
                .priority(RequestFields.priority(f, model));
        RequestFields.routingStart(f, model, decode).ifPresent(request::routingFrom);
        if (prompt.scored()) {
            request.scorePrompt(route.alternatives());
        }
        return new GenerationSpec(request.build(), new GenerationSpec.AnswerOptions(text, stream, includeUsage,
                route.chatLogprobs(), prompt.echo(), null, null, null)).constrained(ConstraintRequests.openAi(f));
    }

    /** Chat's and Responses' rule: a required or named tool choice fixes the answer's format, so it excludes one asked for. */
    static GenerationSpec withTools(GenerationSpec spec, ToolCalls tools, String toolChoiceParam) {
        if (tools == null) {
            return spec;
        }
        ConstraintRequests.Requested forced = tools.constraint();
        ConstraintRequests.Requested asked = spec.constraint();
        if (forced != null && asked != null) {
            throw ApiException.invalid(toolChoiceParam, "a required or named 'tool_choice' fixes the answer's format: "
                    + "send it without '" + asked.param() + "'");
        }
        return new GenerationSpec(spec.request(), spec.answer().withTools(tools)).constrained(forced != null ? forced : asked);
    }

    /** OpenAI's wording and code, which clients (litellm, langchain) match to detect overflow. */
    static ApiException contextExceeded(int seqLen, int prompt, int completion, String param, String in) {
        return new ApiException(400, "invalid_request_error", "This model's maximum context length is " + seqLen
                + " tokens. However, you requested " + (prompt + completion) + " tokens (" + prompt + " in the " + in + ", "
                + completion + " for the completion). Please reduce the length of the " + in + " or completion.",
                param, "context_length_exceeded");
    }

    /** The envelope both OpenAI answers share; subclasses fill in each choice's content. */
    abstract static class OpenAiRenderer implements Renderer {
        final Reply reply;

        OpenAiRenderer(Reply reply) {
            this.reply = reply;
        }

        /** {@code object} of the answer and of its stream's chunks. */
        abstract String object(boolean chunk);

        /** The first chunk of a choice's stream (null: none), given its bare choice object. */
        abstract ObjectNode openChoice(ObjectNode chunk, ObjectNode choice, ChoiceOutput c);

        /** A token chunk's content. */
        abstract void tokenContent(ObjectNode choice, ChoiceOutput c, TokenEvent t);

        /** The final chunk's empty content. */
        abstract void endContent(ObjectNode choice);

        /** The non-streamed answer's content of one choice. */
        abstract void bodyContent(ObjectNode choice, ChoiceOutput c);

        /** A choice's finish_reason (chat: "tool_calls" when it called tools). */
        String finishReason(ChoiceOutput c) {
            return c.finish().reason().label();
        }

        /** Chunks a streamed choice sends after its tokens, before its final chunk (chat: its tool calls). */
        List<Object> beforeEnd(ChoiceOutput c) {
            return List.of();
        }

        @Override
        public List<Object> open() {
            List<Object> out = new ArrayList<>();
            for (ChoiceOutput c : reply.choices()) {
                ObjectNode chunk = chunk();
                ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
                choice.put("index", c.index());
                if (openChoice(chunk, choice, c) != null) {
                    if (!choice.has("logprobs")) {
                        choice.putNull("logprobs");
                    }
                    choice.putNull("finish_reason");
                    out.add(chunk);
                }
            }
            return out;
        }

        /** Whether a token's text is streamed as it comes (chat: not while a forced tool call is written). */
        boolean streamsText() {
            return true;
        }

        /** A chunk of the stream with one choice (envelope, index), for subclasses' own chunks. */
        ObjectNode choiceChunk(ChoiceOutput c) {
            ObjectNode chunk = chunk();
            ((ArrayNode) chunk.get("choices")).addObject().put("index", c.index());
            return chunk;
        }

        @Override
        public List<Object> token(ChoiceOutput c, TokenEvent t) {
            if (t.text().isEmpty() || !streamsText()) {
                return List.of();
            }
            ObjectNode chunk = chunk();
            ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
            choice.put("index", c.index());
            tokenContent(choice, c, t);
            choice.putNull("finish_reason");
            return List.of(chunk);
        }

        @Override
        public List<Object> choiceEnd(ChoiceOutput c) {
            List<Object> out = new ArrayList<>(beforeEnd(c));
            ObjectNode chunk = chunk();
            ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
            choice.put("index", c.index());
            endContent(choice);
            choice.putNull("logprobs");
            choice.put("finish_reason", finishReason(c));
            if (c.routing() != null) {
                choice.set("routing", c.routing());
            }
            out.add(chunk);
            return out;
        }

        @Override
        public List<Object> close() {
            if (!reply.spec().answer().includeUsage()) {
                return List.of("[DONE]");
            }
            ObjectNode u = chunk();
            u.set("usage", usage());
            return List.of(u, "[DONE]");
        }

        @Override
        public List<Object> error(ApiException e) {
            return List.of(ErrorShape.OPENAI.body(e), "[DONE]"); // a stream never ends silently
        }

        @Override
        public ObjectNode body() {
            ObjectNode o = envelope(object(false));
            ArrayNode choices = (ArrayNode) o.get("choices");
            for (ChoiceOutput c : reply.choices()) {
                ObjectNode choice = choices.addObject();
                choice.put("index", c.index());
                bodyContent(choice, c);
                choice.put("finish_reason", finishReason(c));
                if (c.routing() != null) {
                    choice.set("routing", c.routing());
                }
            }
            o.set("usage", usage());
            return o;
        }

        /** id, object, created, model, system_fingerprint and an empty choices array. */
        private ObjectNode envelope(String object) {
            ObjectNode o = Json.object();
            o.put("id", reply.id());
            o.put("object", object);
            o.put("created", reply.created());
            o.put("model", reply.model().name());
            o.putNull("system_fingerprint");
            o.putArray("choices");
            return o;
        }

        private ObjectNode chunk() {
            ObjectNode o = envelope(object(true));
            if (reply.spec().answer().includeUsage()) {
                o.putNull("usage");
            }
            return o;
        }

        /** Each prompt's tokens once, completion tokens of every choice; cached prompt tokens as OpenAI reports them. */
        private ObjectNode usage() {
            int prompt = 0;
            int cached = 0;
            int completion = 0;
            for (ChoiceOutput c : reply.choices()) {
                completion += c.finish().completionTokens();
                if (c.leads()) {
                    prompt += c.finish().promptTokens();
                    cached += c.finish().cachedTokens();
                }
            }
            ObjectNode u = Json.object();
            u.put("prompt_tokens", prompt);
            u.put("completion_tokens", completion);
            u.put("total_tokens", prompt + completion);
            u.putObject("prompt_tokens_details").put("cached_tokens", cached);
            return u;
        }
    }
}
