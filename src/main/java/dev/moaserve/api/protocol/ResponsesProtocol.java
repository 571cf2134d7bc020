package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.model.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * OpenAI's Responses API, {@code POST /v1/responses} (docs/api.md "Responses"): {@code input} as
 * a string or message items, {@code instructions}, {@code max_output_tokens},
 * {@code temperature}/{@code top_p}, {@code text.format} (json_schema, json_object) through the
 * same constraints as chat, streaming with the Responses event types, and {@code store} /
 * {@code previous_response_id} over a bounded in-memory {@link ResponseStore}.
 */
final class ResponsesProtocol implements Protocol {
    private final ResponseStore store;

    private static final Set<String> FIELDS = Set.of("model", "input", "instructions", "max_output_tokens", "temperature",
            "top_p", "stream", "store", "previous_response_id", "text", "metadata", "user", "priority", "moa_decode",
            "truncation", "parallel_tool_calls", "tool_choice", "tools");
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "reasoning", "this model has no reasoning mode",
            "background", "background responses are not implemented",
            "include", "'include' is not implemented",
            "conversation", "conversations are not implemented: use previous_response_id",
            "prompt", "prompt templates are not implemented");

    ResponsesProtocol(ResponseStore store) {
        this.store = store;
    }

    @Override
    public String name() {
        return "responses";
    }

    @Override
    public String operation() {
        return "chat";
    }

    @Override
    public boolean namedEvents() {
        return true;
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
        boolean parallel = f.bool("parallel_tool_calls", true);
        ToolCalls tools = ToolCalls.of(chatTools(f.raw("tools")), chatChoice(f.raw("tool_choice")), parallel);
        if (f.has("metadata") && !f.raw("metadata").isObject()) {
            throw ApiException.invalid("metadata", "'metadata' must be an object");
        }
        List<ChatTemplate.Message> conversation = new ArrayList<>();
        String previous = f.string("previous_response_id", null);
        if (previous != null) {
            ResponseStore.Stored s = store.get(previous);
            if (s == null) {
                throw new ApiException(404, "invalid_request_error", "Previous response with id '" + previous + "' not found.",
                        "previous_response_id", "previous_response_not_found");
            }
            conversation.addAll(s.conversation());
        }
        List<ChatTemplate.Message> input = input(f.raw("input"));
        conversation.addAll(input);
        List<ChatTemplate.Message> messages = new ArrayList<>();
        String instructions = f.string("instructions", null);
        if (instructions != null) {
            messages.add(new ChatTemplate.Message("system", instructions)); // not carried to later responses, as OpenAI
        }
        messages.addAll(conversation);
        GenerationSpec spec = ChatProtocol.conversation(f, model, messages, tools, textFormat(f.raw("text")), "input", 0, false);
        JsonNode toolChoice = f.raw("tool_choice");
        return new GenerationSpec(spec.request(), spec.answer().conversing(new Conversation(conversation, input, f.bool("store", true),
                previous, instructions, f.raw("metadata"), f.raw("text"), toolChoice == null ? TextNode.valueOf("auto") : toolChoice,
                parallel)));
    }

    /**
     * What a Responses answer repeats of its request and what the store keeps.
     *
     * @param messages          the conversation: its predecessors' and its own input
     * @param input             its own input (GET /v1/responses/{id}/input_items)
     * @param toolChoice        as asked ("auto" when not)
     * @param parallelToolCalls as asked (true when not)
     */
    record Conversation(List<ChatTemplate.Message> messages, List<ChatTemplate.Message> input, boolean store, String previous, String instructions,
                        JsonNode metadata, JsonNode text, JsonNode toolChoice, boolean parallelToolCalls) {}

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

    /** Keeps a completed response for previous_response_id and GET /v1/responses/{id} (store: true). */
    @Override
    public void answered(Reply reply) {
        ChoiceOutput c = reply.choices().get(0);
        Conversation conv = reply.spec().answer().conversation();
        if (!conv.store() || c.finish() == null) {
            return;
        }
        List<ChatTemplate.Message> messages = new ArrayList<>(conv.messages());
        List<ToolCalls.Call> calls = c.calls(reply.spec().answer().tools());
        messages.add(new ChatTemplate.Message("assistant", calls != null ? ToolCalls.render(calls) : c.finish().text()));
        store.put(reply.id(), new ResponseStore.Stored(List.copyOf(messages), List.copyOf(conv.input()), new ResponsesRenderer(reply).body()));
    }
}
