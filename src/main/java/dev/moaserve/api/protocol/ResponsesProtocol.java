package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DecodeMode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * OpenAI's Responses API, {@code POST /v1/responses} (docs/api.md "Responses"): {@code input} as
 * a string or message items, {@code instructions}, {@code max_output_tokens},
 * {@code temperature}/{@code top_p}, {@code text.format} (json_schema, json_object) through the
 * same constraints as chat, streaming with the Responses event types, and {@code store} /
 * {@code previous_response_id} over a bounded in-memory {@link ResponseStore}.
 */
final class ResponsesProtocol implements Protocol {
    static final ResponseStore STORE = new ResponseStore();

    private static final Set<String> FIELDS = Set.of("model", "input", "instructions", "max_output_tokens", "temperature",
            "top_p", "stream", "store", "previous_response_id", "text", "metadata", "user", "priority", "moa_decode",
            "truncation", "parallel_tool_calls", "tool_choice");
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "tools", "tools on /v1/responses are not implemented: use /v1/chat/completions for tool calling",
            "reasoning", "this model has no reasoning mode",
            "background", "background responses are not implemented",
            "include", "'include' is not implemented",
            "conversation", "conversations are not implemented: use previous_response_id",
            "prompt", "prompt templates are not implemented");

    @Override
    public String name() {
        return "responses";
    }

    @Override
    public String idPrefix() {
        return "resp_";
    }

    @Override
    public ErrorShape errors() {
        return ErrorShape.OPENAI;
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields f = new JsonFields(body, "", FIELDS, UNSUPPORTED);
        RequestFields.checkModel(f, model);
        f.string("user", "");
        if (f.has("truncation") && !"disabled".equals(f.string("truncation", "disabled"))) {
            throw ApiException.invalid("truncation", "'truncation' must be \"disabled\": inputs are never truncated");
        }
        f.bool("parallel_tool_calls", true);
        if (f.has("tool_choice") && !"none".equals(f.raw("tool_choice").asText(null)) && !"auto".equals(f.raw("tool_choice").asText(null))) {
            throw ApiException.invalid("tool_choice", "'tool_choice' needs tools, which /v1/responses does not take");
        }
        if (f.has("metadata") && !f.raw("metadata").isObject()) {
            throw ApiException.invalid("metadata", "'metadata' must be an object");
        }
        List<ChatTemplate.Message> conversation = new ArrayList<>();
        String previous = f.string("previous_response_id", null);
        if (previous != null) {
            ResponseStore.Stored s = STORE.get(previous);
            if (s == null) {
                throw new ApiException(404, "invalid_request_error", "Previous response with id '" + previous + "' not found.",
                        "previous_response_id", "previous_response_not_found");
            }
            conversation.addAll(s.conversation());
        }
        conversation.addAll(input(f.raw("input")));
        List<ChatTemplate.Message> messages = new ArrayList<>();
        String instructions = f.string("instructions", null);
        if (instructions != null) {
            messages.add(new ChatTemplate.Message("system", instructions)); // not carried to later responses, as OpenAI
        }
        messages.addAll(conversation);
        ChatTemplate t = model.chatTemplate();
        String text = t.render(messages);
        long[] ids = RequestFields.encode(text, model, "input");
        int seqLen = model.contextLength();
        int max = f.has("max_output_tokens") ? (int) f.integer("max_output_tokens", 0, 1, Integer.MAX_VALUE)
                : Math.max(1, seqLen - ids.length);
        if (ids.length + max > seqLen) {
            throw ApiException.invalid(f.has("max_output_tokens") ? "max_output_tokens" : "input", "this model's context is "
                    + seqLen + " tokens; the input has " + ids.length + " and max_output_tokens asks for " + max);
        }
        ConstraintRequests.Requested constraint = textFormat(f.raw("text"));
        double temperature = f.number("temperature", 1.0, 0, 2);
        double topP = f.number("top_p", 1.0, 0, 1);
        if (f.has("top_p") && topP <= 0) {
            throw ApiException.invalid("top_p", "'top_p' must be in (0, 1]");
        }
        SamplingParams sp = SamplingParams.builder().temperature(temperature).topP(topP).maxTokens(max)
                .stop(constraint == null ? t.stop() : List.of()).logprobs(0).build();
        DecodeMode decode = RequestFields.decodeMode(f, model);
        boolean streamed = f.bool("stream", false);
        return new GenerationSpec(text, ids, sp, streamed, false, false, false, 1, constraint, decode, -1, false, null,
                RequestFields.priority(f, model), null, null).conversing(new Conversation(conversation, f.bool("store", true),
                previous, instructions, f.raw("metadata"), f.raw("text")));
    }

    /** What a Responses answer repeats of its request and what the store keeps. */
    record Conversation(List<ChatTemplate.Message> messages, boolean store, String previous, String instructions,
                        JsonNode metadata, JsonNode text) {}

    /** {@code input}: a string (one user message) or message items ({@code role}, {@code content} string or text parts). */
    private static List<ChatTemplate.Message> input(JsonNode in) {
        if (in == null) {
            throw ApiException.invalid("input", "'input' is required");
        }
        if (in.isTextual()) {
            return List.of(new ChatTemplate.Message("user", in.asText()));
        }
        if (!in.isArray() || in.isEmpty()) {
            throw ApiException.invalid("input", "'input' must be a string or a non-empty array of message items");
        }
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            String at = "input[" + i + "]";
            JsonFields m = new JsonFields(in.get(i), at + ".", Set.of("type", "role", "content", "id", "status"), Map.of());
            if (m.has("type") && !"message".equals(m.string("type", ""))) {
                throw ApiException.invalid(at + ".type", "only \"message\" input items are supported");
            }
            m.string("id", "");
            m.string("status", "");
            String role = m.string("role", "");
            if (!List.of("user", "assistant", "system", "developer").contains(role)) {
                throw ApiException.invalid(at + ".role", "role must be user, assistant, system or developer");
            }
            JsonNode c = m.raw("content");
            StringBuilder text = new StringBuilder();
            if (c != null && c.isTextual()) {
                text.append(c.asText());
            } else if (c != null && c.isArray()) {
                for (int j = 0; j < c.size(); j++) {
                    JsonFields part = new JsonFields(c.get(j), at + ".content[" + j + "].", Set.of("type", "text", "annotations"), Map.of());
                    String type = part.string("type", "");
                    if (!type.equals("input_text") && !type.equals("output_text")) {
                        throw ApiException.invalid(at + ".content[" + j + "].type", "only input_text and output_text parts are supported");
                    }
                    text.append(part.string("text", ""));
                }
            } else {
                throw ApiException.invalid(at + ".content", "content must be a string or an array of text parts");
            }
            out.add(new ChatTemplate.Message(role, text.toString()));
        }
        return out;
    }

    /** {@code text.format}: text, json_object, or json_schema ({@code name}, {@code schema}, {@code strict}). */
    private static ConstraintRequests.Requested textFormat(JsonNode text) {
        if (text == null) {
            return null;
        }
        JsonFields t = new JsonFields(text, "text.", Set.of("format", "verbosity"), Map.of());
        t.string("verbosity", "medium");
        JsonNode format = t.raw("format");
        if (format == null) {
            return null;
        }
        String type = format.path("type").asText("");
        return switch (type) {
            case "text" -> {
                new JsonFields(format, "text.format.", Set.of("type"), Map.of());
                yield null;
            }
            case "json_object" -> {
                new JsonFields(format, "text.format.", Set.of("type"), Map.of());
                yield new ConstraintRequests.Requested(new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, ""), "text.format");
            }
            case "json_schema" -> {
                JsonFields j = new JsonFields(format, "text.format.", Set.of("type", "name", "schema", "strict", "description"), Map.of());
                j.string("name", "");
                j.string("description", "");
                j.bool("strict", false);
                JsonNode schema = j.raw("schema");
                if (schema == null || !(schema.isObject() || schema.isBoolean())) {
                    throw ApiException.invalid("text.format.schema", "'text.format.schema' must be a JSON Schema object");
                }
                yield new ConstraintRequests.Requested(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, Json.write(schema)),
                        "text.format.schema");
            }
            default -> throw ApiException.invalid("text.format.type", "'text.format.type' must be \"text\", \"json_object\" or \"json_schema\"");
        };
    }

    @Override
    public Renderer renderer(Reply reply) {
        return new ResponsesRenderer(reply);
    }

    /** The response object and, streamed, the Responses event sequence. */
    private static final class ResponsesRenderer implements Renderer {
        private final Reply reply;
        private final Conversation conv;
        private final String messageId = "msg_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        private int sequence;

        ResponsesRenderer(Reply reply) {
            this.reply = reply;
            this.conv = (Conversation) reply.spec().conversation();
        }

        private ObjectNode event(String type) {
            ObjectNode e = Json.object();
            e.put("type", type);
            e.put("sequence_number", sequence++);
            return e;
        }

        private ObjectNode item(String status, String text) {
            ObjectNode item = Json.object();
            item.put("type", "message");
            item.put("id", messageId);
            item.put("status", status);
            item.put("role", "assistant");
            ArrayNode content = item.putArray("content");
            if (text != null) {
                content.add(part(text));
            }
            return item;
        }

        private static ObjectNode part(String text) {
            ObjectNode p = Json.object();
            p.put("type", "output_text");
            p.put("text", text);
            p.putArray("annotations");
            return p;
        }

        /** The response object; {@code c} null while it runs. */
        private ObjectNode response(ChoiceOutput c) {
            ObjectNode o = Json.object();
            o.put("id", reply.id());
            o.put("object", "response");
            o.put("created_at", reply.created());
            boolean done = c != null && c.finish() != null;
            boolean cut = done && c.finish().reason() == dev.moaserve.engine.FinishReason.LENGTH;
            o.put("status", !done ? "in_progress" : cut ? "incomplete" : "completed");
            o.putNull("error");
            if (cut) {
                o.putObject("incomplete_details").put("reason", "max_output_tokens");
            } else {
                o.putNull("incomplete_details");
            }
            if (conv.instructions() == null) {
                o.putNull("instructions");
            } else {
                o.put("instructions", conv.instructions());
            }
            o.put("max_output_tokens", reply.spec().params().maxTokens());
            o.put("model", reply.model().name());
            ArrayNode output = o.putArray("output");
            if (done) {
                output.add(item("completed", c.finish().text()));
            }
            o.put("parallel_tool_calls", true);
            if (conv.previous() == null) {
                o.putNull("previous_response_id");
            } else {
                o.put("previous_response_id", conv.previous());
            }
            o.put("store", conv.store());
            o.put("temperature", reply.spec().params().temperature());
            o.set("text", conv.text() != null ? conv.text() : Json.object().set("format", Json.object().put("type", "text")));
            o.put("tool_choice", "auto");
            o.putArray("tools");
            o.put("top_p", reply.spec().params().topP());
            o.put("truncation", "disabled");
            o.set("metadata", conv.metadata() != null ? conv.metadata() : Json.object());
            if (done) {
                ObjectNode u = o.putObject("usage");
                u.put("input_tokens", c.finish().promptTokens());
                u.putObject("input_tokens_details").put("cached_tokens", c.finish().cachedTokens());
                u.put("output_tokens", c.finish().completionTokens());
                u.putObject("output_tokens_details").put("reasoning_tokens", 0);
                u.put("total_tokens", c.finish().promptTokens() + c.finish().completionTokens());
            } else {
                o.putNull("usage");
            }
            return o;
        }

        /** Keeps a finished response for previous_response_id and GET (store: true). */
        private ObjectNode stored(ObjectNode response, ChoiceOutput c) {
            if (conv.store() && c.finish() != null) {
                List<ChatTemplate.Message> messages = new ArrayList<>(conv.messages());
                messages.add(new ChatTemplate.Message("assistant", c.finish().text()));
                STORE.put(reply.id(), new ResponseStore.Stored(List.copyOf(messages), response.deepCopy()));
            }
            return response;
        }

        @Override
        public List<Object> open() {
            ObjectNode created = event("response.created");
            created.set("response", response(null));
            ObjectNode progress = event("response.in_progress");
            progress.set("response", response(null));
            ObjectNode added = event("response.output_item.added");
            added.put("output_index", 0);
            added.set("item", item("in_progress", null));
            ObjectNode part = event("response.content_part.added");
            part.put("item_id", messageId);
            part.put("output_index", 0);
            part.put("content_index", 0);
            part.set("part", part(""));
            return List.of(created, progress, added, part);
        }

        @Override
        public List<Object> token(ChoiceOutput c, TokenEvent t) {
            if (t.text().isEmpty()) {
                return List.of();
            }
            ObjectNode d = event("response.output_text.delta");
            d.put("item_id", messageId);
            d.put("output_index", 0);
            d.put("content_index", 0);
            d.put("delta", t.text());
            d.putArray("logprobs");
            return List.of(d);
        }

        @Override
        public List<Object> choiceEnd(ChoiceOutput c) {
            String text = c.finish().text();
            ObjectNode done = event("response.output_text.done");
            done.put("item_id", messageId);
            done.put("output_index", 0);
            done.put("content_index", 0);
            done.put("text", text);
            done.putArray("logprobs");
            ObjectNode partDone = event("response.content_part.done");
            partDone.put("item_id", messageId);
            partDone.put("output_index", 0);
            partDone.put("content_index", 0);
            partDone.set("part", part(text));
            ObjectNode itemDone = event("response.output_item.done");
            itemDone.put("output_index", 0);
            itemDone.set("item", item("completed", text));
            return List.of(done, partDone, itemDone);
        }

        @Override
        public List<Object> close() {
            ChoiceOutput c = reply.choices().get(0);
            ObjectNode response = stored(response(c), c);
            ObjectNode e = event("incomplete".equals(response.get("status").asText()) ? "response.incomplete" : "response.completed");
            e.set("response", response);
            return List.of(e);
        }

        @Override
        public List<Object> error(ApiException e) {
            ObjectNode o = event("error");
            o.put("code", e.code());
            o.put("message", e.getMessage());
            if (e.param() == null) {
                o.putNull("param");
            } else {
                o.put("param", e.param());
            }
            return List.of(o);
        }

        @Override
        public ObjectNode body() {
            ChoiceOutput c = reply.choices().get(0);
            return stored(response(c), c);
        }
    }
}
