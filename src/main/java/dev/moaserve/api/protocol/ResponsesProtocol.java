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
            "truncation", "parallel_tool_calls", "tool_choice", "tools");
    private static final Map<String, String> UNSUPPORTED = Map.of(
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
        ToolCalls tools = ToolCalls.of(chatTools(f.raw("tools")), chatChoice(f.raw("tool_choice")), f.bool("parallel_tool_calls", true));
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
        if (tools != null) {
            messages.add(new ChatTemplate.Message("system", tools.promptBlock(f.raw("tools"))));
        }
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
        ConstraintRequests.Requested forced = tools == null ? null : tools.constraint();
        if (forced != null && constraint != null) {
            throw ApiException.invalid("tool_choice", "a required or named 'tool_choice' fixes the answer's format: send it without 'text.format'");
        }
        if (forced != null) {
            constraint = forced;
        }
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
                RequestFields.priority(f, model), tools, null).conversing(new Conversation(conversation, f.bool("store", true),
                previous, instructions, f.raw("metadata"), f.raw("text")));
    }

    /** What a Responses answer repeats of its request and what the store keeps. */
    record Conversation(List<ChatTemplate.Message> messages, boolean store, String previous, String instructions,
                        JsonNode metadata, JsonNode text) {}

    /** Responses' flat function tools ({@code {"type", "name", "parameters", …}}) in chat's shape. */
    private static JsonNode chatTools(JsonNode tools) {
        if (tools == null || !tools.isArray()) {
            return tools;
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (JsonNode t : tools) {
            ObjectNode fn = t.deepCopy();
            String type = fn.path("type").asText("");
            fn.remove("type");
            ObjectNode chat = out.addObject();
            chat.put("type", type);
            chat.set("function", fn);
        }
        return out;
    }

    /** Responses' named choice ({@code {"type": "function", "name"}}) in chat's shape. */
    private static JsonNode chatChoice(JsonNode choice) {
        if (choice == null || !choice.isObject()) {
            return choice;
        }
        ObjectNode chat = Json.object().put("type", choice.path("type").asText(""));
        chat.putObject("function").put("name", choice.path("name").asText(""));
        return chat;
    }

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
            String type = in.get(i).path("type").asText("message");
            if (type.equals("function_call")) {
                JsonFields c = new JsonFields(in.get(i), at + ".", Set.of("type", "id", "call_id", "name", "arguments", "status"), Map.of());
                c.string("id", "");
                c.string("call_id", "");
                c.string("status", "");
                out.add(new ChatTemplate.Message("assistant", ToolCalls.render(List.of(
                        new ToolCalls.Call("", c.string("name", ""), c.string("arguments", "{}"))))));
                continue;
            }
            if (type.equals("function_call_output")) {
                JsonFields c = new JsonFields(in.get(i), at + ".", Set.of("type", "id", "call_id", "output", "status"), Map.of());
                c.string("id", "");
                c.string("call_id", "");
                c.string("status", "");
                out.add(new ChatTemplate.Message("tool", c.string("output", "")));
                continue;
            }
            JsonFields m = new JsonFields(in.get(i), at + ".", Set.of("type", "role", "content", "id", "status"), Map.of());
            if (!"message".equals(type)) {
                throw ApiException.invalid(at + ".type", "input items are \"message\", \"function_call\" or \"function_call_output\"");
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
                    String partType = part.string("type", "");
                    if (!partType.equals("input_text") && !partType.equals("output_text")) {
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
            List<ToolCalls.Call> calls = done ? c.calls(reply.spec().tools()) : null;
            if (calls != null) {
                calls.forEach(call -> output.add(functionCall(call, "completed")));
            } else if (done) {
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
            ArrayNode toolList = o.putArray("tools");
            if (reply.spec().tools() != null) {
                reply.spec().tools().functions().forEach((name, params) -> toolList.addObject().put("type", "function")
                        .put("name", name).set("parameters", params));
            }
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
                List<ToolCalls.Call> calls = c.calls(reply.spec().tools());
                messages.add(new ChatTemplate.Message("assistant", calls != null ? ToolCalls.render(calls) : c.finish().text()));
                STORE.put(reply.id(), new ResponseStore.Stored(List.copyOf(messages), response.deepCopy()));
            }
            return response;
        }

        /** A required or named call: no message, its function_call items at the end. */
        private boolean forcedCall() {
            return reply.spec().tools() != null && reply.spec().tools().constraint() != null;
        }

        private ObjectNode functionCall(ToolCalls.Call call, String status) {
            ObjectNode item = Json.object();
            item.put("type", "function_call");
            item.put("id", "fc_" + call.id().substring("call_".length()));
            item.put("call_id", call.id());
            item.put("name", call.name());
            item.put("arguments", "completed".equals(status) ? call.arguments() : "");
            item.put("status", status);
            return item;
        }

        @Override
        public List<Object> open() {
            ObjectNode created = event("response.created");
            created.set("response", response(null));
            ObjectNode progress = event("response.in_progress");
            progress.set("response", response(null));
            if (forcedCall()) {
                return List.of(created, progress);
            }
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
            if (t.text().isEmpty() || forcedCall()) {
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
            List<ToolCalls.Call> calls = c.calls(reply.spec().tools());
            if (forcedCall()) {
                List<Object> out = new java.util.ArrayList<>();
                for (int i = 0; calls != null && i < calls.size(); i++) {
                    ToolCalls.Call call = calls.get(i);
                    String itemId = "fc_" + call.id().substring("call_".length());
                    ObjectNode added = event("response.output_item.added");
                    added.put("output_index", i);
                    added.set("item", functionCall(call, "in_progress"));
                    ObjectNode delta = event("response.function_call_arguments.delta");
                    delta.put("item_id", itemId);
                    delta.put("output_index", i);
                    delta.put("delta", call.arguments());
                    ObjectNode argsDone = event("response.function_call_arguments.done");
                    argsDone.put("item_id", itemId);
                    argsDone.put("output_index", i);
                    argsDone.put("arguments", call.arguments());
                    ObjectNode itemDone = event("response.output_item.done");
                    itemDone.put("output_index", i);
                    itemDone.set("item", functionCall(call, "completed"));
                    out.addAll(List.of(added, delta, argsDone, itemDone));
                }
                return out;
            }
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
